"""ops.pad's gradient for every mode that copies input elements (reflect, symmetric,
edge, wrap) and constant, against finite differences of numpy's np.pad; second order
through a nested tape; the other modes refuse by name."""

import numpy as np
import pytest
from oracle import check_forward, check_gradients, randn

import fastnet
from fastnet import ops

WIDTHS = [((2, 1), (1, 3)), ((0, 3), (2, 0)), 2]


def grads_of(fn, inputs, dout):
    vs = [fastnet.Variable(a) for a in inputs]
    with fastnet.GradientTape() as tape:
        loss = ops.sum(ops.multiply(fn(*vs), dout))
    return [g.numpy() for g in tape.gradient(loss, vs)]


@pytest.mark.parametrize("mode", ["reflect", "symmetric", "edge", "wrap", "constant"])
@pytest.mark.parametrize("width", WIDTHS, ids=["asym", "one-sided", "int"])
def test_pad_forward_and_gradient(mode, width):
    x = randn((4, 5), seed=1)

    def ref(a):
        return np.pad(a, width, mode=mode)

    check_forward(lambda a: ops.pad(a, width, mode=mode).numpy(), ref, [x], atol=0)
    dout = randn(ref(x).shape, seed=2)
    check_gradients(lambda a, d: grads_of(lambda v: ops.pad(v, width, mode=mode), [a], d),
                    ref, [x], dout, atol=1e-4, rtol=1e-4)


def test_pad_reflect_second_order():
    x = fastnet.Variable(randn((3, 4), seed=3))
    w = randn((5, 8), seed=4)
    with fastnet.GradientTape() as outer:
        with fastnet.GradientTape() as inner:
            y = ops.sum(ops.pad(x, ((1, 1), (2, 2)), mode="reflect") ** 2 * w)
        g = inner.gradient(y, x)
        z = ops.sum(g * g)
    h = outer.gradient(z, x).numpy()
    # y = sum_j w_j p_j^2 with p = P x (P the reflect gather), so g = 2 P^T (w * P x) and
    # z's gradient is 2 (2 P^T diag(w) P)^T g = 8 P^T diag(w) P P^T diag(w) P x
    n = 12
    P = np.pad(np.arange(n).reshape(3, 4), ((1, 1), (2, 2)), mode="reflect").ravel()
    M = np.zeros((P.size, n))
    M[np.arange(P.size), P] = 1.0
    A = M.T @ np.diag(w.ravel()) @ M
    want = 8 * A @ A @ x.numpy().ravel()
    np.testing.assert_allclose(h.ravel(), want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("mode", ["mean", "maximum", "linear_ramp"])
def test_other_modes_refuse_the_gradient_by_name(mode):
    x = fastnet.Variable(randn((3, 3), seed=5))
    with fastnet.GradientTape() as tape:
        y = ops.sum(ops.pad(x, 1, mode=mode))
    with pytest.raises(NotImplementedError, match=f"mode='{mode}'"):
        tape.gradient(y, x)
