"""Convolution layers: Conv1D/2D/3D, Conv2DTranspose, DepthwiseConv2D,
SeparableConv2D. Keras's arguments, defaults and kernel layouts."""

from __future__ import annotations

from fastnet import activations as activations_mod
from fastnet import constraints as constraints_mod
from fastnet import initializers as initializers_mod
from fastnet import ops
from fastnet import regularizers as regularizers_mod
from fastnet.layers.layer import InputSpec, Layer
from fastnet.ops.spatial import conv_output_length, deconv_output_length


def _tuple(v, n, name, layer):
    if isinstance(v, int):
        v = (v,) * n
    v = tuple(v)
    if len(v) != n or any(not isinstance(x, int) or x <= 0 for x in v):
        raise ValueError(f"The `{name}` argument must be a tuple of {n} positive integers. "
                         f"Received {name}={v} (layer {layer})")
    return v


class BaseConv(Layer):
    rank = 2
    transposed = False

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, output_padding=None, **kwargs):
        super().__init__(**kwargs)
        if filters is not None and (not isinstance(filters, int) or filters <= 0):
            raise ValueError(f"Invalid value for argument `filters`. Expected a strictly "
                             f"positive value. Received filters={filters}.")
        n = self.rank
        self.filters = filters
        self.kernel_size = _tuple(kernel_size, n, "kernel_size", self.name)
        self.strides = _tuple(strides, n, "strides", self.name)
        self.dilation_rate = _tuple(dilation_rate, n, "dilation_rate", self.name)
        padding = padding.lower()
        if padding not in ("valid", "same") + (("causal",) if n == 1 else ()):
            raise ValueError(f"Invalid padding {padding!r} for layer {self.name}: expected "
                             "'valid' or 'same'")
        if data_format not in (None, "channels_last"):
            raise ValueError(f"fastnet layers are channels_last only; got data_format="
                             f"{data_format!r}")
        self.padding = padding
        self.data_format = "channels_last"
        self.groups = groups
        self.output_padding = None if output_padding is None else _tuple(
            output_padding, n, "output_padding", self.name) if not isinstance(output_padding, int) \
            else (output_padding,) * n
        self.activation = activations_mod.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers_mod.get(kernel_initializer)
        self.bias_initializer = initializers_mod.get(bias_initializer)
        self.kernel_regularizer = regularizers_mod.get(kernel_regularizer)
        self.bias_regularizer = regularizers_mod.get(bias_regularizer)
        self.activity_regularizer = regularizers_mod.get(activity_regularizer)
        self.kernel_constraint = constraints_mod.get(kernel_constraint)
        self.bias_constraint = constraints_mod.get(bias_constraint)
        self.input_spec = InputSpec(min_ndim=n + 2)

    def _kernel_shape(self, cin):
        if self.transposed:
            return self.kernel_size + (self.filters, cin)
        return self.kernel_size + (cin, self.filters)

    def build(self, input_shape):
        cin = input_shape[-1]
        if cin is None:
            raise ValueError(f"Layer {self.name}: the channel dimension of the inputs should be "
                             f"defined. Received input_shape={input_shape}")
        self.kernel = self.add_weight(shape=self._kernel_shape(cin), name="kernel",
                                      initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.bias = self.add_weight(shape=(self.filters,), name="bias",
                                    initializer=self.bias_initializer,
                                    regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint) if self.use_bias else None
        self.input_spec = InputSpec(ndim=self.rank + 2, axes={-1: cin})
        self.built = True

    def _conv(self, x):
        pad = self.padding
        if pad == "causal":
            left = (self.kernel_size[0] - 1) * self.dilation_rate[0]
            x = ops.pad(x, [(0, 0), (left, 0), (0, 0)])
            pad = "valid"
        return ops.conv(x, self.kernel, self.strides, pad, dilation_rate=self.dilation_rate)

    def call(self, inputs):
        # Plain convolutions fuse the bias into the kernel's passes (subclasses with a
        # convolution of their own — depthwise, separable, transposed — add it after).
        if (self.bias is not None and not self.transposed and self.padding != "causal"
                and type(self)._conv is BaseConv._conv):
            x = ops.conv_bias(inputs, self.kernel, self.bias, self.strides, self.padding,
                              dilation_rate=self.dilation_rate)
            return self.activation(x)
        x = self._conv(inputs)
        if self.bias is not None:
            x = ops.add(x, self.bias)
        return self.activation(x)

    def compute_output_shape(self, input_shape):
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
                "kernel_initializer": initializers_mod.serialize(self.kernel_initializer),
                "bias_initializer": initializers_mod.serialize(self.bias_initializer),
                "kernel_regularizer": regularizers_mod.serialize(self.kernel_regularizer),
                "bias_regularizer": regularizers_mod.serialize(self.bias_regularizer)}


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

    def compute_output_shape(self, input_shape):
        spatial = []
        for i in range(2):
            spatial.append(deconv_output_length(
                input_shape[1 + i], self.kernel_size[i], self.strides[i], self.padding,
                None if self.output_padding is None else self.output_padding[i],
                self.dilation_rate[i]))
        return (input_shape[0],) + tuple(spatial) + (self.filters,)

    def get_config(self):
        return {**super().get_config(), "output_padding":
                None if self.output_padding is None else list(self.output_padding)}


class Conv1DTranspose(Conv2DTranspose):
    rank = 1


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
        self.depth_multiplier = depth_multiplier

    def build(self, input_shape):
        cin = input_shape[-1]
        self.filters = cin * self.depth_multiplier
        self.kernel = self.add_weight(shape=self.kernel_size + (cin, self.depth_multiplier),
                                      name="kernel", initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.bias = self.add_weight(shape=(self.filters,), name="bias",
                                    initializer=self.bias_initializer,
                                    regularizer=self.bias_regularizer) if self.use_bias else None
        self.input_spec = InputSpec(ndim=4, axes={-1: cin})
        self.built = True

    def _conv(self, x):
        return ops.depthwise_conv(x, self.kernel, self.strides, self.padding,
                                  dilation_rate=self.dilation_rate)

    def compute_output_shape(self, input_shape):
        self.filters = input_shape[-1] * self.depth_multiplier
        return super().compute_output_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        for key in ("filters", "groups"):
            config.pop(key, None)
        for old, new in (("kernel_initializer", "depthwise_initializer"),
                         ("kernel_regularizer", "depthwise_regularizer")):
            config[new] = config.pop(old)
        return {**config, "depth_multiplier": self.depth_multiplier}


class SeparableConv2D(BaseConv):
    rank = 2

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), depth_multiplier=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        for k in ("depthwise_regularizer", "pointwise_regularizer", "depthwise_constraint",
                  "pointwise_constraint"):
            kwargs.pop(k, None)
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate,
                         activation=activation, use_bias=use_bias,
                         bias_initializer=bias_initializer, **kwargs)
        self.depth_multiplier = depth_multiplier
        self.depthwise_initializer = initializers_mod.get(depthwise_initializer)
        self.pointwise_initializer = initializers_mod.get(pointwise_initializer)

    def build(self, input_shape):
        cin = input_shape[-1]
        self.depthwise_kernel = self.add_weight(
            shape=self.kernel_size + (cin, self.depth_multiplier), name="depthwise_kernel",
            initializer=self.depthwise_initializer)
        self.pointwise_kernel = self.add_weight(
            shape=(1, 1, cin * self.depth_multiplier, self.filters), name="pointwise_kernel",
            initializer=self.pointwise_initializer)
        self.bias = self.add_weight(shape=(self.filters,), name="bias",
                                    initializer=self.bias_initializer) if self.use_bias else None
        self.input_spec = InputSpec(ndim=4, axes={-1: cin})
        self.built = True

    def _conv(self, x):
        return ops.separable_conv(x, self.depthwise_kernel, self.pointwise_kernel, self.strides,
                                  self.padding, dilation_rate=self.dilation_rate)


Convolution1D, Convolution2D, Convolution3D = Conv1D, Conv2D, Conv3D
