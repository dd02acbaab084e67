"""Keras 3 behaviours a program depends on, each checked as a user meets it: against Keras
3 (torch backend, skipped when absent) or a numpy formula."""

import json
import os
import zipfile

import numpy as np
import pytest

import fastnet
from fastnet import layers as L


def _keras():
    """Keras 3 on the torch backend, or skip."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    k = pytest.importorskip("keras")
    if k.backend.backend() != "torch":
        pytest.skip("Keras oracle runs on the torch backend")
    return k


def _dense_model(lib):
    model = lib.Sequential([lib.Input((3,)), lib.layers.Dense(2)])
    model.compile("adam", "mse", steps_per_execution=3, run_eagerly=True)
    return model


# ---- 1. compile_config: run_eagerly, steps_per_execution, jit_compile ----------------------

def test_compile_config_keeps_what_compile_was_given(tmp_path):
    model = _dense_model(fastnet)
    path = tmp_path / "m.keras"
    model.save(path)
    cc = json.loads(zipfile.ZipFile(path).read("config.json"))["compile_config"]
    assert (cc["run_eagerly"], cc["steps_per_execution"], cc["jit_compile"]) == (True, 3, "auto")
    loaded = fastnet.models.load_model(path)
    assert (loaded.run_eagerly, loaded.steps_per_execution) == (True, 3)
    assert loaded.get_compile_config()["jit_compile"] == "auto"

    model.compile("sgd", "mse", jit_compile=False)
    model.save(path)
    loaded = fastnet.models.load_model(path)
    assert (loaded.run_eagerly, loaded.steps_per_execution, loaded.jit_compile) == (False, 1, False)
    # an .h5 training_config gives back only optimizer, losses and metrics, as Keras's
    model.compile("sgd", "mse", steps_per_execution=4)
    model.save(tmp_path / "m.h5")
    assert fastnet.models.load_model(tmp_path / "m.h5").steps_per_execution == 1


def test_compile_config_against_keras(tmp_path):
    k = _keras()
    ours, theirs = tmp_path / "f.keras", tmp_path / "k.keras"
    _dense_model(fastnet).save(ours)
    _dense_model(k).save(theirs)  # compiled, never trained: its optimizer is not built
    by_keras = k.models.load_model(ours)
    assert (by_keras.run_eagerly, by_keras.steps_per_execution) == (True, 3)
    by_us = fastnet.models.load_model(theirs)
    assert (by_us.run_eagerly, by_us.steps_per_execution, by_us.jit_compile) == (True, 3, False)
    for a, b in zip(by_us.get_weights(), k.models.load_model(theirs).get_weights()):
        np.testing.assert_array_equal(a, np.asarray(b))


# ---- 4. InputLayer / Input arguments ------------------------------------------------------

def _input_outcomes(lib):
    import warnings

    cases = {
        "Input with an unknown keyword": lambda: lib.Input((3,), foo=1),
        "InputLayer with an unknown keyword": lambda: lib.layers.InputLayer(shape=(3,), foo=1),
        "shape and batch_shape": lambda: lib.Input(shape=(3,), batch_shape=(2, 3)),
        "batch_size and batch_shape": lambda: lib.Input(batch_size=2, batch_shape=(2, 3)),
        "no shape": lambda: lib.Input(),
        "a negative dimension": lambda: lib.Input((-2,)),
        "input_shape": lambda: lib.layers.InputLayer(input_shape=(3,)),
        "batch_input_shape": lambda: lib.layers.InputLayer(batch_input_shape=(None, 4)),
    }
    out = {}
    for what, make in cases.items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                made = make()
            out[what] = tuple(getattr(made, "batch_shape", None) or made.shape)
        except Exception as e:  # noqa: BLE001 - the exception type is what is compared
            out[what] = type(e).__name__
    return out


EXPECTED_INPUT_OUTCOMES = {
    # Keras 3.15: keras.Input has no **kwargs (Python's TypeError); InputLayer passes only
    # `name` to Layer, so it ignores what it does not know (fastnet warns, naming it)
    "Input with an unknown keyword": "TypeError",
    "InputLayer with an unknown keyword": (None, 3),
    "shape and batch_shape": "ValueError", "batch_size and batch_shape": "ValueError",
    "no shape": "ValueError", "a negative dimension": "ValueError",
    "input_shape": (None, 3), "batch_input_shape": (None, 4),
}


def test_input_arguments_as_keras():
    assert _input_outcomes(fastnet) == EXPECTED_INPUT_OUTCOMES
    with pytest.warns(UserWarning, match="ignoring unrecognized keyword argument.*foo"):
        fastnet.layers.InputLayer(shape=(3,), foo=1)
    with pytest.raises(ValueError, match=r"Unrecognized keyword|unrecognized keyword.*foo"):
        L.Dense(3, foo=1)  # every other layer refuses them, as Keras, with ValueError
    with pytest.raises(ValueError, match="unrecognized keyword.*foo"):
        fastnet.optimizers.Adam(foo=1)


def test_input_arguments_against_keras():
    k = _keras()
    assert _input_outcomes(k) == EXPECTED_INPUT_OUTCOMES
    for lib in (k, fastnet):
        with pytest.raises(ValueError):
            lib.layers.Dense(3, foo=1)
    cfg = fastnet.layers.InputLayer(shape=(3,), name="x").get_config()
    assert cfg == {**k.layers.InputLayer(shape=(3,), name="x").get_config(),
                   "batch_shape": [None, 3]}
