"""2-D pooling kernels (csrc/pool), every ISA level, against plain loops (TensorFlow's
padding rules) and finite differences."""

import numpy as np
import pytest
from oracle import assert_close, check_gradients, rand

import fastnet
from fastnet import ops
from fastnet.kernels import pool as P


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


def test_max_pool_backward_rejects_non_array_argmax():
    # Regression (fuzz, issue 6): a non-array `arg` (None with kind='max') was reinterpreted
    # as a numpy array and segfaulted; it must raise TypeError.
    x = np.zeros((1, 2, 2, 1), np.float32)
    y, _ = P.pool2d_forward(x, "max", 2, 2, 2, 2, "valid")
    for bad in (None, [0], 3):
        with pytest.raises(TypeError, match="`arg` must be a numpy array"):
            P.pool2d_backward(y, bad, [1, 2, 2, 1], "max", 2, 2, 2, 2, "valid")
