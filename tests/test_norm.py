"""Batch-norm kernels (csrc/norm), every ISA level, against numpy formulas and finite
differences."""

import numpy as np
import pytest
from oracle import assert_close, check_gradients, rand

import fastnet
from fastnet import ops
from fastnet.kernels import norm as N


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
    y, mean, var = ops.batch_norm_train(x, gamma, beta, 1e-3)
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
            yy, _, _ = ops.batch_norm_train(vs[0], vs[1], vs[2], 1e-3)
        return [g.numpy() for g in tape.gradient(yy, vs, output_gradients=dout.astype(np.float32))]

    check_gradients(grads, lambda a, g, b: ref_bn(a, g, b, 1e-3), [x, gamma, beta],
                    rand(shape, seed=4), atol=2e-4, rtol=2e-3, eps=1e-4)


def test_batch_norm_inference_and_precision(isa):
    x = rand((64, 16, 16, 8), seed=5) + 1000.0  # large offset: sums kept in double
    y, mean, var = ops.batch_norm_train(x, None, None, 1e-3)
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


def test_batch_norm_gamma_that_is_not_an_array_raises_type_error():
    # Regression (fuzz, issue 6): a list or float gamma/beta was reinterpreted as an array
    # and segfaulted.
    x = np.ones((2, 3), np.float32)
    with pytest.raises(TypeError, match="`gamma` must be a numpy array"):
        N.batch_norm_train(x, [1.0, 1.0, 1.0], None, 1e-3)
    with pytest.raises(TypeError, match="`gamma` must be a numpy array"):
        N.batch_norm_backward(x, x, np.zeros(3, np.float32), np.ones(3, np.float32), 2.0, 1e-3)
