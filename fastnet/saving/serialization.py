"""Configs: layers and models to JSON-able dicts and back (Keras 3's format).

A layer serializes as ``{"module", "class_name", "config", "registered_name",
"build_config"}``; a functional model lists its layers with their inbound
nodes (arguments reference tensors as ``__keras_tensor__`` with a
``keras_history`` of [layer name, node index, tensor index]). Classes are
found among fastnet's built-ins or in ``custom_objects`` — never imported
from names in a file.
"""

from __future__ import annotations

import inspect

from fastnet.backend.symbolic import KerasTensor
from fastnet.saving import object_registration


def _builtin_classes():
    import fastnet
    from fastnet import layers as layers_mod
    from fastnet.layers.layer import Layer

    out = {}
    for name in dir(layers_mod):
        obj = getattr(layers_mod, name)
        if inspect.isclass(obj) and issubclass(obj, Layer):
            out[obj.__name__] = obj
    out["Functional"] = fastnet.models.Functional
    out["Model"] = fastnet.models.Model
    out["Sequential"] = fastnet.models.Sequential
    return out


def get_class(name, custom_objects=None, module=None, registered_name=None):
    """The class for a config: registered (``"pkg>Name"``) or scoped/custom objects
    first, then fastnet's built-ins."""
    cls = object_registration.lookup([registered_name, name], custom_objects)
    if cls is None:
        cls = _builtin_classes().get(name)
    if cls is None:
        cls = object_registration.lookup([registered_name, name], None, fuzzy=True)
    if cls is None:
        raise ValueError(f"Could not locate class {name!r} (module {module!r}, registered name "
                         f"{registered_name!r}). Make sure custom classes are decorated with "
                         "`@fastnet.saving.register_keras_serializable()` or passed via "
                         f"`custom_objects`, e.g. load_model(path, custom_objects={{'{name}': "
                         f"{name}}}).")
    return cls


def serialize_layer(layer):
    cls = type(layer)
    builtin = _builtin_classes().get(cls.__name__) is cls
    return {
        "module": "keras.layers" if builtin else cls.__module__,
        "class_name": cls.__name__,
        "config": layer.get_config(),
        "registered_name": None if builtin else object_registration.get_registered_name(cls),
        "build_config": layer.get_build_config() if layer.built else None,
    }


# Keys Keras 3 writes that fastnet's layers do not take, dropped when they hold the value
# that means "feature unused" (a set value is kept, so the layer reports it).
_KERAS_NEUTRAL = {"quantization_config": None, "ragged": False, "optional": False,
                  "lora_rank": None, "lora_alpha": None}


def _keras_compat(inner):
    dtype = inner.get("dtype")
    if isinstance(dtype, dict) and dtype.get("class_name") in ("DTypePolicy", "FloatDTypePolicy"):
        inner["dtype"] = (dtype.get("config") or {}).get("name", "float32")
    for key, neutral in _KERAS_NEUTRAL.items():
        if key in inner and inner[key] == neutral:
            del inner[key]
    return inner


def deserialize_layer(config, custom_objects=None):
    cls = get_class(config["class_name"], custom_objects, config.get("module"),
                    config.get("registered_name"))
    inner = _keras_compat(dict(config.get("config") or {}))
    # Nested objects (activations, initializers, sublayers) resolve custom names too.
    with object_registration.CustomObjectScope(custom_objects):
        if hasattr(cls, "from_config"):
            sig = inspect.signature(cls.from_config)
            layer = cls.from_config(inner, custom_objects) if "custom_objects" in \
                sig.parameters else cls.from_config(inner)
        else:
            layer = cls(**inner)
    return layer


# ---- functional ------------------------------------------------------------------------

def _tensor_ref(t):
    layer, node_index, tensor_index = t._keras_history
    return {"class_name": "__keras_tensor__",
            "config": {"shape": list(t.shape), "dtype": t.dtype,
                       "keras_history": [layer.name, node_index, tensor_index]}}


def _encode(x):
    if isinstance(x, KerasTensor):
        return _tensor_ref(x)
    if isinstance(x, (list, tuple)):
        return [_encode(v) for v in x]
    if isinstance(x, dict):
        return {k: _encode(v) for k, v in x.items()}
    return x


def functional_config(model):
    from fastnet.layers.layer import Layer

    node_ids = {id(n) for n in model._nodes}
    layer_configs = []
    for op in model.operations:
        if not isinstance(op, Layer):
            raise ValueError(f"Model {model.name!r} uses the raw op {op.op_name!r} on "
                             "symbolic tensors; wrap it in a Lambda layer or a custom Layer to "
                             "serialize the model.")
    for layer in model.layers:
        entry = serialize_layer(layer)
        entry["name"] = layer.name
        nodes = []
        for i, node in enumerate(layer._inbound_nodes):
            if id(node) in node_ids:
                kwargs = {k: _encode(v) for k, v in node.call_kwargs.items()}
                nodes.append({"args": _encode(list(node.call_args)), "kwargs": kwargs,
                              "node_index": i})
        entry["inbound_nodes"] = nodes
        layer_configs.append(entry)

    def refs(struct):
        if isinstance(struct, dict):
            return {k: refs(v) for k, v in struct.items()}
        if isinstance(struct, (list, tuple)):
            return [refs(v) for v in struct]
        layer, node_index, tensor_index = struct._keras_history
        return [layer.name, node_index, tensor_index]

    return {"name": model.name, "trainable": model.trainable, "layers": layer_configs,
            "input_layers": refs(model._input_struct), "output_layers": refs(model._output_struct)}


def functional_from_config(config, custom_objects=None):
    from fastnet.layers.core import InputLayer
    from fastnet.models.functional import Functional
    from fastnet.models.model import Model

    created = {}
    # tensors[(layer name, saved node index)] = list of output KerasTensors
    tensors = {}
    pending = list(config["layers"])
    for entry in pending:
        layer = deserialize_layer(entry, custom_objects)
        layer.name = entry.get("name", layer.name)
        created[layer.name] = layer
        if isinstance(layer, InputLayer):
            tensors[(layer.name, 0)] = [layer.output_tensor]

    def decode(x):
        if isinstance(x, dict) and x.get("class_name") == "__keras_tensor__":
            name, node_index, tensor_index = x["config"]["keras_history"]
            return tensors[(name, node_index)][tensor_index]
        if isinstance(x, list):
            return [decode(v) for v in x]
        if isinstance(x, dict):
            return {k: decode(v) for k, v in x.items()}
        return x

    remaining = [(e, n) for e in pending for n in e.get("inbound_nodes", [])]
    progress = True
    while remaining and progress:
        progress = False
        still = []
        for entry, node in remaining:
            try:
                args = decode(node["args"])
                kwargs = decode(node.get("kwargs", {}))
            except KeyError:
                still.append((entry, node))
                continue
            layer = created[entry["name"]]
            out = layer(*args, **kwargs)
            flat = out if isinstance(out, (list, tuple)) else [out]
            tensors[(entry["name"], node.get("node_index", len(layer._inbound_nodes) - 1))] = \
                list(flat)
            progress = True
        remaining = still
    if remaining:
        raise ValueError("Could not rebuild the functional graph from its config: unresolved "
                         f"inputs for layers {[e['name'] for e, _ in remaining]}")

    def lookup(ref):
        if isinstance(ref, dict):
            return {k: lookup(v) for k, v in ref.items()}
        if ref and isinstance(ref[0], list):
            return [lookup(r) for r in ref]
        name, node_index, tensor_index = ref
        return tensors[(name, node_index)][tensor_index]

    inputs = lookup(config["input_layers"])
    outputs = lookup(config["output_layers"])
    model = Functional.__new__(Functional)
    Model.__init__(model, name=config.get("name"))
    model._init_graph(inputs, outputs)
    return model


# ---- sequential ------------------------------------------------------------------------

def sequential_config(model):
    layers = []
    if model._input_layer is not None:
        layers.append(serialize_layer(model._input_layer))
    layers += [serialize_layer(lay) for lay in model.layers]
    return {"name": model.name, "trainable": model.trainable, "layers": layers}


def sequential_from_config(config, custom_objects=None):
    from fastnet.models.sequential import Sequential

    model = Sequential(name=config.get("name"))
    for entry in config["layers"]:
        model.add(deserialize_layer(entry, custom_objects))
    return model


def serialize_model(model):
    return serialize_layer(model)
