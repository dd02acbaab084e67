"""Symbolic tensors for the functional API.

``fastnet.Input`` returns a KerasTensor: a shape and dtype with no value.
Calling a layer on KerasTensors records a node in the layer graph and
returns new KerasTensors (see fastnet/layers/layer.py). Calling a
``fastnet.ops`` function (or a Python operator) on them records an
``OpFunction`` Operation node (fastnet/ops/operation.py), so ``x + residual`` or
``ops.concatenate([a, b])`` builds graph nodes too.
"""

from __future__ import annotations

from fastnet.backend.tensor import standardize_dtype


class KerasTensor:
    __array_priority__ = 200

    def __init__(self, shape, dtype="float32", sparse=False, name=None):
        self.shape = tuple(None if s is None else int(s) for s in shape)
        self.dtype = standardize_dtype(dtype)
        self.sparse = sparse
        self.name = name
        self._keras_history = None  # (layer, node_index, tensor_index)

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"

    def __len__(self):
        raise TypeError("A symbolic KerasTensor has no len(); use .shape")

    def __iter__(self):
        raise TypeError("A symbolic KerasTensor is not iterable")

    def __bool__(self):
        raise TypeError("A symbolic KerasTensor cannot be used as a Python bool")

    def __array__(self, *a, **k):
        raise TypeError("A symbolic KerasTensor has no value: it only describes the input of a "
                        "functional model. Call the model on real data instead.")

    __hash__ = object.__hash__

    # The arithmetic operators (``x + y``, ``x[1:]``, ...) are bound by fastnet.ops at
    # import (fastnet/ops/__init__.py: _bind_operators), as they are for Tensor, so this
    # module imports nothing above the backend.


_op_handler = None


def register_op_handler(fn):
    """Set by fastnet.ops.operation: what a fastnet.ops call on KerasTensors becomes."""
    global _op_handler
    _op_handler = fn


def symbolic_call(op_fn, args, kwargs):
    """Called by the compiled ``@op`` decorator when an op receives KerasTensors: records
    the call as a graph node (an ``OpFunction`` Operation, see fastnet/ops/operation.py)."""
    if _op_handler is None:
        raise RuntimeError("fastnet.ops is not imported: no handler for ops on KerasTensors")
    return _op_handler(op_fn, args, kwargs)
