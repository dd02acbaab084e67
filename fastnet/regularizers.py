"""Weight regularizers, as keras.regularizers: l1, l2, l1_l2, orthogonal."""

from __future__ import annotations

import math

from fastnet import ops
from fastnet._object_config import deserialize_object, get_object, serialize_object


class Regularizer:
    def __call__(self, x):
        return 0.0

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class L1L2(Regularizer):
    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = float(l1)
        self.l2 = float(l2)

    def __call__(self, x):
        total = 0.0
        if self.l1:
            total = total + self.l1 * ops.sum(ops.abs(x))
        if self.l2:
            total = total + self.l2 * ops.sum(ops.square(x))
        return total

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    def __init__(self, l1=0.01):
        super().__init__(l1=l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    def __init__(self, l2=0.01):
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}


def _non_negative_float(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            not math.isfinite(value) or value < 0:
        raise ValueError(f"Invalid value for argument {name}: expected a non-negative float. "
                         f"Received: {name}={value!r}")
    return float(value)


class OrthogonalRegularizer(Regularizer):
    """Keras 3's penalty on non-orthogonal rows (``mode="rows"``) or columns of a 2-D
    weight: ``factor * 0.5 * sum |offdiag(N N^T)| / (n (n - 1) / 2)`` with N the
    L2-normalized rows (columns)."""

    def __init__(self, factor=0.01, mode="rows"):
        self.factor = _non_negative_float(factor, "factor")
        if mode not in ("rows", "columns"):
            raise ValueError("Invalid value for argument `mode`. Expected one of "
                             f'{{"rows", "columns"}}. Received: mode={mode!r}')
        self.mode = mode

    def __call__(self, x):
        if len(x.shape) != 2:
            raise ValueError("Inputs to OrthogonalRegularizer must have rank 2. Received: "
                             f"inputs.shape={tuple(x.shape)}")
        from fastnet.backend import epsilon

        x = ops.convert_to_tensor(x)
        axis = 1 if self.mode == "rows" else 0
        inv_norm = ops.minimum(ops.rsqrt(ops.sum(ops.square(x), axis=axis, keepdims=True)),
                               1.0 / epsilon())
        x = x * inv_norm
        product = ops.matmul(x, ops.transpose(x)) if self.mode == "rows" else \
            ops.matmul(ops.transpose(x), x)
        size = x.shape[0] if self.mode == "rows" else x.shape[1]
        off_diagonal = product * (1.0 - ops.eye(size, dtype=x.dtype))
        num_pairs = size * (size - 1.0) / 2.0
        return self.factor * 0.5 * ops.sum(ops.absolute(off_diagonal)) / num_pairs

    def get_config(self):
        return {"factor": self.factor, "mode": self.mode}


# Keras 3's lowercase names for the classes (keras.regularizers.l1_l2 is L1L2, whose
# defaults are 0.0; tf.keras 2's l1_l2 function defaulted to 0.01)
l1 = L1
l2 = L2
l1_l2 = L1L2
orthogonal_regularizer = OrthogonalRegularizer

_ALL = {"L1L2": L1L2, "L1": L1, "L2": L2, "l1": L1, "l2": L2, "l1_l2": L1L2,
        "OrthogonalRegularizer": OrthogonalRegularizer,
        "orthogonal_regularizer": OrthogonalRegularizer}


def get(identifier):
    return get_object("regularizer", identifier, Regularizer, _ALL)


def deserialize(config, custom_objects=None):
    """A regularizer from its serialized form (``serialize``'s dict, or a name)."""
    return deserialize_object("regularizer", config, _ALL, custom_objects)


def serialize(reg):
    if reg is None:
        return None
    return serialize_object(reg, "keras.regularizers", _ALL)
