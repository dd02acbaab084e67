"""A subclassed model's ``call`` traced to a static graph for the compiled plan.

The model's ``call`` runs once per (training, input signature) on KerasTensors shaped
as the batch (batch axis None). Its layers record nodes as in a functional model
(the same Layer objects, so the plan binds the same weights) and ``x + y``,
``ops.relu(x)``, ``ops.concatenate([a, b])``, ``ops.reshape(x, (-1, n))`` record op nodes; the trace walks back
from the outputs to those inputs into ``(inputs, outputs, nodes)``, the form
``compiler.graph_of`` hands the compiler. Op nodes the plan has as a layer become
that layer (``x + y`` an ``Add``, ``ops.relu`` an ``Activation``), a nested
Sequential or functional model's call becomes its own nodes, and the nodes the trace
recorded on the model's layers are taken off them afterwards (a traced layer looks
as if it had never been called symbolically). A layer or model of the user's own
class called inside (a residual block, an encoder) has its call run on the symbolic
tensors too (the hook in ``Layer._symbolic_call``), so its layers record their nodes.

The trace refuses (``Unsupported``, naming the model and what failed), and the
trainer runs the eager path, when: ``call`` raises on symbolic tensors (numpy on a
tensor, ``if`` on a tensor's value, a shape read as a number on the batch axis);
it adds losses (``add_loss``); it sets attributes of the model (Python-side state
the plan would not update); it computes a tensor without the inputs (a constant, a
random draw) or mixes one in; it calls a layer the model does not track, an op the
plan has no layer for, or a layer with ``training`` other than the step's. The
random streams a refused trace may have drawn from are restored, so the eager path
that follows draws what it would have without the trace.
"""

from __future__ import annotations

import numpy as np

from fastnet.backend.symbolic import KerasTensor
from fastnet.backend.tape import stop_recording_all
from fastnet.layers.layer import _context as _layer_context
from fastnet.plan.compiler import Unsupported

__all__ = ["TracedGraph", "signature", "trace", "flatten_inputs", "fingerprint"]


class _TraceInput:
    """What a traced input's ``_keras_history`` names (as an InputLayer would)."""

    def __init__(self, name):
        self.name = name
        self._inbound_nodes = []


class TracedGraph:
    """One trace: the graph and the output structure ("single" or "list")."""

    __slots__ = ("inputs", "outputs", "nodes", "struct", "signature", "training", "layers",
                 "version")

    def __init__(self, inputs, outputs, nodes, struct, sig, training, layers):
        self.inputs = inputs
        self.outputs = outputs
        self.nodes = nodes
        self.struct = struct
        self.signature = sig
        self.training = training
        self.layers = layers  # fingerprint() when traced (a change traces again)
        self.version = None  # layer.attr_version when the fingerprint was last checked


# ---- the batch's signature --------------------------------------------------------------
def _leaf_sig(v, where):
    from fastnet.backend.tensor import Tensor

    a = v if type(v) is np.ndarray else v._value if isinstance(v, Tensor) else np.asarray(v)
    shape = a.shape
    if not shape:
        raise Unsupported(f"{where}: a scalar input")
    kind = a.dtype.kind
    if kind == "f":  # floating inputs reach call in the model's compute dtype (float32)
        dtype = "float32"
    elif kind in "iub":
        dtype = a.dtype.name
    else:
        raise Unsupported(f"{where}: an input of dtype {a.dtype}")
    return (shape[1:], dtype)


def signature(x):
    """A hashable description of a batch's inputs as call receives them (the trainer
    turns tuples into lists): structure, each input's shape after the batch axis and
    dtype. Raises Unsupported for what the trace does not take."""
    if isinstance(x, dict):
        return ("dict", tuple((k, signature(v)) for k, v in x.items()))
    if isinstance(x, (list, tuple)):
        return ("list", tuple(signature(v) for v in x))
    if x is None:
        raise Unsupported("no inputs")
    return ("leaf",) + _leaf_sig(x, "input")


def flatten_inputs(x):
    """The arrays of a batch's inputs in the traced graph's input order."""
    if isinstance(x, dict):
        return [a for v in x.values() for a in flatten_inputs(v)]
    if isinstance(x, (list, tuple)):
        return [a for v in x for a in flatten_inputs(v)]
    return [x]


def _symbolic_inputs(sig, flat, path="input"):
    kind = sig[0]
    if kind == "dict":
        return {k: _symbolic_inputs(s, flat, f"{path}[{k!r}]") for k, s in sig[1]}
    if kind == "list":
        return [_symbolic_inputs(s, flat, f"{path}[{i}]") for i, s in enumerate(sig[1])]
    kt = KerasTensor((None,) + sig[1], sig[2], name=path)
    kt._keras_history = (_TraceInput(path), 0, 0)
    flat.append(kt)
    return kt


# ---- tracing -------------------------------------------------------------------------------
def _rng_state(model):
    from fastnet import random as random_mod

    seeds = [(s, np.array(s._value, copy=True)) for s in model._seed_states()]
    g = random_mod._global_seed_generator
    if g is not None:
        seeds.append((g.state, np.array(g.state._value, copy=True)))
    return random_mod._global, random_mod._global.bit_generator.state, seeds


def _restore_rng(state):
    from fastnet import random as random_mod

    gen, bits, seeds = state
    if random_mod._global is gen:
        gen.bit_generator.state = bits
    for var, value in seeds:
        if not np.array_equal(var._value, value):
            var.assign(value)


_PLAIN = (bool, int, float, str, type(None))


def fingerprint(model, layers):
    """What a trace depends on besides the inputs: the model's layers and the plain Python
    values (flags, sizes, names) of the model and of its layers of the user's classes,
    which call may branch on (``if self.use_dropout:``); a change traces call again."""
    state = [id(lay) for lay in layers]
    for obj in layers:
        if obj is model or _user_defined(obj):
            state.extend(kv for kv in vars(obj).items() if type(kv[1]) in _PLAIN
                         and kv[0][0] != "_" and kv[0] not in _FRAMEWORK_ATTRS)
    return tuple(state)


# public attributes the framework sets (compile, fit's callbacks), not ones call reads
_FRAMEWORK_ATTRS = frozenset({"stop_training", "compiled", "run_eagerly", "jit_compile",
                              "steps_per_execution", "loss", "compiled_loss",
                              "compiled_metrics", "built", "input_spec", "optimizer"})


def _user_defined(layer):
    return not type(layer).__module__.startswith("fastnet.")


def _inline(layer):
    """Whether a traced call runs `layer`'s own call on the symbolic tensors (a layer or
    model of the user's, whose layers then record their nodes) instead of recording one
    node for it (a built-in layer; a nested Sequential or functional model, expanded
    from its graph by _expand)."""
    from fastnet.layers.layer import Layer
    from fastnet.models.functional import Functional
    from fastnet.models.sequential import Sequential

    return (_user_defined(layer) and type(layer).call is not Layer.call
            and not isinstance(layer, (Sequential, Functional)))


def _watched(model, tracked):
    """The objects whose attributes a call must leave alone: the model and its layers of
    the user's classes that are built (building sets attributes)."""
    return [model] + [lay for lay in tracked if lay is not model and lay.built
                      and _user_defined(lay)]


def _attr_state(objs):
    out = {}
    for i, obj in enumerate(objs):
        for k, v in vars(obj).items():
            out[(i, k)] = (id(v), len(v) if isinstance(v, (list, dict, set)) else None)
    return out


def _save_attrs(objs):
    return [(dict(vars(obj)), {k: (list(v) if isinstance(v, list) else v.copy())
                               for k, v in vars(obj).items()
                               if isinstance(v, (list, dict, set))}) for obj in objs]


def _changed(objs, attrs):
    after = _attr_state(objs)
    return sorted(k for k in after.keys() | attrs.keys()
                  if k[1] not in _INTERNAL_ATTRS and after.get(k) != attrs.get(k))


def _restore_attrs(objs, saved, keys):
    """The attributes `keys` as they were before the trace (a refused trace leaves the
    model as the eager path expects it)."""
    for i, k in keys:
        obj = objs[i]
        values, contents = saved[i]
        if k not in values:
            object.__delattr__(obj, k)
            continue
        v = values[k]
        object.__setattr__(obj, k, v)
        if k in contents:
            if isinstance(v, list):
                v[:] = contents[k]
            else:
                v.clear()
                v.update(contents[k])


# attributes the call machinery itself may set on the model
_INTERNAL_ATTRS = frozenset({"_losses", "_dry_run_mask", "built", "_build_shapes"})


def trace(model, training, sig):
    """The TracedGraph of ``model.call`` on inputs of signature `sig` (see signature())
    in training mode `training`; raises Unsupported."""
    name = f"{type(model).__name__} {model.name!r}"
    flat_in = []
    inputs = _symbolic_inputs(sig, flat_in)
    tracked = model._flatten_layers()
    n_nodes = [(lay, len(lay._inbound_nodes)) for lay in tracked]
    losses = [(lay, list(lay._losses)) for lay in tracked]
    watched = _watched(model, tracked)
    attrs = _attr_state(watched)
    saved = _save_attrs(watched)
    rng = _rng_state(model)
    try:
        with stop_recording_all():
            inlined = []

            def inline(layer):
                if _inline(layer):
                    inlined.append(layer)
                    return True
                return False

            _layer_context.trace_inline = inline
            try:
                out = model._call_with_context((inputs,), {"training": training})
            except Unsupported:
                raise
            except Exception as e:  # noqa: BLE001 - any failure of user code: eager
                msg = str(e).splitlines()[0] if str(e) else ""
                raise Unsupported(f"{name}: call could not be traced on symbolic inputs "
                                  f"({type(e).__name__}: {msg})") from None
            finally:
                _layer_context.trace_inline = None
        for lay in inlined:  # what their eager call does beside their call
            if lay.activity_regularizer is not None:
                raise Unsupported(f"{name}: layer {lay.name!r} has an activity_regularizer")
            if lay.dtype != "float32" and lay.autocast:
                raise Unsupported(f"{name}: layer {lay.name!r} computes in {lay.dtype}")
        added = [lay.name for lay, before in losses if len(lay._losses) != len(before)
                 or any(a is not b for a, b in zip(lay._losses, before))]
        if added:
            raise Unsupported(f"{name}: call adds losses (add_loss in {added})")
        changed = _changed(watched, attrs)
        if changed:
            where = [k if i == 0 else f"{watched[i].name}.{k}" for i, k in changed]
            raise Unsupported(f"{name}: call sets attributes {where} (Python-side state the "
                              "plan does not keep)")
        return _graph(model, name, flat_in, out, training, sig, tracked)
    finally:
        changed = _changed(watched, attrs)
        if changed:
            _restore_attrs(watched, saved, changed)
        for lay, before in losses:
            lay._losses = before
        for lay, n in n_nodes:  # the trace's nodes off the model's layers
            del lay._inbound_nodes[n:]
        _restore_rng(rng)


def _graph(model, name, flat_in, out, training, sig, tracked):
    from fastnet.layers.layer import Layer
    from fastnet.ops.operation import OpFunction

    if isinstance(out, KerasTensor):
        struct, outs = "single", [out]
    elif isinstance(out, (list, tuple)) and out and all(isinstance(t, KerasTensor)
                                                        for t in out):
        struct, outs = "list", list(out)
    else:
        what = "a dict" if isinstance(out, dict) else type(out).__name__
        raise Unsupported(f"{name}: call returns {what} (the plan takes one tensor or a "
                          "list of tensors)")
    input_ids = {id(t) for t in flat_in}
    tracked_ids = {id(lay) for lay in tracked}
    order, seen = [], set()

    def visit(t):
        if id(t) in input_ids:
            return
        hist = t._keras_history
        if hist is None or isinstance(hist[0], _TraceInput):
            raise Unsupported(f"{name}: a symbolic tensor from outside the call reaches its "
                              "output")
        op, index, _ = hist
        node = op._inbound_nodes[index]
        if id(node) in seen:
            return
        seen.add(id(node))
        for u in node.input_tensors:
            visit(u)
        if isinstance(op, Layer) and id(op) not in tracked_ids:
            if type(op) not in _stateless_types():
                raise Unsupported(f"{name}: call uses layer {op.name!r}, which the model "
                                  "does not track (not an attribute of it)")
            untracked.append(op)  # e.g. layers.add([a, b]): a new Add layer per call
        order.append(node)

    untracked = []
    try:
        for t in outs:
            visit(t)
    finally:
        for op in untracked:  # the trace's nodes off them too
            op._inbound_nodes = [n for n in op._inbound_nodes if id(n) not in seen]
    nodes = []
    for node in order:
        op = node.operation
        if isinstance(op, OpFunction):
            nodes.append(_op_node(name, node))
            continue
        if not isinstance(op, Layer):
            raise Unsupported(f"{name}: operation {op.name!r} ({type(op).__name__})")
        _check_call(name, node, training)
        nodes.extend(_expand(name, node, training))
    return TracedGraph(flat_in, outs, nodes, struct, sig, training,
                       fingerprint(model, tracked))


def _stateless_types():
    """Built-in layers without weights or random state: the same values whichever
    instance computes them (so one made inside call, untracked, is fine)."""
    from fastnet.layers import activation, core, merging

    return (merging.Add, merging.Concatenate, core.Activation, activation.ReLU, core.Flatten,
            core.Reshape)


def _check_call(name, node, training):
    layer = node.operation
    if len(node.call_args) != 1:
        raise Unsupported(f"{name}: layer {layer.name!r} is called with "
                          f"{len(node.call_args)} positional arguments")
    for v in [node.call_args[0]] if not isinstance(node.call_args[0], (list, tuple)) \
            else node.call_args[0]:
        if not isinstance(v, KerasTensor):
            raise Unsupported(f"{name}: layer {layer.name!r} is called on a "
                              f"{type(v).__name__}, not a tensor computed from the inputs")
    if "training" in node.call_kwargs:
        t = node.call_kwargs["training"]
        if t is not None and (not isinstance(t, (bool, np.bool_)) or bool(t) != training):
            raise Unsupported(f"{name}: layer {layer.name!r} is called with training={t!r} "
                              f"in a {'training' if training else 'inference'} step")


_ACT_OPS = ("relu", "sigmoid", "tanh", "softmax")


def _op_node(name, node):
    """An op node (``x + y``, ``ops.relu(x)``, ``ops.concatenate([a, b])``) as the
    built-in layer that computes the same values, or Unsupported."""
    from fastnet.layers import core, merging
    from fastnet.ops.operation import Node

    op = node.operation
    args, kwargs = node.call_args, node.call_kwargs
    kts = all(isinstance(a, KerasTensor) for a in args)
    if op.op_name == "add" and len(args) == 2 and not kwargs and kts:
        if tuple(args[0].shape) != tuple(args[1].shape) or args[0].dtype != args[1].dtype:
            raise Unsupported(f"{name}: {op.name!r} adds tensors of shapes {args[0].shape} "
                              f"and {args[1].shape} (the plan adds equal shapes)")
        return Node(merging.Add(name=op.name), (list(args),), {}, node.outputs)
    if op.op_name in _ACT_OPS and len(args) == 1 and kts and (
            not kwargs or (op.op_name == "softmax" and set(kwargs) == {"axis"}
                           and kwargs["axis"] in (-1, len(args[0].shape) - 1))):
        return Node(core.Activation(op.op_name, name=op.name), (args[0],), {}, node.outputs)
    if op.op_name == "concatenate" and len(args) == 1 and isinstance(args[0], (list, tuple)) \
            and len(args[0]) >= 2 and all(isinstance(a, KerasTensor) for a in args[0]) and \
            set(kwargs) <= {"axis"}:
        axis = kwargs.get("axis", 0)
        rank = len(args[0][0].shape)
        if axis not in (-1, rank - 1):
            raise Unsupported(f"{name}: {op.name!r} concatenates on axis {axis} (the plan "
                              "concatenates on the last axis)")
        return Node(merging.Concatenate(axis=-1, name=op.name), (list(args[0]),), {},
                    node.outputs)
    if op.op_name in ("reshape", "cast") and args and isinstance(args[0], KerasTensor):
        x = args[0]
        arg = args[1] if len(args) == 2 else kwargs.get("newshape" if op.op_name == "reshape"
                                                         else "dtype")
        known = all(isinstance(d, int) for d in x.shape[1:]) and len(x.shape) > 1
        if len(args) + len(kwargs) == 2 and known and op.op_name == "cast":
            from fastnet.backend.tensor import standardize_dtype

            if standardize_dtype(arg) == x.dtype:  # a cast to the dtype it has: a no-op
                return Node(core.Reshape(tuple(x.shape[1:]), name=op.name), (x,), {},
                            node.outputs)
        if len(args) + len(kwargs) == 2 and known and op.op_name == "reshape" and \
                isinstance(arg, (tuple, list)) and len(arg) > 1 and arg[0] == -1 and all(
                    isinstance(d, (int, np.integer)) and d > 0 for d in arg[1:]) and \
                int(np.prod(arg[1:])) == int(np.prod(x.shape[1:])):
            # the batch axis kept (-1 first, the rest the same number of values)
            return Node(core.Reshape(tuple(int(d) for d in arg[1:]), name=op.name), (x,), {},
                        node.outputs)
    consts = [type(a).__name__ for a in args if not isinstance(a, KerasTensor)]
    extra = f" with non-tensor arguments {consts}" if consts else ""
    raise Unsupported(f"{name}: call applies ops.{op.op_name}{extra} to a symbolic tensor "
                      "(the plan lowers layers, and +, relu, sigmoid, tanh, softmax, "
                      "concatenate on the last axis, a reshape keeping the batch axis, a "
                      "cast to the same dtype)")


def _expand(name, node, training):
    """A nested Sequential's or functional model's call as its own nodes (the model
    passes the step's `training` to each of its layers, as Sequential.call and
    Functional.call do); any other layer's node as it is."""
    from fastnet.models.functional import Functional
    from fastnet.models.sequential import Sequential
    from fastnet.ops.operation import Node, OpFunction, _map

    inner = node.operation
    if isinstance(inner, Sequential) and type(inner).call is Sequential.call:
        g = inner._graph
        if g is None:
            raise Unsupported(f"{name}: nested Sequential {inner.name!r} is not built")
    elif isinstance(inner, Functional) and type(inner).call is Functional.call:
        g = inner
    else:
        return [node]
    if len(g._inputs) != 1 or len(g._outputs) != 1 or len(node.input_tensors) != 1 or \
            len(node.outputs) != 1:
        raise Unsupported(f"{name}: nested model {inner.name!r} with several inputs or "
                          "outputs")
    src = node.input_tensors[0]
    if tuple(g._inputs[0].shape[1:]) != tuple(src.shape[1:]) or g._inputs[0].dtype != src.dtype:
        raise Unsupported(f"{name}: nested model {inner.name!r} built for inputs "
                          f"{g._inputs[0].shape}, called on {src.shape}")
    mapping = {id(g._inputs[0]): src, id(g._outputs[0]): node.outputs[0]}
    if g._outputs[0] is g._inputs[0]:
        raise Unsupported(f"{name}: nested model {inner.name!r} returns its input")

    def m(v):
        return mapping.get(id(v), v) if isinstance(v, KerasTensor) else v

    out = []
    for n in g._nodes:
        outs = []
        for kt in n.outputs:
            new = mapping.get(id(kt))
            if new is None:
                new = mapping[id(kt)] = KerasTensor(kt.shape, kt.dtype, name=kt.name)
            outs.append(new)
        kwargs = {k: v for k, v in n.call_kwargs.items() if k != "training"}
        new_node = Node(n.operation, _map(m, list(n.call_args)), _map(m, kwargs), outs)
        new_node.call_args = tuple(new_node.call_args)
        if isinstance(n.operation, OpFunction):
            out.append(_op_node(name, new_node))
        else:
            out.extend(_expand(name, new_node, training))
    return out
