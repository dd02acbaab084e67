"""get/deserialize/serialize as keras.constraints and keras.regularizers do them alike: a
name of a built-in, or Keras's serialized dict ``{"module", "class_name", "config",
"registered_name"}`` of a built-in or of a class registered with
@register_keras_serializable (or given in custom_objects). One copy, so that both modules
read and write the same dicts."""

from __future__ import annotations


def _from_dict(kind, config, builtins, custom_objects=None):
    from fastnet.saving import object_registration

    name = config["class_name"]
    cls = object_registration.lookup([config.get("registered_name"), name], custom_objects) \
        or builtins.get(name)
    if cls is None:
        raise ValueError(f"Unknown {kind}: {name!r}; register it with "
                         "@register_keras_serializable or pass it in custom_objects")
    kwargs = dict(config.get("config") or {})
    return cls.from_config(kwargs) if hasattr(cls, "from_config") else cls(**kwargs)


def get_object(kind, identifier, base, builtins):
    """``identifier`` as a ``kind`` object: None, an instance of ``base`` or a callable as
    it is; a built-in's name (a new one with its defaults) or a serialized dict."""
    if identifier is None or isinstance(identifier, base) or callable(identifier):
        return identifier
    if isinstance(identifier, str) and identifier in builtins:
        return builtins[identifier]()
    if isinstance(identifier, dict) and "class_name" in identifier:
        return _from_dict(kind, identifier, builtins)
    raise ValueError(f"Could not interpret {kind} identifier: {identifier!r}")


def deserialize_object(kind, config, builtins, custom_objects=None):
    """A ``kind`` object from its serialized dict, or from a class name."""
    if isinstance(config, str):
        config = {"class_name": config, "config": {}}
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Could not interpret {kind} config: {config!r}")
    return _from_dict(kind, config, builtins, custom_objects)


def serialize_object(obj, module, builtins):
    """Keras's dict for ``obj``: a built-in under ``module`` ("keras.constraints"), any other
    class under its own module with its registered name."""
    if type(obj).__name__ in builtins:
        return {"module": module, "class_name": type(obj).__name__,
                "config": obj.get_config(), "registered_name": None}
    from fastnet.saving import object_registration

    return {"module": type(obj).__module__, "class_name": type(obj).__name__,
            "config": obj.get_config(),
            "registered_name": object_registration.get_registered_name(type(obj))}
