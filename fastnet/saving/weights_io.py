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


class SavedFileError(ValueError):
    """A model or weights file that cannot be read: missing, empty, truncated, corrupt,
    not a Keras/fastnet file, or not matching the model. The message names the file."""


def _own_vars(layer):
    return list(layer._own_weights)


def _own_key(layer):
    """Where Keras keeps a layer's own variables: ConvLSTM2D's belong to its cell
    (``<layer>/cell/vars``; fastnet's ConvLSTM2D holds them itself), every other layer's
    to ``<layer>/vars``."""
    from fastnet.layers.rnn import ConvLSTM2D

    return "cell" if isinstance(layer, ConvLSTM2D) else None


def _class_keys(layers):
    from fastnet.backend.naming import to_snake_case

    used = {}
    out = []
    for child in layers:
        base = to_snake_case(type(child).__name__)
        n = used.get(base, 0)
        used[base] = n + 1
        out.append((f"layers/{base}" if n == 0 else f"layers/{base}_{n}", child))
    return out


def _children(layer):
    """(path, child) pairs as Keras 3 writes them: wrappers by attribute
    (``forward_layer``, ``backward_layer``, ``layer``), other sublayers under ``layers/``
    keyed positionally by class name (dense, dense_1, ...), so files load into a model
    whose layers got other automatic names. An RNN layer's cell is ``cell`` (SimpleRNN,
    LSTM, GRU hold one too), a StackedRNNCells' cells are under ``cells/``."""
    from fastnet.layers.layer import Layer
    from fastnet.layers.rnn import Bidirectional, TimeDistributed
    from fastnet.layers.rnn_cell import RNN, StackedRNNCells

    if isinstance(layer, RNN) and isinstance(layer.cell, Layer):
        return [("cell", layer.cell)]
    if isinstance(layer, StackedRNNCells):
        return [("cells/" + key[len("layers/"):], cell)
                for key, cell in _class_keys(layer.cells)]
    if isinstance(layer, Bidirectional):
        return [("forward_layer", layer.forward_layer), ("backward_layer", layer.backward_layer)]
    if isinstance(layer, TimeDistributed):
        return [("layer", layer.layer)]
    if getattr(layer, "_children_by_attribute", False):  # FeatureSpace: as Keras writes it
        return _attribute_children(layer)
    return _class_keys(layer._layers)


def _attribute_children(layer):
    """(path, child) pairs as Keras 3 writes the sublayers of a subclassed layer or model:
    by the attribute that holds them, attributes in sorted order with the private ones
    last (a Model's `layers` list among them), a list or dict of layers as
    ``<attribute>/<class name>[_n]``; a layer reached twice keeps its first path."""
    from fastnet.layers.layer import Layer
    from fastnet.models.model import Model

    attrs = dict(vars(layer))
    if isinstance(layer, Model):
        attrs.setdefault("layers", list(layer._layers))
    out, seen = [], set()
    for attr in sorted(attrs, key=lambda a: f"~{a}" if a.startswith("_") else a):
        value = attrs[attr]
        if isinstance(value, Layer):
            if id(value) not in seen:
                seen.add(id(value))
                out.append((attr, value))
        elif isinstance(value, (list, tuple, dict)):
            items = list(value.values()) if isinstance(value, dict) else list(value)
            fresh = [v for v in items if isinstance(v, Layer)]
            for key, child in _class_keys(fresh):
                if id(child) not in seen:
                    seen.add(id(child))
                    out.append((f"{attr}/{key[len('layers/'):]}", child))
    return out


def save_layer_tree(group, layer):
    vars_group = group.create_group("vars")
    own_key = _own_key(layer)
    if own_key is not None:
        vars_group = group.create_group(own_key).create_group("vars")
    values = layer._lora_saved_values() if hasattr(layer, "_lora_saved_values") else \
        [np.asarray(v.numpy()) for v in _own_vars(layer)]
    for i, value in enumerate(values):
        vars_group.create_dataset(str(i), data=value)
    for key, child in _children(layer):
        save_layer_tree(group.create_group(key), child)


def plan_layer_tree(group, layer, path="", skip_mismatch=False, out=None):
    """[(variable, value)] for every variable of layer's tree, every count and shape
    checked; nothing is assigned (the caller assigns once all of a file is read)."""
    out = [] if out is None else out
    where = path or "/"
    # a LoRA layer's file holds the merged weight, not the factors (zeroed on load)
    own = layer._lora_load_targets() if hasattr(layer, "_lora_load_targets") else \
        _own_vars(layer)
    if hasattr(layer, "_lora_after_load"):
        out.extend(layer._lora_after_load())
    vars_group = group.get("vars")
    own_key = _own_key(layer)
    if own_key is not None and own_key in group and "vars" in group[own_key] and \
            len(group[own_key]["vars"]):
        vars_group = group[own_key]["vars"]
    stored = len(vars_group) if vars_group is not None else 0
    if stored != len(own):
        if not skip_mismatch:
            raise SavedFileError(f"layer {layer.name!r} (at {where!r} in the file) has "
                                 f"{len(own)} variables, but the file has {stored}")
    else:
        for i, v in enumerate(own):
            value = np.asarray(vars_group[str(i)])
            if tuple(value.shape) != tuple(v.shape):
                if skip_mismatch:
                    continue
                raise SavedFileError(f"layer {layer.name!r} (at {where!r} in the file) "
                                     f"variable {i} ({v.name}): shape {tuple(value.shape)} in "
                                     f"the file, {tuple(v.shape)} in the model")
            out.append((v, value))
    children = _children(layer)
    if children and not all(key in group for key, c in children if c.weights):
        legacy = _class_keys(layer._layers)
        by_attr = [(k, c) for k, c in _attribute_children(layer)
                   if any(c is child for _, child in children)]
        if [k for k, _ in children] != [k for k, _ in legacy] and \
                all(key in group for key, _ in legacy):
            children = legacy  # fastnet < 0.2 kept wrappers' sublayers under layers/ too
        elif len(by_attr) == len(children) and all(k in group for k, c in by_attr
                                                   if c.weights):
            children = by_attr  # Keras's layout of a subclassed layer: by attribute name
    for key, child in children:
        if key not in group:
            if skip_mismatch or not child.weights:  # nothing to load for a weightless layer
                continue
            have = sorted(group["layers"].keys()) if "layers" in group else sorted(group.keys())
            raise SavedFileError(f"layer {child.name!r} ({path}/{key}) is not in the file; "
                                 f"at {where!r} it has {have}")
        plan_layer_tree(group[key], child, f"{path}/{key}", skip_mismatch, out)
    return out


def save_assets_tree(layer, root, path="", seen=None):
    """Every layer's ``save_assets(dir)`` (Keras's hook: StringLookup / IntegerLookup
    write their vocabulary.txt) into ``root/<path>``, path the layer's place in the
    weights file; directories left empty are removed."""
    import os

    seen = set() if seen is None else seen
    if id(layer) in seen:
        return
    seen.add(id(layer))
    if hasattr(layer, "save_assets"):
        target = os.path.join(root, path) if path else root
        os.makedirs(target, exist_ok=True)
        layer.save_assets(target)
        if path and not os.listdir(target):
            os.rmdir(target)
    for key, child in _children(layer):
        save_assets_tree(child, root, f"{path}/{key}" if path else key, seen)


def load_assets_tree(layer, root, path="", seen=None):
    """Every layer's ``load_assets(dir)`` from ``root/<path>`` when that directory
    exists: at fastnet's path of the layer or, for a subclassed layer of a Keras file,
    at the path of the attribute that holds it."""
    import os

    seen = set() if seen is None else seen
    if id(layer) in seen:
        return
    seen.add(id(layer))
    here = os.path.join(root, path) if path else root
    if hasattr(layer, "load_assets") and os.path.isdir(here):
        layer.load_assets(here)
    by_attr = {id(c): k for k, c in _attribute_children(layer)}
    for key, child in _children(layer):
        for k in (key, by_attr.get(id(child))):
            sub = f"{path}/{k}" if path else k
            if k is not None and os.path.isdir(os.path.join(root, sub)):
                load_assets_tree(child, root, sub, seen)
                break


def load_layer_tree(group, layer, path="", skip_mismatch=False):
    assign_all(plan_layer_tree(group, layer, path, skip_mismatch))


def assign_all(pairs):
    for v, value in pairs:
        v.assign(value)


def write_weights_file(path, model, optimizer=None):
    h5py = _h5py()
    with h5py.File(path, "w") as f:
        save_layer_tree(f, model)
        if optimizer is not None and optimizer._slots:
            _save_optimizer_state(f.create_group("optimizer"), model, optimizer)


def _lr_variable(optimizer):
    """Keras 3 keeps a float learning rate as an optimizer variable (index 1 in files);
    a LearningRateSchedule has none."""
    from fastnet.optimizers.schedules import LearningRateSchedule

    return not isinstance(optimizer._learning_rate, LearningRateSchedule)


def _multi(optimizer):
    from fastnet.optimizers.multi_optimizer import MultiOptimizer

    return isinstance(optimizer, MultiOptimizer)


def optimizer_arrays(model, optimizer, weights=None):
    """The optimizer's variables in Keras 3's order: iterations, the learning rate, the
    moving averages (use_ema), the gradient accumulators (gradient_accumulation_steps),
    then each trainable variable's slots in turn (Adam:
    momentum, velocity of the first weight, then of the second ...). A MultiOptimizer:
    its iterations and (zero) learning rate, then each sub-optimizer's own arrays for the
    variables it updates."""
    weights = model.trainable_weights if weights is None else weights
    if _multi(optimizer):
        out = [np.asarray(optimizer._iterations.numpy()), np.asarray(0.0, np.float32)]
        for opt, ws in optimizer._split(weights):
            out += optimizer_arrays(model, opt, ws)
        return out
    out = [np.asarray(optimizer._iterations.numpy())]
    if _lr_variable(optimizer):
        out.append(np.asarray(optimizer.learning_rate, dtype=np.float32))
    if getattr(optimizer, "use_ema", False):
        out += [optimizer._ema[id(v)][1] for v in weights if id(v) in optimizer._ema]
    accumulators = getattr(optimizer, "_accumulators", {})  # gradient_accumulation_steps
    out += [accumulators[id(v)] for v in weights if id(v) in accumulators]
    slots = [optimizer._slots.get(id(v), []) for v in weights]
    kinds = max((len(s) for s in slots), default=0)
    for group in _slot_groups(optimizer, kinds):
        for s in slots:
            out += [s[j] for j in group if j < len(s)]
    return out


def _slot_groups(optimizer, kinds):
    """Keras 3's layout of the slot kinds: each ``add_optimizer_variables`` call makes one
    group, its kinds interleaved per variable (Adam: momentum and velocity of weight 0,
    of weight 1 ..., then the velocity_hats); separate calls follow each other (RMSprop:
    all velocities, then all momentums, then all average gradients)."""
    names = {c.__name__ for c in type(optimizer).__mro__}
    if "RMSprop" in names:
        return [[j] for j in range(kinds)]
    if names & {"Adam", "AdamW", "Nadam", "Adamax"} and kinds >= 2:
        return [[0, 1]] + [[j] for j in range(2, kinds)]
    return [list(range(kinds))]


def _save_optimizer_state(group, model, optimizer):
    vars_group = group.create_group("vars")
    for i, value in enumerate(optimizer_arrays(model, optimizer)):
        vars_group.create_dataset(str(i), data=value)
    extra = optimizer.get_extra_state() if hasattr(optimizer, "get_extra_state") else {}
    for k, val in extra.items():
        group.attrs[k] = val


def read_weights_file(path, model, optimizer=None, skip_mismatch=False, by_name=False):
    with _h5py().File(path, "r") as f:
        read_weights_group(f, model, optimizer, skip_mismatch, by_name)


def read_weights_group(f, model, optimizer=None, skip_mismatch=False, by_name=False):
    """Loads a Keras 3 / fastnet `.weights.h5` (or a legacy HDF5 weights/model file) into
    model (and optimizer): everything is read and checked first, then assigned, so a
    file that does not fit leaves the model as it was."""
    if "layer_names" in f.attrs or "model_weights" in f:
        pairs = plan_legacy_weights(f["model_weights"] if "model_weights" in f else f,
                                    model, by_name=by_name, skip_mismatch=skip_mismatch)
        opt = None
        if optimizer is not None and "optimizer_weights" in f:
            opt = read_legacy_optimizer(f["optimizer_weights"])
    else:
        pairs = plan_layer_tree(f, model, skip_mismatch=skip_mismatch)
        opt = None
        if optimizer is not None and "optimizer" in f:
            vars_group = f["optimizer"]["vars"]
            opt = ([np.asarray(vars_group[str(i)]) for i in range(len(vars_group))],
                   dict(f["optimizer"].attrs))
    opt_plan = None
    if opt is not None:
        opt_plan = _plan_optimizer_state(model, optimizer, opt[0])
    assign_all(pairs)
    if opt is not None:
        _assign_optimizer_state(optimizer, opt[0], opt_plan, opt[1])


def _plan_multi_optimizer_state(model, optimizer, values, weights):
    """A MultiOptimizer's plan: its own two arrays, then each sub-optimizer's slice."""
    if len(values) < 2 or np.ndim(values[0]) != 0 or np.ndim(values[1]) != 0:
        raise ValueError("the optimizer state in the file does not match the model's "
                         "MultiOptimizer: it starts with neither iterations nor a learning "
                         "rate")
    subs, at = [], 2
    for opt, ws in optimizer._split(weights):
        opt.build(ws)
        n = len(optimizer_arrays(model, opt, ws))
        part = values[at:at + n]
        if len(part) != n:
            raise ValueError(f"the optimizer state in the file does not match the model's "
                             f"MultiOptimizer: {len(values)} arrays, fewer than its "
                             f"sub-optimizers' {type(opt).__name__} needs")
        subs.append((opt, part, _plan_optimizer_state(model, opt, part, ws)))
        at += n
    if at != len(values):
        raise ValueError(f"the optimizer state in the file does not match the model's "
                         f"MultiOptimizer: the file has {len(values)} arrays, its "
                         f"sub-optimizers take {at}")
    optimizer._built = True
    return [], None, subs


def _plan_optimizer_state(model, optimizer, values, weights=None):
    """(assignments, learning rate) for stored optimizer arrays, every shape checked
    before anything is assigned. Accepted layouts: Keras 3 (iterations, learning rate,
    moving averages, per-variable slots), Keras 3 without the learning rate (a
    schedule) and tf.keras 2 (iterations, per-variable slots), fastnet < 0.2
    (iterations, slots, moving averages last); the slots in Keras 3's groups
    (_slot_groups), per variable, or, as older Keras 3 releases wrote them, per slot
    kind (all momentums, then all velocities). The first layout whose every shape fits
    is used."""
    weights = model.trainable_weights if weights is None else weights
    if _multi(optimizer):
        return _plan_multi_optimizer_state(model, optimizer, values, weights)
    optimizer.build(weights)
    slots = [optimizer._slots[id(v)] for v in weights]
    kinds = max((len(s) for s in slots), default=0)
    ema = [optimizer._ema[id(v)][1] for v in weights] if getattr(optimizer, "use_ema", False) \
        else []
    accumulators = getattr(optimizer, "_accumulators", {})
    acc = [accumulators[id(v)] for v in weights if id(v) in accumulators]
    if acc:  # Keras 3 writes the accumulators after the averages, before the slots
        return _plan_with_accumulators(values, slots, ema, acc, optimizer, kinds)
    n_slots = sum(len(s) for s in slots)

    def layouts():
        rest = values[1:]
        if len(rest) == n_slots + len(ema) + 1:  # a learning-rate variable
            yield rest[0], rest[1:1 + len(ema)], rest[1 + len(ema):]
        if len(rest) == n_slots + 1 and ema:  # a Keras file written without use_ema
            yield rest[0], None, rest[1:]
        if len(rest) == n_slots + len(ema):
            yield None, rest[n_slots:], rest[:n_slots]  # fastnet's older files
            if ema:
                yield None, rest[:len(ema)], rest[len(ema):]
        if len(rest) == n_slots and ema:
            yield None, None, rest

    def orders(flat):
        if all(len(s) == kinds for s in slots):  # Keras 3's (and fastnet's) layout
            grouped = [[None] * kinds for _ in slots]
            i = 0
            for group in _slot_groups(optimizer, kinds):
                for k in range(len(slots)):
                    for j in group:
                        grouped[k][j] = flat[i]
                        i += 1
            yield grouped
        per_var = []  # fastnet < 0.2: every slot of a variable in turn
        i = 0
        for s in slots:
            per_var.append([flat[i + j] for j in range(len(s))])
            i += len(s)
        yield per_var
        if kinds > 1 and all(len(s) == kinds for s in slots):
            yield [[flat[j * len(slots) + k] for j in range(kinds)] for k in range(len(slots))]

    def fits(target, value):
        return tuple(np.shape(value)) == tuple(np.shape(target))

    if not values:
        raise ValueError("the optimizer state in the file is empty")
    if n_slots and len(values) <= 2 and all(np.ndim(v) == 0 for v in values):
        # an optimizer that was never built (a Keras model compiled, saved before any
        # training step): only iterations and the learning rate; the slots start fresh
        return [], (values[1] if len(values) == 2 else None)
    for lr, averages, flat in layouts():
        for grouped in orders(flat):
            ok = all(fits(t, v) for ts, vs in zip(slots, grouped) for t, v in zip(ts, vs))
            if averages is not None:
                ok = ok and all(fits(t, v) for t, v in zip(ema, averages))
            if ok and np.ndim(values[0]) == 0 and (lr is None or np.ndim(lr) == 0):
                pairs = [(t, v) for ts, vs in zip(slots, grouped) for t, v in zip(ts, vs)]
                if averages is not None:
                    pairs += list(zip(ema, averages))
                else:
                    pairs += [(average, v._value) for v, average in
                              zip(weights, ema)]  # averages start from the weights
                return pairs, lr
    shapes = [tuple(np.shape(v)) for v in values]
    want = [tuple(s.shape) for ss in slots for s in ss]
    raise ValueError(f"the optimizer state in the file does not match the model's "
                     f"{type(optimizer).__name__}: the file has {len(values)} arrays "
                     f"{shapes[:6]}..., the optimizer needs iterations and {len(want)} slot "
                     f"arrays {want[:6]}... (plus the learning rate in Keras 3 files)")


def _plan_with_accumulators(values, slots, ema, acc, optimizer, kinds):
    """The Keras 3 layout of an optimizer with gradient accumulation: iterations, the
    learning rate (none for a schedule), averages, accumulators, then the slots in
    Keras's groups."""
    n_slots = sum(len(s) for s in slots)
    rest = list(values[1:])
    lr = None
    if len(rest) == 1 + len(ema) + len(acc) + n_slots:
        lr, rest = rest[0], rest[1:]
    if len(rest) != len(ema) + len(acc) + n_slots or np.ndim(values[0]) != 0:
        raise ValueError(f"the optimizer state in the file does not match the model's "
                         f"{type(optimizer).__name__} with gradient_accumulation_steps: the "
                         f"file has {len(values)} arrays, the optimizer needs iterations, "
                         f"{len(ema)} averages, {len(acc)} accumulators and {n_slots} slots "
                         "(plus the learning rate in Keras 3 files)")
    targets = list(ema) + list(acc)
    grouped = [[None] * kinds for _ in slots]
    i = 0
    flat = rest[len(targets):]
    for group in _slot_groups(optimizer, kinds):
        for k in range(len(slots)):
            for j in group:
                if j < len(slots[k]):
                    grouped[k][j] = flat[i]
                    i += 1
    pairs = list(zip(targets, rest[:len(targets)]))
    pairs += [(t, v) for ts, vs in zip(slots, grouped) for t, v in zip(ts, vs)]
    for target, value in pairs:
        if tuple(np.shape(target)) != tuple(np.shape(value)):
            raise ValueError(f"the optimizer state in the file does not match the model's "
                             f"{type(optimizer).__name__}: an array of shape "
                             f"{tuple(np.shape(value))} where {tuple(np.shape(target))} belongs")
    return pairs, lr


def set_optimizer_state(model, optimizer, values, extra=None):
    _assign_optimizer_state(optimizer, values, _plan_optimizer_state(model, optimizer, values),
                            extra)


def _assign_optimizer_state(optimizer, values, plan, extra=None):
    pairs, lr = plan[:2]
    optimizer._iterations.assign(np.asarray(values[0]).astype(np.int64))
    for sub, sub_values, sub_plan in (plan[2] if len(plan) > 2 else ()):
        _assign_optimizer_state(sub, sub_values, sub_plan)
    for target, value in pairs:
        target[...] = value
    # the file's learning rate (changed by a callback, say) unless it is the config's
    # own, seen through float32
    if lr is not None and not _multi(optimizer) and _lr_variable(optimizer) and \
            np.float32(lr) != np.float32(optimizer.learning_rate):
        optimizer.learning_rate = float(lr)
    if extra and hasattr(optimizer, "set_extra_state"):
        optimizer.set_extra_state(dict(extra))


# ---- legacy tf.keras .h5 --------------------------------------------------------------------

def _decode(names):
    return [n.decode("utf8") if isinstance(n, bytes) else str(n) for n in names]


def _weight_paths(layer, prefix):
    """[(h5 name, variable)] of layer's tree, named as Keras 3's legacy .h5 names them
    (``bidirectional/forward_lstm/lstm_cell/kernel``, ``inner/dense/kernel``); made
    unique, since an .h5 group cannot hold one name twice."""
    from fastnet.backend.naming import to_snake_case

    out = []
    own_prefix = prefix
    if _own_key(layer) is not None:
        own_prefix = f"{prefix}/{to_snake_case(type(layer).__name__)}_cell"
    for v in _own_vars(layer):
        out.append((f"{own_prefix}/{v.name.split('/')[-1].split(':')[0]}", v))
    for _, child in _children(layer):
        out += _weight_paths(child, f"{prefix}/{child.name}")
    return out


def _unique(names):
    seen, out = {}, []
    for n in names:
        k = seen.get(n, 0)
        seen[n] = k + 1
        out.append(n if k == 0 else f"{n}_{k}")
    return out


def save_legacy_weights(group, model):
    layers = [lay for lay in model.layers]
    group.attrs["layer_names"] = [lay.name.encode("utf8") for lay in layers]
    group.attrs["backend"] = b"fastnet"
    # without a version tf.keras 2 takes the file for Keras 1's and converts the weights
    group.attrs["keras_version"] = b"3.0.0"
    for layer in layers:
        g = group.create_group(layer.name)
        paths = _weight_paths(layer, layer.name)
        # in the order of layer.weights, which is the order Keras reads them in
        by_id = {id(v): n for n, v in paths}
        weights = layer.weights
        names = _unique([by_id.get(id(w), f"{layer.name}/{w.name}") for w in weights])
        g.attrs["weight_names"] = [n.encode("utf8") for n in names]
        for n, w in zip(names, weights):
            g.create_dataset(n, data=np.asarray(w.numpy()))


def save_legacy_optimizer(group, model, optimizer):
    """Keras 3's `optimizer_weights` group: weight_names and one dataset per optimizer
    variable, in the order of optimizer_arrays."""
    values = optimizer_arrays(model, optimizer)
    names = ["iteration"] + (["learning_rate"] if _lr_variable(optimizer) else [])
    names += [f"var_{i}" for i in range(len(values) - len(names))]
    names = [f"{optimizer.name}/{n}" for n in names]
    group.attrs["weight_names"] = [n.encode("utf8") for n in names]
    for n, value in zip(names, values):
        group.create_dataset(n, data=value)


def read_legacy_optimizer(group):
    names = _decode(group.attrs.get("weight_names", []))
    return [np.asarray(group[n]) for n in names], {}


def plan_legacy_weights(group, model, by_name=False, skip_mismatch=False):
    """tf.keras / Keras 3 HDF5 weights as [(variable, value)], checked, not assigned:
    layers with weights matched in order (Keras's model.layers order) or by name, each
    layer's weights in its own order (Keras's layouts match fastnet's)."""
    if "layer_names" not in group.attrs:
        raise SavedFileError("the HDF5 file has no `layer_names` (not a Keras weights file)")
    names = _decode(group.attrs["layer_names"])
    stored = []
    for n in names:
        if n not in group:
            raise SavedFileError(f"layer {n!r} is listed in layer_names but missing")
        g = group[n]
        wnames = _decode(g.attrs.get("weight_names", []))
        if wnames:
            stored.append((n, [np.asarray(g[w]) for w in wnames]))
    layers = [lay for lay in model.layers if lay.weights]
    if by_name:
        lookup = dict(stored)
        matched = [(lay, lookup[lay.name]) for lay in layers if lay.name in lookup]
    else:
        if len(stored) != len(layers):
            raise SavedFileError(
                f"the weights file has {len(stored)} layers with weights, but the model has "
                f"{len(layers)} (file: {[n for n, _ in stored][:6]}..., model: "
                f"{[lay.name for lay in layers][:6]}...)")
        matched = [(lay, values) for lay, (_, values) in zip(layers, stored)]
    pairs = []
    for layer, values in matched:
        weights = layer.weights
        if len(values) != len(weights):
            if skip_mismatch:
                continue
            raise SavedFileError(f"layer {layer.name!r} has {len(weights)} weights, the file "
                                 f"has {len(values)} for it")
        for w, value in zip(weights, values):
            if tuple(value.shape) != tuple(w.shape):
                if skip_mismatch:
                    continue
                raise SavedFileError(f"layer {layer.name!r} weight {w.name!r}: shape "
                                     f"{tuple(value.shape)} in the file, {tuple(w.shape)} in "
                                     "the model")
            pairs.append((w, value))
    return pairs


def load_legacy_weights(group, model, by_name=False, skip_mismatch=False):
    assign_all(plan_legacy_weights(group, model, by_name, skip_mismatch))
