"""fastnet.ops.linalg, as keras.ops.linalg: norm, inv, solve, det, cholesky, qr,
svd. Forward by numpy on the last two axes (batched); gradients by the standard
matrix identities (inv, solve, det and norm are built from differentiable ops,
so they differentiate again)."""

from __future__ import annotations

import numpy as np

from fastnet.backend.tape import first_order_only
from fastnet.backend.tensor import Tensor, floatx
from fastnet.ops import math as m
from fastnet.ops.core import _t, make, op


def _float(x):
    x = _t(x)
    if x._value.dtype.kind != "f":
        x = m.cast(x, floatx())
    return x


def _square(x, name):
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise ValueError(f"{name}: expected a (..., n, n) square matrix; received shape "
                         f"{x.shape}")


def _mT(x):
    return m.swapaxes(x, -1, -2)


def _np_mT(a):
    return np.swapaxes(a, -1, -2)


def _linalg_error(name, e, shape):
    return ValueError(f"{name}: {e} (input shape {shape})")


@op
def inv(x):
    """Matrix inverse; gradient -X^T g X^T with X = inv(a)."""
    a = _float(x)  # Keras names the argument x
    _square(a, "inv")
    try:
        out = np.linalg.inv(a._value)
    except np.linalg.LinAlgError as e:
        raise _linalg_error("inv", e, a.shape) from None
    res = None

    def backward(g):
        xt = _mT(res)
        return (-m.matmul(m.matmul(xt, g), xt),)

    res = make(out, (a,), backward)
    return res


@op
def solve(a, b):
    """x with a @ x = b (b is a vector when it is 1-D, else (..., n, k))."""
    a, b = _float(a), _float(b)
    _square(a, "solve")
    vector = b.ndim == 1
    bv = b._value[:, None] if vector else b._value
    if bv.shape[-2] != a.shape[-1]:
        raise ValueError(f"solve: a has shape {a.shape} but b has shape {b.shape}; b's "
                         f"{'length' if vector else 'second-to-last axis'} must be "
                         f"{a.shape[-1]}")
    try:
        out = np.linalg.solve(a._value, bv)
    except np.linalg.LinAlgError as e:
        raise _linalg_error("solve", e, a.shape) from None
    out = out[:, 0] if vector else out
    b_mat_ndim = 2 if vector else b.ndim

    def backward(g):
        gm = m.expand_dims(g, -1) if vector else g
        gb = solve(_mT(a), gm)
        x = m.expand_dims(res, -1) if vector else res
        ga = -m.matmul(gb, _mT(x))
        ga = m.sum(ga, axis=tuple(range(ga.ndim - a.ndim))) if ga.ndim > a.ndim else ga
        if gb.ndim > b_mat_ndim:  # b was broadcast over a's batch
            gb = m.sum(gb, axis=tuple(range(gb.ndim - b_mat_ndim)))
        gb = m.squeeze(gb, -1) if vector else gb
        return ga, gb

    res = make(out, (a, b), backward)
    return res


@op
def det(x):
    """Determinant; gradient g * det(a) * inv(a)^T."""
    a = _float(x)  # Keras names the argument x
    _square(a, "det")
    out = np.asarray(np.linalg.det(a._value), dtype=a._value.dtype)
    res = None

    def backward(g):
        scale = m.expand_dims(m.expand_dims(g * res, -1), -1)
        return (scale * _mT(inv(a)),)

    res = make(out, (a,), backward)
    return res


@op
def cholesky(x, upper=False):
    """Lower (or upper) Cholesky factor of a symmetric positive-definite matrix."""
    a = _float(x)  # Keras names the argument x
    _square(a, "cholesky")
    try:
        low = np.linalg.cholesky(a._value)
    except np.linalg.LinAlgError as e:
        raise _linalg_error("cholesky", e, a.shape) from None
    out = _np_mT(low).copy() if upper else low

    def backward(g):
        gl = g._value.astype(np.float64)
        if upper:
            gl = _np_mT(gl)
        L = low.astype(np.float64)
        # Murray (2016): phi(L^T gL) with phi = lower triangle, diagonal halved
        P = np.tril(_np_mT(L) @ gl)
        P = P - 0.5 * np.eye(L.shape[-1]) * P
        Linv = np.linalg.inv(L)
        S = _np_mT(Linv) @ P @ Linv
        return (Tensor((0.5 * (S + _np_mT(S))).astype(a._value.dtype)),)

    return make(out, (a,), first_order_only("cholesky", backward, (a,)))


@op
def qr(x, mode="reduced"):
    """(q, r) with x = q @ r; gradients for mode='reduced' with rows >= columns."""
    if mode not in ("reduced", "complete"):
        raise ValueError("`mode` argument value not supported. Expected one of {'reduced', "
                         f"'complete'}}. Received: mode={mode}")
    x = _float(x)
    if x.ndim < 2:
        raise ValueError(f"qr: expected a (..., m, n) matrix; received shape {x.shape}")
    q, r = np.linalg.qr(x._value, mode=mode)
    rows, cols = x.shape[-2], x.shape[-1]
    dt = x._value.dtype

    def grad_a(gq, gr):
        if rows < cols or (mode == "complete" and rows != cols):
            raise NotImplementedError("qr: gradients are implemented for mode='reduced' with "
                                      f"rows >= columns; the input is {rows}x{cols}, "
                                      f"mode={mode!r}")
        Q, R = q.astype(np.float64), r.astype(np.float64)
        M = R @ _np_mT(gr) - _np_mT(gq) @ Q
        copyltu = np.tril(M, -1) + _np_mT(np.tril(M, -1)) + np.eye(cols) * M
        B = gq + Q @ copyltu
        # B @ R^{-T}
        return _np_mT(np.linalg.solve(R, _np_mT(B)))

    def bq(g):
        return (Tensor(grad_a(g._value.astype(np.float64), np.zeros(r.shape)).astype(dt)),)

    def br(g):
        return (Tensor(grad_a(np.zeros(q.shape), g._value.astype(np.float64)).astype(dt)),)

    return (make(q, (x,), first_order_only("qr", bq, (x,))),
            make(r, (x,), first_order_only("qr", br, (x,))))


@op
def svd(x, full_matrices=True, compute_uv=True):
    """Singular value decomposition (u, s, vh), or s alone when compute_uv=False.
    Gradients: s always; u and vh for square inputs or full_matrices=False, with
    distinct singular values."""
    x = _float(x)
    if x.ndim < 2:
        raise ValueError(f"svd: expected a (..., m, n) matrix; received shape {x.shape}")
    dt = x._value.dtype
    u, s, vh = np.linalg.svd(x._value.astype(np.float64), full_matrices=False)
    rows, cols = x.shape[-2], x.shape[-1]

    def grad_a(gu, gs, gv):
        # Townsend (2016), reduced SVD; gv is the gradient w.r.t. V = vh^T
        k = s.shape[-1]
        S = s[..., None, :]
        diff = S ** 2 - _np_mT(S) ** 2  # F_ij = 1 / (s_j^2 - s_i^2)
        off = ~np.eye(k, dtype=bool)
        F = np.where(off, 1.0 / np.where(off, diff, 1.0), 0.0)
        U, V = u, _np_mT(vh)
        Sd = np.eye(k) * s[..., None, :]
        out = U @ (np.eye(k) * gs[..., None, :]) @ vh
        if gu is not None:
            J = F * (_np_mT(U) @ gu)
            out = out + U @ ((J + _np_mT(J)) @ Sd) @ vh
            out = out + (np.eye(rows) - U @ _np_mT(U)) @ gu @ np.linalg.inv(Sd) @ vh
        if gv is not None:
            K = F * (_np_mT(V) @ gv)
            out = out + U @ (Sd @ (K + _np_mT(K))) @ vh
            out = out + U @ np.linalg.inv(Sd) @ _np_mT(gv) @ (np.eye(cols) - V @ vh)
        return Tensor(out.astype(dt))

    s_t = make(s.astype(dt), (x,), first_order_only(
        "svd", lambda g: (grad_a(None, g._value.astype(np.float64), None),), (x,)))
    if not compute_uv:
        return s_t
    zeros_s = np.zeros(s.shape)
    if full_matrices and rows != cols:
        uf, _, vhf = np.linalg.svd(x._value.astype(np.float64), full_matrices=True)

        def no_grad(g):
            raise NotImplementedError("svd: gradients of u and vh need a square input or "
                                      f"full_matrices=False (input {rows}x{cols})")

        return (make(uf.astype(dt), (x,), no_grad), s_t, make(vhf.astype(dt), (x,), no_grad))
    u_t = make(u.astype(dt), (x,), first_order_only(
        "svd", lambda g: (grad_a(g._value.astype(np.float64), zeros_s, None),), (x,)))
    vh_t = make(vh.astype(dt), (x,), first_order_only(
        "svd", lambda g: (grad_a(None, zeros_s, _np_mT(g._value.astype(np.float64))),), (x,)))
    return u_t, s_t, vh_t


@op
def solve_triangular(a, b, lower=False):
    """x with a @ x = b for triangular a (only its lower/upper triangle is read)."""
    a, b = _float(a), _float(b)
    _square(a, "solve_triangular")
    tri = np.tril if lower else np.triu
    mask = Tensor(tri(np.ones(a.shape[-2:], dtype=a._value.dtype)))
    return solve(a * mask, b)


@op
def cholesky_inverse(x, upper=False):
    """inv(L @ L^T) (or inv(U^T @ U)) from a Cholesky factor."""
    a = _float(x)  # Keras names the argument x
    full = m.matmul(_mT(a), a) if upper else m.matmul(a, _mT(a))
    return inv(full)


@op
def logdet(x):
    """log(det(x)) for matrices with positive determinant; gradient inv(x)^T."""
    x = _float(x)
    _square(x, "logdet")
    sign, val = np.linalg.slogdet(x._value)
    out = np.where(sign > 0, val, np.nan).astype(x._value.dtype)

    def backward(g):
        return (m.expand_dims(m.expand_dims(g, -1), -1) * _mT(inv(x)),)

    return make(out, (x,), backward)


@op
def eigh(x):
    """(eigenvalues ascending, eigenvectors) of a symmetric matrix (lower triangle used);
    gradients assume distinct eigenvalues."""
    x = _float(x)
    _square(x, "eigh")
    w, v = np.linalg.eigh(x._value.astype(np.float64))
    dt = x._value.dtype

    def grad(gw, gv):
        # A_bar = V (diag(gw) + F o (V^T gV)) V^T, F_ij = 1 / (w_j - w_i), symmetrized
        diff = w[..., None, :] - w[..., :, None]
        off = ~np.eye(w.shape[-1], dtype=bool)
        F = np.where(off, 1.0 / np.where(off, diff, 1.0), 0.0)
        inner = np.eye(w.shape[-1]) * gw[..., None, :]
        if gv is not None:
            inner = inner + F * (_np_mT(v) @ gv)
        out = v @ inner @ _np_mT(v)
        return Tensor((0.5 * (out + _np_mT(out))).astype(dt))

    w_t = make(w.astype(dt), (x,), first_order_only(
        "eigh", lambda g: (grad(g._value.astype(np.float64), None),), (x,)))
    v_t = make(v.astype(dt), (x,), first_order_only(
        "eigh", lambda g: (grad(np.zeros(w.shape), g._value.astype(np.float64)),), (x,)))
    return w_t, v_t


@op
def pinv(x, rcond=None):
    """Moore-Penrose pseudo-inverse (via svd, so differentiable for full-rank x)."""
    x = _float(x)
    sv = np.linalg.svd(x._value, compute_uv=False)
    if rcond is None:
        rcond = max(x.shape[-2:]) * np.finfo(x._value.dtype).eps
    cutoff = rcond * np.max(sv, axis=-1, keepdims=True)
    if np.any(sv <= cutoff):  # rank-deficient: numpy's value, no gradient
        return Tensor(np.linalg.pinv(x._value, rcond=rcond).astype(x._value.dtype))
    u, s, vh = svd(x, full_matrices=False)
    return m.matmul(_mT(vh) / m.expand_dims(s, -2), _mT(u))


@op
def lstsq(a, b, rcond=None):
    """Least-squares solution of a @ x = b."""
    a, b = _float(a), _float(b)
    if a.ndim != 2:
        raise ValueError(f"lstsq: a must be a 2-D matrix; received shape {a.shape}")
    p = pinv(a, rcond=rcond)
    return m.matmul(p, b) if b.ndim == 2 else m.squeeze(m.matmul(p, m.expand_dims(b, -1)), -1)


@op
def matrix_rank(x, tol=None):
    x = _t(x)
    if x.ndim < 2:
        raise ValueError(f"Expected input to have rank >= 2. Received input with shape "
                         f"{x.shape}.")
    return Tensor(np.asarray(np.linalg.matrix_rank(x._value, tol=tol), dtype=np.int32))


def _vector_norm(x, ord, axis, keepdims):  # noqa: A002
    a = m.abs(x)
    if ord is None or ord == 2:
        return m.sqrt(m.sum(m.square(x), axis=axis, keepdims=keepdims))
    if ord == np.inf:
        return m.max(a, axis=axis, keepdims=keepdims)
    if ord == -np.inf:
        return m.min(a, axis=axis, keepdims=keepdims)
    if ord == 0:
        return m.sum(m.cast(m.not_equal(x, 0), x.dtype), axis=axis, keepdims=keepdims)
    if ord == 1:
        return m.sum(a, axis=axis, keepdims=keepdims)
    if isinstance(ord, str):
        raise ValueError(f"norm: ord={ord!r} is a matrix norm; give a 2-tuple axis (or a 2-D "
                         "input) for it")
    return m.power(m.sum(m.power(a, float(ord)), axis=axis, keepdims=keepdims), 1.0 / ord)


def _matrix_norm(x, ord, axis, keepdims):  # noqa: A002
    r, c = (ax % x.ndim for ax in axis)
    if r == c:
        raise ValueError(f"norm: the two axes must differ, received axis={axis}")
    if ord in (None, "fro"):
        return m.sqrt(m.sum(m.square(x), axis=(r, c), keepdims=keepdims))
    if ord in ("nuc", 2, -2):
        moved = m.moveaxis(x, (r, c), (-2, -1))
        s = svd(moved, compute_uv=False)
        val = m.sum(s, axis=-1) if ord == "nuc" else (m.max(s, axis=-1) if ord == 2 else
                                                      m.min(s, axis=-1))
        if keepdims:
            for ax in sorted((r, c)):
                val = m.expand_dims(val, ax)
        return val
    if ord in (1, -1, np.inf, -np.inf):
        sum_axis, red_axis = (r, c) if ord in (1, -1) else (c, r)
        sums = m.sum(m.abs(x), axis=sum_axis, keepdims=True)
        red = m.max if ord in (1, np.inf) else m.min
        val = red(sums, axis=red_axis, keepdims=True)
        return val if keepdims else m.squeeze(val, axis=tuple(sorted((r, c))))
    raise ValueError(f"norm: invalid norm order {ord!r} for matrices")


@op
def norm(x, ord=None, axis=None, keepdims=False):  # noqa: A002
    """Vector or matrix norm with numpy's (and Keras's) ord/axis rules."""
    x = _float(x)
    if axis is None:
        if ord is None:
            val = m.sqrt(m.sum(m.square(x)))
            if keepdims:
                val = m.reshape(val, (1,) * x.ndim)
            return val
        if x.ndim == 1:
            return _vector_norm(x, ord, 0, keepdims)
        if x.ndim == 2:
            return _matrix_norm(x, ord, (0, 1), keepdims)
        raise ValueError(f"norm: improper number of dimensions to norm ({x.ndim}) for ord="
                         f"{ord!r}; pass axis")
    if isinstance(axis, int):
        return _vector_norm(x, ord, axis, keepdims)
    axis = tuple(axis)
    if len(axis) == 1:
        return _vector_norm(x, ord, axis[0], keepdims)
    if len(axis) == 2:
        return _matrix_norm(x, ord, axis, keepdims)
    raise ValueError(f"norm: axis must be an int or a 2-tuple; received axis={axis}")


def jvp(fun, primals, tangents, has_aux=False):
    """Forward-mode Jacobian-vector product: ``(fun(*primals), J @ tangents)`` (and fun's
    aux output with ``has_aux=True``, fun then returning ``(output, aux)``). fastnet's tape
    is reverse-mode, so J t is the derivative in u of <J^T u, t> at u = 0 (two nested
    tapes): it needs ops whose backward differentiates again (first-order-only ops raise)."""
    from fastnet.backend.tape import GradientTape
    from fastnet.ops.control_flow import _flatten, _pack_like

    if not isinstance(primals, (list, tuple)) or not isinstance(tangents, (list, tuple)):
        raise TypeError("jvp: `primals` and `tangents` must be tuples or lists (one entry "
                        "per argument of fun)")
    p_flat = [_float(p) for p in _flatten(primals)]
    t_flat = [_float(t) for t in _flatten(tangents)]
    if len(p_flat) != len(t_flat) or any(tuple(p.shape) != tuple(t.shape)
                                         for p, t in zip(p_flat, t_flat)):
        raise ValueError("jvp: `tangents` must have the structure and shapes of `primals`; "
                         f"got {[tuple(p.shape) for p in p_flat]} and "
                         f"{[tuple(t.shape) for t in t_flat]}")
    args = _pack_like(primals, p_flat)
    with GradientTape() as outer:
        with GradientTape() as inner:
            inner.watch(p_flat)
            result = fun(*args)
            out, aux = result if has_aux else (result, None)
            o_flat = [_float(o) for o in _flatten(out)]
            us = [m.zeros_like(o) for o in o_flat]
            outer.watch(us)
            total = None
            for o, u in zip(o_flat, us):
                term = m.sum(o * u)
                total = term if total is None else total + term
        grads = inner.gradient(total, p_flat)
        dot = None
        for g, t in zip(grads, t_flat):
            if g is not None:
                term = m.sum(g * t)
                dot = term if dot is None else dot + term
    if dot is None:
        tans = [m.zeros_like(o) for o in o_flat]
    else:
        tans = [m.zeros_like(o) if g is None else g
                for g, o in zip(outer.gradient(dot, us), o_flat)]
    outs = (_pack_like(out, o_flat), _pack_like(out, tans))
    return outs + (aux,) if has_aux else outs



def _lu_factor(x):
    x = _float(x)
    if x.ndim < 2:
        raise ValueError(f"lu_factor: x must be a (batch of) matrices; received shape {x.shape}")
    rows, cols = x.shape[-2], x.shape[-1]
    k_max = min(rows, cols)
    lead = tuple(x.shape[:-2])
    a = x
    piv = np.zeros(lead + (k_max,), np.int32)
    for k in range(k_max):
        col = np.abs(a._value[..., k:, k])
        p = np.argmax(col, axis=-1) + k  # partial pivoting (LAPACK getrf)
        piv[..., k] = p
        perm = np.broadcast_to(np.arange(rows), lead + (rows,)).copy()
        pk = perm[..., k].copy()
        np.put_along_axis(perm, np.expand_dims(p, -1), np.expand_dims(pk, -1), axis=-1)
        perm[..., k] = p
        if np.any(p != k):
            a = m.take_along_axis(a, Tensor(np.expand_dims(perm, -1).astype(np.int32)), axis=-2)
        if k + 1 == rows:
            break
        pivot = a[..., k:k + 1, k:k + 1]
        below = a[..., k + 1:, k:k + 1] / pivot  # the multipliers (L's column k)
        schur = a[..., k + 1:, k + 1:] - below * a[..., k:k + 1, k + 1:]
        low = m.concatenate([below, schur], axis=-1)
        a = m.concatenate([a[..., :k + 1, :], m.concatenate([a[..., k + 1:, :k], low],
                                                             axis=-1)], axis=-2)
    return a, Tensor(piv)


@op
def lu_factor(x):
    """LU decomposition with partial pivoting (scipy.linalg.lu_factor / LAPACK getrf):
    ``(lu, pivots)``, lu holding U on and above the diagonal and L's multipliers below
    it, pivots (0-based) the row swapped with row i at step i. Gaussian elimination
    written with ops: differentiable (the pivot order is a constant)."""
    return _lu_factor(x)


__all__ = ["norm", "inv", "solve", "det", "cholesky", "qr", "svd", "solve_triangular",
           "cholesky_inverse", "logdet", "eigh", "pinv", "lstsq", "matrix_rank", "jvp",
           "lu_factor"]
