"""GEMM on numpy float32 arrays (csrc/gemm): the kernel behind Dense, im2col
convolution and the recurrent cells.

    gemm(a, b, c=None, alpha=1, beta=0, trans_a=False, trans_b=False) -> c
    matmul(a, b, out=None)   # np.matmul semantics for 2-D and batched 3-D float32
"""

from __future__ import annotations

import numpy as np

from fastnet import _C


def _check_f32(x, name, op):
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{op}: `{name}` must be a numpy array, got {type(x).__name__}")
    if x.dtype != np.float32:
        raise TypeError(f"{op}: `{name}` must be float32, got dtype {x.dtype} with shape {x.shape}")


def gemm(a, b, c=None, *, alpha=1.0, beta=0.0, trans_a=False, trans_b=False):
    """Returns ``c = alpha * op(a) @ op(b) + beta * c`` (``op`` transposes when asked).

    ``a`` and ``b`` may be strided views; ``c`` (if given) is updated in place and
    must be C-contiguous, writable and not overlap ``a`` or ``b``.
    """
    # The binding checks dtypes, ranks, shapes and aliasing (naming them); this wrapper
    # only allocates `c` and runs the full Python checks when that allocation cannot.
    if c is None:
        if (type(a) is not np.ndarray or type(b) is not np.ndarray or a.ndim != 2
                or b.ndim != 2 or a.dtype != np.float32 or b.dtype != np.float32):
            _check_f32(a, "a", "gemm")
            _check_f32(b, "b", "gemm")
            raise ValueError(f"gemm: `a` and `b` must be 2-D, got shapes {a.shape} and {b.shape}")
        if beta != 0.0:
            raise ValueError("gemm: beta != 0 needs an input `c`")
        c = _C.empty_f32((a.shape[1] if trans_a else a.shape[0],
                          b.shape[0] if trans_b else b.shape[1]))
    elif type(c) is not np.ndarray:
        _check_f32(c, "c", "gemm")
    _C.gemm(a, b, c, alpha, beta, trans_a, trans_b)
    return c


def matmul(a, b, out=None):
    """``np.matmul`` for float32: 2-D @ 2-D, or batched 3-D with a broadcast batch axis
    (either operand may also be 2-D, applied to every batch)."""
    _check_f32(a, "a", "matmul")
    _check_f32(b, "b", "matmul")
    if a.ndim == 2 and b.ndim == 2:
        if out is not None:
            _check_f32(out, "out", "matmul")
        return gemm(a, b, out)
    if a.ndim not in (2, 3) or b.ndim not in (2, 3):
        raise ValueError(f"matmul: operands must be 2-D or 3-D, got shapes {a.shape} and {b.shape}")
    if a.ndim == 3 and b.ndim == 2:
        # (B, M, K) @ (K, N): one GEMM over the flattened rows.
        if a.shape[2] != b.shape[0]:
            raise ValueError(f"matmul: inner dimensions differ: a {a.shape}, b {b.shape}")
        a2 = np.ascontiguousarray(a).reshape(-1, a.shape[2])
        res = gemm(a2, b).reshape(a.shape[0], a.shape[1], b.shape[1])
        if out is not None:
            out[...] = res
            return out
        return res
    a3 = np.ascontiguousarray(a if a.ndim == 3 else a[None])
    b3 = np.ascontiguousarray(b if b.ndim == 3 else b[None])
    batch = 0 if 0 in (a3.shape[0], b3.shape[0]) else max(a3.shape[0], b3.shape[0])
    if out is None:
        out = _C.empty_f32((batch, a3.shape[1], b3.shape[2]))
    _C.batched_matmul(a3, b3, out, False, False)
    return out
