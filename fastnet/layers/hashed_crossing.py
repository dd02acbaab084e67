"""HashedCrossing, as keras.layers.HashedCrossing: crosses scalar categorical features into
``num_bins`` bins with TensorFlow's ``tf.sparse.cross_hashed`` hash (what Keras calls),
bit-exact: ``h = 0xDECAFCAFFE; h = FingerprintCat64(h, f_i)`` over the features, ``f_i``
the integer value (as uint64) or the string's Fingerprint64, then ``h % num_bins``.

Each distinct string is fingerprinted once (fastnet.layers.hashing.fingerprint64); the
concatenation runs vectorised on uint64 numpy arrays.
"""

from __future__ import annotations

import numpy as np

from fastnet.backend.symbolic import KerasTensor
from fastnet.backend.tensor import Tensor
from fastnet.layers.hashing import fingerprint64
from fastnet.layers.layer import Layer

_HASH_KEY = np.uint64(0xDECAFCAFFE)  # tf.sparse.cross_hashed's default hash_key
_MUL = np.uint64(0xC6A4A7935BD1E995)
_SHIFT = np.uint64(47)


def _shift_mix(v):
    return v ^ (v >> _SHIFT)


def fingerprint_cat64(fp1, fp2):
    """TensorFlow's FingerprintCat64 on uint64 arrays (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        result = fp1 ^ _MUL
        result = result ^ (_shift_mix(fp2 * _MUL) * _MUL)
        result = result * _MUL
        result = _shift_mix(result) * _MUL
        return _shift_mix(result)


def _feature_hashes(values, layer):
    arr = np.asarray(values.numpy() if isinstance(values, Tensor) else values)
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64).view(np.uint64)
    if arr.dtype.kind in "USO":
        flat = arr.reshape(-1)
        uniq, inverse = np.unique(flat.astype(object).astype(str) if arr.dtype.kind != "O"
                                  else flat, return_inverse=True)
        fps = np.array([fingerprint64(u if isinstance(u, bytes) else str(u).encode("utf-8"))
                        for u in uniq], dtype=np.uint64)
        return fps[inverse].reshape(arr.shape)
    raise ValueError(f"HashedCrossing {layer.name!r}: all inputs should have an integer or "
                     f"string dtype. Received an input of dtype {arr.dtype}")


class HashedCrossing(Layer):
    """``layer((feature_a, feature_b, ...))`` on equal-shaped scalar features (shape ``()``,
    ``(batch,)`` or ``(batch, 1)``), integers or strings: the crossed bin (``output_mode
    ="int"``, int64) or its one-hot encoding (``"one_hot"``, float32)."""

    def __init__(self, num_bins, output_mode="int", sparse=False, name=None, dtype=None,
                 **kwargs):
        if isinstance(dtype, dict):
            dtype = dtype.get("config", {}).get("name")
        if output_mode == "int" and dtype is None:
            dtype = "int64"
        super().__init__(name=name, dtype=dtype, **kwargs)
        if isinstance(num_bins, bool) or not isinstance(num_bins, (int, np.integer)) \
                or num_bins <= 0:
            raise ValueError(f"HashedCrossing: `num_bins` must be a positive integer. "
                             f"Received: num_bins={num_bins!r}")
        if output_mode not in ("int", "one_hot"):
            raise ValueError("Invalid value for argument `output_mode`. Expected one of "
                             f"('int', 'one_hot'). Received: output_mode={output_mode}")
        if sparse:
            raise ValueError("HashedCrossing: `sparse=True` can only be used with the "
                             "TensorFlow backend (fastnet has no sparse tensors)")
        self.num_bins = int(num_bins)
        self.output_mode = output_mode
        self.sparse = bool(sparse)

    def _check(self, inputs):
        if not isinstance(inputs, (list, tuple)):
            raise ValueError("`HashedCrossing` should be called on a list or tuple of inputs. "
                             f"Received: inputs={inputs}")
        if len(inputs) < 2:
            raise ValueError("`HashedCrossing` should be called on at least two inputs. "
                             f"Received: inputs={inputs}")
        first = tuple(np.shape(inputs[0]) if not hasattr(inputs[0], "shape")
                      else inputs[0].shape)
        if len(first) > 2 or (len(first) == 2 and first[-1] != 1):
            raise ValueError("All `HashedCrossing` inputs should have shape `()`, "
                             f"`(batch_size)` or `(batch_size, 1)`. Received shape {first}")
        for x in inputs[1:]:
            shape = tuple(x.shape) if hasattr(x, "shape") else np.shape(x)
            if shape != first:
                raise ValueError("All `HashedCrossing` inputs should have equal shape. "
                                 f"Received shapes {first} and {shape}")
        return first

    def __call__(self, *args, **kwargs):
        # string features are numpy str/bytes/object arrays, which Layer.__call__ would try
        # to make tensors of: as Hashing, an eager call runs call() directly
        inputs = args[0] if args else kwargs.get("inputs")
        if isinstance(inputs, (list, tuple)) and any(isinstance(x, KerasTensor)
                                                     for x in inputs):
            return super().__call__(*args, **kwargs)
        return self.call(inputs)

    def call(self, inputs):
        shape = self._check(inputs)
        h = np.full(shape, _HASH_KEY, dtype=np.uint64)
        for x in inputs:
            h = fingerprint_cat64(h, _feature_hashes(x, self))
        bins = (h % np.uint64(self.num_bins)).astype(np.int64)
        if self.output_mode == "int":
            return Tensor(bins.astype(self.dtype))
        flat = bins.reshape(-1) if len(shape) == 2 else bins
        out = np.zeros(np.shape(flat) + (self.num_bins,), np.float32)
        np.put_along_axis(out, np.asarray(flat)[..., None], 1.0, axis=-1)
        return Tensor(out.astype(self.dtype if self.dtype.startswith("float") else "float32"))

    def compute_output_shape(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) < 2 or not all(
                isinstance(s, (list, tuple)) for s in input_shape):
            raise ValueError("Expected as input a list/tuple of 2 tensors. Received "
                             f"input_shape={input_shape}")
        first = tuple(input_shape[0])
        if self.output_mode == "int":
            return first
        if first and first[-1] == 1:
            return first[:-1] + (self.num_bins,)
        return first + (self.num_bins,)

    def compute_output_spec(self, inputs):
        shape = self.compute_output_shape([tuple(x.shape) for x in inputs])
        dtype = self.dtype if self.output_mode == "int" else "float32"
        return KerasTensor(shape, dtype=dtype)

    def get_config(self):
        return {"num_bins": self.num_bins, "output_mode": self.output_mode,
                "sparse": self.sparse, "name": self.name, "dtype": self.dtype}


__all__ = ["HashedCrossing"]
