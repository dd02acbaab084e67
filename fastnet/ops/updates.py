"""keras.ops.scatter, scatter_update and slice_update: functional (a new tensor, the input
untouched), differentiable in the values/updates and the input (placements are linear
maps: ``math.scatter_into`` and its adjoint, a gather)."""

from __future__ import annotations

import numpy as np

from fastnet.backend.tensor import Tensor
from fastnet.ops import math as m
from fastnet.ops.core import _t, op


def _index_rows(indices, rank, name):
    idx = np.asarray(_t(indices)._value)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{name}: indices must be integers; received dtype {idx.dtype}")
    if idx.ndim == 0 or idx.shape[-1] > rank:
        raise ValueError(f"{name}: indices must have shape (..., k) with k <= {rank} (the "
                         f"target's rank); received shape {idx.shape}")
    return idx.reshape(-1, idx.shape[-1]).astype(np.int64)


@op
def scatter(indices, values, shape):
    """zeros(shape) with values added at indices (``zeros[indices] += values``; duplicate
    indices sum, as Keras)."""
    shape = tuple(int(s) for s in shape)
    v = _t(values)
    idx = _index_rows(indices, len(shape), "scatter")
    k = idx.shape[1]
    v = m.reshape(v, (idx.shape[0],) + shape[k:])
    for a, n in enumerate(shape[:k]):
        if idx.size and (idx[:, a].min() < -n or idx[:, a].max() >= n):
            raise IndexError(f"scatter: index out of range for axis {a} of size {n}")
    return m.scatter_into(v, tuple(idx.T), shape, None, False)


@op
def scatter_update(inputs, indices, updates, reduction=None):
    """``inputs[indices] = updates`` as a new tensor (a repeated index keeps its last
    update, numpy's assignment order); reduction "add" adds the updates instead."""
    x = _t(inputs)
    idx = _index_rows(indices, x.ndim, "scatter_update")
    k = idx.shape[1]
    u = m.reshape(_t(updates), (idx.shape[0],) + tuple(x.shape[k:]))
    if u._value.dtype != x._value.dtype:
        u = m.cast(u, x.dtype)
    key = tuple(idx.T)
    if reduction == "add":
        return x + m.scatter_into(u, key, x.shape, None, False)
    if reduction is not None:
        raise NotImplementedError(f"scatter_update: reduction={reduction!r} is not supported "
                                  "in fastnet (None or 'add')")
    flat = np.ravel_multi_index(tuple(i % n for i, n in zip(idx.T, x.shape[:k])), x.shape[:k])
    _, last_rev = np.unique(flat[::-1], return_index=True)
    last = np.sort(len(flat) - 1 - last_rev)  # the last update of every distinct index
    keep = np.ones(x.shape[:k], dtype=x._value.dtype)
    keep[tuple(idx[last].T)] = 0
    keep = keep.reshape(keep.shape + (1,) * (x.ndim - k))
    placed = m.scatter_into(m.take(u, Tensor(last.astype(np.int32)), axis=0),
                            tuple(idx[last].T), x.shape, None, False)
    return x * Tensor(keep) + placed


@op
def slice_update(inputs, start_indices, updates):
    """``inputs`` with the block at start_indices replaced by updates."""
    x, u = _t(inputs), _t(updates)
    start = [int(s) for s in np.asarray(_t(start_indices)._value).reshape(-1)]
    if len(start) != x.ndim or u.ndim != x.ndim:
        raise ValueError(f"slice_update: start_indices ({len(start)}) and updates (rank "
                         f"{u.ndim}) must match the inputs' rank {x.ndim}")
    if any(s < 0 or s + n > d for s, n, d in zip(start, u.shape, x.shape)):
        raise ValueError(f"slice_update: updates of shape {tuple(u.shape)} at {start} do not "
                         f"fit inputs of shape {tuple(x.shape)}")
    if u._value.dtype != x._value.dtype:
        u = m.cast(u, x.dtype)
    key = tuple(slice(s, s + n) for s, n in zip(start, u.shape))
    keep = np.ones(x.shape, dtype=x._value.dtype)
    keep[key] = 0
    return x * Tensor(keep) + m.scatter_into(u, key, x.shape, None, True)


__all__ = ["scatter", "scatter_update", "slice_update"]
