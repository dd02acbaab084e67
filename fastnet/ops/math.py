"""Elementwise arithmetic, reductions, shape ops, creation — numpy-computed
(there is no kernel to own here: numpy's loops are the right tool), each
differentiable. Gradients of broadcast operands are summed back to shape."""

from __future__ import annotations

import builtins

import numpy as np

from fastnet._core import RECORDING, binary_operands, needs_grad, set_binary_hooks
from fastnet.backend.tensor import Tensor, floatx, standardize_dtype
from fastnet.ops.core import _t, convert_to_tensor, make, op, unbroadcast

_FLOAT_KINDS = "f"


def _pair(a, b):
    """Converts two operands; a Python scalar takes the other operand's dtype."""
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        return a, b
    if isinstance(a, Tensor) and isinstance(b, (int, float, bool)) and not isinstance(b, Tensor):
        kind = a._value.dtype.kind
        if kind == "f" or (kind in "iu" and isinstance(b, int)) or (kind == "b" and isinstance(b, bool)):
            return a, Tensor(np.asarray(b, dtype=a._value.dtype))
        return a, convert_to_tensor(b)
    if isinstance(b, Tensor) and isinstance(a, (int, float, bool)):
        b2, a2 = _pair(b, a)
        return a2, b2
    return _t(a), _t(b)


def _promote(a, b):
    if a._value.dtype == b._value.dtype:
        return a, b
    dt = np.result_type(a._value.dtype, b._value.dtype)
    if dt == np.float64 and np.float64 not in (a._value.dtype, b._value.dtype):
        dt = np.float32
    return cast(a, dt), cast(b, dt)


# The common-case checks of every binary op are compiled (csrc/cython/_core.pyx);
# mixed Python scalars/arrays and dtype promotion fall back to the rules above.
_binary = binary_operands
set_binary_hooks(_pair, _promote)


@op
def add(x1, x2):
    a, b = _binary(x1, x2)
    if a._value.shape == b._value.shape:
        return make(a._value + b._value, (a, b), lambda g: (g, g))
    return make(a._value + b._value, (a, b),
                lambda g: (unbroadcast(g, a.shape), unbroadcast(g, b.shape)))


@op
def subtract(x1, x2):
    a, b = _binary(x1, x2)
    return make(a._value - b._value, (a, b),
                lambda g: (unbroadcast(g, a.shape), unbroadcast(negative(g), b.shape)))


@op
def multiply(x1, x2):
    a, b = _binary(x1, x2)
    return make(a._value * b._value, (a, b),
                lambda g: (unbroadcast(g * b, a.shape), unbroadcast(g * a, b.shape)))


@op
def divide(x1, x2):
    a, b = _binary(x1, x2)
    if a._value.dtype.kind != "f":
        a, b = cast(a, floatx()), cast(b, floatx())
    with np.errstate(divide="ignore", invalid="ignore"):
        out = a._value / b._value
    return make(out, (a, b), lambda g: (unbroadcast(g / b, a.shape),
                                        unbroadcast(negative(g) * a / (b * b), b.shape)))


true_divide = divide


@op
def floor_divide(x1, x2):
    a, b = _binary(x1, x2)
    return Tensor(np.floor_divide(a._value, b._value))


@op
def mod(x1, x2):
    """numpy.mod (the sign of x2); gradient 1 for x1 and -floor(x1 / x2) for x2."""
    a, b = _binary(x1, x2)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.mod(a._value, b._value)
    if a._value.dtype.kind != "f":
        return Tensor(out)

    def backward(g):
        with np.errstate(divide="ignore", invalid="ignore"):
            q = Tensor(np.floor(a._value / b._value))
        return unbroadcast(g, a.shape), unbroadcast(-(g * q), b.shape)

    return make(out, (a, b), backward)


@op
def power(x1, x2):
    a, b = _binary(x1, x2)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.power(a._value, b._value)
    res = None

    def backward(g):
        ga = unbroadcast(g * b * power(a, b - 1.0), a.shape)
        gb = None
        if b._value.dtype.kind == "f":
            safe = where(greater(a, 0.0), a, ones_like(a))
            gb = unbroadcast(g * res * log(safe), b.shape)
        return ga, gb

    res = make(out, (a, b), backward)
    return res


@op
def negative(x):
    x = _t(x)
    return make(-x._value, (x,), lambda g: (negative(g),))


@op
def abs(x):  # noqa: A001
    x = _t(x)
    return make(np.abs(x._value), (x,), lambda g: (g * sign(x),))


absolute = abs


@op
def sign(x):
    x = _t(x)
    return Tensor(np.sign(x._value))


@op
def square(x):
    x = _t(x)
    return make(np.square(x._value), (x,), lambda g: (g * 2.0 * x,))


@op
def sqrt(x):
    x = _t(x)
    if x._value.dtype.kind != "f":
        x = cast(x, floatx())
    with np.errstate(invalid="ignore"):
        out = make(np.sqrt(x._value), (x,), lambda g: (g / (2.0 * out),))
    return out


@op
def rsqrt(x):
    return 1.0 / sqrt(x)


@op
def exp(x):
    x = _t(x)
    if x._value.dtype.kind != "f":
        x = cast(x, floatx())
    with np.errstate(over="ignore"):
        out = make(np.exp(x._value), (x,), lambda g: (g * out,))
    return out


@op
def log(x):
    x = _t(x)
    if x._value.dtype.kind != "f":
        x = cast(x, floatx())
    with np.errstate(divide="ignore", invalid="ignore"):
        return make(np.log(x._value), (x,), lambda g: (g / x,))


@op
def log1p(x):
    x = _t(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        return make(np.log1p(x._value), (x,), lambda g: (g / (x + 1.0),))


@op
def expm1(x):
    x = _t(x)
    return make(np.expm1(x._value), (x,), lambda g: (g * exp(x),))


@op
def sin(x):
    x = _t(x)
    return make(np.sin(x._value), (x,), lambda g: (g * cos(x),))


@op
def cos(x):
    x = _t(x)
    return make(np.cos(x._value), (x,), lambda g: (negative(g) * sin(x),))


@op
def maximum(x1, x2):
    a, b = _binary(x1, x2)
    out = np.maximum(a._value, b._value)
    mask = a._value >= b._value  # ties send the gradient to the first operand (as TF)
    return make(out, (a, b), lambda g: (unbroadcast(g * Tensor(mask.astype(g.dtype)), a.shape),
                                        unbroadcast(g * Tensor((~mask).astype(g.dtype)), b.shape)))


@op
def minimum(x1, x2):
    a, b = _binary(x1, x2)
    out = np.minimum(a._value, b._value)
    mask = a._value <= b._value
    return make(out, (a, b), lambda g: (unbroadcast(g * Tensor(mask.astype(g.dtype)), a.shape),
                                        unbroadcast(g * Tensor((~mask).astype(g.dtype)), b.shape)))


@op
def clip(x, x_min, x_max):
    x = _t(x)
    out = np.clip(x._value, x_min, x_max)
    inside = ((x._value >= x_min) & (x._value <= x_max)).astype(x._value.dtype)
    return make(out.astype(x._value.dtype, copy=False), (x,), lambda g: (g * Tensor(inside),))


@op
def where(condition, x1=None, x2=None):
    c = _t(condition)
    if x1 is None and x2 is None:
        return tuple(Tensor(i.astype(np.int32)) for i in np.nonzero(c._value))
    a, b = _binary(x1, x2)
    cond = c._value.astype(bool)
    out = np.where(cond, a._value, b._value)
    cm = Tensor(cond)

    def backward(g):
        z = zeros_like(g)
        return (None, unbroadcast(where(cm, g, z), a.shape), unbroadcast(where(cm, z, g), b.shape))

    return make(out, (c, a, b), backward)


def _compare(fn):
    def compare(x1, x2):
        a, b = _binary(x1, x2)
        return Tensor(fn(a._value, b._value))

    return compare


equal = op(_compare(np.equal))
not_equal = op(_compare(np.not_equal))
less = op(_compare(np.less))
less_equal = op(_compare(np.less_equal))
greater = op(_compare(np.greater))
greater_equal = op(_compare(np.greater_equal))
logical_and = op(_compare(np.logical_and))
logical_or = op(_compare(np.logical_or))
logical_xor = op(_compare(np.logical_xor))


@op
def logical_not(x):
    return Tensor(np.logical_not(_t(x)._value))


@op
def isnan(x):
    return Tensor(np.isnan(_t(x)._value))


@op
def isfinite(x):
    return Tensor(np.isfinite(_t(x)._value))


@op
def floor(x):
    return Tensor(np.floor(_t(x)._value))


@op
def ceil(x):
    return Tensor(np.ceil(_t(x)._value))


@op
def round(x, decimals=0):  # noqa: A001
    return Tensor(np.round(_t(x)._value, decimals))


@op
def cast(x, dtype):
    x = _t(x)
    dt = standardize_dtype(dtype)
    if x.dtype == dt:
        return x
    src = x.dtype
    out = x._value.astype(dt)
    if np.dtype(dt).kind == "f" and np.dtype(src).kind == "f":
        return make(out, (x,), lambda g: (cast(g, src),))
    return Tensor(out)


# ---- reductions ---------------------------------------------------------------------

def _axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, int):
        axis = (axis,)
    out = []
    for a in axis:
        a = int(a)
        if not -ndim <= a < builtins.max(ndim, 1):
            raise ValueError(f"axis {a} is out of bounds for a tensor of rank {ndim}")
        out.append(a % builtins.max(ndim, 1))
    return tuple(out)


def _axis(axis, shape, what):
    """One axis of a tensor of `shape`, normalized to 0..ndim-1; out of range is a ValueError
    naming the argument and the shape (numpy and Keras raise; no wrapping modulo ndim)."""
    a, nd = int(axis), len(shape)
    if not -nd <= a < nd:
        raise ValueError(f"{what} {a} is out of bounds for a tensor of shape {tuple(shape)}")
    return a % nd


def _expand_to(g, shape, axes, keepdims):
    """Reshapes a reduced gradient so it broadcasts against the input `shape`."""
    if not keepdims:
        kept = [1 if i in axes else s for i, s in enumerate(shape)]
        g = reshape(g, kept)
    return g


def _reduction_dtype(dtype):
    """Keras 3's result dtype of sum and prod: bool, int8 and int16 add up in int32, uint8
    and uint16 in uint32, every other dtype in itself (int32 stays int32)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "b" or dtype in (np.int8, np.int16):
        return np.dtype(np.int32)
    if dtype in (np.uint8, np.uint16):
        return np.dtype(np.uint32)
    return dtype


@op
def sum(x, axis=None, keepdims=False):  # noqa: A001
    x = _t(x)
    axes = _axes(axis, x.ndim)
    out = np.sum(x._value, axis=axes, keepdims=keepdims, dtype=_reduction_dtype(x._value.dtype))
    shape = x.shape

    def backward(g):
        if not RECORDING:  # first order: a broadcast view, no ops recorded
            gv = g._value if keepdims else g._value.reshape(
                [1 if i in axes else d for i, d in enumerate(shape)])
            return (Tensor(np.broadcast_to(gv, shape)),)
        return (broadcast_to(_expand_to(g, shape, axes, keepdims), shape),)

    return make(np.asarray(out), (x,), backward)


@op
def mean(x, axis=None, keepdims=False):
    x = _t(x)
    if x._value.dtype.kind != "f":
        x = cast(x, floatx())
    axes = _axes(axis, x.ndim)
    n = int(np.prod([x.shape[a] for a in axes])) if axes else 1
    out = np.mean(x._value, axis=axes, keepdims=keepdims) if x.size else \
        np.full(np.sum(x._value, axis=axes, keepdims=keepdims).shape, np.nan, x._value.dtype)
    shape = x.shape
    return make(np.asarray(out, dtype=x._value.dtype), (x,),
                lambda g: (broadcast_to(_expand_to(g, shape, axes, keepdims), shape) / float(builtins.max(n, 1)),))


def _extreme(x, axis, keepdims, fn):
    x = _t(x)
    axes = _axes(axis, x.ndim)
    if x.size == 0:
        raise ValueError(f"Cannot compute {fn.__name__} of an empty tensor of shape {x.shape}")
    out = np.asarray(fn(x._value, axis=axes, keepdims=keepdims))
    shape = x.shape

    def backward(g):
        full = np.asarray(fn(x._value, axis=axes, keepdims=True))
        mask = (x._value == full).astype(x._value.dtype)
        mask /= np.sum(mask, axis=axes, keepdims=True)  # ties share the gradient (as TF)
        return (broadcast_to(_expand_to(g, shape, axes, keepdims), shape) * Tensor(mask),)

    return make(out, (x,), backward)


def _with_initial(x, axis, keepdims, initial, fn, combine):
    """As numpy/Keras: `initial` takes part in the reduction (and is its empty value)."""
    x = _t(x)
    if initial is None:
        return _extreme(x, axis, keepdims, fn)
    if x.size == 0:
        axes = _axes(axis, x.ndim)
        return Tensor(np.asarray(fn(x._value, axis=axes, keepdims=keepdims, initial=initial)))
    return combine(_extreme(x, axis, keepdims, fn), initial)


@op
def max(x, axis=None, keepdims=False, initial=None):  # noqa: A001
    return _with_initial(x, axis, keepdims, initial, np.max, maximum)


@op
def min(x, axis=None, keepdims=False, initial=None):  # noqa: A001
    return _with_initial(x, axis, keepdims, initial, np.min, minimum)


amax, amin = max, min


@op
def prod(x, axis=None, keepdims=False, dtype=None):
    x = _t(x)
    if dtype is not None:
        x = cast(x, dtype)
    axes = _axes(axis, x.ndim)
    out = np.prod(x._value, axis=axes, keepdims=keepdims, dtype=_reduction_dtype(x._value.dtype))
    shape = x.shape

    def backward(g):
        # d prod / d x_i = the product of the others = (product of the nonzero x) / x_i with
        # x_i = 0 counted as 1, kept only where no *other* element of the slice is zero; no
        # division by zero, and differentiable again (exactly so in slices without zeros)
        zero = x._value == 0
        others_nonzero = (np.sum(zero, axis=axes, keepdims=True) - zero) == 0
        safe = where(Tensor(zero), ones_like(x), x)
        others = prod(safe, axis=axes, keepdims=True) / safe * Tensor(
            others_nonzero.astype(x._value.dtype))
        return (broadcast_to(_expand_to(g, shape, axes, keepdims), shape) * others,)

    return make(np.asarray(out), (x,), backward)


@op
def var(x, axis=None, keepdims=False):
    x = _t(x)
    m = mean(x, axis=axis, keepdims=True)
    return mean(square(x - m), axis=axis, keepdims=keepdims)


@op
def std(x, axis=None, keepdims=False):
    return sqrt(var(x, axis=axis, keepdims=keepdims))


@op
def logsumexp(x, axis=None, keepdims=False):
    x = _t(x)
    m = stop_gradient(max(x, axis=axis, keepdims=True))
    m = where(isfinite(m), m, zeros_like(m))
    out = log(sum(exp(x - m), axis=axis, keepdims=True)) + m
    if not keepdims:
        out = squeeze(out, axis=_axes(axis, x.ndim))
    return out


@op
def argmax(x, axis=None, keepdims=False):
    v = _t(x)._value
    out = np.argmax(v, axis=axis)
    if keepdims and axis is not None:
        out = np.expand_dims(out, axis)
    return Tensor(np.asarray(out, dtype=np.int32))


@op
def argmin(x, axis=None, keepdims=False):
    v = _t(x)._value
    out = np.argmin(v, axis=axis)
    if keepdims and axis is not None:
        out = np.expand_dims(out, axis)
    return Tensor(np.asarray(out, dtype=np.int32))


@op
def all(x, axis=None, keepdims=False):  # noqa: A001
    return Tensor(np.all(_t(x)._value, axis=axis, keepdims=keepdims))


@op
def any(x, axis=None, keepdims=False):  # noqa: A001
    return Tensor(np.any(_t(x)._value, axis=axis, keepdims=keepdims))


@op
def cumsum(x, axis=None, dtype=None):
    """As Keras 3: the sums are of `dtype` (x's own when None; bool adds up in int32)."""
    x = _t(x)
    if dtype is not None or x._value.dtype.kind == "b":
        x = cast(x, "int32" if dtype is None or standardize_dtype(dtype) == "bool" else dtype)
    if axis is None:
        flat = reshape(x, (-1,))
        return cumsum(flat, axis=0)
    if x.ndim == 0:  # numpy treats a 0-d input as 1-D (output shape (1,)); the reshape's
        return cumsum(reshape(x, (1,)), axis=axis)  # gradient restores the shape ()
    out = np.cumsum(x._value, axis=axis, dtype=x._value.dtype)
    return make(out, (x,), lambda g: (flip(cumsum(flip(g, axis), axis), axis),))


@op
def flip(x, axis=None):
    x = _t(x)
    return make(np.flip(x._value, axis=axis).copy(), (x,), lambda g: (flip(g, axis),))


# ---- shape ops ----------------------------------------------------------------------

@op
def reshape(x, newshape):
    x = _t(x)
    if isinstance(newshape, Tensor):
        newshape = tuple(int(v) for v in newshape._value)
    newshape = tuple(-1 if s is None else int(s) for s in (
        newshape if isinstance(newshape, (list, tuple)) else (newshape,)))
    try:
        out = x._value.reshape(newshape)
    except ValueError:
        raise ValueError(f"Cannot reshape a tensor of shape {x.shape} ({x.size} elements) into "
                         f"shape {newshape}") from None
    shape = x.shape
    return make(out, (x,), lambda g: (reshape(g, shape),))


@op
def transpose(x, axes=None):
    x = _t(x)
    if axes is None:
        axes = tuple(reversed(range(x.ndim)))
    axes = tuple(_axis(a, x.shape, "transpose: axis") for a in axes)
    inv = tuple(np.argsort(axes))
    return make(np.transpose(x._value, axes), (x,), lambda g: (transpose(g, inv),))


@op
def swapaxes(x, axis1, axis2):
    x = _t(x)
    perm = list(range(x.ndim))
    perm[axis1], perm[axis2] = perm[axis2], perm[axis1]
    return transpose(x, perm)


@op
def moveaxis(x, source, destination):
    x = _t(x)
    src = [_axis(a, x.shape, "moveaxis: source") for a in np.atleast_1d(source)]
    dst = [_axis(a, x.shape, "moveaxis: destination") for a in np.atleast_1d(destination)]
    if len(src) != len(dst):
        raise ValueError(f"moveaxis: source {source} and destination {destination} must have "
                         f"the same number of elements")
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ValueError(f"moveaxis: repeated axis in source {source} or destination "
                         f"{destination}")
    perm = [a for a in range(x.ndim) if a not in src]  # numpy's construction
    for d, s in sorted(zip(dst, src)):
        perm.insert(d, s)
    return transpose(x, perm)  # gradient: the inverse permutation, i.e. moveaxis back


@op
def expand_dims(x, axis):
    x = _t(x)
    out = np.expand_dims(x._value, axis)
    shape = x.shape
    return make(out, (x,), lambda g: (reshape(g, shape),))


@op
def squeeze(x, axis=None):
    x = _t(x)
    if axis is not None:
        axes = _axes(axis, x.ndim)
        for a in axes:
            if x.shape[a] != 1:
                raise ValueError(f"squeeze: cannot squeeze axis {a} of size {x.shape[a]} (shape "
                                 f"{x.shape})")
    out = np.squeeze(x._value, axis=axis if axis is None else _axes(axis, x.ndim))
    shape = x.shape
    return make(out, (x,), lambda g: (reshape(g, shape),))


@op
def broadcast_to(x, shape):
    x = _t(x)
    shape = tuple(int(s) for s in shape)
    try:
        out = np.broadcast_to(x._value, shape)
    except ValueError:
        raise ValueError(f"Cannot broadcast a tensor of shape {x.shape} to {shape}") from None
    src = x.shape
    return make(out, (x,), lambda g: (unbroadcast(g, src),))


@op
def concatenate(xs, axis=0):
    xs = [_t(v) for v in xs]
    if not xs:
        raise ValueError("concatenate: need at least one tensor")
    dt = np.result_type(*[v._value.dtype for v in xs])
    xs = [cast(v, dt) if v._value.dtype != dt else v for v in xs]
    try:
        out = np.concatenate([v._value for v in xs], axis=axis)
    except ValueError as e:
        raise ValueError(f"concatenate: shapes {[v.shape for v in xs]} do not match along "
                         f"axis {axis}: {e}") from None
    ax = axis % out.ndim
    sizes = np.cumsum([v.shape[ax] for v in xs])[:-1]

    def backward(g):
        return split(g, [int(s) for s in sizes], axis=ax)

    return make(out, tuple(xs), backward)


@op
def stack(x, axis=0):
    xs = [_t(v) for v in x]
    if not xs:
        raise ValueError("stack: need at least one tensor")
    shapes = {v.shape for v in xs}
    if len(shapes) > 1:
        raise ValueError(f"stack: all tensors must have the same shape, got {[v.shape for v in xs]}")
    out = np.stack([v._value for v in xs], axis=axis)
    ax = axis % out.ndim

    def backward(g):
        return [squeeze(p, axis=ax) for p in split(g, len(xs), axis=ax)]

    return make(out, tuple(xs), backward)


@op
def split(x, indices_or_sections, axis=0):
    x = _t(x)
    ax = _axis(axis, x.shape, "split: axis")
    try:
        parts = np.split(x._value, indices_or_sections, axis=ax)
    except ValueError as e:
        raise ValueError(f"split: {e} (shape {x.shape}, axis {axis})") from None
    if np.ndim(indices_or_sections) == 0:  # equal sections tile the axis
        starts = np.cumsum([0] + [p.shape[ax] for p in parts[:-1]])
    else:  # piece i is x[indices[i-1]:indices[i]] (Python slicing: may be empty or overlap)
        starts = [0] + [builtins.slice(int(i), None).indices(x.shape[ax])[0]
                        for i in indices_or_sections]
    return [_slice_out(x, p, ax, int(lo), int(lo) + p.shape[ax]) for p, lo in zip(parts, starts)]


def _slice_out(x, value, ax, lo, hi):
    shape = x.shape

    def backward(g):
        pads = [(0, 0)] * len(shape)
        pads[ax] = (lo, shape[ax] - hi)
        return (pad(g, pads),)

    return make(value, (x,), backward)


@op
def tile(x, repeats):
    x = _t(x)
    reps = (repeats,) if isinstance(repeats, int) else tuple(repeats)
    out = np.tile(x._value, reps)
    shape = x.shape

    def backward(g):
        nd = builtins.max(len(shape), len(reps))
        full_shape = (1,) * (nd - len(shape)) + tuple(shape)
        full_reps = (1,) * (nd - len(reps)) + reps
        inter = []
        for r, s in zip(full_reps, full_shape):
            inter += [r, s]
        g2 = reshape(g, inter)
        g2 = sum(g2, axis=tuple(range(0, 2 * nd, 2)))
        return (reshape(g2, shape),)

    return make(out, (x,), backward)


@op
def repeat(x, repeats, axis=None):
    x = _t(x)
    if axis is None:
        return repeat(reshape(x, (-1,)), repeats, axis=0)
    out = np.repeat(x._value, repeats, axis=axis)
    ax = axis % x.ndim
    shape = x.shape

    def backward(g):
        if isinstance(repeats, int):
            s = list(shape)
            s.insert(ax + 1, repeats)
            return (sum(reshape(g, s), axis=ax + 1),)
        idx = np.repeat(np.arange(shape[ax]), repeats)
        return (segment_sum_axis(g, idx, shape[ax], ax),)

    return make(out, (x,), backward)


def segment_sum_axis(g, idx, n, ax):
    gv = np.moveaxis(g._value, ax, 0)
    out = np.zeros((n,) + gv.shape[1:], dtype=gv.dtype)
    np.add.at(out, idx, gv)
    # linear in g; its adjoint is the gather (differentiable again, for nested tapes)
    return make(np.moveaxis(out, 0, ax), (g,), lambda u: (take(u, Tensor(idx), axis=ax),))


@op
def pad(x, pad_width, mode="constant", constant_values=None):
    x = _t(x)
    pw = [(int(a), int(b)) for a, b in (pad_width if not isinstance(pad_width, int)
                                       else [(pad_width, pad_width)] * x.ndim)]
    if len(pw) != x.ndim:
        raise ValueError(f"pad: pad_width has {len(pw)} entries for a tensor of rank {x.ndim}")
    kwargs = {"constant_values": constant_values or 0} if mode == "constant" else {}
    out = np.pad(x._value, pw, mode=mode, **kwargs)
    shape = x.shape

    def backward(g):
        if mode == "constant":
            sl = tuple(builtins.slice(a, a + s) for (a, _), s in zip(pw, shape))
            return (g[sl],)
        if mode not in _GATHER_PAD_MODES:
            raise NotImplementedError(f"pad: gradient of mode={mode!r} is not implemented "
                                      f"(it is for {sorted(_GATHER_PAD_MODES)} and 'constant')")
        # these modes copy input elements: the padded array of the inputs' flat indices
        # says where each output came from, and the gradient adds them back there
        n = int(np.prod(shape, dtype=np.int64))
        src = np.pad(np.arange(n, dtype=np.int64).reshape(shape), pw, mode=mode).ravel()
        return (reshape(segment_sum_axis(reshape(g, (-1,)), src, n, 0), shape),)

    return make(out, (x,), backward)


_GATHER_PAD_MODES = frozenset({"reflect", "symmetric", "edge", "wrap"})


def _normalize_index(key):
    if isinstance(key, tuple):
        return tuple(_normalize_index(k) for k in key)
    if isinstance(key, Tensor):
        return key._value
    if isinstance(key, list):
        return np.asarray(key)
    return key


@op
def get_item(x, key):
    x = _t(x)
    key = _normalize_index(key)
    try:
        out = x._value[key]
    except IndexError as e:
        raise IndexError(f"index {key!r} is invalid for a tensor of shape {x.shape}: {e}") from None
    shape, dtype = x.shape, x._value.dtype
    basic = _is_basic(key)

    def backward(g):
        return (scatter_into(g, key, shape, dtype, basic),)

    return make(np.asarray(out), (x,), backward)


def _is_basic(key):
    keys = key if isinstance(key, tuple) else (key,)
    return builtins.all(isinstance(k, (int, builtins.slice, type(None), type(Ellipsis))) or
                        isinstance(k, np.integer) for k in keys)


def scatter_into(g, key, shape, dtype, basic):
    """Gradient of x[key]: g placed into zeros of `shape` (differentiable in g)."""
    buf = np.zeros(shape, dtype=g._value.dtype)
    if basic:
        buf[key] = g._value
    else:
        np.add.at(buf, key, g._value)
    return make(buf, (g,), lambda gg: (get_item(gg, key),))


@op
def take(x, indices, axis=None):
    x = _t(x)
    idx = _t(indices)._value
    if idx.dtype.kind not in "iu":
        raise TypeError(f"take: indices must be integers, got {idx.dtype}")
    if axis is None:
        return take(reshape(x, (-1,)), indices, axis=0)
    ax = _axis(axis, x.shape, "take: axis")
    n = x.shape[ax]
    if idx.size and (idx.max() >= n or idx.min() < -n):
        raise IndexError(f"take: index out of range for axis {axis} of size {n} "
                         f"(got {int(idx.min())}..{int(idx.max())})")
    out = np.take(x._value, idx, axis=ax)
    shape = x.shape

    def backward(g):
        gv = np.moveaxis(g._value, list(range(ax, ax + idx.ndim)), list(range(idx.ndim)))
        gv = gv.reshape((idx.size,) + gv.shape[idx.ndim:])  # not -1: it may be empty
        buf = np.zeros((n,) + gv.shape[1:], dtype=g._value.dtype)
        np.add.at(buf, idx.reshape(-1) % builtins.max(n, 1), gv)
        # linear in g; its adjoint is take itself (differentiable again, for nested tapes)
        return (make(np.moveaxis(buf, 0, ax).reshape(shape), (g,),
                     lambda u: (take(u, Tensor(idx), axis=ax),)),)

    return make(out, (x,), backward)


def gather(x, indices, axis=0):
    """TensorFlow's tf.gather (what the seeds' code may call): `take` along `axis`."""
    return take(x, indices, axis=axis)


@op
def take_along_axis(x, indices, axis=None):
    x = _t(x)
    idx = _t(indices)._value.astype(np.int64)
    out = np.take_along_axis(x._value, idx, axis=axis)
    shape = x.shape

    def backward(g):
        buf = np.zeros(shape, dtype=g._value.dtype)
        if axis is None:
            np.add.at(buf.reshape(-1), idx, g._value)
        else:
            ax = axis % len(shape)
            ib = np.broadcast_to(idx, g._value.shape)  # indices broadcast like numpy's forward
            grids = list(np.ix_(*[np.arange(s) for s in ib.shape]))
            grids[ax] = ib
            np.add.at(buf, tuple(grids), g._value)
            # linear in g; its adjoint is take_along_axis itself (differentiable again)
            return (make(buf, (g,), lambda u: (take_along_axis(u, Tensor(ib), axis=axis),)),)
        return (make(buf, (g,), lambda u: (take_along_axis(u, Tensor(idx), axis=axis),)),)

    return make(out, (x,), backward)


@op
def slice(inputs, start_indices, shape):  # noqa: A001
    key = tuple(builtins.slice(int(s), int(s) + int(n)) for s, n in zip(start_indices, shape))
    return get_item(inputs, key)


@op
def stop_gradient(variable):
    return Tensor(_t(variable)._value)


@op
def matmul(x1, x2):
    from fastnet.kernels import gemm as _gemm

    a, b = _pair(x1, x2)
    a, b = _promote(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: operands must be at least 1-D, got shapes {a.shape} and {b.shape}")
    if a.shape[-1] != (b.shape[-2] if b.ndim >= 2 else b.shape[0]):
        raise ValueError(f"matmul: inner dimensions differ: {a.shape} @ {b.shape}")
    if a.ndim == 1 or b.ndim == 1:  # numpy's vector rules, as a composition
        out = matmul(expand_dims(a, 0) if a.ndim == 1 else a,
                     expand_dims(b, -1) if b.ndim == 1 else b)
        if a.ndim == 1:
            out = squeeze(out, -2)
        if b.ndim == 1:
            out = squeeze(out, -1)
        return out
    av, bv = a._value, b._value
    if av.dtype == np.float32 and av.ndim in (2, 3) and bv.ndim == 2:
        if av.ndim == 2:
            out = _gemm.gemm(av, bv)
        else:
            out = _gemm.gemm(np.ascontiguousarray(av).reshape(-1, av.shape[-1]), bv).reshape(
                av.shape[:-1] + (bv.shape[-1],))
    elif av.dtype == np.float32 and av.ndim == 3 and bv.ndim == 3:
        out = _gemm.matmul(av, bv)
    else:
        out = np.matmul(av, bv)

    def backward(g):
        gv = g._value
        want_a, want_b = needs_grad(a), needs_grad(b)
        if not RECORDING and gv.dtype == np.float32 and gv.ndim == 2 and av.ndim == 2:
            # First order, 2-D: the transposes go to the GEMM as flags, no ops recorded.
            return (Tensor(_gemm.gemm(gv, bv, trans_b=True)) if want_a else None,
                    Tensor(_gemm.gemm(av, gv, trans_a=True)) if want_b else None)
        ga = unbroadcast(matmul(g, swapaxes(b, -1, -2)), a.shape) if want_a else None
        gb = unbroadcast(matmul(swapaxes(a, -1, -2), g), b.shape) if want_b else None
        return ga, gb

    return make(out, (a, b), backward)


@op
def dot(x1, x2):
    a, b = _t(x1), _t(x2)
    if a.ndim <= 2 and b.ndim <= 2:
        return matmul(a, b) if a.ndim and b.ndim else multiply(a, b)
    return tensordot(a, b, axes=([a.ndim - 1], [b.ndim - 2]))


@op
def tensordot(x1, x2, axes=2):
    a, b = _t(x1), _t(x2)
    if isinstance(axes, int):
        ax_a = list(range(a.ndim - axes, a.ndim))
        ax_b = list(range(axes))
    else:
        ax_a, ax_b = axes
        ax_a = [ax_a] if isinstance(ax_a, int) else list(ax_a)
        ax_b = [ax_b] if isinstance(ax_b, int) else list(ax_b)
    ax_a = [x % a.ndim for x in ax_a]
    ax_b = [x % b.ndim for x in ax_b]
    free_a = [i for i in range(a.ndim) if i not in ax_a]
    free_b = [i for i in range(b.ndim) if i not in ax_b]
    k = int(np.prod([a.shape[i] for i in ax_a])) if ax_a else 1
    a2 = reshape(transpose(a, free_a + ax_a), (-1, k))
    b2 = reshape(transpose(b, ax_b + free_b), (k, -1))
    out = matmul(a2, b2)
    return reshape(out, [a.shape[i] for i in free_a] + [b.shape[i] for i in free_b])


@op
def einsum(subscripts, *operands):
    ops_ = [_t(o) for o in operands]
    out = np.einsum(subscripts, *[o._value for o in ops_], optimize=True)
    ins, res = subscripts.replace(" ", "").split("->") if "->" in subscripts else (
        subscripts.replace(" ", ""), None)
    in_specs = ins.split(",")
    if res is None:
        letters = sorted({c for s in in_specs for c in s if ins.count(c) == 1})
        res = "".join(letters)

    def backward(g):
        grads = []
        for i, spec in enumerate(in_specs):
            others = [s for j, s in enumerate(in_specs) if j != i]
            other_ops = [o for j, o in enumerate(ops_) if j != i]
            if "." in spec:
                raise NotImplementedError("einsum gradient with ellipsis is not implemented")
            expr = ",".join([res] + others) + "->" + spec
            gi = einsum(expr, g, *other_ops) if set(spec) <= set(res + "".join(others)) else None
            grads.append(gi)
        return grads

    return make(np.asarray(out), tuple(ops_), backward)


# ---- creation -----------------------------------------------------------------------

def _shape(shape):
    if isinstance(shape, int):
        return (shape,)
    return tuple(int(s) for s in shape)


def zeros(shape, dtype=None):
    return Tensor(np.zeros(_shape(shape), dtype=standardize_dtype(dtype)))


def ones(shape, dtype=None):
    return Tensor(np.ones(_shape(shape), dtype=standardize_dtype(dtype)))


def full(shape, fill_value, dtype=None):
    return Tensor(np.full(_shape(shape), fill_value, dtype=standardize_dtype(dtype)))


def zeros_like(x, dtype=None):
    x = _t(x)
    return Tensor(np.zeros(x.shape, dtype=standardize_dtype(dtype) if dtype else x.dtype))


def ones_like(x, dtype=None):
    x = _t(x)
    return Tensor(np.ones(x.shape, dtype=standardize_dtype(dtype) if dtype else x.dtype))


def full_like(x, fill_value, dtype=None):
    x = _t(x)
    return Tensor(np.full(x.shape, fill_value, dtype=standardize_dtype(dtype) if dtype else x.dtype))


def eye(N, M=None, k=0, dtype=None):
    return Tensor(np.eye(N, M, k, dtype=standardize_dtype(dtype)))


def identity(n, dtype=None):
    return eye(n, dtype=dtype)


def arange(start, stop=None, step=None, dtype=None):
    if step is None:
        step = 1
    if dtype is None:
        dtype = "int32" if builtins.all(isinstance(v, int) for v in (start, stop or 0, step)) \
            else floatx()
    return Tensor(np.arange(start, stop, step, dtype=standardize_dtype(dtype)))


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    """As Keras 3 (numpy's): `retstep=True` also returns the spacing; `axis` is where the
    samples go when start/stop are arrays. The default dtype is floatx."""
    start, stop = (v._value if isinstance(v, Tensor) else v for v in (start, stop))
    out = np.linspace(start, stop, num, endpoint=endpoint, retstep=retstep,
                      dtype=standardize_dtype(dtype) if dtype is not None else floatx(), axis=axis)
    if retstep:
        return Tensor(np.asarray(out[0])), out[1]
    return Tensor(np.asarray(out))


@op
def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False):
    if sparse:
        raise NotImplementedError("one_hot: `sparse=True` (a sparse result) is not implemented "
                                  "in fastnet")
    idx = np.asarray(_t(x)._value)
    if idx.dtype.kind in "fb":  # as Keras: integer-valued floats (and bools) are cast
        idx = idx.astype(np.int64)
    elif idx.dtype.kind not in "iu":
        raise TypeError(f"one_hot: indices must be integers, got {idx.dtype}")
    out = np.zeros(idx.shape + (num_classes,), dtype=standardize_dtype(dtype))
    valid = (idx >= 0) & (idx < num_classes)
    np.put_along_axis(out, np.where(valid, idx, 0)[..., None], valid[..., None].astype(out.dtype),
                      axis=-1)
    if axis != -1:
        out = np.moveaxis(out, -1, axis)
    return Tensor(out)


def shape(x):
    return tuple(_t(x).shape)


def size(x):
    return int(_t(x).size)


def ndim(x):
    return _t(x).ndim


# The public ops of this module (Keras 3 names; fastnet.ops re-exports exactly these).
__all__ = ["abs", "absolute", "add", "all", "amax", "amin", "any", "arange", "argmax",
           "argmin", "broadcast_to", "cast", "ceil", "clip", "concatenate", "cos",
           "cumsum", "divide", "dot", "einsum", "equal", "exp", "expand_dims", "expm1",
           "eye", "flip", "floor", "floor_divide", "full", "full_like", "get_item",
           "greater", "greater_equal", "identity", "isfinite", "isnan", "less",
           "less_equal", "linspace", "log", "log1p", "logical_and", "logical_not",
           "logical_or", "logical_xor", "logsumexp", "matmul", "max", "maximum", "mean",
           "min", "minimum", "mod", "moveaxis", "multiply", "ndim", "negative",
           "not_equal", "one_hot", "ones", "ones_like", "pad", "power", "prod",
           "repeat", "reshape", "round", "rsqrt", "shape", "sign", "sin", "size",
           "slice", "split", "sqrt", "square", "squeeze", "stack", "std",
           "stop_gradient", "subtract", "sum", "swapaxes", "take", "take_along_axis",
           "tensordot", "tile", "transpose", "true_divide", "var", "where", "zeros",
           "zeros_like"]
