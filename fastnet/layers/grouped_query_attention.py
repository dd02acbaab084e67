"""GroupQueryAttention (grouped-query attention, Ainslie et al., 2023), as
keras.layers.GroupQueryAttention.

``num_query_heads`` query heads share ``num_key_value_heads`` key/value heads (each key/value
head repeated ``num_query_heads // num_key_value_heads`` times). The projections are
Keras's EinsumDense sublayers and kernels ("query" (d, Nq, H), "key"/"value" (d, Nkv, H),
optional sigmoid "gate" (d, Nq, H), "attention_output" (Nq, H, d)), each one GEMM; the
attention is fastnet.ops.attention's kernels (the same core as MultiHeadAttention).
"""

from __future__ import annotations

import math

import numpy as np

from fastnet import ops
from fastnet import regularizers as regularizers_mod
from fastnet.backend.symbolic import KerasTensor
from fastnet.layers.attention import _QueryValueKeyLayer
from fastnet.layers.einsum_dense import EinsumDense
from fastnet.layers.weight_args import kernel_bias_config, set_kernel_bias_args
from fastnet.ops import attention as attn_ops


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"GroupQueryAttention: `{name}` must be a positive integer. "
                         f"Received: {name}={value!r}")
    return int(value)


class GroupQueryAttention(_QueryValueKeyLayer):
    """``call(query, value, key=None, query_mask=None, value_mask=None, key_mask=None,
    attention_mask=None, return_attention_scores=False, training=None,
    use_causal_mask=False)`` on (batch, steps, features) inputs; ``attention_mask``
    (B, T, S) bool, True = attend; ``sliding_window`` w lets query t see keys with
    |t - s| < w."""

    def __init__(self, head_dim, num_query_heads, num_key_value_heads, dropout=0.0,
                 use_bias=True, sliding_window=None, flash_attention=None,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, use_gate=False, seed=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.head_dim = _positive_int(head_dim, "head_dim")
        self.num_query_heads = _positive_int(num_query_heads, "num_query_heads")
        self.num_key_value_heads = _positive_int(num_key_value_heads, "num_key_value_heads")
        if self.num_query_heads % self.num_key_value_heads:
            raise ValueError("`num_query_heads` must be divisible by `num_key_value_heads`. "
                             f"Received: num_query_heads={num_query_heads}, "
                             f"num_key_value_heads={num_key_value_heads}")
        self.num_repeats = self.num_query_heads // self.num_key_value_heads
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"GroupQueryAttention: `dropout` must be in [0, 1). Received: "
                             f"dropout={dropout}")
        self.dropout = float(dropout)
        self.use_bias = bool(use_bias)
        self.use_gate = bool(use_gate)
        if sliding_window is not None and (isinstance(sliding_window, bool) or not isinstance(
                sliding_window, (int, np.integer)) or sliding_window <= 0):
            raise ValueError("`sliding_window` must be `None` or a positive integer. "
                             f"Received: sliding_window={sliding_window}")
        self.sliding_window = None if sliding_window is None else int(sliding_window)
        if flash_attention:
            raise ValueError("GroupQueryAttention: flash attention is not supported by fastnet "
                             "(CPU). Received: flash_attention=True")
        set_kernel_bias_args(self, kernel_initializer, bias_initializer, kernel_regularizer,
                             bias_regularizer, kernel_constraint, bias_constraint)
        self.activity_regularizer = regularizers_mod.get(activity_regularizer)
        self.seed = seed
        self._rng = None if seed is None else np.random.default_rng(seed)
        self._inverse_sqrt_head_dim = 1.0 / math.sqrt(float(self.head_dim))

    # ---- building ----------------------------------------------------------------------
    def _dense(self, equation, heads, bias_axes, name, activation=None):
        kinit = type(self.kernel_initializer).from_config(self.kernel_initializer.get_config())
        binit = type(self.bias_initializer).from_config(self.bias_initializer.get_config())
        layer = EinsumDense(equation, output_shape=heads, activation=activation,
                            bias_axes=bias_axes if self.use_bias else None,
                            kernel_initializer=kinit, bias_initializer=binit,
                            kernel_regularizer=self.kernel_regularizer,
                            bias_regularizer=self.bias_regularizer,
                            kernel_constraint=self.kernel_constraint,
                            bias_constraint=self.bias_constraint, name=name, dtype=self.dtype)
        self._track(layer)
        return layer

    def build(self, query_shape, value_shape=None, key_shape=None):
        query_shape = tuple(query_shape)
        value_shape = query_shape if value_shape is None else tuple(value_shape)
        key_shape = value_shape if key_shape is None else tuple(key_shape)
        for what, shape in (("query", query_shape), ("value", value_shape), ("key", key_shape)):
            if len(shape) != 3:
                raise ValueError(f"GroupQueryAttention {self.name!r}: {what} must be of rank 3 "
                                 f"(batch, steps, features); received {what}_shape={shape}")
        self.feature_dim = query_shape[-1]
        nq, nkv, h = self.num_query_heads, self.num_key_value_heads, self.head_dim
        self._query_dense = self._dense("bqm,muh->bquh", (None, nq, h), "uh", "query")
        self._query_dense.build(query_shape)
        self._key_dense = self._dense("bkm,mvh->bkvh", (None, nkv, h), "vh", "key")
        self._key_dense.build(key_shape)
        if self.use_gate:
            self._gate_dense = self._dense("bqm,muh->bquh", (None, nq, h), "uh", "gate",
                                           activation="sigmoid")
            self._gate_dense.build(query_shape)
        self._value_dense = self._dense("bkm,mvh->bkvh", (None, nkv, h), "vh", "value")
        self._value_dense.build(value_shape)
        self._output_dense = self._dense("bquh,uhm->bqm", (None, self.feature_dim), "m",
                                         "attention_output")
        self._output_dense.build((None, None, nq, h))
        self.built = True

    # ---- calling -----------------------------------------------------------------------
    def call(self, query, value, key=None, query_mask=None, value_mask=None, key_mask=None,
             attention_mask=None, return_attention_scores=False, training=None,
             use_causal_mask=False, mask=None):
        if key is None:
            key = value
        query_mask, value_mask = self._call_masks(mask, query_mask, value_mask)
        t, s = query.shape[1], value.shape[1]
        if key.shape[1] != s:
            raise ValueError(f"GroupQueryAttention {self.name!r}: key and value must have the "
                             f"same number of steps; received value shape "
                             f"{tuple(value.shape)}, key shape {tuple(key.shape)}")
        amask = self._compute_attention_mask(t, s, query_mask, value_mask,
                                             None if key is value else key_mask,
                                             attention_mask, use_causal_mask,
                                             self.sliding_window)
        gate = self._gate_dense(query) if self.use_gate else None
        q = self._query_dense(query)
        k = ops.repeat(self._key_dense(key), self.num_repeats, axis=2)
        v = ops.repeat(self._value_dense(value), self.num_repeats, axis=2)
        rate = self.dropout if training else 0.0
        out, scores = attn_ops.attention(
            q, k, v, mask=None if amask is None else amask[:, None, :, :],
            scale=self._inverse_sqrt_head_dim, dropout=rate, rng=self._rng,
            return_scores=return_attention_scores, what=f"GroupQueryAttention {self.name!r}")
        if gate is not None:
            out = ops.multiply(out, gate)
        out = self._output_dense(out)
        if return_attention_scores:
            return out, scores
        return out

    def compute_output_shape(self, query_shape, value_shape=None, key_shape=None):
        value_shape = query_shape if value_shape is None else value_shape
        key_shape = value_shape if key_shape is None else key_shape
        if query_shape[-1] != value_shape[-1]:
            raise ValueError("The last dimension of `query_shape` and `value_shape` must be "
                             f"equal, but are {query_shape[-1]}, {value_shape[-1]}. Received: "
                             f"query_shape={query_shape}, value_shape={value_shape}")
        if tuple(value_shape[1:-1]) != tuple(key_shape[1:-1]):
            raise ValueError("All dimensions of `value` and `key`, except the last one, must be "
                             f"equal. Received: value_shape={value_shape} and "
                             f"key_shape={key_shape}")
        return tuple(query_shape)

    def compute_output_spec(self, query, value=None, key=None, query_mask=None,
                            value_mask=None, key_mask=None, attention_mask=None,
                            return_attention_scores=False, training=None,
                            use_causal_mask=False, mask=None):
        value = query if value is None else value
        shape = self.compute_output_shape(query.shape, value.shape,
                                          None if key is None else key.shape)
        out = KerasTensor(shape, dtype="float32")
        if return_attention_scores:
            kv_len = value.shape[1] if key is None else key.shape[1]
            scores = KerasTensor((query.shape[0], self.num_query_heads, query.shape[1], kv_len),
                                 dtype="float32")
            return out, scores
        return out

    def get_config(self):
        return {**super().get_config(), "head_dim": self.head_dim,
                "num_query_heads": self.num_query_heads,
                "num_key_value_heads": self.num_key_value_heads, "use_bias": self.use_bias,
                "use_gate": self.use_gate, "sliding_window": self.sliding_window,
                "dropout": self.dropout,
                **kernel_bias_config(self),
                "seed": self.seed}


__all__ = ["GroupQueryAttention"]
