"""Saving and loading: `.keras` archives, `.weights.h5`, legacy `.h5`.

A `.keras` file is a zip holding ``config.json`` (the model's config and its
compile config), ``metadata.json`` and ``model.weights.h5`` (weights and the
optimizer state, so training resumes where it stopped). Files are written to
a temporary name and renamed, so an error never leaves a half-written file.
Nothing in a file is executed: classes come from fastnet or custom_objects.
"""

from __future__ import annotations

import datetime
import json
import os
import tempfile
import zipfile

import numpy as np

from fastnet.saving import object_registration, serialization, serialization_lib, weights_io
from fastnet.saving.object_registration import (
    CustomObjectScope,
    custom_object_scope,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
)
from fastnet.saving.serialization import deserialize_layer, serialize_layer
from fastnet.saving.serialization_lib import deserialize_keras_object, serialize_keras_object

FORMAT_VERSION = "3.0"


def _atomic_target(filepath, overwrite):
    filepath = os.fspath(filepath)
    if os.path.exists(filepath) and not overwrite:
        raise FileExistsError(f"{filepath} exists and overwrite=False")
    d = os.path.dirname(os.path.abspath(filepath)) or "."
    if not os.path.isdir(d):
        raise FileNotFoundError(f"Directory {d} does not exist")
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".fastnet-", suffix=".tmp")
    os.close(fd)
    return filepath, tmp


def _compile_config(model):
    if not getattr(model, "compiled", False):
        return None
    from fastnet import losses, optimizers

    cfg = model.get_compile_config()
    loss = cfg.get("loss")

    def ser_loss(x):
        if isinstance(x, dict):
            return {k: ser_loss(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [ser_loss(v) for v in x]
        if x is None or isinstance(x, str):
            return x
        return losses.serialize(x)

    def ser_metric(m):
        if isinstance(m, (list, tuple)):
            return [ser_metric(v) for v in m]
        if isinstance(m, dict):
            return {k: ser_metric(v) for k, v in m.items()}
        return m if isinstance(m, str) or m is None else getattr(m, "name", str(m))

    return {"optimizer": optimizers.serialize(model.optimizer), "loss": ser_loss(loss),
            "loss_weights": cfg.get("loss_weights"), "metrics": ser_metric(cfg.get("metrics")),
            "weighted_metrics": ser_metric(cfg.get("weighted_metrics"))}


def _model_config(model):
    config = serialize_layer(model)
    if config["build_config"] is None and getattr(model, "_build_input_shape", None) is not None:
        config["build_config"] = {"input_shape": list(model._build_input_shape)}
    elif getattr(model, "_build_input_shape", None) is not None:
        config["build_config"] = {"input_shape": list(model._build_input_shape)}
    config["compile_config"] = _compile_config(model)
    return config


def save_model(model, filepath, overwrite=True, zipped=True, **kwargs):
    if not zipped:
        raise NotImplementedError("save_model: `zipped=False` (an unzipped .keras directory) "
                                  "is not implemented in fastnet")
    path = os.fspath(filepath)
    if path.endswith(".h5") or path.endswith(".hdf5"):
        return save_legacy_h5(model, path, overwrite)
    if not path.endswith(".keras"):
        raise ValueError(f"Invalid filepath extension for saving. Please add either a `.keras` "
                         f"extension for the native Keras format (recommended) or a `.h5` "
                         f"extension. Received: filepath={path}")
    config = _model_config(model)
    target, tmp = _atomic_target(path, overwrite)
    try:
        with tempfile.TemporaryDirectory() as d:
            wpath = os.path.join(d, "model.weights.h5")
            weights_io.write_weights_file(wpath, model, getattr(model, "optimizer", None))
            with zipfile.ZipFile(tmp, "w") as zf:
                zf.writestr("config.json", json.dumps(config, default=_json_default))
                zf.writestr("metadata.json", json.dumps({
                    "keras_version": "3.0.0", "fastnet_version": _version(),
                    "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")}))
                zf.write(wpath, "model.weights.h5")
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _version():
    import fastnet

    return fastnet.__version__


def _json_default(obj):
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, tuple):
        return list(obj)
    raise TypeError(f"Cannot serialize {type(obj).__name__} to JSON: give the layer a "
                    "get_config() that returns plain Python values")


def _rebuild(config, custom_objects):
    model = deserialize_layer(config, custom_objects)
    build = config.get("build_config")
    if build and not model.built:
        shape = build.get("input_shape")
        if shape is not None:
            shape = (tuple(shape) if not (shape and isinstance(shape[0], list)) else
                     [tuple(s) for s in shape])
            model.build(shape)
            model.built = True  # as Keras: a build() of user code need not say so itself
            if getattr(model, "_build_shapes", None) is None:  # its config says it again
                model._build_shapes = shape
    return model


def _compile_from_config(model, cc, custom_objects):
    from fastnet import losses, optimizers

    def de_loss(x):
        if isinstance(x, dict) and "class_name" in x:
            return losses.deserialize(x, custom_objects)
        if isinstance(x, dict):
            return {k: de_loss(v) for k, v in x.items()}
        if isinstance(x, list):
            return [de_loss(v) for v in x]
        return x

    model.compile(optimizer=optimizers.deserialize(cc["optimizer"], custom_objects),
                  loss=de_loss(cc.get("loss")), loss_weights=cc.get("loss_weights"),
                  metrics=cc.get("metrics"), weighted_metrics=cc.get("weighted_metrics"))


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):  # noqa: A002
    path = os.fspath(filepath)
    if path.endswith(".h5") or path.endswith(".hdf5"):
        return load_legacy_h5(path, custom_objects, compile)
    if not zipfile.is_zipfile(path):
        raise ValueError(f"File format not supported: filepath={path}. fastnet reads `.keras` "
                         "zip archives and `.h5` files.")
    with zipfile.ZipFile(path) as zf:
        config = json.loads(zf.read("config.json"))
        with tempfile.TemporaryDirectory() as d:
            zf.extract("model.weights.h5", d)
            model = _rebuild(config, custom_objects)
            cc = config.get("compile_config")
            if compile and cc:
                _compile_from_config(model, cc, custom_objects)
            weights_io.read_weights_file(os.path.join(d, "model.weights.h5"), model,
                                         model.optimizer if compile and cc else None)
    return model


def save_weights(model, filepath, overwrite=True):
    path = os.fspath(filepath)
    if not path.endswith(".weights.h5") and not path.endswith(".h5"):
        raise ValueError(f"The filename must end in `.weights.h5`. Received: filepath={path}")
    target, tmp = _atomic_target(path, overwrite)
    try:
        weights_io.write_weights_file(tmp, model)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def load_weights(model, filepath, skip_mismatch=False, by_name=False, **kwargs):
    path = os.fspath(filepath)
    if path.endswith(".keras"):
        with zipfile.ZipFile(path) as zf, tempfile.TemporaryDirectory() as d:
            zf.extract("model.weights.h5", d)
            weights_io.read_weights_file(os.path.join(d, "model.weights.h5"), model,
                                         skip_mismatch=skip_mismatch)
        return
    h5py = weights_io._h5py()
    with h5py.File(path, "r") as f:
        if "layer_names" in f.attrs or "model_weights" in f:
            weights_io.load_legacy_weights(f["model_weights"] if "model_weights" in f else f,
                                           model, by_name=by_name)
        else:
            weights_io.load_layer_tree(f, model, skip_mismatch=skip_mismatch)


def save_legacy_h5(model, path, overwrite=True):
    from fastnet.models.functional import Functional
    from fastnet.models.sequential import Sequential

    if not isinstance(model, (Functional, Sequential)):
        raise NotImplementedError(
            "Saving the model to HDF5 format requires the model to be a Functional model or a "
            "Sequential model. It does not work for subclassed models, because such models are "
            "defined via the body of a Python method, which isn't safely serializable. Consider "
            "saving to the `.keras` format instead.")
    h5py = weights_io._h5py()
    target, tmp = _atomic_target(path, overwrite)
    try:
        with h5py.File(tmp, "w") as f:
            f.attrs["model_config"] = json.dumps(serialize_layer(model), default=_json_default)
            cc = _compile_config(model)
            if cc is not None:
                f.attrs["training_config"] = json.dumps(cc, default=_json_default)
            f.attrs["backend"] = "fastnet"
            weights_io.save_legacy_weights(f.create_group("model_weights"), model)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def load_legacy_h5(path, custom_objects=None, compile=True):  # noqa: A002
    h5py = weights_io._h5py()
    with h5py.File(path, "r") as f:
        if "model_config" not in f.attrs:
            raise ValueError(f"{path} holds no model config (is it a weights-only file? use "
                             "model.load_weights)")
        raw = f.attrs["model_config"]
        config = json.loads(raw.decode("utf8") if isinstance(raw, bytes) else raw)
        model = _rebuild(config, custom_objects)
        weights_io.load_legacy_weights(f["model_weights"], model)
        if compile and "training_config" in f.attrs:
            raw = f.attrs["training_config"]
            cc = json.loads(raw.decode("utf8") if isinstance(raw, bytes) else raw)
            if "optimizer" in cc:
                _compile_from_config(model, cc, custom_objects)
    return model


def clone_model(model, input_tensors=None, clone_function=None):
    """A new model with the same architecture and freshly initialized weights."""
    for arg, value in (("input_tensors", input_tensors), ("clone_function", clone_function)):
        if value is not None:
            raise NotImplementedError(f"clone_model: `{arg}` is not implemented in fastnet")
    config = serialize_layer(model)
    return _rebuild(config, None)


__all__ = ["save_model", "load_model", "save_weights", "load_weights", "clone_model",
           "serialization", "object_registration", "serialization_lib", "CustomObjectScope",
           "custom_object_scope", "get_custom_objects", "get_registered_name",
           "get_registered_object", "register_keras_serializable", "serialize_keras_object",
           "deserialize_keras_object"]
