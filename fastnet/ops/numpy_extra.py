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


@op
def tril(x, k=0):
    """x with the entries above the k-th diagonal zeroed."""
    x = _t(x)
    if x.ndim < 2:
        raise ValueError(f"tril: x must have at least 2 dimensions; received shape {x.shape}")
    mask = Tensor(_tri_mask(x.shape, k, True).astype(x._value.dtype))
    return x * mask


@op
def triu(x, k=0):
    """x with the entries below the k-th diagonal zeroed."""
    x = _t(x)
    if x.ndim < 2:
        raise ValueError(f"triu: x must have at least 2 dimensions; received shape {x.shape}")
    mask = Tensor(_tri_mask(x.shape, k, False).astype(x._value.dtype))
    return x * mask


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


@op
def quantile(x, q, axis=None, method="linear", keepdims=False):
    """q-th quantiles (q in [0, 1]) with numpy's methods linear/lower/higher/midpoint/
    nearest; differentiable through the sort."""
    from fastnet.ops.sorting import sort

    x = _float(x)
    qv = np.asarray(_t(q)._value, dtype=np.float64)
    if np.any((qv < 0) | (qv > 1)):
        raise ValueError(f"quantile: q must be in [0, 1]; received {qv}")
    if method not in ("linear", "lower", "higher", "midpoint", "nearest"):
        raise ValueError(f"quantile: invalid method {method!r}")
    orig_ndim = x.ndim
    if axis is None:
        xs, ax = m.reshape(x, (-1,)), 0
    else:
        ax = axis % x.ndim
        xs = x
    s = sort(xs, axis=ax)
    n = s.shape[ax]
    pos = qv * (n - 1)
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
    lo_v = m.take(s, lo.reshape(-1), axis=ax)
    hi_v = m.take(s, hi.reshape(-1), axis=ax)
    fshape = [1] * s.ndim
    fshape[ax] = frac.size
    f = Tensor(frac.reshape(fshape).astype(s._value.dtype))
    out = lo_v + (hi_v - lo_v) * f  # (..., len(q) at ax, ...)
    out = m.moveaxis(out, ax, 0)
    if keepdims:
        if axis is None:
            out = m.reshape(out, (frac.size,) + (1,) * orig_ndim)
        else:
            out = m.expand_dims(out, ax + 1)
    if qv.ndim == 0:
        out = m.squeeze(out, 0)
    return out


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


@op
def nansum(x, axis=None, keepdims=False):
    return m.sum(_nan_fill(x, 0.0)[0], axis=axis, keepdims=keepdims)


@op
def nanmean(x, axis=None, keepdims=False):
    filled, nan = _nan_fill(x, 0.0)
    count = m.sum(m.cast(m.logical_not(nan), filled.dtype), axis=axis, keepdims=keepdims)
    return m.sum(filled, axis=axis, keepdims=keepdims) / count


@op
def nanmax(x, axis=None, keepdims=False):
    return m.max(_nan_fill(x, -np.inf)[0], axis=axis, keepdims=keepdims)


@op
def nanmin(x, axis=None, keepdims=False):
    return m.min(_nan_fill(x, np.inf)[0], axis=axis, keepdims=keepdims)


@op
def nanprod(x, axis=None, keepdims=False):
    return m.prod(_nan_fill(x, 1.0)[0], axis=axis, keepdims=keepdims)


@op
def nanvar(x, axis=None, keepdims=False):
    filled, nan = _nan_fill(x, 0.0)
    mean = nanmean(x, axis=axis, keepdims=True)
    dev = m.where(nan, m.zeros_like(filled), filled - mean)
    count = m.sum(m.cast(m.logical_not(nan), filled.dtype), axis=axis, keepdims=keepdims)
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
           "geomspace", "vander", "hamming", "hanning", "blackman", "bartlett", "kaiser"]
