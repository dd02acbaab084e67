"""Keras 3 as an oracle in the tests: on the torch backend, or the test is skipped."""

import os

import numpy as np
import pytest


def keras_or_skip():
    """The installed Keras 3 on the torch backend; skips the calling test otherwise."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    k = pytest.importorskip("keras")
    if k.backend.backend() != "torch":
        pytest.skip("Keras oracle runs on the torch backend")
    return k


def to_numpy(t):
    """A Keras (torch) tensor or a fastnet/numpy value as a numpy array."""
    return np.asarray(t.detach().cpu().numpy() if hasattr(t, "detach") else t)
