"""Models: Model (functional or subclassed), Sequential, and loading."""

from fastnet.models.functional import Functional
from fastnet.models.model import Model
from fastnet.models.sequential import Sequential


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):  # noqa: A002
    from fastnet import saving

    return saving.load_model(filepath, custom_objects=custom_objects, compile=compile,
                             safe_mode=safe_mode)


def model_from_json(json_string, custom_objects=None):
    """Rebuilds a model (architecture only, freshly initialized) from ``model.to_json()``."""
    import json

    from fastnet.saving.serialization import deserialize_layer

    return deserialize_layer(json.loads(json_string), custom_objects)


def clone_model(model, input_tensors=None, clone_function=None):
    from fastnet import saving

    return saving.clone_model(model, input_tensors, clone_function)


__all__ = ["Model", "Sequential", "Functional", "load_model", "clone_model",
           "model_from_json"]
