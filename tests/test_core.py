"""The compiled tensor/tape core (csrc/cython/_core.pyx): the pieces every op runs
through, checked the way users meet them."""

import copy
import gc
import pickle
import weakref

import numpy as np
import pytest
from oracle import assert_close

import fastnet
from fastnet import _core, ops


def test_core_is_compiled_and_tensor_builds_on_it():
    assert _core.__file__.endswith((".so", ".pyd"))
    t = ops.convert_to_tensor(np.ones((2, 3), np.float32))
    assert isinstance(t, _core.TensorBase)
    assert (t.shape, t.ndim, t.size, t.dtype) == ((2, 3), 2, 6, "float32")


def test_tensor_and_variable_survive_pickle_and_deepcopy():
    t = ops.convert_to_tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    v = fastnet.Variable(np.ones(3, np.float32), name="w", trainable=False)
    for clone in (copy.deepcopy, lambda o: pickle.loads(pickle.dumps(o))):
        t2, v2 = clone(t), clone(v)
        assert type(t2) is type(t) and np.array_equal(t2.numpy(), t.numpy())
        assert type(v2) is fastnet.Variable and (v2.name, v2.trainable) == ("w", False)
        v2.assign([1.0, 2.0, 3.0])
        assert np.array_equal(v.numpy(), np.ones(3))  # a copy, not a view of the original


def test_broadcast_errors_name_both_shapes():
    a = ops.ones((2, 3))
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(4,\)"):
        ops.add(a, ops.ones((4,)))
    assert ops.add(a, ops.ones((1, 3))).shape == (2, 3)
    assert ops.multiply(a, 2).dtype == "float32"  # scalars keep the tensor's dtype
    assert ops.add(ops.ones((2,), dtype="int32"), ops.ones((2,))).dtype == "float32"


def test_non_persistent_tape_frees_intermediates():
    x = fastnet.Variable(np.random.rand(8, 8).astype(np.float32))
    with fastnet.GradientTape() as tape:
        h = ops.tanh(ops.matmul(x, x))
        ref = weakref.ref(h)
        loss = ops.sum(h)
    del h
    (g,) = tape.gradient(loss, [x])
    gc.collect()
    assert ref() is None
    xv = x.numpy().astype(np.float64)
    t = np.tanh(xv @ xv)
    d = 1 - t * t
    assert_close(g.numpy(), d @ xv.T + xv.T @ d, rtol=1e-4, atol=1e-4)


def test_matmul_first_order_fast_path_matches_nested_path():
    rng = np.random.default_rng(0)
    a = fastnet.Variable(rng.standard_normal((5, 7)).astype(np.float32))
    b = fastnet.Variable(rng.standard_normal((7, 3)).astype(np.float32))
    with fastnet.GradientTape() as outer:
        with fastnet.GradientTape() as inner:
            y = ops.sum(ops.matmul(a, b) ** 2)
        ga, gb = inner.gradient(y, [a, b])  # recorded on `outer`: the composed path
        z = ops.sum(ga)
    with fastnet.GradientTape() as plain:
        y2 = ops.sum(ops.matmul(a, b) ** 2)
    ga2, gb2 = plain.gradient(y2, [a, b])  # first order: the GEMM-flag path
    assert_close(ga.numpy(), ga2.numpy(), rtol=1e-5, atol=1e-5)
    assert_close(gb.numpy(), gb2.numpy(), rtol=1e-5, atol=1e-5)
    # z = 2 u^T b b^T v with u = a^T 1, v = 1: dz/db = 2 (u v^T + v u^T) b.
    gbb = outer.gradient(z, b)
    u = a.numpy().astype(np.float64).T @ np.ones(5)
    v = np.ones(7)
    bv = b.numpy().astype(np.float64)
    assert_close(gbb.numpy(), 2 * (np.outer(u, v) + np.outer(v, u)) @ bv, rtol=1e-4, atol=1e-4)
