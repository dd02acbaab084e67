"""More keras.ops numpy-style ops: trigonometric/hyperbolic and log/exp variants,
tril/triu, diag/diagonal/trace, roll, outer, stacks, nan_to_num, counting and
tests. Elementwise derivatives are written with fastnet.ops, so they
differentiate again."""

from __future__ import annotations

import math as _math

import numpy as np

from fastnet.backend.tensor import Tensor, floatx
from fastnet.ops import math as m
from fastnet.ops.core import _t, make, op, unbroadcast


def _float(x):
    x = _t(x)
    return x if x._value.dtype.kind == "f" else m.cast(x, floatx())


def _unary(name, forward, derivative, doc):
    def fn(x):
        x = _float(x)
        with np.errstate(all="ignore"):
            out = forward(x._value).astype(x._value.dtype)
        return make(out, (x,), lambda g: (g * derivative(x),))

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return op(fn)


_LN2, _LN10 = _math.log(2.0), _math.log(10.0)
_erf = np.vectorize(_math.erf, otypes=[np.float64])

sinh = _unary("sinh", np.sinh, lambda x: cosh(x), "Hyperbolic sine.")
cosh = _unary("cosh", np.cosh, lambda x: sinh(x), "Hyperbolic cosine.")
tan = _unary("tan", np.tan, lambda x: 1.0 + m.square(tan(x)), "Tangent.")
arcsin = _unary("arcsin", np.arcsin, lambda x: m.rsqrt(1.0 - m.square(x)), "Inverse sine.")
arccos = _unary("arccos", np.arccos, lambda x: -m.rsqrt(1.0 - m.square(x)), "Inverse cosine.")
arctan = _unary("arctan", np.arctan, lambda x: 1.0 / (1.0 + m.square(x)), "Inverse tangent.")
arcsinh = _unary("arcsinh", np.arcsinh, lambda x: m.rsqrt(m.square(x) + 1.0),
                 "Inverse hyperbolic sine.")
arccosh = _unary("arccosh", np.arccosh, lambda x: m.rsqrt(m.square(x) - 1.0),
                 "Inverse hyperbolic cosine.")
arctanh = _unary("arctanh", np.arctanh, lambda x: 1.0 / (1.0 - m.square(x)),
                 "Inverse hyperbolic tangent.")
log2 = _unary("log2", np.log2, lambda x: 1.0 / (x * _LN2), "Base-2 logarithm.")
log10 = _unary("log10", np.log10, lambda x: 1.0 / (x * _LN10), "Base-10 logarithm.")
exp2 = _unary("exp2", np.exp2, lambda x: exp2(x) * _LN2, "2 ** x.")
cbrt = _unary("cbrt", np.cbrt, lambda x: 1.0 / (3.0 * m.square(cbrt(x))), "Cube root.")
reciprocal = _unary("reciprocal", lambda v: 1.0 / v, lambda x: -1.0 / m.square(x), "1 / x.")
erf = _unary("erf", _erf, lambda x: (2.0 / _math.sqrt(_math.pi)) * m.exp(-m.square(x)),
             "Gauss error function.")
erfc = _unary("erfc", lambda v: 1.0 - _erf(v),
              lambda x: (-2.0 / _math.sqrt(_math.pi)) * m.exp(-m.square(x)),
              "Complementary error function.")
deg2rad = _unary("deg2rad", np.deg2rad, lambda x: m.ones_like(x) * (np.pi / 180.0),
                 "Degrees to radians.")
rad2deg = _unary("rad2deg", np.rad2deg, lambda x: m.ones_like(x) * (180.0 / np.pi),
                 "Radians to degrees.")
fabs = m.abs


@op
def trunc(x):
    x = _t(x)
    return Tensor(np.trunc(x._value))


@op
def arctan2(x1, x2):
    a, b = _float(x1), _float(x2)
    out = np.arctan2(a._value, b._value)

    def backward(g):
        d = m.square(a) + m.square(b)
        return unbroadcast(g * b / d, a.shape), unbroadcast(-g * a / d, b.shape)

    return make(out, (a, b), backward)


@op
def hypot(x1, x2):
    a, b = _float(x1), _float(x2)
    res = None

    def backward(g):
        return unbroadcast(g * a / res, a.shape), unbroadcast(g * b / res, b.shape)

    res = make(np.hypot(a._value, b._value), (a, b), backward)
    return res


@op
def logaddexp(x1, x2):
    a, b = _float(x1), _float(x2)
    res = None

    def backward(g):
        return (unbroadcast(g * m.exp(a - res), a.shape),
                unbroadcast(g * m.exp(b - res), b.shape))

    res = make(np.logaddexp(a._value, b._value), (a, b), backward)
    return res


@op
def divide_no_nan(x1, x2):
    """x1 / x2, with 0 where x2 == 0."""
    a, b = _float(x1), _float(x2)
    zero = Tensor(b._value == 0)
    safe = m.where(zero, m.ones_like(b), b)
    return m.where(zero, m.zeros_like(m.divide(a, safe)), m.divide(a, safe))


def _tri_mask(shape, k, lower):
    rows, cols = shape[-2], shape[-1]
    mask = np.tri(rows, cols, k, dtype=bool)
    return mask if lower else ~np.tri(rows, cols, k - 1, dtype=bool)


def _triangle(name, x, k, lower):
    """tril's and triu's one body: x times the 0/1 mask of its lower (upper) triangle."""
    x = _t(x)
    if x.ndim < 2:
        raise ValueError(f"{name}: x must have at least 2 dimensions; received shape {x.shape}")
    return x * Tensor(_tri_mask(x.shape, k, lower).astype(x._value.dtype))


@op
def tril(x, k=0):
    """x with the entries above the k-th diagonal zeroed."""
    return _triangle("tril", x, k, True)


@op
def triu(x, k=0):
    """x with the entries below the k-th diagonal zeroed."""
    return _triangle("triu", x, k, False)


@op
def tri(N, M=None, k=0, dtype=None):
    return Tensor(np.tri(N, M, k, dtype=np.dtype(dtype or floatx())))


@op
def diagonal(x, offset=0, axis1=0, axis2=1):
    x = _t(x)
    out = np.diagonal(x._value, offset, axis1, axis2).copy()
    shape = x.shape

    def backward(g):
        buf = np.zeros(shape, dtype=g._value.dtype)
        view = np.diagonal(buf, offset, axis1, axis2)
        view.setflags(write=True)
        view[...] = g._value
        # linear in g; its adjoint is diagonal itself (differentiable again, nested tapes)
        return (make(buf, (g,), lambda u: (diagonal(u, offset, axis1, axis2),)),)

    return make(out, (x,), backward)


@op
def diag(x, k=0):
    """The k-th diagonal of a matrix, or a matrix with a vector on its k-th diagonal."""
    x = _t(x)
    if x.ndim == 2:
        return diagonal(x, offset=k)
    if x.ndim != 1:
        raise ValueError(f"diag: x must be 1-D or 2-D; received shape {x.shape}")
    out = np.diag(x._value, k)
    return make(out, (x,), lambda g: (diagonal(g, offset=k),))


@op
def trace(x, offset=0, axis1=0, axis2=1):
    return m.sum(diagonal(x, offset, axis1, axis2), axis=-1)


@op
def roll(x, shift, axis=None):
    x = _t(x)
    out = np.roll(x._value, shift, axis=axis)
    neg = -np.asarray(shift) if np.ndim(shift) else -shift
    return make(out, (x,), lambda g: (roll(g, neg, axis),))


@op
def outer(x1, x2):
    a, b = _t(x1), _t(x2)
    return m.multiply(m.reshape(a, (-1, 1)), m.reshape(b, (1, -1)))


@op
def ravel(x):
    return m.reshape(x, (-1,))


@op
def hstack(xs):
    xs = [_t(v) for v in xs]
    return m.concatenate(xs, axis=0 if xs[0].ndim == 1 else 1)


@op
def vstack(xs):
    xs = [_t(v) for v in xs]
    return m.concatenate([m.reshape(v, (1, -1)) if v.ndim == 1 else v for v in xs], axis=0)


@op
def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    x = _t(x)
    v = x._value
    out = np.nan_to_num(v, nan=nan, posinf=posinf, neginf=neginf)
    keep = Tensor(np.isfinite(v).astype(v.dtype)) if v.dtype.kind == "f" else None
    return make(out, (x,), lambda g: (g * keep if keep is not None else g,))


@op
def count_nonzero(x, axis=None):
    x = _t(x)
    return Tensor(np.asarray(np.count_nonzero(x._value, axis=axis), dtype=np.int32))


@op
def isinf(x):
    return Tensor(np.isinf(_t(x)._value))


@op
def isclose(x1, x2, rtol=1e-5, atol=1e-8, equal_nan=False):
    return Tensor(np.isclose(_t(x1)._value, _t(x2)._value, rtol=rtol, atol=atol,
                             equal_nan=equal_nan))


def allclose(x1, x2, rtol=1e-5, atol=1e-8, equal_nan=False):
    return bool(np.allclose(_t(x1)._value, _t(x2)._value, rtol=rtol, atol=atol,
                            equal_nan=equal_nan))


# ---- second batch: compositions of differentiable ops ---------------------------------

@op
def fliplr(x):
    return m.flip(x, axis=1)


@op
def flipud(x):
    return m.flip(x, axis=0)


@op
def rot90(array, k=1, axes=(0, 1)):
    x = _t(array)
    k %= 4
    a0, a1 = axes
    for _ in range(k):
        x = m.swapaxes(m.flip(x, axis=a1), a0, a1)
    return x


@op
def diff(a, n=1, axis=-1):
    x = _t(a)
    ax = axis % x.ndim
    for _ in range(n):
        size = x.shape[ax]
        hi = m.take(x, np.arange(1, size), axis=ax)
        lo = m.take(x, np.arange(0, size - 1), axis=ax)
        x = hi - lo
    return x


@op
def cross(x1, x2, axisa=-1, axisb=-1, axisc=-1, axis=None):
    a, b = _float(x1), _float(x2)
    if axis is not None:
        axisa = axisb = axisc = axis
    a, b = m.moveaxis(a, axisa, -1), m.moveaxis(b, axisb, -1)
    if a.shape[-1] != 3 or b.shape[-1] != 3:
        raise ValueError(f"cross: only 3-vectors are supported; received shapes {a.shape} and "
                         f"{b.shape}")
    ai = [m.take(a, i, axis=-1) for i in range(3)]
    bi = [m.take(b, i, axis=-1) for i in range(3)]
    out = m.stack([ai[1] * bi[2] - ai[2] * bi[1], ai[2] * bi[0] - ai[0] * bi[2],
                   ai[0] * bi[1] - ai[1] * bi[0]], axis=-1)
    return m.moveaxis(out, -1, axisc)


@op
def inner(x1, x2):
    a, b = _t(x1), _t(x2)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    return m.tensordot(a, b, axes=([a.ndim - 1], [b.ndim - 1]))


@op
def vdot(x1, x2):
    return m.sum(m.reshape(_t(x1), (-1,)) * m.reshape(_t(x2), (-1,)))


@op
def kron(x1, x2):
    a, b = _t(x1), _t(x2)
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"kron: 2-D inputs are supported; received {a.shape} and {b.shape}")
    (p, q), (r, t) = a.shape, b.shape
    out = m.reshape(a, (p, 1, q, 1)) * m.reshape(b, (1, r, 1, t))
    return m.reshape(out, (p * r, q * t))


@op
def dstack(xs):
    xs = [_t(v) for v in xs]
    xs = [m.reshape(v, (1, -1, 1)) if v.ndim == 1 else (m.expand_dims(v, -1) if v.ndim == 2
                                                         else v) for v in xs]
    return m.concatenate(xs, axis=2)


@op
def array_split(x, indices_or_sections, axis=0):
    x = _t(x)
    if np.ndim(indices_or_sections) == 0:
        n, k = x.shape[axis], int(indices_or_sections)
        if k <= 0:
            raise ValueError(f"array_split: the number of sections must be > 0; got {k}")
        sizes = [n // k + 1] * (n % k) + [n // k] * (k - n % k)
        indices_or_sections = list(np.cumsum(sizes)[:-1])
    return m.split(x, indices_or_sections, axis=axis)


@op
def hsplit(x, indices_or_sections):
    x = _t(x)
    return m.split(x, indices_or_sections, axis=0 if x.ndim == 1 else 1)


@op
def vsplit(x, indices_or_sections):
    return m.split(x, indices_or_sections, axis=0)


@op
def dsplit(x, indices_or_sections):
    return m.split(x, indices_or_sections, axis=2)


@op
def average(x, axis=None, weights=None):
    x = _float(x)
    if weights is None:
        return m.mean(x, axis=axis)
    w = _float(weights)
    if w.shape != x.shape:
        if axis is None or w.ndim != 1:
            raise ValueError(f"average: weights of shape {w.shape} need axis= and must be 1-D "
                             f"to broadcast against x {x.shape}")
        shape = [1] * x.ndim
        shape[axis % x.ndim] = w.shape[0]
        w = m.reshape(w, shape)
    return m.sum(x * w, axis=axis) / m.sum(m.broadcast_to(w, x.shape), axis=axis)


@op
def ptp(x, axis=None, keepdims=False):
    return m.max(x, axis=axis, keepdims=keepdims) - m.min(x, axis=axis, keepdims=keepdims)


_QUANTILE_METHODS = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile_args(name, x, q, axis, method):
    """quantile's and nanquantile's argument checks: (x as float, q as a float64 array, the
    tensor to sort (x flattened when axis is None), the axis to sort it along)."""
    x = _float(x)
    qv = np.asarray(_t(q)._value, dtype=np.float64)
    if np.any((qv < 0) | (qv > 1)):
        raise ValueError(f"{name}: q must be in [0, 1]; received {qv}")
    if method not in _QUANTILE_METHODS:
        raise ValueError(f"{name}: invalid method {method!r}")
    if axis is None:
        return x, qv, m.reshape(x, (-1,)), 0
    return x, qv, x, m._axis(axis, x.shape, f"{name}: axis")


def _quantile_neighbours(pos, method):
    """(lo, hi, frac): the sorted positions on either side of the fractional positions
    ``pos`` and the weight of ``hi``, for numpy's interpolation ``method`` (one rule for
    quantile and nanquantile)."""
    lo, hi = np.floor(pos).astype(np.int64), np.ceil(pos).astype(np.int64)
    frac = pos - lo
    if method == "lower":
        hi, frac = lo, frac * 0
    elif method == "higher":
        lo, frac = hi, frac * 0
    elif method == "midpoint":
        frac = np.where(hi > lo, 0.5, 0.0)
    elif method == "nearest":
        near = np.round(pos).astype(np.int64)  # numpy rounds half to even, as np.round
        lo, hi, frac = near, near, frac * 0
    return lo, hi, frac


def _quantile_shape(out, qv, axis, ax, ndim, keepdims):
    """``out`` has the quantiles on axis 0: numpy's result shape (the reduced axis kept as
    1 with keepdims; no quantile axis for a scalar q)."""
    if keepdims:
        if axis is None:
            out = m.reshape(out, (qv.size,) + (1,) * ndim)
        else:
            out = m.expand_dims(out, ax + 1)
    if qv.ndim == 0:
        out = m.squeeze(out, 0)
    return out


@op
def quantile(x, q, axis=None, method="linear", keepdims=False):
    """q-th quantiles (q in [0, 1]) with numpy's methods linear/lower/higher/midpoint/
    nearest; differentiable through the sort."""
    from fastnet.ops.sorting import sort

    x, qv, xs, ax = _quantile_args("quantile", x, q, axis, method)
    s = sort(xs, axis=ax)
    n = s.shape[ax]
    lo, hi, frac = _quantile_neighbours(qv * (n - 1), method)
    lo_v = m.take(s, lo.reshape(-1), axis=ax)
    hi_v = m.take(s, hi.reshape(-1), axis=ax)
    fshape = [1] * s.ndim
    fshape[ax] = frac.size
    f = Tensor(frac.reshape(fshape).astype(s._value.dtype))
    out = lo_v + (hi_v - lo_v) * f  # (..., len(q) at ax, ...)
    return _quantile_shape(m.moveaxis(out, ax, 0), qv, axis, ax, x.ndim, keepdims)


@op
def percentile(x, q, axis=None, method="linear", keepdims=False):
    return quantile(x, np.asarray(_t(q)._value, np.float64) / 100.0, axis=axis, method=method,
                    keepdims=keepdims)


@op
def median(x, axis=None, keepdims=False):
    return quantile(x, 0.5, axis=axis, keepdims=keepdims)


def _nan_fill(x, fill):
    x = _float(x)
    nan = Tensor(np.isnan(x._value))
    return m.where(nan, m.full_like(x, fill), x), nan


def _nan_count(nan, dtype, axis, keepdims):
    """How many values are not NaN along ``axis`` (nanmean's and nanvar's divisor)."""
    return m.sum(m.cast(m.logical_not(nan), dtype), axis=axis, keepdims=keepdims)


def _nan_reduction(name, reduce, fill):
    """The op ``name``: ``reduce`` over x with its NaNs replaced by ``fill``, the identity
    of ``reduce`` (so a NaN counts as absent; an all-NaN slice gives the identity)."""
    def f(x, axis=None, keepdims=False):
        return reduce(_nan_fill(x, fill)[0], axis=axis, keepdims=keepdims)

    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"{reduce.__name__} ignoring NaNs (numpy.{name})."
    return op(f)


nansum = _nan_reduction("nansum", m.sum, 0.0)
nanmax = _nan_reduction("nanmax", m.max, -np.inf)
nanmin = _nan_reduction("nanmin", m.min, np.inf)
nanprod = _nan_reduction("nanprod", m.prod, 1.0)


@op
def nanmean(x, axis=None, keepdims=False):
    filled, nan = _nan_fill(x, 0.0)
    count = _nan_count(nan, filled.dtype, axis, keepdims)
    return m.sum(filled, axis=axis, keepdims=keepdims) / count


@op
def nanvar(x, axis=None, keepdims=False):
    filled, nan = _nan_fill(x, 0.0)
    mean = nanmean(x, axis=axis, keepdims=True)
    dev = m.where(nan, m.zeros_like(filled), filled - mean)
    count = _nan_count(nan, filled.dtype, axis, keepdims)
    return m.sum(m.square(dev), axis=axis, keepdims=keepdims) / count


@op
def nanstd(x, axis=None, keepdims=False):
    return m.sqrt(nanvar(x, axis=axis, keepdims=keepdims))


@op
def trapezoid(y, x=None, dx=1.0, axis=-1):
    y = _float(y)
    ax = axis % y.ndim
    n = y.shape[ax]
    lo = m.take(y, np.arange(n - 1), axis=ax)
    hi = m.take(y, np.arange(1, n), axis=ax)
    if x is None:
        return m.sum((lo + hi) * (0.5 * dx), axis=ax)
    d = diff(_float(x), axis=-1)
    if d.ndim == 1:
        shape = [1] * y.ndim
        shape[ax] = n - 1
        d = m.reshape(d, shape)
    return m.sum((lo + hi) * 0.5 * d, axis=ax)


@op
def sinc(x):
    x = _float(x)
    px = x * np.pi
    zero = Tensor(x._value == 0)
    safe = m.where(zero, m.ones_like(px), px)
    return m.where(zero, m.ones_like(px), m.sin(safe) / safe)


@op
def fmax(x1, x2):
    a, b = _float(x1), _float(x2)
    pick_b = Tensor(np.isnan(a._value) | (b._value > a._value))
    return m.where(pick_b, b, a)


@op
def fmin(x1, x2):
    a, b = _float(x1), _float(x2)
    pick_b = Tensor(np.isnan(a._value) | (b._value < a._value))
    return m.where(pick_b, b, a)


@op
def fmod(x1, x2):
    a, b = _float(x1), _float(x2)
    q = Tensor(np.trunc(a._value / b._value))
    return a - b * q


@op
def logaddexp2(x1, x2):
    return logaddexp(_float(x1) * _LN2, _float(x2) * _LN2) / _LN2


@op
def heaviside(x1, x2):
    a, b = _t(x1), _t(x2)
    return Tensor(np.heaviside(a._value, b._value).astype(np.result_type(a._value, b._value)))


@op
def isposinf(x):
    return Tensor(np.isposinf(_t(x)._value))


@op
def isneginf(x):
    return Tensor(np.isneginf(_t(x)._value))


@op
def signbit(x):
    return Tensor(np.signbit(_t(x)._value))


@op
def isin(x1, x2, assume_unique=False, invert=False):
    return Tensor(np.isin(_t(x1)._value, _t(x2)._value, assume_unique=assume_unique,
                          invert=invert))


@op
def isreal(x):
    return Tensor(np.isreal(_t(x)._value))


@op
def searchsorted(sorted_sequence, values, side="left"):
    a = _t(sorted_sequence)._value
    if a.ndim != 1:
        raise ValueError(f"searchsorted: sorted_sequence must be 1-D; received shape {a.shape}")
    return Tensor(np.searchsorted(a, _t(values)._value, side=side).astype(np.int32))


@op
def digitize(x, bins):
    return Tensor(np.digitize(_t(x)._value, _t(bins)._value).astype(np.int32))


@op
def bincount(x, weights=None, minlength=0, sparse=False):
    v = _t(x)._value
    if v.ndim == 1:
        w = None if weights is None else _t(weights)._value
        out = np.bincount(v, w, minlength)
    else:
        n = max(int(v.max()) + 1 if v.size else 0, minlength)
        out = np.stack([np.bincount(r, None if weights is None else _t(weights)._value[i], n)
                        for i, r in enumerate(v)])
    if weights is None:
        out = out.astype(np.int32)
    return Tensor(out)


@op
def meshgrid(*x, indexing="xy"):
    return [Tensor(g.copy()) for g in np.meshgrid(*[_t(v)._value for v in x],
                                                  indexing=indexing)]


@op
def nonzero(x):
    return tuple(Tensor(i.astype(np.int32)) for i in np.nonzero(_t(x)._value))


@op
def select(condlist, choicelist, default=0):
    out = _t(default) if not isinstance(default, Tensor) else default
    for cond, choice in reversed(list(zip(condlist, choicelist))):
        out = m.where(cond, choice, out)
    return out


@op
def copy(x):
    return m.multiply(_t(x), 1) if _t(x)._value.dtype.kind == "f" else Tensor(_t(x)._value.copy())


def array(x, dtype=None):
    from fastnet.ops.core import convert_to_tensor

    return convert_to_tensor(x, dtype=dtype)


def empty(shape, dtype=None):
    return m.zeros(shape, dtype=dtype)


def empty_like(x, dtype=None):
    return m.zeros_like(x, dtype=dtype)


def is_tensor(x):
    return isinstance(x, Tensor)


@op
def logspace(start, stop, num=50, endpoint=True, base=10, dtype=None, axis=0):
    return Tensor(np.logspace(start, stop, num, endpoint, base, axis=axis).astype(
        dtype or floatx()))


@op
def geomspace(start, stop, num=50, endpoint=True, dtype=None, axis=0):
    return Tensor(np.geomspace(start, stop, num, endpoint, axis=axis).astype(dtype or floatx()))


@op
def vander(x, N=None, increasing=False):
    return Tensor(np.vander(_t(x)._value, N, increasing))


def _window_fn(name, fn):
    def window(x):
        return Tensor(fn(int(x)).astype(floatx()))

    window.__name__ = name
    window.__doc__ = f"numpy.{name} window of x samples."
    return window


hamming = _window_fn("hamming", np.hamming)
hanning = _window_fn("hanning", np.hanning)
blackman = _window_fn("blackman", np.blackman)
bartlett = _window_fn("bartlett", np.bartlett)


def kaiser(x, beta):
    return Tensor(np.kaiser(int(x), beta).astype(floatx()))




# ---- more of keras.ops.numpy: joins, partitions, integer/bitwise math, nan-aware scans and
# quantiles, statistics, the real-only complex helpers -------------------------------------

def _int_only(name, *xs):
    for x in xs:
        if x._value.dtype.kind not in "iub":
            raise TypeError(f"{name}: arguments must be integer or bool tensors; received "
                            f"dtype {x.dtype}")


@op
def append(x1, x2, axis=None):
    """numpy.append: x2 after x1 along `axis` (flattened both when axis is None)."""
    a, b = _t(x1), _t(x2)
    if a._value.dtype != b._value.dtype:
        dt = np.result_type(a._value.dtype, b._value.dtype)
        a, b = m.cast(a, dt.name), m.cast(b, dt.name)
    if axis is None:
        return m.concatenate([m.reshape(a, (-1,)), m.reshape(b, (-1,))], axis=0)
    return m.concatenate([a, b], axis=axis)


@op
def argpartition(x, kth, axis=-1):
    x = _t(x)
    return Tensor(np.argpartition(x._value, kth, axis=axis).astype(np.int32))


def _int_binary(name, fn, keras_args=False):
    def f(x, y):
        a, b = _t(x), _t(y)
        _int_only(name, a, b)
        return Tensor(np.asarray(fn(a._value, b._value)))

    if keras_args:  # Keras names these two arguments x1 and x2 (gcd, lcm)
        def f(x1, x2):
            a, b = _t(x1), _t(x2)
            _int_only(name, a, b)
            return Tensor(np.asarray(fn(a._value, b._value)))

    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"numpy.{fn.__name__} of integer tensors, element-wise."
    return op(f)


bitwise_and = _int_binary("bitwise_and", np.bitwise_and)
bitwise_or = _int_binary("bitwise_or", np.bitwise_or)
bitwise_xor = _int_binary("bitwise_xor", np.bitwise_xor)
bitwise_left_shift = _int_binary("bitwise_left_shift", np.left_shift)
bitwise_right_shift = _int_binary("bitwise_right_shift", np.right_shift)
left_shift = _int_binary("left_shift", np.left_shift)
right_shift = _int_binary("right_shift", np.right_shift)
gcd = _int_binary("gcd", np.gcd, keras_args=True)
lcm = _int_binary("lcm", np.lcm, keras_args=True)


@op
def bitwise_invert(x):
    x = _t(x)
    _int_only("bitwise_invert", x)
    return Tensor(np.invert(x._value))


@op
def bitwise_not(x):
    x = _t(x)
    _int_only("bitwise_not", x)
    return Tensor(np.invert(x._value))


# fastnet tensors are real (float/int/bool): these are numpy's results on real inputs
@op
def real(x):
    return _t(x)


@op
def conjugate(x):
    return _t(x)


conj = conjugate


@op
def imag(x):
    return m.zeros_like(_t(x))


@op
def angle(x):
    """np.angle of a real tensor: pi where x < 0 (and -0.0), 0 elsewhere; NaN stays NaN."""
    x = _float(x)
    return Tensor(np.angle(x._value).astype(x._value.dtype))


@op
def diagflat(x, k=0):
    return diag(m.reshape(_t(x), (-1,)), k)


@op
def corrcoef(x):
    """Pearson correlation matrix of the rows of x (numpy.corrcoef), clipped to [-1, 1]."""
    x = _float(x)
    if x.ndim not in (1, 2):
        raise ValueError(f"corrcoef: x must be 1-D or 2-D; received shape {x.shape}")
    x2 = m.reshape(x, (1, -1)) if x.ndim == 1 else x
    xc = x2 - m.mean(x2, axis=1, keepdims=True)
    c = m.matmul(xc, m.transpose(xc))
    d = m.sqrt(diagonal(c))
    r = m.clip(c / (d[:, None] * d[None, :]), -1.0, 1.0)
    return m.reshape(r, ()) if x.ndim == 1 else r


@op
def correlate(x1, x2, mode="valid"):
    """numpy.correlate of two 1-D tensors: c[k] = sum_n x1[n + k] * x2[n]."""
    a, v = _float(x1), _float(x2)
    if a.ndim != 1 or v.ndim != 1:
        raise ValueError(f"correlate: x1 and x2 must be 1-D; received shapes {a.shape} and "
                         f"{v.shape}")
    if mode not in ("valid", "same", "full"):
        raise ValueError(f"correlate: mode must be 'valid', 'same' or 'full'. Received: "
                         f"mode={mode!r}")
    big, small = a.shape[0], v.shape[0]
    if big == 0 or small == 0:
        raise ValueError("correlate: x1 and x2 must be non-empty")
    if big < small:  # numpy swaps the operands and reverses the result
        return m.flip(correlate(v, a, mode), axis=0)
    ap = m.pad(a, ((small - 1, small - 1),))
    idx = np.arange(big + small - 1)[:, None] + np.arange(small)[None, :]
    full = m.matmul(m.get_item(ap, idx), v)
    if mode == "full":
        return full
    if mode == "valid":
        return full[small - 1:big]
    start = (small - 1) // 2
    return full[start:start + big]


@op
def histogram(x, bins=10, range=None):  # noqa: A002  (Keras's argument name)
    """(counts int32, bin edges) of numpy.histogram over all elements of x."""
    x = _t(x)
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
        raise ValueError(f"histogram: `bins` must be a positive int. Received: bins={bins}")
    counts, edges = np.histogram(x._value, bins=int(bins), range=range)
    return (Tensor(counts.astype(np.int32)),
            Tensor(edges.astype(x._value.dtype if x._value.dtype.kind == "f" else floatx())))


def _bessel_i1(v):
    """I1(v) for the gradient of i0 (Abramowitz & Stegun 9.8.3/9.8.4, ~1e-7 relative)."""
    a = np.abs(v).astype(np.float64)
    t = a / 3.75
    small = a * (0.5 + t**2 * (0.87890594 + t**2 * (0.51498869 + t**2 * (
        0.15084934 + t**2 * (0.02658733 + t**2 * (0.00301532 + t**2 * 0.00032411))))))
    with np.errstate(all="ignore"):
        ti = 3.75 / np.maximum(a, 3.75)
        large = np.exp(a) / np.sqrt(np.maximum(a, 3.75)) * (
            0.39894228 + ti * (-0.03988024 + ti * (-0.00362018 + ti * (0.00163801 + ti * (
                -0.01031555 + ti * (0.02282967 + ti * (-0.02895312 + ti * (
                    0.01787654 - ti * 0.00420059))))))))
    return np.sign(v) * np.where(a < 3.75, small, large)


@op
def i0(x):
    """Modified Bessel function of the first kind, order 0 (numpy.i0); gradient I1(x)."""
    from fastnet.backend.tape import first_order_only

    x = _float(x)
    v = x._value
    out = np.i0(v).astype(v.dtype)
    return make(out, (x,), first_order_only(
        "i0", lambda g: (g * Tensor(_bessel_i1(v).astype(v.dtype)),), (x,)))


@op
def ldexp(x1, x2):
    """x1 * 2**x2 (x2 integer), differentiable in x1."""
    a, e = _float(x1), _t(x2)
    if e._value.dtype.kind not in "iu":
        raise TypeError(f"ldexp: the exponent must be an integer type. Received: x2 dtype="
                        f"{e.dtype}")
    return m.multiply(a, Tensor(np.ldexp(np.ones((), a._value.dtype), e._value)))


@op
def nextafter(x1, x2):
    a, b = _float(x1), _float(x2)
    return Tensor(np.nextafter(a._value, b._value.astype(a._value.dtype)))


def _nanarg(name, fn, fill):
    def f(x, axis=None, keepdims=False):
        x = _t(x)
        v = x._value
        if v.dtype.kind != "f":
            return (m.argmax if fn is np.argmax else m.argmin)(x, axis=axis, keepdims=keepdims)
        nan = np.isnan(v)
        idx = fn(np.where(nan, fill, v), axis=axis, keepdims=keepdims)
        allnan = np.all(nan, axis=axis, keepdims=keepdims)
        return Tensor(np.where(allnan, -1, idx).astype(np.int32))

    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"{fn.__name__} ignoring NaNs (-1 where a slice is all NaN)."
    return op(f)


nanargmax = _nanarg("nanargmax", np.argmax, -np.inf)
nanargmin = _nanarg("nanargmin", np.argmin, np.inf)


@op
def nancumsum(x, axis=None, dtype=None):
    x = _t(x)
    if x._value.dtype.kind == "f":
        x = _nan_fill(x, 0.0)[0]
    if dtype is not None:
        x = m.cast(x, dtype)
    elif x._value.dtype == np.bool_:
        x = m.cast(x, "int32")
    return m.cumsum(x, axis=axis)


@op
def nancumprod(x, axis=None, dtype=None):
    from fastnet.ops.sorting import cumprod

    x = _t(x)
    if x._value.dtype.kind == "f":
        x = _nan_fill(x, 1.0)[0]
    return cumprod(x, axis=axis, dtype=dtype)


@op
def nanquantile(x, q, axis=None, method="linear", keepdims=False):
    """quantile ignoring NaNs (numpy.nanquantile): per slice over its non-NaN values (NaN
    where a slice has none); differentiable through the sort."""
    from fastnet.ops.sorting import sort

    x, qv, xs, ax = _quantile_args("nanquantile", x, q, axis, method)
    xs = m.moveaxis(xs, ax, -1)  # (..., n): NaNs sort last
    s = sort(xs, axis=-1)
    n = s.shape[-1]
    valid = np.sum(~np.isnan(xs._value), axis=-1, keepdims=True)  # (..., 1)
    qs = qv.reshape(-1)
    pos = qs.reshape((1,) * (s.ndim - 1) + (-1,)) * np.maximum(valid - 1, 0)  # (..., Q)
    lo, hi, frac = _quantile_neighbours(pos, method)
    lo, hi = np.minimum(lo, max(n - 1, 0)), np.minimum(hi, max(n - 1, 0))
    lo_v = m.take_along_axis(s, Tensor(lo), axis=-1)
    hi_v = m.take_along_axis(s, Tensor(hi), axis=-1)
    out = lo_v + (hi_v - lo_v) * Tensor(frac.astype(s._value.dtype))
    out = m.where(Tensor(np.broadcast_to(valid == 0, out.shape)), np.nan, out)
    return _quantile_shape(m.moveaxis(out, -1, 0), qv, axis, ax, x.ndim, keepdims)


@op
def nanpercentile(x, q, axis=None, method="linear", keepdims=False):
    return nanquantile(x, np.asarray(_t(q)._value, np.float64) / 100.0, axis=axis,
                       method=method, keepdims=keepdims)


@op
def nanmedian(x, axis=None, keepdims=False):
    return nanquantile(x, 0.5, axis=axis, keepdims=keepdims)


@op
def slogdet(x):
    """(sign, log|det|) of square matrices; log|det| differentiable (gradient inv(x)^T)."""
    from fastnet.ops.linalg import logdet

    x = _float(x)
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise ValueError(f"slogdet: x must be a (batch of) square matrices; received shape "
                         f"{x.shape}")
    sign = np.linalg.slogdet(x._value)[0].astype(x._value.dtype)
    # log|det x| = logdet(x * s) with the sign folded into the first row
    flip = np.ones(x.shape, x._value.dtype)
    flip[..., 0, :] = np.where(sign == 0, 1, sign)[..., None]
    return Tensor(sign), logdet(x * Tensor(flip))


@op
def unique(x, sorted=True, return_index=False, return_inverse=False,  # noqa: A002
           return_counts=False, axis=None, size=None, fill_value=None):
    """numpy.unique (sorted=True; values differentiable: a gather of the first occurrence
    of each value). ``size`` pads (with fill_value, default the smallest value) or
    truncates to a fixed length, as Keras."""
    if not sorted:
        raise NotImplementedError("unique: sorted=False is not supported in fastnet (numpy "
                                  "always sorts)")
    x = _t(x)
    v = x._value
    if axis is None:
        flat = m.reshape(x, (-1,))
        vals, first, inv, counts = np.unique(v.reshape(-1), return_index=True,
                                             return_inverse=True, return_counts=True)
        out = m.take(flat, Tensor(first.astype(np.int32)), axis=0)
    else:
        ax = m._axis(axis, x.shape, "unique: axis")
        vals, first, inv, counts = np.unique(v, return_index=True, return_inverse=True,
                                             return_counts=True, axis=ax)
        out = m.take(x, Tensor(first.astype(np.int32)), axis=ax)
    if size is not None:
        size = int(size)
        k = out.shape[0 if axis is None else ax]
        if k >= size:
            out = out[:size] if axis is None else m.take(out, np.arange(size), axis=ax)
            first, counts = first[:size], counts[:size]
        else:
            fill = vals.min() if fill_value is None else fill_value
            pad_shape = list(out.shape)
            pad_shape[0 if axis is None else ax] = size - k
            out = m.concatenate([out, m.full(tuple(pad_shape), fill, dtype=out.dtype)],
                                axis=0 if axis is None else ax)
            first = np.concatenate([first, np.zeros(size - k, first.dtype)])
            counts = np.concatenate([counts, np.zeros(size - k, counts.dtype)])
    res = [out]
    if return_index:
        res.append(Tensor(first.astype(np.int32)))
    if return_inverse:
        res.append(Tensor(inv.reshape(v.shape if axis is None else -1).astype(np.int32)))
    if return_counts:
        res.append(Tensor(counts.astype(np.int32)))
    return res[0] if len(res) == 1 else tuple(res)


@op
def unravel_index(indices, shape):
    idx = _t(indices)
    if idx._value.dtype.kind not in "iu":
        raise TypeError(f"unravel_index: indices must be integers; received {idx.dtype}")
    return tuple(Tensor(a.astype(np.int32)) for a in np.unravel_index(idx._value, shape))


@op
def view(x, dtype=None):
    """The same bytes as another dtype (numpy's ndarray.view)."""
    from fastnet.backend.tensor import standardize_dtype

    x = _t(x)
    if dtype is None:
        return Tensor(x._value.view())
    return Tensor(np.ascontiguousarray(x._value).view(standardize_dtype(dtype)))


def _parse_signature(sig):
    import re

    if sig is None:
        return None
    ins, outs = sig.replace(" ", "").split("->")
    groups = re.findall(r"\(([^)]*)\)", ins)
    core = [tuple(d for d in g.split(",") if d) for g in groups]
    out_groups = re.findall(r"\(([^)]*)\)", outs)
    if len(out_groups) != 1:
        raise NotImplementedError(f"vectorize: only one output is supported; signature={sig}")
    return core


def vectorize(pyfunc, *, excluded=None, signature=None):
    """numpy.vectorize with ops: ``pyfunc`` runs on each element (or each core slice of a
    ``signature`` such as ``"(n),(n)->()"``) of the broadcast inputs, the results stacked;
    differentiable through pyfunc's ops. ``excluded``: positions/names passed unchanged."""
    import functools

    excluded = set(excluded or ())
    core = _parse_signature(signature)

    @functools.wraps(pyfunc)
    def wrapper(*args, **kwargs):
        pos = [i for i in range(len(args)) if i not in excluded]
        ts = [_t(args[i]) for i in pos]
        cores = core if core is not None else [()] * len(ts)
        if len(cores) != len(ts):
            raise ValueError(f"vectorize: signature {signature!r} has {len(cores)} inputs; "
                             f"got {len(ts)}")
        loops = [tuple(t.shape[:t.ndim - len(c)]) for t, c in zip(ts, cores)]
        loop_shape = np.broadcast_shapes(*loops) if loops else ()
        ts = [m.broadcast_to(t, loop_shape + tuple(t.shape[t.ndim - len(c):]))
              for t, c in zip(ts, cores)]
        outs = []
        for index in np.ndindex(*loop_shape):
            call = list(args)
            for i, t in zip(pos, ts):
                call[i] = t[index] if index else t
            outs.append(_t(pyfunc(*call, **kwargs)))
        if not outs:
            raise ValueError("vectorize: the broadcast inputs are empty")
        out = m.stack(outs, axis=0)
        return m.reshape(out, loop_shape + tuple(out.shape[1:]))

    return wrapper


@op
def erfinv(x):
    """Inverse error function (x in (-1, 1); +-inf at +-1): Giles' single-precision
    approximation refined by two Newton steps on erf in float64; gradient
    sqrt(pi)/2 * exp(y^2) from the output (differentiable again)."""
    from math import erf as _erf

    x = _float(x)
    v = x._value.astype(np.float64)
    w = -np.log(np.maximum((1.0 - v) * (1.0 + v), 1e-300))
    y = np.where(
        w < 5.0,
        np.polyval([2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06,
                    0.00021858087, -0.00125372503, -0.00417768164, 0.246640727, 1.50140941],
                   w - 2.5),
        np.polyval([-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844,
                    0.00573950773, -0.0076224613, 0.00943887047, 1.00167406, 2.83297682],
                   np.sqrt(np.maximum(w, 5.0)) - 3.0)) * v
    verf = np.vectorize(_erf, otypes=[np.float64])
    inside = np.abs(v) < 1
    for _ in range(2):
        yy = np.where(inside, y, 0.0)
        y = np.where(inside, yy - (verf(yy) - v) / (2.0 / np.sqrt(np.pi) * np.exp(-yy * yy)),
                     y)
    with np.errstate(invalid="ignore"):
        y = np.where(np.abs(v) == 1, np.sign(v) * np.inf, np.where(np.abs(v) > 1, np.nan, y))
    out_t = None

    def backward(g):
        return (g * (0.5 * np.sqrt(np.pi)) * m.exp(m.square(out_t)),)

    out_t = make(y.astype(x._value.dtype), (x,), backward)
    return out_t


@op
def cdist(x, y):
    """Euclidean distances between the rows of x (..., m, d) and y (..., n, d)."""
    x, y = _float(x), _float(y)
    if x.ndim < 2 or y.ndim < 2 or x.shape[-1] != y.shape[-1]:
        raise ValueError(f"cdist: x (..., m, d) and y (..., n, d) must share d; received "
                         f"shapes {x.shape} and {y.shape}")
    d = m.expand_dims(x, -2) - m.expand_dims(y, -3)
    return m.sqrt(m.sum(m.square(d), axis=-1))


@op
def extract_sequences(x, sequence_length, sequence_stride):
    """Frames of the last axis: (..., L) -> (..., num, sequence_length), num = 1 +
    (L - sequence_length) // sequence_stride."""
    x = _t(x)
    n, k, s = x.shape[-1], int(sequence_length), int(sequence_stride)
    if k < 1 or s < 1 or k > n:
        raise ValueError(f"extract_sequences: need 1 <= sequence_length <= {n} and "
                         f"sequence_stride >= 1. Received: sequence_length={sequence_length}, "
                         f"sequence_stride={sequence_stride}")
    num = 1 + (n - k) // s
    idx = np.arange(num)[:, None] * s + np.arange(k)[None, :]
    return m.take(x, Tensor(idx.astype(np.int32)), axis=x.ndim - 1)


def dtype(x):
    """The standardized dtype name of a tensor (or KerasTensor)."""
    from fastnet.backend.tensor import standardize_dtype

    d = getattr(x, "dtype", None)
    if d is None:
        d = _t(x).dtype
    return standardize_dtype(str(d))


@op
def saturate_cast(x, dtype):
    """cast to `dtype` with values clipped to its range first (no wrap-around)."""
    from fastnet.backend.tensor import standardize_dtype

    x = _t(x)
    dt = np.dtype(standardize_dtype(dtype))
    if dt.kind in "iu":
        info = np.iinfo(dt)
        lo, hi = info.min, info.max
        if x._value.dtype.kind == "f":  # the largest floats of x's dtype not above the range
            fd = x._value.dtype
            lo = np.nextafter(fd.type(lo), fd.type(0)) if float(fd.type(lo)) < lo else \
                fd.type(lo)
            hi = np.nextafter(fd.type(hi), fd.type(0)) if float(fd.type(hi)) > hi else \
                fd.type(hi)
            return m.cast(m.clip(x, lo, hi), dt.name)
        src = np.iinfo(x._value.dtype) if x._value.dtype.kind in "iu" else None
        if src is not None and (src.min < lo or src.max > hi):
            return m.cast(Tensor(np.clip(x._value, lo, hi)), dt.name)
        return m.cast(x, dt.name)
    if dt.kind == "f" and x._value.dtype.kind == "f" and \
            np.finfo(dt).max < np.finfo(x._value.dtype).max:
        f = np.finfo(dt)
        return m.cast(m.clip(x, float(f.min), float(f.max)), dt.name)
    return m.cast(x, dt.name)


__all__ = ["sinh", "cosh", "tan", "arcsin", "arccos", "arctan", "arcsinh", "arccosh",
           "arctanh", "log2", "log10", "exp2", "cbrt", "reciprocal", "erf", "erfc", "deg2rad",
           "rad2deg", "fabs", "trunc", "arctan2", "hypot", "logaddexp", "divide_no_nan", "tril",
           "triu", "tri", "diagonal", "diag", "trace", "roll", "outer", "ravel", "hstack",
           "vstack", "nan_to_num", "count_nonzero", "isinf", "isclose", "allclose", "fliplr", "flipud",
           "rot90", "diff", "cross", "inner", "vdot", "kron", "dstack", "array_split", "hsplit",
           "vsplit", "dsplit", "average", "ptp", "quantile", "percentile", "median", "nansum",
           "nanmean", "nanmax", "nanmin", "nanprod", "nanvar", "nanstd", "trapezoid", "sinc",
           "fmax", "fmin", "fmod", "logaddexp2", "heaviside", "isposinf", "isneginf", "signbit",
           "isin", "isreal", "searchsorted", "digitize", "bincount", "meshgrid", "nonzero",
           "select", "copy", "array", "empty", "empty_like", "is_tensor", "logspace",
           "geomspace", "vander", "hamming", "hanning", "blackman", "bartlett", "kaiser",
           "angle", "append", "argpartition", "bitwise_and", "bitwise_invert",
           "bitwise_left_shift", "bitwise_not", "bitwise_or", "bitwise_right_shift",
           "bitwise_xor", "cdist", "conj", "conjugate", "corrcoef", "correlate", "diagflat",
           "dtype", "erfinv", "extract_sequences", "gcd", "histogram", "i0", "imag", "lcm",
           "ldexp", "left_shift", "nanargmax", "nanargmin", "nancumprod", "nancumsum",
           "nanmedian", "nanpercentile", "nanquantile", "nextafter", "real", "right_shift",
           "saturate_cast", "slogdet", "unique", "unravel_index", "vectorize", "view"]
