"""Ordering and segment ops, as keras.ops: top_k, in_top_k, sort, argsort,
unstack, cumprod, segment_sum, segment_max (numpy forward; gradients route
the upstream gradient back through the chosen positions)."""

from __future__ import annotations

import numpy as np

from fastnet.backend.tape import first_order_only
from fastnet.backend.tensor import Tensor
from fastnet.ops import math as m
from fastnet.ops.core import _t, make, op


def _scatter_last(g, idx, shape):
    """Adds g (shape idx.shape) into zeros(shape) at idx along the last axis."""
    buf = np.zeros(shape, dtype=g._value.dtype)
    grids = list(np.ix_(*[np.arange(s) for s in idx.shape]))
    grids[-1] = idx
    np.add.at(buf, tuple(grids), g._value)
    # linear in g; its adjoint gathers at idx (differentiable again, for nested tapes)
    return make(buf, (g,), lambda u: (m.take_along_axis(u, Tensor(idx), axis=-1),))


@op
def top_k(x, k, sorted=True):  # noqa: A002
    """The k largest values along the last axis and their indices (ties: lower index
    first). Gradient flows to the selected positions."""
    x = _t(x)
    if x.ndim == 0:
        raise ValueError("top_k: x must have at least 1 dimension; received a scalar")
    k = int(k)
    n = x.shape[-1]
    if not 0 <= k <= n:
        raise ValueError(f"top_k: k must be in [0, {n}] (the last axis of x, shape {x.shape}). "
                         f"Received: k={k}")
    idx = np.argsort(-x._value, axis=-1, kind="stable")[..., :k]
    if not sorted:
        idx = np.sort(idx, axis=-1)
    vals = np.take_along_axis(x._value, idx, axis=-1)
    shape = x.shape
    values = make(vals, (x,), lambda g: (_scatter_last(g, idx, shape),))
    return values, Tensor(idx.astype(np.int32))


@op
def in_top_k(targets, predictions, k):
    """Whether each target's prediction is among the k largest of its row (a tie with
    the k-th largest counts, as in Keras)."""
    p = _t(predictions)._value
    t = np.asarray(_t(targets)._value).astype(np.int64)
    if p.ndim != 2 or t.shape != (p.shape[0],):
        raise ValueError(f"in_top_k: predictions must be (batch, classes) and targets (batch,). "
                         f"Received: predictions.shape={p.shape}, targets.shape={t.shape}")
    if np.any((t < 0) | (t >= p.shape[1])):
        raise ValueError(f"in_top_k: targets must be class ids in [0, {p.shape[1]})")
    k = int(k)
    if k <= 0:
        return Tensor(np.zeros(p.shape[0], dtype=bool))
    kth = -np.sort(-p, axis=-1)[:, min(k, p.shape[1]) - 1]
    return Tensor(p[np.arange(p.shape[0]), t] >= kth)


@op
def argsort(x, axis=-1):
    x = _t(x)
    if x.ndim == 0:
        return Tensor(np.zeros((), np.int32))
    return Tensor(np.argsort(x._value, axis=axis, kind="stable").astype(np.int32))


@op
def sort(x, axis=-1):
    """Sorted along `axis` (ascending); the gradient is un-permuted."""
    x = _t(x)
    if x.ndim == 0:
        return x
    ax = axis % x.ndim
    idx = np.argsort(x._value, axis=ax, kind="stable")
    out = np.take_along_axis(x._value, idx, axis=ax)
    shape = x.shape

    def backward(g):
        buf = np.zeros(shape, dtype=g._value.dtype)
        np.put_along_axis(buf, idx, g._value, axis=ax)
        # linear in g; its adjoint gathers at idx (differentiable again, for nested tapes)
        return (make(buf, (g,), lambda u: (m.take_along_axis(u, Tensor(idx), axis=ax),)),)

    return make(out, (x,), backward)


@op
def unstack(x, num=None, axis=0):
    """The slices of x along `axis`, as a list."""
    x = _t(x)
    if x.ndim == 0:
        raise ValueError("unstack: x must have at least 1 dimension")
    ax = axis % x.ndim
    n = x.shape[ax]
    if num is not None and num != n:
        raise ValueError(f"unstack: num={num} does not match the size {n} of axis {axis} "
                         f"(shape {x.shape})")
    if n == 0:
        return []
    return [m.squeeze(p, axis=ax) for p in m.split(x, n, axis=ax)]


@op
def cumprod(x, axis=None, dtype=None):
    """Cumulative product; its gradient is exact with zeros in the input."""
    x = _t(x)
    if dtype is not None or x._value.dtype.kind == "b":  # as Keras: bools multiply in int32
        x = m.cast(x, "int32" if dtype is None or dtype == "bool" else dtype)
    if axis is None:
        return cumprod(m.reshape(x, (-1,)), axis=0)
    if x.ndim == 0:
        return cumprod(m.reshape(x, (1,)), axis=axis)
    ax = axis % x.ndim
    out = np.cumprod(x._value, axis=ax, dtype=x._value.dtype)

    def backward(g):
        xv = np.moveaxis(x._value, ax, -1).astype(np.float64)
        gv = np.moveaxis(g._value, ax, -1).astype(np.float64)
        n = xv.shape[-1]
        grad = np.zeros_like(xv)
        # d out_j / d x_i = prod_{k <= j, k != i} x_k for j >= i
        for i in range(n):
            others = xv.copy()
            others[..., i] = 1.0
            partial = np.cumprod(others, axis=-1)[..., i:]
            grad[..., i] = np.sum(partial * gv[..., i:], axis=-1)
        return (Tensor(np.moveaxis(grad, -1, ax).astype(g._value.dtype)),)

    return make(out, (x,), first_order_only("cumprod", backward, (x,)))


def _segments(data, segment_ids, num_segments, name):
    data = _t(data)
    ids = np.asarray(_t(segment_ids)._value)
    if ids.ndim != 1 or data.ndim == 0 or ids.shape[0] != data.shape[0]:
        raise ValueError(f"{name}: segment_ids must be 1-D with one id per row of data. "
                         f"Received: data.shape={data.shape}, segment_ids.shape={ids.shape}")
    if ids.dtype.kind not in "iu":
        raise TypeError(f"{name}: segment_ids must be integers, received dtype {ids.dtype}")
    ids = ids.astype(np.int64)
    if num_segments is None:
        num_segments = int(ids.max()) + 1 if ids.size else 0
    num_segments = int(num_segments)
    keep = (ids >= 0) & (ids < num_segments)  # out-of-range ids are dropped, as in Keras
    return data, ids, keep, num_segments


@op
def segment_sum(data, segment_ids, num_segments=None, sorted=False):  # noqa: A002
    """Sums of the rows of data sharing a segment id; rows with ids outside
    [0, num_segments) are dropped."""
    data, ids, keep, n = _segments(data, segment_ids, num_segments, "segment_sum")
    out = np.zeros((n,) + data.shape[1:], dtype=data._value.dtype)
    np.add.at(out, ids[keep], data._value[keep])
    shape = data.shape

    def backward(g):
        buf = np.zeros(shape, dtype=g._value.dtype)
        buf[keep] = g._value[ids[keep]]
        # linear in g (a gather); its adjoint is segment_sum itself (differentiable again)
        return (make(buf, (g,), lambda u: (segment_sum(u, Tensor(ids), n),)),)

    return make(out, (data,), backward)


def _segment_extreme(data, segment_ids, num_segments, name, largest):
    data, ids, keep, n = _segments(data, segment_ids, num_segments, name)
    v = data._value
    if v.dtype.kind == "f":
        fill = -np.inf if largest else np.inf
    else:
        fill = np.iinfo(v.dtype).min if largest else np.iinfo(v.dtype).max
    out = np.full((n,) + data.shape[1:], fill, dtype=v.dtype)
    (np.maximum if largest else np.minimum).at(out, ids[keep], v[keep])
    shape = data.shape

    def backward(g):
        hit = np.zeros(shape, dtype=bool)
        hit[keep] = v[keep] == out[ids[keep]]
        counts = np.zeros_like(out, dtype=np.float64)
        np.add.at(counts, ids[keep], hit[keep].astype(np.float64))
        buf = np.zeros(shape, dtype=g._value.dtype)
        share = np.zeros(shape, dtype=g._value.dtype)  # 1/ties at each selected element
        share[keep] = np.where(hit[keep], 1.0 / np.maximum(counts[ids[keep]], 1), 0)
        buf[keep] = g._value[ids[keep]] * share[keep]
        # linear in g; its adjoint sums u * share per segment (differentiable again)
        return (make(buf, (g,), lambda u: (segment_sum(u * Tensor(share), Tensor(ids), n),)),)

    return make(out, (data,), backward)


@op
def segment_max(data, segment_ids, num_segments=None, sorted=False):  # noqa: A002
    """Elementwise maxima over the rows sharing a segment id; empty segments are -inf.
    The gradient is shared equally by tied maxima."""
    return _segment_extreme(data, segment_ids, num_segments, "segment_max", True)


@op
def segment_min(data, segment_ids, num_segments=None, sorted=False):  # noqa: A002
    """Elementwise minima over the rows sharing a segment id; empty segments are +inf."""
    return _segment_extreme(data, segment_ids, num_segments, "segment_min", False)


@op
def segment_prod(data, segment_ids, num_segments=None, sorted=False):  # noqa: A002
    """Products of the rows of data sharing a segment id (1 for an empty segment); rows
    with ids outside [0, num_segments) are dropped. The rows are placed into a
    (segments, longest segment, ...) block padded with ones (a linear placement) and
    multiplied with ops.prod: the gradient is exact with zeros and differentiates again."""
    data, ids, keep, n = _segments(data, segment_ids, num_segments, "segment_prod")
    rows = np.nonzero(keep)[0]
    seg = ids[rows]
    order = np.argsort(seg, kind="stable")
    slot = np.empty(len(rows), np.int64)
    counts = np.bincount(seg, minlength=n) if len(rows) else np.zeros(n, np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]) if n else np.zeros(0, np.int64)
    slot[order] = np.arange(len(rows)) - np.repeat(starts, counts)
    width = int(counts.max()) if len(rows) else 1
    shape = (n, max(width, 1)) + tuple(data.shape[1:])
    picked = m.take(data, Tensor(rows.astype(np.int32)), axis=0)
    placed = m.scatter_into(picked, (seg, slot), shape, None, False)
    filler = np.ones(shape, dtype=data._value.dtype)
    filler[seg, slot] = 0
    return m.prod(placed + Tensor(filler), axis=1)


__all__ = ["top_k", "in_top_k", "argsort", "sort", "unstack", "cumprod", "segment_sum",
           "segment_max", "segment_min", "segment_prod"]
