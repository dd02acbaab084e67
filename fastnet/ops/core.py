"""The op-definition mechanism shared by every fastnet.ops module.

An op computes its output with numpy or one of our kernels, wraps it in a
Tensor, and — only when a GradientTape is recording — registers a backward
closure ``g -> [grad per input]`` written with fastnet.ops (so gradients are
differentiable again). ``@op`` also routes calls on symbolic KerasTensors
(functional-API graph building) to an ``OpFunction`` node (fastnet/ops/operation.py)
whose output spec comes from the op's rule in fastnet/ops/_specs.py. ``make`` and
``op`` run on every call, so they are compiled (csrc/cython/_core.pyx).
"""

from __future__ import annotations

import numpy as np

from fastnet._core import make, op  # noqa: F401  (compiled: csrc/cython/_core.pyx)
from fastnet.backend.tensor import Tensor, floatx, standardize_dtype


def convert_to_tensor(x, dtype=None, sparse=None, ragged=None):
    """A Tensor from a Tensor, numpy array or Python value.

    Python floats and float64 arrays become float32 (Keras's floatx) unless a
    dtype is given; Python ints become int32; bools bool.
    """
    if sparse:
        raise NotImplementedError("convert_to_tensor: `sparse=True` (sparse tensors) is not "
                                  "implemented in fastnet")
    if ragged:  # as Keras on backends without ragged tensors (torch, jax, numpy)
        raise ValueError("convert_to_tensor: `ragged=True` is not supported: fastnet has no "
                         "ragged tensors")
    if isinstance(x, Tensor):
        if dtype is not None and x.dtype != standardize_dtype(dtype):
            return cast(x, dtype)
        return x
    if dtype is not None:
        return Tensor(np.asarray(x, dtype=standardize_dtype(dtype)))
    if isinstance(x, np.ndarray):
        if x.dtype == np.float64:
            return Tensor(x.astype(floatx()))
        if x.dtype.kind in "fiub":
            return Tensor(x)
        raise TypeError(f"convert_to_tensor: unsupported dtype {x.dtype}")
    if isinstance(x, bool):
        return Tensor(np.asarray(x, dtype=np.bool_))
    if isinstance(x, int):
        return Tensor(np.asarray(x, dtype=np.int32))
    if isinstance(x, float):
        return Tensor(np.asarray(x, dtype=floatx()))
    if hasattr(x, "_keras_history") or type(x).__name__ == "KerasTensor":
        raise TypeError("convert_to_tensor: a symbolic KerasTensor has no value; call the model "
                        "on real data")
    arr = np.asarray(x)
    if arr.dtype == object:
        raise TypeError(f"convert_to_tensor: cannot convert {type(x).__name__} to a tensor")
    if arr.dtype == np.float64:
        arr = arr.astype(floatx())
    elif arr.dtype == np.int64 and not isinstance(x, np.generic):
        arr = arr.astype(np.int32)
    return Tensor(arr)


def _t(x):
    """Fast conversion for op inputs (scalars keep the other operand's dtype)."""
    if isinstance(x, Tensor):
        return x
    return convert_to_tensor(x)


def _v(x):
    """The numpy value of a Tensor or a plain value."""
    return x._value if isinstance(x, Tensor) else x


def convert_to_numpy(x):
    if isinstance(x, Tensor):
        return np.array(x._value)
    return np.asarray(x)


def unbroadcast(g, shape):
    """Sums a broadcast gradient back to `shape` (differentiable)."""
    gshape = g._value.shape
    if gshape == shape:
        return g
    from fastnet.ops import math as m

    shape = tuple(shape)
    lead = len(gshape) - len(shape)
    axes = list(range(lead))
    for i, s in enumerate(shape):
        if s == 1 and gshape[lead + i] != 1:
            axes.append(lead + i)
    if axes:
        g = m.sum(g, axis=tuple(axes), keepdims=False)
    return m.reshape(g, shape) if tuple(g.shape) != shape else g


def cast(x, dtype):
    from fastnet.ops.math import cast as _cast

    return _cast(x, dtype)


# The public ops of this module (Keras 3 names; fastnet.ops re-exports exactly these).
__all__ = ["convert_to_numpy", "convert_to_tensor"]
