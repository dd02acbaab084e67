"""``serialize_keras_object`` / ``deserialize_keras_object``: any fastnet object
(layer, model, loss, metric, optimizer, initializer, regularizer, constraint,
schedule, activation function) or registered custom object to Keras 3's config
dict and back.

Built-ins serialize under their public Keras module (``"keras.layers"``,
``"keras.losses"`` ...) with ``registered_name`` None; other classes under their
Python module with their registered name (``"package>Name"``). Deserializing
never imports modules named in a config: classes come from fastnet's public
namespaces, the registry, a custom_object_scope or ``custom_objects``.
"""

from __future__ import annotations

import inspect
import threading
import types

import numpy as np

from fastnet.saving import object_registration

PLAIN_TYPES = (str, int, float, bool)

_safe = threading.local()
_UNSAFE_ENABLED = [False]


def enable_unsafe_deserialization():
    """Lets every later load run Lambda bytecode from files (as safe_mode=False)."""
    _UNSAFE_ENABLED[0] = True


def in_safe_mode():
    """False inside a load with safe_mode=False (or after enable_unsafe_deserialization),
    otherwise True: unset means safe."""
    if _UNSAFE_ENABLED[0]:
        return False
    mode = getattr(_safe, "mode", None)
    return True if mode is None else bool(mode)


class SafeModeScope:
    def __init__(self, safe_mode=True):
        self.safe_mode = safe_mode

    def __enter__(self):
        self.previous = getattr(_safe, "mode", None)
        _safe.mode = self.safe_mode
        return self

    def __exit__(self, *exc):
        _safe.mode = self.previous
        return False


LAMBDA_REFUSED = (
    "Requested the deserialization of a Python lambda (a Lambda layer function stored as "
    "bytecode in the file). Loading it runs that code, so safe_mode=True (the default) refuses "
    "it. If you trust the file, opt in with load_model(path, safe_mode=False) or "
    "fastnet.config.enable_unsafe_deserialization().")

# Keras's public modules -> fastnet's (attribute paths under the fastnet package).
_PUBLIC_MODULES = {
    "keras.layers": "layers", "keras.models": "models", "keras.losses": "losses",
    "keras.metrics": "metrics", "keras.optimizers": "optimizers",
    "keras.optimizers.schedules": "optimizers.schedules", "keras.initializers": "initializers",
    "keras.regularizers": "regularizers", "keras.constraints": "constraints",
    "keras.activations": "activations", "keras.utils": "utils",
    "keras.src.layers.preprocessing.feature_space": "utils.feature_space", "keras": "",
}


def _fastnet_module(path):
    import fastnet

    mod = fastnet
    for part in filter(None, path.split(".")):
        mod = getattr(mod, part, None)
        if mod is None:
            return None
    return mod


def _public_name(obj):
    """``(keras module, name)`` when obj is one of fastnet's public built-ins."""
    if not getattr(obj, "__module__", "").startswith("fastnet"):
        return None
    name = getattr(obj, "__name__", None)
    for kmod, path in _PUBLIC_MODULES.items():
        mod = _fastnet_module(path) if path else None
        if name and mod is not None and getattr(mod, name, None) is obj:
            return kmod, name
    return None


def _public_object(module, name):
    path = _PUBLIC_MODULES.get(module)
    if path is None:
        return None
    mod = _fastnet_module(path)
    obj = getattr(mod, name, None) if mod is not None else None
    if obj is None or isinstance(obj, types.ModuleType):
        return None
    return obj


def _builtin_by_name(name):
    for kmod in ("keras.layers", "keras.models", "keras.losses", "keras.metrics",
                 "keras.optimizers", "keras.optimizers.schedules", "keras.initializers",
                 "keras.regularizers", "keras.constraints", "keras.activations"):
        obj = _public_object(kmod, name)
        if obj is not None:
            return obj
    return None


def serialize_dict(obj):
    return {key: serialize_keras_object(value) for key, value in obj.items()}


def _inner_config(obj):
    if isinstance(obj, types.FunctionType):
        return object_registration.get_registered_name(obj)
    if hasattr(obj, "get_config"):
        config = obj.get_config()
        if not isinstance(config, dict):
            raise TypeError(f"The `get_config()` method of {obj} should return a dict. It "
                            f"returned: {config}")
        return serialize_dict(config)
    if hasattr(obj, "__name__"):
        return object_registration.get_registered_name(obj)
    raise TypeError(f"Cannot serialize object {obj} of type {type(obj)}. To be serializable, "
                    "a class must implement the `get_config()` method.")


def _add_build_and_compile(obj, config):
    get_build = getattr(obj, "get_build_config", None)
    if callable(get_build) and getattr(obj, "built", True):
        build = get_build()
        if build is not None:
            config["build_config"] = serialize_dict(build)
    if callable(getattr(obj, "get_compile_config", None)) and getattr(obj, "compiled", False):
        from fastnet.saving import _compile_config

        compile_config = _compile_config(obj)
        if compile_config is not None:
            config["compile_config"] = compile_config


def serialize_keras_object(obj):
    """A JSON-able dict for obj (see the module docstring); plain values pass through."""
    from fastnet.backend.symbolic import KerasTensor

    if obj is None or isinstance(obj, PLAIN_TYPES):
        return obj
    if isinstance(obj, (list, tuple)):
        out = [serialize_keras_object(x) for x in obj]
        return tuple(out) if isinstance(obj, tuple) else out
    if isinstance(obj, dict):
        return serialize_dict(obj)
    if isinstance(obj, bytes):
        return {"class_name": "__bytes__", "config": {"value": obj.decode("utf-8")}}
    if isinstance(obj, slice):
        return {"class_name": "__slice__",
                "config": {"start": serialize_keras_object(obj.start),
                           "stop": serialize_keras_object(obj.stop),
                           "step": serialize_keras_object(obj.step)}}
    if obj is Ellipsis:
        return {"class_name": "__ellipsis__", "config": {}}
    if isinstance(obj, KerasTensor):
        history = getattr(obj, "_keras_history", None)
        if history:
            history = [history[0].name, *list(history)[1:]]
        return {"class_name": "__keras_tensor__",
                "config": {"shape": list(obj.shape), "dtype": obj.dtype,
                           "keras_history": history}}
    if isinstance(obj, np.ndarray) and obj.ndim > 0:
        return {"class_name": "__numpy__",
                "config": {"value": obj.tolist(), "dtype": str(obj.dtype)}}
    if isinstance(obj, (np.generic, np.ndarray)):
        return obj.item()
    if isinstance(obj, np.dtype):
        return str(obj)
    if isinstance(obj, types.FunctionType) and obj.__name__ == "<lambda>":
        raise ValueError("Cannot serialize a lambda: fastnet never executes code from a "
                         "config. Use a named function registered with "
                         "@fastnet.saving.register_keras_serializable().")
    if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType)):
        # Keras 3 writes exactly this for built-in, registered and custom functions.
        return {"module": "builtins", "class_name": "function",
                "config": object_registration.get_registered_name(obj),
                "registered_name": "function"}
    from fastnet.layers.layer import Layer

    if isinstance(obj, Layer):  # the same config a .keras file holds
        from fastnet.saving import _model_config, serialization

        if hasattr(obj, "compile"):
            config = _model_config(obj)
            if config.get("compile_config") is None:
                config.pop("compile_config", None)
        else:
            config = serialization.serialize_layer(obj)
        if config.get("build_config") is None:
            config.pop("build_config", None)
        return config
    inner = _inner_config(obj)
    public = _public_name(type(obj))
    if public is not None:
        config = {"module": public[0], "class_name": public[1], "config": inner,
                  "registered_name": None}
    else:
        cls = type(obj)
        config = {"module": cls.__module__, "class_name": cls.__name__, "config": inner,
                  "registered_name": object_registration.get_registered_name(cls)}
    _add_build_and_compile(obj, config)
    return config


def _retrieve(name, registered_name, module, custom_objects, full_config, kind):
    names = [name, registered_name] if kind == "function" else [registered_name, name]
    obj = object_registration.lookup(names, custom_objects)
    if obj is None and module:
        obj = _public_object(module, name)
    if obj is None and (module is None or module == "builtins" or kind == "function" or
                        module.split(".")[0] in ("keras", "fastnet")):
        obj = _builtin_by_name(name)
    if obj is None:
        obj = object_registration.lookup(names, custom_objects, fuzzy=True)
    if obj is None:
        raise TypeError(f"Could not locate {kind} {name!r}. Make sure custom classes and "
                        "functions are decorated with "
                        "`@fastnet.saving.register_keras_serializable()` or passed in "
                        f"`custom_objects`. Full object config: {full_config}")
    return obj


def _deserialize_layer(cls, config, custom_objects):
    from fastnet.saving import _compile_from_config, _rebuild

    scoped = {**custom_objects, config.get("registered_name") or config["class_name"]: cls}
    model = _rebuild(dict(config), scoped)
    cc = config.get("compile_config")
    if cc and hasattr(model, "compile"):
        _compile_from_config(model, cc, custom_objects)
    return model


def deserialize_keras_object(config, custom_objects=None, safe_mode=True, **kwargs):
    """The object a ``serialize_keras_object`` config describes. A bare string is
    looked up among custom/registered objects (and returned as-is otherwise)."""
    from fastnet.backend.symbolic import KerasTensor

    module_objects = kwargs.pop("module_objects", None)
    custom_objects = {**(custom_objects or {}), **object_registration._scope_dict(),
                      **object_registration.GLOBAL_CUSTOM_OBJECTS}
    if config is None:
        return None
    if isinstance(config, str):
        if custom_objects.get(config) is not None:
            return custom_objects[config]
        if module_objects is not None and config in module_objects:
            obj = module_objects[config]
            return obj.from_config({}) if inspect.isclass(obj) else obj
        return config
    if isinstance(config, (list, tuple)):
        return [deserialize_keras_object(x, custom_objects, safe_mode, **kwargs)
                for x in config]
    if isinstance(config, PLAIN_TYPES):
        return config
    if not isinstance(config, dict):
        raise TypeError(f"Could not parse config: {config!r}")
    if "class_name" not in config or "config" not in config:
        return {k: deserialize_keras_object(v, custom_objects, safe_mode, **kwargs)
                for k, v in config.items()}
    class_name = config["class_name"]
    inner = config["config"] if config["config"] is not None else {}
    if class_name == "__keras_tensor__":
        t = KerasTensor(tuple(inner["shape"]), dtype=inner["dtype"])
        t._pre_serialization_keras_history = inner.get("keras_history")
        return t
    if class_name in ("__numpy__", "__tensor__"):
        return np.array(inner["value"], dtype=inner["dtype"])
    if class_name == "__bytes__":
        return inner["value"].encode("utf-8")
    if class_name == "__ellipsis__":
        return Ellipsis
    if class_name == "__slice__":
        return slice(*(deserialize_keras_object(inner[k], custom_objects, safe_mode)
                       for k in ("start", "stop", "step")))
    if class_name == "__lambda__":
        scoped = getattr(_safe, "mode", None)
        effective = scoped if scoped is not None else safe_mode
        if effective is not False and not _UNSAFE_ENABLED[0]:
            raise ValueError(LAMBDA_REFUSED)
        return func_load(inner)
    module = config.get("module")
    registered_name = config.get("registered_name") or class_name
    if module_objects is not None and module is None and class_name in module_objects and \
            object_registration.lookup([registered_name], custom_objects) is None:
        cls = module_objects[class_name]
    elif class_name == "function":
        if not isinstance(inner, str):
            raise TypeError(f"Expected 'config' to be a non-null str for a function, instead "
                            f"got {type(inner).__name__}. Full config: {config}")
        return _retrieve(inner, registered_name, module, custom_objects, config, "function")
    else:
        if not isinstance(inner, dict):
            raise TypeError(f"Expected 'config' to be a dict for {class_name}, instead got "
                            f"{type(inner).__name__}. Full config: {config}")
        cls = _retrieve(class_name, registered_name, module, custom_objects, config, "class")
    if isinstance(cls, types.FunctionType):
        return cls
    from fastnet.layers.layer import Layer

    if inspect.isclass(cls) and issubclass(cls, Layer):
        return _deserialize_layer(cls, config, custom_objects)
    if not hasattr(cls, "from_config"):
        raise TypeError(f"Unable to reconstruct an instance of {class_name!r} because the class "
                        f"is missing a `from_config()` method. Full object config: {config}")
    with object_registration.CustomObjectScope(custom_objects):
        params = inspect.signature(cls.from_config).parameters
        try:
            instance = cls.from_config(dict(inner), custom_objects) \
                if "custom_objects" in params else cls.from_config(dict(inner))
        except TypeError as e:
            raise TypeError(f"{cls} could not be deserialized properly. Please ensure that "
                            "components that are Python object instances (layers, models, "
                            "etc.) returned by `get_config()` are explicitly deserialized in "
                            f"the model's `from_config()` method.\n\nconfig={config}.\n\n"
                            f"Exception encountered: {e}") from e
        build = config.get("build_config")
        if build and hasattr(instance, "build") and not getattr(instance, "built", True):
            shape = build.get("input_shape")
            if shape is not None:
                if hasattr(instance, "build_from_config"):
                    instance.build_from_config(build)
                else:
                    instance.build(tuple(shape))
        cc = config.get("compile_config")
        if cc and hasattr(instance, "compile"):
            from fastnet.saving import _compile_from_config

            _compile_from_config(instance, cc, custom_objects)
    return instance


def func_dump(fn):
    """Keras's ``__lambda__`` config of a Python function: base64 marshal of its code,
    its defaults and its closure values."""
    import base64
    import marshal

    closure = tuple(c.cell_contents for c in fn.__closure__) if fn.__closure__ else None
    return {"code": base64.encodebytes(marshal.dumps(fn.__code__)).decode("ascii"),
            "defaults": fn.__defaults__, "closure": closure}


def func_load(config):
    """The function of a ``__lambda__`` config (runs nothing until called). Only reached
    outside safe mode. Its globals are fastnet's names (``fastnet``, ``keras``, ``ops``,
    ``np``), as Keras gives a loaded lambda its own module's."""
    import base64
    import binascii
    import builtins
    import marshal

    import fastnet

    code = config.get("code")
    if not isinstance(code, str):
        raise ValueError("A __lambda__ config needs its bytecode as a base64 string")
    try:
        code = marshal.loads(base64.b64decode(code.encode("ascii")))
    except (binascii.Error, ValueError, EOFError, TypeError) as e:
        raise ValueError(f"The Lambda bytecode in the file cannot be read by this Python "
                         f"({e}); bytecode only loads in the Python version that wrote it") \
            from e
    if not isinstance(code, types.CodeType):
        raise ValueError("The Lambda entry in the file is not Python bytecode")

    def cell(value):
        return (lambda: value).__closure__[0]

    closure = config.get("closure")
    closure = tuple(cell(v) for v in closure) if closure else None
    defaults = config.get("defaults")
    defaults = tuple(defaults) if defaults else None
    if len(code.co_freevars) != len(closure or ()):
        raise ValueError("The Lambda bytecode in the file does not match its closure")
    globs = {"__builtins__": builtins, "fastnet": fastnet, "keras": fastnet,
             "ops": fastnet.ops, "np": np}
    return types.FunctionType(code, globs, code.co_name, defaults, closure)


__all__ = ["serialize_keras_object", "deserialize_keras_object", "SafeModeScope",
           "in_safe_mode", "enable_unsafe_deserialization"]
