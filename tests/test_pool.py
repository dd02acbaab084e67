"""2-D pooling kernels (csrc/pool), every ISA level, against plain loops (TensorFlow's
padding rules) and finite differences."""

import numpy as np
import pytest
from oracle import assert_close, check_gradients, rand

import fastnet
from fastnet import ops
from fastnet.kernels import pool as P
from fastnet.ops import spatial as ops_spatial


def ref_pool(x, k, s, padding, kind):
    n, h, w, c = x.shape
    if padding == "same":
        oh, ow = -(-h // s[0]), -(-w // s[1])
        pt = max((oh - 1) * s[0] + k[0] - h, 0) // 2
        pl = max((ow - 1) * s[1] + k[1] - w, 0) // 2
    else:
        oh, ow = (h - k[0]) // s[0] + 1, (w - k[1]) // s[1] + 1
        pt = pl = 0
    out = np.zeros((n, oh, ow, c))
    for i in range(oh):
        for j in range(ow):
            h0, w0 = i * s[0] - pt, j * s[1] - pl
            win = x[:, max(h0, 0):max(min(h0 + k[0], h), 0), max(w0, 0):max(min(w0 + k[1], w), 0), :]
            out[:, i, j, :] = win.max(axis=(1, 2)) if kind == "max" else win.mean(axis=(1, 2))
    return out


CASES = [((2, 7, 6, 3), (3, 3), (2, 2), "same"), ((1, 5, 5, 1), (2, 2), (2, 2), "valid"),
         ((2, 4, 4, 2), (3, 3), (2, 2), "same"), ((1, 6, 6, 5), (2, 3), (3, 1), "valid"),
         ((1, 3, 3, 2), (5, 5), (1, 1), "same"), ((2, 1, 1, 4), (1, 1), (1, 1), "valid"),
         ((1, 6, 5, 2), (2, 2), (4, 4), "same")]


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("shape,k,s,padding", CASES)
def test_pool2d_forward_and_gradient(isa, kind, shape, k, s, padding):
    x = rand(shape, seed=1, low=-3, high=3)
    fn = ops.max_pool if kind == "max" else ops.average_pool
    got = fn(x, k, s, padding).numpy()
    assert_close(got, ref_pool(x.astype(np.float64), k, s, padding, kind), atol=1e-6)

    def grads(xx, dout):
        v = fastnet.Variable(xx.astype(np.float32))
        with fastnet.GradientTape() as tape:
            y = fn(v, k, s, padding)
        return tape.gradient(y, v, output_gradients=dout.astype(np.float32)).numpy()

    check_gradients(grads, lambda xx: ref_pool(xx, k, s, padding, kind), [x],
                    rand(got.shape, seed=2), atol=1e-4, rtol=1e-3, eps=1e-4)


def test_pool1d_uses_the_same_kernel(isa):
    x = rand((2, 9, 3), seed=3)
    got = ops.max_pool(x, 3, 2, "same").numpy()
    want = ref_pool(x[:, None].astype(np.float64), (1, 3), (1, 2), "same", "max")[:, 0]
    assert_close(got, want, atol=1e-6)


def test_max_ties_route_gradient_to_first_maximum():
    x = np.ones((1, 2, 2, 1), np.float32)
    v = fastnet.Variable(x)
    with fastnet.GradientTape() as tape:
        y = ops.max_pool(v, 2, 2)
    g = tape.gradient(y, v).numpy()[0, :, :, 0]
    np.testing.assert_array_equal(g, [[1, 0], [0, 0]])


def test_pool_kernel_argument_checks():
    x = np.zeros((1, 4, 4, 2), np.float32)
    with pytest.raises(ValueError, match="pool_size"):
        P.pool2d_forward(x, "max", 0, 2, 1, 1, "valid")
    with pytest.raises(ValueError, match="does not fit"):
        P.pool2d_forward(x, "max", 5, 5, 1, 1, "valid")
    with pytest.raises(ValueError, match="padding"):
        P.pool2d_forward(x, "max", 2, 2, 1, 1, "full")
    with pytest.raises(ValueError, match="4-D"):
        P.pool2d_forward(np.zeros((4, 4), np.float32), "max", 2, 2, 1, 1, "valid")
    y, arg = P.pool2d_forward(x, "max", 2, 2, 2, 2, "valid")
    bad = arg.copy()
    bad[0, 0, 0, 0] = 99
    with pytest.raises(ValueError, match="out-of-range"):
        P.pool2d_backward(y, bad, [1, 4, 4, 2], "max", 2, 2, 2, 2, "valid")


# ---- N-D pooling (1-D/2-D/3-D on the one 3-D core) ------------------------------------------

def ref_pool_nd(x, k, s, padding, kind):
    """Plain float64 reference for channels-last pooling with any number of spatial dims."""
    nd = x.ndim - 2
    sizes = x.shape[1:-1]
    outs, pads = [], []
    for i in range(nd):
        if padding == "same":
            o = -(-sizes[i] // s[i])
            pads.append(max((o - 1) * s[i] + k[i] - sizes[i], 0) // 2)
        else:
            o = (sizes[i] - k[i]) // s[i] + 1
            pads.append(0)
        outs.append(o)
    out = np.zeros((x.shape[0],) + tuple(outs) + (x.shape[-1],))
    for idx in np.ndindex(*outs):
        sl = []
        for i, o in enumerate(idx):
            a = o * s[i] - pads[i]
            sl.append(slice(max(a, 0), max(min(a + k[i], sizes[i]), 0)))
        win = x[(slice(None),) + tuple(sl) + (slice(None),)]
        axes = tuple(range(1, nd + 1))
        out[(slice(None),) + idx + (slice(None),)] = (win.max(axis=axes) if kind == "max"
                                                     else win.mean(axis=axes))
    return out


ND_CASES = [
    # 1-D: odd sizes, stride > window, window > input with 'same', size-1 everything
    ((2, 9, 3), (3,), (2,), "same"), ((1, 7, 1), (2,), (3,), "valid"),
    ((2, 3, 5), (5,), (1,), "same"), ((1, 1, 2), (1,), (1,), "valid"),
    ((1, 11, 17), (2,), (5,), "same"),
    # 2-D: channels across the vector widths (4/8/16) and their 4x blocks
    ((1, 5, 6, 37), (3, 2), (2, 3), "same"), ((2, 6, 6, 64), (2, 2), (2, 2), "valid"),
    # 3-D
    ((1, 4, 5, 3, 2), (2, 2, 2), (2, 2, 2), "valid"), ((2, 3, 4, 5, 3), (3, 2, 3), (1, 2, 2), "same"),
    ((1, 2, 3, 3, 1), (4, 4, 4), (1, 1, 1), "same"), ((1, 5, 4, 3, 2), (1, 2, 1), (3, 1, 4), "same"),
    ((1, 1, 1, 1, 1), (1, 1, 1), (1, 1, 1), "valid"),
]


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("shape,k,s,padding", ND_CASES)
def test_pool_nd_forward_and_gradient(isa, kind, shape, k, s, padding):
    x = rand(shape, seed=11, low=-3, high=3)
    fn = ops.max_pool if kind == "max" else ops.average_pool
    got = fn(x, k, s, padding).numpy()
    assert_close(got, ref_pool_nd(x.astype(np.float64), k, s, padding, kind), atol=1e-6)
    if x.size > 400:  # finite differences stay cheap; the forward above covers the shape
        return

    def grads(xx, dout):
        v = fastnet.Variable(xx.astype(np.float32))
        with fastnet.GradientTape() as tape:
            y = fn(v, k, s, padding)
        return tape.gradient(y, v, output_gradients=dout.astype(np.float32)).numpy()

    check_gradients(grads, lambda xx: ref_pool_nd(xx, k, s, padding, kind), [x],
                    rand(got.shape, seed=12), atol=1e-4, rtol=1e-3, eps=1e-4)


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pool_nd_large_channels_match_numpy_fallback(isa, kind):
    # float64 input takes the numpy path; float32 the kernel; compare the two on bigger data
    x = rand((2, 6, 7, 5, 70), seed=13, low=-2, high=2)
    fn = ops.max_pool if kind == "max" else ops.average_pool
    for k, s, pad in [((2, 3, 2), (2, 2, 2), "same"), ((3, 3, 3), (3, 3, 3), "valid")]:
        dout = rand(fn(x, k, s, pad).shape, seed=14)
        res = []
        for xx in (x, x.astype(np.float64)):
            v = fastnet.Variable(xx)
            with fastnet.GradientTape() as tape:
                y = fn(v, k, s, pad)
            res.append((y.numpy(), tape.gradient(y, v, output_gradients=dout.astype(xx.dtype))))
        assert_close(res[0][0], res[1][0], atol=1e-5)
        assert_close(res[0][1].numpy(), res[1][1].numpy(), atol=1e-5)


def test_max_pool_nd_ties_follow_window_order(isa):
    # All equal: each window's gradient goes to its first element in scan order (d, h, w).
    x = np.zeros((1, 2, 2, 2, 3), np.float32)
    v = fastnet.Variable(x)
    with fastnet.GradientTape() as tape:
        y = ops.max_pool(v, 2, 2)
    g = tape.gradient(y, v).numpy()
    want = np.zeros_like(x)
    want[0, 0, 0, 0] = 1
    np.testing.assert_array_equal(g, want)
    # Overlapping windows (stride 1): the first element wins in each, gradients add up.
    x1 = np.array([[[1.0], [1.0], [1.0]]], np.float32)
    v = fastnet.Variable(x1)
    with fastnet.GradientTape() as tape:
        y = ops.max_pool(v, 2, 1)
    np.testing.assert_array_equal(tape.gradient(y, v).numpy()[0, :, 0], [1, 1, 0])


def test_pooling_layers_3d_and_1d_use_kernel(isa):
    x = rand((2, 5, 6, 7, 4), seed=15)
    for cls, kind in ((fastnet.layers.MaxPooling3D, "max"), (fastnet.layers.AveragePooling3D, "avg")):
        layer = cls(pool_size=(2, 3, 2), strides=(1, 2, 3), padding="same")
        assert_close(layer(x).numpy(), ref_pool_nd(x.astype(np.float64), (2, 3, 2), (1, 2, 3), "same",
                                                   kind), atol=1e-6)
    x1 = rand((3, 10, 4), seed=16)
    layer = fastnet.layers.AveragePooling1D(pool_size=4, strides=3, padding="same")
    assert_close(layer(x1).numpy(), ref_pool_nd(x1.astype(np.float64), (4,), (3,), "same", "avg"),
                 atol=1e-6)


def test_pool_nd_kernel_argument_checks():
    x = np.zeros((1, 4, 4, 4, 2), np.float32)
    with pytest.raises(ValueError, match=r"pool_size.*\[2, 0, 2\].*\(1, 4, 4, 4, 2\)"):
        P.pool_forward(x, "max", [2, 0, 2], [1, 1, 1], "valid")
    with pytest.raises(ValueError, match=r"strides.*\[1, -1, 1\]"):
        P.pool_forward(x, "avg", [2, 2, 2], [1, -1, 1], "valid")
    with pytest.raises(ValueError, match=r"5-D.*\(4, 4, 4, 2\)"):
        P.pool_forward(x[0], "max", [2, 2, 2], [1, 1, 1], "valid")
    with pytest.raises(ValueError, match=r"strides.*pool_size"):
        P.pool_forward(x, "max", [2, 2, 2], [1, 1], "valid")
    with pytest.raises(ValueError, match=r"1 to 3"):
        P.pool_forward(x, "max", [], [], "valid")
    with pytest.raises(ValueError, match="does not fit"):
        P.pool_forward(x, "max", [5, 1, 1], [1, 1, 1], "valid")
    with pytest.raises(ValueError, match="kind"):
        P.pool_forward(x, "min", [2, 2, 2], [1, 1, 1], "valid")
    with pytest.raises(TypeError, match=r"`x` must be float32.*float64"):
        P.pool_forward(x.astype(np.float64), "max", [2, 2, 2], [1, 1, 1], "valid")
    with pytest.raises(ValueError, match="C-contiguous"):
        P.pool_forward(x[..., ::2], "max", [2, 2, 2], [1, 1, 1], "valid")
    y, arg = P.pool_forward(x, "max", [2, 2, 2], [2, 2, 2], "valid")
    with pytest.raises(ValueError, match=r"`dy` has shape \(1, 2, 2, 2, 3\), expected \(1, 2, 2, 2, 2\)"):
        P.pool_backward(np.zeros((1, 2, 2, 2, 3), np.float32), arg, list(x.shape), "max", [2, 2, 2],
                        [2, 2, 2], "valid")
    with pytest.raises(TypeError, match="`arg` must be a numpy array"):
        P.pool_backward(y, None, list(x.shape), "max", [2, 2, 2], [2, 2, 2], "valid")
    with pytest.raises(ValueError, match="`arg`"):
        P.pool_backward(y, arg.astype(np.int64), list(x.shape), "max", [2, 2, 2], [2, 2, 2], "valid")
    with pytest.raises(ValueError, match="negative"):
        P.pool_backward(y, None, [1, -4, 4, 4, 2], "avg", [2, 2, 2], [2, 2, 2], "valid")
    with pytest.raises(ValueError, match="pool_size and strides"):
        ops.max_pool(x, (2, 0, 2))


# ---- global pooling -------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(2, 7, 3), (3, 5, 4, 37), (2, 3, 2, 4, 70), (1, 1, 1, 1), (4, 2, 16)])
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_global_pool_forward_and_gradient(isa, shape, kind):
    x = rand(shape, seed=21, low=-3, high=3)
    axes = tuple(range(1, x.ndim - 1))
    fn = ops_spatial.global_max_pool if kind == "max" else ops_spatial.global_average_pool

    def ref(xx):
        return xx.max(axis=axes) if kind == "max" else xx.mean(axis=axes)

    got = fn(x).numpy()
    assert_close(got, ref(x.astype(np.float64)), atol=1e-6)
    kd = fn(x, keepdims=True).numpy()
    assert kd.shape == (shape[0],) + (1,) * len(axes) + (shape[-1],)

    def grads(xx, dout):
        v = fastnet.Variable(xx.astype(np.float32))
        with fastnet.GradientTape() as tape:
            y = fn(v)
        return tape.gradient(y, v, output_gradients=dout.astype(np.float32)).numpy()

    if x.size <= 600:
        check_gradients(grads, ref, [x], rand(got.shape, seed=22), atol=1e-4, rtol=1e-3, eps=1e-4)


def test_global_max_pool_ties_share_gradient(isa):
    x = np.array([[[1.0, 2.0], [3.0, 2.0], [3.0, 0.0], [3.0, 2.0]]], np.float32)  # (1, 4, 2)
    for layer in (fastnet.layers.GlobalMaxPooling1D(), None):
        v = fastnet.Variable(x)
        with fastnet.GradientTape() as tape:
            y = layer(v) if layer else ops.max(v, axis=1)
        g = tape.gradient(y, v).numpy()[0]
        assert_close(g, [[0, 1 / 3], [1 / 3, 1 / 3], [1 / 3, 0], [1 / 3, 1 / 3]], atol=1e-7)


def test_global_pooling_layers(isa):
    x = rand((3, 4, 5, 6, 8), seed=23)
    assert_close(fastnet.layers.GlobalAveragePooling3D()(x).numpy(),
                 x.astype(np.float64).mean(axis=(1, 2, 3)), atol=1e-6)
    assert_close(fastnet.layers.GlobalMaxPooling2D(keepdims=True)(x[:, 0]).numpy(),
                 x[:, 0].max(axis=(1, 2), keepdims=True), atol=0)
    # masked average (1-D) keeps its own path
    x1 = rand((2, 3, 4), seed=24)
    mask = np.array([[True, False, True], [True, True, True]])
    got = fastnet.layers.GlobalAveragePooling1D()(x1, mask=mask).numpy()
    assert_close(got[0], (x1[0, 0] + x1[0, 2]) / 2, atol=1e-6)


def test_global_pool_kernel_argument_checks():
    x = np.zeros((2, 3, 4), np.float32)
    with pytest.raises(ValueError, match=r"3-D.*\(3, 4\)"):
        P.global_pool_forward(x[0], "max")
    with pytest.raises(ValueError, match="no spatial"):
        P.global_pool_forward(np.zeros((2, 0, 4), np.float32), "avg")
    with pytest.raises(TypeError, match="float32"):
        P.global_pool_forward(x.astype(np.float16), "avg")
    y, cnt = P.global_pool_forward(x, "max")
    with pytest.raises(ValueError, match=r"`dy` has shape \(2, 3\), expected \(2, 4\)"):
        P.global_max_pool_backward(np.zeros((2, 3), np.float32), x, y, cnt)
    with pytest.raises(ValueError, match=r"`count` has shape"):
        P.global_max_pool_backward(y, x, y, cnt[:1])
    with pytest.raises(ValueError, match=r"`dy` has shape \(3, 4\), expected \(2, 4\)"):
        P.global_avg_pool_backward(np.zeros((3, 4), np.float32), [2, 3, 4])


# ---- nearest upsampling ---------------------------------------------------------------------

def ref_upsample(x, size):
    for i, s in enumerate(size):
        x = np.repeat(x, s, axis=1 + i)
    return x


@pytest.mark.parametrize("shape,size", [((2, 5, 3), (3,)), ((2, 3, 4, 37), (2, 3)),
                                        ((1, 2, 3, 2, 5), (2, 1, 3)), ((1, 1, 1, 16), (1, 1)),
                                        ((3, 4, 5, 1), (2, 2))])
def test_upsampling_forward_and_gradient(isa, shape, size):
    x = rand(shape, seed=31)
    got = ops_spatial.upsampling(x, size).numpy()
    assert_close(got, ref_upsample(x.astype(np.float64), size), atol=0)

    def grads(xx, dout):
        v = fastnet.Variable(xx.astype(np.float32))
        with fastnet.GradientTape() as tape:
            y = ops_spatial.upsampling(v, size)
        return tape.gradient(y, v, output_gradients=dout.astype(np.float32)).numpy()

    check_gradients(grads, lambda xx: ref_upsample(xx, size), [x], rand(got.shape, seed=32),
                    atol=1e-4, rtol=1e-3, eps=1e-3)
    layer = {1: fastnet.layers.UpSampling1D, 2: fastnet.layers.UpSampling2D,
             3: fastnet.layers.UpSampling3D}[len(size)](size if len(size) > 1 else size[0])
    assert_close(layer(x).numpy(), got, atol=0)


def test_upsampling_kernel_argument_checks():
    x = np.zeros((1, 2, 2, 3), np.float32)
    with pytest.raises(ValueError, match=r"`size` must be positive.*\[2, 0\]"):
        P.upsampling_forward(x, [2, 0])
    with pytest.raises(ValueError, match=r"`size` \[2\].*3-D.*\(1, 2, 2, 3\)"):
        P.upsampling_forward(x, [2])
    with pytest.raises(ValueError, match=r"not a multiple.*\[3, 2\]"):
        P.upsampling_backward(np.zeros((1, 4, 4, 3), np.float32), [3, 2])
    with pytest.raises(TypeError, match="float32"):
        P.upsampling_backward(np.zeros((1, 4, 4, 3), np.float64), [2, 2])
    with pytest.raises(ValueError, match="size must be positive"):
        ops_spatial.upsampling(x, (2, -1))


@pytest.mark.parametrize("c", [3, 40])
@pytest.mark.parametrize("k,s", [((2, 2), (2, 2)), ((3, 3), (1, 2))])
def test_pool_backward_never_addresses_by_arg(isa, c, k, s):
    # pool_backward only compares argmax values with positions: garbage cannot reach memory.
    x = rand((2, 7, 6, c), seed=51)
    y, arg = P.pool_forward(x, "max", list(k), list(s), "same")
    bad = np.random.default_rng(52).integers(-2**31, 2**31 - 1, size=arg.shape, dtype=np.int64)
    dx = P.pool_backward(np.ones_like(y), bad.astype(np.int32), list(x.shape), "max", list(k),
                         list(s), "same")
    assert dx.shape == x.shape and np.isfinite(dx).all()
    good = P.pool_backward(np.ones_like(y), arg, list(x.shape), "max", list(k), list(s), "same")
    assert good.sum() == pytest.approx(y.size)


@pytest.mark.parametrize("k,s,pad", [(3, 3, "valid"), (3, 2, "same"), (2, 3, "same")])
def test_pool_threaded_matches_numpy_path(k, s, pad):
    # Large enough that forward and backward split rows over threads.
    before = fastnet.config.get_num_threads()
    fastnet.config.set_num_threads(2)
    try:
        x = rand((4, 23, 20, 48), seed=61, low=-2, high=2)
        for fn in (ops.max_pool, ops.average_pool):
            dout = rand(fn(x, k, s, pad).shape, seed=62)
            res = []
            for xx in (x, x.astype(np.float64)):
                v = fastnet.Variable(xx)
                with fastnet.GradientTape() as tape:
                    y = fn(v, k, s, pad)
                res.append((y.numpy(), tape.gradient(y, v, output_gradients=dout.astype(xx.dtype)).numpy()))
            assert_close(res[0][0], res[1][0], atol=1e-5)
            assert_close(res[0][1], res[1][1], atol=1e-5)
        for fn in (ops_spatial.global_max_pool, ops_spatial.global_average_pool):
            v = fastnet.Variable(x)
            with fastnet.GradientTape() as tape:
                y = fn(v)
            g = tape.gradient(y, v, output_gradients=rand(y.shape, seed=63)).numpy()
            v64 = fastnet.Variable(x.astype(np.float64))
            with fastnet.GradientTape() as tape:
                y64 = fn(v64)
            g64 = tape.gradient(y64, v64, output_gradients=rand(y.shape, seed=63).astype(np.float64))
            assert_close(y.numpy(), y64.numpy(), atol=1e-5)
            assert_close(g, g64.numpy(), atol=1e-6)
        up = ops_spatial.upsampling(x, (2, 3)).numpy()
        assert_close(up, ref_upsample(x, (2, 3)), atol=0)
    finally:
        fastnet.config.set_num_threads(before)


@pytest.mark.parametrize("fn", [ops_spatial.global_max_pool, ops_spatial.global_average_pool])
def test_global_pool_second_order_under_nested_tapes(fn):
    x0 = rand((2, 3, 4, 5), seed=71)
    w = rand((2, 3, 4, 5), seed=72)
    res = []
    for dt in (np.float32, np.float64):
        x = fastnet.Variable(x0.astype(dt))
        with fastnet.GradientTape() as outer:
            with fastnet.GradientTape() as inner:
                y = ops.sum(fn(x * x) ** 2)
            gx = inner.gradient(y, x)
            z = ops.sum(gx * w.astype(dt))
        res.append(outer.gradient(z, x).numpy())
    assert_close(res[0], res[1], atol=1e-4, rtol=1e-4)


def test_overlapping_average_backward_paths_agree(isa):
    # Overlapping average windows: per-image scatter when N >= threads, else the input-row
    # gather; both must give the same dx.
    x = rand((2, 9, 8, 7, 19), seed=81)
    y, _ = P.pool_forward(x, "avg", [3, 2, 3], [2, 1, 2], "same")
    dy = rand(y.shape, seed=82)
    before = fastnet.config.get_num_threads()
    out = []
    try:
        for nt in (1, 4):
            fastnet.config.set_num_threads(nt)
            out.append(P.pool_backward(dy, None, list(x.shape), "avg", [3, 2, 3], [2, 1, 2], "same"))
    finally:
        fastnet.config.set_num_threads(before)
    assert_close(out[0], out[1], atol=1e-6)
    v = fastnet.Variable(x)
    with fastnet.GradientTape() as tape:
        yy = ops.average_pool(v, (3, 2, 3), (2, 1, 2), "same")
    got = tape.gradient(yy, v, output_gradients=dy).numpy()
    v64 = fastnet.Variable(x.astype(np.float64))
    with fastnet.GradientTape() as tape:
        yy = ops.average_pool(v64, (3, 2, 3), (2, 1, 2), "same")
    assert_close(got, tape.gradient(yy, v64, output_gradients=dy.astype(np.float64)).numpy(),
                 atol=1e-6)


def test_max_pool_backward_rejects_non_array_argmax():
    # Regression (fuzz, issue 6): a non-array `arg` (None with kind='max') was reinterpreted
    # as a numpy array and segfaulted; it must raise TypeError.
    x = np.zeros((1, 2, 2, 1), np.float32)
    y, _ = P.pool2d_forward(x, "max", 2, 2, 2, 2, "valid")
    for bad in (None, [0], 3):
        with pytest.raises(TypeError, match="`arg` must be a numpy array"):
            P.pool2d_backward(y, bad, [1, 2, 2, 1], "max", 2, 2, 2, 2, "valid")
