"""Batch-norm kernels (csrc/norm), every ISA level, against numpy formulas and finite
differences."""

import numpy as np
import pytest
from oracle import assert_close, check_gradients, rand

import fastnet
from fastnet import ops
from fastnet.kernels import norm as N
from fastnet.ops import nn as ops_nn


def ref_bn(x, gamma, beta, eps):
    axes = tuple(range(x.ndim - 1))
    m = x.mean(axis=axes)
    v = x.var(axis=axes)
    return (x - m) / np.sqrt(v + eps) * gamma + beta


@pytest.mark.parametrize("shape", [(1, 1), (5, 3), (4, 6, 7, 5), (2, 3, 2, 2, 4)])
def test_batch_norm_train_forward_and_gradients(isa, shape):
    x = rand(shape, seed=1, low=-2, high=3)
    c = shape[-1]
    gamma, beta = rand((c,), seed=2, low=0.5, high=1.5), rand((c,), seed=3)
    y, mean, var = ops_nn.batch_norm_train(x, gamma, beta, 1e-3)
    x64 = x.astype(np.float64)
    assert_close(y.numpy(), ref_bn(x64, gamma, beta, 1e-3), atol=1e-5, rtol=1e-5)
    axes = tuple(range(x.ndim - 1))
    assert_close(mean.numpy(), x64.mean(axis=axes), atol=1e-6)
    assert_close(var.numpy(), x64.var(axis=axes), atol=1e-6)
    if np.prod(shape[:-1]) < 2:
        return

    def grads(xx, gg, bb, dout):
        vs = [fastnet.Variable(a.astype(np.float32)) for a in (xx, gg, bb)]
        with fastnet.GradientTape() as tape:
            yy, _, _ = ops_nn.batch_norm_train(vs[0], vs[1], vs[2], 1e-3)
        return [g.numpy() for g in tape.gradient(yy, vs, output_gradients=dout.astype(np.float32))]

    check_gradients(grads, lambda a, g, b: ref_bn(a, g, b, 1e-3), [x, gamma, beta],
                    rand(shape, seed=4), atol=2e-4, rtol=2e-3, eps=1e-4)


def test_batch_norm_inference_and_precision(isa):
    x = rand((64, 16, 16, 8), seed=5) + 1000.0  # large offset: sums kept in double
    y, mean, var = ops_nn.batch_norm_train(x, None, None, 1e-3)
    assert_close(mean.numpy(), x.astype(np.float64).mean(axis=(0, 1, 2)), atol=1e-3)
    assert_close(var.numpy(), x.astype(np.float64).var(axis=(0, 1, 2)), atol=1e-3)
    m, v = rand((8,), seed=6), rand((8,), seed=7, low=0.5, high=2)
    got = N.batch_norm_inference(x[:2], m, v, None, None, 1e-3)
    assert_close(got, (x[:2].astype(np.float64) - m) / np.sqrt(v + 1e-3), atol=1e-3, rtol=1e-5)


def test_layer_uses_kernel_and_updates_moving_stats():
    bn = fastnet.layers.BatchNormalization(momentum=0.5)
    x = rand((10, 4), seed=8, low=1, high=3)
    bn(x, training=True)
    assert_close(bn.moving_mean.numpy(), 0.5 * x.astype(np.float64).mean(0), atol=1e-6)
    assert_close(bn.moving_variance.numpy(), 0.5 + 0.5 * x.astype(np.float64).var(0), atol=1e-6)


def test_norm_kernel_argument_checks():
    x = np.zeros((3, 4), np.float32)
    with pytest.raises(ValueError, match="gamma.*4 channels"):
        N.batch_norm_train(x, np.ones(3, np.float32), None, 1e-3)
    with pytest.raises(ValueError, match="epsilon"):
        N.batch_norm_train(x, None, None, 0.0)
    with pytest.raises(ValueError, match="2-D"):
        N.batch_norm_train(np.zeros(4, np.float32), None, None, 1e-3)
    with pytest.raises(ValueError, match="differ"):
        N.batch_norm_backward(x, np.zeros((2, 4), np.float32), np.zeros(4, np.float32),
                              np.ones(4, np.float32), None, 1e-3)


# ---- layer normalization over the last axis ---------------------------------------------------

def ref_ln(x, gamma, beta, eps):
    m = x.mean(axis=-1, keepdims=True)
    v = x.var(axis=-1, keepdims=True)
    y = (x - m) / np.sqrt(v + eps)
    if gamma is not None:
        y = y * gamma
    if beta is not None:
        y = y + beta
    return y


@pytest.mark.parametrize("shape", [(1, 1), (5, 3), (4, 17), (2, 3, 37), (3, 70), (2, 2, 2, 5)])
@pytest.mark.parametrize("affine", ["both", "gamma", "beta", "none"])
def test_layer_norm_forward_and_gradients(isa, shape, affine):
    x = rand(shape, seed=41, low=-2, high=3)
    c = shape[-1]
    gamma = rand((c,), seed=42, low=0.5, high=1.5) if affine in ("both", "gamma") else None
    beta = rand((c,), seed=43) if affine in ("both", "beta") else None
    y = ops_nn.layer_norm(x, gamma, beta, 1e-3)
    assert_close(y.numpy(), ref_ln(x.astype(np.float64), gamma, beta, 1e-3), atol=2e-5, rtol=1e-5)
    params = [p for p in (gamma, beta) if p is not None]

    def grads(xx, *rest):
        *ps, dout = rest
        vs = [fastnet.Variable(a.astype(np.float32)) for a in (xx, *ps)]
        it = iter(vs[1:])
        g = next(it) if gamma is not None else None
        b = next(it) if beta is not None else None
        with fastnet.GradientTape() as tape:
            yy = ops_nn.layer_norm(vs[0], g, b, 1e-3)
        return [t.numpy() for t in tape.gradient(yy, vs, output_gradients=dout.astype(np.float32))]

    def ref(xx, *ps):
        it = iter(ps)
        g = next(it) if gamma is not None else None
        b = next(it) if beta is not None else None
        return ref_ln(xx, g, b, 1e-3)

    check_gradients(grads, ref, [x, *params], rand(shape, seed=44), atol=3e-4, rtol=2e-3,
                    eps=1e-3)


def test_layer_norm_many_rows_and_layer(isa):
    # many rows: dgamma/dbeta summed across row blocks and threads
    x = rand((3000, 24), seed=45, low=-1, high=2) + 50.0
    layer = fastnet.layers.LayerNormalization()
    v = fastnet.Variable(x)
    dout = rand(x.shape, seed=46)
    with fastnet.GradientTape() as tape:
        y = layer(v)
    gx, gg, gb = tape.gradient(y, [v, layer.gamma, layer.beta], output_gradients=dout)
    x64 = x.astype(np.float64)
    xh = ref_ln(x64, None, None, 1e-3)
    assert_close(y.numpy(), xh, atol=5e-5)
    assert_close(gb.numpy(), dout.astype(np.float64).sum(0), atol=1e-3, rtol=1e-5)
    assert_close(gg.numpy(), (dout * xh).sum(0), atol=1e-3, rtol=1e-5)
    # float64 inputs take the composed-op path and agree
    layer64 = fastnet.layers.LayerNormalization()
    assert_close(layer64(x64[:4]).numpy(), xh[:4], atol=1e-5)
    # rms_scaling / other axes keep the composed path
    assert fastnet.layers.LayerNormalization(axis=1)(x[:, :, None]).shape == (3000, 24, 1)


def test_layer_norm_kernel_argument_checks():
    x = np.zeros((3, 4), np.float32)
    with pytest.raises(ValueError, match="gamma.*4 channels"):
        N.layer_norm_forward(x, np.ones(3, np.float32), None, 1e-3)
    with pytest.raises(ValueError, match="beta.*4 channels"):
        N.layer_norm_forward(x, None, np.ones(5, np.float32), 1e-3)
    with pytest.raises(ValueError, match="epsilon"):
        N.layer_norm_forward(x, None, None, -1.0)
    with pytest.raises(TypeError, match=r"`x` must be float32.*float64"):
        N.layer_norm_forward(x.astype(np.float64), None, None, 1e-3)
    y, mean, rstd = N.layer_norm_forward(x, None, None, 1e-3)
    with pytest.raises(ValueError, match=r"`dy` \(2, 4\) and `x` \(3, 4\) differ"):
        N.layer_norm_backward(x, np.zeros((2, 4), np.float32), mean, rstd, None)
    with pytest.raises(ValueError, match=r"`mean` \(2,\).*\(3,\)"):
        N.layer_norm_backward(x, x, mean[:2], rstd, None)
    with pytest.raises(ValueError, match=r"gamma has shape \(3,\), expected \(4,\)"):
        ops_nn.layer_norm(x, np.ones(3, np.float32))


def test_layer_norm_second_order_under_nested_tapes():
    # The kernel's backward falls back to differentiable ops while an outer tape records;
    # compare with the float64 composed-op path.
    x0, g0, b0 = rand((3, 7), seed=47), rand((7,), seed=48, low=0.5, high=1.5), rand((7,), seed=49)
    w = rand((3, 7), seed=50)
    res = []
    for dt in (np.float32, np.float64):
        x, g, b = (fastnet.Variable(a.astype(dt)) for a in (x0, g0, b0))
        with fastnet.GradientTape() as outer:
            with fastnet.GradientTape() as inner:
                y = ops.sum(ops_nn.layer_norm(x, g, b, 1e-3) ** 3)
            gx = inner.gradient(y, x)
            z = ops.sum(gx * w.astype(dt))
        res.append([t.numpy() for t in outer.gradient(z, [x, g])])
    for a, e in zip(*res):
        assert_close(a, e, atol=2e-4, rtol=2e-4)


def test_batch_norm_gamma_that_is_not_an_array_raises_type_error():
    # Regression (fuzz, issue 6): a list or float gamma/beta was reinterpreted as an array
    # and segfaulted.
    x = np.ones((2, 3), np.float32)
    with pytest.raises(TypeError, match="`gamma` must be a numpy array"):
        N.batch_norm_train(x, [1.0, 1.0, 1.0], None, 1e-3)
    with pytest.raises(TypeError, match="`gamma` must be a numpy array"):
        N.batch_norm_backward(x, x, np.zeros(3, np.float32), np.ones(3, np.float32), 2.0, 1e-3)


def test_batch_and_group_norm_axis_checked_in_build():
    """BatchNormalization's axis goes through the same range check as GroupNormalization's
    (an axis past the rank is an error naming the layer, not wrapped modulo the rank); a
    numpy integer axis is an axis."""
    x = rand((4, 3, 6), seed=7)
    for layer in (fastnet.layers.BatchNormalization(axis=3, name="bn3"),
                  fastnet.layers.GroupNormalization(groups=2, axis=3, name="gn3")):
        with pytest.raises(ValueError, match=f"{layer.name}.*axis 3 is out of bounds"):
            layer(x)
    bn = fastnet.layers.BatchNormalization(axis=np.int64(1))
    y = bn(x, training=True).numpy()
    m, v = x.mean(axis=(0, 2), keepdims=True), x.var(axis=(0, 2), keepdims=True)
    assert_close(y, (x - m) / np.sqrt(v + 1e-3), atol=1e-4)
    assert [w.shape for w in bn.weights] == [(3,)] * 4
