"""The fused convolution + bias + ReLU (conv_forward(..., activation='relu'),
ops.spatial.conv_bias_relu, Conv layers with activation='relu'): the same values as the
unfused path and a float64 numpy reference, forward and gradients, on every ISA level,
every kernel path (Winograd, direct tiles, im2col + GEMM, pointwise), any thread count."""

import itertools

import numpy as np
import pytest
from oracle import assert_close
from test_conv import _geometry, _tap_slices, ref_conv

import fastnet
from fastnet import layers, ops
from fastnet.backend.tape import GradientTape
from fastnet.kernels import conv as K
from fastnet.ops import spatial

# x shape, kernel shape, strides, padding: each reaches a different path of conv_forward
CASES = [
    ((2, 9, 9, 64), (3, 3, 64, 64), 1, "same"),      # Winograd F(2x2, 3x3)
    ((2, 12, 11, 16), (3, 3, 16, 32), 1, "valid"),   # direct tiles
    ((2, 10, 10, 3), (3, 3, 3, 5), 2, "same"),       # strided, few channels
    ((3, 7, 6, 8), (1, 1, 8, 24), 1, "valid"),       # pointwise: a plain GEMM
    ((2, 17, 4), (5, 4, 6), 1, "same"),              # 1-D
    ((1, 5, 6, 4, 3), (2, 3, 2, 3, 4), 1, "valid"),  # 3-D
]


def _data(xs, ws, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(xs).astype(np.float32)
    w = (rng.standard_normal(ws) * 0.3).astype(np.float32)
    b = rng.standard_normal(ws[-1]).astype(np.float32)
    return x, w, b


@pytest.mark.parametrize("xs,ws,s,p", CASES)
def test_kernel_relu_is_relu_of_the_convolution(isa, xs, ws, s, p):
    x, w, b = _data(xs, ws)
    y = K.conv_forward(x, w, b, s, p, activation="relu")
    plain = K.conv_forward(x, w, b, s, p)
    np.testing.assert_array_equal(y, np.maximum(plain, 0))  # same bits, not just close
    assert_close(y, np.maximum(ref_conv(x, w, b, s, p), 0), atol=1e-4, rtol=1e-4)
    assert (y == 0).any() and (y > 0).any()  # the data exercises both sides of the ReLU
    np.testing.assert_array_equal(K.conv_forward(x, w, None, s, p, activation="relu"),
                                  np.maximum(K.conv_forward(x, w, None, s, p), 0))
    np.testing.assert_array_equal(K.conv_forward(x, w, b, s, p, activation="linear"), plain)


def test_kernel_relu_keeps_nan():
    x, w, b = _data((1, 6, 6, 32), (3, 3, 32, 32))
    x[0, 2, 3, 0] = np.nan
    y = K.conv_forward(x, w, b, 1, "same", activation="relu")
    np.testing.assert_array_equal(np.isnan(y), np.isnan(K.conv_forward(x, w, b, 1, "same")))


@pytest.mark.parametrize("threads", [1, 2])
def test_kernel_relu_bits_do_not_depend_on_threads_in_determinism_mode(threads):
    x, w, b = _data((8, 10, 10, 64), (3, 3, 64, 64), seed=3)
    before = fastnet.config.get_num_threads()
    fastnet.config.enable_determinism()
    try:
        fastnet.config.set_num_threads(1)
        ref = K.conv_forward(x, w, b, 1, "same", activation="relu")
        fastnet.config.set_num_threads(threads)
        np.testing.assert_array_equal(K.conv_forward(x, w, b, 1, "same", activation="relu"), ref)
    finally:
        fastnet.config.disable_determinism()
        fastnet.config.set_num_threads(before)


def test_relu_backward_from_output():
    rng = np.random.default_rng(1)
    y = np.maximum(rng.standard_normal((3, 70000)), 0).astype(np.float32)  # threaded size
    dy = rng.standard_normal(y.shape).astype(np.float32)
    np.testing.assert_array_equal(K.relu_backward_from_output(y, dy), np.where(y > 0, dy, 0))


def test_bad_arguments_raise_naming_the_op():
    x, w, b = _data((1, 5, 5, 2), (3, 3, 2, 4))
    with pytest.raises(ValueError, match="conv_forward.*activation.*tanh"):
        K.conv_forward(x, w, b, activation="tanh")
    with pytest.raises(TypeError, match="conv_forward.*activation"):
        K.conv_forward(x, w, b, activation=3)
    y = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match="relu_backward_from_output.*dy.*shape"):
        K.relu_backward_from_output(y, np.zeros((3, 2), np.float32))
    with pytest.raises(TypeError, match="relu_backward_from_output.*float32"):
        K.relu_backward_from_output(y, np.zeros((2, 3), np.float64))


def _grads(f, x, w, b, dy):
    ts = [ops.convert_to_tensor(v) for v in (x, w, b)]
    with GradientTape() as t:
        t.watch(ts)
        loss = ops.sum(f(*ts) * ops.convert_to_tensor(dy))
    return [g.numpy() for g in t.gradient(loss, ts)]


@pytest.mark.parametrize("xs,ws,s,p", CASES[:4])
def test_op_gradients_match_the_unfused_op_and_numpy(xs, ws, s, p):
    x, w, b = _data(xs, ws, seed=5)
    y = spatial.conv_bias_relu(x, w, b, s, p).numpy()
    dy = np.random.default_rng(6).standard_normal(y.shape).astype(np.float32)
    fused = _grads(lambda a, k, c: spatial.conv_bias_relu(a, k, c, s, p), x, w, b, dy)
    plain = _grads(lambda a, k, c: ops.relu(spatial.conv_bias(a, k, c, s, p)), x, w, b, dy)
    for f, u in zip(fused, plain):
        np.testing.assert_array_equal(f, u)
    # numpy: the masked gradient into the reference convolution's adjoint, by linearity
    mask = ref_conv(x, w, b, s, p) > 0
    g = np.where(mask, dy, 0).astype(np.float64)
    assert_close(fused[2], g.reshape(-1, g.shape[-1]).sum(0), atol=1e-3, rtol=1e-4)
    strides, dil, outs, pads = _geometry(x.shape, w.shape[:-2], s, p, 1)
    xp = np.pad(x.astype(np.float64), [(0, 0)] + pads + [(0, 0)])
    ref_dw = np.zeros(w.shape)
    for offs in itertools.product(*[range(k) for k in w.shape[:-2]]):
        xs = xp[(slice(None), *_tap_slices(offs, dil, outs, strides), slice(None))]
        ref_dw[offs] = xs.reshape(-1, w.shape[-2]).T @ g.reshape(-1, w.shape[-1])
    assert_close(fused[1], ref_dw, atol=2e-3, rtol=1e-4)


@pytest.mark.parametrize("nested", [True, False])
def test_second_order_through_the_fused_relu(nested):
    # nested: both tapes record the forward (the op takes its unfused path); not nested:
    # only the inner tape records it and the outer one records its backward, so the
    # fused backward must build its gradient from differentiable ops.
    x, w, b = _data((1, 6, 6, 32), (3, 3, 32, 32), seed=7)
    dy = np.random.default_rng(8).standard_normal((1, 6, 6, 32)).astype(np.float32)

    def hvp(f):
        ts = [ops.convert_to_tensor(v) for v in (x, w, b)]
        with GradientTape() as outer:
            outer.watch(ts)
            with GradientTape() as inner:
                inner.watch(ts)
                if nested:
                    loss = ops.sum(f(*ts) * ops.convert_to_tensor(dy))
        if not nested:
            with GradientTape() as inner:
                inner.watch(ts)
                loss = ops.sum(f(*ts) * ops.convert_to_tensor(dy))
            with GradientTape() as outer:
                outer.watch(ts)
                gx = inner.gradient(loss, ts)[0]
                s = ops.sum(gx * gx)
        else:
            with outer:
                gx = inner.gradient(loss, ts)[0]
                s = ops.sum(gx * gx)
        return [None if g is None else g.numpy() for g in outer.gradient(s, ts)]

    fused = hvp(lambda a, k, c: spatial.conv_bias_relu(a, k, c, 1, "same"))
    plain = hvp(lambda a, k, c: ops.relu(spatial.conv_bias(a, k, c, 1, "same")))
    assert fused[1] is not None and np.abs(fused[1]).max() > 0  # d(|dx|^2)/dw
    for f, u in zip(fused, plain):
        assert (f is None) == (u is None)
        if f is not None:
            assert_close(f, u, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("layer_cls,xs", [(layers.Conv2D, (2, 9, 9, 64)), (layers.Conv1D, (2, 11, 8)),
                                          (layers.Conv3D, (1, 5, 5, 5, 4))])
def test_conv_layer_with_relu_uses_the_fused_op(monkeypatch, layer_cls, xs):
    calls = []
    real = spatial.conv_bias_relu
    monkeypatch.setattr(spatial, "conv_bias_relu", lambda *a, **k: calls.append(1) or real(*a, **k))
    x = np.random.default_rng(2).standard_normal(xs).astype(np.float32)
    fused = layer_cls(16, 3, padding="same", activation="relu")
    y = fused(x).numpy()
    assert calls, "the layer did not call the fused kernel"
    plain = layer_cls(16, 3, padding="same")
    plain.build(x.shape)
    plain.set_weights(fused.get_weights())
    np.testing.assert_array_equal(y, np.maximum(plain(x).numpy(), 0))
    # other activations keep the separate activation op
    calls.clear()
    layer_cls(4, 3, activation="tanh")(x)
    assert not calls


def test_conv2d_relu_trains_like_the_unfused_model():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 10, 10, 3)).astype(np.float32)
    y = rng.integers(0, 4, 8)

    def model(fused):
        act = "relu" if fused else None
        inp = fastnet.Input((10, 10, 3))
        h = layers.Conv2D(32, 3, activation=act, padding="same")(inp)
        if not fused:
            h = layers.Activation("relu")(h)
        h = layers.Conv2D(32, 3, activation=act)(h)
        if not fused:
            h = layers.Activation("relu")(h)
        out = layers.Dense(4)(layers.GlobalAveragePooling2D()(h))
        m = fastnet.Model(inp, out)
        m.compile(optimizer="sgd",
                  loss=fastnet.losses.SparseCategoricalCrossentropy(from_logits=True))
        return m

    a, b = model(True), model(False)
    b.set_weights(a.get_weights())
    for _ in range(3):
        la, lb = a.train_on_batch(x, y), b.train_on_batch(x, y)
        assert_close(np.asarray(la), np.asarray(lb), atol=1e-6, rtol=1e-6)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        assert_close(wa, wb, atol=1e-6, rtol=1e-6)


def test_a_tiny_relu_conv_step_never_wakes_a_worker():
    conv = fastnet.Sequential([fastnet.Input((4, 4, 1)), layers.Conv2D(2, 3, padding="same",
                                                                      activation="relu"),
                               layers.Flatten(), layers.Dense(3)])
    conv.compile(optimizer="sgd", loss="mse")
    img = np.random.default_rng(3).random((2, 4, 4, 1), dtype=np.float32)
    before = fastnet.config.get_num_threads()
    fastnet.config.set_num_threads(2)
    try:
        conv.train_on_batch(img, np.zeros((2, 3), np.float32))
        fastnet.config.thread_stats(reset=True)
        for _ in range(3):
            conv.train_on_batch(img, np.zeros((2, 3), np.float32))
        stats = fastnet.config.thread_stats()
    finally:
        fastnet.config.set_num_threads(before)
    assert stats["parallel_regions"] == 0 and stats["wakeups"] == 0, stats
