"""Weight constraints, as keras.constraints (applied after each optimizer update)."""

from __future__ import annotations

import numpy as np

from fastnet._object_config import deserialize_object, get_object, serialize_object


def _eps():
    from fastnet.backend import epsilon

    return epsilon()


def _axis(axis):
    return tuple(axis) if isinstance(axis, list) else axis


class Constraint:
    def __call__(self, w):
        return w

    def get_config(self):
        return {}


class NonNeg(Constraint):
    def __call__(self, w):
        return np.maximum(w, 0)


class MaxNorm(Constraint):
    def __init__(self, max_value=2, axis=0):
        self.max_value, self.axis = max_value, axis

    def __call__(self, w):
        norms = np.sqrt(np.sum(np.square(w), axis=_axis(self.axis), keepdims=True))
        desired = np.clip(norms, 0, self.max_value)
        return w * (desired / (_eps() + norms))

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class UnitNorm(Constraint):
    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w):
        return w / (_eps() + np.sqrt(np.sum(np.square(w), axis=_axis(self.axis), keepdims=True)))

    def get_config(self):
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value, self.max_value, self.rate, self.axis = min_value, max_value, rate, axis

    def __call__(self, w):
        norms = np.sqrt(np.sum(np.square(w), axis=_axis(self.axis), keepdims=True))
        desired = self.rate * np.clip(norms, self.min_value, self.max_value) + (1 - self.rate) * norms
        return w * (desired / (_eps() + norms))

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate,
                "axis": self.axis}


# Keras 3's lowercase names for the same classes
non_neg, max_norm, unit_norm, min_max_norm = NonNeg, MaxNorm, UnitNorm, MinMaxNorm

_ALL = {"non_neg": NonNeg, "NonNeg": NonNeg, "max_norm": MaxNorm, "MaxNorm": MaxNorm,
        "unit_norm": UnitNorm, "UnitNorm": UnitNorm, "min_max_norm": MinMaxNorm,
        "MinMaxNorm": MinMaxNorm}


def get(identifier):
    return get_object("constraint", identifier, Constraint, _ALL)


def deserialize(config, custom_objects=None):
    """A constraint from its serialized form (``serialize``'s dict, or a name)."""
    return deserialize_object("constraint", config, _ALL, custom_objects)


def serialize(constraint):
    if constraint is None:
        return None
    if not isinstance(constraint, Constraint):
        raise ValueError(f"Cannot serialize the constraint {constraint!r}: only "
                         "fastnet.constraints.Constraint subclasses have a config")
    return serialize_object(constraint, "keras.constraints", _ALL)
