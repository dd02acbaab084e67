"""Weights in HDF5 (h5py): Keras 3's `.weights.h5` layout and the legacy
tf.keras `.h5` layout.

Keras 3 layout: each layer's own variables at ``layers/<name>/vars/<i>``,
nested layers below their parent (``layers/<name>/layers/<child>/...``), the
optimizer's at ``optimizer/vars/<i>``. Legacy layout: a ``model_weights``
group (or the root) with ``layer_names`` and, per layer, ``weight_names``.
"""

from __future__ import annotations

import numpy as np


def _h5py():
    try:
        import h5py
    except ImportError as e:  # pragma: no cover - h5py is a dependency
        raise ImportError("Saving and loading weights needs h5py: pip install h5py") from e
    return h5py


def _own_vars(layer):
    return list(layer._own_weights)


def _children(layer):
    """(key, child) pairs. Keys are positional, from class names (dense, dense_1, ...) as
    Keras 3 does, so files load into a model whose layers got other automatic names."""
    from fastnet.backend.naming import to_snake_case

    used = {}
    out = []
    for child in layer._layers:
        base = to_snake_case(type(child).__name__)
        n = used.get(base, 0)
        used[base] = n + 1
        out.append((base if n == 0 else f"{base}_{n}", child))
    return out


def save_layer_tree(group, layer):
    vars_group = group.create_group("vars")
    for i, v in enumerate(_own_vars(layer)):
        vars_group.create_dataset(str(i), data=np.asarray(v.numpy()))
    if _children(layer):
        sub = group.create_group("layers")
        for key, child in _children(layer):
            save_layer_tree(sub.create_group(key), child)


def load_layer_tree(group, layer, path="", skip_mismatch=False):
    vars_group = group.get("vars")
    own = _own_vars(layer)
    stored = len(vars_group) if vars_group is not None else 0
    if stored != len(own):
        if skip_mismatch:
            return
        raise ValueError(f"Layer {path or layer.name!r} expects {len(own)} variables, but the "
                         f"file has {stored}")
    for i, v in enumerate(own):
        value = np.asarray(vars_group[str(i)])
        if tuple(value.shape) != tuple(v.shape):
            if skip_mismatch:
                continue
            raise ValueError(f"Layer {path or layer.name!r} variable {i}: shape "
                             f"{tuple(value.shape)} in the file, {tuple(v.shape)} in the model")
        v.assign(value)
    children = _children(layer)
    if not children:
        return
    sub = group.get("layers")
    if sub is None:
        raise ValueError(f"Layer {path or layer.name!r}: the file has no sublayers")
    for key, child in children:
        if key not in sub:
            if skip_mismatch:
                continue
            raise ValueError(f"Layer {path}/{key} ({child.name}) not found in the weights file; "
                             f"it has {sorted(sub.keys())}")
        load_layer_tree(sub[key], child, f"{path}/{key}", skip_mismatch)


def write_weights_file(path, model, optimizer=None):
    h5py = _h5py()
    with h5py.File(path, "w") as f:
        save_layer_tree(f, model)
        if optimizer is not None and optimizer._slots:
            _save_optimizer_state(f.create_group("optimizer"), model, optimizer)


def _save_optimizer_state(group, model, optimizer):
    vars_group = group.create_group("vars")
    vars_group.create_dataset("0", data=np.asarray(optimizer.iterations.numpy()))
    i = 1
    for v in model.trainable_weights:
        for slot in optimizer._slots.get(id(v), []):
            vars_group.create_dataset(str(i), data=slot)
            i += 1
    if getattr(optimizer, "use_ema", False):  # the moving averages, after all slots
        for v in model.trainable_weights:
            if id(v) in optimizer._ema:
                vars_group.create_dataset(str(i), data=optimizer._ema[id(v)][1])
                i += 1
    extra = optimizer.get_extra_state() if hasattr(optimizer, "get_extra_state") else {}
    for k, val in extra.items():
        group.attrs[k] = val


def read_weights_file(path, model, optimizer=None, skip_mismatch=False):
    h5py = _h5py()
    with h5py.File(path, "r") as f:
        if "layer_names" in f.attrs or "model_weights" in f:
            load_legacy_weights(f["model_weights"] if "model_weights" in f else f, model)
            return
        load_layer_tree(f, model, skip_mismatch=skip_mismatch)
        if optimizer is not None and "optimizer" in f:
            _load_optimizer_state(f["optimizer"], model, optimizer)


def _load_optimizer_state(group, model, optimizer):
    vars_group = group["vars"]
    weights = model.trainable_weights
    optimizer.build(weights)
    optimizer.iterations.assign(np.asarray(vars_group["0"]))
    i = 1
    for v in weights:
        slots = optimizer._slots[id(v)]
        for j in range(len(slots)):
            if str(i) not in vars_group:
                raise ValueError("The optimizer state in the file does not match the model")
            slots[j][...] = np.asarray(vars_group[str(i)])
            i += 1
    if getattr(optimizer, "use_ema", False):
        for v in weights:
            average = optimizer._ema[id(v)][1]
            # a file written without use_ema: the averages start from the loaded weights
            average[...] = np.asarray(vars_group[str(i)]) if str(i) in vars_group else v._value
            i += 1
    if hasattr(optimizer, "set_extra_state"):
        optimizer.set_extra_state(dict(group.attrs))


# ---- legacy tf.keras .h5 --------------------------------------------------------------------

def _decode(names):
    return [n.decode("utf8") if isinstance(n, bytes) else str(n) for n in names]


def save_legacy_weights(group, model):
    layers = [lay for lay in model.layers]
    group.attrs["layer_names"] = [lay.name.encode("utf8") for lay in layers]
    group.attrs["backend"] = b"fastnet"
    for layer in layers:
        g = group.create_group(layer.name)
        weights = layer.weights
        names = [f"{layer.name}/{w.name}:0" for w in weights]
        g.attrs["weight_names"] = [n.encode("utf8") for n in names]
        for n, w in zip(names, weights):
            g.create_dataset(n, data=np.asarray(w.numpy()))


def load_legacy_weights(group, model, by_name=False):
    """tf.keras HDF5 weights: layers matched in order (or by name), weights in
    each layer's own order (Keras's layouts match fastnet's)."""
    names = _decode(group.attrs["layer_names"])
    stored = []
    for n in names:
        g = group[n]
        wnames = _decode(g.attrs.get("weight_names", []))
        if wnames:
            stored.append((n, [np.asarray(g[w]) for w in wnames]))
    layers = [lay for lay in model.layers if lay.weights]
    if by_name:
        lookup = dict(stored)
        for layer in layers:
            if layer.name in lookup:
                layer.set_weights(lookup[layer.name])
        return
    if len(stored) != len(layers):
        raise ValueError(f"The weights file has {len(stored)} layers with weights, but the model "
                         f"has {len(layers)} (file: {[n for n, _ in stored][:5]}..., model: "
                         f"{[lay.name for lay in layers][:5]}...)")
    for layer, (_, values) in zip(layers, stored):
        layer.set_weights(values)
