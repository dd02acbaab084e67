"""Convolution layers: Conv1D/2D/3D, Conv1D/2DTranspose, DepthwiseConv2D,
SeparableConv2D. Keras's arguments, defaults and kernel layouts.

The kernels are channels-last. ``data_format='channels_first'`` transposes the input to
channels-last and the output back (one copy of each, and of their gradients: the price
is two extra passes over the activations per layer). ``groups`` runs one convolution per
group of input channels (each its own im2col GEMM) and concatenates their outputs.
"""

from __future__ import annotations

import numpy as np

from fastnet import activations as activations_mod
from fastnet import constraints as constraints_mod
from fastnet import initializers as initializers_mod
from fastnet import ops
from fastnet import regularizers as regularizers_mod
from fastnet.layers.argument_validation import check_int, check_padding, standardize_tuple
from fastnet.layers.layer import InputSpec, Layer, check_array_size
from fastnet.layers.weight_args import kernel_bias_config, set_kernel_bias_args
from fastnet.ops import spatial as ops_spatial
from fastnet.ops.spatial import conv_output_length, deconv_output_length


class BaseConv(Layer):
    rank = 2
    transposed = False

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, output_padding=None, **kwargs):
        super().__init__(**kwargs)
        if filters is not None:
            filters = check_int(filters, "filters", self)
        n = self.rank
        self.filters = filters
        self.kernel_size = standardize_tuple(kernel_size, n, "kernel_size", self)
        self.strides = standardize_tuple(strides, n, "strides", self)
        self.dilation_rate = standardize_tuple(dilation_rate, n, "dilation_rate", self)
        padding = check_padding(padding, self, ("valid", "same") + (("causal",) if n == 1
                                                                    else ()))
        from fastnet.layers.core import _data_format

        self.padding = padding
        self.data_format = _data_format(data_format, self)
        if not isinstance(groups, int) or groups <= 0:
            raise ValueError(f"The number of groups must be a positive integer. Received: "
                             f"groups={groups} (layer {self.name})")
        if self.transposed and max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"{type(self).__name__} {self.name!r}: `strides > 1` not supported "
                             f"in conjunction with `dilation_rate > 1` (as Keras). Received: "
                             f"strides={self.strides} and dilation_rate={self.dilation_rate}")
        if groups != 1 and self.transposed:
            raise NotImplementedError(f"{type(self).__name__} {self.name!r}: `groups` is not "
                                      f"supported by transposed convolutions. Received: "
                                      f"groups={groups}")
        if filters is not None and filters % groups:
            raise ValueError(f"The number of filters must be evenly divisible by the number of "
                             f"groups. Received: groups={groups}, filters={filters} "
                             f"(layer {self.name})")
        self.groups = groups
        if output_padding is not None and not self.transposed:
            raise ValueError(f"{type(self).__name__}: unrecognized keyword argument "
                            f"`output_padding` (only transposed convolutions take it)")
        self.output_padding = None if output_padding is None else standardize_tuple(
            output_padding, n, "output_padding", self, minimum=0)
        self.activation = activations_mod.get(activation)
        self.use_bias = use_bias
        set_kernel_bias_args(self, kernel_initializer, bias_initializer, kernel_regularizer,
                             bias_regularizer, kernel_constraint, bias_constraint)
        self.activity_regularizer = regularizers_mod.get(activity_regularizer)
        self.input_spec = InputSpec(min_ndim=n + 2)

    def _kernel_shape(self, cin):
        if self.transposed:
            return self.kernel_size + (self.filters, cin)
        return self.kernel_size + (cin // self.groups, self.filters)

    def _channels_axis(self):
        return 1 if self.data_format == "channels_first" else -1

    def _last_shape(self, shape):
        """An input/output shape in the kernels' channels-last layout."""
        shape = tuple(shape)
        if self.data_format == "channels_first":
            return (shape[0],) + shape[2:] + (shape[1],)
        return shape

    def _layout_shape(self, shape):
        """A channels-last shape in this layer's data_format."""
        shape = tuple(shape)
        if self.data_format == "channels_first":
            return (shape[0], shape[-1]) + shape[1:-1]
        return shape

    def build(self, input_shape):
        cin = input_shape[self._channels_axis()] if len(input_shape) > 1 else None
        if cin is None:
            raise ValueError(f"Layer {self.name}: the channel dimension of the inputs should be "
                             f"defined. Received input_shape={input_shape}")
        if cin % self.groups:
            raise ValueError(f"The number of input channels must be evenly divisible by the "
                             f"number of groups. Received groups={self.groups}, but the input "
                             f"has {cin} channels (full input shape is {tuple(input_shape)}); "
                             f"layer {self.name}")
        self.kernel = self.add_weight(shape=self._kernel_shape(cin), name="kernel",
                                      initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.bias = self.add_weight(shape=(self.filters,), name="bias",
                                    initializer=self.bias_initializer,
                                    regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint) if self.use_bias else None
        self.input_spec = InputSpec(ndim=self.rank + 2, axes={self._channels_axis(): cin})
        self.built = True

    def _conv(self, x):
        pad = self.padding
        if pad == "causal":
            left = (self.kernel_size[0] - 1) * self.dilation_rate[0]
            x = ops.pad(x, [(0, 0), (left, 0), (0, 0)])
            pad = "valid"
        if self.groups == 1:
            return ops.conv(x, self.kernel, self.strides, pad, dilation_rate=self.dilation_rate)
        ci, co = x.shape[-1] // self.groups, self.filters // self.groups
        outs = [ops.conv(x[..., g * ci:(g + 1) * ci], self.kernel[..., g * co:(g + 1) * co],
                         self.strides, pad, dilation_rate=self.dilation_rate)
                for g in range(self.groups)]
        return ops.concatenate(outs, axis=-1)

    def call(self, inputs):
        # a size argument that makes the output larger than memory (dilation_rate=2**20
        # on a transposed conv) is a ValueError naming the layer, not a MemoryError
        shape = self.compute_output_shape(tuple(inputs.shape))
        if all(isinstance(d, (int, np.integer)) for d in shape):
            check_array_size(self, shape, inputs.dtype)
        first = self.data_format == "channels_first"
        if first:
            inputs = ops.transpose(inputs, (0,) + tuple(range(2, self.rank + 2)) + (1,))
        y = self._call_channels_last(inputs)
        if first:
            y = ops.transpose(y, (0, self.rank + 1) + tuple(range(1, self.rank + 1)))
        return y

    def _call_channels_last(self, inputs):
        # Plain convolutions fuse the bias into the kernel's passes (subclasses with a
        # convolution of their own — depthwise, separable, transposed — add it after).
        # ReLU (Keras's default relu, the function itself) is fused into the kernel too.
        if (self.bias is not None and not self.transposed and self.padding != "causal"
                and self.groups == 1 and type(self)._conv is BaseConv._conv):
            if self.activation is activations_mod.relu:
                return ops_spatial.conv_bias_relu(inputs, self.kernel, self.bias, self.strides,
                                                  self.padding, dilation_rate=self.dilation_rate)
            x = ops_spatial.conv_bias(inputs, self.kernel, self.bias, self.strides, self.padding,
                              dilation_rate=self.dilation_rate)
            return self.activation(x)
        x = self._conv(inputs)
        if self.bias is not None:
            x = ops.add(x, self.bias)
        return self.activation(x)

    def compute_output_shape(self, input_shape):
        return self._layout_shape(self._output_shape_last(self._last_shape(input_shape)))

    def _output_shape_last(self, input_shape):
        pad = "valid" if self.padding == "causal" else self.padding
        spatial = []
        for i in range(self.rank):
            size = input_shape[1 + i]
            if self.padding == "causal" and size is not None:
                size += (self.kernel_size[i] - 1) * self.dilation_rate[i]
            out = conv_output_length(size, self.kernel_size[i], self.strides[i], pad,
                                     self.dilation_rate[i])
            if out is not None and out <= 0:
                raise ValueError(f"Computed output size would be negative or zero for layer "
                                 f"{self.name!r}: input shape {input_shape}, kernel_size="
                                 f"{self.kernel_size}, strides={self.strides}, padding={pad}")
            spatial.append(out)
        return (input_shape[0],) + tuple(spatial) + (self.filters,)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": list(self.kernel_size), "strides": list(self.strides),
                "padding": self.padding, "data_format": self.data_format,
                "dilation_rate": list(self.dilation_rate), "groups": self.groups,
                "activation": activations_mod.serialize(self.activation),
                "use_bias": self.use_bias,
                **kernel_bias_config(self)}


class Conv1D(BaseConv):
    rank = 1


class Conv2D(BaseConv):
    rank = 2


class Conv3D(BaseConv):
    rank = 3


class Conv2DTranspose(BaseConv):
    rank = 2
    transposed = True

    def _conv(self, x):
        return ops.conv_transpose(x, self.kernel, self.strides, self.padding,
                                  output_padding=self.output_padding,
                                  dilation_rate=self.dilation_rate)

    def _output_shape_last(self, input_shape):
        spatial = []
        for i in range(self.rank):
            spatial.append(deconv_output_length(
                input_shape[1 + i], self.kernel_size[i], self.strides[i], self.padding,
                None if self.output_padding is None else self.output_padding[i],
                self.dilation_rate[i]))
        return (input_shape[0],) + tuple(spatial) + (self.filters,)

    def get_config(self):
        config = super().get_config()
        config.pop("groups", None)
        return {**config, "output_padding":
                None if self.output_padding is None else list(self.output_padding)}


class Conv1DTranspose(Conv2DTranspose):
    rank = 1


class Conv3DTranspose(Conv2DTranspose):
    rank = 3


class DepthwiseConv2D(BaseConv):
    rank = 2

    def __init__(self, kernel_size, strides=(1, 1), padding="valid", depth_multiplier=1,
                 data_format=None, dilation_rate=(1, 1), activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", bias_initializer="zeros",
                 depthwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(None, kernel_size, strides, padding, data_format, dilation_rate,
                         activation=activation, use_bias=use_bias,
                         kernel_initializer=depthwise_initializer,
                         bias_initializer=bias_initializer,
                         kernel_regularizer=depthwise_regularizer,
                         bias_regularizer=bias_regularizer,
                         activity_regularizer=activity_regularizer,
                         kernel_constraint=depthwise_constraint,
                         bias_constraint=bias_constraint, **kwargs)
        self.depth_multiplier = check_int(depth_multiplier, "depth_multiplier", self)

    def build(self, input_shape):
        cin = input_shape[self._channels_axis()]
        self.filters = cin * self.depth_multiplier
        self.kernel = self.add_weight(shape=self.kernel_size + (cin, self.depth_multiplier),
                                      name="kernel", initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.bias = self.add_weight(shape=(self.filters,), name="bias",
                                    initializer=self.bias_initializer,
                                    regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint) if self.use_bias else None
        self.input_spec = InputSpec(ndim=4, axes={self._channels_axis(): cin})
        self.built = True

    def _conv(self, x):
        return ops.depthwise_conv(x, self.kernel, self.strides, self.padding,
                                  dilation_rate=self.dilation_rate)

    def compute_output_shape(self, input_shape):
        self.filters = input_shape[self._channels_axis()] * self.depth_multiplier
        return super().compute_output_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        for key in ("filters", "groups"):
            config.pop(key, None)
        for old, new in (("kernel_initializer", "depthwise_initializer"),
                         ("kernel_regularizer", "depthwise_regularizer"),
                         ("kernel_constraint", "depthwise_constraint")):
            config[new] = config.pop(old)
        return {**config, "depth_multiplier": self.depth_multiplier}


class SeparableConv2D(BaseConv):
    rank = 2

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), depth_multiplier=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, pointwise_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, depthwise_constraint=None,
                 pointwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate,
                         activation=activation, use_bias=use_bias,
                         bias_initializer=bias_initializer, bias_regularizer=bias_regularizer,
                         activity_regularizer=activity_regularizer,
                         bias_constraint=bias_constraint, **kwargs)
        self.depth_multiplier = check_int(depth_multiplier, "depth_multiplier", self)
        self.depthwise_initializer = initializers_mod.get(depthwise_initializer)
        self.pointwise_initializer = initializers_mod.get(pointwise_initializer)
        self.depthwise_regularizer = regularizers_mod.get(depthwise_regularizer)
        self.pointwise_regularizer = regularizers_mod.get(pointwise_regularizer)
        self.depthwise_constraint = constraints_mod.get(depthwise_constraint)
        self.pointwise_constraint = constraints_mod.get(pointwise_constraint)

    def build(self, input_shape):  # SeparableConv1D too: the ranks follow kernel_size
        cin = input_shape[self._channels_axis()]
        if cin is None:
            raise ValueError(f"Layer {self.name}: the channel dimension of the inputs should be "
                             f"defined. Received input_shape={input_shape}")
        rank = len(self.kernel_size)
        self.depthwise_kernel = self.add_weight(
            shape=self.kernel_size + (cin, self.depth_multiplier), name="depthwise_kernel",
            initializer=self.depthwise_initializer, regularizer=self.depthwise_regularizer,
            constraint=self.depthwise_constraint)
        self.pointwise_kernel = self.add_weight(
            shape=(1,) * rank + (cin * self.depth_multiplier, self.filters), name="pointwise_kernel",
            initializer=self.pointwise_initializer, regularizer=self.pointwise_regularizer,
            constraint=self.pointwise_constraint)
        self.bias = self.add_weight(shape=(self.filters,), name="bias",
                                    initializer=self.bias_initializer,
                                    regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint) if self.use_bias else None
        self.input_spec = InputSpec(ndim=rank + 2, axes={self._channels_axis(): cin})
        self.built = True

    def get_config(self):
        config = super().get_config()
        for key in ("kernel_initializer", "kernel_regularizer", "kernel_constraint", "groups"):
            config.pop(key, None)
        return {**config, "depth_multiplier": self.depth_multiplier,
                "depthwise_initializer": initializers_mod.serialize(self.depthwise_initializer),
                "pointwise_initializer": initializers_mod.serialize(self.pointwise_initializer),
                "depthwise_regularizer": regularizers_mod.serialize(self.depthwise_regularizer),
                "pointwise_regularizer": regularizers_mod.serialize(self.pointwise_regularizer),
                "depthwise_constraint": constraints_mod.serialize(self.depthwise_constraint),
                "pointwise_constraint": constraints_mod.serialize(self.pointwise_constraint)}

    def _conv(self, x):
        return ops.separable_conv(x, self.depthwise_kernel, self.pointwise_kernel, self.strides,
                                  self.padding, dilation_rate=self.dilation_rate)


Convolution1D, Convolution2D, Convolution3D = Conv1D, Conv2D, Conv3D
Convolution2DTranspose, Convolution3DTranspose = Conv2DTranspose, Conv3DTranspose


# ---- 1-D depthwise and separable convolutions, and the remaining Keras aliases --------------

def _refuse_causal(layer):
    if layer.padding == "causal":
        raise ValueError(f"{type(layer).__name__} {layer.name!r}: `padding` must be 'valid' or "
                         f"'same' (as Keras). Received: padding=causal")


class DepthwiseConv1D(DepthwiseConv2D):
    """Depthwise 1-D convolution: kernel (kernel_size, channels, depth_multiplier)."""

    rank = 1

    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1,
                 data_format=None, dilation_rate=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", bias_initializer="zeros",
                 depthwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(kernel_size, strides, padding, depth_multiplier, data_format,
                         dilation_rate, activation, use_bias, depthwise_initializer,
                         bias_initializer, depthwise_regularizer, bias_regularizer,
                         activity_regularizer, depthwise_constraint, bias_constraint, **kwargs)
        _refuse_causal(self)

    def build(self, input_shape):
        super().build(input_shape)
        self.input_spec = InputSpec(ndim=3, axes={self._channels_axis(): input_shape[
            self._channels_axis()]})


class SeparableConv1D(SeparableConv2D):
    """Depthwise 1-D convolution then a pointwise one: kernels (k, cin, depth_multiplier)
    and (1, cin * depth_multiplier, filters), as Keras."""

    rank = 1

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, depth_multiplier=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, pointwise_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, depthwise_constraint=None,
                 pointwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate,
                         depth_multiplier, activation, use_bias, depthwise_initializer,
                         pointwise_initializer, bias_initializer, depthwise_regularizer,
                         pointwise_regularizer, bias_regularizer, activity_regularizer,
                         depthwise_constraint, pointwise_constraint, bias_constraint, **kwargs)
        _refuse_causal(self)


Convolution1DTranspose = Conv1DTranspose
SeparableConvolution1D, SeparableConvolution2D = SeparableConv1D, SeparableConv2D
