"""The registry of custom objects, as keras.saving's: ``register_keras_serializable``,
``get_custom_objects``, ``custom_object_scope``, ``get_registered_name`` and
``get_registered_object``.

A registered class or function is stored under ``"package>name"``; configs name
it by that key in ``registered_name``, so a file written with a registered class
loads without ``custom_objects``. Objects given to a ``custom_object_scope`` are
visible to every deserializer (layers, losses, activations, ...) inside it.
"""

from __future__ import annotations

import inspect
import threading

GLOBAL_CUSTOM_OBJECTS: dict = {}
GLOBAL_CUSTOM_NAMES: dict = {}

_local = threading.local()


def _scope_dict():
    return getattr(_local, "scope", {})


class CustomObjectScope:
    """``with custom_object_scope({"name": obj}):`` makes the objects visible to
    deserialization (``load_model``, ``from_config``, ``deserialize_keras_object``)."""

    def __init__(self, custom_objects):
        if custom_objects is not None and not isinstance(custom_objects, dict):
            raise TypeError("custom_object_scope expects a dict of {name: object}, received: "
                            f"custom_objects={custom_objects!r}")
        self.custom_objects = dict(custom_objects or {})
        self.backup = None

    def __enter__(self):
        self.backup = dict(_scope_dict())
        _local.scope = {**self.backup, **self.custom_objects}
        return self

    def __exit__(self, *exc):
        _local.scope = self.backup
        return False


custom_object_scope = CustomObjectScope


def get_custom_objects():
    """The global dict of registered objects (``"package>name"`` -> object); mutable.
    Objects of a ``custom_object_scope`` are not in it."""
    return GLOBAL_CUSTOM_OBJECTS


def register_keras_serializable(package="Custom", name=None):
    """Decorator registering a class or function as ``"package>name"`` (name defaults
    to the object's ``__name__``). Classes must define ``get_config``."""
    if not isinstance(package, str) or ">" in package:
        raise ValueError(f"register_keras_serializable: package must be a string without '>'. "
                         f"Received: package={package!r}")

    def decorator(arg):
        class_name = name if name is not None else getattr(arg, "__name__", None)
        if class_name is None:
            raise TypeError(f"register_keras_serializable: cannot register {arg!r}, which has "
                            "no __name__; pass name=")
        registered_name = f"{package}>{class_name}"
        if inspect.isclass(arg) and not hasattr(arg, "get_config"):
            raise ValueError("Cannot register a class that does not have a get_config() method.")
        GLOBAL_CUSTOM_OBJECTS[registered_name] = arg
        GLOBAL_CUSTOM_NAMES[arg] = registered_name
        return arg

    return decorator


def get_registered_name(obj):
    """The name ``obj`` is registered under, or its ``__name__`` when unregistered."""
    try:
        if obj in GLOBAL_CUSTOM_NAMES:
            return GLOBAL_CUSTOM_NAMES[obj]
    except TypeError:  # unhashable
        pass
    return obj.__name__


def get_registered_object(name, custom_objects=None, module_objects=None):
    """The object for ``name``: looked up in the active custom_object_scope, the global
    registry, then ``custom_objects``, then ``module_objects``; None if absent."""
    scope = _scope_dict()
    if name in scope:
        return scope[name]
    if name in GLOBAL_CUSTOM_OBJECTS:
        return GLOBAL_CUSTOM_OBJECTS[name]
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    if module_objects and name in module_objects:
        return module_objects[name]
    return None


def lookup(names, custom_objects=None, fuzzy=False):
    """The first of ``names`` (registered name, class name, ...) known to the scope,
    the registry or ``custom_objects``; with ``fuzzy`` a bare name also matches a
    ``"pkg>name"`` key when exactly one registered object has it. None if unknown."""
    for n in names:
        if isinstance(n, str):
            obj = get_registered_object(n, custom_objects)
            if obj is not None:
                return obj
    if not fuzzy:
        return None
    for n in names:
        if isinstance(n, str) and ">" not in n:
            hits = [v for k, v in {**GLOBAL_CUSTOM_OBJECTS, **_scope_dict()}.items()
                    if k.endswith(">" + n)]
            if len(hits) == 1:
                return hits[0]
    return None


__all__ = ["CustomObjectScope", "custom_object_scope", "get_custom_objects",
           "register_keras_serializable", "get_registered_name", "get_registered_object"]
