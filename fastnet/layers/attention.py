"""Attention layers, as keras.layers: MultiHeadAttention, Attention, AdditiveAttention.

MultiHeadAttention keeps Keras 3's weight layout (its EinsumDense sublayers "query", "key",
"value", "attention_output": kernels (d, heads, key_dim) / (heads, value_dim, d), biases
(heads, key_dim) / (d,)), so ``set_weights(keras_layer.get_weights())`` loads a Keras
layer. The projections are GEMMs on the flattened kernels; the attention itself is
fastnet.ops.attention's fused forward/backward (batched GEMM + softmax kernels).
"""

from __future__ import annotations

import math

import numpy as np

from fastnet import constraints as constraints_mod
from fastnet import initializers as initializers_mod
from fastnet import ops
from fastnet import regularizers as regularizers_mod
from fastnet.backend import tape
from fastnet.backend.tensor import Tensor
from fastnet.layers.layer import Layer, layer_error
from fastnet.ops import attention as attn_ops
from fastnet.ops import nn as ops_nn


def _value(x):
    return None if x is None else (x._value if isinstance(x, Tensor) else np.asarray(x))


def _standard_config(config):
    """A config from Keras may carry a DTypePolicy dict as its dtype."""
    config = dict(config)
    dtype = config.get("dtype")
    if isinstance(dtype, dict):
        config["dtype"] = dtype.get("config", {}).get("name")
    return config


class _HeadProjection(Layer):
    """Keras's EinsumDense as MultiHeadAttention uses it: the trailing ``n_in`` axes of
    the input are contracted with a kernel of shape ``in_dims + out_dims``; bias
    ``out_dims``. Runs as one GEMM on the flattened kernel."""

    def __init__(self, out_dims, n_in, use_bias, kernel_initializer, bias_initializer,
                 kernel_regularizer, bias_regularizer, kernel_constraint, bias_constraint,
                 **kwargs):
        super().__init__(**kwargs)
        self.out_dims = tuple(int(d) for d in out_dims)
        self.n_in = n_in
        self.use_bias = use_bias
        self._init = (kernel_initializer, bias_initializer, kernel_regularizer,
                      bias_regularizer, kernel_constraint, bias_constraint)

    def build(self, input_shape):
        kinit, binit, kreg, breg, kcon, bcon = self._init
        in_dims = tuple(input_shape[-self.n_in:])
        if any(d is None for d in in_dims):
            raise ValueError(f"Layer {self.name!r}: the projected input dims must be defined, "
                             f"got input shape {tuple(input_shape)}")
        self.in_dims = tuple(int(d) for d in in_dims)
        self.kernel = self.add_weight(shape=self.in_dims + self.out_dims, name="kernel",
                                      initializer=kinit, regularizer=kreg, constraint=kcon)
        self.bias = self.add_weight(shape=self.out_dims, name="bias", initializer=binit,
                                    regularizer=breg, constraint=bcon) if self.use_bias else None
        self.built = True

    def call(self, inputs):
        if tuple(inputs.shape[-self.n_in:]) != self.in_dims:
            raise ValueError(f"Layer {self.name!r}: expected the input's last dims to be "
                             f"{self.in_dims} (the kernel was built for them), got input shape "
                             f"{tuple(inputs.shape)}")
        lead = tuple(inputs.shape[:-self.n_in])
        k_in = int(np.prod(self.in_dims))
        k_out = int(np.prod(self.out_dims))
        x = ops.reshape(inputs, (-1, k_in))
        y = ops.matmul(x, ops.reshape(self.kernel, (k_in, k_out)))
        if self.bias is not None:
            y = ops_nn.bias_add(y, ops.reshape(self.bias, (k_out,)),
                             _inplace=tape.may_overwrite(y))
        return ops.reshape(y, lead + self.out_dims)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-self.n_in]) + self.out_dims


class _QueryValueKeyLayer(Layer):
    """What MultiHeadAttention and GroupQueryAttention share around their own projections:
    ``layer(query, value, key=None)`` builds from the three shapes (kept for the build
    config), the masks a functional model propagates, and the (B or 1, T, S) attention mask
    built from the padding, causal, sliding-window and explicit masks. One copy, so that
    the two layers keep masking the same way."""

    def __call__(self, query, value=None, key=None, **kwargs):
        if value is None:
            raise ValueError(f"{type(self).__name__} {self.name!r}: call needs `query` and "
                             "`value` (and optionally `key`)")
        if not self.built:
            qs, vs = tuple(query.shape), tuple(value.shape)
            ks = None if key is None else tuple(key.shape)
            self._build_shapes = [qs, vs] if ks is None else [qs, vs, ks]
            try:
                self.build(qs, vs, ks)
            except (ValueError, TypeError, NotImplementedError, IndexError, MemoryError) as e:
                named = layer_error(self, e)
                if named is None:
                    raise
                raise named from None
        if key is not None:
            kwargs["key"] = key
        return super().__call__(query, value, **kwargs)

    def get_build_config(self):
        if self._build_shapes is None:
            return None
        names = ("query_shape", "value_shape", "key_shape")
        return dict(zip(names, self._build_shapes))

    def build_from_config(self, config):
        if config and "query_shape" in config:
            self._build_shapes = [config["query_shape"], config["value_shape"]]
            self.build(config["query_shape"], config["value_shape"], config.get("key_shape"))

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            return mask[0] if mask else None
        return mask

    @staticmethod
    def _call_masks(mask, query_mask, value_mask):
        """(query_mask, value_mask), filled from ``mask`` (the masks propagated by a
        functional model: one tensor, or a list [query_mask, value_mask])."""
        if isinstance(mask, (list, tuple)):
            if query_mask is None and len(mask) > 0:
                query_mask = mask[0]
            if value_mask is None and len(mask) > 1:
                value_mask = mask[1]
        elif mask is not None and query_mask is None:
            query_mask = mask
        return query_mask, value_mask

    def _compute_attention_mask(self, t, s, query_mask=None, value_mask=None, key_mask=None,
                                attention_mask=None, use_causal_mask=False,
                                sliding_window=None):
        """A (B or 1, T, S) bool numpy mask (flattened positions) or None."""
        auto = None
        if query_mask is not None:
            auto = _value(query_mask).astype(bool).reshape(-1, t, 1)
        for km in (value_mask, key_mask):
            if km is not None:
                km = _value(km).astype(bool).reshape(-1, 1, s)
                auto = km if auto is None else auto & km
        if use_causal_mask:
            c = np.tril(np.ones((1, t, s), dtype=bool))
            auto = c if auto is None else auto & c
        if sliding_window is not None:
            band = np.abs(np.arange(t)[:, None] - np.arange(s)[None, :]) < sliding_window
            auto = band[None] if auto is None else auto & band[None]
        if attention_mask is not None:
            am = _value(attention_mask).astype(bool)
            bad = ValueError(f"{type(self).__name__} {self.name!r}: attention_mask of shape "
                             f"{am.shape} does not match (B, T, S) with T={t}, S={s}")
            if am.ndim < 2 or (am.ndim <= 3 and am.shape[-2:] != (t, s)):
                raise bad
            try:  # (B, *query_inner, *value_inner) flattens to (B, T, S)
                am = am.reshape(am.shape[0] if am.ndim > 2 else 1, t, s)
            except ValueError:
                raise bad from None
            auto = am if auto is None else am & auto
        return auto


class MultiHeadAttention(_QueryValueKeyLayer):
    """Multi-head attention (Vaswani et al., 2017) with Keras 3's arguments and weights.

    ``call(query, value, key=None, query_mask=None, value_mask=None, key_mask=None,
    attention_mask=None, return_attention_scores=False, training=None,
    use_causal_mask=False)``; attention_mask (B, T, S) bool, True = attend.
    Inputs of rank > 3 attend over all their inner axes (Keras's default
    ``attention_axes``); other ``attention_axes`` are not implemented.
    """

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True,
                 output_shape=None, attention_axes=None, flash_attention=None,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, seed=None, sliding_window=None,
                 use_gate=False, **kwargs):
        if sliding_window is not None and (
                not isinstance(sliding_window, (int, np.integer)) or
                isinstance(sliding_window, bool) or sliding_window <= 0):
            raise ValueError("`sliding_window` must be `None` or a positive integer. "
                             f"Received: sliding_window={sliding_window}")
        for name, val in (("num_heads", num_heads), ("key_dim", key_dim)):
            if not isinstance(val, (int, np.integer)) or isinstance(val, bool) or val <= 0:
                raise ValueError(f"Received an invalid value for argument `{name}`, expected a "
                                 f"positive integer. Received: {name}={val}")
        if value_dim is not None and (not isinstance(value_dim, (int, np.integer))
                                      or isinstance(value_dim, bool) or value_dim <= 0):
            raise ValueError("Received an invalid value for argument `value_dim`, expected a "
                             f"positive integer or `None`. Received: value_dim={value_dim}")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"MultiHeadAttention: `dropout` must be in [0, 1). Received: "
                             f"dropout={dropout}")
        if flash_attention:
            raise ValueError("MultiHeadAttention: flash attention is not supported by fastnet "
                             "(CPU). Received: flash_attention=True")
        super().__init__(**kwargs)
        self.supports_masking = True
        self._num_heads = int(num_heads)
        self._key_dim = int(key_dim)
        self._value_dim = int(value_dim) if value_dim else self._key_dim
        self._dropout = float(dropout)
        self._use_bias = bool(use_bias)
        if output_shape:
            if isinstance(output_shape, (int, np.integer)):
                output_shape = (int(output_shape),)
            try:
                output_shape = tuple(int(d) for d in output_shape)
            except TypeError:
                raise ValueError(f"Invalid `output_shape`: {output_shape}. When specified, the "
                                 "`output_shape` should be of type tuple, list, or int.") from None
        self._output_shape = output_shape or None
        if isinstance(attention_axes, (int, np.integer)):
            attention_axes = (int(attention_axes),)
        elif attention_axes is not None and not isinstance(attention_axes, (list, tuple)):
            raise ValueError("`attention_axes` must be an int, list, or tuple."
                             f"Received: attention_axes={attention_axes}")
        self._attention_axes = None if attention_axes is None else tuple(attention_axes)
        self._kernel_initializer = initializers_mod.get(kernel_initializer)
        self._bias_initializer = initializers_mod.get(bias_initializer)
        self._kernel_regularizer = regularizers_mod.get(kernel_regularizer)
        self._bias_regularizer = regularizers_mod.get(bias_regularizer)
        self.activity_regularizer = regularizers_mod.get(activity_regularizer)
        self._kernel_constraint = constraints_mod.get(kernel_constraint)
        self._bias_constraint = constraints_mod.get(bias_constraint)
        self.seed = seed
        self._rng = None if seed is None else np.random.default_rng(seed)
        # Keras 3.12+: a sigmoid gate projected from the query multiplies the heads' output
        # (before the output projection); a symmetric band |i - j| < sliding_window on the
        # attention mask
        self._use_gate = bool(use_gate)
        self._sliding_window = None if sliding_window is None else int(sliding_window)
        self._inverse_sqrt_key_dim = 1.0 / math.sqrt(float(self._key_dim))

    num_heads = property(lambda self: self._num_heads)
    key_dim = property(lambda self: self._key_dim)
    value_dim = property(lambda self: self._value_dim)
    dropout = property(lambda self: self._dropout)
    use_bias = property(lambda self: self._use_bias)
    attention_axes = property(lambda self: self._attention_axes)

    # ---- building ----------------------------------------------------------------------
    def _projection(self, out_dims, n_in, name):
        layer = _HeadProjection(out_dims, n_in, self._use_bias, self._kernel_initializer,
                                self._bias_initializer, self._kernel_regularizer,
                                self._bias_regularizer, self._kernel_constraint,
                                self._bias_constraint, name=name, dtype=self.dtype)
        self._track(layer)
        return layer

    def build(self, query_shape, value_shape=None, key_shape=None):
        query_shape = tuple(query_shape)
        value_shape = query_shape if value_shape is None else tuple(value_shape)
        key_shape = value_shape if key_shape is None else tuple(key_shape)
        if tuple(value_shape[1:-1]) != tuple(key_shape[1:-1]):
            raise ValueError("All dimensions of `value` and `key`, except the last one, must be "
                             f"equal. Received: value_shape={value_shape} and "
                             f"key_shape={key_shape}")
        if len(query_shape) < 3:
            raise ValueError(f"MultiHeadAttention {self.name!r}: query must have rank >= 3 "
                             f"(batch, positions..., features); got shape {query_shape}")
        if len(value_shape) != len(query_shape):
            raise ValueError(f"MultiHeadAttention {self.name!r}: query and value must have the "
                             f"same rank; got query_shape={query_shape}, "
                             f"value_shape={value_shape}")
        rank = len(query_shape) + 1          # rank of the projected (.., heads, dim) tensors
        default_axes = tuple(range(1, rank - 2))
        if self._attention_axes is None:
            self._attention_axes = default_axes
        else:
            axes = tuple(a % (rank - 1) if a < 0 else a for a in self._attention_axes)
            # Keras's negative axes count on the projected rank; positive ones are the same
            neg = tuple(a + rank if a < 0 else a for a in self._attention_axes)
            if axes != default_axes and neg != default_axes:
                raise NotImplementedError(
                    f"MultiHeadAttention: attention_axes={self._attention_axes} is not "
                    f"implemented in fastnet; only attention over all inner axes "
                    f"(attention_axes={default_axes} for query rank {len(query_shape)}) is")
            self._attention_axes = default_axes
        h = self._num_heads
        self._query_dense = self._projection((h, self._key_dim), 1, "query")
        self._query_dense.build(query_shape)
        self._key_dense = self._projection((h, self._key_dim), 1, "key")
        self._key_dense.build(key_shape)
        if self._use_gate:  # built between key and value, as Keras (so weights by position)
            self._gate_dense = self._projection((h, self._value_dim), 1, "gate")
            self._gate_dense.build(query_shape)
        if self._sliding_window is not None and len(query_shape) != 3:
            raise NotImplementedError(
                f"MultiHeadAttention: sliding_window with inputs of rank {len(query_shape)} is "
                "not implemented in fastnet (rank-3 (batch, positions, features) inputs only)")
        self._value_dense = self._projection((h, self._value_dim), 1, "value")
        self._value_dense.build(value_shape)
        out = self._output_shape or (query_shape[-1],)
        self._output_dense = self._projection(out, 2, "attention_output")
        self._output_dense.build(query_shape[:-1] + (h, self._value_dim))
        self.built = True

    query_dense = property(lambda self: self._query_dense)
    key_dense = property(lambda self: self._key_dense)
    value_dense = property(lambda self: self._value_dense)
    output_dense = property(lambda self: self._output_dense)

    def call(self, query, value, key=None, query_mask=None, value_mask=None, key_mask=None,
             attention_mask=None, return_attention_scores=False, training=None,
             use_causal_mask=False, mask=None):
        if key is None:
            key = value
        query_mask, value_mask = self._call_masks(mask, query_mask, value_mask)
        q_inner = tuple(query.shape[1:-1])
        v_inner = tuple(value.shape[1:-1])
        t, s = int(np.prod(q_inner)), int(np.prod(v_inner))
        amask = self._compute_attention_mask(t, s, query_mask, value_mask,
                                             None if key is value else key_mask,
                                             attention_mask, use_causal_mask,
                                             self._sliding_window)
        q = self._query_dense(query)
        k = self._key_dense(key)
        v = self._value_dense(value)
        b = q.shape[0]
        h = self._num_heads
        q = ops.reshape(q, (b, t, h, self._key_dim))
        k = ops.reshape(k, (b, s, h, self._key_dim))
        v = ops.reshape(v, (b, s, h, self._value_dim))
        rate = self._dropout if training else 0.0
        out, scores = attn_ops.attention(
            q, k, v, mask=None if amask is None else amask[:, None, :, :],
            scale=self._inverse_sqrt_key_dim, dropout=rate, rng=self._rng,
            return_scores=return_attention_scores, what=f"MultiHeadAttention {self.name!r}")
        out = ops.reshape(out, (b,) + q_inner + (h, self._value_dim))
        if self._use_gate:
            out = ops.multiply(out, ops.sigmoid(self._gate_dense(query)))
        out = self._output_dense(out)
        if return_attention_scores:
            return out, ops.reshape(scores, (b, h) + q_inner + v_inner)
        return out

    def compute_output_shape(self, query_shape, value_shape=None, key_shape=None):
        query_shape = tuple(query_shape)
        if self._output_shape:
            return query_shape[:-1] + tuple(self._output_shape)
        return query_shape

    def _output_spec(self, args, kwargs):
        from fastnet.layers.layer import _Spec

        query = args[0]
        value = args[1] if len(args) > 1 else kwargs.get("value")
        out = _Spec(self.compute_output_shape(query.shape), self._output_dtype(query))
        if kwargs.get("return_attention_scores"):
            scores = (query.shape[0], self._num_heads) + tuple(query.shape[1:-1]) + \
                tuple(value.shape[1:-1])
            return out, _Spec(scores, out.dtype)
        return out

    def get_config(self):
        return {**super().get_config(), "num_heads": self._num_heads, "key_dim": self._key_dim,
                "value_dim": self._value_dim, "dropout": self._dropout,
                "use_bias": self._use_bias,
                # Keras 3.12+ keys, written only when set (older Keras loads the rest)
                **({"use_gate": True} if self._use_gate else {}),
                **({"sliding_window": self._sliding_window} if self._sliding_window else {}),
                "output_shape": self._output_shape,
                "attention_axes": self._attention_axes,
                "kernel_initializer": initializers_mod.serialize(self._kernel_initializer),
                "bias_initializer": initializers_mod.serialize(self._bias_initializer),
                "kernel_regularizer": regularizers_mod.serialize(self._kernel_regularizer),
                "bias_regularizer": regularizers_mod.serialize(self._bias_regularizer),
                "activity_regularizer": regularizers_mod.serialize(self.activity_regularizer),
                "kernel_constraint": constraints_mod.serialize(self._kernel_constraint),
                "bias_constraint": constraints_mod.serialize(self._bias_constraint),
                "seed": self.seed}

    @classmethod
    def from_config(cls, config):
        return cls(**_standard_config(config))


class Attention(Layer):
    """Dot-product (Luong-style) attention over ``[query, value]`` or
    ``[query, value, key]``; ``mask=[query_mask, value_mask]``; score_mode "dot" or
    "concat"; ``use_scale`` adds a trainable scalar scale."""

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if score_mode not in ("dot", "concat"):
            raise ValueError("Invalid value for argument score_mode. Expected one of "
                             f"{{'dot', 'concat'}}. Received: score_mode={score_mode}")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"{type(self).__name__}: `dropout` must be in [0, 1). Received: "
                             f"dropout={dropout}")
        self.use_scale = use_scale
        self.score_mode = score_mode
        self.dropout = float(dropout)
        self.seed = seed
        self._rng = None if seed is None else np.random.default_rng(seed)
        self.supports_masking = True

    def _validate_inputs(self, inputs, mask=None):
        name = type(self).__name__
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(f"{name} layer must be called on a list of inputs, namely "
                             f"[query, value] or [query, value, key]. Received: inputs={inputs}.")
        if len(inputs) < 2 or len(inputs) > 3:
            raise ValueError(f"{name} layer accepts inputs list of length 2 or 3, namely "
                             "[query, value] or [query, value, key]. Received length: "
                             f"{len(inputs)}.")
        if mask is not None:
            if not isinstance(mask, (list, tuple)):
                raise ValueError(f"{name} layer mask must be a list, namely [query_mask, "
                                 f"value_mask]. Received: mask={mask}.")
            if len(mask) < 2 or len(mask) > 3:
                raise ValueError(f"{name} layer accepts mask list of length 2 or 3. "
                                 f"Received: mask={mask}.")

    def build(self, input_shape):
        self._validate_inputs(input_shape)
        self.scale = None
        self.concat_score_weight = None
        if self.use_scale:
            self.scale = self.add_weight(name="scale", shape=(), initializer="ones")
        if self.score_mode == "concat":
            self.concat_score_weight = self.add_weight(name="concat_score_weight", shape=(),
                                                       initializer="ones")
        self.built = True

    def _calculate_scores(self, query, key):
        if self.score_mode == "dot":
            scores = ops.matmul(query, ops.swapaxes(key, -2, -1))
            if self.scale is not None:
                scores = ops.multiply(scores, self.scale)
            return scores
        q = ops.expand_dims(query, -2)
        k = ops.expand_dims(key, -3)
        s = q + k if self.scale is None else self.scale * (q + k)
        return self.concat_score_weight * ops.sum(ops.tanh(s), axis=-1)

    def _apply_scores(self, scores, value, scores_mask=None, training=False):
        if scores_mask is not None:
            pad = np.logical_not(scores_mask)
            if pad.ndim == 2:
                pad = pad[:, None, :]
            scores = ops.where(pad, scores - np.float32(1e9), scores)
        weights = ops.softmax(scores, axis=-1)
        if training and self.dropout > 0:
            from fastnet import random as _random

            weights = _random.dropout(weights, self.dropout,
                                      seed=None if self._rng is None else self._seed_gen())
        return ops.matmul(weights, value), weights

    def _seed_gen(self):
        return int(self._rng.integers(0, 2**31 - 1))

    def call(self, inputs, mask=None, training=False, return_attention_scores=False,
             use_causal_mask=False):
        self._validate_inputs(inputs, mask)
        q, v = inputs[0], inputs[1]
        k = inputs[2] if len(inputs) > 2 else v
        q_mask = _value(mask[0]) if mask else None
        v_mask = _value(mask[1]) if mask else None
        scores = self._calculate_scores(q, k)
        scores_mask = None if v_mask is None else v_mask.astype(bool)
        if use_causal_mask:
            tq, tv = scores.shape[-2], scores.shape[-1]
            causal = np.tril(np.ones((1, tq, tv), dtype=bool))
            scores_mask = causal if scores_mask is None else (
                np.expand_dims(scores_mask, -2) & causal)
        out, weights = self._apply_scores(scores, v, scores_mask, training)
        if q_mask is not None:
            out = ops.where(np.expand_dims(q_mask.astype(bool), -1), out,
                            np.zeros((), np.float32))
        if return_attention_scores:
            return out, weights
        return out

    def compute_mask(self, inputs, mask=None):
        if mask is None or mask[0] is None:
            return None
        return mask[0]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0][:-1]) + (input_shape[1][-1],)

    def _output_spec(self, args, kwargs):
        from fastnet.layers.layer import _Spec

        inputs = args[0]
        q, v = inputs[0], inputs[1]
        k = inputs[2] if len(inputs) > 2 else v
        out = _Spec(self.compute_output_shape([q.shape, v.shape]), self._output_dtype(q))
        if kwargs.get("return_attention_scores"):
            return out, _Spec(tuple(q.shape[:-1]) + (k.shape[-2],), out.dtype)
        return out

    def get_config(self):
        return {**super().get_config(), "use_scale": self.use_scale,
                "score_mode": self.score_mode, "dropout": self.dropout, "seed": self.seed}

    @classmethod
    def from_config(cls, config):
        return cls(**_standard_config(config))


class AdditiveAttention(Attention):
    """Bahdanau-style attention: scores ``sum(scale * tanh(q + k), -1)``; ``use_scale``
    (default True) gives a trainable per-feature scale of shape (dim,)."""

    def __init__(self, use_scale=True, dropout=0.0, **kwargs):
        super().__init__(use_scale=use_scale, dropout=dropout, **kwargs)

    def build(self, input_shape):
        self._validate_inputs(input_shape)
        dim = input_shape[0][-1]
        self.scale = None
        if self.use_scale:
            self.scale = self.add_weight(name="scale", shape=(dim,),
                                         initializer="glorot_uniform")
        self.built = True

    def _calculate_scores(self, query, key):
        q = ops.expand_dims(query, -2)
        k = ops.expand_dims(key, -3)
        t = ops.tanh(q + k)
        if self.scale is not None:
            t = self.scale * t
        return ops.sum(t, axis=-1)

    def get_config(self):
        config = super().get_config()
        del config["score_mode"]
        return config
