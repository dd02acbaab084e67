"""fastnet.random.SeedGenerator as keras.random.SeedGenerator: a [seed, counter] state that
random ops consume, which layer.variables exposes and restoring replays."""

import os

import numpy as np
import pytest

import fastnet as keras
from fastnet import layers


def test_next_returns_state_then_advances_the_counter():
    g = keras.random.SeedGenerator(1337)
    assert g.state.numpy().tolist() == [1337, 0] and str(g.state.dtype) == "uint32"
    assert g.next().numpy().tolist() == [1337, 0]
    assert g.next().numpy().tolist() == [1337, 1]
    assert g.state.numpy().tolist() == [1337, 2]
    # Keras's unordered sequence: (state + 1) * 5387 % 933199, elementwise
    g.next(ordered=False)
    assert g.state.numpy().tolist() == [(1338 * 5387) % 933199, (3 * 5387) % 933199]


def test_draws_are_a_function_of_the_state():
    g = keras.random.SeedGenerator(7)
    first = keras.random.normal((5,), seed=g).numpy()
    saved = g.state.numpy().copy()
    second = keras.random.uniform((3, 2), seed=g).numpy()
    assert not np.array_equal(first, keras.random.normal((5,), seed=g).numpy())
    h = keras.random.SeedGenerator(7)
    np.testing.assert_array_equal(keras.random.normal((5,), seed=h).numpy(), first)
    h.state.assign(saved)  # restoring the state replays the stream from there
    np.testing.assert_array_equal(keras.random.uniform((3, 2), seed=h).numpy(), second)


def test_unseeded_generators_follow_set_random_seed():
    keras.utils.set_random_seed(3)
    a = keras.random.SeedGenerator().state.numpy().tolist()
    keras.utils.set_random_seed(3)
    b = keras.random.SeedGenerator().state.numpy().tolist()
    assert a == b and a[1] == 0


def test_bad_seeds_raise_naming_the_argument():
    for bad in (1.5, "3", True):
        with pytest.raises(ValueError, match="seed"):
            keras.random.SeedGenerator(bad)
        with pytest.raises(ValueError, match="seed"):
            keras.random.normal((2,), seed=bad)
    with pytest.raises(ValueError, match="unrecognized keyword"):
        keras.random.SeedGenerator(1, sead=2)


def test_config_round_trip():
    g = keras.random.SeedGenerator(11, name="gen")
    assert g.get_config() == {"seed": 11, "name": "gen"}
    h = keras.random.SeedGenerator.from_config(g.get_config())
    np.testing.assert_array_equal(h.state.numpy(), [11, 0])


def test_layer_variables_hold_seed_state_and_restoring_replays_dropout():
    x = np.ones((4, 16), "float32")
    model = keras.Sequential([keras.Input((16,)), layers.Dense(16, kernel_initializer="ones"),
                              layers.Dropout(0.5, seed=5)])
    assert len(model.weights) == 2 and len(model.variables) == 3  # + the dropout's seed state
    state = model.variables[-1]
    saved = state.numpy().copy()
    first = model(x, training=True).numpy()
    second = model(x, training=True).numpy()
    assert not np.array_equal(first, second)  # a new mask per call
    state.assign(saved)
    np.testing.assert_array_equal(model(x, training=True).numpy(), first)


def test_matches_keras_seed_generator_state_sequence():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    k = pytest.importorskip("keras")
    ours, theirs = keras.random.SeedGenerator(42), k.random.SeedGenerator(42)
    for ordered in (True, True, False, True, False):
        a, b = ours.next(ordered=ordered), theirs.next(ordered=ordered)
        assert np.asarray(a.numpy()).astype(np.int64).tolist() == \
            np.asarray(k.ops.convert_to_numpy(b)).astype(np.int64).tolist()
