"""Regularization layers beside Dropout (core.py), as keras.layers: ActivityRegularization,
GaussianNoise, GaussianDropout, AlphaDropout, SpatialDropout1D/2D/3D.

The noise layers act only in training (``training=True``, what ``fit`` passes) and are the
identity otherwise. ``seed=`` gives a layer its own SeedGenerator (a reproducible sequence of
draws, restored with the layer's variables); without it the draws come from fastnet.random's
global stream, which ``fastnet.utils.set_random_seed`` resets. The noise is a constant of
the step: gradients flow through the arithmetic around it.
"""

from __future__ import annotations

import math

import numpy as np

from fastnet import ops
from fastnet import random as random_mod
from fastnet import regularizers as regularizers_mod
from fastnet.layers.argument_validation import check_number
from fastnet.layers.layer import InputSpec, Layer

# SELU's constants (keras.layers.AlphaDropout's values)
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _check_unit_interval(layer, value, name):
    check_number(value, name, layer)
    if not 0 <= value <= 1:
        raise ValueError(f"{type(layer).__name__} {layer.name!r}: invalid value received for "
                         f"argument `{name}`. Expected a float value between 0 and 1. "
                         f"Received: {name}={value}")
    return value


class _NoiseLayer(Layer):
    """Seeding shared by the noise layers: a SeedGenerator when seeded, as Keras."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise ValueError(f"{type(self).__name__} {self.name!r}: `seed` must be an integer "
                             f"or None. Received: seed={seed!r}")
        self.seed = seed
        self._seed_generator = None if seed is None else random_mod.SeedGenerator(seed)
        self.supports_masking = True

    def _rng(self):
        return random_mod._rng(self._seed_generator)

    def _draw_shape(self, x, noise_shape=None):
        if noise_shape is None:
            return tuple(x.shape)
        if len(noise_shape) != x.ndim:
            raise ValueError(f"{type(self).__name__} {self.name!r}: `noise_shape` "
                             f"{tuple(noise_shape)} must have one entry per input axis; the "
                             f"input has shape {tuple(x.shape)}")
        return tuple(s if n is None else int(n) for s, n in zip(x.shape, noise_shape))

    def compute_output_shape(self, input_shape):
        return input_shape


class ActivityRegularization(Layer):
    """The identity, adding ``l1 * sum(|x|) + l2 * sum(x**2)`` (over the batch size) to
    the layer's losses."""

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        kwargs.pop("activity_regularizer", None)  # Keras's configs never carry it here
        for name, value in (("l1", l1), ("l2", l2)):
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) \
                    or value < 0:
                raise ValueError(f"ActivityRegularization: `{name}` must be a non-negative "
                                 f"number. Received: {name}={value!r}")
        super().__init__(activity_regularizer=regularizers_mod.L1L2(l1=l1, l2=l2), **kwargs)
        self.l1 = l1
        self.l2 = l2
        self.supports_masking = True
        self.built = True

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "l1": self.l1, "l2": self.l2}


class GaussianNoise(_NoiseLayer):
    """Adds zero-centred Gaussian noise of standard deviation ``stddev`` in training."""

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.stddev = _check_unit_interval(self, stddev, "stddev")
        self.built = True

    def call(self, inputs, training=False):
        if training and self.stddev > 0:
            x = ops.convert_to_tensor(inputs)
            noise = self._rng().normal(0.0, self.stddev, size=tuple(x.shape))
            return ops.add(x, noise.astype(x.dtype))
        return inputs

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}


class GaussianDropout(_NoiseLayer):
    """Multiplies by 1-centred Gaussian noise of standard deviation
    ``sqrt(rate / (1 - rate))`` in training."""

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.rate = _check_unit_interval(self, rate, "rate")
        self.built = True

    def call(self, inputs, training=False):
        if training and self.rate > 0:
            x = ops.convert_to_tensor(inputs)
            if self.rate >= 1:
                raise ValueError(f"GaussianDropout {self.name!r}: `rate` must be below 1 in "
                                 f"training (the noise's standard deviation is "
                                 f"sqrt(rate / (1 - rate))). Received: rate={self.rate}")
            stddev = math.sqrt(self.rate / (1.0 - self.rate))
            noise = self._rng().normal(1.0, stddev, size=tuple(x.shape))
            return ops.multiply(x, noise.astype(x.dtype))
        return inputs

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


class AlphaDropout(_NoiseLayer):
    """Dropout for SELU networks: dropped units become SELU's negative saturation value and
    an affine map ``a * x + b`` keeps the inputs' mean and variance (Keras's formula)."""

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.rate = _check_unit_interval(self, rate, "rate")
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.built = True

    def call(self, inputs, training=False):
        if training and self.rate > 0:
            x = ops.convert_to_tensor(inputs)
            shape = self._draw_shape(x, self.noise_shape)
            kept = (self._rng().uniform(0.0, 1.0, size=shape) >= self.rate).astype(np.float64)
            alpha_p = -_SELU_ALPHA * _SELU_SCALE
            a = ((1 - self.rate) * (1 + self.rate * alpha_p ** 2)) ** -0.5
            b = -a * alpha_p * self.rate
            # a * (x * kept + alpha_p * (1 - kept)) + b, with the constants folded
            scale = np.asarray(a * kept, x.dtype)
            shift = np.asarray(a * alpha_p * (1 - kept) + b, x.dtype)
            return ops.add(ops.multiply(x, scale), shift)
        return inputs

    def get_config(self):
        noise_shape = None if self.noise_shape is None else list(self.noise_shape)
        return {**super().get_config(), "rate": self.rate, "seed": self.seed,
                "noise_shape": noise_shape}


class _SpatialDropout(_NoiseLayer):
    """Dropout of whole feature maps: one keep/drop draw per (sample, channel)."""

    rank = 1

    def __init__(self, rate, data_format=None, seed=None, name=None, dtype=None, **kwargs):
        super().__init__(seed=seed, name=name, dtype=dtype, **kwargs)
        self.rate = _check_unit_interval(self, rate, "rate")
        if self.rank == 1:
            self.data_format = "channels_last"
        else:
            from fastnet.layers.core import _data_format

            self.data_format = _data_format(data_format, self)
        self.input_spec = InputSpec(ndim=self.rank + 2)
        self.built = True

    def _noise_shape(self, shape):
        ones = (1,) * self.rank
        if self.data_format == "channels_first":
            return (shape[0], shape[1]) + ones
        return (shape[0],) + ones + (shape[-1],)

    def call(self, inputs, training=False):
        if training and self.rate > 0:
            x = ops.convert_to_tensor(inputs)
            if self.rate >= 1.0:
                return ops.multiply(x, np.zeros((), x.dtype))
            keep = self._rng().random(self._noise_shape(x.shape)) >= self.rate
            return ops.multiply(x, (keep / (1.0 - self.rate)).astype(x.dtype))
        return inputs

    def get_config(self):
        # Keras's SpatialDropout configs hold exactly these (its constructors take no
        # other keyword), so the files load in Keras
        return {"rate": self.rate, "seed": self.seed, "name": self.name, "dtype": self.dtype}


class SpatialDropout1D(_SpatialDropout):
    """Drops whole channels of a (batch, steps, channels) input."""

    rank = 1

    def __init__(self, rate, seed=None, name=None, dtype=None, **kwargs):
        super().__init__(rate, seed=seed, name=name, dtype=dtype, **kwargs)


class SpatialDropout2D(_SpatialDropout):
    """Drops whole 2-D feature maps of an image batch."""

    rank = 2

    def __init__(self, rate, data_format=None, seed=None, name=None, dtype=None, **kwargs):
        super().__init__(rate, data_format=data_format, seed=seed, name=name, dtype=dtype,
                         **kwargs)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


class SpatialDropout3D(SpatialDropout2D):
    """Drops whole 3-D feature maps of a volume batch."""

    rank = 3


__all__ = ["ActivityRegularization", "GaussianNoise", "GaussianDropout", "AlphaDropout",
           "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D"]
