"""Models: Model (functional or subclassed), Sequential, and loading."""

from fastnet.models.functional import Functional
from fastnet.models.model import Model
from fastnet.models.sequential import Sequential


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):  # noqa: A002
    from fastnet import saving

    return saving.load_model(filepath, custom_objects=custom_objects, compile=compile,
                             safe_mode=safe_mode)


def save_model(model, filepath, overwrite=True, zipped=None, **kwargs):
    """As keras.models.save_model / model.save: a `.keras` zip (``zipped=False``: a directory)
    or a legacy `.h5`."""
    from fastnet import saving

    return saving.save_model(model, filepath, overwrite=overwrite,
                             zipped=True if zipped is None else zipped, **kwargs)


def clone_model(model, input_tensors=None, clone_function=None, call_function=None,
                recursive=False, **kwargs):
    from fastnet import saving

    return saving.clone_model(model, input_tensors, clone_function, call_function, recursive,
                              **kwargs)


def model_from_json(json_string, custom_objects=None):
    """A model (freshly initialized weights) from Model.to_json()'s string."""
    import json

    from fastnet.saving.serialization_lib import deserialize_keras_object

    return deserialize_keras_object(json.loads(json_string), custom_objects=custom_objects)


def model_from_config(config, custom_objects=None):
    """A model from its config dict (serialize_keras_object's format)."""
    if not isinstance(config, dict):
        raise TypeError(f"model_from_config expects a dict; received: {type(config).__name__}. "
                        "For a JSON string use model_from_json.")
    from fastnet.saving.serialization_lib import deserialize_keras_object

    return deserialize_keras_object(config, custom_objects=custom_objects)


__all__ = ["Model", "Sequential", "Functional", "load_model", "save_model", "clone_model", "model_from_json",
           "model_from_config"]
