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


def _public_name(cls):
    from fastnet.saving.serialization_lib import _public_name as public_name

    return public_name(cls)


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
    if cls is None and module:  # keras.utils.FeatureSpace and its parts
        from fastnet.saving.serialization_lib import _public_object

        cls = _public_object(module, name)
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
    """Keras 3's layer entry. Built-in layers are ``module "keras.layers"``; models as
    Keras registers them (``module "keras"``, registered name ``"Functional"`` /
    ``"Sequential"``); custom classes by their Python module and registered name."""
    cls = type(layer)
    builtin = _builtin_classes().get(cls.__name__) is cls
    if builtin and cls.__name__ in ("Functional", "Model"):
        module, registered = "keras.src.models.functional", "Functional"
    elif builtin and cls.__name__ == "Sequential":
        module, registered = "keras", None
    elif builtin:
        module, registered = "keras.layers", None
    elif _public_name(cls) is not None:  # keras.utils.FeatureSpace, its preprocessors
        module, registered = _public_name(cls)[0], None
    else:
        module, registered = cls.__module__, object_registration.get_registered_name(cls)
    from fastnet.saving.serialization_lib import serialize_dict

    return {
        "module": module,
        "class_name": cls.__name__,
        # as Keras's serialize_keras_object: Keras objects a custom get_config returns
        # (a sub-layer, a regularizer) are serialized in place
        "config": serialize_dict(layer.get_config()),
        "registered_name": registered,
        "build_config": layer.get_build_config() if layer.built else None,
    }


# Keys Keras 3 writes that fastnet's layers do not take, dropped when they hold the value
# that means "feature unused" (a set value is kept, so the layer reports it).
_KERAS_NEUTRAL = {"quantization_config": None, "ragged": False, "optional": False,
                  "lora_rank": None, "lora_alpha": None, "time_major": False,
                  "renorm": False, "renorm_clipping": None, "virtual_batch_size": None,
                  "adjustment": None}
# Keys accepted and ignored whatever their value, because they do not change what the
# layer computes: `implementation` (Keras's choice of RNN kernel strategy, 1 or 2; both
# give the same outputs), `shared_object_id` (Keras's de-duplication tag for objects
# that appear twice in one config).
_NO_EFFECT = ("implementation", "shared_object_id")
# Keys that only mean something next to another key: BatchNormalization's renorm_momentum
# without renorm, Keras 2's `fused` (a kernel choice).
_NO_EFFECT_WITHOUT = {"renorm_momentum": "renorm", "fused": None}


def _plain_config(x):
    """Keras object configs made plain: DTypePolicy dicts become their dtype name (a
    float32/float64 policy is just the dtype; a mixed policy is refused), and the
    bookkeeping keys of _NO_EFFECT are dropped, at every depth."""
    if isinstance(x, list):
        return [_plain_config(v) for v in x]
    if not isinstance(x, dict):
        return x
    if x.get("class_name") in ("DTypePolicy", "FloatDTypePolicy", "Policy"):
        name = (x.get("config") or {}).get("name", "float32")
        if isinstance(name, str) and name.startswith("mixed_"):
            raise NotImplementedError(f"dtype policy {name!r} (mixed precision) is not "
                                      "implemented in fastnet")
        return name
    return {k: _plain_config(v) for k, v in x.items() if k != "shared_object_id"}


# Size arguments of layers: a config is refused before anything is allocated when one is
# not a dimension Keras could have built (Keras's shapes are int32).
_SIZE_ARGS = ("units", "filters", "input_dim", "output_dim", "num_heads", "key_dim",
              "value_dim", "depth_multiplier", "num_tokens", "max_tokens", "n", "groups")
MAX_DIM = 2**31 - 1


def _check_sizes(inner, class_name):
    for key in _SIZE_ARGS:
        v = inner.get(key)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            continue
        if v < 0 or v > MAX_DIM:
            raise ValueError(f"{class_name} {inner.get('name', '')!r}: {key}={v} is not a "
                             f"valid size (0 <= {key} <= 2**31-1); refusing to build it")
    for key in ("shape", "batch_shape", "batch_input_shape", "target_shape", "kernel_size"):
        dims = inner.get(key)
        if isinstance(dims, list) and any(isinstance(d, int) and not 0 <= d <= MAX_DIM
                                          for d in dims):
            raise ValueError(f"{class_name} {inner.get('name', '')!r}: {key}={dims} has a "
                             "dimension that is not a valid size; refusing to build it")


def _keras_compat(inner, class_name=None):
    inner = _plain_config(inner)
    _check_sizes(inner, class_name)
    for key in _NO_EFFECT:
        inner.pop(key, None)
    for key, neutral in _KERAS_NEUTRAL.items():
        if key in inner and inner[key] == neutral:
            del inner[key]
    for key, needs in _NO_EFFECT_WITHOUT.items():
        if key in inner and (needs is None or needs not in inner):
            del inner[key]
    axis = inner.get("axis")
    if class_name == "BatchNormalization" and isinstance(axis, list) and len(axis) == 1:
        inner["axis"] = axis[0]  # Keras 2 writes BatchNormalization's axis as a list
    return inner


def deserialize_layer(config, custom_objects=None):
    cls = get_class(config["class_name"], custom_objects, config.get("module"),
                    config.get("registered_name"))
    inner = _keras_compat(dict(config.get("config") or {}), config.get("class_name"))
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

def _tensor_ref(t, reindex=None):
    layer, node_index, tensor_index = t._keras_history
    node_index = (reindex or {}).get((id(layer), node_index), node_index)
    return {"class_name": "__keras_tensor__",
            "config": {"shape": list(t.shape), "dtype": t.dtype,
                       "keras_history": [layer.name, node_index, tensor_index]}}


def _encode(x, reindex=None):
    if isinstance(x, KerasTensor):
        return _tensor_ref(x, reindex)
    if isinstance(x, (list, tuple)):
        return [_encode(v, reindex) for v in x]
    if isinstance(x, dict):
        return {k: _encode(v, reindex) for k, v in x.items()}
    return x


def functional_config(model):
    from fastnet.layers.layer import Layer

    node_ids = {id(n) for n in model._nodes}
    # As Keras: node indices count only this model's calls of a layer (a layer also
    # called outside the model has other nodes), so a file's node i is the i-th entry of
    # its layer's inbound_nodes.
    reindex = {}
    for layer in model.layers:
        kept = [i for i, n in enumerate(layer._inbound_nodes) if id(n) in node_ids]
        reindex.update({(id(layer), i): j for j, i in enumerate(kept)})
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
        for node in layer._inbound_nodes:
            if id(node) in node_ids:
                kwargs = {k: _encode(v, reindex) for k, v in node.call_kwargs.items()}
                nodes.append({"args": _encode(list(node.call_args), reindex), "kwargs": kwargs})
        entry["inbound_nodes"] = nodes
        layer_configs.append(entry)

    def refs(struct):
        if isinstance(struct, dict):
            return {k: refs(v) for k, v in struct.items()}
        if isinstance(struct, (list, tuple)):
            return [refs(v) for v in struct]
        layer, node_index, tensor_index = struct._keras_history
        return [layer.name, reindex.get((id(layer), node_index), node_index), tensor_index]

    return {"name": model.name, "trainable": model.trainable, "layers": layer_configs,
            "input_layers": refs(model._input_struct), "output_layers": refs(model._output_struct)}


def _is_k2_ref(x):
    return (isinstance(x, list) and len(x) in (3, 4) and isinstance(x[0], str) and
            isinstance(x[1], int) and isinstance(x[2], int))


def _k2_node(node, decode):
    """Keras 2's node: a list of [layer name, node index, tensor index, kwargs] (one per
    input tensor); one input is called alone, several as a list (Keras 3's reading)."""
    tensors = []
    kwargs = {}
    for ref in node:
        if not _is_k2_ref(ref):
            raise ValueError(f"Unrecognized Keras 2 inbound node entry {ref!r}")
        tensors.append(decode(ref[:3]))
        if len(ref) == 4 and ref[3]:
            kwargs = {k: decode(v) for k, v in ref[3].items()}
    return [tensors[0] if len(tensors) == 1 else tensors], kwargs


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

    # Keras 2 counts a nested model's own Input node as its node 0, so references to a
    # nested model that starts with an InputLayer are one higher than its saved nodes.
    skip_first = {e.get("name") for e in pending
                  if e.get("class_name") in ("Functional", "Sequential", "Model") and
                  (e.get("config") or {}).get("layers") and
                  e["config"]["layers"][0].get("class_name") == "InputLayer"}

    def k2_tensor(name, node_index, tensor_index):
        return tensors[(name, node_index - (name in skip_first))][tensor_index]

    def decode(x):
        if _is_k2_ref(x):
            return k2_tensor(*x[:3])
        if isinstance(x, dict) and x.get("class_name") == "__keras_tensor__":
            name, node_index, tensor_index = x["config"]["keras_history"]
            return tensors[(name, node_index)][tensor_index]
        if isinstance(x, list):
            return [decode(v) for v in x]
        if isinstance(x, dict):
            return {k: decode(v) for k, v in x.items()}
        return x

    # a node's index in a file is its position in its layer's inbound_nodes (Keras
    # re-indexes them to count only this model's calls)
    remaining = [(e, (i, n)) for e in pending for i, n in enumerate(e.get("inbound_nodes", []))]
    progress = True
    while remaining and progress:
        progress = False
        still = []
        for entry, (position, node) in remaining:
            try:
                if isinstance(node, list):  # Keras 2: [[layer, node, tensor, kwargs], ...]
                    args, kwargs = _k2_node(node, decode)
                else:
                    args = decode(node["args"])
                    kwargs = decode(node.get("kwargs", {}))
            except KeyError:
                still.append((entry, (position, node)))
                continue
            layer = created[entry["name"]]
            out = layer(*args, **kwargs)
            flat = out if isinstance(out, (list, tuple)) else [out]
            index = node.get("node_index") if isinstance(node, dict) else None
            tensors[(entry["name"], position if index is None else index)] = list(flat)
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
        if k2_format:
            return k2_tensor(name, node_index, tensor_index)
        return tensors[(name, node_index)][tensor_index]

    k2_format = any(isinstance(n, list) for e in pending for n in e.get("inbound_nodes", []))

    def single(x):  # Keras 2 lists one input/output as [[name, 0, 0]]
        return x[0] if isinstance(x, list) and len(x) == 1 else x

    inputs = single(lookup(config["input_layers"]))
    outputs = single(lookup(config["output_layers"]))
    model = Functional.__new__(Functional)
    Model.__init__(model, name=config.get("name"))
    model._init_graph(inputs, outputs)
    return model


def keras2_config(config):
    """A model config (Keras 3's form, as serialize_layer writes it) rewritten in tf.keras
    2's form for the legacy `.h5` (what tf.keras 2 reads there; fastnet reads both):
    InputLayer's ``batch_input_shape``, inbound nodes as lists of [layer, node, tensor,
    kwargs], a nested graph model's first node being its own Input, input/output layers
    as lists of refs."""
    if isinstance(config, list):
        return [keras2_config(c) for c in config]
    if not isinstance(config, dict):
        return config
    out = {k: keras2_config(v) for k, v in config.items()}
    if isinstance(out.get("registered_name"), str) and ">" in out["registered_name"]:
        out["class_name"] = out["registered_name"]  # tf.keras 2 names registered classes so
    inner = out.get("config")
    if out.get("class_name") == "InputLayer" and isinstance(inner, dict) and \
            "batch_shape" in inner:
        inner["batch_input_shape"] = inner.pop("batch_shape")
    if out.get("class_name") in ("SimpleRNN", "LSTM", "GRU") and isinstance(inner, dict) and \
            inner.get("seed", 0) is None:
        del inner["seed"]  # tf.keras 2's RNN layers take no seed (None: the default)
    if out.get("class_name") in ("Functional", "Model") and isinstance(inner, dict) and \
            "layers" in inner:
        skip = {e.get("name") for e in inner["layers"] if _graph_model(e)}

        def ref(history):
            name, node, tensor = history
            return [name, node + (name in skip), tensor]

        def to_k2(x):
            if isinstance(x, dict) and x.get("class_name") == "__keras_tensor__":
                return ref(x["config"]["keras_history"])
            if isinstance(x, list):
                return [to_k2(v) for v in x]
            if isinstance(x, dict):
                return {k: to_k2(v) for k, v in x.items()}
            return x

        for entry in inner["layers"]:
            nodes = []
            for node in entry.get("inbound_nodes", []):
                if not isinstance(node, dict):
                    nodes.append(node)
                    continue
                args = node.get("args", [])
                first = args[0] if args else []
                tensors = first if isinstance(first, list) else [first]
                kwargs = {k: to_k2(v) for k, v in (node.get("kwargs") or {}).items()}
                nodes.append([ref(t["config"]["keras_history"]) + [kwargs] for t in tensors])
            entry["inbound_nodes"] = nodes

        def refs(r):
            if isinstance(r, dict):
                return {k: refs(v) for k, v in r.items()}
            if r and isinstance(r[0], list):
                return [refs(v) for v in r]
            return ref(r)

        for key in ("input_layers", "output_layers"):
            r = refs(inner[key])
            inner[key] = [r] if r and not isinstance(r[0], (list, dict)) and \
                not isinstance(r, dict) else r
    return out


def _graph_model(entry):
    layers = (entry.get("config") or {}).get("layers")
    return (entry.get("class_name") in ("Functional", "Sequential", "Model") and bool(layers)
            and layers[0].get("class_name") == "InputLayer")


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
        layer = deserialize_layer(entry, custom_objects)
        build = entry.get("build_config")
        if build and build.get("input_shape") is not None and not layer.built:
            # as Keras's deserialize_keras_object: each layer is built from its own build
            # config before it joins the model, outside the model's name scope (so a
            # loaded Sequential's weights have no model prefix in their paths, as Keras's)
            shape = build["input_shape"]
            nested = bool(shape) and isinstance(shape[0], (list, tuple))
            layer.build_from_config({**build, "input_shape": [tuple(s) for s in shape]
                                     if nested else tuple(shape)})
        model.add(layer)
    return model


def serialize_model(model):
    return serialize_layer(model)
