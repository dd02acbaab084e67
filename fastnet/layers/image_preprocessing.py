"""Image resizing and augmentation layers, as keras.layers: Resizing, RandomCrop,
RandomZoom, RandomRotation, RandomTranslation, RandomContrast, RandomBrightness.

The pixel work is fastnet.ops.image (the csrc/image resize and projective-transform
kernels), so the layers are differentiable w.r.t. their inputs. The random layers are
active with ``training=True`` (what fit passes) and in a direct call without a training
flag (Keras's default), and the identity with ``training=False`` (predict / evaluate).
``seed=`` fixes a layer's own stream; without it the draws come from fastnet.random's
global generator, which ``fastnet.utils.set_random_seed`` resets. Transform matrices are
Keras's (``_affine_matrix`` mirrors BaseImagePreprocessingLayer._compute_affine_matrix).
"""

from __future__ import annotations

import math

import numpy as np

from fastnet import ops
from fastnet.layers.argument_validation import check_int
from fastnet.layers.layer import Layer
from fastnet.ops import image as _img

_FILL_MODES = ("reflect", "wrap", "constant", "nearest")
_INTERPOLATIONS = ("nearest", "bilinear")


def _data_format(data_format):
    return _img._data_format(data_format)


def _config_dtype(config):
    config = dict(config)
    if isinstance(config.get("dtype"), dict):
        config["dtype"] = config["dtype"].get("config", {}).get("name")
    return config


def _hw_axes(data_format, ndim, what):
    if ndim not in (3, 4):
        raise ValueError(f"{what}: expected images of rank 3 (H, W, C) or 4 (N, H, W, C), got "
                         f"rank {ndim}")
    return (ndim - 3, ndim - 2) if data_format == "channels_last" else (ndim - 2, ndim - 1)


def _as_float(layer, inputs):
    x = ops.convert_to_tensor(inputs)
    if x.dtype != layer.dtype:
        x = ops.cast(x, layer.dtype)
    return x


class _RandomImageLayer(Layer):
    """Shared seeding / training-flag handling of the random image layers."""

    def __init__(self, seed=None, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.data_format = _data_format(data_format)
        self._seed_rng = None if seed is None else np.random.default_rng(seed)

    def _rng(self):
        from fastnet import random as _random

        return self._seed_rng if self._seed_rng is not None else _random._rng(None)

    @staticmethod
    def _training(training):
        return True if training is None else bool(training)

    def _shape_info(self, x, what):
        ha, wa = _hw_axes(self.data_format, x.ndim, what)
        batch = x.shape[0] if x.ndim == 4 else 1
        return batch, x.shape[ha], x.shape[wa]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    @classmethod
    def from_config(cls, config):
        return cls(**_config_dtype(config))


def _check_fill_interp(layer, fill_mode, interpolation):
    if fill_mode not in _FILL_MODES:
        raise NotImplementedError(f"{type(layer).__name__}: unknown `fill_mode` {fill_mode!r}. "
                                  f"Expected of one {_FILL_MODES}.")
    if interpolation not in _INTERPOLATIONS:
        raise NotImplementedError(f"{type(layer).__name__}: unknown `interpolation` "
                                  f"{interpolation!r}. Expected of one {_INTERPOLATIONS}.")


def _factor_pair(factor, name, layer, lo_open=False, bounds=(-1.0, 1.0)):
    """(lower, upper) from a number f (-> (-|f|, |f|)) or a pair, each in ``bounds``
    (the lower bound excluded when ``lo_open``, as RandomZoom)."""
    def check(v):
        bad = v > bounds[1] or (v <= bounds[0] if lo_open else v < bounds[0])
        if bad:
            raise ValueError(f"{type(layer).__name__}: `{name}` must be a float or a pair of "
                             f"floats in the range [{bounds[0]}, {bounds[1]}]. Received: "
                             f"{name}={factor}")
    if isinstance(factor, (tuple, list)):
        if len(factor) != 2:
            raise ValueError(f"{type(layer).__name__}: `{name}` must be a float or a pair of "
                             f"floats. Received: {name}={factor}")
        check(float(factor[0]))
        check(float(factor[1]))
        lower, upper = sorted(float(f) for f in factor)
        return lower, upper
    if isinstance(factor, (int, float)) and not isinstance(factor, bool):
        check(float(factor))
        f = abs(float(factor))
        return -f, f
    raise ValueError(f"{type(layer).__name__}: `{name}` must be a float or a pair of floats. "
                     f"Received: {name}={factor}")


def _affine_matrix(angle_deg, tx, ty, scale, height, width):
    """Keras's rotation/scale/translation matrix about the image center, (batch, 8)."""
    angle = np.asarray(angle_deg, np.float64) * (math.pi / 180.0)
    cx, cy = 0.5 * (width - 1), 0.5 * (height - 1)
    cos, sin = np.cos(angle), np.sin(angle)
    a0, a1 = scale * cos, scale * -sin
    a2 = tx + cx - cx * a0 - cy * a1
    b0, b1 = scale * sin, scale * cos
    b2 = ty + cy - cx * b0 - cy * b1
    zeros = np.zeros_like(a0)
    return np.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1).astype(np.float32)


# ---- Resizing ------------------------------------------------------------------------------

class Resizing(Layer):
    """Resizes images to ``(height, width)`` (keras.layers.Resizing): 'bilinear',
    'nearest', 'bicubic' or 'area'; ``crop_to_aspect_ratio`` crops the largest central
    box of the target aspect ratio first, ``pad_to_aspect_ratio`` pads to it with
    ``fill_value``."""

    def __init__(self, height, width, interpolation="bilinear", crop_to_aspect_ratio=False,
                 pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0, antialias=False,
                 data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.height = check_int(height, "height", self)
        self.width = check_int(width, "width", self)
        if interpolation not in _img.RESIZE_INTERPOLATIONS:
            raise ValueError(f"Resizing: invalid `interpolation` {interpolation!r}; expected one "
                             f"of {_img.RESIZE_INTERPOLATIONS}")
        if crop_to_aspect_ratio and pad_to_aspect_ratio:
            raise ValueError("Resizing: only one of `crop_to_aspect_ratio` and "
                             "`pad_to_aspect_ratio` can be True")
        if fill_mode != "constant":
            raise ValueError(f"Resizing: only fill_mode='constant' is supported, got {fill_mode!r}")
        self.interpolation = interpolation
        self.crop_to_aspect_ratio = bool(crop_to_aspect_ratio)
        self.pad_to_aspect_ratio = bool(pad_to_aspect_ratio)
        self.fill_mode = fill_mode
        self.fill_value = fill_value
        self.antialias = bool(antialias)
        self.data_format = _data_format(data_format)

    def call(self, inputs):
        x = _as_float(self, inputs)
        _hw_axes(self.data_format, x.ndim, "Resizing")
        return _img.resize(x, (self.height, self.width), interpolation=self.interpolation,
                           antialias=self.antialias, crop_to_aspect_ratio=self.crop_to_aspect_ratio,
                           pad_to_aspect_ratio=self.pad_to_aspect_ratio, fill_mode=self.fill_mode,
                           fill_value=self.fill_value, data_format=self.data_format)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        ha, wa = _hw_axes(self.data_format, len(shape), "Resizing")
        shape[ha], shape[wa] = self.height, self.width
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width,
                "interpolation": self.interpolation,
                "crop_to_aspect_ratio": self.crop_to_aspect_ratio,
                "pad_to_aspect_ratio": self.pad_to_aspect_ratio, "fill_mode": self.fill_mode,
                "fill_value": self.fill_value, "antialias": self.antialias,
                "data_format": self.data_format}

    @classmethod
    def from_config(cls, config):
        return cls(**_config_dtype(config))


# ---- RandomCrop ------------------------------------------------------------------------------

class RandomCrop(_RandomImageLayer):
    """Crops a random ``height x width`` window (one offset per batch, as Keras) in
    training; at inference, and in training when the input is not larger than the target,
    crops the largest central box of the target's aspect ratio and resizes it (bilinear)
    to the target, as Keras documents."""
    _convert_input_args = False  # raw data in any dtype, as Keras

    def __init__(self, height, width, seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.height = check_int(height, "height", self)
        self.width = check_int(width, "width", self)

    def call(self, inputs, training=True):
        x = _as_float(self, inputs)
        _, h, w = self._shape_info(x, "RandomCrop")
        if self._training(training) and h > self.height and w > self.width:
            rng = self._rng()
            top = int(rng.uniform(0, h - self.height + 1))
            left = int(rng.uniform(0, w - self.width + 1))
            top, left = min(top, h - self.height), min(left, w - self.width)
            return _img.crop_images(x, top, left, target_height=self.height,
                                    target_width=self.width, data_format=self.data_format)
        if (h, w) == (self.height, self.width):
            return x
        return _img.resize(x, (self.height, self.width), crop_to_aspect_ratio=True,
                           data_format=self.data_format)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        ha, wa = _hw_axes(self.data_format, len(shape), "RandomCrop")
        shape[ha], shape[wa] = self.height, self.width
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width,
                "seed": self.seed, "data_format": self.data_format}


# ---- affine augmentations ---------------------------------------------------------------------

class _AffineLayer(_RandomImageLayer):
    def __init__(self, fill_mode, interpolation, seed, fill_value, data_format, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        _check_fill_interp(self, fill_mode, interpolation)
        self.fill_mode = fill_mode
        self.interpolation = interpolation
        self.fill_value = fill_value

    def call(self, inputs, training=True):
        x = _as_float(self, inputs)
        batch, h, w = self._shape_info(x, type(self).__name__)
        if not self._training(training):
            return x
        t = self._transforms(batch, h, w)
        if x.ndim == 3:
            t = t[0]
        return _img.affine_transform(x, t, interpolation=self.interpolation,
                                     fill_mode=self.fill_mode, fill_value=self.fill_value,
                                     data_format=self.data_format)

    def _common_config(self):
        return {"fill_mode": self.fill_mode, "interpolation": self.interpolation,
                "seed": self.seed, "fill_value": self.fill_value,
                "data_format": self.data_format}


class RandomRotation(_AffineLayer):
    """Rotates each image by a random angle in ``factor * 2 pi`` (a number f: [-f, f];
    a pair: [lower, upper], fractions of a full turn) about its center."""

    def __init__(self, factor, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.factor = factor
        self._lower, self._upper = _factor_pair(factor, "factor", self)

    def _transforms(self, batch, h, w):
        angle = self._rng().uniform(self._lower * 360.0, self._upper * 360.0, size=batch)
        return _affine_matrix(angle, 0.0, 0.0, 1.0, h, w)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, **self._common_config()}


class RandomZoom(_AffineLayer):
    """Zooms each image by a random factor: ``height_factor`` f gives a vertical zoom
    drawn from [1 - f, 1 + f] (a pair: [1 + lower, 1 + upper]); positive values zoom out.
    ``width_factor=None`` keeps the aspect ratio (the height's zoom for both axes)."""

    def __init__(self, height_factor, width_factor=None, fill_mode="reflect",
                 interpolation="bilinear", seed=None, fill_value=0.0, data_format=None,
                 **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.height_factor = height_factor
        self.width_factor = width_factor
        self._h = _factor_pair(height_factor, "height_factor", self, lo_open=True)
        self._w = None if width_factor is None else \
            _factor_pair(width_factor, "width_factor", self, lo_open=True)

    def _transforms(self, batch, h, w):
        rng = self._rng()
        hz = rng.uniform(1.0 + self._h[0], 1.0 + self._h[1], size=batch)
        wz = hz if self._w is None else rng.uniform(1.0 + self._w[0], 1.0 + self._w[1],
                                                    size=batch)
        zeros = np.zeros(batch)
        return np.stack([wz, zeros, (w - 1.0) / 2.0 * (1.0 - wz), zeros, hz,
                         (h - 1.0) / 2.0 * (1.0 - hz), zeros, zeros], axis=1).astype(np.float32)

    def get_config(self):
        return {**super().get_config(), "height_factor": self.height_factor,
                "width_factor": self.width_factor, **self._common_config()}


class RandomTranslation(_AffineLayer):
    """Shifts each image by random fractions of its height and width (a number f:
    [-f, f]; a pair: [lower, upper]; positive moves content down / right)."""

    def __init__(self, height_factor, width_factor, fill_mode="reflect",
                 interpolation="bilinear", seed=None, fill_value=0.0, data_format=None,
                 **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.height_factor = height_factor
        self.width_factor = width_factor
        self._h = _factor_pair(height_factor, "height_factor", self)
        self._w = _factor_pair(width_factor, "width_factor", self)

    def _transforms(self, batch, h, w):
        rng = self._rng()
        dy = rng.uniform(self._h[0], self._h[1], size=batch) * h
        dx = rng.uniform(self._w[0], self._w[1], size=batch) * w
        ones, zeros = np.ones(batch), np.zeros(batch)
        return np.stack([ones, zeros, -dx, zeros, ones, -dy, zeros, zeros],
                        axis=1).astype(np.float32)

    def get_config(self):
        return {**super().get_config(), "height_factor": self.height_factor,
                "width_factor": self.width_factor, **self._common_config()}


# ---- colour ------------------------------------------------------------------------------------

def _value_range(layer, value_range):
    if not isinstance(value_range, (tuple, list)) or len(value_range) != 2:
        raise ValueError(f"{type(layer).__name__}: `value_range` must be a list or tuple of two "
                         f"numbers (low, high). Received: value_range={value_range}")
    return sorted(float(v) for v in value_range)


class RandomContrast(_RandomImageLayer):
    """Per image, ``(x - mean) * c + mean`` (mean over height and width per channel) with
    c drawn from [1 - lower, 1 + upper] (a number f: lower = upper = f, in [0, 1]), clipped
    to ``value_range``."""

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        data_format = kwargs.pop("data_format", None)
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = factor
        if isinstance(factor, (tuple, list)):
            if len(factor) != 2:
                raise ValueError(f"RandomContrast: `factor` must be a number or a pair, got "
                                 f"factor={factor}")
            lower, upper = (float(f) for f in factor)
        elif isinstance(factor, (int, float)) and not isinstance(factor, bool):
            lower = upper = float(factor)
        else:
            raise ValueError(f"RandomContrast: `factor` must be a number or a pair, got "
                             f"factor={factor}")
        if lower < 0 or upper < 0 or lower > 1:
            raise ValueError("RandomContrast: `factor` must be non-negative with the lower "
                             f"bound at most 1. Received: factor={factor}")
        self._lower, self._upper = lower, upper
        self.value_range = tuple(value_range) if isinstance(value_range, (tuple, list)) \
            else value_range
        self._range = _value_range(self, value_range)

    def call(self, inputs, training=True):
        x = _as_float(self, inputs)
        batch, _, _ = self._shape_info(x, "RandomContrast")
        if not self._training(training):
            return x
        c = self._rng().uniform(1.0 - self._lower, 1.0 + self._upper, size=batch)
        c = c.astype(x.dtype).reshape((batch, 1, 1, 1) if x.ndim == 4 else (1, 1, 1))
        ha, wa = _hw_axes(self.data_format, x.ndim, "RandomContrast")
        mean = ops.mean(x, axis=(ha, wa), keepdims=True)
        out = ops.add(ops.multiply(ops.subtract(x, mean), c), mean)
        return ops.clip(out, self._range[0], self._range[1])

    def get_config(self):
        return {**super().get_config(), "factor": self.factor,
                "value_range": list(self.value_range), "seed": self.seed,
                "data_format": self.data_format}


class RandomBrightness(_RandomImageLayer):
    """Adds one random delta per image, ``factor`` (a number f: [-f, f]; a pair: [lower,
    upper], in [-1, 1]) times the width of ``value_range``, then clips to the range."""

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        data_format = kwargs.pop("data_format", None)
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = factor
        self._lower, self._upper = _factor_pair(factor, "factor", self)
        self.value_range = tuple(value_range) if isinstance(value_range, (tuple, list)) \
            else value_range
        self._range = _value_range(self, value_range)

    def call(self, inputs, training=True):
        x = _as_float(self, inputs)
        batch, _, _ = self._shape_info(x, "RandomBrightness")
        if not self._training(training):
            return x
        delta = self._rng().uniform(self._lower, self._upper, size=batch)
        delta = (delta * (self._range[1] - self._range[0])).astype(x.dtype)
        delta = delta.reshape((batch, 1, 1, 1) if x.ndim == 4 else (1, 1, 1))
        return ops.clip(ops.add(x, delta), self._range[0], self._range[1])

    def get_config(self):
        return {**super().get_config(), "factor": self.factor,
                "value_range": list(self.value_range), "seed": self.seed,
                "data_format": self.data_format}


__all__ = ["Resizing", "RandomCrop", "RandomRotation", "RandomZoom", "RandomTranslation",
           "RandomContrast", "RandomBrightness"]
