"""Pooling layers: Max/AveragePooling1D/2D/3D, GlobalMax/AveragePooling1D/2D/3D.

The pooling kernels are channels-last; ``data_format='channels_first'`` transposes the
input to channels-last and the output back (global pooling just reduces other axes)."""

from __future__ import annotations

from fastnet import ops
from fastnet.layers.argument_validation import check_padding, standardize_tuple
from fastnet.layers.core import _data_format
from fastnet.layers.layer import InputSpec, Layer
from fastnet.ops import spatial as ops_spatial
from fastnet.ops.spatial import conv_output_length


class _Pooling(Layer):
    rank = 2
    kind = "max"

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        n = self.rank
        self.pool_size = standardize_tuple(pool_size, n, "pool_size", self)
        self.strides = self.pool_size if strides is None else standardize_tuple(
            strides, n, "strides", self)
        self.padding = check_padding(padding, self)
        self.data_format = _data_format(data_format, self)
        self.input_spec = InputSpec(ndim=n + 2)

    def call(self, inputs):
        fn = ops.max_pool if self.kind == "max" else ops.average_pool
        n = self.rank
        if self.data_format == "channels_first":
            x = ops.transpose(inputs, (0,) + tuple(range(2, n + 2)) + (1,))
            y = fn(x, self.pool_size, self.strides, self.padding)
            return ops.transpose(y, (0, n + 1) + tuple(range(1, n + 1)))
        return fn(inputs, self.pool_size, self.strides, self.padding)

    def compute_output_shape(self, input_shape):
        first = self.data_format == "channels_first"
        off = 2 if first else 1
        spatial = tuple(conv_output_length(input_shape[off + i], self.pool_size[i],
                                           self.strides[i], self.padding)
                        for i in range(self.rank))
        if first:
            return (input_shape[0], input_shape[1]) + spatial
        return (input_shape[0],) + spatial + (input_shape[-1],)

    def get_config(self):
        return {**super().get_config(), "pool_size": list(self.pool_size),
                "strides": list(self.strides), "padding": self.padding,
                "data_format": self.data_format}


class MaxPooling1D(_Pooling):
    rank, kind = 1, "max"


class MaxPooling2D(_Pooling):
    rank, kind = 2, "max"


class MaxPooling3D(_Pooling):
    rank, kind = 3, "max"


class AveragePooling1D(_Pooling):
    rank, kind = 1, "avg"


class AveragePooling2D(_Pooling):
    rank, kind = 2, "avg"


class AveragePooling3D(_Pooling):
    rank, kind = 3, "avg"


class _GlobalPooling(Layer):
    rank = 2
    kind = "max"

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.keepdims = keepdims
        self.data_format = _data_format(data_format, self)
        self.input_spec = InputSpec(ndim=self.rank + 2)
        self.supports_masking = self.rank == 1

    def call(self, inputs, mask=None):
        if self.data_format == "channels_first":
            axes = tuple(range(2, self.rank + 2))
            if mask is not None and self.rank == 1 and self.kind == "avg":
                m = ops.expand_dims(ops.cast(mask, inputs.dtype), 1)
                return ops.sum(inputs * m, axis=2, keepdims=self.keepdims) / ops.maximum(
                    ops.sum(m, axis=2, keepdims=self.keepdims), 1e-7)
            fn = ops.max if self.kind == "max" else ops.mean
            return fn(inputs, axis=axes, keepdims=self.keepdims)
        if self.kind == "max":
            return ops_spatial.global_max_pool(inputs, keepdims=self.keepdims)
        if mask is not None and self.rank == 1:
            m = ops.expand_dims(ops.cast(mask, inputs.dtype), -1)
            return ops.sum(inputs * m, axis=1, keepdims=self.keepdims) / ops.maximum(
                ops.sum(m, axis=1, keepdims=self.keepdims), 1e-7)
        return ops_spatial.global_average_pool(inputs, keepdims=self.keepdims)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        if self.data_format == "channels_first":
            if self.keepdims:
                return (input_shape[0], input_shape[1]) + (1,) * self.rank
            return (input_shape[0], input_shape[1])
        if self.keepdims:
            return (input_shape[0],) + (1,) * self.rank + (input_shape[-1],)
        return (input_shape[0], input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "keepdims": self.keepdims,
                "data_format": self.data_format}


class GlobalMaxPooling1D(_GlobalPooling):
    rank, kind = 1, "max"


class GlobalMaxPooling2D(_GlobalPooling):
    rank, kind = 2, "max"


class GlobalMaxPooling3D(_GlobalPooling):
    rank, kind = 3, "max"


class GlobalAveragePooling1D(_GlobalPooling):
    rank, kind = 1, "avg"


class GlobalAveragePooling2D(_GlobalPooling):
    rank, kind = 2, "avg"


class GlobalAveragePooling3D(_GlobalPooling):
    rank, kind = 3, "avg"


MaxPool1D, MaxPool2D, MaxPool3D = MaxPooling1D, MaxPooling2D, MaxPooling3D
AvgPool1D, AvgPool2D, AvgPool3D = AveragePooling1D, AveragePooling2D, AveragePooling3D
GlobalMaxPool1D, GlobalMaxPool2D = GlobalMaxPooling1D, GlobalMaxPooling2D
GlobalAvgPool1D, GlobalAvgPool2D = GlobalAveragePooling1D, GlobalAveragePooling2D
GlobalMaxPool3D, GlobalAvgPool3D = GlobalMaxPooling3D, GlobalAveragePooling3D
