"""Property-based fuzzing of the compiled entry points: every call either matches a numpy
reference or raises TypeError/ValueError — never crashes, never writes out of bounds."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from fastnet import _C
from fastnet.kernels import gemm as G

dims = st.integers(0, 9)
small = st.integers(1, 6)


@given(m=dims, k=dims, n=dims, ta=st.booleans(), tb=st.booleans(),
       view=st.sampled_from(["contig", "offset", "negative", "f64"]))
def test_gemm_matches_or_raises(m, k, n, ta, tb, view):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(np.float32)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(np.float32)
    if view == "offset":
        big = np.zeros((a.shape[0] + 2, a.shape[1] + 3), np.float32)
        big[1:1 + a.shape[0], 2:2 + a.shape[1]] = a
        a = big[1:1 + a.shape[0], 2:2 + a.shape[1]]
    elif view == "negative":
        a = a[::-1]
    elif view == "f64":
        a = a.astype(np.float64)
    try:
        c = G.gemm(a, b, trans_a=ta, trans_b=tb)
    except TypeError:
        assert view == "f64"
        return
    want = (a.T if ta else a).astype(np.float64) @ (b.T if tb else b).astype(np.float64)
    np.testing.assert_allclose(c, want, atol=1e-4 * max(1, k))


@given(n=st.integers(0, 3), h=st.integers(1, 9), w=st.integers(1, 9), c=st.integers(1, 5),
       kh=st.integers(-1, 10), kw=st.integers(1, 10), sh=st.integers(0, 5), sw=st.integers(1, 5),
       padding=st.sampled_from(["valid", "same", "full"]), kind=st.sampled_from(["max", "avg"]))
def test_pool_matches_or_raises(n, h, w, c, kh, kw, sh, sw, padding, kind):
    x = np.random.default_rng(1).standard_normal((n, h, w, c)).astype(np.float32)
    try:
        y, arg = _C.pool2d_forward(x, kind, kh, kw, sh, sw, padding)
    except ValueError:
        assert kh < 1 or sh < 1 or padding == "full" or (padding == "valid" and
                                                          (kh > h or kw > w))
        return
    assert y.shape[:1] == (n,) and y.shape[-1] == c and np.all(np.isfinite(y))
    dx = _C.pool2d_backward(np.ones_like(y), arg, list(x.shape), kind, kh, kw, sh, sw, padding)
    assert dx.shape == x.shape
    if kind == "max" and y.size:
        assert np.isclose(dx.sum(), y.size)  # every output routes exactly one unit


@given(size=st.integers(0, 300), other=st.integers(0, 300),
       name=st.sampled_from(["relu", "sigmoid", "tanh", "no_such_activation"]))
def test_elementwise_matches_or_raises(size, other, name):
    x = np.linspace(-50, 50, size, dtype=np.float32)
    out = np.empty(other, np.float32)
    try:
        _C.activation_forward(name, x, out)
    except ValueError:
        assert name == "no_such_activation" or size != other
        return
    ref = {"relu": lambda v: np.maximum(v, 0), "sigmoid": lambda v: 0.5 * (1 + np.tanh(v / 2)),
           "tanh": np.tanh}[name](x.astype(np.float64))
    np.testing.assert_allclose(out, ref, atol=1e-6)


@given(n=st.integers(0, 50), m=st.integers(0, 50), alias=st.booleans())
def test_optimizer_kernels_check_shapes_and_aliasing(n, m, alias):
    var = np.ones(n, np.float32)
    grad = var if alias else np.full(m, 0.5, np.float32)
    vel = np.zeros(n, np.float32)
    try:
        _C.rmsprop_update(var, grad, vel, None, None, 0.1, 0.9, 0.0, 1e-7)
    except ValueError:
        assert alias and n > 0 or n != m
        return
    assert not alias or n == 0
    np.testing.assert_allclose(var, 1 - 0.1 * 0.5 / np.sqrt(0.1 * 0.25 + 1e-7), rtol=1e-5)


@given(n=st.integers(0, 4), t=st.integers(0, 4), i=small, u=small, bad=st.booleans())
def test_lstm_kernel_matches_shapes_or_raises(n, t, i, u, bad):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((n, t, i)).astype(np.float32)
    k = rng.standard_normal((i + bad, 4 * u)).astype(np.float32)
    r = rng.standard_normal((u, 4 * u)).astype(np.float32)
    try:
        packed, ws = _C.lstm_forward(x, k, r, None, None, None, False)
    except ValueError:
        assert bad or t == 0
        return
    assert packed.shape == (n, t + 2, u) and np.all(np.abs(packed[:, :t + 1]) <= 1)


def _ref_conv2d(x, w, s, padding):
    n, h, wd, c = x.shape
    kh, kw, _, co = w.shape
    if padding == "same":
        oh, ow = -(-h // s), -(-wd // s)
        ph, pw = max((oh - 1) * s + kh - h, 0), max((ow - 1) * s + kw - wd, 0)
        x = np.pad(x, [(0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)])
    n, h, wd, c = x.shape
    oh, ow = (h - kh) // s + 1, (wd - kw) // s + 1
    out = np.zeros((n, oh, ow, co))
    for i in range(oh):
        for j in range(ow):
            out[:, i, j] = np.einsum("nhwc,hwco->no", x[:, i * s:i * s + kh, j * s:j * s + kw], w)
    return out


@given(n=st.integers(0, 2), h=st.integers(1, 7), w=st.integers(1, 7), c=st.integers(1, 3),
       k=st.integers(1, 4), co=st.integers(1, 3), s=st.integers(1, 3),
       padding=st.sampled_from(["valid", "same"]), mismatch=st.booleans())
def test_conv_matches_or_raises(n, h, w, c, k, co, s, padding, mismatch):
    from fastnet.kernels import conv as K

    rng = np.random.default_rng(3)
    x = rng.standard_normal((n, h, w, c)).astype(np.float32)
    kern = rng.standard_normal((k, k, c + mismatch, co)).astype(np.float32)
    try:
        y = K.conv_forward(x, kern, None, s, padding)
    except ValueError:
        assert mismatch or (padding == "valid" and (k > h or k > w))
        return
    assert not mismatch
    np.testing.assert_allclose(y, _ref_conv2d(x.astype(np.float64), kern, s, padding), atol=1e-4)


@given(rows=st.integers(0, 40), c=st.integers(1, 9), bad_gamma=st.booleans(),
       eps=st.sampled_from([1e-3, 0.0, -1.0]))
def test_batch_norm_matches_or_raises(rows, c, bad_gamma, eps):
    x = np.random.default_rng(4).standard_normal((rows, c)).astype(np.float32)
    gamma = np.ones(c + bad_gamma, np.float32)
    try:
        y, mean, var = _C.batch_norm_train(x, gamma, None, eps)
    except ValueError:
        assert bad_gamma or eps <= 0
        return
    if rows:
        np.testing.assert_allclose(mean, x.mean(0), atol=1e-5)
        np.testing.assert_allclose(y, (x - x.mean(0)) / np.sqrt(x.var(0) + eps), atol=1e-3)


@given(rows=st.integers(0, 20), cols=st.integers(0, 30), label_shift=st.integers(-1, 1))
def test_softmax_and_cross_entropy_match_or_raise(rows, cols, label_shift):
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((rows, cols)) * 30).astype(np.float32)
    out = np.empty_like(x)
    _C.softmax(x, out, False)
    if rows and cols:
        e = np.exp(x.astype(np.float64) - x.max(1, keepdims=True))
        np.testing.assert_allclose(out, e / e.sum(1, keepdims=True), atol=1e-5)
    if not cols:
        return
    labels = (rng.integers(0, cols, rows) + label_shift * cols).astype(np.int32)
    loss = np.empty(rows, np.float32)
    try:
        _C.sparse_softmax_cross_entropy(x, labels, loss, np.empty_like(x))
    except ValueError:
        assert rows and label_shift != 0
        return
    assert np.all(np.isfinite(loss)) and np.all(loss >= -1e-5)


@given(sa=st.lists(st.integers(0, 4), min_size=0, max_size=3),
       sb=st.lists(st.integers(0, 4), min_size=0, max_size=3),
       op=st.sampled_from(["add", "multiply", "maximum", "subtract"]))
def test_broadcasting_ops_match_numpy_or_raise(sa, sb, op):
    from fastnet import ops

    a = np.random.default_rng(6).standard_normal(sa).astype(np.float32)
    b = np.random.default_rng(7).standard_normal(sb).astype(np.float32)
    try:
        want = getattr(np, op)(a, b)
    except ValueError:
        try:
            getattr(ops, op)(a, b)
        except ValueError as e:
            assert "Incompatible shapes" in str(e)
            return
        raise AssertionError("fastnet accepted shapes numpy rejects") from None
    np.testing.assert_allclose(getattr(ops, op)(a, b).numpy(), want, rtol=1e-6)


@given(n=st.integers(0, 3), t=st.integers(1, 4), i=small, u=small)
def test_gru_kernel_shapes(n, t, i, u):
    rng = np.random.default_rng(8)
    x = rng.standard_normal((n, t, i)).astype(np.float32)
    packed, ws = _C.gru_forward(x, rng.standard_normal((i, 3 * u)).astype(np.float32),
                                rng.standard_normal((u, 3 * u)).astype(np.float32), None, None,
                                False)
    assert packed.shape == (n, t + 1, u) and np.all(np.abs(packed) <= 1 + 1e-6)
