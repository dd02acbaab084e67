"""Operation: one node kind of a functional graph (Keras 3's ``keras.src.ops.Operation``).

An Operation has three entry points:

- ``call(*args, **kwargs)``: the eager computation, on Tensors;
- ``compute_output_spec(*args, **kwargs)``: the output's shape and dtype as KerasTensors,
  computed from the inputs' shapes and dtypes only (no kernel, no numpy arithmetic);
- ``symbolic_call(*args, **kwargs)``: ``compute_output_spec`` plus a ``Node`` recording the
  call, so ``Model(inputs, outputs)`` can walk the graph back and replay it.

``Operation.__call__`` picks ``symbolic_call`` when any argument is a KerasTensor, else
``call``. ``Layer`` (fastnet/layers/layer.py) is an Operation. Every public
``fastnet.ops`` function is an ``@op`` (csrc/cython/_core.pyx): eager by default; called
on KerasTensors it becomes an ``OpFunction`` — an Operation around that function whose
output spec comes from the op's spec rule (fastnet/ops/_specs.py).
"""

from __future__ import annotations

import numpy as np

from fastnet.backend import naming
from fastnet.backend import symbolic as _symbolic
from fastnet.backend.symbolic import KerasTensor

__all__ = ["Operation", "Node", "any_symbolic_tensors"]


def _flatten(struct):
    if isinstance(struct, dict):
        return [v for k in struct for v in _flatten(struct[k])]
    if isinstance(struct, (list, tuple)):
        return [v for s in struct for v in _flatten(s)]
    return [struct]


def _map(fn, struct):
    if isinstance(struct, dict):
        return {k: _map(fn, v) for k, v in struct.items()}
    if isinstance(struct, (list, tuple)):
        return type(struct)(_map(fn, v) for v in struct)
    return fn(struct)


def any_symbolic_tensors(args=(), kwargs=None):
    """Whether a KerasTensor is anywhere in `args` / `kwargs` (nested lists, tuples, dicts)."""
    return any(isinstance(t, KerasTensor) for t in _flatten([list(args),
                                                              list((kwargs or {}).values())]))


class Node:
    """One call of an Operation in a functional graph."""

    def __init__(self, operation, call_args, call_kwargs, outputs):
        self.operation = operation
        self.call_args = call_args          # positional args (first is the inputs structure)
        self.call_kwargs = call_kwargs      # keyword args (may hold tensors, e.g. mask)
        self.outputs = outputs              # list of KerasTensors
        self.input_tensors = [t for t in _flatten([call_args, list(call_kwargs.values())])
                              if isinstance(t, KerasTensor)]

    @property
    def parent_nodes(self):
        out = []
        for t in self.input_tensors:
            hist = t._keras_history
            if hist is not None:
                out.append(hist[0]._inbound_nodes[hist[1]])
        return out


class Operation:
    """Base of every graph node: ops on KerasTensors and layers."""

    # what the functional replay asks of a node's operation (Layer overrides them)
    _call_has_training = False
    _call_has_mask = False
    supports_masking = False

    def __init__(self, name=None):
        self.name = name or naming.unique_name(naming.to_snake_case(type(self).__name__))
        self._inbound_nodes = []

    def __call__(self, *args, **kwargs):
        if any_symbolic_tensors(args, kwargs):
            return self.symbolic_call(*args, **kwargs)
        return self.call(*args, **kwargs)

    def call(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__}.call is not implemented")

    def compute_output_spec(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__}.compute_output_spec is not "
                                  "implemented")

    def symbolic_call(self, *args, **kwargs):
        outputs = self.compute_output_spec(*args, **kwargs)
        self._record_node(args, kwargs, outputs)
        return outputs

    def _record_node(self, args, kwargs, outputs):
        flat_out = _flatten(outputs)
        node = Node(self, args, kwargs, flat_out)
        self._inbound_nodes.append(node)
        for i, t in enumerate(flat_out):
            t._keras_history = (self, len(self._inbound_nodes) - 1, i)
            t.name = self.name if len(flat_out) == 1 else f"{self.name}_{i}"
        return node

    def compute_mask(self, inputs, mask=None):
        return None

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


def dummy_value(kt, fill):
    """A concrete array for `kt` with None dims set to `fill` (the dry-run fallback only)."""
    shape = tuple(fill if s is None else s for s in kt.shape)
    dtype = kt.dtype
    if np.dtype(dtype).kind in "iu":
        return np.zeros(shape, dtype=dtype)
    if dtype == "bool":
        return np.ones(shape, dtype=bool)
    return np.full(shape, 0.5, dtype=dtype)


class OpFunction(Operation):
    """One call of a public ``fastnet.ops`` function on KerasTensors (``x + y``,
    ``ops.concatenate([a, b])``): replays the function eagerly, and gives its output spec
    from the op's spec rule in fastnet/ops/_specs.py without running it."""

    def __init__(self, fn, op_name=None):
        self.fn = fn
        self.op_name = op_name or getattr(fn, "__name__", "op")
        super().__init__(name=naming.unique_name(self.op_name))

    def call(self, *args, **kwargs):
        return self.fn(*args, **kwargs)

    def compute_output_spec(self, *args, **kwargs):
        from fastnet.ops._specs import SPECS

        rule = SPECS.get(self.op_name)
        if rule is None:
            raise NotImplementedError(
                f"fastnet.ops.{self.op_name} cannot be called on symbolic tensors (it has no "
                "output-spec rule); wrap it in a Layer with compute_output_shape, or a "
                "Lambda layer with output_shape=")
        return rule(*args, **kwargs)


_OP_CLASSES = {}


def _op_class(name):
    """One OpFunction subclass per op, named as Keras 3's op classes (add -> Add), so
    summaries and plots show ``add (Add)``."""
    cls = _OP_CLASSES.get(name)
    if cls is None:
        cls = type("".join(p.capitalize() for p in name.split("_")), (OpFunction,),
                   {"__module__": __name__})
        _OP_CLASSES[name] = cls
    return cls


_PUBLIC_NAMES = {}


def _public_name(op_fn):
    """The name under which fastnet.ops exports `op_fn` (ops made by a factory, e.g. the
    comparisons, share one __name__)."""
    if not _PUBLIC_NAMES:
        import sys

        for mod_name in ("fastnet.ops", "fastnet.ops.linalg"):
            for name, v in vars(sys.modules[mod_name]).items():
                if hasattr(v, "__wrapped_op__"):
                    _PUBLIC_NAMES.setdefault(v, name)
    return _PUBLIC_NAMES.get(op_fn) or getattr(op_fn, "__name__", "op")


def _symbolic_op_call(op_fn, args, kwargs):
    """The compiled @op decorator's symbolic path: a new OpFunction node per call."""
    name = _public_name(op_fn)
    return _op_class(name)(op_fn, name).symbolic_call(*args, **kwargs)


_symbolic.register_op_handler(_symbolic_op_call)
