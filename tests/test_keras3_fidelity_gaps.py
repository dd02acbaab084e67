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
