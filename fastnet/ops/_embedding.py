"""The Embedding layer's lookup: a row gather whose gradient is the dense table
gradient, both on the C++ kernels (fastnet.kernels.embedding). Not a public op: the
public one is ``ops.take``, which this matches for in-range indices."""

from __future__ import annotations

import numpy as np

from fastnet.backend.tensor import Tensor
from fastnet.kernels import embedding as _k
from fastnet.ops.core import make


def embedding_lookup(table, indices, where):
    """table[indices] for a float32 (rows, dim) Tensor and an integer index Tensor;
    `where` names the caller in the out-of-range IndexError. Other dtypes and symbolic
    inputs go through ``ops.take``."""
    from fastnet.ops.math import take

    if not (isinstance(table, Tensor) and isinstance(indices, Tensor)):
        return take(table, indices, axis=0)
    tv = table._value
    iv = indices._value
    if tv.dtype != np.float32 or tv.ndim != 2 or not tv.flags.c_contiguous or \
            iv.dtype not in (np.int32, np.int64):
        return take(table, indices, axis=0)
    iv = np.ascontiguousarray(iv)
    out = _k.embedding_lookup(tv, iv, where)
    rows = tv.shape[0]

    def backward(g):
        gv = np.ascontiguousarray(g._value, dtype=np.float32)
        buf = _k.embedding_grad(iv, gv, rows, where)
        # linear in g; its adjoint is the gather itself (differentiable again, nested tapes)
        return (make(buf, (g,), lambda u: (take(u, Tensor(iv), axis=0),)),)

    return make(out, (table,), backward)
