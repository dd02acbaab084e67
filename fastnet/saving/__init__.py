"""Saving and loading: `.keras` archives, `.weights.h5`, legacy `.h5`.

A `.keras` file is a zip holding ``config.json`` (the model's config and its
compile config), ``metadata.json`` and ``model.weights.h5`` (weights and the
optimizer state, so training resumes where it stopped). Files are written to
a temporary file beside the target, fsynced and renamed, so an error (or a killed
process) never leaves a half-written file. Nothing in a file is executed: classes
come from fastnet, the registry or custom_objects, and Lambda bytecode loads only
with safe_mode=False. Every problem reading a file raises SavedFileError (a
ValueError) naming the file.
"""

from __future__ import annotations

import datetime
import inspect
import io
import json
import os
import tempfile
import zipfile
import zlib

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
from fastnet.saving.weights_io import SavedFileError

FORMAT_VERSION = "3.0"
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_TMP_SUFFIX = ".fastnet-tmp"


# ---- atomic writes ---------------------------------------------------------------------

def _stray_temps(filepath):
    """Temp files of earlier saves of filepath whose process is gone (killed mid-save)."""
    d = os.path.dirname(os.path.abspath(filepath))
    prefix = f".{os.path.basename(filepath)}."
    out = []
    for name in os.listdir(d):
        if not (name.startswith(prefix) and name.endswith(_TMP_SUFFIX)):
            continue
        pid = name[len(prefix):].split(".", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            out.append(os.path.join(d, name))
        except OSError:  # alive, another user's
            pass
    return out


def _atomic_write(filepath, overwrite, write):
    """write(tmp) to a temp file beside filepath, fsync it, rename it over filepath (and
    fsync the directory). The temp file is removed on every failure; temp files a killed
    save of the same path left behind are removed first."""
    filepath = os.fspath(filepath)
    if os.path.exists(filepath) and not overwrite:
        raise FileExistsError(f"{filepath} exists and overwrite=False")
    d = os.path.dirname(os.path.abspath(filepath)) or "."
    if not os.path.isdir(d):
        raise FileNotFoundError(f"Directory {d} does not exist")
    for stray in _stray_temps(filepath):
        try:
            os.remove(stray)
        except OSError:
            pass
    fd, tmp = tempfile.mkstemp(dir=d, prefix=f".{os.path.basename(filepath)}.{os.getpid()}.",
                               suffix=_TMP_SUFFIX)
    os.close(fd)
    try:
        write(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, filepath)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    try:  # the rename itself durable
        dfd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:  # pragma: no cover - directories cannot be opened on some systems
        pass


# ---- configs ---------------------------------------------------------------------------

def _compile_config(model):
    if not getattr(model, "compiled", False):
        return None
    from fastnet import losses, optimizers

    cfg = model.get_compile_config()
    loss = cfg.get("loss")

    def ser_function(fn):  # as Keras: {"class_name": "function", "config": its name, ...}
        return serialization_lib.serialize_keras_object(fn)

    def ser_loss(x):
        if isinstance(x, dict):
            return {k: ser_loss(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [ser_loss(v) for v in x]
        if x is None or isinstance(x, str):
            return x
        if inspect.isfunction(x):
            return ser_function(x)
        return losses.serialize(x)

    def ser_metric(m):
        if isinstance(m, (list, tuple)):
            return [ser_metric(v) for v in m]
        if isinstance(m, dict):
            return {k: ser_metric(v) for k, v in m.items()}
        if inspect.isfunction(m):
            return ser_function(m)
        return m if isinstance(m, str) or m is None else getattr(m, "name", str(m))

    return {"optimizer": optimizers.serialize(model.optimizer), "loss": ser_loss(loss),
            "loss_weights": cfg.get("loss_weights"), "metrics": ser_metric(cfg.get("metrics")),
            "weighted_metrics": ser_metric(cfg.get("weighted_metrics")),
            # as Keras 3: the values compile() was given (jit_compile "auto" stays "auto",
            # which Keras's compile() also takes: each library then resolves it its own way)
            "run_eagerly": bool(cfg.get("run_eagerly", False)),
            "steps_per_execution": int(cfg.get("steps_per_execution", 1)),
            "jit_compile": cfg.get("jit_compile", "auto")}


def _model_config(model):
    config = serialize_layer(model)
    if getattr(model, "_build_input_shape", None) is not None:
        config["build_config"] = {"input_shape": list(model._build_input_shape)}
    config["compile_config"] = _compile_config(model)
    return config


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
    if build and not model.built and "input_shape" not in build:
        model.build_from_config(build)  # a FeatureSpace's: one entry per feature
    elif build and not model.built:
        shape = build.get("input_shape")
        if shape is not None:
            shape = (tuple(shape) if not (shape and isinstance(shape[0], list)) else
                     [tuple(s) for s in shape])
            model.build(shape)
            model.built = True  # as Keras: a build() of user code need not say so itself
            if getattr(model, "_build_shapes", None) is None:  # its config says it again
                model._build_shapes = shape
    return model


def _compile_args(cc, custom_objects):
    """compile() arguments from a compile config: Keras 3 `.keras` ("optimizer"), Keras 3
    and tf.keras 2 `.h5` training_config ("optimizer_config"); metrics written as
    MeanMetricWrapper configs (tf.keras 2) become their function names."""
    from fastnet import losses, optimizers

    def de_function(x):  # Keras 3's form of a plain function (a registered one too)
        return serialization_lib.deserialize_keras_object(x, custom_objects)

    def de_loss(x):
        if isinstance(x, dict) and x.get("class_name") == "function":
            return de_function(x)
        if isinstance(x, dict) and "class_name" in x:
            return losses.deserialize(x, custom_objects)
        if isinstance(x, dict):
            return {k: de_loss(v) for k, v in x.items()}
        if isinstance(x, list):
            return [de_loss(v) for v in x]
        return x

    def de_metric(m):
        if isinstance(m, list):
            out = [de_metric(v) for v in m]
            return out
        if isinstance(m, dict) and m.get("class_name") == "function":
            return de_function(m)
        if isinstance(m, dict) and "class_name" in m:
            inner = m.get("config") or {}
            if m["class_name"] == "MeanMetricWrapper":
                fn = inner.get("fn")
                return inner.get("name") if not isinstance(fn, str) else \
                    {"sparse_categorical_accuracy": "accuracy",
                     "categorical_accuracy": "accuracy",
                     "binary_accuracy": "accuracy"}.get(fn, fn) \
                    if inner.get("name") in ("accuracy", "acc") else fn
            from fastnet import metrics

            return metrics.deserialize(m, custom_objects) if hasattr(metrics, "deserialize") \
                else inner.get("name", m["class_name"])
        if isinstance(m, dict):
            return {k: de_metric(v) for k, v in m.items()}
        return m

    opt = cc.get("optimizer", cc.get("optimizer_config"))
    if opt is None:
        return None
    metrics_ = de_metric(cc.get("metrics"))
    if isinstance(metrics_, list) and len(metrics_) == 1 and isinstance(metrics_[0], list):
        metrics_ = metrics_[0]  # tf.keras 2 nests single-output metrics in a list
    args = dict(optimizer=optimizers.deserialize(opt, custom_objects) if isinstance(opt, dict)
                else optimizers.get(opt),
                loss=de_loss(cc.get("loss")), loss_weights=cc.get("loss_weights"),
                metrics=metrics_, weighted_metrics=de_metric(cc.get("weighted_metrics")))
    if "optimizer" in cc:  # a Keras 3 compile_config: compile() gets all of it back, as
        # Keras's compile_from_config; an .h5 training_config restores only the five above
        for key in ("run_eagerly", "steps_per_execution", "jit_compile"):
            if key in cc and cc[key] is not None:
                args[key] = cc[key]
    return args


def _compile_from_config(model, cc, custom_objects):
    args = _compile_args(cc, custom_objects)
    if args is not None:
        model.compile(**args)


# ---- reading ---------------------------------------------------------------------------

def _kind(path):
    """'zip', 'hdf5' or a SavedFileError for anything else (naming path and problem)."""
    if not os.path.exists(path):
        raise SavedFileError(f"{path}: no such file")
    if os.path.isdir(path):
        if os.path.isfile(os.path.join(path, "config.json")):
            return "dir"  # an unzipped .keras (save_model(zipped=False))
        raise SavedFileError(f"{path}: is a directory, not a .keras/.h5 file (fastnet does "
                             "not read TensorFlow SavedModel directories)")
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError as e:
        raise SavedFileError(f"{path}: cannot be read ({e})") from e
    if size == 0:
        raise SavedFileError(f"{path}: the file is empty")
    if head == _HDF5_SIGNATURE:
        return "hdf5"
    if head[:2] == b"PK":
        return "zip"
    raise SavedFileError(f"{path}: not a Keras file (neither a .keras zip archive nor HDF5; "
                         f"it starts with {head!r})")


# TypeError too: a config naming classes or arguments that do not exist is a foreign file
_READ_ERRORS = (OSError, KeyError, ValueError, TypeError, json.JSONDecodeError, RecursionError,
                zipfile.BadZipFile, UnicodeDecodeError, EOFError, IndexError, zlib.error)


def _guarded(path, what):
    """A context turning any low-level read error into one SavedFileError naming path."""
    import contextlib

    @contextlib.contextmanager
    def guard():
        try:
            yield
        except SavedFileError as e:
            msg = str(e)
            raise (e if msg.startswith(path) else SavedFileError(f"{path}: {msg}")) from e
        except RecursionError as e:
            raise SavedFileError(f"{path}: the {what} is nested too deeply to read") from e
        except _READ_ERRORS as e:
            raise SavedFileError(f"{path}: cannot read the {what}: {type(e).__name__}: "
                                 f"{e}") from e

    return guard()


def _open_archive(path):
    """(config dict, weights h5 bytes) of a .keras archive (or unzipped directory),
    checked."""
    if os.path.isdir(path):
        names = set(os.listdir(path))
        for member in ("config.json", "model.weights.h5"):
            if member not in names:
                raise SavedFileError(f"{path}: the directory has no {member} (members: "
                                     f"{sorted(names)[:8]})")
        with open(os.path.join(path, "config.json"), "rb") as f:
            config = json.loads(f.read())
        with open(os.path.join(path, "model.weights.h5"), "rb") as f:
            weights = f.read()
    else:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            for member in ("config.json", "model.weights.h5"):
                if member not in names:
                    raise SavedFileError(f"{path}: the archive has no {member} (members: "
                                         f"{sorted(names)[:8]})")
            config = json.loads(zf.read("config.json"))
            weights = zf.read("model.weights.h5")
    if not isinstance(config, dict) or "class_name" not in config:
        raise SavedFileError(f"{path}: config.json does not describe a model")
    return config, weights


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):  # noqa: A002
    """A model from a `.keras` archive or an `.h5` file (fastnet's, Keras 3's or tf.keras
    2's). safe_mode=True (the default) refuses Lambda bytecode; classes only come from
    fastnet, the registry and custom_objects, whatever the file names."""
    path = os.fspath(filepath)
    kind = _kind(path)
    with serialization_lib.SafeModeScope(safe_mode):
        if kind == "hdf5":
            return load_legacy_h5(path, custom_objects, compile)
        with _guarded(path, ".keras archive"):
            config, weights = _open_archive(path)
            model = _rebuild(config, custom_objects)
            cc = config.get("compile_config")
            optimizer = None
            if compile and cc:
                args = _compile_args(cc, custom_objects)
                if args is not None:
                    model.compile(**args)
                    optimizer = model.optimizer
            h5py = weights_io._h5py()
            with h5py.File(io.BytesIO(weights), "r") as f:
                weights_io.read_weights_group(f, model, optimizer)
            _load_assets(path, model)
    return model


def save_model(model, filepath, overwrite=True, zipped=True, **kwargs):
    """`.keras` (a zip archive, or with ``zipped=False`` a directory of the same three
    members: config.json, metadata.json, model.weights.h5, as Keras 3) or legacy `.h5`."""
    path = os.fspath(filepath)
    include_optimizer = kwargs.pop("include_optimizer", True)
    save_format = kwargs.pop("save_format", False)
    if save_format:  # as Keras 3
        if path.endswith((".h5", ".hdf5")) or path.endswith(".keras"):
            import warnings

            warnings.warn("The `save_format` argument is deprecated in Keras 3. We recommend "
                          "removing this argument as it can be inferred from the file path. "
                          f"Received: save_format={save_format}", stacklevel=3)
        else:
            raise ValueError("The `save_format` argument is deprecated in Keras 3. Please "
                             "remove this argument and pass a file path with either `.keras` "
                             f"or `.h5` extension. Received: save_format={save_format}")
    if kwargs:
        raise ValueError(f"The following argument(s) are not supported: {list(kwargs)}")
    optimizer = getattr(model, "optimizer", None) if include_optimizer else None
    if not zipped:  # as Keras 3: a directory, whose name does not end in .keras
        if path.endswith(".keras"):
            raise ValueError("When using `zipped=False`, the `filepath` argument should not "
                             f"end in `.keras`. Received: filepath={path}")
    elif path.endswith(".h5") or path.endswith(".hdf5"):
        return save_legacy_h5(model, path, overwrite, include_optimizer=include_optimizer)
    elif not path.endswith(".keras"):
        raise ValueError(f"Invalid filepath extension for saving. Please add either a `.keras` "
                         f"extension for the native Keras format (recommended) or a `.h5` "
                         f"extension. Received: filepath={path}")
    config = json.dumps(_model_config(model), default=_json_default)
    buf = io.BytesIO()
    weights_io.write_weights_file(buf, model, optimizer)
    members = {
        "metadata.json": json.dumps({
            "keras_version": "3.0.0", "fastnet_version": _version(),
            "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")}),
        "config.json": config, "model.weights.h5": buf.getvalue()}
    members.update(_asset_members(model))
    if not zipped:
        return _write_directory(path, overwrite, members)

    def write(tmp):
        with zipfile.ZipFile(tmp, "w") as zf:
            for name, data in members.items():
                zf.writestr(name, data)

    _atomic_write(path, overwrite, write)


def _asset_members(model):
    """{"assets/<layer path>/<file>": bytes} of the layers' save_assets (Keras's assets
    directory: an adapted StringLookup's vocabulary.txt)."""
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        weights_io.save_assets_tree(model, tmp)
        for dirpath, _, files in os.walk(tmp):
            for name in sorted(files):
                full = os.path.join(dirpath, name)
                rel = os.path.relpath(full, tmp).replace(os.sep, "/")
                with open(full, "rb") as f:
                    out[f"assets/{rel}"] = f.read()
    return out


def _load_assets(path, model):
    """The layers' load_assets from the archive's (or directory's) assets/."""
    if os.path.isdir(path):
        if os.path.isdir(os.path.join(path, "assets")):
            weights_io.load_assets_tree(model, os.path.join(path, "assets"))
        return
    with zipfile.ZipFile(path) as zf:
        names = [n for n in zf.namelist() if n.startswith("assets/") and not n.endswith("/")]
        if not names:
            return
        with tempfile.TemporaryDirectory() as tmp:
            root = os.path.realpath(tmp)
            for name in names:
                target = os.path.realpath(os.path.join(root, *name.split("/")))
                if not target.startswith(root + os.sep):
                    raise SavedFileError(f"{path}: the archive member {name!r} points outside "
                                         "its assets directory")
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with open(target, "wb") as f:
                    f.write(zf.read(name))
            weights_io.load_assets_tree(model, os.path.join(root, "assets"))


def _write_directory(path, overwrite, members):
    """An unzipped `.keras`: the members written into a temporary directory beside `path`,
    which then takes its place (a failed save leaves the old directory as it was)."""
    import shutil

    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"{path} exists and overwrite=False")
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"save_model(zipped=False): {path} exists and is a file, not a "
                         "directory")
    parent = os.path.dirname(os.path.abspath(path)) or "."
    if not os.path.isdir(parent):
        raise FileNotFoundError(f"Directory {parent} does not exist")
    tmp = tempfile.mkdtemp(dir=parent, prefix=f".{os.path.basename(path)}.{os.getpid()}.",
                           suffix=_TMP_SUFFIX)
    old = None
    try:
        for name, data in members.items():
            mode = "wb" if isinstance(data, bytes) else "w"
            os.makedirs(os.path.dirname(os.path.join(tmp, name)), exist_ok=True)
            with open(os.path.join(tmp, name), mode) as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        if os.path.isdir(path):
            old = tmp + ".old"
            os.replace(path, old)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and not os.path.exists(path):
            os.replace(old, path)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def save_weights(model, filepath, overwrite=True):
    path = os.fspath(filepath)
    if not path.endswith(".weights.h5") and not path.endswith(".h5"):
        raise ValueError(f"The filename must end in `.weights.h5`. Received: filepath={path}")
    _atomic_write(path, overwrite, lambda tmp: weights_io.write_weights_file(tmp, model))


def load_weights(model, filepath, skip_mismatch=False, by_name=False, **kwargs):
    """Weights from a `.weights.h5` (Keras 3 / fastnet), a legacy HDF5 weights or model
    file (tf.keras 2, Keras 3's .h5) or a `.keras` archive. Everything is read and
    checked before any weight is assigned: a failure leaves the model as it was."""
    path = os.fspath(filepath)
    kind = _kind(path)
    h5py = weights_io._h5py()
    if kind in ("zip", "dir"):
        with _guarded(path, ".keras archive"):
            _, weights = _open_archive(path)
            with h5py.File(io.BytesIO(weights), "r") as f:
                weights_io.read_weights_group(f, model, None, skip_mismatch=skip_mismatch)
        return
    with _guarded(path, "weights file"), h5py.File(path, "r") as f:
        weights_io.read_weights_group(f, model, None, skip_mismatch=skip_mismatch,
                                      by_name=by_name)


def save_legacy_h5(model, path, overwrite=True, include_optimizer=True):
    from fastnet.models.functional import Functional
    from fastnet.models.sequential import Sequential

    if not isinstance(model, (Functional, Sequential)):
        raise NotImplementedError(
            "Saving the model to HDF5 format requires the model to be a Functional model or a "
            "Sequential model. It does not work for subclassed models, because such models are "
            "defined via the body of a Python method, which isn't safely serializable. Consider "
            "saving to the `.keras` format instead.")
    h5py = weights_io._h5py()
    model_config = json.dumps(serialization.keras2_config(serialize_layer(model)),
                              default=_json_default)
    cc = _compile_config(model)
    if cc is not None:  # as Keras's .h5 training_config
        cc = dict(cc)
        opt = cc.pop("optimizer")  # Keras's legacy form: class name and config only
        # as tf.keras 2 writes it ("Custom>Adam", is_legacy_optimizer False): tf.keras 2
        # then builds its current optimizer class, and Keras 3 still reads the file
        cc["optimizer_config"] = {"class_name": "Custom>" + opt["class_name"],
                                  "config": {**opt["config"], "is_legacy_optimizer": False}}
    optimizer = getattr(model, "optimizer", None) if include_optimizer else None

    def write(tmp):
        with h5py.File(tmp, "w") as f:
            f.attrs["model_config"] = model_config
            if cc is not None:
                f.attrs["training_config"] = json.dumps(cc, default=_json_default)
            f.attrs["backend"] = "fastnet"
            f.attrs["keras_version"] = "3.0.0"
            weights_io.save_legacy_weights(f.create_group("model_weights"), model)
            if cc is not None and optimizer is not None and optimizer._slots:
                weights_io.save_legacy_optimizer(f.create_group("optimizer_weights"), model,
                                                 optimizer)

    _atomic_write(path, overwrite, write)


def load_legacy_h5(path, custom_objects=None, compile=True):  # noqa: A002
    h5py = weights_io._h5py()
    with _guarded(path, "HDF5 model file"), h5py.File(path, "r") as f:
        if "model_config" not in f.attrs:
            raise SavedFileError(f"{path}: holds no model config (is it a weights-only file? "
                                 "use model.load_weights)")
        raw = f.attrs["model_config"]
        config = json.loads(raw.decode("utf8") if isinstance(raw, bytes) else raw)
        if not isinstance(config, dict) or "class_name" not in config:
            raise SavedFileError(f"{path}: model_config does not describe a model")
        model = _rebuild(config, custom_objects)
        optimizer = None
        if compile and "training_config" in f.attrs:
            raw = f.attrs["training_config"]
            cc = json.loads(raw.decode("utf8") if isinstance(raw, bytes) else raw)
            args = _compile_args(cc, custom_objects)
            if args is not None:
                model.compile(**args)
                optimizer = model.optimizer
        if "model_weights" not in f:
            raise SavedFileError(f"{path}: the file has no model_weights group")
        weights_io.read_weights_group(f, model, optimizer)
    return model


def clone_model(model, input_tensors=None, clone_function=None, call_function=None,
                recursive=False, **kwargs):
    """A new model of the same architecture, as keras.models.clone_model.

    Sequential and functional models are rebuilt layer by layer: each layer goes through
    `clone_function` (default: a fresh layer from its config, so new weights; a layer
    used twice is cloned once), a functional graph is replayed on new Inputs (or on
    `input_tensors`) calling each clone through `call_function(layer, *args, **kwargs)`
    when given, and with `recursive=True` nested Sequential/functional models are cloned
    the same way rather than passed to `clone_function` whole. A subclassed model is
    rebuilt from its config. A compiled model's clone is compiled the same way (a fresh
    optimizer)."""
    from fastnet.models.functional import Functional
    from fastnet.models.sequential import Sequential

    cache = kwargs.pop("cache", None)
    if kwargs:
        raise ValueError(f"Unexpected keyword argument(s): {tuple(kwargs)}")
    for name, fn in (("clone_function", clone_function), ("call_function", call_function)):
        if fn is not None and not callable(fn):
            raise ValueError(f"Expected `{name}` argument to be a callable. Received: "
                             f"{name}={fn!r}")
    if isinstance(model, Sequential):
        if call_function is not None:
            raise ValueError("`call_function` argument is not supported with Sequential "
                             "models. In a Sequential model, layers aren't called at "
                             "model-construction time (they're merely listed). Use "
                             "`call_function` with Functional models only.")
        wrapped = _wrap_clone_function(clone_function, call_function, recursive, cache)
        clone = _clone_sequential(model, wrapped, input_tensors)
    elif isinstance(model, Functional):
        wrapped = _wrap_clone_function(clone_function, call_function, recursive, cache)
        clone = _clone_functional(model, wrapped, call_function, input_tensors)
    else:
        if clone_function is not None or input_tensors is not None:
            raise ValueError("Arguments `clone_function` and `input_tensors` are only "
                             "supported for Sequential models or Functional models. "
                             f"Received model of type '{type(model).__name__}'")
        if call_function is not None:
            raise ValueError("Argument `call_function` is only supported for Functional "
                             f"models. Received model of type '{type(model).__name__}'")
        return _rebuild(serialize_layer(model), {type(model).__name__: type(model)})
    if getattr(model, "compiled", False):
        cc = _compile_config(model)
        if cc:
            _compile_from_config(clone, cc, None)
    return clone


def _wrap_clone_function(clone_function, call_function, recursive, cache):
    from fastnet.models.functional import Functional
    from fastnet.models.sequential import Sequential

    if clone_function is None:
        def clone_function(layer):
            return type(layer).from_config(layer.get_config())
    cache = {} if cache is None else cache

    def wrapped(layer):
        if id(layer) in cache:
            return cache[id(layer)]
        if recursive and isinstance(layer, (Sequential, Functional)):
            clone = clone_model(layer, clone_function=clone_function,
                                call_function=None if isinstance(layer, Sequential)
                                else call_function, recursive=True, cache=cache)
        else:
            clone = clone_function(layer)
        cache[id(layer)] = clone
        return clone
    return wrapped


def _clone_sequential(model, clone_function, input_tensors):
    from fastnet.layers.core import Input
    from fastnet.models.sequential import Sequential

    if input_tensors is not None:
        raise NotImplementedError("clone_model: `input_tensors` for a Sequential model (Keras "
                                  "wraps them in an InputLayer, whose `input_tensor` fastnet "
                                  "does not implement); clone a functional model instead")
    new_layers = [clone_function(layer) for layer in model.layers]
    ref = model._input_layer
    if ref is not None:
        new_layers = [Input(batch_shape=ref.batch_shape, dtype=ref.dtype, name=ref.name)] + \
            new_layers
    clone = Sequential(new_layers, name=model.name)
    clone.trainable = model.trainable
    return clone


def _clone_functional(model, clone_function, call_function, input_tensors):
    from fastnet.backend.symbolic import KerasTensor
    from fastnet.layers.core import Input, InputLayer
    from fastnet.layers.layer import Layer
    from fastnet.models.functional import Functional, _flatten_sorted
    from fastnet.ops.operation import _map

    old_inputs = model._inputs
    if input_tensors is not None:
        given = _flatten_sorted(input_tensors)
        if not all(isinstance(t, KerasTensor) for t in given):
            raise ValueError("All entries in `input_tensors` must be KerasTensors. Received "
                             f"invalid values: input_tensors={input_tensors}")
        if len(given) != len(old_inputs):
            raise ValueError("`input_tensors` must have the same structure as model.input. "
                             f"Reference structure: {model.input}. Received structure: "
                             f"{input_tensors}")
        new_struct = input_tensors
    else:
        def fresh(kt):
            layer = kt._keras_history[0]
            return Input(batch_shape=kt.shape, dtype=kt.dtype,
                         name=layer.name if isinstance(layer, InputLayer) else None)
        new_struct = _map(fresh, model._input_struct)
        given = _flatten_sorted(new_struct)
    values = {id(old): new for old, new in zip(old_inputs, given)}

    def resolve(x):
        return values[id(x)] if isinstance(x, KerasTensor) else x

    for node in model._nodes:
        op = node.operation
        new_op = clone_function(op) if isinstance(op, Layer) else op
        args = _map(resolve, list(node.call_args))
        kwargs = _map(resolve, dict(node.call_kwargs))
        out = call_function(new_op, *args, **kwargs) if call_function is not None else \
            new_op(*args, **kwargs)
        flat = _flatten(out)
        if len(flat) != len(node.outputs):
            raise ValueError(f"clone_model: the clone of layer {op.name!r} returned "
                             f"{len(flat)} outputs where the original returned "
                             f"{len(node.outputs)}")
        for kt, v in zip(node.outputs, flat):
            values[id(kt)] = v
    outputs = _map(resolve, model._output_struct)
    cls = type(model) if type(model).__init__ is Functional.__init__ or \
        _functional_like(type(model)) else Functional
    return cls(new_struct, outputs, name=model.name)


def _flatten(x):
    from fastnet.ops.operation import _flatten as flatten

    return flatten(x)


def _functional_like(cls):
    import inspect

    from fastnet.models.functional import Functional
    from fastnet.models.model import Model

    if not issubclass(cls, (Functional, Model)):
        return False
    try:
        params = list(inspect.signature(cls.__init__).parameters)[1:3]
    except (TypeError, ValueError):
        return False
    return params == ["inputs", "outputs"]


__all__ = ["SavedFileError", "save_model", "load_model", "save_weights", "load_weights", "clone_model",
           "serialization", "object_registration", "serialization_lib", "CustomObjectScope",
           "custom_object_scope", "get_custom_objects", "get_registered_name",
           "get_registered_object", "register_keras_serializable", "serialize_keras_object",
           "deserialize_keras_object"]
