"""Keras 3 contracts a user relies on without knowing it (issue 12): each test is
written the way a Keras program hits the contract; Keras itself (torch backend)
is an optional oracle where it helps."""

import os

import numpy as np
import pytest

import fastnet as keras
from fastnet import layers, ops


@pytest.fixture(autouse=True)
def fresh_names():
    keras.backend.clear_session()


def _keras():
    """Keras 3 on the torch backend, or skip."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    k = pytest.importorskip("keras")
    if k.backend.backend() != "torch":
        pytest.skip("Keras oracle runs on the torch backend")
    return k


# ---- 1. NumPy 2 __array__ contract ---------------------------------------------------

def test_asarray_of_a_0d_tensor_is_a_0d_ndarray():
    dense = layers.Dense(2, kernel_regularizer="l2")
    dense(np.ones((1, 3), np.float32))
    loss = dense.losses[0]
    a = np.asarray(loss)  # NumPy 2 raises if __array__ returns a numpy scalar
    assert type(a) is np.ndarray and a.shape == ()
    np.testing.assert_allclose(a, 0.01 * np.sum(dense.kernel.numpy() ** 2), rtol=1e-6)
    assert type(loss.numpy()) is np.ndarray and loss.numpy().shape == ()
    total = ops.sum(ops.ones((3,)))
    assert np.asarray(total).shape == () and float(np.asarray(total)) == 3.0


def test_array_protocol_dtype_and_copy_keywords():
    t = ops.ones((2, 3))
    assert np.asarray(t, dtype="float64").dtype == np.float64
    view = np.asarray(t)
    assert np.shares_memory(view, t.numpy())
    copied = np.array(t, copy=True)
    assert not np.shares_memory(copied, t.numpy())
    assert t.__array__(dtype=None, copy=None) is t.numpy()
    with pytest.raises(ValueError, match="copy"):
        np.array(t, dtype="float64", copy=False)


# ---- 2. functional input standardisation (Keras 3 Functional._standardize_inputs) ---

def test_functional_input_gets_its_trailing_channel_axis():
    inputs = keras.Input((28, 28, 1))
    x = layers.Conv2D(2, 3)(inputs)
    model = keras.Model(inputs, layers.Dense(3)(layers.Flatten()(x)))
    data = np.random.default_rng(0).random((4, 28, 28)).astype(np.float32)
    out = model(data)
    np.testing.assert_allclose(out.numpy(), model(data[..., None]).numpy())
    model.compile(optimizer="sgd", loss="mse")
    model.fit(data, np.zeros((4, 3), np.float32), batch_size=2, epochs=1, verbose=0)
    assert model.predict(data, verbose=0).shape == (4, 3)
    assert np.isfinite(model.evaluate(data, np.zeros((4, 3)), verbose=0))
    # a trailing axis of 1 beyond the Input's rank is squeezed
    flat_in = keras.Input((5,))
    m2 = keras.Model(flat_in, flat_in * 2.0)
    assert m2(np.ones((2, 5, 1))).shape == (2, 5)
    with pytest.raises(ValueError, match=r"expected shape=\(None, 28, 28, 1\).*\(4, 28, 27\)"):
        model(data[:, :, :27])
    col = keras.Input((4, 1))
    with pytest.raises(ValueError, match=r"expected shape=\(None, 4, 1\).*\(2, 5\)"):
        keras.Model(col, layers.Flatten()(col))(np.ones((2, 5)))


def test_functional_inputs_are_cast_to_the_input_dtype():
    ids = keras.Input((4,), dtype="int32")
    model = keras.Model(ids, layers.Embedding(10, 2)(ids))
    assert model(np.array([[1.0, 2.0, 3.0, 4.0]])).shape == (1, 4, 2)
    ints = keras.Model(ids, ids * 2)
    assert ints(np.ones((2, 4))).dtype == "int32"
    floats_in = keras.Input((4,))
    floats = keras.Model(floats_in, floats_in * 2.0)
    assert floats(np.ones((2, 4), np.int64)).dtype == "float32"
    assert floats(np.ones((2, 4), np.float64)).dtype == "float32"


def test_functional_dict_inputs_by_name_extra_keys_warn():
    a, b = keras.Input((3,), name="a"), keras.Input((2,), name="b")
    joined = layers.Concatenate()([a, b])
    by_list = keras.Model([a, b], joined)
    by_dict = keras.Model({"a": a, "b": b}, joined)
    feed = {"b": np.full((1, 2), 2.0), "a": np.ones((1, 3))}
    want = [[1, 1, 1, 2, 2]]
    np.testing.assert_allclose(by_list(feed).numpy(), want)
    np.testing.assert_allclose(by_dict(feed).numpy(), want)
    with pytest.warns(UserWarning, match=r"\['c'\].*ignored"):
        out = by_dict({**feed, "c": np.ones((1, 1))})
    np.testing.assert_allclose(out.numpy(), want)
    with pytest.warns(UserWarning, match=r"\['c'\]"):
        by_list({**feed, "c": np.ones((1, 1))})
    with pytest.raises(ValueError, match='Missing data for input "b".*Expected the following '
                                         r"keys: \['a', 'b'\]"):
        by_dict({"a": np.ones((1, 3)), "c": np.ones((1, 2))})
    by_dict.compile(optimizer="sgd", loss="mse")
    by_dict.fit(feed, np.zeros((1, 5)), verbose=0)
    with pytest.raises(ValueError, match="expects 2 input"):
        by_list([np.ones((1, 3))])


# ---- 3. build(shape) builds every sub-layer -------------------------------------------

def test_bidirectional_build_builds_both_directions():
    bi = layers.Bidirectional(layers.LSTM(3, return_sequences=True))
    bi.build((None, 5, 2))
    shapes = [w.shape for w in bi.get_weights()]
    assert shapes == [(2, 12), (3, 12), (12,)] * 2
    rng = np.random.default_rng(1)
    new = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    bi.set_weights(new)  # before any call
    for got, want in zip(bi.get_weights(), new):
        np.testing.assert_array_equal(got, want)
    assert bi(np.ones((1, 5, 2), np.float32)).shape == (1, 5, 6)

    inputs = keras.Input((5, 2))
    model = keras.Model(inputs, layers.Bidirectional(layers.GRU(4))(inputs))
    assert model.count_params() == 2 * 3 * 4 * (2 + 4 + 2)  # before any real call
    lines = []
    model.summary(print_fn=lines.append)
    assert "192" in "\n".join(lines)


def test_time_distributed_and_custom_block_build_their_sublayers():
    td = layers.TimeDistributed(layers.Dense(3))
    td.build((None, 4, 2))
    assert [w.shape for w in td.weights] == [(2, 3), (3,)]

    class Block(layers.Layer):
        def __init__(self):
            super().__init__()
            self.a = layers.Dense(4, activation="relu")
            self.b = layers.Dense(2)

        def call(self, x):
            return self.b(self.a(x))

    block = Block()
    block.build((None, 3))
    assert block.built and block.a.built and block.b.built
    assert [w.shape for w in block.weights] == [(3, 4), (4,), (4, 2), (2,)]
    block.set_weights([np.ones(s, np.float32) for s in [(3, 4), (4,), (4, 2), (2,)]])
    np.testing.assert_allclose(block(np.ones((1, 3), np.float32)).numpy(), [[17.0, 17.0]])
    assert block.losses == []


def test_bidirectional_weight_shapes_match_keras():
    k = _keras()
    for make in (lambda L: L.Bidirectional(L.LSTM(3)), lambda L: L.Bidirectional(L.GRU(2)),
                 lambda L: L.TimeDistributed(L.Dense(3))):
        ours, theirs = make(layers), make(k.layers)
        ours.build((None, 5, 2))
        theirs.build((None, 5, 2))
        assert [tuple(w.shape) for w in ours.weights] == \
            [tuple(w.shape) for w in theirs.weights]
