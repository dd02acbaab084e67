"""to_categorical and normalize, as keras.utils."""

from __future__ import annotations

import numpy as np


def to_categorical(x, num_classes=None):
    """Converts a class vector (integers) to a one-hot matrix: float64 for NumPy / Python
    input and float32 for a Tensor, as Keras 3 (its NumPy path uses np.zeros, its tensor
    path ops.one_hot).

    Shape ``(..., 1)`` inputs are squeezed first, as Keras. Raises ValueError
    for negative labels or labels >= num_classes.
    """
    from fastnet.backend.tensor import Tensor

    out_dtype = np.float32 if isinstance(x, Tensor) else np.float64
    y = np.asarray(x)
    if y.dtype.kind == "f":
        if not np.all(np.equal(np.mod(y, 1), 0)):
            raise ValueError("to_categorical: labels must be integers, got non-integral floats")
        y = y.astype(np.int64)
    elif y.dtype.kind not in "iub":
        raise TypeError(f"to_categorical: labels must be integers, got dtype {y.dtype}")
    if y.ndim > 1 and y.shape[-1] == 1:
        y = y.reshape(y.shape[:-1])
    y = y.astype(np.int64)
    if y.size and y.min() < 0:
        raise ValueError(f"to_categorical: labels must be >= 0, got {int(y.min())}")
    if num_classes is None:
        num_classes = int(y.max()) + 1 if y.size else 0
    elif y.size and y.max() >= num_classes:
        raise ValueError(f"to_categorical: label {int(y.max())} out of range for "
                         f"num_classes={num_classes}")
    out = np.zeros(y.shape + (num_classes,), dtype=out_dtype)
    np.put_along_axis(out, y[..., None], 1.0, axis=-1)
    return out


def normalize(x, axis=-1, order=2):
    """Scales `x` to unit `order`-norm along `axis` (zero vectors stay zero)."""
    x = np.asarray(x, dtype=np.float32)
    norm = np.linalg.norm(x, ord=order, axis=axis, keepdims=True)
    norm[norm == 0] = 1
    return x / norm
