"""Wrapper (the base of layers that wrap one layer), SpectralNormalization and
ReversibleEmbedding, as keras.layers."""

from __future__ import annotations

import numpy as np

from fastnet import initializers as initializers_mod
from fastnet import ops
from fastnet.backend.symbolic import KerasTensor
from fastnet.layers.core import Embedding
from fastnet.layers.layer import InputSpec, Layer


def _inner_layer(config, custom_objects, wrapper):
    """The wrapped layer of a Wrapper config (built from its build_config when given)."""
    from fastnet.saving import serialization

    layer = config.get("layer")
    if isinstance(layer, Layer):
        return layer
    if not isinstance(layer, dict):
        raise ValueError(f"{wrapper}: the config has no `layer` to wrap (got {layer!r})")
    inner = serialization.deserialize_layer(layer, custom_objects)
    build = layer.get("build_config")
    if build and build.get("input_shape") is not None and not inner.built:
        inner.build_from_config(build)
    return inner


class Wrapper(Layer):
    """Base class of the layers that wrap another layer (``self.layer``); subclasses write
    ``call``. Its config holds the wrapped layer's config under ``"layer"``."""

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError(f"Layer {layer} supplied to Wrapper isn't a supported layer type. "
                             "Please ensure wrapped layer is a valid Keras layer.")
        super().__init__(**kwargs)
        self.layer = layer

    def build(self, input_shape=None):
        if not self.layer.built:
            self.layer._maybe_build(input_shape)
        self.built = True

    def get_config(self):
        from fastnet.saving import serialization_lib

        return {**super().get_config(),
                "layer": serialization_lib.serialize_keras_object(self.layer)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        layer = _inner_layer(config, custom_objects, cls.__name__)
        config.pop("layer", None)
        return cls(layer, **config)


def _l2_normalize(v, eps=1e-7):
    """Keras's ops.normalize(v, axis=None): v * min(rsqrt(sum(v**2)), 1 / eps)."""
    s = float(np.sum(np.square(v, dtype=np.float64)))
    inv = 1.0 / eps if s == 0 else min(1.0 / np.sqrt(s), 1.0 / eps)
    return v * inv


class SpectralNormalization(Wrapper):
    """Divides the wrapped layer's ``kernel`` (or ``embeddings``) by its largest singular
    value, estimated by ``power_iterations`` steps of power iteration per training call
    (Miyato et al., 2018). As Keras 3, in training the normalized kernel is written into
    the wrapped layer's variable and the running vector ``vector_u`` (non-trainable) is
    updated; at inference the layer runs with the kernel as it is."""

    def __init__(self, layer, power_iterations=1, **kwargs):
        super().__init__(layer, **kwargs)
        if isinstance(power_iterations, bool) or not isinstance(
                power_iterations, (int, np.integer)) or power_iterations <= 0:
            raise ValueError("`power_iterations` should be greater than zero. Received: "
                             f"`power_iterations={power_iterations}`")
        self.power_iterations = int(power_iterations)

    def build(self, input_shape):
        super().build(input_shape)
        self.input_spec = InputSpec(min_ndim=1, axes={-1: input_shape[-1]})
        if hasattr(self.layer, "kernel") and self.layer.kernel is not None:
            kernel = self.layer.kernel
        elif hasattr(self.layer, "embeddings"):
            kernel = self.layer.embeddings
        else:
            raise ValueError(f"{type(self.layer).__name__} object has no attribute 'kernel' "
                             "nor 'embeddings'")
        self._kernel = kernel
        # as Keras: the wrapper holds the kernel as its own variable too (its .keras file
        # lists [kernel, vector_u] under the wrapper, then the wrapped layer's variables)
        self.kernel = kernel
        self.kernel_shape = tuple(kernel.shape)
        self.vector_u = self.add_weight(
            shape=(1, self.kernel_shape[-1]), name="vector_u", trainable=False,
            initializer=initializers_mod.TruncatedNormal(stddev=0.02))
        self.built = True

    @property
    def weights(self):
        """Keras's order: the wrapper's own variables (kernel, vector_u), then the wrapped
        layer's others (so ``set_weights(keras_layer.get_weights())`` lines up)."""
        if not self.built:
            return super().weights
        out = [self._kernel, self.vector_u]
        out += [w for w in self.layer.weights if all(w is not o for o in out)]
        return out

    def normalized_weights(self):
        """(new vector_u, normalized kernel) as numpy, from the current values."""
        w = np.asarray(self._kernel.numpy(), np.float32).reshape(-1, self.kernel_shape[-1])
        u = np.asarray(self.vector_u.numpy(), np.float32)
        for _ in range(self.power_iterations):
            v = _l2_normalize(u @ w.T)
            u = _l2_normalize(v @ w)
        sigma = float(((v @ w) @ u.T).item())
        kernel = (w / np.float32(sigma)).reshape(self.kernel_shape)
        return u.astype(np.float32), kernel.astype(np.float32)

    def call(self, inputs, training=False):
        if training and np.any(self._kernel.numpy() != 0):
            u, kernel = self.normalized_weights()
            self.vector_u.assign(u)
            self._kernel.assign(kernel)
        out = self.layer(inputs)
        x = ops.convert_to_tensor(inputs)
        return ops.cast(out, x.dtype) if out.dtype != x.dtype else out

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self):
        return {**super().get_config(), "power_iterations": self.power_iterations}


class ReversibleEmbedding(Embedding):
    """An Embedding that also maps vectors back to logits over the vocabulary:
    ``layer(ids)`` embeds, ``layer(vectors, reverse=True)`` is ``vectors @ embeddings.T``
    (``tie_weights=True``) or ``@ reverse_embeddings`` (its own (output_dim, input_dim)
    weight), optionally soft-capped: ``tanh(logits / cap) * cap``."""

    def __init__(self, input_dim, output_dim, tie_weights=True, embeddings_initializer="uniform",
                 embeddings_regularizer=None, embeddings_constraint=None, mask_zero=False,
                 reverse_dtype=None, logit_soft_cap=None, **kwargs):
        super().__init__(input_dim, output_dim, embeddings_initializer=embeddings_initializer,
                         embeddings_regularizer=embeddings_regularizer,
                         embeddings_constraint=embeddings_constraint, mask_zero=mask_zero,
                         **kwargs)
        self.tie_weights = bool(tie_weights)
        if reverse_dtype is not None and reverse_dtype not in ("float32", "float64"):
            raise ValueError(f"ReversibleEmbedding {self.name!r}: `reverse_dtype` must be None, "
                             f"'float32' or 'float64'. Received: reverse_dtype={reverse_dtype!r}")
        self.reverse_dtype = reverse_dtype
        if logit_soft_cap is not None and (isinstance(logit_soft_cap, bool) or not isinstance(
                logit_soft_cap, (int, float)) or logit_soft_cap <= 0):
            raise ValueError(f"ReversibleEmbedding {self.name!r}: `logit_soft_cap` must be a "
                             f"positive number or None. Received: "
                             f"logit_soft_cap={logit_soft_cap!r}")
        self.logit_soft_cap = logit_soft_cap

    def build(self, input_shape=None):
        super().build(input_shape)
        if not self.tie_weights:
            self.reverse_embeddings = self.add_weight(
                shape=(self.output_dim, self.input_dim), initializer=self.embeddings_initializer,
                name="reverse_embeddings")
        self.built = True

    def call(self, inputs, reverse=False):
        if not reverse:
            return super().call(inputs)
        x = ops.convert_to_tensor(inputs)
        kernel = ops.transpose(self.embeddings) if self.tie_weights else self.reverse_embeddings
        if x.shape[-1] != self.output_dim:
            raise ValueError(f"ReversibleEmbedding {self.name!r}: reverse=True expects vectors of "
                             f"size output_dim={self.output_dim}; received input shape "
                             f"{tuple(x.shape)}")
        if self.reverse_dtype is not None:
            x, kernel = ops.cast(x, self.reverse_dtype), ops.cast(kernel, self.reverse_dtype)
        elif x.dtype != kernel.dtype:
            x = ops.cast(x, kernel.dtype)
        logits = ops.matmul(x, kernel)
        if self.logit_soft_cap is not None:
            cap = self.logit_soft_cap
            logits = ops.tanh(logits / cap) * cap
        return logits

    def compute_mask(self, inputs, mask=None):
        # embedding ids: Embedding's mask (mask_zero); vectors given for reverse=True: none
        dtype = str(getattr(inputs, "dtype", np.asarray(inputs).dtype))
        if "int" not in dtype:
            return None
        return super().compute_mask(inputs, mask)

    def compute_output_shape(self, input_shape, reverse=False):
        shape = list(input_shape)
        if reverse:
            shape[-1] = self.input_dim
        else:
            shape.append(self.output_dim)
        return tuple(shape)

    def compute_output_spec(self, inputs, reverse=False):
        dtype = (self.reverse_dtype or "float32") if reverse else "float32"
        return KerasTensor(self.compute_output_shape(inputs.shape, reverse), dtype=dtype)

    def get_config(self):
        return {**super().get_config(), "tie_weights": self.tie_weights,
                "reverse_dtype": self.reverse_dtype, "logit_soft_cap": self.logit_soft_cap}


__all__ = ["Wrapper", "SpectralNormalization", "ReversibleEmbedding"]
