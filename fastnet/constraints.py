"""Weight constraints, as keras.constraints (applied after each optimizer update)."""

from __future__ import annotations

import numpy as np


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
    if identifier is None or isinstance(identifier, Constraint) or callable(identifier):
        return identifier
    if isinstance(identifier, str) and identifier in _ALL:
        return _ALL[identifier]()
    if isinstance(identifier, dict) and "class_name" in identifier:
        # a built-in, or a class registered with @register_keras_serializable (its
        # "package>Name" in registered_name) or given in a custom_object_scope
        from fastnet.saving import object_registration

        cls = object_registration.lookup([identifier.get("registered_name"),
                                          identifier["class_name"]]) or \
            _ALL.get(identifier["class_name"])
        if cls is not None:
            config = dict(identifier.get("config") or {})
            return cls.from_config(config) if hasattr(cls, "from_config") else cls(**config)
    raise ValueError(f"Could not interpret constraint identifier: {identifier!r}")


def deserialize(config, custom_objects=None):
    """A constraint from its serialized form (``serialize``'s dict, or a name)."""
    from fastnet.saving import object_registration

    if isinstance(config, str):
        config = {"class_name": config, "config": {}}
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Could not interpret constraint config: {config!r}")
    name = config["class_name"]
    cls = object_registration.lookup([config.get("registered_name"), name], custom_objects) \
        or _ALL.get(name)
    if cls is None:
        raise ValueError(f"Unknown constraint: {name!r}; register it with "
                         "@register_keras_serializable or pass it in custom_objects")
    kwargs = dict(config.get("config") or {})
    return cls.from_config(kwargs) if hasattr(cls, "from_config") else cls(**kwargs)


def serialize(constraint):
    if constraint is None:
        return None
    if not isinstance(constraint, Constraint):
        raise ValueError(f"Cannot serialize the constraint {constraint!r}: only "
                         "fastnet.constraints.Constraint subclasses have a config")
    return {"module": "keras.constraints", "class_name": type(constraint).__name__,
            "config": constraint.get_config(), "registered_name": None}
