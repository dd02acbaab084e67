"""Colour and mixing augmentation layers, as keras.layers: RandomGrayscale, RandomInvert,
Solarization, RandomPosterization, RandomColorDegeneration, AutoContrast, Equalization,
RandomSaturation, RandomHue, RandomSharpness, RandomGaussianBlur, RandomColorJitter,
MixUp, CutMix.

As Keras's image preprocessing layers they take images of rank 3 (one image) or 4 (a
batch), or a dict ``{"images": ..., "labels": ...}`` (MixUp and CutMix mix the labels as
they mix the images; the others pass labels through), and act in training (``fit``, or a
direct call without ``training``) and are the identity at inference, except AutoContrast
which Keras applies always. The draws are Keras's distributions (one per image unless
stated); with ``seed`` a layer has its own stream, otherwise fastnet.random's global one.
The arithmetic is fastnet.ops on channels-last images, so it is differentiable w.r.t. the
images where the transform is (posterization and equalization are piecewise constant and
computed in numpy).
"""

from __future__ import annotations

import numpy as np

from fastnet import ops
from fastnet.layers.image_preprocessing import (
    RandomBrightness,
    RandomContrast,
    _as_float,
    _RandomImageLayer,
)
from fastnet.ops import image as _img


def _number(v):
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def _factor(layer, factor, bounds, name="factor"):
    """Keras's BaseImagePreprocessingLayer._set_factor: a pair (sorted) or a number f ->
    (max(-|f|, low), |f|), within ``bounds``."""
    lo, hi = bounds
    msg = (f"{type(layer).__name__}: the `{name}` argument should be a number (or a list of "
           f"two numbers) in the range [{lo}, {hi}]. Received: {name}={factor}")
    if isinstance(factor, (tuple, list)):
        if len(factor) != 2 or not all(_number(f) for f in factor):
            raise ValueError(msg)
        if factor[0] > hi or factor[1] < lo:
            raise ValueError(msg)
        return tuple(sorted(factor))
    if _number(factor):
        if factor < lo or factor > hi:
            raise ValueError(msg)
        f = abs(factor)
        return (max(-f, lo), f)
    raise ValueError(msg)


def _range(layer, value_range, name="value_range"):
    if not isinstance(value_range, (tuple, list)) or len(value_range) != 2 or not all(
            _number(v) for v in value_range):
        raise ValueError(f"{type(layer).__name__}: the `{name}` argument should be a list of "
                         f"two numbers. Received: {name}={value_range}")
    return sorted(value_range)


def _rescale(x, src, dst):
    """Maps ``x`` from the value range ``src`` to ``dst`` (identity when equal)."""
    if tuple(src) == tuple(dst):
        return x
    scale = (dst[1] - dst[0]) / (src[1] - src[0])
    return (x - src[0]) * np.asarray(scale, x.dtype) + np.asarray(dst[0], x.dtype)


def _per_image(values, dtype):
    return np.asarray(values, dtype).reshape(-1, 1, 1, 1)


def rgb_to_hsv(x):
    """(..., 3) RGB -> HSV with hue and saturation in [0, 1] and value = max(R, G, B),
    Keras's formula (dm_pix's), written with differentiable ops."""
    eps = np.finfo(np.dtype(x.dtype)).eps
    x = ops.where(ops.less(ops.abs(x), eps), 0.0, x)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    value = ops.maximum(ops.maximum(r, g), b)
    rng = value - ops.minimum(ops.minimum(r, g), b)
    positive = ops.greater(value, 0.0)
    has_range = ops.greater(rng, 0.0)
    saturation = ops.where(positive, rng / ops.where(positive, value, 1.0), 0.0)
    norm = 1.0 / (6.0 * ops.where(has_range, rng, 1.0))
    hue = ops.where(ops.equal(value, g), norm * (b - r) + 2.0 / 6.0,
                    norm * (r - g) + 4.0 / 6.0)
    hue = ops.where(ops.equal(value, r), norm * (g - b), hue)
    hue = ops.where(has_range, hue, 0.0) + ops.cast(ops.less(hue, 0.0), hue.dtype)
    return ops.stack([hue, saturation, value], axis=-1)


def hsv_to_rgb(x):
    """The inverse of :func:`rgb_to_hsv` (Keras's formula)."""
    h, s, v = x[..., 0], x[..., 1], x[..., 2]
    dh = ops.mod(h, 1.0) * 6.0
    dr = ops.clip(ops.abs(dh - 3.0) - 1.0, 0.0, 1.0)
    dg = ops.clip(2.0 - ops.abs(dh - 2.0), 0.0, 1.0)
    db = ops.clip(2.0 - ops.abs(dh - 4.0), 0.0, 1.0)
    one_minus_s = 1.0 - s
    return ops.stack([v * (one_minus_s + s * dr), v * (one_minus_s + s * dg),
                      v * (one_minus_s + s * db)], axis=-1)


def _depthwise_same(x, kernel2d):
    """Each channel of NHWC ``x`` convolved with ``kernel2d`` (zero 'same' padding)."""
    c = x.shape[-1]
    k = np.repeat(np.asarray(kernel2d, x.dtype)[:, :, None, None], c, axis=2)
    return ops.depthwise_conv(x, k, 1, "same")


class _Augmentation(_RandomImageLayer):
    """Rank-3/4 and dict handling, the training switch and the channels-last view.

    Subclasses define ``_draw(x, rng)`` -> state (x: the NHWC float batch) and
    ``_images(x, state)`` -> NHWC images; MixUp/CutMix also ``_labels(labels, state)``."""

    _always = False  # AutoContrast: applied at inference too (as Keras)

    def call(self, inputs, training=True):
        active = self._training(training) or self._always
        if isinstance(inputs, dict):
            if "images" not in inputs:
                raise ValueError(f"{type(self).__name__} {self.name!r}: a dict input needs an "
                                 f"'images' entry. Received keys: {sorted(inputs)}")
            out = dict(inputs)
            images = _as_float(self, inputs["images"])
            single = self._check(images)
            x = self._channels_last(ops.expand_dims(images, 0) if single else images)
            state = self._draw(x, self._rng()) if active else None
            if active:
                x = self._images(x, state)
            y = self._restore(x)
            out["images"] = ops.squeeze(y, 0) if single else y
            if "labels" in inputs and active:
                labels = ops.convert_to_tensor(inputs["labels"])
                lab = ops.expand_dims(labels, 0) if single else labels
                lab = self._labels(lab, state)
                out["labels"] = ops.squeeze(lab, 0) if single else lab
            return out
        images = _as_float(self, inputs)
        single = self._check(images)
        if not active:
            return images
        x = self._channels_last(ops.expand_dims(images, 0) if single else images)
        x = self._restore(self._images(x, self._draw(x, self._rng())))
        return ops.squeeze(x, 0) if single else x

    def _check(self, images):
        if images.ndim not in (3, 4):
            raise ValueError(f"{type(self).__name__} {self.name!r}: expected images of rank 3 "
                             f"(one image) or 4 (a batch). Received: inputs.shape="
                             f"{tuple(images.shape)}")
        return images.ndim == 3

    def _channels_last(self, x):
        return ops.transpose(x, (0, 2, 3, 1)) if self.data_format == "channels_first" else x

    def _restore(self, x):
        return ops.transpose(x, (0, 3, 1, 2)) if self.data_format == "channels_first" else x

    def _labels(self, labels, state):
        return labels

    def compute_output_shape(self, input_shape):
        if isinstance(input_shape, dict):
            return dict(input_shape)
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


def _need_rgb(layer, x):
    if x.shape[-1] != 3:
        raise ValueError(f"{type(layer).__name__} {layer.name!r}: expects RGB images (3 "
                         f"channels); received {x.shape[-1]} channels")


# ---- colour layers -------------------------------------------------------------------------

class RandomGrayscale(_Augmentation):
    """Replaces each image by its grayscale (in all channels) with probability ``factor``."""

    def __init__(self, factor=0.5, data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        if not _number(factor) or factor < 0 or factor > 1:
            raise ValueError(f"`factor` should be between 0 and 1. Received: factor={factor}")
        self.factor = factor

    def _draw(self, x, rng):
        return rng.uniform(0.0, 1.0, size=x.shape[0]) < self.factor

    def _images(self, x, apply):
        gray = _img.rgb_to_grayscale(x, data_format="channels_last")
        return ops.where(apply.reshape(-1, 1, 1, 1), ops.broadcast_to(gray, x.shape), x)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "seed": self.seed}


class RandomInvert(_Augmentation):
    """``value_range[1] - x`` for an image when a uniform draw falls below its inversion
    probability, itself drawn from ``factor`` (a number f: [0, f]), as Keras."""

    def __init__(self, factor=1.0, value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = _factor(self, factor, (0, 1))
        self.value_range = _range(self, value_range)

    def _draw(self, x, rng):
        n = x.shape[0]
        probability = rng.uniform(self.factor[0], self.factor[1], size=n)
        return rng.uniform(0.0, 1.0, size=n) < probability

    def _images(self, x, apply):
        return ops.where(apply.reshape(-1, 1, 1, 1), self.value_range[1] - x, x)

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor),
                "value_range": list(self.value_range), "seed": self.seed}


class Solarization(_Augmentation):
    """On the [0, 255] scale: add a random ``addition`` (clipped), then invert (255 - x)
    the pixels at or above a random ``threshold``; Keras's draws: addition in
    [a0, a1 * 255], threshold in [t0, t1 * 255], per image."""

    def __init__(self, addition_factor=0.0, threshold_factor=0.0, value_range=(0, 255),
                 seed=None, **kwargs):
        data_format = kwargs.pop("data_format", None)
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.addition_factor = self._unit_factor(addition_factor, "addition_factor")
        self.threshold_factor = self._unit_factor(threshold_factor, "threshold_factor")
        self.value_range = _range(self, value_range)

    def _unit_factor(self, factor, name):
        msg = (f"Solarization: the `addition_factor` and `threshold_factor` arguments should "
               f"be a number (or a list of two numbers) in the range [0, 1]. Received: "
               f"{name}={factor}")
        if isinstance(factor, (tuple, list)):
            if len(factor) != 2 or not all(_number(f) and 0 <= f <= 1 for f in factor):
                raise ValueError(msg)
            return tuple(sorted(factor))
        if _number(factor) and 0 <= factor <= 1:
            return (0, factor)
        raise ValueError(msg)

    def _draw(self, x, rng):
        n = x.shape[0]
        add = rng.uniform(self.addition_factor[0], self.addition_factor[1] * 255, size=n)
        thr = rng.uniform(self.threshold_factor[0], self.threshold_factor[1] * 255, size=n)
        return _per_image(add, x.dtype), _per_image(thr, x.dtype)

    def _images(self, x, state):
        add, thr = state
        y = ops.clip(_rescale(x, self.value_range, (0, 255)) + add, 0.0, 255.0)
        y = ops.where(ops.less(y, thr), y, 255.0 - y)
        return _rescale(y, (0, 255), self.value_range)

    def get_config(self):
        return {**super().get_config(), "value_range": list(self.value_range),
                "addition_factor": list(self.addition_factor),
                "threshold_factor": list(self.threshold_factor), "seed": self.seed}


class RandomPosterization(_Augmentation):
    """Keeps the top ``bits`` bits of each 8-bit pixel value, ``bits`` drawn per image as an
    integer in [factor[0], factor[1]) (a number f: [1, f); a single value when equal)."""

    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = _factor(self, factor, (1, 8))
        self.value_range = _range(self, value_range)

    def _draw(self, x, rng):
        n = x.shape[0]
        lo, hi = int(self.factor[0]), int(self.factor[1])
        bits = rng.integers(lo, hi, size=n) if lo != hi else np.full(n, lo)
        return (8 - bits).astype(np.uint8)

    def _images(self, x, shift):
        v = np.asarray(_rescale(x, self.value_range, (0, 255)))
        v = v.astype(np.uint8)  # as Keras's cast: truncation
        s = shift.reshape(-1, 1, 1, 1)
        v = np.left_shift(np.right_shift(v, s), s).astype(np.dtype(x.dtype))
        return _rescale(ops.convert_to_tensor(v), (0, 255), self.value_range)

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor),
                "value_range": list(self.value_range), "seed": self.seed}


class RandomColorDegeneration(_Augmentation):
    """Blends each image with its grayscale: ``x + f * (gray - x)``, f drawn per image from
    ``factor`` (a number f: [-f, f], as Keras's base factor), clipped to ``value_range``."""

    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = _factor(self, factor, (-1, 1))
        self.value_range = _range(self, value_range)

    def _draw(self, x, rng):
        return _per_image(rng.uniform(self.factor[0], self.factor[1], size=x.shape[0]),
                          x.dtype)

    def _images(self, x, f):
        gray = _img.rgb_to_grayscale(x, data_format="channels_last")
        return ops.clip(x + f * (gray - x), self.value_range[0], self.value_range[1])

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor),
                "value_range": list(self.value_range), "seed": self.seed}


class AutoContrast(_Augmentation):
    """Stretches each channel of each image to the full ``value_range`` (its minimum to the
    low end, its maximum to the high end); constant channels are left as they are. Applied
    at inference too, as Keras."""

    _always = True

    def __init__(self, value_range=(0, 255), **kwargs):
        data_format = kwargs.pop("data_format", None)
        seed = kwargs.pop("seed", None)
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.value_range = _range(self, value_range)

    def _draw(self, x, rng):
        return None

    def _images(self, x, state):
        y = _rescale(x, self.value_range, (0, 255))
        low = ops.min(y, axis=(1, 2), keepdims=True)
        high = ops.max(y, axis=(1, 2), keepdims=True)
        spread = high - low
        flat = ops.less_equal(spread, 0.0)
        scale = 255.0 / ops.where(flat, 1.0, spread)
        out = ops.clip(y * scale - low * scale, 0.0, 255.0)
        out = _rescale(out, (0, 255), self.value_range)
        return ops.where(ops.broadcast_to(flat, x.shape), x, out)

    def get_config(self):
        return {**super().get_config(), "value_range": list(self.value_range)}


class Equalization(_Augmentation):
    """Histogram equalization of each channel (its histogram over the whole batch, ``bins``
    bins on the [0, 255] scale, as Keras), in training."""

    def __init__(self, value_range=(0, 255), bins=256, data_format=None, **kwargs):
        super().__init__(seed=None, data_format=data_format, **kwargs)
        if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 2:
            raise ValueError(f"Equalization: `bins` must be an integer >= 2. Received: "
                             f"bins={bins!r}")
        self.bins = int(bins)
        self.value_range = _range(self, value_range)

    def _draw(self, x, rng):
        return None

    def _equalize(self, channel):
        nb = self.bins
        idx = np.clip((channel * (nb - 1) / 255.0).astype(np.int32), 0, nb - 1)
        hist = np.bincount(idx.reshape(-1), minlength=nb)
        if np.count_nonzero(hist) <= 1:
            return channel
        cdf = np.cumsum(hist)
        cdf_min = cdf[np.nonzero(cdf)[0][0]]
        denominator = cdf[-1] - cdf_min
        lut = np.clip(np.round((cdf - cdf_min) * 255.0 / (denominator or 1)), 0, 255)
        return lut[np.clip(channel / 255.0 * (nb - 1), 0, nb - 1).astype(np.int32)]

    def _images(self, x, state):
        v = np.asarray(x, np.float64)
        if tuple(self.value_range) != (0, 255):
            v = (v - self.value_range[0]) * 255.0 / (self.value_range[1] - self.value_range[0])
        out = np.stack([self._equalize(v[..., c]) for c in range(v.shape[-1])], axis=-1)
        if tuple(self.value_range) != (0, 255):
            out = out * (self.value_range[1] - self.value_range[0]) / 255.0 + \
                self.value_range[0]
        return ops.convert_to_tensor(out.astype(np.dtype(x.dtype)))

    def get_config(self):
        return {**super().get_config(), "bins": self.bins, "value_range": list(self.value_range)}


class RandomSaturation(_Augmentation):
    """Scales the HSV saturation of each image by ``u / (1 - u)``, u drawn per image from
    ``factor`` (a number f: [-f, f], Keras's base factor; 0.5 leaves it unchanged), the
    scaled saturation clipped to ``value_range`` (Keras's clip)."""

    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = _factor(self, factor, (-1, 1))
        self.value_range = _range(self, value_range)

    def _draw(self, x, rng):
        u = rng.uniform(self.factor[0], self.factor[1], size=x.shape[0])
        return np.asarray(u / (1 - u + 1e-7), x.dtype).reshape(-1, 1, 1)

    def _images(self, x, adjust):
        _need_rgb(self, x)
        hsv = rgb_to_hsv(x)
        s = ops.clip(hsv[..., 1] * adjust, self.value_range[0], self.value_range[1])
        return hsv_to_rgb(ops.stack([hsv[..., 0], s, hsv[..., 2]], axis=-1))

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor),
                "value_range": list(self.value_range), "seed": self.seed}


class RandomHue(_Augmentation):
    """Rotates the HSV hue of each image by ``±f / 2`` (sign and f in ``factor``, a number
    f: [0, f], drawn per image), on images scaled to [0, 1]."""

    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = _factor(self, factor, (0, 1))
        self.value_range = _range(self, value_range)

    def _draw(self, x, rng):
        n = x.shape[0]
        sign = np.where(rng.uniform(0.0, 1.0, size=n) > 0.5, -1.0, 1.0)
        f = rng.uniform(self.factor[0], self.factor[1], size=n)
        return np.asarray(sign * f * 0.5, x.dtype).reshape(-1, 1, 1)

    def _images(self, x, delta):
        _need_rgb(self, x)
        hsv = rgb_to_hsv(_rescale(x, self.value_range, (0, 1)))
        h = hsv[..., 0] + delta
        h = ops.where(ops.greater(h, 1.0), h - 1.0, h)
        h = ops.where(ops.less(h, 0.0), h + 1.0, h)
        rgb = hsv_to_rgb(ops.stack([h, hsv[..., 1], hsv[..., 2]], axis=-1))
        return _rescale(ops.clip(rgb, 0.0, 1.0), (0, 1), self.value_range)

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor),
                "value_range": list(self.value_range), "seed": self.seed}


class RandomSharpness(_Augmentation):
    """Blends each image with its 3x3-smoothed version: ``x + (1 - 2 f) * (smooth - x)``,
    f drawn per image from ``factor`` (a number f: [0, f]); f = 0.5 leaves it unchanged,
    above sharpens. Clipped to ``value_range``."""

    _SMOOTH = np.array([[1, 1, 1], [1, 5, 1], [1, 1, 1]], np.float64) / 13.0

    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = _factor(self, factor, (0, 1))
        self.value_range = _range(self, value_range)

    def _draw(self, x, rng):
        return _per_image(rng.uniform(self.factor[0], self.factor[1], size=x.shape[0]) * 2,
                          x.dtype)

    def _images(self, x, s):
        smooth = _depthwise_same(x, self._SMOOTH)
        return ops.clip(x + (1.0 - s) * (smooth - x), self.value_range[0], self.value_range[1])

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor),
                "value_range": list(self.value_range), "seed": self.seed}


class RandomGaussianBlur(_Augmentation):
    """Blurs an image with a Gaussian kernel of ``kernel_size`` (x, y; odd) when a uniform
    draw falls below its probability (drawn from ``factor``); the two standard deviations
    are drawn once per batch from ``sigma`` (a number s: [0, s]). Clipped to
    ``value_range``."""

    def __init__(self, factor=1.0, kernel_size=3, sigma=1.0, value_range=(0, 255),
                 data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = _factor(self, factor, (0, 1))
        msg = f"kernel_size must be an odd number. Received: kernel_size={kernel_size}"
        if isinstance(kernel_size, (tuple, list)):
            if len(kernel_size) != 2 or not all(
                    isinstance(k, (int, np.integer)) and k > 0 and k % 2 for k in kernel_size):
                raise ValueError(msg)
            self.kernel_size = tuple(int(k) for k in kernel_size)
        elif isinstance(kernel_size, (int, np.integer)) and not isinstance(kernel_size, bool) \
                and kernel_size > 0 and kernel_size % 2:
            self.kernel_size = (int(kernel_size), int(kernel_size))
        else:
            raise ValueError(msg)
        self.sigma = _factor(self, sigma, (0, 1), name="sigma")
        self.value_range = _range(self, value_range)

    def _draw(self, x, rng):
        n = x.shape[0]
        probability = rng.uniform(self.factor[0], self.factor[1], size=n)
        apply = rng.uniform(0.0, 1.0, size=n) < probability
        sigma = rng.uniform(self.sigma[0], self.sigma[1], size=2) + 1e-6
        return apply, sigma

    @staticmethod
    def kernel(kernel_size, sigma):
        """Keras's 2-D kernel: outer(ky, kx), each a normalised Gaussian of its axis."""
        def one(size, s):
            t = np.arange(size, dtype=np.float64) - (size - 1) / 2
            k = np.exp(-0.5 * (t / s) ** 2)
            return k / k.sum()
        return np.outer(one(kernel_size[1], sigma[1]), one(kernel_size[0], sigma[0]))

    def _images(self, x, state):
        apply, sigma = state
        blurred = _depthwise_same(x, self.kernel(self.kernel_size, sigma))
        y = ops.where(apply.reshape(-1, 1, 1, 1), blurred, x)
        return ops.clip(y, self.value_range[0], self.value_range[1])

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor),
                "kernel_size": list(self.kernel_size), "sigma": list(self.sigma),
                "value_range": list(self.value_range), "seed": self.seed}


class RandomColorJitter(_Augmentation):
    """RandomBrightness, RandomContrast, RandomSaturation and RandomHue in turn, each when
    its factor is given (each seeded with ``seed``), as Keras."""

    def __init__(self, value_range=(0, 255), brightness_factor=None, contrast_factor=None,
                 saturation_factor=None, hue_factor=None, seed=None, data_format=None,
                 **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.value_range = _range(self, value_range)
        self.brightness_factor = brightness_factor
        self.contrast_factor = contrast_factor
        self.saturation_factor = saturation_factor
        self.hue_factor = hue_factor
        common = dict(value_range=self.value_range, seed=seed)
        self._steps = []
        if brightness_factor is not None:
            self._steps.append(RandomBrightness(brightness_factor, **common))
        if contrast_factor is not None:
            self._steps.append(RandomContrast(contrast_factor, **common))
        if saturation_factor is not None:
            self._steps.append(RandomSaturation(saturation_factor, **common))
        if hue_factor is not None:
            self._steps.append(RandomHue(hue_factor, **common))

    def _draw(self, x, rng):
        return None

    def _images(self, x, state):
        for step in self._steps:  # the sub-layers see channels-last batches
            x = step.call(x, training=True)
        return x

    def get_config(self):
        return {**super().get_config(), "value_range": list(self.value_range),
                "brightness_factor": self.brightness_factor,
                "contrast_factor": self.contrast_factor,
                "saturation_factor": self.saturation_factor, "hue_factor": self.hue_factor,
                "seed": self.seed}


# ---- mixing layers -------------------------------------------------------------------------

class MixUp(_Augmentation):
    """Blends each image (and its label) with another of the batch:
    ``w * x + (1 - w) * x[perm]``, w ~ Beta(alpha, alpha) per sample (Zhang et al., 2017)."""

    def __init__(self, alpha=0.2, data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        if not _number(alpha) or alpha <= 0:
            raise ValueError(f"MixUp: `alpha` must be a positive number. Received: "
                             f"alpha={alpha!r}")
        self.alpha = alpha

    def _draw(self, x, rng):
        n = x.shape[0]
        perm = rng.permutation(n).astype(np.int64)
        return perm, rng.beta(self.alpha, self.alpha, size=n)

    def _images(self, x, state):
        perm, w = state
        w = _per_image(w, x.dtype)
        return w * x + (1.0 - w) * ops.take(x, perm, axis=0)

    def _labels(self, labels, state):
        perm, w = state
        labels = ops.cast(labels, "float32") if not str(labels.dtype).startswith("float") \
            else labels
        w = np.asarray(w, labels.dtype).reshape((-1,) + (1,) * (labels.ndim - 1))
        return w * labels + (1.0 - w) * ops.take(labels, perm, axis=0)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha, "seed": self.seed}


class CutMix(_Augmentation):
    """Pastes a random box of another image of the batch into each image, and mixes the
    labels by the kept area (Yun et al., 2019); the box side ratio is ``sqrt(1 - w)``, w ~
    Beta(a, a) per sample with a drawn once per batch from ``factor`` (a number f: [0, f])."""

    def __init__(self, factor=1.0, seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = _factor(self, factor, (0, 1))

    def _draw(self, x, rng):
        n, h, w = x.shape[0], x.shape[1], x.shape[2]
        a = rng.uniform(self.factor[0], self.factor[1]) + 1e-6
        weight = rng.beta(a, a, size=n)
        ratio = np.sqrt(1.0 - weight)

        def bounds(length):
            crop = (ratio * length).astype(np.float32)
            start = rng.uniform(0.0, 1.0, size=n).astype(np.float32) * (length - crop)
            return start, start + crop

        x0, x1 = bounds(w)
        y0, y1 = bounds(h)
        gx = np.arange(w, dtype=np.float32)[None, None, :, None]
        gy = np.arange(h, dtype=np.float32)[None, :, None, None]
        box = ((gx >= x0[:, None, None, None]) & (gx < x1[:, None, None, None])
               & (gy >= y0[:, None, None, None]) & (gy < y1[:, None, None, None]))
        kept = 1.0 - (x1 - x0) * (y1 - y0) / (w * h)
        perm = rng.permutation(n).astype(np.int64)
        return perm, box, kept

    def _images(self, x, state):
        perm, box, _ = state
        return ops.where(np.broadcast_to(box, x.shape), ops.take(x, perm, axis=0), x)

    def _labels(self, labels, state):
        perm, _, kept = state
        labels = ops.cast(labels, "float32") if not str(labels.dtype).startswith("float") \
            else labels
        kept = np.asarray(kept, labels.dtype).reshape((-1,) + (1,) * (labels.ndim - 1))
        return kept * labels + (1.0 - kept) * ops.take(labels, perm, axis=0)

    def call(self, inputs, training=True):
        images = inputs.get("images") if isinstance(inputs, dict) else inputs
        if images is not None and len(np.shape(images)) == 3:
            # as Keras: a single image has nothing to mix with
            return super().call(inputs, training=False)
        return super().call(inputs, training=training)

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor), "seed": self.seed}


# ---- erasing and geometric layers ----------------------------------------------------------

class RandomErasing(_Augmentation):
    """Replaces a random box of each image (area fraction drawn from ``scale``, one box per
    image, applied with the probability drawn from ``factor``) by ``fill_value`` (a number
    or one per channel), or by Gaussian noise times ``value_range[1]`` when None, clipped
    to ``value_range`` (Zhong et al., 2017)."""

    def __init__(self, factor=1.0, scale=(0.02, 0.33), fill_value=None, value_range=(0, 255),
                 seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = _factor(self, factor, (0, 1))
        self.scale = _factor(self, scale, (0, 1), name="scale")
        if fill_value is not None and not _number(fill_value) and not (
                isinstance(fill_value, (tuple, list)) and len(fill_value) == 3
                and all(_number(v) for v in fill_value)):
            raise ValueError("RandomErasing: the `fill_value` argument should be a number (or a "
                             f"list of three numbers). Received: fill_value={fill_value!r}")
        self.fill_value = list(fill_value) if isinstance(fill_value, tuple) else fill_value
        self.value_range = list(_range(self, value_range))

    def _draw(self, x, rng):
        n, h, w = x.shape[0], x.shape[1], x.shape[2]
        ratio = np.sqrt(rng.uniform(self.scale[0], self.scale[1], size=(n, 2)))

        def bounds(length, r):
            crop = (r * length).astype(np.float32)
            start = rng.uniform(0.0, 1.0, size=n).astype(np.float32) * (length - crop)
            return start, start + crop

        x0, x1 = bounds(w, ratio[:, 0])
        y0, y1 = bounds(h, ratio[:, 1])
        gx = np.arange(w, dtype=np.float32)[None, None, :, None]
        gy = np.arange(h, dtype=np.float32)[None, :, None, None]
        box = ((gx >= x0[:, None, None, None]) & (gx < x1[:, None, None, None])
               & (gy >= y0[:, None, None, None]) & (gy < y1[:, None, None, None]))
        probability = rng.uniform(self.factor[0], self.factor[1], size=n)
        apply = rng.uniform(0.0, 1.0, size=n) < probability
        if self.fill_value is None:
            fill = rng.standard_normal(tuple(x.shape)) * self.value_range[1]
        else:
            fill = np.broadcast_to(np.asarray(self.fill_value, np.float64), tuple(x.shape))
        fill = np.clip(fill, self.value_range[0], self.value_range[1]).astype(np.dtype(x.dtype))
        mask = np.broadcast_to(box & apply[:, None, None, None], tuple(x.shape))
        return mask, fill

    def _images(self, x, state):
        mask, fill = state
        return ops.where(mask, fill, x)

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor), "scale": list(self.scale),
                "fill_value": self.fill_value, "value_range": self.value_range,
                "seed": self.seed}


def _check_geometry(layer, interpolation, fill_mode=None):
    modes = ("reflect", "wrap", "constant", "nearest")  # Keras's for these layers
    if fill_mode is not None and fill_mode not in modes:
        raise NotImplementedError(f"{type(layer).__name__}: unknown `fill_mode` {fill_mode}. "
                                  f"Expected of one {modes}.")
    if interpolation not in ("nearest", "bilinear"):
        raise NotImplementedError(f"{type(layer).__name__}: unknown `interpolation` "
                                  f"{interpolation}. Expected of one ('nearest', 'bilinear').")


class RandomShear(_Augmentation):
    """Shears each image about its top-left corner: the output pixel (x, y) samples the
    input at (x + sx y, sy x + y), sx and sy drawn per image from ``x_factor`` /
    ``y_factor`` (a number f: [-f, f]) with a random common sign, as Keras."""

    def __init__(self, x_factor=0.0, y_factor=0.0, interpolation="bilinear",
                 fill_mode="reflect", fill_value=0.0, data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self._x_arg = list(x_factor) if isinstance(x_factor, tuple) else x_factor
        self._y_arg = list(y_factor) if isinstance(y_factor, tuple) else y_factor
        self.x_factor = self._shear_factor(x_factor, "x_factor")
        self.y_factor = self._shear_factor(y_factor, "y_factor")
        _check_geometry(self, interpolation, fill_mode)
        self.interpolation = interpolation
        self.fill_mode = fill_mode
        self.fill_value = fill_value

    def _shear_factor(self, factor, name):
        msg = ("RandomShear: the `factor` argument should be a number (or a list of two "
               f"numbers) in the range [0, 1.0]. Received: {name}={factor}")
        if isinstance(factor, (tuple, list)):
            # pairs in [-1, 1] too: Keras's own configs hold (-f, f) for a number f
            if len(factor) != 2 or not all(_number(f) and -1 <= f <= 1 for f in factor):
                raise ValueError(msg)
            return tuple(sorted(factor))
        if _number(factor) and 0 <= factor <= 1:
            return (-abs(factor), abs(factor))
        raise ValueError(msg)

    def _draw(self, x, rng):
        n = x.shape[0]
        sign = np.where(rng.uniform(0.0, 1.0, size=(n, 1)) > 0.5, -1.0, 1.0)
        sy = rng.uniform(self.y_factor[0], self.y_factor[1], size=(n, 1))
        sx = rng.uniform(self.x_factor[0], self.x_factor[1], size=(n, 1))
        return np.concatenate([sx, sy], axis=1) * sign

    @staticmethod
    def shear_matrix(shear):
        n = shear.shape[0]
        one, zero = np.ones(n), np.zeros(n)
        return np.stack([one, shear[:, 0], zero, shear[:, 1], one, zero, zero, zero],
                        axis=1).astype(np.float32)

    def _images(self, x, shear):
        return _img.affine_transform(x, self.shear_matrix(shear),
                                     interpolation=self.interpolation,
                                     fill_mode=self.fill_mode, fill_value=self.fill_value,
                                     data_format="channels_last")

    def get_config(self):
        # the arguments as given (Keras writes (-f, f), which its constructor refuses)
        return {**super().get_config(), "x_factor": self._x_arg,
                "y_factor": self._y_arg, "fill_mode": self.fill_mode,
                "interpolation": self.interpolation, "seed": self.seed,
                "fill_value": self.fill_value}


def homography(start_points, end_points):
    """Keras's compute_homography_matrix: the (N, 8) projective transforms mapping each
    output corner (``end_points``, (N, 4, 2) x-y) to its input corner (``start_points``)."""
    s = np.asarray(start_points, np.float64)
    e = np.asarray(end_points, np.float64)
    rows = []
    for i in range(4):
        sx, sy, ex, ey = s[:, i, 0], s[:, i, 1], e[:, i, 0], e[:, i, 1]
        one, zero = np.ones_like(ex), np.zeros_like(ex)
        rows.append(np.stack([ex, ey, one, zero, zero, zero, -sx * ex, -sx * ey], axis=-1))
        rows.append(np.stack([zero, zero, zero, ex, ey, one, -sy * ex, -sy * ey], axis=-1))
    a = np.stack(rows, axis=1)
    b = s.reshape(s.shape[0], 8)[..., None]
    return np.linalg.solve(a, b).reshape(-1, 8)


class RandomPerspective(_Augmentation):
    """Warps each image (with the probability drawn from ``factor``) by the homography that
    moves its four corners by up to ``scale / 2`` of their coordinates (Keras's draws),
    filling outside pixels with ``fill_value``."""

    def __init__(self, factor=1.0, scale=1.0, interpolation="bilinear", fill_value=0.0,
                 seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = _factor(self, factor, (0, 1))
        if not _number(scale) or scale < 0.0 or scale > 1.0:
            raise ValueError("The `scale` argument should be a number in the range [0,1]. "
                             f"Received: scale={scale}")
        self.scale = scale
        _check_geometry(self, interpolation)
        self.interpolation = interpolation
        self.fill_value = fill_value

    def _draw(self, x, rng):
        n, h, w = x.shape[0], x.shape[1], x.shape[2]
        probability = rng.uniform(self.factor[0], self.factor[1], size=n)
        apply = rng.uniform(0.0, 1.0, size=n) < probability
        jitter = rng.uniform(-0.5 * self.scale, 0.5 * self.scale, size=(n, 4, 2))
        start = np.repeat(np.array([[[0.0, 0.0], [w - 1, 0.0], [0.0, h - 1], [w - 1, h - 1]]]),
                          n, axis=0)
        end = start + start * jitter
        return apply, homography(start, end).astype(np.float32)

    def _images(self, x, state):
        apply, transforms = state
        warped = _img.affine_transform(x, transforms, interpolation=self.interpolation,
                                       fill_mode="constant", fill_value=self.fill_value,
                                       data_format="channels_last")
        return ops.where(apply.reshape(-1, 1, 1, 1), warped, x)

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor), "scale": self.scale,
                "interpolation": self.interpolation, "fill_value": self.fill_value,
                "seed": self.seed}


class RandomElasticTransform(_Augmentation):
    """Elastic distortion (Simard et al., 2003), Keras's: per image, a Gaussian-smoothed
    random displacement field (sigma = 0.05 * s * min(H, W), kernel int(6 sigma) | 1)
    scaled by alpha = 0.1 * s * max(H, W), s drawn once per batch from ``scale``; applied
    with the probability drawn from ``factor``, sampled with ``interpolation`` and
    ``fill_mode``, clipped to ``value_range``."""

    _FILL_MODES = ("constant", "nearest", "wrap", "mirror", "reflect")

    def __init__(self, factor=1.0, scale=1.0, interpolation="bilinear", fill_mode="reflect",
                 fill_value=0.0, value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = _factor(self, factor, (0, 1))
        self.scale = _factor(self, scale, (0, 1), name="scale")
        _check_geometry(self, interpolation)
        if fill_mode not in self._FILL_MODES:
            raise NotImplementedError(f"RandomElasticTransform: unknown `fill_mode` {fill_mode}"
                                      f". Expected of one {self._FILL_MODES}.")
        self.interpolation = interpolation
        self.fill_mode = fill_mode
        self.fill_value = fill_value
        self.value_range = list(_range(self, value_range))

    def _draw(self, x, rng):
        if self.scale[1] == 0 or self.factor[1] == 0:
            return None
        n, h, w = x.shape[0], x.shape[1], x.shape[2]
        probability = rng.uniform(self.factor[0], self.factor[1], size=n)
        apply = rng.uniform(0.0, 1.0, size=n) < probability
        s = rng.uniform(self.scale[0], self.scale[1])
        alpha, sigma = max(h, w) * 0.1 * s, min(h, w) * 0.05 * s
        size = int(6 * sigma) | 1
        kernel = RandomGaussianBlur.kernel((size, size), (sigma, sigma)) if sigma > 0 else \
            np.ones((1, 1))
        field = rng.standard_normal((2, n, h, w, 1)) * sigma
        blurred = [np.asarray(_depthwise_same(ops.convert_to_tensor(f.astype(np.float32)),
                                              kernel))[..., 0] for f in field]
        gy, gx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
        return apply, gx[None] + alpha * blurred[0], gy[None] + alpha * blurred[1]

    def _images(self, x, state):
        if state is None:
            return x
        apply, cx, cy = state
        n, h, w, c = x.shape
        shape = (n, h, w, c)
        coords = [np.broadcast_to(np.arange(n).reshape(n, 1, 1, 1), shape),
                  np.broadcast_to(cy[..., None], shape), np.broadcast_to(cx[..., None], shape),
                  np.broadcast_to(np.arange(c).reshape(1, 1, 1, c), shape)]
        order = 1 if self.interpolation == "bilinear" else 0
        warped = _img.map_coordinates(x, coords, order, fill_mode=self.fill_mode,
                                      fill_value=self.fill_value)
        y = ops.where(apply.reshape(-1, 1, 1, 1), warped, x)
        return ops.clip(y, self.value_range[0], self.value_range[1])

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor), "scale": list(self.scale),
                "interpolation": self.interpolation, "fill_mode": self.fill_mode,
                "fill_value": self.fill_value, "value_range": self.value_range,
                "seed": self.seed}


class ContrastLimitedAdaptiveHistogramEqualization(_Augmentation):
    """CLAHE, Keras's: each channel's histogram equalized per tile of a ``tile_grid_size``
    grid (the image padded symmetrically to whole tiles), each bin clipped at
    ``clip_limit`` times the mean bin count with the excess spread over all bins, and the
    tiles' mappings blended bilinearly between tile centres. Applied at inference too, as
    Keras; piecewise constant in the pixel values (computed in numpy)."""

    _always = True

    def __init__(self, value_range=(0, 255), clip_limit=4.0, tile_grid_size=(8, 8),
                 data_format=None, **kwargs):
        super().__init__(seed=None, data_format=data_format, **kwargs)
        self.value_range = list(_range(self, value_range))
        if not _number(clip_limit) or clip_limit < 0:
            raise ValueError(f"ContrastLimitedAdaptiveHistogramEqualization: `clip_limit` must "
                             f"be a non-negative number. Received: clip_limit={clip_limit!r}")
        self.clip_limit = clip_limit
        if not isinstance(tile_grid_size, (tuple, list)) or len(tile_grid_size) != 2 or not all(
                isinstance(g, (int, np.integer)) and not isinstance(g, bool) and g > 0
                for g in tile_grid_size):
            raise ValueError("ContrastLimitedAdaptiveHistogramEqualization: `tile_grid_size` "
                             "must be a pair of positive integers. Received: "
                             f"tile_grid_size={tile_grid_size!r}")
        self.tile_grid_size = tuple(int(g) for g in tile_grid_size)

    def _draw(self, x, rng):
        return None

    def _images(self, x, state):
        v = np.asarray(_rescale(x, self.value_range, (0, 255)), np.float32)
        n, h, w, c = v.shape
        gh, gw = self.tile_grid_size
        th, tw = -(-h // gh), -(-w // gw)
        padded = np.pad(v, ((0, 0), (0, th * gh - h), (0, tw * gw - w), (0, 0)),
                        mode="symmetric")
        tiles = padded.reshape(n, gh, th, gw, tw, c).transpose(0, 1, 3, 5, 2, 4)
        bins = np.clip(tiles.astype(np.int32), 0, 255).reshape(n, gh, gw, c, th * tw)
        flat = bins.reshape(-1, th * tw)
        hist = np.stack([np.bincount(row, minlength=256) for row in flat]).astype(
            np.float32).reshape(n, gh, gw, c, 256)
        if self.clip_limit > 0:
            limit = np.float32(self.clip_limit * (th * tw) / 256.0)
            clipped = np.clip(hist, 0, limit)
            hist = clipped + (hist - clipped).sum(-1, keepdims=True) / 256.0
        cdf = np.cumsum(hist, axis=-1)
        cdf_min = cdf.min(axis=-1, keepdims=True)
        denom = np.float32(th * tw) - cdf_min
        denom = np.where(denom == 0, np.float32(1.0), denom)
        lut = np.clip((cdf - cdf_min) * 255.0 / denom, 0, 255)
        lut = np.pad(lut, ((0, 0), (1, 1), (1, 1), (0, 0), (0, 0)), mode="edge")
        gy = (np.arange(th * gh, dtype=np.float32) - th / 2.0) / th + 1.0
        gx = (np.arange(tw * gw, dtype=np.float32) - tw / 2.0) / tw + 1.0
        y0, x0 = np.floor(gy), np.floor(gx)
        wy, wx = (gy - y0)[None, :, None, None], (gx - x0)[None, None, :, None]
        y0i, y1i = (np.clip(y0, 0, gh + 1).astype(int), np.clip(y0 + 1, 0, gh + 1).astype(int))
        x0i, x1i = (np.clip(x0, 0, gw + 1).astype(int), np.clip(x0 + 1, 0, gw + 1).astype(int))
        pix = np.clip(padded, 0, 255).astype(np.int32)
        b = np.arange(n)[:, None, None, None]
        ch = np.arange(c)[None, None, None, :]

        def at(yi, xi):
            return lut[b, yi[None, :, None, None], xi[None, None, :, None], ch, pix]

        top = at(y0i, x0i) * (1.0 - wx) + at(y0i, x1i) * wx
        bottom = at(y1i, x0i) * (1.0 - wx) + at(y1i, x1i) * wx
        out = (top * (1.0 - wy) + bottom * wy)[:, :h, :w, :]
        out = _rescale(out.astype(np.float32), (0, 255), self.value_range)
        # as Keras: back in the (autocast) input's dtype; float64 stays float64
        return ops.convert_to_tensor(np.asarray(out, np.dtype(x.dtype)), dtype=x.dtype)

    def get_config(self):
        return {**super().get_config(), "value_range": self.value_range,
                "clip_limit": self.clip_limit, "tile_grid_size": list(self.tile_grid_size)}


# ---- policies: RandAugment, AugMix ---------------------------------------------------------

_POLICY_OPS = ("random_shear", "random_translation", "random_rotation", "random_brightness",
               "random_color_degeneration", "random_contrast", "random_sharpness",
               "random_posterization", "solarization", "auto_contrast", "equalization")


def _policy_layers(factor, value_range, interpolation, seed):
    """Keras's sub-layers of RandAugment / AugMix (all at strength ``factor``), by name;
    they see channels-last batches (the policy layer converts the layout once)."""
    from fastnet.layers.image_preprocessing import RandomRotation, RandomTranslation

    common = dict(seed=seed, data_format="channels_last")
    ranged = dict(value_range=value_range, **common)
    return {
        "random_shear": RandomShear(x_factor=factor, y_factor=factor,
                                    interpolation=interpolation, **common),
        "random_translation": RandomTranslation(height_factor=factor, width_factor=factor,
                                                interpolation=interpolation, **common),
        "random_rotation": RandomRotation(factor=factor, interpolation=interpolation, **common),
        "random_brightness": RandomBrightness(factor=factor, **ranged),
        "random_color_degeneration": RandomColorDegeneration(factor=factor, **ranged),
        "random_contrast": RandomContrast(factor=factor, **ranged),
        "random_sharpness": RandomSharpness(factor=factor, **ranged),
        "random_posterization": RandomPosterization(factor=max(1, int(8 * factor[1])),
                                                    **ranged),
        "solarization": Solarization(addition_factor=factor, threshold_factor=factor,
                                     **ranged),
        "auto_contrast": AutoContrast(value_range=value_range, data_format="channels_last"),
        "equalization": Equalization(value_range=value_range, data_format="channels_last"),
    }


class RandAugment(_Augmentation):
    """RandAugment (Cubuk et al., 2019): ``num_ops`` operations drawn (once per batch, as
    Keras) from shear, translation, rotation, brightness, colour degeneration, contrast,
    sharpness, posterization, solarization, auto-contrast and equalization, each at strength
    ``factor`` (a number f: [0, f]), applied in turn."""

    def __init__(self, value_range=(0, 255), num_ops=2, factor=0.5, interpolation="bilinear",
                 seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.value_range = _range(self, value_range)
        if isinstance(num_ops, bool) or not isinstance(num_ops, (int, np.integer)) \
                or num_ops < 0:
            raise ValueError(f"RandAugment: `num_ops` must be a non-negative integer. "
                             f"Received: num_ops={num_ops!r}")
        self.num_ops = int(num_ops)
        self.factor = _factor(self, factor, (0, 1))
        _check_geometry(self, interpolation)
        self.interpolation = interpolation
        self._ops = _policy_layers(self.factor, self.value_range, interpolation, seed)

    def _draw(self, x, rng):
        return rng.integers(0, len(_POLICY_OPS), size=self.num_ops)

    def _images(self, x, chosen):
        for i in chosen:
            x = self._ops[_POLICY_OPS[int(i)]].call(x, training=True)
        return x

    def get_config(self):
        return {**super().get_config(), "value_range": list(self.value_range),
                "num_ops": self.num_ops, "factor": list(self.factor),
                "interpolation": self.interpolation, "seed": self.seed}


class AugMix(_Augmentation):
    """AugMix (Hendrycks et al., 2019): ``num_chains`` chains of up to ``chain_depth``
    random operations (each step may be skipped), mixed with Dirichlet(``alpha``) weights,
    then blended with the original image by a Beta(``alpha``, ``alpha``) weight; clipped
    to ``value_range``. ``all_ops=False`` leaves out the colour operations."""

    _BASIC = ("random_shear", "random_translation", "random_rotation", "random_posterization",
              "solarization", "auto_contrast", "equalization")
    _ALL = _BASIC + ("random_brightness", "random_color_degeneration", "random_contrast",
                     "random_sharpness")

    def __init__(self, value_range=(0, 255), num_chains=3, chain_depth=3, factor=0.3,
                 alpha=1.0, all_ops=True, interpolation="bilinear", seed=None,
                 data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.value_range = _range(self, value_range)
        for name, value in (("num_chains", num_chains), ("chain_depth", chain_depth)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"AugMix: `{name}` must be a positive integer. Received: "
                                 f"{name}={value!r}")
        self.num_chains = int(num_chains)
        self.chain_depth = int(chain_depth)
        self.factor = _factor(self, factor, (0, 1))
        if not _number(alpha) or alpha <= 0:
            raise ValueError(f"AugMix: `alpha` must be a positive number. Received: "
                             f"alpha={alpha!r}")
        self.alpha = alpha
        self.all_ops = bool(all_ops)
        _check_geometry(self, interpolation)
        self.interpolation = interpolation
        self._ops = _policy_layers(self.factor, self.value_range, interpolation, seed)
        self._names = self._ALL if self.all_ops else self._BASIC

    def _draw(self, x, rng):
        weights = rng.dirichlet([self.alpha] * self.num_chains)
        blend = rng.beta(self.alpha, self.alpha)
        choices = len(self._names) + 1  # the last: skip this step
        chains = [[int(c) for c in rng.integers(0, choices, size=self.chain_depth)
                   if c < len(self._names)] for _ in range(self.num_chains)]
        return weights, blend, chains

    def _images(self, x, state):
        weights, blend, chains = state
        mixed = None
        for w, chain in zip(weights, chains):
            y = x
            for c in chain:
                y = self._ops[self._names[c]].call(y, training=True)
            term = y * np.asarray(w, np.dtype(x.dtype))
            mixed = term if mixed is None else mixed + term
        out = x * np.asarray(blend, np.dtype(x.dtype)) + mixed * np.asarray(
            1 - blend, np.dtype(x.dtype))
        return ops.clip(out, self.value_range[0], self.value_range[1])

    def get_config(self):
        return {**super().get_config(), "value_range": list(self.value_range),
                "num_chains": self.num_chains, "chain_depth": self.chain_depth,
                "factor": list(self.factor), "alpha": self.alpha, "all_ops": self.all_ops,
                "interpolation": self.interpolation, "seed": self.seed}


__all__ = ["RandomGrayscale", "RandomInvert", "Solarization", "RandomPosterization",
           "RandomColorDegeneration", "AutoContrast", "Equalization", "RandomSaturation",
           "RandomHue", "RandomSharpness", "RandomGaussianBlur", "RandomColorJitter", "MixUp",
           "CutMix", "RandomErasing", "RandomShear", "RandomPerspective", "RandAugment", "AugMix",
           "RandomElasticTransform", "ContrastLimitedAdaptiveHistogramEqualization"]
