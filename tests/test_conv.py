"""Convolution kernels (fastnet.kernels.conv): forward against direct numpy
references (a sum over kernel taps of strided slices, not im2col), backward
passes against finite differences, transposed convolution against its
scatter definition, bad input, under every ISA level."""

import itertools

import numpy as np
import pytest
from oracle import assert_close, check_forward, check_gradients, rand

import fastnet
from fastnet import ops
from fastnet.kernels import conv as K

# ---- independent float64 references ----

def _tf_pads(size, k, stride, dil, padding):
    eff = (k - 1) * dil + 1
    if padding == "valid":
        return (size - eff) // stride + 1, 0, 0
    out = -(-size // stride)
    total = max((out - 1) * stride + eff - size, 0)
    return out, total // 2, total - total // 2


def _geometry(x_shape, ks, strides, padding, dil):
    rank = len(ks)
    strides = (strides,) * rank if isinstance(strides, int) else tuple(strides)
    dil = (dil,) * rank if isinstance(dil, int) else tuple(dil)
    g = [_tf_pads(x_shape[1 + i], ks[i], strides[i], dil[i], padding) for i in range(rank)]
    return strides, dil, [o for o, _, _ in g], [(b, a) for _, b, a in g]


def _tap_slices(offs, dil, outs, strides):
    return tuple(slice(o * d, o * d + (n - 1) * s + 1, s) for o, d, n, s in zip(offs, dil, outs, strides))


def ref_conv(x, w, b=None, strides=1, padding="valid", dil=1):
    rank = x.ndim - 2
    ks = w.shape[:rank]
    strides, dil, outs, pads = _geometry(x.shape, ks, strides, padding, dil)
    xp = np.pad(np.asarray(x, np.float64), [(0, 0)] + pads + [(0, 0)])
    y = np.zeros((x.shape[0], *outs, w.shape[-1]))
    for offs in itertools.product(*[range(k) for k in ks]):
        xs = xp[(slice(None), *_tap_slices(offs, dil, outs, strides), slice(None))]
        y += xs @ np.asarray(w[offs], np.float64)
    if b is not None:
        y += b
    return y


def ref_depthwise(x, w, b=None, strides=1, padding="valid", dil=1):
    rank = x.ndim - 2
    ks = w.shape[:rank]
    c, m = w.shape[-2:]
    strides, dil, outs, pads = _geometry(x.shape, ks, strides, padding, dil)
    xp = np.pad(np.asarray(x, np.float64), [(0, 0)] + pads + [(0, 0)])
    y = np.zeros((x.shape[0], *outs, c, m))
    for offs in itertools.product(*[range(k) for k in ks]):
        xs = xp[(slice(None), *_tap_slices(offs, dil, outs, strides), slice(None))]
        y += xs[..., None] * np.asarray(w[offs], np.float64)
    y = y.reshape(y.shape[:-2] + (c * m,))
    if b is not None:
        y += b
    return y


def ref_conv_transpose(x, w, b=None, strides=1, padding="valid", output_padding=None, dil=1):
    """By definition: every input pixel scatters x[i] . w[t]^T to i*stride + t*dilation of
    the full output, which is then cropped with TensorFlow's padding split."""
    rank = x.ndim - 2
    ks = w.shape[:rank]
    strides = (strides,) * rank if isinstance(strides, int) else tuple(strides)
    dil = (dil,) * rank if isinstance(dil, int) else tuple(dil)
    ins = x.shape[1:-1]
    opad = (None,) * rank if output_padding is None else (
        (output_padding,) * rank if isinstance(output_padding, int) else tuple(output_padding))
    outs, before = [], []
    for i in range(rank):
        eff = (ks[i] - 1) * dil[i] + 1
        if opad[i] is None:
            o = ins[i] * strides[i] + (max(eff - strides[i], 0) if padding == "valid" else 0)
        else:
            o = (ins[i] - 1) * strides[i] + eff - 2 * (eff // 2 if padding == "same" else 0) + opad[i]
        outs.append(o)
        before.append(max((ins[i] - 1) * strides[i] + eff - o, 0) // 2 if padding == "same" else 0)
    full = [max((ins[i] - 1) * strides[i] + (ks[i] - 1) * dil[i] + 1, before[i] + outs[i])
            for i in range(rank)]
    y = np.zeros((x.shape[0], *full, w.shape[-2]))
    x64, w64 = np.asarray(x, np.float64), np.asarray(w, np.float64)
    for pos in itertools.product(*[range(n) for n in ins]):
        xi = x64[(slice(None), *pos)]  # (N, C_in)
        for offs in itertools.product(*[range(k) for k in ks]):
            at = tuple(p * s + o * d for p, s, o, d in zip(pos, strides, offs, dil))
            y[(slice(None), *at)] += xi @ w64[offs].T
    y = y[(slice(None), *[slice(b_, b_ + o) for b_, o in zip(before, outs)])]
    if b is not None:
        y = y + b
    return y


# ---- cases: (x_shape, kernel spatial, c_out, strides, padding, dilation) ----

CONV_CASES = [
    ((2, 7, 3), (3,), 4, 1, "valid", 1),
    ((1, 9, 2), (4,), 3, 2, "same", 1),
    ((3, 5, 1), (2,), 2, 3, "valid", 2),            # 1-D, dilation
    ((2, 6, 5, 3), (3, 3), 4, 1, "valid", 1),
    ((2, 6, 5, 3), (3, 3), 4, 1, "same", 1),
    ((1, 7, 8, 2), (3, 2), 5, (2, 3), "same", 1),    # odd pads, unequal strides
    ((2, 5, 5, 2), (2, 2), 3, 3, "valid", 1),        # stride larger than the window
    ((2, 3, 2, 2), (5, 4), 3, 1, "same", 1),         # window larger than the input
    ((1, 9, 9, 2), (3, 3), 2, 1, "same", 2),         # dilation, same
    ((1, 9, 7, 1), (3, 2), 2, (2, 1), "valid", (2, 3)),
    ((1, 1, 1, 3), (1, 1), 2, 1, "valid", 1),        # size 1
    ((2, 4, 3, 5), (1, 1), 3, 1, "valid", 1),        # pointwise: plain GEMM
    ((2, 5, 4, 3), (1, 1), 2, 2, "same", 1),         # 1x1 with stride
    ((1, 4, 5, 3, 2), (2, 3, 2), 3, 1, "valid", 1),  # 3-D
    ((1, 5, 4, 3, 2), (3, 2, 2), 2, (2, 1, 2), "same", (1, 2, 1)),
]


def _case_arrays(case, seed=0):
    x_shape, ks, cout, strides, padding, dil = case
    x = rand(x_shape, seed=seed)
    w = rand((*ks, x_shape[-1], cout), seed=seed + 1)
    b = rand((cout,), seed=seed + 2)
    return x, w, b, strides, padding, dil


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv_forward(isa, case):
    x, w, b, s, p, d = _case_arrays(case)
    y = check_forward(lambda x, w, b: K.conv_forward(x, w, b, s, p, d),
                      lambda x, w, b: ref_conv(x, w, b, s, p, d), [x, w, b], atol=1e-5)
    assert y.shape == K.conv_output_shape(x.shape, w.shape, s, p, d)
    y0 = K.conv_forward(x, w, None, s, p, d)
    assert_close(y0, ref_conv(x, w, None, s, p, d), 1e-5)


@pytest.mark.parametrize("case", CONV_CASES[::2] + [CONV_CASES[5], CONV_CASES[9]])
def test_conv_gradients(isa, case):
    x, w, b, s, p, d = _case_arrays(case, seed=3)
    dy = rand(K.conv_output_shape(x.shape, w.shape, s, p, d), seed=9)

    def grads(x, w, b, dy):
        dx = K.conv_backward_input(dy, w, x.shape, s, p, d)
        dw, db = K.conv_backward_kernel(x, dy, w.shape, s, p, d)
        return dx, dw, db

    check_gradients(grads, lambda x, w, b: ref_conv(x, w, b, s, p, d), [x, w, b], dy,
                    atol=1e-4, rtol=1e-3)
    _, db = K.conv_backward_kernel(x, dy, w.shape, s, p, d, with_bias=False)
    assert db is None


def _adjoint_check(fwd, bwd_in, bwd_k, x, w, y_shape, seed=5):
    """<fwd(x, w), dy> == <x, dx> == <w, dw> (the passes are each other's adjoints)."""
    dy = rand(y_shape, seed=seed)
    y = fwd(x, w)
    dx = bwd_in(dy, w)
    dw = bwd_k(x, dy)
    lhs = float(np.sum(y.astype(np.float64) * dy))
    scale = float(np.sum(np.abs(y.astype(np.float64) * dy))) + 1.0
    assert abs(lhs - float(np.sum(x.astype(np.float64) * dx))) < 1e-5 * scale
    assert abs(lhs - float(np.sum(w.astype(np.float64) * dw))) < 1e-5 * scale


@pytest.mark.parametrize("threads", [1, 2])
def test_conv_large_tiled(isa, threads):
    # Several row tiles per call, both the threaded and the serial drivers.
    before = fastnet.config.get_num_threads()
    fastnet.config.set_num_threads(threads)
    try:
        x = rand((5, 41, 37, 8), seed=1)
        w = rand((3, 3, 8, 6), seed=2)
        b = rand((6,), seed=3)
        s, p = (1, 2), "same"
        y = K.conv_forward(x, w, b, s, p)
        assert_close(y, ref_conv(x, w, b, s, p), 1e-4)
        _adjoint_check(lambda x, w: K.conv_forward(x, w, None, s, p),
                       lambda dy, w: K.conv_backward_input(dy, w, x.shape, s, p),
                       lambda x, dy: K.conv_backward_kernel(x, dy, w.shape, s, p)[0],
                       x, w, y.shape)
        dy = rand(y.shape, seed=4)
        _, db = K.conv_backward_kernel(x, dy, w.shape, s, p)
        assert_close(db, dy.astype(np.float64).sum(axis=(0, 1, 2)), 1e-3)
    finally:
        fastnet.config.set_num_threads(before)


def _ref_input_grad_3x3_s1(dy, w, x_shape, padding):
    """dx of a 3x3 stride-1 conv: each tap scatters dy @ w[tap]^T (float64)."""
    n, h, wd, _ = x_shape
    oh, ow = dy.shape[1:3]
    pad = 1 if padding == "same" else 0
    acc = np.zeros((n, oh + 2, ow + 2, w.shape[2]))
    for kh, kw in itertools.product(range(3), range(3)):
        acc[:, kh:kh + oh, kw:kw + ow] += dy.astype(np.float64) @ w[kh, kw].astype(np.float64).T
    return acc[:, pad:pad + h, pad:pad + wd]


@pytest.mark.parametrize("shape,filters,padding", [
    ((3, 10, 10, 64), 64, "same"),   # 300 tiles: several blocks, a partial last one
    ((2, 9, 7, 32), 40, "valid"),    # odd output sizes: tiles cut at the edges
    ((1, 5, 6, 33), 32, "same"),     # odd channel counts
    ((2, 8, 8, 32), 32, "valid"),
])
def test_conv_3x3_stride1_winograd_path(isa, shape, filters, padding):
    # 3x3 stride-1 convolutions with >= 32 channels in and out take a Winograd path
    # (F(2x2, 3x3) or F(4x4, 3x3) by shape; forward, input and kernel gradients) on every
    # ISA level; tests/test_conv_winograd4.py forces each tile.
    x = rand(shape, seed=1)
    w = rand((3, 3, shape[-1], filters), seed=2, low=-0.2, high=0.2)
    b = rand((filters,), seed=3)
    y = K.conv_forward(x, w, b, 1, padding)
    assert_close(y, ref_conv(x, w, b, 1, padding), 2e-5 * shape[-1] ** 0.5)
    dy = rand(y.shape, seed=4)
    dx = K.conv_backward_input(dy, w, x.shape, 1, padding)
    assert_close(dx, _ref_input_grad_3x3_s1(dy, w, x.shape, padding), 2e-5 * filters ** 0.5)
    dw, db = K.conv_backward_kernel(x, dy, w.shape, 1, padding)
    pad = 1 if padding == "same" else 0
    xp = np.pad(x.astype(np.float64), [(0, 0), (pad, pad), (pad, pad), (0, 0)])
    oh, ow = y.shape[1:3]
    ref_dw = np.stack([np.stack([np.einsum("nhwi,nhwo->io", xp[:, kh:kh + oh, kw:kw + ow], dy)
                                 for kw in range(3)]) for kh in range(3)])
    assert_close(dw, ref_dw, 2e-5 * (y.size / filters) ** 0.5)
    assert_close(db, dy.astype(np.float64).sum(axis=(0, 1, 2)), 1e-3)
    before = fastnet.config.get_num_threads()
    was_deterministic = fastnet.config.is_determinism_enabled()
    try:
        for t in (1, 3):  # blocks of tiles, not threads, fix the arithmetic
            fastnet.config.set_num_threads(t)
            np.testing.assert_array_equal(K.conv_forward(x, w, b, 1, padding), y)
            np.testing.assert_array_equal(K.conv_backward_input(dy, w, x.shape, 1, padding), dx)
        fastnet.config.enable_determinism()
        want = None
        for t in (1, 2, 3):  # the kernel gradient's partials: fixed by the size in this mode
            fastnet.config.set_num_threads(t)
            got = K.conv_backward_kernel(x, dy, w.shape, 1, padding)[0]
            assert_close(got, ref_dw, 2e-5 * (y.size / filters) ** 0.5)
            if want is None:
                want = got
            np.testing.assert_array_equal(got, want)
    finally:
        if not was_deterministic:
            fastnet.config.disable_determinism()
        fastnet.config.set_num_threads(before)


def test_conv_wide_window(isa):
    # One output pixel's window (K * C_in) is larger than the tile budget allows for
    # many rows: the tile shrinks to its minimum and stays correct.
    x = rand((2, 6, 6, 300), seed=1)
    w = rand((5, 5, 300, 3), seed=2, low=-0.1, high=0.1)
    y = K.conv_forward(x, w, None, 1, "same")
    assert_close(y, ref_conv(x, w, None, 1, "same"), 1e-4)
    _adjoint_check(lambda x, w: K.conv_forward(x, w, None, 1, "same"),
                   lambda dy, w: K.conv_backward_input(dy, w, x.shape, 1, "same"),
                   lambda x, dy: K.conv_backward_kernel(x, dy, w.shape, 1, "same")[0],
                   x, w, y.shape)


def test_conv_batch_zero():
    x = np.zeros((0, 5, 5, 2), np.float32)
    w = rand((3, 3, 2, 4))
    assert K.conv_forward(x, w).shape == (0, 3, 3, 4)
    dw, db = K.conv_backward_kernel(x, np.zeros((0, 3, 3, 4), np.float32), w.shape)
    assert np.all(dw == 0) and np.all(db == 0)
    assert K.conv_backward_input(np.zeros((0, 3, 3, 4), np.float32), w, x.shape).shape == x.shape


# ---- transposed convolution ----

TRANSPOSE_CASES = [
    # (x_shape, kernel spatial, filters, strides, padding, output_padding, dilation)
    ((2, 3, 3, 2), (3, 3), 4, 1, "valid", None, 1),
    ((2, 3, 4, 2), (3, 3), 3, 2, "same", None, 1),
    ((1, 3, 3, 1), (3, 3), 2, 2, "valid", None, 1),
    ((1, 4, 3, 2), (4, 3), 2, (2, 3), "same", None, 1),
    ((1, 3, 3, 2), (3, 3), 2, 2, "same", 1, 1),      # output_padding
    ((1, 3, 2, 2), (3, 2), 2, (3, 2), "valid", (2, 1), 1),
    ((2, 3, 3, 1), (2, 2), 3, 3, "valid", None, 1),  # stride larger than the window
    ((1, 3, 3, 2), (3, 3), 2, 1, "same", None, 2),   # dilation
    ((1, 2, 2, 2), (2, 2), 3, 2, "same", None, 2),
    ((2, 5, 3), (3,), 2, 2, "same", None, 1),        # 1-D
    ((1, 2, 3, 2, 2), (2, 2, 3), 2, (2, 1, 2), "same", None, 1),  # 3-D
]


def _t_arrays(case, seed=0):
    x_shape, ks, f, s, p, op, d = case
    return (rand(x_shape, seed=seed), rand((*ks, f, x_shape[-1]), seed=seed + 1),
            rand((f,), seed=seed + 2), s, p, op, d)


@pytest.mark.parametrize("case", TRANSPOSE_CASES)
def test_conv_transpose_forward(isa, case):
    x, w, b, s, p, op, d = _t_arrays(case)
    y = check_forward(lambda x, w, b: K.conv_transpose_forward(x, w, b, s, p, op, d),
                      lambda x, w, b: ref_conv_transpose(x, w, b, s, p, op, d), [x, w, b],
                      atol=1e-5)
    assert y.shape == K.conv_transpose_output_shape(x.shape, w.shape, s, p, op, d)


@pytest.mark.parametrize("case", TRANSPOSE_CASES[1::2])
def test_conv_transpose_gradients(isa, case):
    x, w, b, s, p, op, d = _t_arrays(case, seed=4)
    dy = rand(K.conv_transpose_output_shape(x.shape, w.shape, s, p, op, d), seed=8)

    def grads(x, w, b, dy):
        dx = K.conv_transpose_backward_input(dy, w, x.shape, s, p, op, d)
        dw, db = K.conv_transpose_backward_kernel(x, dy, w.shape, s, p, op, d)
        return dx, dw, db

    check_gradients(grads, lambda x, w, b: ref_conv_transpose(x, w, b, s, p, op, d),
                    [x, w, b], dy, atol=1e-4, rtol=1e-3)


def test_conv_transpose_matches_torch():
    torch = pytest.importorskip("torch")
    x = rand((2, 4, 5, 3), seed=1)
    w = rand((3, 3, 4, 3), seed=2)  # (kh, kw, filters, in)
    y = K.conv_transpose_forward(x, w, None, 2, "valid")
    t = torch.nn.functional.conv_transpose2d(
        torch.from_numpy(x).permute(0, 3, 1, 2), torch.from_numpy(w).permute(3, 2, 0, 1),
        stride=2).permute(0, 2, 3, 1).numpy()
    assert_close(y, t, 1e-5)


# ---- depthwise ----

DW_CASES = [
    # (x_shape, kernel spatial, depth_multiplier, strides, padding, dilation)
    ((2, 6, 5, 3), (3, 3), 1, 1, "valid", 1),
    ((2, 6, 5, 3), (3, 3), 2, 1, "same", 1),
    ((1, 7, 8, 4), (3, 2), 3, (2, 3), "same", 1),
    ((1, 9, 9, 2), (3, 3), 1, 1, "same", 2),
    ((2, 3, 2, 2), (5, 4), 1, 1, "same", 1),         # window larger than the input
    ((2, 5, 5, 2), (2, 2), 2, 3, "valid", 1),
    ((1, 1, 1, 5), (1, 1), 2, 1, "valid", 1),
    ((2, 8, 3), (3,), 2, 2, "same", 1),              # 1-D
    ((1, 4, 5, 3, 2), (2, 3, 2), 2, 1, "same", 1),   # 3-D
]


def _dw_arrays(case, seed=0):
    x_shape, ks, m, s, p, d = case
    c = x_shape[-1]
    return (rand(x_shape, seed=seed), rand((*ks, c, m), seed=seed + 1), rand((c * m,), seed=seed + 2),
            s, p, d)


@pytest.mark.parametrize("case", DW_CASES)
def test_depthwise_forward(isa, case):
    x, w, b, s, p, d = _dw_arrays(case)
    y = check_forward(lambda x, w, b: K.depthwise_conv_forward(x, w, b, s, p, d),
                      lambda x, w, b: ref_depthwise(x, w, b, s, p, d), [x, w, b], atol=1e-5)
    assert y.shape == K.depthwise_conv_output_shape(x.shape, w.shape, s, p, d)


@pytest.mark.parametrize("case", DW_CASES[1::2] + [DW_CASES[0]])
def test_depthwise_gradients(isa, case):
    x, w, b, s, p, d = _dw_arrays(case, seed=6)
    dy = rand(K.depthwise_conv_output_shape(x.shape, w.shape, s, p, d), seed=7)

    def grads(x, w, b, dy):
        dx = K.depthwise_conv_backward_input(dy, w, x.shape, s, p, d)
        dw, db = K.depthwise_conv_backward_kernel(x, dy, w.shape, s, p, d)
        return dx, dw, db

    check_gradients(grads, lambda x, w, b: ref_depthwise(x, w, b, s, p, d), [x, w, b], dy,
                    atol=1e-4, rtol=1e-3)


@pytest.mark.parametrize("threads", [1, 2])
def test_depthwise_large(isa, threads):
    before = fastnet.config.get_num_threads()
    fastnet.config.set_num_threads(threads)
    try:
        x = rand((4, 23, 19, 16), seed=1)
        w = rand((3, 3, 16, 2), seed=2)
        y = K.depthwise_conv_forward(x, w, None, 2, "same")
        assert_close(y, ref_depthwise(x, w, None, 2, "same"), 1e-5)
        _adjoint_check(lambda x, w: K.depthwise_conv_forward(x, w, None, 2, "same"),
                       lambda dy, w: K.depthwise_conv_backward_input(dy, w, x.shape, 2, "same"),
                       lambda x, dy: K.depthwise_conv_backward_kernel(x, dy, w.shape, 2, "same")[0],
                       x, w, y.shape)
    finally:
        fastnet.config.set_num_threads(before)


# ---- bad input ----

def _raises(exc, match, fn, *args, **kw):
    with pytest.raises(exc, match=match):
        fn(*args, **kw)


def test_bad_input():
    x = rand((2, 5, 5, 3))
    w = rand((3, 3, 3, 4))
    _raises(TypeError, "conv_forward: `x` must be float32", K.conv_forward, x.astype(np.float64), w)
    _raises(TypeError, "conv_forward: `kernel` must be float32", K.conv_forward, x,
            w.astype(np.float16))
    _raises(TypeError, "numpy array", K.conv_forward, x.tolist(), w)
    _raises(ValueError, "conv_forward: `x` must be 3-D, 4-D or 5-D", K.conv_forward, x[0, 0], w)
    _raises(ValueError, "conv_forward: kernel must be 4-D", K.conv_forward, x, w[0])
    _raises(ValueError, "input channels 3 .* in_channels 2", K.conv_forward, x, w[:, :, :2].copy())
    _raises(ValueError, "`strides` must be positive", K.conv_forward, x, w, strides=0)
    _raises(ValueError, "`strides` must be positive", K.conv_forward, x, w, strides=(1, -2))
    _raises(ValueError, "`dilation_rate` must be positive", K.conv_forward, x, w, dilation_rate=0)
    _raises(ValueError, "`strides` must be an int or 2 ints", K.conv_forward, x, w,
            strides=(1, 1, 1))
    _raises(ValueError, "`padding` must be 'valid' or 'same'", K.conv_forward, x, w, padding="full")
    _raises(ValueError, "`padding` must be 'valid' or 'same'", K.conv_forward, x, w, padding=None)
    _raises(ValueError, "output would be empty", K.conv_forward, x, rand((6, 3, 3, 4)))
    _raises(ValueError, "output would be empty", K.conv_forward, x, w, dilation_rate=3)
    _raises(ValueError, "must be positive", K.conv_forward, np.zeros((1, 0, 5, 3), np.float32), w)
    _raises(ValueError, "kernel sizes must be positive", K.conv_forward, x,
            np.zeros((3, 3, 3, 0), np.float32))
    _raises(ValueError, "C-contiguous", K.conv_forward, x[:, ::2], w)
    _raises(ValueError, "C-contiguous", K.conv_forward, x, np.asfortranarray(w))
    _raises(ValueError, "`bias` must have shape", K.conv_forward, x, w, rand((3,)))
    _raises(TypeError, "`bias` must be a float32", K.conv_forward, x, w, np.zeros(4))
    dy = rand((2, 3, 3, 4))
    _raises(ValueError, "conv_backward_input: `dy` must have shape", K.conv_backward_input,
            dy[:, :2].copy(), w, x.shape)
    _raises(ValueError, "conv_backward_input: `input_shape` has a negative size",
            K.conv_backward_input, dy, w, (2, 5, -5, 3))
    _raises(ValueError, "conv_backward_kernel: `dy` must have shape", K.conv_backward_kernel, x,
            dy[..., :3].copy(), w.shape)
    _raises(ValueError, "conv_backward_kernel: input channels", K.conv_backward_kernel, x, dy,
            (3, 3, 2, 4))


def test_bad_input_transpose_depthwise():
    x = rand((2, 3, 3, 2))
    w = rand((3, 3, 4, 2))
    _raises(ValueError, "conv_transpose_forward: input channels 2 .* in_channels 4",
            K.conv_transpose_forward, x, rand((3, 3, 2, 4)))
    _raises(ValueError, "`output_padding` .* must be smaller than `strides`",
            K.conv_transpose_forward, x, w, None, 2, "same", 2)
    _raises(ValueError, "`output_padding` must be non-negative", K.conv_transpose_forward, x, w,
            None, 2, "same", -1)
    _raises(ValueError, "conv_transpose_backward_input: `dy` must have shape",
            K.conv_transpose_backward_input, rand((2, 4, 5, 4)), w, x.shape)
    _raises(ValueError, "depthwise_conv_forward: input channels 2 .* in_channels 3",
            K.depthwise_conv_forward, x, rand((3, 3, 3, 1)))
    _raises(ValueError, "depthwise_conv_forward: the output would be empty",
            K.depthwise_conv_forward, x, rand((4, 3, 2, 1)))
    _raises(ValueError, "depthwise_conv_backward_kernel: `dy` must have shape",
            K.depthwise_conv_backward_kernel, x, rand((2, 1, 1, 3)), (3, 3, 2, 1))


def test_conv_large_padded_image(isa):
    # The zero-padded image exceeds the direct path's budget: the tiled im2col path runs.
    x = rand((1, 200, 181, 30), seed=1)
    w = rand((3, 3, 30, 2), seed=2, low=-0.1, high=0.1)
    y = K.conv_forward(x, w, None, 1, "same")
    assert_close(y, ref_conv(x, w, None, 1, "same"), 1e-4)
    dy = rand(y.shape, seed=3)
    _adjoint_check(lambda x, w: K.conv_forward(x, w, None, 1, "same"),
                   lambda dy, w: K.conv_backward_input(dy, w, x.shape, 1, "same"),
                   lambda x, dy: K.conv_backward_kernel(x, dy, w.shape, 1, "same")[0],
                   x, w, y.shape)
    del dy


@pytest.mark.parametrize("ks,stride,opad,padding,size", [
    ((3, 3), (2, 2), (1, 1), "same", (4, 5)),
    ((3, 3), (2, 2), (0, 1), "same", (3, 3)),
    ((4, 2), (3, 2), (2, 1), "same", (2, 3)),
    ((3, 3), (2, 2), (1, 0), "valid", (3, 4)),
    ((5, 5), (3, 3), (2, 2), "same", (2, 2)),
])
def test_conv_transpose_output_padding_numpy_path_matches_kernel(ks, stride, opad, padding, size):
    # Regression: the float64 (numpy) path padded k//2 before when output_padding was set,
    # while the kernel (and TensorFlow) put half of the total padding before.
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, *size, 3))
    w = rng.standard_normal((*ks, 4, 3))
    got32 = ops.conv_transpose(x.astype(np.float32), w.astype(np.float32), stride, padding,
                               output_padding=opad).numpy()
    got64 = ops.conv_transpose(ops.convert_to_tensor(x, dtype="float64"),
                               ops.convert_to_tensor(w, dtype="float64"), stride, padding,
                               output_padding=opad).numpy()
    assert got32.shape == got64.shape
    assert_close(got32, got64, atol=1e-4, rtol=1e-4)
