"""Symbolic tensors for the functional API.

``fastnet.Input`` returns a KerasTensor: a shape and dtype with no value.
Calling a layer on KerasTensors records a node in the layer graph and
returns new KerasTensors (see fastnet/layers/layer.py). Calling a
``fastnet.ops`` function (or a Python operator) on them wraps the op in an
``OpLayer`` so functional code like ``x + residual`` or
``ops.concatenate([a, b])`` builds graph nodes too.
"""

from __future__ import annotations

import numpy as np

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

    # Operators build OpLayer nodes through fastnet.ops.
    def _op(name, reverse=False):
        def method(self, other):
            from fastnet import ops

            fn = getattr(ops, name)
            return fn(other, self) if reverse else fn(self, other)

        return method

    __add__ = _op("add")
    __radd__ = _op("add", True)
    __sub__ = _op("subtract")
    __rsub__ = _op("subtract", True)
    __mul__ = _op("multiply")
    __rmul__ = _op("multiply", True)
    __truediv__ = _op("divide")
    __rtruediv__ = _op("divide", True)
    __pow__ = _op("power")
    __matmul__ = _op("matmul")
    __rmatmul__ = _op("matmul", True)
    __lt__ = _op("less")
    __le__ = _op("less_equal")
    __gt__ = _op("greater")
    __ge__ = _op("greater_equal")
    del _op

    def __neg__(self):
        from fastnet import ops

        return ops.negative(self)

    def __getitem__(self, key):
        from fastnet import ops

        return ops.get_item(self, key)


def dummy_value(kt, fill):
    """A concrete array for `kt` with None dims set to `fill` (used to infer output specs)."""
    shape = tuple(fill if s is None else s for s in kt.shape)
    dtype = kt.dtype
    if np.dtype(dtype).kind in "iu":
        return np.zeros(shape, dtype=dtype)
    if dtype == "bool":
        return np.ones(shape, dtype=bool)
    return np.full(shape, 0.5, dtype=dtype)


def symbolic_call(op_fn, args, kwargs):
    """Records a fastnet.ops call on KerasTensors as an OpLayer node."""
    from fastnet.layers.core import OpLayer

    return OpLayer(op_fn, args, kwargs)._call_symbolic_op()
