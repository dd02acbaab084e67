# cython: language_level=3, boundscheck=False, wraparound=False
"""fastnet._core: the per-op hot path of the tensor/tape layer, compiled.

Every fastnet op, eager or under a GradientTape, runs through this module:
the Tensor's storage (``TensorBase``), wrapping an op's result and recording
it on the active tapes (``make``), the ``@op`` decorator's symbolic check, and
the reverse sweep of ``GradientTape.gradient`` (``TapeCore.backprop``). In
pure Python these cost a few microseconds per op, which is what a 1x10 add
or a 32x64 Dense layer spends; here they are C loops over Python objects.

The user-facing classes stay in Python (fastnet/backend/tensor.py, tape.py)
and subclass the types below, so their methods and docs read as plain Python.
"""

cimport cython
from cpython.object cimport PyObject

import functools

# Tapes currently recording, innermost last (fastnet.backend.tape re-exports
# this very list; it is mutated in place, never rebound).
RECORDING = []
cdef list _recording = RECORDING

# Set once by fastnet.backend.tensor: the Python Tensor and Variable classes.
cdef type _Tensor = None
cdef type _Variable = None


def set_tensor_classes(tensor_cls, variable_cls):
    global _Tensor, _Variable
    _Tensor = tensor_cls
    _Variable = variable_cls


@cython.auto_pickle(False)  # Tensor.__reduce_ex__ (Python) also saves subclass slots
cdef class TensorBase:
    """Storage of a Tensor: one numpy array in ``_value``."""

    cdef public object _value
    cdef object __weakref__

    def __init__(self, value):
        self._value = value

    @property
    def shape(self):
        return self._value.shape

    @property
    def ndim(self):
        return self._value.ndim

    @property
    def size(self):
        return self._value.size

    @property
    def dtype(self):
        # numpy computes dtype.name in Python (~2-5 us); the hot path reads it per op.
        d = self._value.dtype
        name = _dtype_names.get(d)
        if name is None:
            name = d.name
            if len(_dtype_names) < 512:  # structured dtypes could be unbounded
                _dtype_names[d] = name
        return name


# numpy dtype -> its name (Tensor.dtype)
cdef dict _dtype_names = {}


cdef inline object new_tensor(object value):
    cdef TensorBase t = <TensorBase>TensorBase.__new__(_Tensor)
    t._value = value
    return t


cdef inline bint _is_float(TensorBase t):
    return t._value.dtype.kind == "f"


cdef class TapeCore:
    """The recording state of a GradientTape.

    ``_records`` holds (inputs, output, backward) in execution order, which is
    already topological; ``_tracked`` maps id -> tensor for every watched
    source and every recorded output (keeping them alive keeps ids unique).
    """

    cdef public list _records
    cdef public dict _tracked
    cdef public bint watch_accessed_variables

    def __init__(self, watch_accessed_variables=True):
        self._records = []
        self._tracked = {}
        self.watch_accessed_variables = watch_accessed_variables

    cdef void maybe_record(self, TensorBase output, tuple inputs, object backward):
        cdef dict tracked = self._tracked
        cdef bint hit = False
        cdef object key
        for x in inputs:
            if x is None:
                continue
            key = id(x)
            if key in tracked:
                hit = True
            elif (self.watch_accessed_variables and type(x) is _Variable and x.trainable
                  and _is_float(<TensorBase>x)):
                tracked[key] = x
                hit = True
        if hit and _is_float(output):
            tracked[id(output)] = output
            self._records.append((inputs, output, backward))

    def _maybe_record(self, output, inputs, backward):
        self.maybe_record(<TensorBase?>output, tuple(inputs), backward)

    def backprop(self, dict grads, keep_ids, bint release):
        """Reverse sweep: calls each record's backward with its output's gradient
        and accumulates the inputs' gradients into ``grads`` (id -> Tensor).

        With ``release`` (a non-persistent tape) each record and each
        intermediate gradient is dropped as soon as it has been used, so the
        activations a backward closure holds are freed during the sweep.
        ``keep_ids`` are the ids whose gradients the caller will read.
        """
        global _sweep_tracked
        cdef list records = self._records
        cdef dict tracked = self._tracked
        cdef object outer_sweep = _sweep_tracked
        _sweep_tracked = tracked
        try:
            # This tape is paused during its sweep: a tape still recording is an outer one
            # (nested tapes), which records the backward closures' ops.
            self._sweep(records, tracked, grads, keep_ids, release, len(_recording) > 0)
        finally:
            _sweep_tracked = outer_sweep

    cdef _sweep(self, list records, dict tracked, dict grads, keep_ids, bint release,
                bint nested):
        cdef Py_ssize_t i, j, n
        cdef tuple rec, inputs
        cdef object g, gx, x, key, prev, okey
        for i in range(len(records) - 1, -1, -1):
            rec = <tuple>records[i]
            if release:
                records[i] = None
            okey = id(rec[1])
            g = grads.get(okey)
            if g is None:
                continue
            if release and okey not in keep_ids:
                del grads[okey]
            inputs = <tuple>rec[0]
            in_grads = rec[2](g)
            n = min(len(inputs), len(in_grads))
            if nested:
                _check_recorded(rec[2], g, inputs, in_grads, n)
            for j in range(n):
                gx = in_grads[j]
                x = inputs[j]
                if gx is None or x is None:
                    continue
                key = id(x)
                if key not in tracked:
                    continue
                prev = grads.get(key)
                grads[key] = gx if prev is None else accumulate(prev, gx)


cdef _check_recorded(object backward, object g, tuple inputs, object in_grads, Py_ssize_t n):
    """Nested tapes: a VJP is linear in its upstream gradient g, so when an outer tape
    tracks g, every nonzero input gradient must be an output that tape recorded. One
    that is not was computed outside the tapes (a raw kernel result): the outer tape
    would see a silent None, so this raises, naming the op (its backward's function)."""
    cdef object gx
    cdef Py_ssize_t j
    for tape in _recording:
        tracked = (<TapeCore>tape)._tracked
        if id(g) not in tracked:
            continue
        for j in range(n):
            gx = in_grads[j]
            if gx is None or inputs[j] is None or id(gx) in tracked:
                continue
            if isinstance(gx, TensorBase) and _is_float(<TensorBase>gx) and (
                    <TensorBase>gx)._value.any():
                name = getattr(backward, "first_order_only", None)
                if name is None:  # the op defining the closure: "op.<locals>.backward"
                    parts = getattr(backward, "__qualname__", repr(backward)).split(".<locals>.")
                    # (no negative indices: this module compiles with wraparound=False)
                    while len(parts) > 1 and (parts[len(parts) - 1] == "<lambda>"
                                              or "backward" in parts[len(parts) - 1]):
                        parts.pop()
                    name = parts[len(parts) - 1]
                raise NotImplementedError(
                    f"second-order gradient of {name} is not implemented: an outer "
                    f"GradientTape records the gradient computation of an inner one, and "
                    f"{name}'s backward returned a gradient the outer tape did not record "
                    f"(a first-order kernel result).")


# The tracked set of the tape whose reverse sweep is running (None outside one).
cdef object _sweep_tracked = None


def needs_grad(x):
    """Whether the reverse sweep in progress wants a gradient for input ``x``.

    Backward closures ask before computing an expensive input gradient nobody
    reads: the data fed to a model's first layer, a frozen weight.
    """
    return _sweep_tracked is None or id(x) in <dict>_sweep_tracked


cpdef object accumulate(object prev, object g):
    """prev + g, by numpy directly when no tape records the sum."""
    cdef TensorBase a, b
    if not _recording and type(prev) is _Tensor and type(g) is _Tensor:
        a = <TensorBase>prev
        b = <TensorBase>g
        if a._value.shape == b._value.shape and a._value.dtype == b._value.dtype:
            return new_tensor(a._value + b._value)
    return prev + g


def record(output, inputs, backward):
    """Records an op's result on every recording tape (called by ``make``)."""
    cdef tuple ins = inputs if type(inputs) is tuple else tuple(inputs)
    for tape in _recording:
        (<TapeCore>tape).maybe_record(<TensorBase?>output, ins, backward)


def make(value, inputs, backward):
    """Wraps an op's numpy result in a Tensor; records it on the active tapes."""
    cdef object out = new_tensor(value)
    cdef tuple ins
    if _recording:
        ins = inputs if type(inputs) is tuple else tuple(inputs)
        for tape in _recording:
            (<TapeCore>tape).maybe_record(<TensorBase>out, ins, backward)
    return out


def wrap(value):
    """A Tensor around a numpy array, without recording (``Tensor(value)``, faster)."""
    return new_tensor(value)


# ---- the @op decorator ---------------------------------------------------------------
cdef object _symbolic = None  # fastnet.backend.symbolic, imported on first use
cdef type _ndarray = None


cdef inline bint _never_symbolic(object a):
    cdef type t = type(a)
    return (t is _Tensor or t is _Variable or t is _ndarray or t is float or t is int
            or a is None or t is bool or t is str)


cdef object _symbolic_module():
    global _symbolic
    if _symbolic is None:
        from fastnet.backend import symbolic
        _symbolic = symbolic
    return _symbolic


cdef bint _has_symbolic(tuple args, dict kwargs):
    kt = _symbolic_module().KerasTensor
    for a in args:
        if isinstance(a, kt):
            return True
        if isinstance(a, (list, tuple)):
            for v in a:
                if isinstance(v, kt):
                    return True
    for a in kwargs.values():
        if isinstance(a, kt):
            return True
    return False


def op(fn):
    """Marks a public op: eager by default, symbolic when given KerasTensors."""
    global _ndarray
    if _ndarray is None:
        import numpy
        _ndarray = numpy.ndarray

    def wrapper(*args, **kwargs):
        for a in args:
            if _never_symbolic(a):
                continue
            if _has_symbolic(args, kwargs):
                return _symbolic_module().symbolic_call(wrapper, args, kwargs)
            break
        return fn(*args, **kwargs)

    functools.update_wrapper(wrapper, fn)
    wrapper.__wrapped_op__ = fn
    return wrapper


def broadcastable(tuple sa, tuple sb):
    """Whether two shapes broadcast together (numpy's rule), without numpy's call cost."""
    cdef Py_ssize_t na = len(sa), nb = len(sb), i
    for i in range(1, min(na, nb) + 1):
        x = sa[na - i]
        y = sb[nb - i]
        if x != y and x != 1 and y != 1:
            return False
    return True


# ---- binary-op operands ----------------------------------------------------------------
cdef object _pair_hook = None     # fastnet.ops.math._pair: Python scalars/arrays -> Tensors
cdef object _promote_hook = None  # fastnet.ops.math._promote: dtype promotion


def set_binary_hooks(pair, promote):
    global _pair_hook, _promote_hook
    _pair_hook = pair
    _promote_hook = promote


def binary_operands(a, b):
    """(a, b) as Tensors of one dtype whose shapes broadcast, for a binary op.

    The common case — two Tensors of one dtype and shape — costs two type and
    two attribute checks; anything else goes through the Python rules.
    """
    cdef object av, bv, sa, sb
    if type(a) is not _Tensor or type(b) is not _Tensor:
        a, b = _pair_hook(a, b)
    av = (<TensorBase>a)._value
    bv = (<TensorBase>b)._value
    if av.dtype is not bv.dtype and av.dtype != bv.dtype:
        a, b = _promote_hook(a, b)
        av = (<TensorBase>a)._value
        bv = (<TensorBase>b)._value
    sa = av.shape
    sb = bv.shape
    if sa != sb and not broadcastable(sa, sb):
        raise ValueError(f"Incompatible shapes for broadcasting: {sa} and {sb}")
    return a, b
