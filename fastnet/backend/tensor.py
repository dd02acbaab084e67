"""Tensor and Variable: a numpy buffer plus the hooks the tape needs.

A Tensor is immutable from the user's side (ops return new tensors); a
Variable is a Tensor whose buffer is updated in place (``assign``), which is
what the optimizers' fused kernels do. Python operators dispatch to
``fastnet.ops``, so ``x + residual`` or ``x[:, t, :]`` are recorded on an
active GradientTape like any other op.
"""

from __future__ import annotations

import copyreg
import itertools

import numpy as np

from fastnet._core import TensorBase, set_tensor_classes
from fastnet.backend.name_scope import current_path

_FLOATX = "float32"
_variable_ids = itertools.count()


def floatx():
    return _FLOATX


def standardize_dtype(dtype):
    """'float32'-style string for any numpy/fastnet dtype spec (None -> floatx)."""
    if dtype is None:
        return _FLOATX
    if isinstance(dtype, str) and dtype in ("float32", "float64", "float16", "int32", "int64",
                                            "int8", "int16", "uint8", "bool", "bfloat16"):
        return dtype
    if dtype in ("string", "str", str):  # Keras's string inputs (lookup layers read them)
        return "string"
    return str(np.dtype(dtype))


class Tensor(TensorBase):
    """An n-dimensional array on the CPU (float32 by default).

    The storage (``_value``, a numpy array) and the ``shape``/``ndim``/``size``/
    ``dtype`` properties live in the compiled base class (csrc/cython/_core.pyx),
    which the per-op hot path reads directly.

    ``_keras_logits`` (unset on most tensors) is the pre-activation input of the
    softmax/sigmoid that produced this tensor, as Keras's TensorFlow backend keeps
    it: the cross-entropies given this tensor compute from those logits (see
    fastnet/ops/nn.py: keras_logits). A reference, never a copy.
    """

    # _keras_mask: the mask a mask-producing layer attached (Keras's tensor attribute)
    __slots__ = ("_keras_logits", "_keras_mask")
    __array_priority__ = 100  # numpy defers `ndarray + Tensor` to Tensor.__radd__

    def numpy(self):
        v = self._value
        # Ops may leave a numpy scalar in a 0-d tensor; users get an ndarray.
        return v if type(v) is np.ndarray else np.asarray(v)

    def __array__(self, dtype=None, copy=None):
        # NumPy 2 protocol: always an ndarray (0-d stays 0-d); copy=False
        # raises when a copy cannot be avoided, copy=True always copies.
        v = self._value
        if type(v) is not np.ndarray:
            if copy is False:
                raise ValueError("Tensor.__array__: a 0-d tensor holding a numpy scalar cannot "
                                 "be viewed without a copy (copy=False)")
            v = np.asarray(v)
        if dtype is not None and np.dtype(dtype) != v.dtype:
            if copy is False:
                raise ValueError(f"Tensor.__array__: casting {v.dtype} to {np.dtype(dtype)} "
                                 f"needs a copy (copy=False)")
            return v.astype(dtype)
        return v.copy() if copy else v

    def __len__(self):
        if self._value.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._value.shape[0]

    def __iter__(self):
        if self._value.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        for i in range(self._value.shape[0]):
            yield self[i]

    def __repr__(self):
        body = np.array2string(self._value, separator=", ", threshold=64, edgeitems=3)
        return f"<Tensor shape={self.shape}, dtype={self.dtype}, numpy=\n{body}>"

    def __float__(self):
        return float(self._value)

    def __int__(self):
        return int(self._value)

    def __index__(self):
        return int(self._value)

    def __bool__(self):
        if self._value.size != 1:
            raise ValueError(f"The truth value of a tensor with shape {self.shape} is ambiguous")
        return bool(self._value)

    def __format__(self, spec):
        if self._value.ndim == 0:
            return format(self._value.item(), spec)
        return format(str(self), spec)

    __hash__ = object.__hash__

    def __reduce_ex__(self, protocol):
        # pickle/copy/deepcopy: the compiled base holds `_value`; subclasses
        # (Variable) add slots of their own.
        # The cached logits (_keras_logits) are not state: a copy is a plain tensor.
        state = {n: getattr(self, n) for n in copyreg._slotnames(type(self))
                 if n != "_keras_logits" and hasattr(self, n)}
        state.update(getattr(self, "__dict__", {}))
        return _restore_tensor, (type(self), self._value, state)

    # ---- operators, astype and T: defined in fastnet.ops, bound to this class in
    # fastnet/ops/__init__.py (_bind_operators), so the backend imports nothing above it


class Variable(Tensor):
    """A mutable, named tensor holding weights (``keras.Variable``).

    ``initializer`` is a value (array-like) or a callable ``f(shape, dtype)``.
    """

    __slots__ = ("name", "trainable", "_id", "path", "constraint", "regularizer",
                 "_trainable_at_creation")

    def __init__(self, initializer, shape=None, dtype=None, trainable=True, autocast=True,
                 aggregation="none", synchronization="auto", name=None):
        if callable(initializer):
            if shape is None:
                raise ValueError("Variable: when `initializer` is a callable, `shape` is required")
            dtype = standardize_dtype(dtype)
            value = np.asarray(initializer(tuple(shape), dtype=dtype), dtype=dtype)
        else:
            if isinstance(initializer, Tensor):
                initializer = initializer.numpy()
            arr = np.asarray(initializer)
            if dtype is None:
                dtype = _FLOATX if arr.dtype.kind == "f" or arr.dtype == object else str(arr.dtype)
            value = np.array(arr, dtype=standardize_dtype(dtype), copy=True)
            if shape is not None and tuple(shape) != value.shape:
                raise ValueError(f"Variable: initial value has shape {value.shape}, "
                                 f"expected shape {tuple(shape)}")
        super().__init__(np.array(value, order="C", copy=False) if value.flags.c_contiguous
                         else np.array(value, order="C"))
        self._id = next(_variable_ids)
        self.name = name or f"variable_{self._id}"
        # as Keras 3: the path is fixed here, from the name scopes open at creation
        parent = current_path()
        self.path = f"{parent}/{self.name}" if parent else self.name
        self.trainable = bool(trainable)
        self.constraint = None
        self.regularizer = None

    @property
    def value(self):
        return Tensor(self._value)

    def assign(self, value):
        v = value.numpy() if isinstance(value, Tensor) else np.asarray(value)
        if v.shape != self._value.shape:
            raise ValueError(f"Variable {self.name!r}: cannot assign a value of shape {v.shape} "
                             f"to a variable of shape {self._value.shape}")
        self._value[...] = v
        return self

    def assign_add(self, value):
        v = value.numpy() if isinstance(value, Tensor) else np.asarray(value)
        self._value += v.astype(self._value.dtype, copy=False)
        return self

    def assign_sub(self, value):
        v = value.numpy() if isinstance(value, Tensor) else np.asarray(value)
        self._value -= v.astype(self._value.dtype, copy=False)
        return self

    def __repr__(self):
        body = np.array2string(self._value, separator=", ", threshold=64, edgeitems=3)
        return (f"<Variable path={self.path}, shape={self.shape}, dtype={self.dtype}, "
                f"value={body}>")


def _restore_tensor(cls, value, state):
    t = TensorBase.__new__(cls)
    t._value = value
    for name, v in state.items():
        object.__setattr__(t, name, v)
    return t


set_tensor_classes(Tensor, Variable)
