"""Tensor, GradientTape and fastnet.ops against numpy and finite differences."""

import numpy as np
import pytest
from oracle import assert_close, numeric_grad, rand

import fastnet
from fastnet import ops
from fastnet.ops import math as ops_math


def grad_of(fn, *arrays):
    """Gradients of sum(fn(*tensors) * dout) for each array, via the tape."""
    ts = [fastnet.Variable(a.astype(np.float64)) for a in arrays]
    with fastnet.GradientTape() as tape:
        out = fn(*ts)
    dout = rand(out.shape, seed=7).astype(np.float64)
    grads = tape.gradient(out, ts, output_gradients=dout)
    return out, grads, dout


UNARY = [
    ("exp", ops.exp, np.exp, (-2, 2)),
    ("log", ops.log, np.log, (0.5, 3)),
    ("sqrt", ops.sqrt, np.sqrt, (0.5, 3)),
    ("square", ops.square, np.square, (-2, 2)),
    ("abs", ops.abs, np.abs, (0.1, 2)),
    ("log1p", ops.log1p, np.log1p, (0, 2)),
    ("relu", ops.relu, lambda x: np.maximum(x, 0), (-2, 2)),
    ("sigmoid", ops.sigmoid, lambda x: 1 / (1 + np.exp(-x)), (-4, 4)),
    ("tanh", ops.tanh, np.tanh, (-3, 3)),
    ("softplus", ops.softplus, lambda x: np.log1p(np.exp(x)), (-3, 3)),
    ("elu", ops.elu, lambda x: np.where(x > 0, x, np.expm1(x)), (-2, 2)),
    ("selu", ops.selu, lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * np.expm1(x)), (-2, 2)),
    ("silu", ops.silu, lambda x: x / (1 + np.exp(-x)), (-3, 3)),
    ("leaky_relu", ops.leaky_relu, lambda x: np.where(x >= 0, x, 0.2 * x), (-2, 2)),
    ("gelu", ops.gelu, lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3))), (-3, 3)),
    ("softmax", ops.softmax, lambda x: np.exp(x) / np.exp(x).sum(-1, keepdims=True), (-2, 2)),
    ("log_softmax", ops.log_softmax, lambda x: x - np.log(np.exp(x).sum(-1, keepdims=True)), (-2, 2)),
]


@pytest.mark.parametrize("name,fn,ref,rng", UNARY, ids=[u[0] for u in UNARY])
@pytest.mark.parametrize("shape", [(3, 5), (1, 1), (2, 3, 4)])
def test_unary_forward_and_gradient(name, fn, ref, rng, shape):
    x = rand(shape, seed=1, low=rng[0], high=rng[1])
    got = fn(fastnet.ops.convert_to_tensor(x))
    assert got.dtype == "float32"
    assert_close(got.numpy(), ref(x.astype(np.float64)), atol=1e-5, rtol=1e-5)
    _, (g,), dout = grad_of(fn, x)
    assert_close(g.numpy(), numeric_grad(ref, [x], dout, 0), atol=1e-5, rtol=1e-4)


BINARY = [
    ("add", ops.add, np.add),
    ("subtract", ops.subtract, np.subtract),
    ("multiply", ops.multiply, np.multiply),
    ("divide", ops.divide, np.divide),
    ("maximum", ops.maximum, np.maximum),
    ("power", ops.power, np.power),
]


@pytest.mark.parametrize("name,fn,ref", BINARY, ids=[b[0] for b in BINARY])
@pytest.mark.parametrize("sa,sb", [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 4), (3, 1)), ((1,), (2, 2))])
def test_binary_broadcasting_gradients(name, fn, ref, sa, sb):
    a = rand(sa, seed=2, low=0.5, high=2.0)
    b = rand(sb, seed=3, low=0.5, high=2.0)
    out, (ga, gb), dout = grad_of(fn, a, b)
    assert_close(out.numpy(), ref(a.astype(np.float64), b.astype(np.float64)), atol=1e-6)
    assert ga.shape == sa and gb.shape == sb
    assert_close(ga.numpy(), numeric_grad(ref, [a, b], dout, 0), atol=1e-5, rtol=1e-4)
    assert_close(gb.numpy(), numeric_grad(ref, [a, b], dout, 1), atol=1e-5, rtol=1e-4)


REDUCTIONS = [
    ("sum", ops.sum, np.sum), ("mean", ops.mean, np.mean), ("max", ops.max, np.max),
    ("min", ops.min, np.min), ("prod", ops.prod, np.prod), ("var", ops.var, np.var),
    ("std", ops.std, np.std),
    ("logsumexp", ops.logsumexp, lambda x, axis=None, keepdims=False: np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims))),
]


@pytest.mark.parametrize("name,fn,ref", REDUCTIONS, ids=[r[0] for r in REDUCTIONS])
@pytest.mark.parametrize("axis,keepdims", [(None, False), (1, False), ((0, 2), True), (-1, True)])
def test_reductions(name, fn, ref, axis, keepdims):
    x = rand((2, 3, 4), seed=4, low=0.5, high=1.5)
    out, (g,), dout = grad_of(lambda t: fn(t, axis=axis, keepdims=keepdims), x)
    r = lambda v: np.asarray(ref(v, axis=axis, keepdims=keepdims))  # noqa: E731
    assert_close(out.numpy(), r(x.astype(np.float64)), atol=1e-6)
    assert_close(g.numpy(), numeric_grad(r, [x], dout, 0), atol=1e-5, rtol=1e-4)


SHAPE_OPS = [
    ("reshape", lambda t: ops.reshape(t, (4, 6)), lambda v: v.reshape(4, 6)),
    ("transpose", lambda t: ops.transpose(t, (2, 0, 1)), lambda v: v.transpose(2, 0, 1)),
    ("expand_squeeze", lambda t: ops.squeeze(ops.expand_dims(t, 1), 1), lambda v: v),
    ("concatenate", lambda t: ops.concatenate([t, t * 2.0], axis=1), lambda v: np.concatenate([v, v * 2], 1)),
    ("stack", lambda t: ops.stack([t, t * 3.0], axis=-1), lambda v: np.stack([v, 3 * v], -1)),
    ("split", lambda t: ops.split(t, 2, axis=2)[1], lambda v: np.split(v, 2, axis=2)[1]),
    ("tile", lambda t: ops.tile(t, (1, 2, 1)), lambda v: np.tile(v, (1, 2, 1))),
    ("repeat", lambda t: ops.repeat(t, 2, axis=1), lambda v: np.repeat(v, 2, axis=1)),
    ("pad", lambda t: ops.pad(t, [(1, 0), (0, 2), (1, 1)]), lambda v: np.pad(v, [(1, 0), (0, 2), (1, 1)])),
    ("slice", lambda t: t[:, 1:, ::2], lambda v: v[:, 1:, ::2]),
    ("index_t", lambda t: t[:, 2, :], lambda v: v[:, 2, :]),
    ("take", lambda t: ops.take(t, np.array([0, 2, 2]), axis=1), lambda v: np.take(v, [0, 2, 2], axis=1)),
    ("gather", lambda t: ops_math.gather(t, np.array([1, 0]), axis=0), lambda v: np.take(v, [1, 0], axis=0)),
    ("take_along", lambda t: ops.take_along_axis(t, np.array([[[1], [0], [3]], [[2], [2], [0]]]), axis=2),
     lambda v: np.take_along_axis(v, np.array([[[1], [0], [3]], [[2], [2], [0]]]), axis=2)),
    ("matmul", lambda t: ops.matmul(t, ops.transpose(t, (0, 2, 1))), lambda v: v @ v.transpose(0, 2, 1)),
    ("einsum", lambda t: ops.einsum("bij,bkj->bik", t, t), lambda v: np.einsum("bij,bkj->bik", v, v)),
    ("tensordot", lambda t: ops.tensordot(t, t, axes=([1, 2], [1, 2])), lambda v: np.tensordot(v, v, axes=([1, 2], [1, 2]))),
]


@pytest.mark.parametrize("name,fn,ref", SHAPE_OPS, ids=[s[0] for s in SHAPE_OPS])
def test_shape_ops(name, fn, ref):
    x = rand((2, 3, 4), seed=5)
    out, (g,), dout = grad_of(fn, x)
    assert_close(out.numpy(), ref(x.astype(np.float64)), atol=1e-6)
    assert_close(g.numpy(), numeric_grad(ref, [x], dout, 0), atol=1e-5, rtol=1e-4)


def test_matmul_2d_uses_gemm_and_gradients():
    a, b = rand((5, 7), seed=1), rand((7, 3), seed=2)
    out, (ga, gb), dout = grad_of(ops.matmul, a, b)
    ta, tb = fastnet.Variable(a), fastnet.Variable(b)
    with fastnet.GradientTape() as tape:
        y = ops.matmul(ta, tb)
    g32 = tape.gradient(y, [ta, tb], output_gradients=dout.astype(np.float32))
    assert y.dtype == "float32"
    assert_close(y.numpy(), a.astype(np.float64) @ b, atol=1e-5)
    assert_close(g32[0].numpy(), dout @ b.T, atol=1e-5)
    assert_close(g32[1].numpy(), a.T.astype(np.float64) @ dout, atol=1e-5)


def test_cross_entropies_match_formulas_and_gradients():
    logits = rand((4, 5), seed=8, low=-3, high=3)
    labels = np.array([0, 4, 2, 2])
    onehot = np.eye(5)[labels]
    ls = logits.astype(np.float64) - np.log(np.exp(logits.astype(np.float64)).sum(-1, keepdims=True))
    want = -ls[np.arange(4), labels]
    got = ops.sparse_categorical_crossentropy(labels, logits, from_logits=True)
    assert_close(got.numpy(), want, atol=1e-5)
    got = ops.categorical_crossentropy(onehot.astype(np.float32), logits, from_logits=True)
    assert_close(got.numpy(), want, atol=1e-5)
    ref = lambda z: -(onehot * (z - np.log(np.exp(z).sum(-1, keepdims=True)))).sum(-1)  # noqa: E731
    _, (g,), dout = grad_of(lambda z: ops.categorical_crossentropy(ops.convert_to_tensor(onehot), z, from_logits=True), logits)
    assert_close(g.numpy(), numeric_grad(ref, [logits], dout, 0), atol=1e-5, rtol=1e-4)
    z = rand((3, 2), seed=9, low=-30, high=30)
    t = np.array([[1, 0], [0, 1], [1, 1]], dtype=np.float32)
    bce = ops.binary_crossentropy(t, z, from_logits=True).numpy()
    zz = z.astype(np.float64)
    assert_close(bce, np.maximum(zz, 0) - zz * t + np.log1p(np.exp(-np.abs(zz))), atol=1e-5)
    with pytest.raises(ValueError, match="labels must be in"):
        ops.sparse_categorical_crossentropy(np.array([5]), logits[:1], from_logits=True)


def test_tape_semantics():
    x = fastnet.Variable(np.array([2.0, 3.0], np.float32))
    c = ops.convert_to_tensor(np.array([1.0, 1.0], np.float32))
    frozen = fastnet.Variable(np.ones(2, np.float32), trainable=False)
    with fastnet.GradientTape(persistent=True) as tape:
        tape.watch(c)
        y = ops.sum(x * x * c * frozen)
        with tape.stop_recording():
            z = x * 10.0
    gx, gc, gf, gz = tape.gradient(y, [x, c, frozen, z])
    assert_close(gx.numpy(), [4.0, 6.0], atol=0)
    assert_close(gc.numpy(), [4.0, 9.0], atol=0)
    assert gf is None and gz is None  # unwatched / unrecorded sources -> None (as TF)
    d = tape.gradient(y, {"a": x, "b": [c]})
    assert set(d) == {"a", "b"} and isinstance(d["b"], list)
    once = fastnet.GradientTape()
    with once:
        y2 = ops.sum(x * 2.0)
    once.gradient(y2, x)
    with pytest.raises(RuntimeError, match="non-persistent"):
        once.gradient(y2, x)


def test_nested_tapes_second_derivative():
    x = fastnet.Variable(np.array([0.5, -1.0, 2.0], np.float32))
    with fastnet.GradientTape() as outer:
        with fastnet.GradientTape() as inner:
            y = ops.sum(x * x * x + ops.tanh(x))
        g = inner.gradient(y, x)
    h = outer.gradient(g, x)
    xv = x.numpy().astype(np.float64)
    t = np.tanh(xv)
    assert_close(h.numpy(), 6 * xv - 2 * t * (1 - t * t), atol=1e-5)


def test_int_and_bool_inputs_have_no_gradient():
    x = fastnet.Variable(np.array([1.0, 2.0], np.float32))
    idx = ops.convert_to_tensor(np.array([1, 0]))
    with fastnet.GradientTape() as tape:
        tape.watch(idx)
        y = ops.sum(ops.take(x, idx) * ops.cast(idx, "float32"))
    gx, gi = tape.gradient(y, [x, idx])
    assert gi is None
    assert_close(gx.numpy(), [0.0, 1.0], atol=0)


def test_zero_size_tensors():
    z = ops.convert_to_tensor(np.zeros((0, 3), np.float32))
    assert ops.sum(z).numpy() == 0.0
    assert ops.relu(z).shape == (0, 3)
    assert ops.concatenate([z, z], axis=0).shape == (0, 3)
    x = fastnet.Variable(np.zeros((0, 3), np.float32))
    with fastnet.GradientTape() as tape:
        y = ops.sum(x * 2.0)
    assert tape.gradient(y, x).shape == (0, 3)


def test_errors_are_clear():
    with pytest.raises(ValueError, match="Incompatible shapes"):
        ops.add(np.zeros((2, 3), np.float32), np.zeros((4,), np.float32))
    with pytest.raises(ValueError, match="inner dimensions"):
        ops.matmul(np.zeros((2, 3), np.float32), np.zeros((4, 2), np.float32))
    with pytest.raises(ValueError, match="Cannot reshape"):
        ops.reshape(np.zeros((2, 3), np.float32), (4, 2))
    x = fastnet.Variable(np.ones(3, np.float32))
    with fastnet.GradientTape() as tape:
        y = x * 2.0
    with pytest.raises(ValueError, match="output_gradients has shape"):
        tape.gradient(y, x, output_gradients=np.ones(2, np.float32))
    with pytest.raises(TypeError, match="unsupported dtype|cannot convert"):
        ops.convert_to_tensor(np.array(["a"], dtype=object))


def test_tensor_protocol_and_seed_subclass_patterns():
    t = ops.convert_to_tensor(np.arange(6, dtype=np.float64).reshape(2, 3))
    assert t.dtype == "float32" and t.shape == (2, 3) and t.ndim == 2 and len(t) == 2
    assert np.asarray(t).dtype == np.float32
    assert [row.shape for row in t] == [(3,), (3,)]
    assert "shape=(2, 3)" in repr(t)
    assert ops.convert_to_tensor(3).dtype == "int32"
    # The seeds' CustomRNN loop: inputs[:, t, :], projections, tf.stack(outputs, axis=1)
    inputs = ops.convert_to_tensor(rand((2, 5, 4), seed=1))
    w = fastnet.Variable(rand((4, 3), seed=2))
    b = fastnet.Variable(np.zeros(3, np.float32))
    with fastnet.GradientTape() as tape:
        state = ops.zeros((inputs.shape[0], 3))
        outputs = []
        for step in range(inputs.shape[1]):
            y = ops.tanh(ops.matmul(inputs[:, step, :], w) + b) + state
            state = y
            outputs.append(y)
        features = ops.stack(outputs, axis=1)
        loss = ops.mean(features)
    gw, gb = tape.gradient(loss, [w, b])
    assert features.shape == (2, 5, 3) and gw.shape == (4, 3) and gb.shape == (3,)
    v = fastnet.Variable(np.zeros(2, np.float32), name="v")
    v.assign([1.0, 2.0])
    v.assign_add(np.ones(2, np.float32))
    v.assign_sub(np.array([0.5, 0.5], np.float32))
    assert_close(v.numpy(), [1.5, 2.5], atol=0)
    with pytest.raises(ValueError, match="cannot assign"):
        v.assign(np.zeros(3))


def test_random_is_seeded():
    a = fastnet.random.normal((3,), seed=1).numpy()
    b = fastnet.random.normal((3,), seed=1).numpy()
    np.testing.assert_array_equal(a, b)
    fastnet.utils.set_random_seed(5)
    c = fastnet.random.uniform((4,)).numpy()
    fastnet.utils.set_random_seed(5)
    np.testing.assert_array_equal(c, fastnet.random.uniform((4,)).numpy())
    t = fastnet.random.truncated_normal((1000,), seed=0).numpy()
    assert np.abs(t).max() <= 2.0
    d = fastnet.random.dropout(np.ones((1000,), np.float32), 0.5, seed=0).numpy()
    assert set(np.unique(d)) <= {0.0, 2.0} and 400 < (d > 0).sum() < 600


def test_gradient_results_are_freed_without_the_cyclic_gc():
    # A reference cycle in the result packing kept the gradients (and their large buffers)
    # alive until the GC ran, so every training step page-faulted fresh memory.
    import gc
    import weakref

    v = fastnet.Variable(np.ones((4, 3), np.float32))
    gc.disable()
    try:
        with fastnet.GradientTape() as tape:
            y = ops.sum(v * 2.0)
        grads = tape.gradient(y, [v, {"a": (v,)}])
        ref = weakref.ref(grads[0])
        del grads
        assert ref() is None
    finally:
        gc.enable()


# ---- regressions from the fuzz of fastnet.ops (tests/fuzz/test_fuzz_ops.py) --------------

@pytest.mark.parametrize("axis,keepdims", [(None, False), (0, False), (1, True), (-1, False),
                                           ((0, 1), True)])
def test_prod_gradient_with_zeros_is_product_of_the_others(axis, keepdims):
    # row 0: no zero, row 1: one zero, row 2: two zeros; column 1 has two zeros
    x = np.array([[0.5, 1.5, -2.0, 1.2], [1.1, 0.0, 0.7, -1.3], [0.0, 0.0, 0.9, 1.4]],
                 np.float32)
    r = lambda v: np.asarray(np.prod(v, axis=axis, keepdims=keepdims))  # noqa: E731
    out, (g,), dout = grad_of(lambda t: ops.prod(t, axis=axis, keepdims=keepdims), x)
    assert_close(out.numpy(), r(x.astype(np.float64)), atol=1e-6)
    assert_close(g.numpy(), numeric_grad(r, [x], dout, 0), atol=1e-6, rtol=1e-6)


def test_prod_gradient_single_zero_and_second_order():
    x = fastnet.Variable(np.array([0.0, 2.0, 3.0], np.float32))
    with fastnet.GradientTape() as tape:
        y = ops.prod(x)
    assert_close(tape.gradient(y, x).numpy(), [6.0, 0.0, 0.0], atol=0)
    # the gradient stays differentiable (exactly so in slices without zeros)
    x = fastnet.Variable(np.array([1.0, 2.0, 3.0], np.float32))
    with fastnet.GradientTape() as t2:
        with fastnet.GradientTape() as t1:
            y = ops.prod(x)
        s = ops.sum(t1.gradient(y, x))  # sum_i prod_{j != i} x_j
    assert_close(t2.gradient(s, x).numpy(), [5.0, 4.0, 3.0], atol=1e-6)


@pytest.mark.parametrize("source,destination", [(0, -1), (-1, 0), (1, 2), ([0, 1], [-1, 0]),
                                                ((2, 0), (0, 1)), ([], [])])
def test_moveaxis_matches_numpy_and_gradient(source, destination):
    x = rand((2, 3, 4), seed=8)
    r = lambda v: np.moveaxis(v, source, destination)  # noqa: E731
    out, (g,), dout = grad_of(lambda t: ops.moveaxis(t, source, destination), x)
    assert_close(out.numpy(), r(x.astype(np.float64)), atol=0)
    assert_close(g.numpy(), numeric_grad(r, [x], dout, 0), atol=1e-6)


@pytest.mark.parametrize("call", [
    lambda x: ops.split(x, 1, axis=2), lambda x: ops.split(x, [1], axis=-3),
    lambda x: ops.transpose(x, [0, 2]), lambda x: ops.transpose(x, [-3, 0]),
    lambda x: ops.take(x, np.zeros(2, np.int32), axis=2),
    lambda x: ops.moveaxis(x, 2, 0), lambda x: ops.moveaxis(x, 0, -3),
], ids=["split", "split-neg", "transpose", "transpose-neg", "take", "moveaxis-src",
        "moveaxis-dst"])
def test_out_of_range_axis_is_a_clear_error(call):
    with pytest.raises(ValueError, match=r"-?\d is out of bounds for a tensor of shape \(2, 3\)"):
        call(np.zeros((2, 3), np.float32))


def test_moveaxis_argument_errors():
    x = np.zeros((2, 3, 4), np.float32)
    with pytest.raises(ValueError, match="same number"):
        ops.moveaxis(x, [0, 1], [2])
    with pytest.raises(ValueError, match="repeated axis"):
        ops.moveaxis(x, [0, -3], [1, 2])


@pytest.mark.parametrize("axis", [0, -1])
def test_cumsum_of_a_scalar_matches_numpy_and_keeps_the_gradient_shape(axis):
    x = np.array(1.5, np.float32)
    r = lambda v: np.cumsum(v, axis=axis)  # noqa: E731
    out, (g,), dout = grad_of(lambda t: ops.cumsum(t, axis=axis), x)
    assert out.shape == (1,)
    assert_close(out.numpy(), r(x.astype(np.float64)), atol=0)
    assert g.shape == ()
    assert_close(g.numpy(), numeric_grad(r, [x], dout, 0), atol=1e-6)
    with pytest.raises(ValueError):
        ops.cumsum(x, axis=1)


@pytest.mark.parametrize("shape,indices,axis", [((0, 0), [], 0), ((1, 0), [0], 0),
                                                ((3, 2), [], 0), ((3, 2), [], 1),
                                                ((2, 3), np.zeros((0, 2), np.int32), 1)])
def test_take_with_an_empty_result_has_a_zero_gradient(shape, indices, axis):
    x = rand(shape, seed=9)
    idx = np.asarray(indices, np.int32)
    out, (g,), _ = grad_of(lambda t: ops.take(t, idx, axis=axis), x)
    assert_close(out.numpy(), np.take(x, idx, axis=axis), atol=0)
    assert g.shape == shape and not np.any(g.numpy())


@pytest.mark.parametrize("indices", [[2, 1], [3, 1, -1, 9], [-2, 4, 0], [4, 4]])
def test_split_with_unsorted_indices_gradient_sums_the_pieces(indices):
    # unsorted indices: numpy returns empty and overlapping pieces; concatenating them makes
    # every input element's gradient the sum over the pieces it appears in
    x = rand((5, 2), seed=10)
    r = lambda v: np.concatenate(np.split(v, indices, axis=0), axis=0)  # noqa: E731
    out, (g,), dout = grad_of(lambda t: ops.concatenate(ops.split(t, indices, axis=0),
                                                        axis=0), x)
    assert_close(out.numpy(), r(x.astype(np.float64)), atol=0)
    assert_close(g.numpy(), numeric_grad(r, [x], dout, 0), atol=1e-6)
