"""Scaled dot-product attention: ``ops.dot_product_attention`` (Keras 3's signature) and
the core MultiHeadAttention runs.

Layout as Keras: query (B, T, N, H), key (B, S, N, H), value (B, S, N, Hv) -> (B, T, N, Hv).

On float32 the forward and the backward are a few kernel calls on (B*N, ., .) blocks:

    forward   S = (Q*scale) K^T          batched GEMM (csrc/gemm), K^T as a flag
              S = where(mask, S + bias, -big)
              P = softmax(S)             csrc/elementwise (max-subtracted: stable)
              Pd = P * keep              dropout (keep = 0 or 1/(1-rate)), optional
              O = Pd V                   batched GEMM
    backward  dV = Pd^T dO, dPd = dO V^T, dP = dPd * keep
              dS = softmax_backward(P, dP) = P * (dP - rowsum(dP * P))
              dQ = scale * dS K, dK = dS^T (Q*scale), dbias = dS summed to bias's shape

A gradient asked for while another tape records (nested tapes) is built from
differentiable ops instead, so second derivatives exist.
"""

from __future__ import annotations

import numpy as np

from fastnet import _C
from fastnet._core import needs_grad
from fastnet.backend.tape import RECORDING
from fastnet.backend.tensor import Tensor
from fastnet.ops import math as m
from fastnet.ops.core import _t, make, op, unbroadcast

# Keras's numpy/jax backends fill masked logits with 0.7 * the float32 minimum.
_MASK_VALUE = np.float32(-0.7 * 3.38953e38)


def _bool_mask(mask, shape4, what="dot_product_attention"):
    """A mask argument as a numpy bool array broadcastable to (B, N, T, S)."""
    if mask is None:
        return None
    mv = mask._value if isinstance(mask, Tensor) else np.asarray(mask)
    if mv.dtype != np.bool_:
        mv = mv != 0
    if mv.ndim > 4:
        raise ValueError(f"{what}: `mask` must have at most 4 dims (B, N, T, S), got shape "
                         f"{mv.shape}")
    try:
        np.broadcast_shapes(mv.shape, shape4)
    except ValueError:
        raise ValueError(f"{what}: `mask` of shape {mv.shape} does not broadcast to the "
                         f"attention logits' shape (B, N, T, S) = {shape4}") from None
    return mv


def _causal(t, s):
    return np.tril(np.ones((t, s), dtype=np.bool_))


def _combined_mask(mask, is_causal, shape4):
    if is_causal:
        c = _causal(shape4[2], shape4[3])
        mask = c if mask is None else np.logical_and(mask, c)
    return mask


def _check_qkv(q, k, v, what):
    if q.ndim != 4 or k.ndim != 4 or v.ndim != 4:
        raise ValueError(f"{what}: query, key and value must be 4-D (B, T, N, H); got shapes "
                         f"query={tuple(q.shape)}, key={tuple(k.shape)}, value={tuple(v.shape)}")
    B, T, N, H = q.shape
    if k.shape[0] != B or k.shape[2] != N or k.shape[3] != H:
        raise ValueError(f"{what}: key must be (B, S, N, H) matching query {tuple(q.shape)} in "
                         f"B, N and H; got key={tuple(k.shape)}")
    if v.shape[0] != B or v.shape[1] != k.shape[1] or v.shape[2] != N:
        raise ValueError(f"{what}: value must be (B, S, N, Hv) matching key {tuple(k.shape)} "
                         f"in B, S and N; got value={tuple(v.shape)}")


def _heads_first(a, scale=None):
    """(B, L, N, H) numpy -> C-contiguous float32 (B*N, L, H), times `scale` if given."""
    B, L, N, H = a.shape
    out = np.empty((B, N, L, H), np.float32)
    src = a.transpose(0, 2, 1, 3)
    if scale is None:
        np.copyto(out, src)
    else:
        np.multiply(src, np.float32(scale), out=out)
    return out.reshape(B * N, L, H)


def _heads_last(a, B, N):
    """(B*N, L, H) -> C-contiguous (B, L, N, H)."""
    BN, L, H = a.shape
    return np.ascontiguousarray(a.reshape(B, N, L, H).transpose(0, 2, 1, 3))


def _bmm(a, b, trans_a=False, trans_b=False):
    rows = a.shape[2] if trans_a else a.shape[1]
    cols = b.shape[1] if trans_b else b.shape[2]
    out = _C.empty_f32((a.shape[0], rows, cols))
    _C.batched_matmul(a, b, out, trans_a, trans_b)
    return out


def _dropout_keep(shape, rate, rng):
    """0 or 1/(1-rate) per element (float32)."""
    keep = rng.random(shape, dtype=np.float32) >= np.float32(rate)
    return keep.astype(np.float32) * np.float32(1.0 / (1.0 - rate))


# ---- the differentiable composition (other dtypes, nested tapes, returned scores) --------

def _composite(q, k, v, bias, mask, scale, keep):
    """(output, probabilities) from fastnet.ops; mask is a bool numpy array or None and
    keep a numpy (B, N, T, S) dropout factor or None."""
    qh = m.transpose(q, (0, 2, 1, 3))                   # (B, N, T, H)
    kt = m.transpose(k, (0, 2, 3, 1))                   # (B, N, H, S)
    vh = m.transpose(v, (0, 2, 1, 3))                   # (B, N, S, Hv)
    logits = m.matmul(m.multiply(qh, np.asarray(scale, qh.dtype)), kt)
    if bias is not None:
        logits = m.add(logits, bias)
    if mask is not None:
        logits = m.where(mask, logits, np.asarray(_MASK_VALUE, logits.dtype))
    from fastnet.ops.nn import softmax

    probs = softmax(logits, axis=-1)
    weights = probs if keep is None else m.multiply(probs, keep)
    out = m.transpose(m.matmul(weights, vh), (0, 2, 1, 3))
    return out, probs


@op
def dot_product_attention(query, key, value, bias=None, mask=None, scale=None, is_causal=False,
                          flash_attention=None, attn_logits_soft_cap=None):
    """softmax(Q K^T * scale + bias, masked) V over (B, T, N, H) query and (B, S, N, H)
    key/value; `mask` (bool, True = attend) and `bias` broadcast to (B, N, T, S);
    `scale` defaults to 1/sqrt(H); `is_causal` lets query t see keys 0..t only."""
    if flash_attention:
        raise ValueError("dot_product_attention: flash attention is not supported by fastnet "
                         "(CPU); pass flash_attention=None or False.")
    if attn_logits_soft_cap is not None:
        raise NotImplementedError("dot_product_attention: attn_logits_soft_cap is not "
                                  "implemented in fastnet")
    return attention(query, key, value, bias=bias, mask=mask, scale=scale,
                     is_causal=is_causal)[0]


def attention(query, key, value, bias=None, mask=None, scale=None, is_causal=False,
              dropout=0.0, rng=None, return_scores=False, what="dot_product_attention"):
    """The core behind dot_product_attention and MultiHeadAttention: returns
    (output, probabilities or None). Dropout (rate `dropout`, numpy Generator `rng`)
    applies to the probabilities; the returned probabilities are before dropout."""
    q, k, v = _t(query), _t(key), _t(value)
    _check_qkv(q, k, v, what)
    B, T, N, H = q.shape
    S = k.shape[1]
    shape4 = (B, N, T, S)
    if scale is None:
        scale = 1.0 / float(np.sqrt(H))
    scale = float(scale)
    b = None if bias is None else _t(bias)
    if b is not None:
        try:
            np.broadcast_shapes(tuple(b.shape), shape4)
        except ValueError:
            raise ValueError(f"{what}: `bias` of shape {tuple(b.shape)} does not broadcast to "
                             f"the attention logits' shape (B, N, T, S) = {shape4}") from None
    mv = _combined_mask(_bool_mask(mask, shape4, what), is_causal, shape4)
    keep = None
    if dropout and dropout > 0.0:
        if not 0.0 < dropout < 1.0:
            raise ValueError(f"{what}: dropout must be in [0, 1), got {dropout}")
        if rng is None:
            from fastnet import random as _random

            rng = _random._rng(None)
        keep = _dropout_keep(shape4, dropout, rng)
    f32 = all(x._value.dtype == np.float32 for x in (q, k, v)) and (
        b is None or b._value.dtype == np.float32)
    if return_scores or not f32:
        return _composite(q, k, v, b, mv, scale, keep)
    return _fused(q, k, v, b, mv, scale, keep), None


def _fused(q, k, v, b, mv, scale, keep):
    B, T, N, H = q.shape
    S = k.shape[1]
    qs = _heads_first(q._value, scale)                  # (BN, T, H), scaled
    kh = _heads_first(k._value)                         # (BN, S, H)
    vh = _heads_first(v._value)                         # (BN, S, Hv)
    logits = _bmm(qs, kh, trans_b=True)                 # (BN, T, S)
    l4 = logits.reshape(B, N, T, S)
    if b is not None:
        np.add(l4, b._value, out=l4)
    if mv is not None:
        np.copyto(l4, _MASK_VALUE, where=~np.broadcast_to(mv, l4.shape))
    probs = _C.empty_f32(logits.shape)
    _C.softmax(logits, probs, False)
    del logits, l4
    kflat = None if keep is None else keep.reshape(B * N, T, S)
    weights = probs if kflat is None else probs * kflat
    out = _heads_last(_bmm(weights, vh), B, N)          # (B, T, N, Hv)

    def backward(g):
        if RECORDING:
            return _nested_grads(q, k, v, b, mv, scale, keep, g)
        gh = _heads_first(np.asarray(g._value, np.float32))        # (BN, T, Hv)
        dv = _bmm(weights, gh, trans_a=True) if needs_grad(v) else None
        dp = _bmm(gh, vh, trans_b=True)                  # (BN, T, S)
        if kflat is not None:
            np.multiply(dp, kflat, out=dp)
        _C.softmax_backward(probs, dp, dp)               # dS, in place
        dq = _bmm(dp, kh) if needs_grad(q) else None
        if dq is not None:
            np.multiply(dq, np.float32(scale), out=dq)
        dk = _bmm(dp, qs, trans_a=True) if needs_grad(k) else None
        grads = [None if dq is None else Tensor(_heads_last(dq, B, N)),
                 None if dk is None else Tensor(_heads_last(dk, B, N)),
                 None if dv is None else Tensor(_heads_last(dv, B, N))]
        if b is not None:
            grads.append(unbroadcast(Tensor(dp.reshape(B, N, T, S)), tuple(b.shape))
                         if needs_grad(b) else None)
        return grads

    inputs = (q, k, v) if b is None else (q, k, v, b)
    return make(out, inputs, backward)


def _nested_grads(q, k, v, b, mv, scale, keep, g):
    """The same gradients from differentiable ops (an outer tape records them)."""
    qh = m.transpose(q, (0, 2, 1, 3))
    kh = m.transpose(k, (0, 2, 1, 3))
    vh = m.transpose(v, (0, 2, 1, 3))
    gh = m.transpose(g, (0, 2, 1, 3))                     # (B, N, T, Hv)
    _, probs = _composite(q, k, v, b, mv, scale, None)
    weights = probs if keep is None else m.multiply(probs, keep)
    dv = m.matmul(m.swapaxes(weights, -1, -2), gh)
    dp = m.matmul(gh, m.swapaxes(vh, -1, -2))
    if keep is not None:
        dp = m.multiply(dp, keep)
    ds = m.multiply(probs, m.subtract(dp, m.sum(m.multiply(dp, probs), axis=-1, keepdims=True)))
    sc = np.asarray(scale, np.float32)
    dq = m.multiply(m.matmul(ds, kh), sc)
    dk = m.multiply(m.matmul(m.swapaxes(ds, -1, -2), qh), sc)
    grads = [m.transpose(dq, (0, 2, 1, 3)), m.transpose(dk, (0, 2, 1, 3)),
             m.transpose(dv, (0, 2, 1, 3))]
    if b is not None:
        grads.append(unbroadcast(ds, tuple(b.shape)))
    return grads


# The public ops of this module (Keras 3 names; fastnet.ops re-exports exactly these).
__all__ = ["dot_product_attention"]
