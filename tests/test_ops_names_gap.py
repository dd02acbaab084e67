"""The Keras 3 names of keras.ops (and its nn, image, linalg, numpy submodules) and
keras.activations that fastnet still lacks, pinned against a checked-in copy of Keras
3.15's names (tests/fixtures/keras_ops_names.json, written from `dir()` of each module), so
the gap is visible without Keras and can only shrink on purpose; cross-checked against the
installed Keras when there is one."""

import json
import os

import pytest

import fastnet

_FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "keras_ops_names.json")

# Every remaining name needs complex tensors, which fastnet does not have (float/int/bool
# only): eig (complex eigenpairs of a general matrix), polar, view_as_complex,
# view_as_real. fft/rfft/stft/istft use Keras's (real, imag) tuples instead.
STILL_MISSING = {
    "ops": ["eig", "polar", "view_as_complex", "view_as_real"],
    "ops.nn": ["polar"],
    "ops.image": [],
    "ops.linalg": ["eig"],
    "ops.numpy": [],
    "activations": [],
}


def _module(root, path):
    for part in path.split("."):
        root = getattr(root, part)
    return root


def _missing(names, path):
    have = set(dir(_module(fastnet, path)))
    return sorted(n for n in names if n not in have)


def _checked_in():
    with open(_FIXTURE, encoding="utf-8") as f:
        return json.load(f)


@pytest.mark.parametrize("path", sorted(STILL_MISSING))
def test_remaining_keras_names(path):
    names = _checked_in()[path]
    assert _missing(names, path) == STILL_MISSING[path], (
        "the Keras names fastnet lacks changed: update STILL_MISSING (it may only shrink)")


@pytest.mark.parametrize("path", sorted(STILL_MISSING))
def test_every_present_name_is_a_real_function(path):
    mod = _module(fastnet, path)
    for name in _checked_in()[path]:
        if name in STILL_MISSING[path]:
            continue
        obj = getattr(mod, name)
        assert callable(obj) or type(obj).__name__ == "module", f"{path}.{name}"


def test_checked_in_names_match_installed_keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    data = _checked_in()
    for path in STILL_MISSING:
        live = sorted(n for n in dir(_module(keras, path)) if not n.startswith("_"))
        if keras.__version__.startswith(data["keras_version"].rsplit(".", 1)[0] + "."):
            assert live == data[path], f"keras.{path} differs from the checked-in list"
        # whatever the version, fastnet's gap against the live Keras is the pinned one plus
        # names this Keras added after the checked-in list
        new = set(live) - set(data[path])
        assert set(_missing(live, path)) - new == set(STILL_MISSING[path]) & set(live)
