"""Keras 3 contracts a user relies on without knowing it (issue 12): each test is
written the way a Keras program hits the contract; Keras itself (torch backend)
is an optional oracle where it helps."""

import os
import warnings

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
