"""The array methods and operators of eager tensors that Keras programs use (JAX and
torch arrays have them; Keras's symbolic tensors have the operators): each is a
differentiable op with numpy's signature, checked against numpy."""

import numpy as np
import pytest

import fastnet
from fastnet import ops

X = np.arange(24, dtype=np.float32).reshape(2, 3, 4) - 11.5


@pytest.mark.parametrize("call,ref", [
    (lambda t: t.reshape(4, 6), lambda a: a.reshape(4, 6)),
    (lambda t: t.reshape((3, -1)), lambda a: a.reshape((3, -1))),
    (lambda t: t.transpose(), lambda a: a.transpose()),
    (lambda t: t.transpose(2, 0, 1), lambda a: a.transpose(2, 0, 1)),
    (lambda t: t.transpose((1, 0, 2)), lambda a: a.transpose((1, 0, 2))),
    (lambda t: t.flatten(), lambda a: a.flatten()),
    (lambda t: t.ravel(), lambda a: a.ravel()),
    (lambda t: t.reshape(2, 1, 12).squeeze(1), lambda a: a.reshape(2, 1, 12).squeeze(1)),
    (lambda t: t.sum(), lambda a: a.sum()),
    (lambda t: t.sum(axis=1, keepdims=True), lambda a: a.sum(axis=1, keepdims=True)),
    (lambda t: t.mean((0, 2)), lambda a: a.mean((0, 2))),
    (lambda t: t.max(-1), lambda a: a.max(-1)),
    (lambda t: t.min(axis=0), lambda a: a.min(axis=0)),
    (lambda t: (t / 10).prod(1), lambda a: (a / 10).prod(1)),
    (lambda t: t.clip(-3, 5), lambda a: a.clip(-3, 5)),
    (lambda t: t.argmax(-1), lambda a: a.argmax(-1)),
    (lambda t: t.argmin(axis=1, keepdims=True), lambda a: a.argmin(axis=1, keepdims=True)),
])
def test_methods_match_numpy(call, ref):
    got = call(ops.convert_to_tensor(X))
    want = ref(X)
    assert isinstance(got, fastnet.Tensor)
    assert got.shape == want.shape
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-6)


def test_item_tolist_and_round():
    t = ops.convert_to_tensor(X)
    assert t.tolist() == X.tolist()
    assert t.sum().item() == pytest.approx(float(X.sum()))
    assert isinstance(t[0, 0, 0].item(), float)
    np.testing.assert_array_equal(round(ops.convert_to_tensor([1.26, -2.5])).numpy(), np.round([1.26, -2.5]))


def test_methods_are_differentiable():
    v = fastnet.Variable(X)
    w = np.linspace(-1, 1, 24, dtype=np.float32).reshape(4, 6)
    with fastnet.GradientTape() as tape:
        y = ((v.reshape(4, 6) * w).transpose().sum(axis=0) ** 2).mean()
    g = tape.gradient(y, v).numpy()
    # d/dX mean_j (sum_i X'_ij w_ij)^2 with X' = X.reshape(4, 6), sum over the columns' axis
    s = (X.reshape(4, 6) * w).sum(axis=1)
    want = (2 * s[:, None] * w / 4).reshape(X.shape)
    np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-6)


def test_bitwise_and_logical_operators():
    a = np.array([True, False, True, False])
    b = np.array([True, True, False, False])
    ta, tb = ops.convert_to_tensor(a), ops.convert_to_tensor(b)
    for got, want in [(ta & tb, a & b), (ta | tb, a | b), (ta ^ tb, a ^ b), (~ta, ~a),
                      (ta & b, a & b), (a | tb, a | b), (True ^ ta, True ^ a)]:
        assert got.dtype == "bool"
        np.testing.assert_array_equal(got.numpy(), want)
    i = np.array([6, 3, -1], np.int32)
    ti = ops.convert_to_tensor(i)
    np.testing.assert_array_equal((ti & 3).numpy(), i & 3)
    np.testing.assert_array_equal((5 | ti).numpy(), 5 | i)
    np.testing.assert_array_equal((~ti).numpy(), ~i)


def test_reflected_floor_divide_and_mod():
    t = ops.convert_to_tensor(np.array([2.0, 3.0, -4.0], np.float32))
    np.testing.assert_array_equal((7 // t).numpy(), 7 // np.array([2.0, 3.0, -4.0]))
    np.testing.assert_array_equal((7 % t).numpy(), 7 % np.array([2.0, 3.0, -4.0]))


def test_symbolic_tensors_use_the_logical_ops_as_keras():
    inp = fastnet.Input((3,))
    m = (inp > 0) & ~(inp > 2) | (inp < -5)
    model = fastnet.Model(inp, ops.cast(m ^ (inp > 10), "float32"))
    x = np.array([[1.0, 3.0, -6.0], [-1.0, 0.5, 11.0]], np.float32)
    want = ((x > 0) & ~(x > 2) | (x < -5)) ^ (x > 10)
    np.testing.assert_array_equal(model(x).numpy(), want.astype(np.float32))
    reflected = fastnet.Model(inp, 7 // (inp + 20) + 9 % (inp + 20))
    np.testing.assert_array_equal(reflected(x).numpy(), 7 // (x + 20) + 9 % (x + 20))
