"""Preprocessing layers, as keras.layers: Rescaling, Normalization, CenterCrop,
RandomFlip, CategoryEncoding, Discretization, IntegerLookup, StringLookup (the resizing
and affine augmentation layers are in image_preprocessing.py).

Rescaling and Normalization are fastnet.ops arithmetic (differentiable). The image
layers here only move pixels (crop = a slice, flip = a reversed view copied), so they
are numpy; the lookups and encodings are bookkeeping over numpy arrays.
"""

from __future__ import annotations

import itertools
import math
import os

import numpy as np

from fastnet import ops
from fastnet.backend.tensor import Tensor
from fastnet.layers.hashing import _StringInputLayer, fingerprint64, siphash64
from fastnet.layers.layer import Layer

EPSILON = 1e-7  # keras.config.epsilon() (fastnet.backend.set_epsilon updates it)


def _np(x):
    if isinstance(x, Tensor):
        return x._value
    return np.asarray(x)


def _config_dtype(config):
    config = dict(config)
    if isinstance(config.get("dtype"), dict):
        config["dtype"] = config["dtype"].get("config", {}).get("name")
    return config


# ---- numeric -----------------------------------------------------------------------

class Rescaling(Layer):
    """``inputs * scale + offset`` (cast to the layer's float dtype)."""

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = scale
        self.offset = offset
        self.supports_masking = True

    def call(self, inputs):
        x = ops.cast(inputs, self.dtype)
        scale = np.asarray(self.scale, self.dtype)
        offset = np.asarray(self.offset, self.dtype)
        return ops.add(ops.multiply(x, scale), offset)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        def ser(v):
            return np.asarray(v).tolist() if not isinstance(v, (int, float)) else v
        return {**super().get_config(), "scale": ser(self.scale), "offset": ser(self.offset)}

    @classmethod
    def from_config(cls, config):
        return cls(**_config_dtype(config))


def _batches(data, what):
    """(first batch shape, iterator over numpy batches) for adapt()."""
    if isinstance(data, (np.ndarray, Tensor)):
        arr = _np(data)
        return arr.shape, iter([arr]), False
    if isinstance(data, (list, tuple)) and data and np.isscalar(data[0]):
        arr = np.asarray(data)
        return arr.shape, iter([arr]), False
    if hasattr(data, "__getitem__") and hasattr(data, "__len__") and \
            type(data).__name__ != "list" and hasattr(data, "num_batches"):
        it = (data[i] for i in range(len(data)))
    elif hasattr(data, "__iter__"):
        it = iter(data)
    else:
        raise TypeError(f"{what}.adapt: unsupported data type {type(data).__name__}; pass a "
                        "numpy array, a Tensor, a PyDataset or an iterable of batches")
    first = next(it, None)
    if first is None:
        raise ValueError(f"{what}.adapt() received an empty iterable (no batches). Expected "
                         "at least one batch.")
    if isinstance(first, tuple):  # (x, y) batches: adapt on x
        def xs(b):
            return b[0] if isinstance(b, tuple) else b
        it = (xs(b) for b in it)
        first = first[0]
    first = _np(first)
    return first.shape, itertools.chain([first], (_np(b) for b in it)), True


class Normalization(Layer):
    """``(x - mean) / sqrt(var)`` per position of `axis` (kept axes), from
    ``mean``/``variance`` or ``adapt(data)``; ``invert=True`` maps back."""

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        if axis is None:
            axis = ()
        elif isinstance(axis, (int, np.integer)):
            axis = (int(axis),)
        else:
            axis = tuple(axis)
        self.axis = axis
        self.input_mean = mean
        self.input_variance = variance
        self.invert = invert
        self.supports_masking = True
        self._build_input_shape = None
        self._fixed_mean = self._fixed_variance = None  # from `mean` and `variance`
        if (mean is not None) != (variance is not None):
            raise ValueError("When setting values directly, both `mean` and `variance` must be "
                             f"set. Received: mean={mean} and variance={variance}")
        if mean is not None:
            if np.shape(mean) != np.shape(variance):
                raise ValueError("When setting values directly, `mean` and `variance` must have "
                                 f"the same shape. Received: mean shape {np.shape(mean)} and "
                                 f"variance shape {np.shape(variance)}")
            if len(np.shape(mean)) > len(self.axis):
                raise ValueError("The rank of `mean` must be less than or equal to the number "
                                 f"of axes ({len(self.axis)}). Received: mean shape "
                                 f"{np.shape(mean)} for axis {self.axis}")

    def build(self, input_shape):
        if input_shape is None:
            return
        input_shape = tuple(input_shape)
        ndim = len(input_shape)
        self._build_input_shape = input_shape
        if any(a < -ndim or a >= ndim for a in self.axis):
            raise ValueError("All `axis` values must be in the range [-ndim, ndim). Received "
                             f"inputs with ndim={ndim}, while axis={self.axis}")
        self._keep_axis = tuple(sorted(a % ndim for a in self.axis))
        for d in self._keep_axis:
            if input_shape[d] is None:
                raise ValueError(f"All `axis` values to be kept must have a known shape. "
                                 f"Received axis={self.axis}, inputs.shape={input_shape}, "
                                 f"with unknown axis at index {d}")
        self._reduce_axis = tuple(d for d in range(ndim) if d not in self._keep_axis)
        self._broadcast_shape = [input_shape[d] if d in self._keep_axis else 1
                                 for d in range(ndim)]
        self._mean_and_var_shape = tuple(input_shape[d] for d in self._keep_axis)
        if self.input_mean is None:
            self.adapt_mean = self.add_weight(name="mean", shape=self._mean_and_var_shape,
                                              initializer="zeros", trainable=False)
            self.adapt_variance = self.add_weight(name="variance",
                                                  shape=self._mean_and_var_shape,
                                                  initializer="ones", trainable=False)
            self.count = self.add_weight(name="count", shape=(), dtype="int64",
                                         initializer="zeros", trainable=False)
        else:
            mean = np.asarray(self.input_mean, np.float64)
            var = np.asarray(self.input_variance, np.float64)
            if mean.ndim:
                shape = [1] * ndim
                for i in range(1, mean.ndim + 1):
                    shape[self._keep_axis[-i]] = mean.shape[-i]
                mean, var = mean.reshape(shape), var.reshape(shape)
            self._fixed_mean = np.broadcast_to(mean, self._broadcast_shape).astype(self.dtype)
            self._fixed_variance = np.broadcast_to(var, self._broadcast_shape).astype(self.dtype)
        self.built = True

    # as Keras: `mean` and `variance` are the statistics in the broadcast shape, (1, d) for
    # (batch, d) inputs (the adapted ones, or those given), None before build
    @property
    def mean(self):
        if not self.built:
            return None
        return ops.convert_to_tensor(self._stats()[0])

    @property
    def variance(self):
        if not self.built:
            return None
        return ops.convert_to_tensor(self._stats()[1])

    def adapt(self, data):
        shape, batches, iterable = _batches(data, "Normalization")
        if not self.built:
            self.build(shape)
        else:
            for d in self._keep_axis:
                if shape[d] != self._build_input_shape[d]:
                    raise ValueError(f"The layer was built with input_shape="
                                     f"{self._build_input_shape}, but adapt() is being called "
                                     f"with data with an incompatible shape, data.shape={shape}")
        if self.input_mean is not None:
            raise ValueError("Normalization: cannot adapt a layer created with `mean` and "
                             "`variance`")
        total_mean = np.zeros(self._mean_and_var_shape, np.float64)
        total_var = np.zeros(self._mean_and_var_shape, np.float64)
        total = 0
        for batch in batches:
            batch = np.asarray(batch, np.float64)
            for d in self._keep_axis:
                if batch.shape[d] != self._build_input_shape[d]:
                    raise ValueError("adapt() yielded a batch with incompatible shape. Expected "
                                     f"{self._build_input_shape}, got {batch.shape}.")
            b_mean = batch.mean(axis=self._reduce_axis)
            b_var = batch.var(axis=self._reduce_axis)
            n = math.prod(batch.shape[d] for d in self._reduce_axis)
            total += n
            w = n / total
            new_mean = total_mean * (1 - w) + b_mean * w
            total_var = ((total_var + (total_mean - new_mean) ** 2) * (1 - w)
                         + (b_var + (b_mean - new_mean) ** 2) * w)
            total_mean = new_mean
        self.adapt_mean.assign(total_mean.astype(self.dtype))
        self.adapt_variance.assign(total_var.astype(self.dtype))
        self.count.assign(np.asarray(total, np.int64))

    def _stats(self):
        if self.input_mean is not None:
            return self._fixed_mean, self._fixed_variance
        return (self.adapt_mean.numpy().reshape(self._broadcast_shape),
                self.adapt_variance.numpy().reshape(self._broadcast_shape))

    def call(self, inputs):
        if not self.built:
            raise ValueError("You must call `.build(input_shape)` on the layer before using it.")
        mean, var = self._stats()
        x = ops.cast(inputs, self.dtype)
        std = np.maximum(np.sqrt(var), np.asarray(EPSILON, var.dtype)).astype(self.dtype)
        if self.invert:
            return ops.add(ops.multiply(x, std), mean)
        return ops.divide(ops.subtract(x, mean), std)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "invert": self.invert,
                "mean": np.array(self.input_mean).tolist(),
                "variance": np.array(self.input_variance).tolist()}

    @classmethod
    def from_config(cls, config):
        return cls(**_config_dtype(config))

    def get_build_config(self):
        if self._build_input_shape:
            return {"input_shape": self._build_input_shape}
        return None

    def build_from_config(self, config):
        if config:
            self.build(config["input_shape"])


# ---- images ------------------------------------------------------------------------

def _hw_axes(data_format, ndim, what):
    if ndim not in (3, 4):
        raise ValueError(f"{what}: expected images of rank 3 (H, W, C) or 4 (N, H, W, C), got "
                         f"rank {ndim}")
    return (ndim - 3, ndim - 2) if data_format == "channels_last" else (ndim - 2, ndim - 1)


def _data_format(data_format):
    if data_format is None:
        return "channels_last"
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError("The `data_format` argument must be one of 'channels_first', "
                         f"'channels_last'. Received: data_format={data_format}")
    return data_format


class CenterCrop(Layer):
    """Crops the central ``height x width`` window of images (the odd pixel goes to the
    bottom/right, as Keras). An input smaller than the target on either axis is resized
    as Keras's smart_resize: its largest central box of the target's aspect ratio,
    bilinearly resized to the target."""

    def __init__(self, height, width, data_format=None, **kwargs):
        super().__init__(**kwargs)
        for arg, value in (("height", height), ("width", width)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"CenterCrop: `{arg}` must be a positive integer. Received: "
                                 f"{arg}={value!r}")
        self.height = int(height)
        self.width = int(width)
        self.data_format = _data_format(data_format)

    def call(self, inputs):
        x = _np(inputs)
        ha, wa = _hw_axes(self.data_format, x.ndim, "CenterCrop")
        h, w = x.shape[ha], x.shape[wa]
        if h < self.height or w < self.width:
            from fastnet.ops import image as _image

            xf = x.astype(self.dtype) if x.dtype != np.dtype(self.dtype) else x
            return _image.resize(xf, (self.height, self.width), crop_to_aspect_ratio=True,
                                 data_format=self.data_format)
        top, left = (h - self.height) // 2, (w - self.width) // 2
        key = [slice(None)] * x.ndim
        key[ha] = slice(top, top + self.height)
        key[wa] = slice(left, left + self.width)
        if isinstance(inputs, Tensor) and x.dtype.kind == "f":
            return inputs[tuple(key)]  # a slicing op: the input gradient flows (as Keras)
        out = np.ascontiguousarray(x[tuple(key)])
        return Tensor(out.astype(self.dtype) if out.dtype.kind != "f" else out)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        ha, wa = _hw_axes(self.data_format, len(shape), "CenterCrop")
        shape[ha], shape[wa] = self.height, self.width
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width,
                "data_format": self.data_format}

    @classmethod
    def from_config(cls, config):
        return cls(**_config_dtype(config))


class RandomFlip(Layer):
    """Flips each image (independently, probability 1/2) horizontally, vertically or
    both; inactive with training=False (predict/evaluate), active in fit and, as in
    Keras, in a direct call without a training flag. ``seed`` fixes the layer's stream; without it the draws
    come from fastnet.random's global generator (``fastnet.utils.set_random_seed``)."""
    _convert_input_args = False  # raw data in any dtype, as Keras

    _MODES = ("horizontal", "vertical", "horizontal_and_vertical")

    def __init__(self, mode="horizontal_and_vertical", seed=None, data_format=None, **kwargs):
        super().__init__(**kwargs)
        if mode not in self._MODES:
            raise ValueError(f"RandomFlip layer {self.name} received an unknown mode argument "
                             f"{mode!r}; expected one of {self._MODES}")
        self.mode = mode
        self.seed = seed
        self.data_format = _data_format(data_format)
        self._rng = None if seed is None else np.random.default_rng(seed)

    def call(self, inputs, training=True):
        x = _np(inputs)
        if x.dtype.kind != "f" or x.dtype != np.dtype(self.dtype):
            x = x.astype(self.dtype)
        if training is None:  # as Keras: a direct call augments; fit passes True,
            training = True   # predict/evaluate pass False
        differentiable = isinstance(inputs, Tensor) and inputs.dtype == x.dtype
        if not training:
            return inputs if differentiable else Tensor(x)
        ha, wa = _hw_axes(self.data_format, x.ndim, "RandomFlip")
        from fastnet import random as _random

        rng = self._rng if self._rng is not None else _random._rng(None)
        batched = x.ndim == 4
        xb = x if batched else x[None]
        ha, wa = (ha + (0 if batched else 1), wa + (0 if batched else 1))
        flips = rng.uniform(size=xb.shape[0]) <= 0.5
        if differentiable and batched:  # flips as ops: the input gradient flows (as Keras)
            flipped = inputs
            if self.mode in ("horizontal", "horizontal_and_vertical"):
                flipped = ops.flip(flipped, axis=wa)
            if self.mode in ("vertical", "horizontal_and_vertical"):
                flipped = ops.flip(flipped, axis=ha)
            where = flips.reshape((-1,) + (1,) * (x.ndim - 1))
            return ops.where(ops.convert_to_tensor(np.broadcast_to(where, x.shape)), flipped,
                             inputs)
        out = np.array(xb)
        if flips.any():
            sel = out[flips]
            if self.mode in ("horizontal", "horizontal_and_vertical"):
                sel = np.flip(sel, axis=wa)
            if self.mode in ("vertical", "horizontal_and_vertical"):
                sel = np.flip(sel, axis=ha)
            out[flips] = sel
        return Tensor(out if batched else out[0])

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "seed": self.seed, "mode": self.mode,
                "data_format": self.data_format}

    @classmethod
    def from_config(cls, config):
        return cls(**_config_dtype(config))


# ---- categorical ---------------------------------------------------------------------

def _encode(indices, output_mode, depth, dtype, count_weights=None):
    """Keras's encode_categorical_inputs on numpy: one_hot / multi_hot / count (values
    outside [0, depth) contribute nothing); multi_hot and count reduce axis 1 of a
    rank >= 2 input (axis 0 of a vector)."""
    idx = np.asarray(indices)
    if output_mode == "int":
        return idx.astype(dtype)
    if idx.ndim == 0:
        idx = idx[None]
    if output_mode == "one_hot" and idx.ndim > 1 and idx.shape[-1] == 1:
        idx = idx.reshape(idx.shape[:-1])
    valid = (idx >= 0) & (idx < depth)
    hot = np.zeros(idx.shape + (depth,), dtype)
    safe = np.where(valid, idx, 0).astype(np.int64)
    np.put_along_axis(hot, safe[..., None], valid[..., None].astype(dtype), axis=-1)
    if output_mode == "one_hot":
        return hot
    axis = 1 if idx.ndim > 1 else 0
    if output_mode == "multi_hot":
        return hot.max(axis=axis, initial=0)  # initial: an empty batch or sequence
    if count_weights is not None:
        hot = hot * np.asarray(count_weights, dtype)[..., None]
    return hot.sum(axis=axis)


def _encoded_shape(input_shape, output_mode, depth):
    input_shape = tuple(input_shape)
    if output_mode == "int":
        return input_shape
    if len(input_shape) == 0:
        return (depth,)
    if output_mode == "one_hot":
        if len(input_shape) > 1 and input_shape[-1] == 1:
            return input_shape[:-1] + (depth,)
        return input_shape + (depth,)
    # multi_hot/count reduce axis 1 (axis 0 of a vector), as the eager call (and Keras's own
    # eager call: its compute_output_shape says input_shape[:-1] + (depth,), which disagrees
    # with what it computes for inputs of rank 3 and more)
    if len(input_shape) == 1:
        return (depth,)
    return input_shape[:1] + input_shape[2:] + (depth,)


class CategoryEncoding(Layer):
    """Integer indices in [0, num_tokens) to one_hot / multi_hot (default) / count
    vectors; ``call(inputs, count_weights=None)`` weights counts."""

    def __init__(self, num_tokens=None, output_mode="multi_hot", sparse=False, **kwargs):
        super().__init__(**kwargs)
        if output_mode == "binary":
            output_mode = "multi_hot"
        if output_mode not in ("count", "one_hot", "multi_hot"):
            raise ValueError(f"Unknown arg for output_mode: {output_mode}")
        if num_tokens is None:
            raise ValueError("num_tokens must be set to use this layer. If the number of "
                             "tokens is not known beforehand, use the IntegerLookup layer "
                             "instead.")
        if (isinstance(num_tokens, bool) or not isinstance(num_tokens, (int, np.integer))
                or num_tokens < 1):
            raise ValueError(f"`num_tokens` must be an integer >= 1. Received: "
                             f"num_tokens={num_tokens!r}.")
        if sparse:
            raise ValueError("CategoryEncoding: sparse=True is not supported by fastnet "
                             "(dense arrays only)")
        self.num_tokens = int(num_tokens)
        self.output_mode = output_mode
        self.sparse = sparse

    def call(self, inputs, count_weights=None):
        if count_weights is not None and self.output_mode != "count":
            raise ValueError("`count_weights` is not used when `output_mode` is not `'count'`. "
                             f"Received `count_weights={count_weights}`.")
        idx = _np(inputs)
        if idx.dtype.kind == "f":
            if not np.all(idx == np.round(idx)):
                raise ValueError("CategoryEncoding: inputs must be integer indices, got "
                                 "non-integer floats")
            idx = idx.astype(np.int64)
        elif idx.dtype.kind not in "iub":
            raise TypeError(f"CategoryEncoding: inputs must be integers, got dtype {idx.dtype}")
        return Tensor(_encode(idx, self.output_mode, self.num_tokens, self.dtype,
                              None if count_weights is None else _np(count_weights)))

    def compute_output_shape(self, input_shape):
        return _encoded_shape(input_shape, self.output_mode, self.num_tokens)

    def get_config(self):
        return {**super().get_config(), "num_tokens": self.num_tokens,
                "output_mode": self.output_mode}

    @classmethod
    def from_config(cls, config):
        return cls(**_config_dtype(config))


# Discretization's quantile summaries: a summary is a (2, n) array of (values, weights);
# summaries of batches are merged and compressed to 1/epsilon points, then the
# num_bins - 1 boundaries are read off the cumulative weights (the same algorithm as
# Keras, so adapt() gives Keras's boundaries).

def _summarize(values, epsilon):
    values = np.sort(np.reshape(values, -1))
    step = max(values.size * epsilon, 1)
    picked = values[int(step - 1)::int(step)]
    return np.stack([picked, np.full(picked.shape, step, picked.dtype)])


def _compress(summary, epsilon):
    if summary.shape[1] * epsilon < 1:
        return summary
    percents = epsilon + np.arange(0.0, 1.0, epsilon)
    cum = summary[1].cumsum()
    frac = cum / cum[-1]
    bins = np.interp(percents, frac, summary[0])
    cum_new = np.interp(percents, frac, cum)
    weights = cum_new - np.concatenate(([0.0], cum_new[:-1]))
    return np.stack((bins, weights)).astype("float32")


def _merge(a, b, epsilon):
    both = np.concatenate((a, b), axis=1)
    return _compress(both[:, np.argsort(both[0])], epsilon)


class Discretization(Layer):
    """Buckets values by ``bin_boundaries`` (bucket i holds [b[i-1], b[i])) or by
    ``num_bins`` quantiles learned with ``adapt``; output_mode int (default) /
    one_hot / multi_hot / count."""

    def __init__(self, bin_boundaries=None, num_bins=None, epsilon=0.01, output_mode="int",
                 sparse=False, dtype=None, name=None, **kwargs):
        super().__init__(name=name, dtype=dtype, **kwargs)
        if sparse:
            raise ValueError("Discretization: sparse=True is not supported by fastnet")
        if output_mode not in ("int", "one_hot", "multi_hot", "count"):
            raise ValueError("The `output_mode` argument of Discretization must be one of "
                             "'int', 'one_hot', 'multi_hot', 'count'. Received: "
                             f"output_mode={output_mode}")
        if num_bins is not None and num_bins < 0:
            raise ValueError("`num_bins` must be greater than or equal to 0. Received: "
                             f"`num_bins={num_bins}`")
        if num_bins is not None and bin_boundaries is not None:
            raise ValueError("Both `num_bins` and `bin_boundaries` should not be set. Received: "
                             f"`num_bins={num_bins}` and `bin_boundaries={bin_boundaries}`")
        if num_bins is None and bin_boundaries is None:
            raise ValueError("You need to set either `num_bins` or `bin_boundaries`.")
        self.bin_boundaries = None if bin_boundaries is None else list(bin_boundaries)
        self.num_bins = num_bins
        self.epsilon = epsilon
        self.output_mode = output_mode
        self.sparse = sparse
        self.summary = None if self.bin_boundaries else np.zeros((2, 0), np.float32)

    def _output_dtype(self, inputs):
        return "int32" if self.output_mode == "int" else self.dtype

    def adapt(self, data, steps=None):
        if self.num_bins is None:
            raise ValueError("Cannot adapt a Discretization layer that has been initialized "
                             "with `bin_boundaries`, use `num_bins` instead.")
        self.summary = np.zeros((2, 0), np.float32)
        if isinstance(data, (np.ndarray, Tensor)) or not hasattr(data, "__iter__"):
            batches = [data]
        else:
            batches = data
        for i, batch in enumerate(batches):
            if steps is not None and i >= steps:
                break
            if isinstance(batch, tuple):
                batch = batch[0]
            self.update_state(batch)
        self.finalize_state()

    def update_state(self, data):
        s = _summarize(np.array(_np(data)).astype("float32"), self.epsilon)
        self.summary = _merge(s, self.summary, self.epsilon)

    def finalize_state(self):
        if self.num_bins is None:
            return
        self.bin_boundaries = _compress(self.summary, 1.0 / self.num_bins)[0, :-1].tolist()

    def reset_state(self):
        if self.num_bins is not None:
            self.summary = np.zeros((2, 0), np.float32)

    def call(self, inputs):
        if self.bin_boundaries is None:
            raise ValueError("You need to either pass the `bin_boundaries` argument at "
                             "construction time or call `adapt(dataset)` before you can start "
                             "using the `Discretization` layer.")
        idx = np.digitize(_np(inputs), np.asarray(self.bin_boundaries, np.float64))
        return Tensor(_encode(idx.astype(np.int32), self.output_mode,
                              len(self.bin_boundaries) + 1, self._output_dtype(None)))

    def compute_output_shape(self, input_shape):
        if self.output_mode == "int":
            return tuple(input_shape)
        depth = len(self.bin_boundaries) + 1 if self.bin_boundaries is not None \
            else self.num_bins
        if self.output_mode == "one_hot":
            return _encoded_shape(input_shape, "one_hot", depth)
        if input_shape and len(input_shape) >= 2:
            return (input_shape[0],) + tuple(input_shape[2:]) + (depth,)
        return (depth,)

    def get_config(self):
        return {"bin_boundaries": self.bin_boundaries, "num_bins": self.num_bins,
                "epsilon": self.epsilon, "output_mode": self.output_mode,
                "sparse": self.sparse, "name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        config = _config_dtype(config)
        if config.get("bin_boundaries") is not None and config.get("num_bins") is not None:
            bounds = config.pop("bin_boundaries")
            layer = cls(**config)
            layer.bin_boundaries = list(bounds)
            return layer
        return cls(**config)


# ---- lookups ---------------------------------------------------------------------------

class _IndexLookup(_StringInputLayer):
    """Token -> index maps with Keras's index layout: [mask (int mode, if mask_token)]
    [num_oov_indices OOV slots] [vocabulary, most frequent first after adapt]."""
    _convert_input_args = False  # raw data in any dtype, as Keras

    _vocab_kind = None  # "string" or "int"

    def __init__(self, max_tokens, num_oov_indices, mask_token, oov_token, vocabulary_dtype,
                 vocabulary=None, idf_weights=None, invert=False, output_mode="int",
                 sparse=False, pad_to_max_tokens=False, name=None, **kwargs):
        kwargs.pop("vocabulary_size", None)
        kwargs.pop("has_input_vocabulary", None)
        oov_method = kwargs.pop("oov_method", "floormod")
        salt = kwargs.pop("salt", None)
        encoding = kwargs.pop("encoding", "utf-8")
        dtype = kwargs.pop("dtype", None)
        kwargs.pop("trainable", None)
        super().__init__(name=name, **kwargs)
        del dtype  # the output dtype follows output_mode, as Keras
        if max_tokens is not None and max_tokens <= 1:
            raise ValueError("If set, `max_tokens` must be greater than 1. Received: "
                             f"max_tokens={max_tokens}")
        if pad_to_max_tokens and max_tokens is None:
            raise ValueError("If pad_to_max_tokens is True, must set `max_tokens`. Received: "
                             f"max_tokens={max_tokens}")
        if num_oov_indices < 0:
            raise ValueError("`num_oov_indices` must be greater than or equal to 0. Received: "
                             f"num_oov_indices={num_oov_indices}")
        if output_mode == "binary":
            output_mode = "multi_hot"
        if output_mode == "tf-idf":
            output_mode = "tf_idf"
        if output_mode not in ("int", "one_hot", "multi_hot", "count", "tf_idf"):
            raise ValueError(f"The `output_mode` argument of {type(self).__name__} must be one "
                             "of 'int', 'one_hot', 'multi_hot', 'count', 'tf_idf'. Received: "
                             f"output_mode={output_mode}")
        if invert and output_mode != "int":
            raise ValueError("`output_mode` must be `'int'` when `invert` is true. Received: "
                             f"output_mode={output_mode}")
        if sparse:
            raise ValueError(f"{type(self).__name__}: sparse=True is not supported by fastnet")
        if idf_weights is not None and output_mode != "tf_idf":
            raise ValueError("`idf_weights` should only be set if `output_mode` is 'tf_idf'. "
                             f"Received: idf_weights={idf_weights} and output_mode={output_mode}")
        if oov_method not in ("floormod", "farmhash"):
            raise ValueError(f"{type(self).__name__}: `oov_method` must be one of 'floormod', "
                             f"'farmhash'. Received: oov_method={oov_method!r}")
        if salt is not None:
            if self._vocab_kind == "int" and oov_method != "farmhash":
                raise ValueError("`salt` can only be used when `oov_method='farmhash'`. "
                                 f"Received: oov_method={oov_method}")
            if isinstance(salt, (tuple, list)) and len(salt) == 2:
                salt = [int(v) for v in salt]
            elif isinstance(salt, int) and not isinstance(salt, bool):
                salt = [salt, salt]
            else:
                raise ValueError("The `salt` argument for `IndexLookup` can only be a tuple of 2 "
                                 f"integers, or a single integer. Received: salt={salt}.")
        self.oov_method = oov_method
        self.salt = salt
        self.invert = invert
        self.max_tokens = max_tokens
        self.num_oov_indices = int(num_oov_indices)
        self.mask_token = mask_token
        self.oov_token = oov_token
        self.output_mode = output_mode
        self.sparse = sparse
        self.pad_to_max_tokens = pad_to_max_tokens
        self.vocabulary_dtype = vocabulary_dtype
        self.encoding = encoding
        self.input_vocabulary = vocabulary if not isinstance(vocabulary, str) else None
        self.input_idf_weights = idf_weights
        self._has_input_vocabulary = vocabulary is not None
        self._tokens = []
        self._index = {}
        self.idf_weights = None
        if output_mode == "tf_idf" and vocabulary is not None and idf_weights is None:
            raise ValueError("When specifying the `vocabulary` argument, in TF-IDF output mode, "
                             "the `idf_weights` argument must also be provided.")
        if vocabulary is not None:
            if isinstance(vocabulary, str):
                with open(vocabulary, encoding=encoding) as f:
                    vocabulary = [ln for ln in f.read().splitlines()]
                while vocabulary and vocabulary[-1] == "":
                    vocabulary.pop()
                if self._vocab_kind == "int":
                    vocabulary = [int(v) for v in vocabulary]
            self.set_vocabulary(vocabulary, idf_weights)
        self.built = True

    # index layout
    def _oov_start_index(self):
        return 1 if self.mask_token is not None and self.output_mode == "int" else 0

    def _token_start_index(self):
        return self._oov_start_index() + self.num_oov_indices

    def _key(self, t):
        if self._vocab_kind == "string":
            return t.decode(self.encoding) if isinstance(t, bytes) else str(t)
        return int(t)

    def vocabulary_size(self):
        return len(self._tokens) + self._token_start_index()

    def get_vocabulary(self, include_special_tokens=True):
        vocab = [self.oov_token] * self._token_start_index() + list(self._tokens)
        if self.mask_token is not None and self.output_mode == "int":
            vocab[0] = self.mask_token
        if not include_special_tokens:
            vocab = vocab[self._token_start_index():]
        return vocab

    def set_vocabulary(self, vocabulary, idf_weights=None):
        if self.output_mode == "tf_idf":
            if idf_weights is None:
                raise ValueError("`idf_weights` must be set if output_mode is 'tf_idf'.")
        elif idf_weights is not None:
            raise ValueError("`idf_weights` should only be set if output_mode is `'tf_idf'`. "
                             f"Received: output_mode={self.output_mode} and "
                             f"idf_weights={idf_weights}")
        vocab = [self._key(t) for t in (_np(vocabulary).tolist()
                                        if isinstance(vocabulary, (np.ndarray, Tensor))
                                        else list(vocabulary))]
        if not vocab:
            raise ValueError(f"Cannot set an empty vocabulary. Received: vocabulary={vocabulary}")
        start = self._token_start_index()
        special = [self.mask_token] * self._oov_start_index() + \
            [self.oov_token] * self.num_oov_indices
        found_special = vocab[:start] == special
        tokens = vocab[start:] if found_special else vocab
        seen, repeated = set(), []
        for t in tokens:
            if t in seen:
                repeated.append(t)
            seen.add(t)
        if repeated:
            raise ValueError("The passed vocabulary has at least one repeated term. Please "
                             f"uniquify your dataset. The repeated terms are: {repeated}")
        if self.mask_token is not None and self.mask_token in tokens:
            raise ValueError("Found reserved mask token at unexpected location in `vocabulary`. "
                             "Either remove all mask and OOV tokens, or include them only at "
                             f"the start of the vocabulary in precisely this order: {special}. "
                             f"Received: mask_token={self.mask_token}")
        if self.oov_token is not None and self.invert and self.oov_token in tokens:
            raise ValueError("Found reserved OOV token at unexpected location in `vocabulary`. "
                             f"Received: oov_token={self.oov_token}")
        if self.max_tokens is not None and start + len(tokens) > self.max_tokens:
            raise ValueError("Attempted to set a vocabulary larger than the maximum vocab size. "
                             f"Received vocabulary size is {start + len(tokens)}; `max_tokens` "
                             f"is {self.max_tokens}.")
        self._set_tokens(tokens)
        if self.output_mode == "tf_idf":
            w = np.asarray(_np(idf_weights), np.float64)
            if w.ndim != 1:
                raise ValueError("TF-IDF data must be a 1-index array. "
                                 f"Received: idf_weights of shape {w.shape}")
            if len(w) != len(vocab):
                raise ValueError("`idf_weights` must be the same length as vocabulary. "
                                 f"len(idf_weights) is {len(w)}; len(vocabulary) is {len(vocab)}")
            front = 0 if found_special else start
            self._set_idf(w, front, 0.0 if found_special else float(np.mean(w)))

    def _set_tokens(self, tokens):
        self._tokens = list(tokens)
        start = self._token_start_index()
        self._index = {t: start + i for i, t in enumerate(self._tokens)}
        self._inverse = {i: t for t, i in self._index.items()}

    def _set_idf(self, w, front, front_value):
        back = 0
        if self.pad_to_max_tokens and self.max_tokens is not None:
            back = self.max_tokens - front - len(w)
        self.idf_weights = np.pad(w, (front, back), constant_values=(front_value, 0.0)).astype(
            np.float32)

    def adapt(self, data, steps=None):
        if self._has_input_vocabulary:
            raise ValueError(f"Cannot adapt layer '{self.name}' after setting a static "
                             "vocabulary via `vocabulary` argument or `set_vocabulary()` "
                             "method.")
        if isinstance(data, (list, tuple, np.ndarray, Tensor)):
            arr = np.asarray(_np(data) if isinstance(data, Tensor) else data)
            batches = [arr[:, None] if arr.ndim == 1 else arr]
        else:
            batches = data
        counts, doc_counts, n_docs = {}, {}, 0
        for i, batch in enumerate(batches):
            if steps is not None and i >= steps:
                break
            b = np.asarray(_np(batch[0] if isinstance(batch, tuple) else batch))
            if b.ndim == 0:
                b = b[None]
            if b.ndim == 1:
                b = b[None]
            for t in b.reshape(-1).tolist():
                k = self._key(t)
                counts[k] = counts.get(k, 0) + 1
            if self.output_mode == "tf_idf":
                for row in b.reshape(b.shape[0], -1):
                    for k in {self._key(t) for t in row.tolist()}:
                        doc_counts[k] = doc_counts.get(k, 0) + 1
                n_docs += b.shape[0]
        counts.pop(self.mask_token, None)
        counts.pop(self.oov_token, None)
        # most frequent first; ties: the larger token first (Keras's reversed lexsort)
        tokens = sorted(counts, key=lambda t: (counts[t], t), reverse=True)
        if self.max_tokens:
            tokens = tokens[:self.max_tokens - self._token_start_index()]
        self._set_tokens(tokens)
        if self.output_mode == "tf_idf":
            dc = np.array([doc_counts.get(t, 0) for t in tokens], np.float64)
            idf = np.log(1.0 + n_docs / (1.0 + dc))
            self._set_idf(idf, self._token_start_index(),
                          float(np.mean(idf)) if idf.size else 0.0)

    def _lookup(self, x):
        flat = x.reshape(-1).tolist()
        if self.invert:
            if x.dtype.kind not in "iu":
                raise TypeError(f"{type(self).__name__} (invert=True): inputs must be integer "
                                f"indices, got dtype {x.dtype}")
            keys = [int(t) for t in flat]
            out = np.empty(len(keys), dtype=object if self._vocab_kind == "string" else np.int64)
            for i, k in enumerate(keys):
                if self.mask_token is not None and k == 0:
                    out[i] = self.mask_token
                else:
                    out[i] = self._inverse.get(k, self.oov_token)
            if self._vocab_kind == "string":
                out = out.astype(str)
            return out.reshape(x.shape)
        keys = [self._key(t) for t in flat]
        mask_value = 0 if self.output_mode == "int" else np.iinfo(np.int64).max
        out = np.empty(len(keys), np.int64)
        oov = []
        for i, k in enumerate(keys):
            if self.mask_token is not None and k == self.mask_token:
                out[i] = mask_value
                continue
            j = self._index.get(k)
            if j is None:
                if self.num_oov_indices == 0:
                    oov.append(flat[i])
                    j = -1
                elif self.num_oov_indices == 1:
                    j = self._oov_start_index()
                else:
                    j = self._oov_start_index() + self._oov_bucket(k)
            out[i] = j
        if oov:
            raise ValueError("When `num_oov_indices=0` all inputs should be in vocabulary, "
                             f"found OOV values {oov[:10]}, consider setting "
                             "`num_oov_indices=1`.")
        return out.reshape(x.shape)

    # ---- files: an adapted vocabulary is the asset vocabulary.txt (as Keras) ------------
    def save_assets(self, dir_path):
        """Writes the vocabulary (special tokens first, one per line) to
        ``dir_path/vocabulary.txt``; a vocabulary given to the constructor is in the
        config instead."""
        if self.input_vocabulary is not None:
            return
        with open(os.path.join(dir_path, "vocabulary.txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(str(w) for w in self.get_vocabulary(include_special_tokens=True)))

    def load_assets(self, dir_path):
        if self.input_vocabulary is not None:
            return
        path = os.path.join(dir_path, "vocabulary.txt")
        if not os.path.exists(path):
            return  # saved before adapt(): nothing was learned
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
        while lines and lines[-1] == "":
            lines.pop()
        if not lines:
            return
        if self.output_mode == "tf_idf":
            raise NotImplementedError(f"{type(self).__name__} {self.name!r}: loading an "
                                      "adapted vocabulary in output_mode='tf_idf' (its "
                                      "idf_weights are not stored by fastnet) is not "
                                      "supported; pass `vocabulary` and `idf_weights`")
        values = lines if self._vocab_kind == "string" else [int(v) for v in lines]
        self.set_vocabulary(values)

    def _oov_bucket(self, k):
        """Keras's OOV slot for num_oov_indices > 1: floormod for integers (unless
        oov_method='farmhash'), else TensorFlow's to_hash_bucket_fast (FarmHash Fingerprint64)
        of the token's string, or to_hash_bucket_strong (SipHash keyed by `salt`)."""
        if self._vocab_kind == "int" and self.oov_method != "farmhash":
            return k % self.num_oov_indices
        s = k if self._vocab_kind == "string" else str(k)
        h = siphash64(self.salt, s) if self.salt is not None else fingerprint64(s)
        return h % self.num_oov_indices

    def call(self, inputs):
        x = np.asarray(_np(inputs) if isinstance(inputs, Tensor) else inputs)
        scalar = x.ndim == 0
        if scalar:
            x = x[None]
        idx = self._lookup(x)
        if self.output_mode == "int":
            idx = idx[0] if scalar else idx
            return idx if idx.dtype.kind in "UO" else Tensor(np.asarray(idx))
        depth = self.max_tokens if self.pad_to_max_tokens else self.vocabulary_size()
        mode = "count" if self.output_mode == "tf_idf" else self.output_mode
        out = _encode(idx, mode, depth, "float32")
        if self.output_mode == "tf_idf":
            out = out * self.idf_weights[:depth]
        return Tensor(out.astype(np.float32))

    def _output_dtype(self, inputs):
        if self.output_mode == "int":
            return "int64" if not self.invert else self.vocabulary_dtype
        return "float32"

    def compute_output_shape(self, input_shape):
        if self.output_mode == "int":
            return tuple(input_shape)
        depth = self.max_tokens if self.pad_to_max_tokens else self.vocabulary_size()
        return _encoded_shape(input_shape, "one_hot" if self.output_mode == "one_hot"
                              else "multi_hot", depth)

    def get_config(self):
        return {**super().get_config(), "invert": self.invert, "max_tokens": self.max_tokens,
                "num_oov_indices": self.num_oov_indices, "oov_token": self.oov_token,
                "mask_token": self.mask_token, "output_mode": self.output_mode,
                "sparse": self.sparse, "pad_to_max_tokens": self.pad_to_max_tokens,
                "vocabulary_dtype": self.vocabulary_dtype,
                "idf_weights": None if self.input_idf_weights is None
                else np.asarray(_np(self.input_idf_weights)).tolist(),
                "vocabulary": None if self.input_vocabulary is None
                else list(np.asarray(_np(self.input_vocabulary)).tolist()),
                "vocabulary_size": self.vocabulary_size(), "oov_method": self.oov_method,
                "salt": self.salt}


class IntegerLookup(_IndexLookup):
    """Integer tokens -> contiguous indices (and back with ``invert=True``).
    Defaults as Keras: ``num_oov_indices=1``, ``mask_token=None``, ``oov_token=-1``."""

    _vocab_kind = "int"

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token=-1,
                 vocabulary=None, vocabulary_dtype="int64", idf_weights=None, invert=False,
                 output_mode="int", sparse=False, pad_to_max_tokens=False, name=None,
                 **kwargs):
        if vocabulary_dtype != "int64":
            raise ValueError("IntegerLookup: `vocabulary_dtype` only supports 'int64'. Received: "
                             f"vocabulary_dtype={vocabulary_dtype}")
        super().__init__(max_tokens=max_tokens, num_oov_indices=num_oov_indices,
                         mask_token=mask_token, oov_token=oov_token,
                         vocabulary_dtype=vocabulary_dtype, vocabulary=vocabulary,
                         idf_weights=idf_weights, invert=invert, output_mode=output_mode,
                         sparse=sparse, pad_to_max_tokens=pad_to_max_tokens, name=name,
                         **kwargs)

    def _key(self, t):
        if isinstance(t, float) and t != int(t):
            raise ValueError(f"IntegerLookup: inputs must be integers, got {t}")
        return int(t)


class StringLookup(_IndexLookup):
    """String tokens -> contiguous indices (and back with ``invert=True``).
    Defaults as Keras: ``num_oov_indices=1``, ``mask_token=None``, ``oov_token='[UNK]'``."""

    _vocab_kind = "string"

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token="[UNK]",
                 vocabulary=None, idf_weights=None, invert=False, output_mode="int",
                 pad_to_max_tokens=False, sparse=False, encoding="utf-8", name=None, **kwargs):
        kwargs.pop("vocabulary_dtype", None)
        super().__init__(max_tokens=max_tokens, num_oov_indices=num_oov_indices,
                         mask_token=mask_token, oov_token=oov_token, vocabulary_dtype="string",
                         vocabulary=vocabulary, idf_weights=idf_weights, invert=invert,
                         output_mode=output_mode, sparse=sparse,
                         pad_to_max_tokens=pad_to_max_tokens, name=name, encoding=encoding,
                         **kwargs)

    def get_config(self):
        config = super().get_config()
        config["encoding"] = self.encoding
        del config["vocabulary_dtype"]
        return config
