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
        return (Tensor(buf),)

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
    return make(out, (x,), lambda g: (Tensor(np.diagonal(g._value, k).copy()),))


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


__all__ = ["sinh", "cosh", "tan", "arcsin", "arccos", "arctan", "arcsinh", "arccosh",
           "arctanh", "log2", "log10", "exp2", "cbrt", "reciprocal", "erf", "erfc", "deg2rad",
           "rad2deg", "fabs", "trunc", "arctan2", "hypot", "logaddexp", "divide_no_nan", "tril",
           "triu", "tri", "diagonal", "diag", "trace", "roll", "outer", "ravel", "hstack",
           "vstack", "nan_to_num", "count_nonzero", "isinf", "isclose", "allclose"]
