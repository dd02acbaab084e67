"""The Embedding kernels (csrc/embedding) against numpy's take / np.add.at, and the
Embedding layer on them: its forward, its dense table gradient (repeated, zero and
masked indices), nested tapes, thread-count independence, and the out-of-range error."""

import numpy as np
import pytest

import fastnet
from fastnet import layers, ops
from fastnet.kernels import embedding as K


def ref_grad(idx, g, rows):
    out = np.zeros((rows, g.shape[-1]), np.float32)
    np.add.at(out, idx.reshape(-1), g.reshape(-1, g.shape[-1]))
    return out


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
@pytest.mark.parametrize("shape,rows,dim", [((7,), 5, 3), ((4, 9), 30, 8), ((32, 100), 10000, 64),
                                            ((2, 3, 4), 3, 1), ((0, 5), 4, 6)])
def test_kernels_match_numpy(dtype, shape, rows, dim):
    rng = np.random.default_rng(0)
    table = rng.standard_normal((rows, dim)).astype(np.float32)
    idx = rng.integers(0, rows, size=shape).astype(dtype)
    g = rng.standard_normal(shape + (dim,)).astype(np.float32)
    np.testing.assert_array_equal(K.embedding_lookup(table, idx), table[idx])
    np.testing.assert_allclose(K.embedding_grad(idx, g, rows), ref_grad(idx, g, rows),
                               rtol=1e-6, atol=1e-6)


def test_grad_repeated_indices_sum_in_index_order():
    # every row hit many times: the sum must be numpy's sequential one, bit for bit
    rng = np.random.default_rng(1)
    idx = rng.integers(0, 3, size=(64, 50)).astype(np.int32)
    g = rng.standard_normal((64, 50, 16)).astype(np.float32)
    out = K.embedding_grad(idx, g, 3)
    np.testing.assert_array_equal(out, ref_grad(idx, g, 3))
    untouched = K.embedding_grad(np.array([0, 0, 2], np.int64), np.ones((3, 2), np.float32), 5)
    np.testing.assert_array_equal(untouched, [[2, 2], [0, 0], [1, 1], [0, 0], [0, 0]])


def test_grad_same_bits_on_one_and_two_threads():
    rng = np.random.default_rng(2)
    idx = rng.integers(0, 10000, size=(32, 100)).astype(np.int32)
    idx[:, ::3] = 7  # many repeats of one row
    g = rng.standard_normal((32, 100, 64)).astype(np.float32)
    n0 = fastnet.config.get_num_threads()
    try:
        fastnet.config.set_num_threads(1)
        one = K.embedding_grad(idx, g, 10000)
        fastnet.config.set_num_threads(2)
        two = K.embedding_grad(idx, g, 10000)
    finally:
        fastnet.config.set_num_threads(n0)
    np.testing.assert_array_equal(one, two)
    np.testing.assert_array_equal(one, ref_grad(idx, g, 10000))


@pytest.mark.parametrize("bad", [10, 11, -1, 2**31 - 1])
def test_out_of_range_raises_naming_the_index_and_position(bad):
    idx = np.array([[1, 2, 3], [4, bad, 0]], np.int64)
    table = np.zeros((10, 2), np.float32)
    with pytest.raises(IndexError, match=rf"where me: index {bad} at position \(1, 1\).*\[0, 10\)"):
        K.embedding_lookup(table, idx, "where me")
    g = np.ones((2, 3, 2), np.float32)
    with pytest.raises(IndexError, match=rf"index {bad} at position \(1, 1\)"):
        K.embedding_grad(idx, g, 10)


def test_bad_arguments():
    table = np.zeros((4, 2), np.float32)
    with pytest.raises(TypeError, match="indices.*int32 or int64"):
        K.embedding_lookup(table, np.array([1.0, 2.0]))
    with pytest.raises(TypeError, match="table.*float32"):
        K.embedding_lookup(table.astype(np.float64), np.array([1]))
    with pytest.raises(ValueError, match="table.*2-D"):
        K.embedding_lookup(np.zeros(4, np.float32), np.array([1]))
    with pytest.raises(ValueError, match="C-contiguous"):
        K.embedding_lookup(table, np.arange(6, dtype=np.int32)[::2])
    with pytest.raises(ValueError, match=r"grad.*indices.shape \+ \(dim,\)"):
        K.embedding_grad(np.array([1, 2]), np.ones((3, 2), np.float32), 4)
    with pytest.raises(ValueError, match="rows"):
        K.embedding_grad(np.array([1, 2]), np.ones((2, 2), np.float32), -1)


def test_layer_forward_and_gradient_match_numpy():
    rng = np.random.default_rng(3)
    emb = layers.Embedding(50, 8)
    x = rng.integers(0, 50, size=(6, 12)).astype(np.int32)
    x[0, :] = 5  # repeats
    w = rng.standard_normal((6, 12, 8)).astype(np.float32)
    with fastnet.GradientTape() as tape:
        y = emb(x)
        loss = ops.sum(y * w)
    (g,) = tape.gradient(loss, [emb.embeddings])
    np.testing.assert_array_equal(np.asarray(y), np.asarray(emb.embeddings)[x])
    np.testing.assert_allclose(np.asarray(g), ref_grad(x, w, 50), rtol=1e-6, atol=1e-6)


def test_layer_mask_zero_gradient_still_reaches_row_zero():
    # mask_zero only makes a mask (as Keras): row 0's gradient is its outputs' gradient
    emb = layers.Embedding(6, 3, mask_zero=True)
    x = np.array([[0, 1, 0], [2, 0, 0]], np.int32)
    w = np.arange(18, dtype=np.float32).reshape(2, 3, 3)
    with fastnet.GradientTape() as tape:
        loss = ops.sum(emb(x) * w)
    (g,) = tape.gradient(loss, [emb.embeddings])
    np.testing.assert_allclose(np.asarray(g), ref_grad(x, w, 6))
    np.testing.assert_array_equal(np.asarray(emb.compute_mask(x)), x != 0)


def test_layer_other_index_dtypes_and_nested_tapes():
    emb = layers.Embedding(7, 2)
    x = np.array([[1, 6, 6]], np.uint8)
    w = np.array([[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]], np.float32)
    v = fastnet.Variable(np.ones((7, 2), np.float32))
    with fastnet.GradientTape() as outer:
        with fastnet.GradientTape() as inner:
            loss = ops.sum(emb(x) * w)
        (g,) = inner.gradient(loss, [emb.embeddings])
        second = ops.sum(g * v)  # d/dv = g, through the gradient's own backward
    (gv,) = outer.gradient(second, [v])
    np.testing.assert_allclose(np.asarray(g), ref_grad(x.astype(np.int64), w, 7))
    np.testing.assert_allclose(np.asarray(gv), np.asarray(g))


@pytest.mark.parametrize("bad", [50, -3])
def test_layer_out_of_range_names_the_layer(bad):
    emb = layers.Embedding(50, 4, name="tok")
    with pytest.raises(IndexError, match=rf"Embedding 'tok' \(input_dim=50\): index {bad} "
                                         r"at position \(0, 2\)"):
        emb(np.array([[1, 2, bad]], np.int32))


def test_fit_matches_numpy_rmsprop_on_every_row():
    # Keras updates every row of a dense Embedding: the velocity of a row the second
    # batch does not touch still decays. Two RMSprop steps against numpy.
    rng = np.random.default_rng(4)
    inp = fastnet.Input((5,), dtype="int32")
    emb = layers.Embedding(20, 3)
    out = layers.Dense(1)(layers.Flatten()(emb(inp)))
    model = fastnet.Model(inp, out)
    opt = fastnet.optimizers.RMSprop(0.01)
    model.compile(optimizer=opt, loss="mse")
    xs = [rng.integers(0, 10, size=(4, 5)).astype(np.int32),
          rng.integers(10, 20, size=(4, 5)).astype(np.int32)]
    y = rng.standard_normal((4, 1)).astype(np.float32)
    t = np.asarray(emb.embeddings).copy()
    kk = np.asarray(model.layers[-1].kernel).copy()
    b = np.asarray(model.layers[-1].bias).copy()
    for x in xs:
        model.train_on_batch(x, y)
    slots = [np.zeros_like(t), np.zeros_like(kk), np.zeros_like(b)]
    for x in xs:
        h = t[x].reshape(4, 15)
        d = 2 * (h @ kk + b - y) / y.size
        grads = [ref_grad(x, (d @ kk.T).reshape(4, 5, 3), 20), h.T @ d, d.sum(0)]
        for i, (p, gr) in enumerate(zip((t, kk, b), grads)):
            slots[i] = 0.9 * slots[i] + 0.1 * gr * gr
            p -= 0.01 * gr / np.sqrt(slots[i] + 1e-7)
    np.testing.assert_allclose(np.asarray(emb.embeddings), t, rtol=1e-5, atol=1e-6)
    vel = opt._slots[id(emb.embeddings)][0]
    np.testing.assert_allclose(vel, slots[0], rtol=1e-3, atol=1e-10)
    assert (vel[:10] > 0).any() and (vel[10:] > 0).any()
