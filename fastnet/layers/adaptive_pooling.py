"""Adaptive pooling, as keras.layers: AdaptiveAveragePooling1D/2D/3D and
AdaptiveMaxPooling1D/2D/3D.

The output has a fixed spatial size; output cell i of an axis of length L pools the input
window ``[floor(i * L / out), ceil((i + 1) * L / out))`` (Keras's and PyTorch's bins). Both
reductions are separable, so each spatial axis is pooled in turn: one gather of the
windows (padded to the largest window with -inf for max, 0 for the average), one
reduction. Differentiable w.r.t. the input (the gather's backward adds into overlapping
windows).
"""

from __future__ import annotations

import numpy as np

from fastnet import ops
from fastnet.layers.layer import InputSpec, Layer


def _windows(length, out):
    """(out, widest) gather indices (``length`` = the padding slot) and window sizes."""
    i = np.arange(out)
    starts = (i * length) // out
    ends = -((-(i + 1) * length) // out)  # ceil
    sizes = ends - starts
    width = int(sizes.max())
    idx = starts[:, None] + np.arange(width)[None, :]
    idx = np.where(np.arange(width)[None, :] < sizes[:, None], idx, length)
    return idx.astype(np.int64), sizes


def adaptive_pool_axis(x, axis, out, kind):
    """Pools axis ``axis`` of ``x`` to ``out`` cells ('max' or 'average')."""
    length = x.shape[axis]
    idx, sizes = _windows(length, out)
    fill_shape = list(x.shape)
    fill_shape[axis] = 1
    fill = -np.inf if kind == "max" else 0.0
    padded = ops.concatenate([x, ops.convert_to_tensor(np.full(fill_shape, fill, x.dtype))],
                             axis=axis)
    win = ops.take(padded, ops.convert_to_tensor(idx), axis=axis)  # (..., out, width, ...)
    if kind == "max":
        return ops.max(win, axis=axis + 1)
    shape = [1] * win.ndim
    shape[axis] = out
    total = ops.sum(win, axis=axis + 1)
    del shape[axis + 1]
    return total / ops.convert_to_tensor(sizes.reshape(shape).astype(x.dtype))


class _AdaptivePooling(Layer):
    rank = 2
    kind = "average"

    def __init__(self, output_size, data_format=None, **kwargs):
        super().__init__(**kwargs)
        n = self.rank
        names = {1: "an integer or (length,) tuple", 2: "an integer or (height, width) tuple",
                 3: "an integer or (depth, height, width) tuple"}[n]
        if isinstance(output_size, (int, np.integer)) and not isinstance(output_size, bool):
            size = (int(output_size),) * n
        elif isinstance(output_size, (tuple, list)) and len(output_size) == n and all(
                isinstance(s, (int, np.integer)) and not isinstance(s, bool)
                for s in output_size):
            size = tuple(int(s) for s in output_size)
        else:
            raise TypeError(f"`output_size` must be {names}. Received: {output_size} of type "
                            f"{type(output_size)}")
        if min(size) <= 0:
            raise ValueError(f"{type(self).__name__}: `output_size` must be positive. "
                             f"Received: output_size={output_size}")
        self.output_size = size
        from fastnet.layers.core import _data_format

        self.data_format = _data_format(data_format, self)
        self.input_spec = InputSpec(ndim=n + 2)
        self.built = True

    def _spatial_axes(self):
        start = 1 if self.data_format == "channels_last" else 2
        return tuple(range(start, start + self.rank))

    def call(self, inputs):
        x = ops.convert_to_tensor(inputs)
        if x.dtype not in ("float16", "float32", "float64"):
            x = ops.cast(x, self.dtype)
        for axis, out in zip(self._spatial_axes(), self.output_size):
            if x.shape[axis] == 0:
                raise ValueError(f"{type(self).__name__} {self.name!r}: cannot pool an empty "
                                 f"axis {axis} (input shape {tuple(inputs.shape)})")
            x = adaptive_pool_axis(x, axis, out, self.kind)
        return x

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        for axis, out in zip(self._spatial_axes(), self.output_size):
            shape[axis] = out
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "output_size": list(self.output_size),
                "data_format": self.data_format}


class AdaptiveAveragePooling1D(_AdaptivePooling):
    """Average pooling of (batch, steps, channels) to ``output_size`` steps."""

    rank, kind = 1, "average"


class AdaptiveAveragePooling2D(_AdaptivePooling):
    """Average pooling of images to ``output_size`` = (height, width)."""

    rank, kind = 2, "average"


class AdaptiveAveragePooling3D(_AdaptivePooling):
    """Average pooling of volumes to ``output_size`` = (depth, height, width)."""

    rank, kind = 3, "average"


class AdaptiveMaxPooling1D(_AdaptivePooling):
    """Max pooling of (batch, steps, channels) to ``output_size`` steps."""

    rank, kind = 1, "max"


class AdaptiveMaxPooling2D(_AdaptivePooling):
    """Max pooling of images to ``output_size`` = (height, width)."""

    rank, kind = 2, "max"


class AdaptiveMaxPooling3D(_AdaptivePooling):
    """Max pooling of volumes to ``output_size`` = (depth, height, width)."""

    rank, kind = 3, "max"


__all__ = ["AdaptiveAveragePooling1D", "AdaptiveAveragePooling2D", "AdaptiveAveragePooling3D",
           "AdaptiveMaxPooling1D", "AdaptiveMaxPooling2D", "AdaptiveMaxPooling3D"]
