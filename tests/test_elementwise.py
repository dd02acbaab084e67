"""Elementwise kernels (csrc/elementwise) on float32, every ISA level, against float64
numpy formulas and finite differences."""

import numpy as np
import pytest
from oracle import assert_close, check_gradients, rand

import fastnet
from fastnet import ops
from fastnet.kernels import elementwise as K

REFS = {
    "relu": lambda x: np.maximum(x, 0),
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "tanh": np.tanh,
}
OPS = {"relu": ops.relu, "sigmoid": ops.sigmoid, "tanh": ops.tanh}


def tape_grad(fn):
    def grads(x, dout):
        v = fastnet.Variable(x.astype(np.float32))
        with fastnet.GradientTape() as tape:
            y = fn(v)
        return tape.gradient(y, v, output_gradients=dout.astype(np.float32)).numpy()

    return grads


@pytest.mark.parametrize("name", sorted(REFS))
# (3, 33) and smaller run numpy (cheaper below 4096 elements); the others the kernels.
@pytest.mark.parametrize("shape", [(0,), (1,), (3, 33), (4100,), (2, 5, 417)])
def test_activation_forward_and_gradient(isa, name, shape):
    x = rand(shape, seed=1, low=-6, high=6)
    y = OPS[name](x)
    assert y.dtype == "float32"
    assert_close(y.numpy(), REFS[name](x.astype(np.float64)), atol=1e-6, rtol=1e-6)
    if x.size:
        x = x + np.sign(x) * 0.01  # keep relu's kink away from finite-difference steps
        check_gradients(tape_grad(OPS[name]), REFS[name], [x], rand(shape, seed=2),
                        atol=1e-5, rtol=1e-4)


def test_extreme_inputs(isa):
    x = np.array([-1e4, -100, -88.8, -1e-6, 0, 1e-6, 88.8, 100, 1e4], np.float32)
    x = np.tile(x, 500)  # large enough for the kernel path
    sig = ops.sigmoid(x).numpy()
    assert np.all(np.isfinite(sig)) and sig[0] == 0 and sig[-1] == 1
    th = ops.tanh(x).numpy()
    assert th[0] == -1 and th[-1] == 1 and abs(th[3] + 1e-6) < 1e-12
    big = rand((4, 10), seed=3) * 1e4
    sm = ops.softmax(big).numpy()
    assert np.all(np.isfinite(sm))
    assert_close(sm.sum(-1), np.ones(4), atol=1e-5)


@pytest.mark.parametrize("shape", [(1, 1), (4, 10), (17, 257), (2, 300, 10)])
def test_softmax_log_softmax(isa, shape):
    x = rand(shape, seed=4, low=-5, high=5)
    x64 = x.astype(np.float64)
    e = np.exp(x64 - x64.max(-1, keepdims=True))
    assert_close(ops.softmax(x).numpy(), e / e.sum(-1, keepdims=True), atol=1e-6)
    assert_close(ops.log_softmax(x).numpy(),
                 x64 - np.log(np.exp(x64).sum(-1, keepdims=True)), atol=1e-5)
    ref = lambda v: np.exp(v) / np.exp(v).sum(-1, keepdims=True)  # noqa: E731
    check_gradients(tape_grad(ops.softmax), ref, [x], rand(shape, seed=5), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("n,c", [(1, 2), (5, 10), (64, 1000)])
def test_fused_sparse_cross_entropy(isa, n, c):
    logits = rand((n, c), seed=6, low=-10, high=10)
    labels = np.random.default_rng(7).integers(0, c, n)
    x64 = logits.astype(np.float64)
    lse = np.log(np.exp(x64 - x64.max(1, keepdims=True)).sum(1)) + x64.max(1)
    want = lse - x64[np.arange(n), labels]
    v = fastnet.Variable(logits)
    with fastnet.GradientTape() as tape:
        loss = ops.sparse_categorical_crossentropy(labels, v, from_logits=True)
        total = ops.sum(loss)
    assert_close(loss.numpy(), want, atol=1e-5, rtol=1e-5)
    sm = np.exp(x64 - lse[:, None])
    sm[np.arange(n), labels] -= 1
    assert_close(tape.gradient(total, v).numpy(), sm, atol=1e-6)


def test_kernel_argument_checks():
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match="unknown activation"):
        K.activation_forward("nope", x, x.copy())
    with pytest.raises(TypeError, match="float32"):
        K.softmax(x.astype(np.float64), x)
    with pytest.raises(ValueError, match="overlaps"):
        K.softmax(x, x)
    with pytest.raises(ValueError, match="out of range"):
        K.sparse_softmax_cross_entropy(x, np.array([0, 3], np.int32), np.zeros(2, np.float32))
    with pytest.raises(TypeError, match="int32"):
        K.sparse_softmax_cross_entropy(x, np.array([0, 1]), np.zeros(2, np.float32))
    with pytest.raises(ValueError, match="must have shape"):
        K.activation_forward("relu", x, np.zeros((3, 2), np.float32))


def test_cross_entropy_grad_that_is_not_an_array_raises_type_error():
    # Regression (fuzz, issue 6): a non-array `grad` was reinterpreted as an array.
    logits = np.zeros((2, 3), np.float32)
    with pytest.raises(TypeError, match="`grad` must be a numpy array"):
        K.sparse_softmax_cross_entropy(logits, np.zeros(2, np.int32), np.empty(2, np.float32),
                                       "abc")


def test_backward_output_partially_overlapping_an_input_raises():
    # Regression (fuzz, issue 6): softmax_backward/activation_backward/activation_forward
    # accepted an `out` that partially overlaps an input and silently returned wrong values
    # (rows already overwritten were read back). Exactly the input (in place) stays allowed.
    buf = np.linspace(-1, 1, 9, dtype=np.float32)
    y, dy, out = buf[:4].reshape(2, 2), buf[4:8].reshape(2, 2), buf[5:9].reshape(2, 2)
    K.softmax(np.array([[0.1, 0.2], [0.3, -1.0]], np.float32), y)
    with pytest.raises(ValueError, match="partially overlaps"):
        K.softmax_backward(y, dy, out)
    with pytest.raises(ValueError, match="partially overlaps"):
        K.activation_backward("tanh", y, dy, out)
    with pytest.raises(ValueError, match="partially overlaps"):
        K.activation_forward("relu", dy, out)
    want = y * (dy - (y * dy).sum(-1, keepdims=True))
    K.softmax_backward(y, dy, dy)  # exactly in place
    assert_close(dy, want, atol=1e-6)
