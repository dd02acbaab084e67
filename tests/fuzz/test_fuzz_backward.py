"""Fuzz of the backward kernels (conv family incl. transposed and depthwise, pooling,
batch norm, LSTM/GRU backward-through-time, softmax and activation gradients) against
independent numpy references (tests/fuzz/_refs.py). Every call either matches the
reference or raises TypeError/ValueError; the ISA level is drawn too."""

import numpy as np
from _refs import (
    VARIANTS,
    acceptable,
    batch_norm_ref,
    conv_geometry,
    conv_ref,
    conv_ref_grads,
    gru_ref,
    lstm_ref,
    pad_before,
    pool_ref,
    softmax_ref,
    transpose_out,
    variant,
    vjp_check,
)
from hypothesis import given
from hypothesis import strategies as st

import fastnet
from fastnet import _C
from fastnet.kernels import conv as K

HW = fastnet.config.cpu_features()["hardware_isa"]
ISAS = ["generic", "avx2", "avx512"][:["generic", "avx2", "avx512"].index(HW) + 1]
isas = st.sampled_from(ISAS)


class at_isa:
    def __init__(self, level):
        self.level = level

    def __enter__(self):
        self.before = fastnet.config.get_isa()
        fastnet.config.set_isa(self.level)

    def __exit__(self, *exc):
        fastnet.config.set_isa(self.before)


def close(got, want, scale=1.0):
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * scale)


def expect_failure(exc, arrays, geometry_ok):
    """A raised exception is right only when an argument really was bad."""
    if isinstance(exc, TypeError):
        assert any(a.dtype != np.float32 for a in arrays), exc
    else:
        assert isinstance(exc, ValueError)
        assert not geometry_ok or not all(acceptable(a) for a in arrays), exc


# ---- conv, conv_transpose, depthwise: forward + both backwards --------------------------

conv_case = st.fixed_dictionaries({
    "kind": st.sampled_from(["conv", "transpose", "depthwise"]),
    "rank": st.sampled_from([1, 1, 2, 2, 3]),
    "n": st.integers(0, 2),
    "size": st.lists(st.integers(1, 6), min_size=3, max_size=3),
    "k": st.lists(st.integers(1, 4), min_size=3, max_size=3),
    "cin": st.integers(1, 3),
    "cout": st.integers(1, 3),
    "stride": st.integers(1, 3),
    "dil": st.integers(1, 2),
    "same": st.booleans(),
    "opad": st.sampled_from([None, 0, 1, 2]),
    "bias": st.booleans(),
    "bad_channels": st.sampled_from([False, False, False, True]),
    "target": st.sampled_from(["x", "kernel", "dy", "bias"]),
    "how": st.sampled_from(VARIANTS + ["contig"] * 3),
})


@given(c=conv_case, isa=isas)
def test_conv_family_forward_and_backward(c, isa):
    rng = np.random.default_rng(11)
    r, kind, same = c["rank"], c["kind"], c["same"]
    size, ks = c["size"][:r], c["k"][:r]
    if r == 3:  # keep 3-D tiny
        size, ks = [min(s, 3) for s in size], [min(k, 2) for k in ks]
    strides, dil = [c["stride"]] * r, [c["dil"]] * r
    pad_name = "same" if same else "valid"
    cin, cout = c["cin"], c["cout"]
    x = rng.standard_normal((c["n"], *size, cin)).astype(np.float32)
    wc = cin + c["bad_channels"]
    opad = c["opad"] if kind == "transpose" else None
    if kind == "conv":
        w = rng.standard_normal((*ks, wc, cout)).astype(np.float32)
        outs, pads = conv_geometry(size, ks, strides, dil, same)
        ych = cout
    elif kind == "depthwise":
        w = rng.standard_normal((*ks, wc, cout)).astype(np.float32)
        outs, pads = conv_geometry(size, ks, strides, dil, same)
        ych = cin * cout
    else:  # kernel (k..., filters, in_channels)
        w = rng.standard_normal((*ks, cout, wc)).astype(np.float32)
        outs = [transpose_out(s, k, st_, d, same, opad) for s, k, st_, d in
                zip(size, ks, strides, dil)]
        pads = [pad_before(o, s, k, st_, d, same) for o, s, k, st_, d in
                zip(outs, size, ks, strides, dil)]
        ych = cout
    geometry_ok = (not c["bad_channels"] and min(outs) >= 1
                   and (opad is None or opad < c["stride"]))
    dy = rng.standard_normal((c["n"], *[max(o, 1) for o in outs], ych)).astype(np.float32)
    b = rng.standard_normal(ych).astype(np.float32) if c["bias"] else None
    args = {"x": x, "kernel": w, "dy": dy, "bias": b}
    if args[c["target"]] is not None:
        args[c["target"]] = variant(args[c["target"]], c["how"])
    xa, wa, dya, ba = args["x"], args["kernel"], args["dy"], args["bias"]
    fwd_arrays = [a for a in (xa, wa, ba) if a is not None]

    with at_isa(isa):
        fwd, bwd_in, bwd_k = {
            "conv": (K.conv_forward, K.conv_backward_input, K.conv_backward_kernel),
            "depthwise": (K.depthwise_conv_forward, K.depthwise_conv_backward_input,
                          K.depthwise_conv_backward_kernel),
            "transpose": (K.conv_transpose_forward, K.conv_transpose_backward_input,
                          K.conv_transpose_backward_kernel),
        }[kind]
        extra = {"output_padding": opad} if kind == "transpose" else {}
        try:
            y = fwd(xa, wa, ba, strides, pad_name, dilation_rate=dil, **extra)
        except (TypeError, ValueError) as e:
            expect_failure(e, fwd_arrays, geometry_ok)
            y = None
        try:
            dx = bwd_in(dya, wa, x.shape, strides, pad_name, dilation_rate=dil, **extra)
        except (TypeError, ValueError) as e:
            expect_failure(e, [dya, wa], geometry_ok)
            dx = None
        try:
            dw, db = bwd_k(xa, dya, w.shape, strides, pad_name, dilation_rate=dil,
                           with_bias=c["bias"], **extra)
        except (TypeError, ValueError) as e:
            expect_failure(e, [xa, dya], geometry_ok)
            dw = None

    if not geometry_ok:
        assert y is None and dx is None and dw is None
        return
    x64, w64, dy64 = x.astype(np.float64), w.astype(np.float64), dy.astype(np.float64)
    scale = float(np.prod(ks)) * max(cin, cout)
    if kind == "transpose":
        # The transposed convolution is the adjoint of the convolution from its output
        # (size outs) to its input (size `size`).
        y_want = conv_ref_grads(np.zeros((c["n"], *outs, cout)), w64, x64, strides, dil, size,
                                pads)[0] + (0 if b is None else b)
        dx_want = conv_ref(dy64, w64, strides, dil, size, pads)
        dw_want = conv_ref_grads(dy64, w64, x64, strides, dil, size, pads)[1]
        db_want = dy64.reshape(-1, ych).sum(0)
    else:
        dw_ = kind == "depthwise"
        y_want = conv_ref(x64, w64, strides, dil, outs, pads, dw_) + (0 if b is None else b)
        dx_want, dw_want, db_want = conv_ref_grads(x64, w64, dy64, strides, dil, outs, pads, dw_)
    if y is not None:
        assert all(acceptable(a) for a in fwd_arrays)
        close(y, y_want, scale)
    if dx is not None:
        close(dx, dx_want, scale)
    if dw is not None:
        close(dw, dw_want, scale * max(1, c["n"]) * float(np.prod(outs)))
        if c["bias"]:
            close(db, db_want, float(np.prod(outs)) * max(1, c["n"]))
        else:
            assert db is None


BIG = st.sampled_from([2**31 - 1, 2**31, 2**40, -2**40])  # rejected or harmless sizes


@given(strides=st.lists(st.integers(-2, 3) | BIG, min_size=1, max_size=3),
       dil=st.lists(st.integers(-1, 3) | BIG, min_size=1, max_size=3),
       input_shape=st.lists(st.integers(-2, 4), min_size=2, max_size=6),
       kernel_shape=st.lists(st.integers(-1, 3) | BIG, min_size=2, max_size=6),
       fn=st.sampled_from(["conv_backward_input", "conv_backward_kernel",
                           "conv_transpose_backward_input", "conv_transpose_backward_kernel",
                           "depthwise_conv_backward_input", "depthwise_conv_backward_kernel"]))
def test_conv_backward_raw_arguments_never_crash(strides, dil, input_shape, kernel_shape, fn):
    """_C directly, with arbitrary (negative, zero, mismatched) shape lists: either a
    result of the requested shape or ValueError."""
    rng = np.random.default_rng(12)
    f = getattr(_C, fn)
    base = rng.standard_normal([max(s, 0) for s in input_shape]).astype(np.float32)
    kern = rng.standard_normal([min(max(s, 0), 3) for s in kernel_shape]).astype(np.float32)
    opad = [None] if "transpose" in fn else []
    try:
        if fn.endswith("input"):
            out = f(base, kern, input_shape, strides, "same", *opad, dil)
            assert list(out.shape) == input_shape
        else:
            out, _ = f(base, base, kernel_shape, strides, "valid", *opad, dil, True)
            assert list(out.shape) == kernel_shape
    except ValueError:
        pass


# ---- pooling backward ----------------------------------------------------------------------

@given(n=st.integers(0, 2), h=st.integers(1, 6), w=st.integers(1, 6), c=st.integers(1, 3),
       kh=st.integers(1, 7), kw=st.integers(1, 7), sh=st.integers(1, 3), sw=st.integers(1, 3),
       same=st.booleans(), kind=st.sampled_from(["max", "avg"]),
       bad=st.sampled_from(["none"] * 4 + ["arg_none", "arg_i64", "arg_range", "dy_f64",
                                           "dy_strided", "dy_shape", "x_shape_neg"]),
       isa=isas)
def test_pool_backward_matches_or_raises(n, h, w, c, kh, kw, sh, sw, same, kind, bad, isa):
    rng = np.random.default_rng(13)
    x = rng.standard_normal((n, h, w, c)).astype(np.float32)
    pad = "same" if same else "valid"
    with at_isa(isa):
        try:
            y, arg = _C.pool2d_forward(x, kind, kh, kw, sh, sw, pad)
        except ValueError:
            assert not same and (kh > h or kw > w)
            return
        dy = rng.standard_normal(y.shape).astype(np.float32)
        xs = list(x.shape)
        if bad == "arg_none":
            arg = None
        elif bad == "arg_i64" and arg is not None:
            arg = arg.astype(np.int64)
        elif bad == "arg_range" and arg is not None and arg.size:
            arg = arg.copy()
            arg.flat[-1] = h * w
        elif bad == "dy_f64":
            dy = dy.astype(np.float64)
        elif bad == "dy_strided":
            dy = variant(dy, "strided")
        elif bad == "dy_shape":
            dy = np.zeros(y.shape[:-1] + (c + 1,), np.float32)
        elif bad == "x_shape_neg":
            xs = [n, -h, w, c]
        try:
            dx = _C.pool2d_backward(dy, arg, xs, kind, kh, kw, sh, sw, pad)
        except TypeError:
            assert bad in ("arg_none", "dy_f64") or (bad == "arg_i64" and kind == "max")
            return
        except ValueError:
            assert bad != "none" and (bad != "dy_strided" or not dy.flags.c_contiguous)
            return
    _, dx_want = pool_ref(x, kind, kh, kw, sh, sw, same, dy.astype(np.float64))
    y_want, _ = pool_ref(x, kind, kh, kw, sh, sw, same, np.zeros(y.shape))
    np.testing.assert_allclose(y, y_want, atol=1e-5)
    np.testing.assert_allclose(dx, dx_want, atol=1e-5)


# ---- batch norm backward --------------------------------------------------------------------

@given(lead=st.lists(st.integers(0, 5), min_size=1, max_size=3), c=st.integers(1, 6),
       gamma=st.booleans(), eps=st.sampled_from([1e-3, 1e-5, 0.5]),
       bad=st.sampled_from(["none"] * 4 + ["dy_f64", "dy_shape", "mean_shape", "x_strided",
                                           "gamma_list", "gamma_f64"]), isa=isas)
def test_batch_norm_backward_matches_vjp_or_raises(lead, c, gamma, eps, bad, isa):
    rng = np.random.default_rng(14)
    x = (rng.standard_normal((*lead, c)) * 2 + 1).astype(np.float32)
    g = (rng.standard_normal(c) + 1).astype(np.float32) if gamma else None
    dy = rng.standard_normal(x.shape).astype(np.float32)
    with at_isa(isa):
        _, mean, var = _C.batch_norm_train(x, g, None, eps)
        xa, dya, ga = x, dy, g
        if bad == "dy_f64":
            dya = dy.astype(np.float64)
        elif bad == "dy_shape":
            dya = np.zeros(x.shape[:-1] + (c + 1,), np.float32)
        elif bad == "mean_shape":
            mean = np.zeros(c + 1, np.float32)
        elif bad == "x_strided":
            xa = variant(x, "strided")
        elif bad == "gamma_list":
            ga = [1.0] * c
        elif bad == "gamma_f64":
            ga = np.ones(c)
        try:
            dx, dg, db = _C.batch_norm_backward(xa, dya, mean, var, ga, eps)
        except TypeError:
            assert bad in ("dy_f64", "gamma_list", "gamma_f64")
            return
        except ValueError:
            assert bad in ("dy_shape", "mean_shape") or not xa.flags.c_contiguous
            return
    assert bad in ("none", "x_strided")
    rows = x.size // c
    if rows == 0:
        assert dx.shape == x.shape
        return
    np.testing.assert_allclose(db, dy.reshape(-1, c).sum(0), rtol=1e-4, atol=1e-4 * rows)
    def f(xx, gg):
        return batch_norm_ref(xx, gg, None, eps)

    vjp_check(f, [x, g if gamma else np.ones(c)], [0, 1], dy, [dx, dg], rng)


# ---- LSTM / GRU backward-through-time ---------------------------------------------------------

rnn_case = st.fixed_dictionaries({
    "n": st.integers(0, 3), "t": st.integers(1, 4), "i": st.integers(1, 4),
    "u": st.integers(1, 4), "bias": st.booleans(), "h0": st.booleans(), "c0": st.booleans(),
    "back": st.booleans(),
    "bad": st.sampled_from(["none"] * 5 + ["ws_len", "dpacked_shape", "packed_f64", "h0_list",
                                           "x_strided"]),
})


@given(c=rnn_case, cell=st.sampled_from(["lstm", "gru"]), isa=isas)
def test_rnn_backward_matches_vjp_or_raises(c, cell, isa):
    rng = np.random.default_rng(15)
    n, t, i, u = c["n"], c["t"], c["i"], c["u"]
    g = 4 if cell == "lstm" else 3
    x = rng.standard_normal((n, t, i)).astype(np.float32)
    k = (rng.standard_normal((i, g * u)) * 0.5).astype(np.float32)
    rk = (rng.standard_normal((u, g * u)) * 0.5).astype(np.float32)
    bshape = (g * u,) if cell == "lstm" else (2, g * u)
    b = (rng.standard_normal(bshape) * 0.5).astype(np.float32) if c["bias"] else None
    h0 = rng.standard_normal((n, u)).astype(np.float32) if c["h0"] else None
    c0 = rng.standard_normal((n, u)).astype(np.float32) if c["c0"] and cell == "lstm" else None
    states = (h0, c0) if cell == "lstm" else (h0,)
    with at_isa(isa):
        fwd = _C.lstm_forward if cell == "lstm" else _C.gru_forward
        bwd = _C.lstm_backward if cell == "lstm" else _C.gru_backward
        packed, ws = fwd(x, k, rk, b, *states, c["back"])
        dpacked = rng.standard_normal(packed.shape).astype(np.float32)
        bad = c["bad"]
        xa, pa, wsa, dpa, st_ = x, packed, ws, dpacked, list(states)
        if bad == "ws_len":
            wsa = np.zeros(ws.size + 1, np.float32)
        elif bad == "dpacked_shape":
            dpa = np.zeros((n, t + 1 + (cell == "lstm") + 1, u), np.float32)
        elif bad == "packed_f64":
            pa = packed.astype(np.float64)
        elif bad == "h0_list":
            st_[0] = [[0.0] * u] * n
        elif bad == "x_strided":
            xa = variant(x, "strided")
        try:
            grads = bwd(xa, k, rk, *st_, c["back"], pa, wsa, dpa, c["bias"])
        except TypeError:
            assert bad in ("packed_f64", "h0_list")
            return
        except ValueError:
            assert bad in ("ws_len", "dpacked_shape") or not xa.flags.c_contiguous
            return
    assert bad in ("none", "x_strided")
    if cell == "lstm":
        dx, dk, drk, db, dh0, dc0 = grads
    else:
        dx, dk, drk, db, dh0 = grads
    assert dx.shape == x.shape and dk.shape == k.shape and drk.shape == rk.shape
    assert (db is None) == (not c["bias"])
    if n == 0:
        assert np.all(dk == 0) and np.all(drk == 0)
        return
    bz = b if b is not None else np.zeros(bshape, np.float32)
    hz = h0 if h0 is not None else np.zeros((n, u), np.float32)
    cz = c0 if c0 is not None else np.zeros((n, u), np.float32)
    if cell == "lstm":
        def f(xx, kk, rr, bb, hh, cc):
            return lstm_ref(xx, kk, rr, bb, hh, cc, c["back"])
        args = [x, k, rk, bz, hz, cz]
        which, got = [0, 1, 2, 4, 5], [dx, dk, drk, dh0, dc0]
    else:
        def f(xx, kk, rr, bb, hh):
            return gru_ref(xx, kk, rr, bb, hh, c["back"])
        args = [x, k, rk, bz, hz]
        which, got = [0, 1, 2, 4], [dx, dk, drk, dh0]
    if c["bias"]:
        which, got = which + [3], got + [db]
    np.testing.assert_allclose(packed, f(*args), atol=1e-5)
    vjp_check(f, args, which, dpacked, got, rng)


# ---- softmax / activation backward, incl. outputs aliasing inputs -------------------------------

@given(rows=st.integers(0, 6), cols=st.integers(0, 40), lead=st.booleans(),
       which=st.sampled_from(["softmax", "relu", "sigmoid", "tanh"]),
       out_is=st.sampled_from(["new", "new", "dy", "saved", "overlap", "readonly", "f64",
                               "strided"]), isa=isas)
def test_softmax_and_activation_backward(rows, cols, lead, which, out_is, isa):
    rng = np.random.default_rng(16)
    shape = (2, rows, cols) if lead else (rows, cols)
    if rows == 6 and cols == 40:
        shape = (2, 20001)  # over one thread chunk (32768 elements)
    x = (rng.standard_normal(shape) * 3).astype(np.float32)
    size = int(np.prod(shape))
    buf = rng.standard_normal(2 * size + 1).astype(np.float32)
    dy = buf[:size].reshape(shape)
    dy0 = dy.copy()
    with at_isa(isa):
        saved = np.empty_like(x)
        if which == "softmax":
            _C.softmax(x, saved, False)
        else:
            _C.activation_forward(which, x, saved)
        if which == "relu":
            saved = x.copy()
        saved0 = saved.copy()
        out = {"new": np.empty(shape, np.float32), "dy": dy, "saved": saved,
               "overlap": buf[1:size + 1].reshape(shape) if size else np.empty(shape, np.float32),
               "readonly": variant(np.empty(shape, np.float32), "readonly"),
               "f64": np.empty(shape), "strided": variant(np.empty(shape, np.float32),
                                                          "strided")}[out_is]
        try:
            if which == "softmax":
                _C.softmax_backward(saved, dy, out)
            else:
                _C.activation_backward(which, saved, dy, out)
        except TypeError:
            assert out_is == "f64"
            return
        except ValueError:
            assert out_is in ("readonly", "strided", "overlap", "dy", "saved"), out_is
            assert out_is != "strided" or not out.flags.c_contiguous
            return
    assert out_is not in ("readonly", "f64")
    s, g = saved0.astype(np.float64), dy0.astype(np.float64)
    want = {"softmax": lambda: s * (g - (s * g).sum(-1, keepdims=True)),
            "relu": lambda: np.where(s > 0, g, 0.0),
            "sigmoid": lambda: g * s * (1 - s),
            "tanh": lambda: g * (1 - s * s)}[which]()
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)
    if which == "softmax" and size and cols:
        np.testing.assert_allclose(saved0, softmax_ref(x.astype(np.float64)), atol=1e-5)


# ---- batched matmul (the GEMM entry point the existing fuzz does not reach) ---------------

@given(ba=st.sampled_from([0, 1, 3]), bb=st.sampled_from([0, 1, 3]), m=st.integers(0, 5),
       k=st.integers(0, 5), n=st.integers(0, 5), ta=st.booleans(), tb=st.booleans(),
       out=st.sampled_from(["new", "new", "alias_a", "overlap_b", "wrong", "f64", "strided_a"]),
       isa=isas)
def test_batched_matmul_matches_or_raises(ba, bb, m, k, n, ta, tb, out, isa):
    rng = np.random.default_rng(17)
    a = rng.standard_normal((ba, k, m) if ta else (ba, m, k)).astype(np.float32)
    b = rng.standard_normal((bb, n, k) if tb else (bb, k, n)).astype(np.float32)
    ok_batch = ba == bb or 1 in (ba, bb)
    batch = 0 if 0 in (ba, bb) else max(ba, bb)  # numpy broadcasting
    size = batch * m * n
    c = np.empty((batch, m, n), np.float32)
    aliased = False
    if out == "alias_a" and 0 < size <= a.size:
        c, aliased = a.reshape(-1)[:size].reshape(batch, m, n), True
    elif out == "overlap_b" and b.size and size:
        big = np.zeros(b.size + size, np.float32)
        big[:b.size] = b.ravel()
        b = big[:b.size].reshape(b.shape)
        c, aliased = big[b.size - 1:b.size - 1 + size].reshape(batch, m, n), True
    elif out == "wrong":
        c = np.empty((batch, m, n + 1), np.float32)
    elif out == "f64":
        c = np.empty((batch, m, n))
    elif out == "strided_a":
        a = variant(a, "strided")
    with at_isa(isa):
        try:
            _C.batched_matmul(a, b, c, ta, tb)
        except TypeError:
            assert out == "f64"
            return
        except ValueError:
            assert not ok_batch or out == "wrong" or aliased or not a.flags.c_contiguous
            return
    assert ok_batch and out != "wrong" and not aliased
    a64 = np.swapaxes(a, 1, 2) if ta else a
    b64 = np.swapaxes(b, 1, 2) if tb else b
    want = np.matmul(a64.astype(np.float64), b64.astype(np.float64))
    np.testing.assert_allclose(c, want, atol=1e-4 * max(k, 1))


# ---- batch-norm inference and the fused cross-entropy gradient ----------------------------

@given(lead=st.lists(st.integers(0, 4), min_size=1, max_size=3), c=st.integers(1, 5),
       gamma=st.booleans(), beta=st.booleans(),
       bad=st.sampled_from(["none"] * 4 + ["var_shape", "mean_f64", "x_negative", "beta_list"]),
       isa=isas)
def test_batch_norm_inference_matches_or_raises(lead, c, gamma, beta, bad, isa):
    rng = np.random.default_rng(18)
    x = rng.standard_normal((*lead, c)).astype(np.float32)
    mean = rng.standard_normal(c).astype(np.float32)
    var = rng.uniform(0.1, 2, c).astype(np.float32)
    g = rng.standard_normal(c).astype(np.float32) if gamma else None
    b = rng.standard_normal(c).astype(np.float32) if beta else None
    xa, ma, va, ba = x, mean, var, b
    if bad == "var_shape":
        va = np.ones(c + 1, np.float32)
    elif bad == "mean_f64":
        ma = mean.astype(np.float64)
    elif bad == "x_negative":
        xa = variant(x, "negative")
    elif bad == "beta_list":
        ba = [0.0] * c
    with at_isa(isa):
        try:
            y = _C.batch_norm_inference(xa, ma, va, g, ba, 1e-3)
        except TypeError:
            assert bad in ("mean_f64", "beta_list")
            return
        except ValueError:
            assert bad == "var_shape" or not xa.flags.c_contiguous
            return
    assert bad in ("none", "x_negative")
    want = (x - mean.astype(np.float64)) / np.sqrt(var.astype(np.float64) + 1e-3)
    want = want * (1 if g is None else g) + (0 if b is None else b)
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)


@given(rows=st.integers(0, 5), cols=st.integers(1, 300), isa=isas,
       bad=st.sampled_from(["none"] * 4 + ["grad_is_logits", "grad_overlaps", "labels_i64",
                                           "labels_strided", "loss_shape", "logits_3d"]))
def test_sparse_cross_entropy_gradient_matches_or_raises(rows, cols, bad, isa):
    rng = np.random.default_rng(19)
    buf = (rng.standard_normal(2 * rows * cols + 1) * 5).astype(np.float32)
    logits = buf[:rows * cols].reshape(rows, cols)
    labels = rng.integers(0, cols, rows).astype(np.int32)
    loss = np.empty(rows, np.float32)
    grad = np.empty((rows, cols), np.float32)
    la, lo, gr, lg = labels, loss, grad, logits
    if bad == "grad_is_logits":
        gr = logits
    elif bad == "grad_overlaps":
        gr = buf[1:rows * cols + 1].reshape(rows, cols)
        if rows * cols < 2:
            bad = "none"  # shifted by one element: overlaps only from two elements on
    elif bad == "labels_i64":
        la = labels.astype(np.int64)
    elif bad == "labels_strided":
        la = np.repeat(labels, 2)[::2]
    elif bad == "loss_shape":
        lo = np.empty(rows + 1, np.float32)
    elif bad == "logits_3d":
        lg = logits[None]
    with at_isa(isa):
        try:
            _C.sparse_softmax_cross_entropy(lg, la, lo, gr)
        except TypeError:
            assert bad == "labels_i64"
            return
        except ValueError:
            assert bad in ("loss_shape", "logits_3d") or (
                bad in ("grad_is_logits", "grad_overlaps") and rows) or (
                bad == "labels_strided" and not la.flags.c_contiguous)
            return
    assert bad in ("none", "labels_strided") or not rows
    if not rows:
        return
    x = logits.astype(np.float64)
    p = softmax_ref(x)
    np.testing.assert_allclose(loss, -np.log(p[np.arange(rows), labels]), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(gr, p - np.eye(cols)[labels], atol=1e-5)
