"""Activations by name or function, as keras.activations."""

from __future__ import annotations

from fastnet import ops
from fastnet.ops import nn as ops_nn


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    if negative_slope == 0.0 and max_value is None and threshold == 0.0:
        return ops.relu(x)
    x = ops.convert_to_tensor(x)
    y = ops.where(ops.greater(x, threshold), x, negative_slope * (x - threshold))
    if max_value is not None:
        y = ops.minimum(y, float(max_value))
    return y


def leaky_relu(x, negative_slope=0.2):
    return ops.leaky_relu(x, negative_slope)


def softmax(x, axis=-1):
    return ops.softmax(x, axis=axis)


def log_softmax(x, axis=-1):
    return ops.log_softmax(x, axis=axis)


def gelu(x, approximate=False):
    return ops.gelu(x, approximate=approximate)


def elu(x, alpha=1.0):
    return ops.elu(x, alpha)


relu6 = ops.relu6
selu = ops.selu
sigmoid = ops.sigmoid
hard_sigmoid = ops.hard_sigmoid
hard_silu = hard_swish = ops.hard_silu
tanh = ops.tanh
softplus = ops.softplus
softsign = ops.softsign
silu = swish = ops.silu
mish = ops_nn.mish
exponential = ops_nn.exponential


def linear(x):
    return x


# the Keras 3 activations beyond the classic set: one implementation each, in fastnet.ops.nn
celu = ops.celu
glu = ops.glu
hard_shrink = ops.hard_shrink
hard_tanh = ops.hard_tanh
log_sigmoid = ops.log_sigmoid
soft_shrink = ops.soft_shrink
sparse_plus = ops.sparse_plus
sparse_sigmoid = ops.sparse_sigmoid
sparsemax = ops.sparsemax
squareplus = ops.squareplus
tanh_shrink = ops.tanh_shrink
threshold = ops.threshold


_ALL = {
    "relu": relu, "relu6": relu6, "leaky_relu": leaky_relu, "elu": elu, "selu": selu,
    "gelu": gelu, "sigmoid": sigmoid, "hard_sigmoid": hard_sigmoid, "hard_silu": hard_silu,
    "hard_swish": hard_silu, "tanh": tanh, "softplus": softplus, "softsign": softsign,
    "silu": silu, "swish": silu, "mish": mish, "exponential": exponential, "linear": linear,
    "softmax": softmax, "log_softmax": log_softmax, "celu": celu, "glu": glu,
    "hard_shrink": hard_shrink, "hard_tanh": hard_tanh, "log_sigmoid": log_sigmoid,
    "soft_shrink": soft_shrink, "sparse_plus": sparse_plus, "sparse_sigmoid": sparse_sigmoid,
    "sparsemax": sparsemax, "squareplus": squareplus, "tanh_shrink": tanh_shrink,
    "threshold": threshold,
}


def get(identifier):
    if identifier is None:
        return linear
    if isinstance(identifier, dict):
        from fastnet.saving.serialization_lib import deserialize_keras_object

        return deserialize_keras_object(identifier)
    if isinstance(identifier, str):
        fn = _ALL.get(identifier) or _registered(identifier)
        if fn is None:
            raise ValueError(f"Unknown activation function: {identifier!r}. Known: {sorted(_ALL)}")
        return fn
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret activation function identifier: {identifier!r}")


def deserialize(config, custom_objects=None):
    """The activation function a config names (Keras's name string or its
    ``{"class_name": "function", "config": name}`` dict; custom and registered names
    too), as keras.activations.deserialize."""
    from fastnet.saving.serialization_lib import deserialize_keras_object

    fn = deserialize_keras_object(config, custom_objects=custom_objects, module_objects=_ALL)
    if isinstance(fn, str):
        fn = _ALL.get(fn) or _registered(fn)
    if not callable(fn):
        raise ValueError(f"Unknown activation function: {config!r}. Known: {sorted(_ALL)}")
    return fn


def _registered(name):
    from fastnet.saving import object_registration

    return object_registration.lookup([name], fuzzy=True)


def serialize(fn):
    for name, f in _ALL.items():
        if f is fn:
            return name
    from fastnet.saving import object_registration

    if getattr(fn, "get_config", None) is not None and not isinstance(fn, type):
        from fastnet.saving.serialization_lib import serialize_keras_object

        return serialize_keras_object(fn)
    return object_registration.get_registered_name(fn) if hasattr(fn, "__name__") else str(fn)
