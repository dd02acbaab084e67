"""BatchNormalization and LayerNormalization (Keras 3 defaults and weight order)."""

from __future__ import annotations

import numpy as np

from fastnet import constraints as constraints_mod
from fastnet import initializers as initializers_mod
from fastnet import ops
from fastnet import regularizers as regularizers_mod
from fastnet.backend import tape
from fastnet.layers.argument_validation import check_number
from fastnet.layers.layer import InputSpec, Layer
from fastnet.ops import nn as ops_nn

# ---- what the normalization layers with a gamma and a beta share -------------------------

_AFFINE_ARGS = ("beta_initializer", "gamma_initializer", "beta_regularizer",
                "gamma_regularizer", "beta_constraint", "gamma_constraint")


def _set_affine_args(layer, beta_initializer, gamma_initializer, beta_regularizer,
                     gamma_regularizer, beta_constraint, gamma_constraint):
    """Resolves the gamma/beta arguments BatchNormalization, LayerNormalization and
    GroupNormalization take alike onto the layer (the attributes of _AFFINE_ARGS)."""
    layer.beta_initializer = initializers_mod.get(beta_initializer)
    layer.gamma_initializer = initializers_mod.get(gamma_initializer)
    layer.beta_regularizer = regularizers_mod.get(beta_regularizer)
    layer.gamma_regularizer = regularizers_mod.get(gamma_regularizer)
    layer.beta_constraint = constraints_mod.get(beta_constraint)
    layer.gamma_constraint = constraints_mod.get(gamma_constraint)


def _add_gamma_beta(layer, shape, scale, center):
    """Creates ``layer.gamma`` (when ``scale``) and ``layer.beta`` (when ``center``), else
    None, from the layer's _AFFINE_ARGS; gamma first, Keras's weight order."""
    layer.gamma = layer.add_weight(shape=shape, name="gamma",
                                   initializer=layer.gamma_initializer,
                                   regularizer=layer.gamma_regularizer,
                                   constraint=layer.gamma_constraint) if scale else None
    layer.beta = layer.add_weight(shape=shape, name="beta", initializer=layer.beta_initializer,
                                  regularizer=layer.beta_regularizer,
                                  constraint=layer.beta_constraint) if center else None


def _channel_dim(layer, input_shape):
    """The size of the layer's one normalized ``axis`` in ``input_shape``: the axis must be
    in range and its size defined (BatchNormalization, GroupNormalization)."""
    _check_axes_in(layer, [layer.axis], input_shape)
    dim = input_shape[layer.axis]
    if dim is None:
        raise ValueError(f"Axis {layer.axis} of input tensor should have a defined dimension "
                         f"but the layer received an input with shape {input_shape}.")
    return dim


def _scale_shift(y, gamma, beta, bshape):
    """``y * gamma + beta``, each skipped when None, the weights reshaped to ``bshape``."""
    if gamma is not None:
        y = y * ops.reshape(gamma, bshape)
    if beta is not None:
        y = y + ops.reshape(beta, bshape)
    return y


class BatchNormalization(Layer):
    """Normalizes with batch statistics in training (and updates the moving
    mean/variance with `momentum`), with the moving statistics in inference."""

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, synchronized=False, renorm=False, renorm_clipping=None,
                 renorm_momentum=0.99, **kwargs):
        super().__init__(**kwargs)
        if synchronized:
            raise NotImplementedError(f"BatchNormalization {self.name!r}: `synchronized=True` "
                                      "(cross-replica statistics) is not implemented in fastnet")
        if renorm:
            # (renorm_clipping and renorm_momentum are only read with renorm=True, in Keras too)
            raise NotImplementedError(f"BatchNormalization {self.name!r}: `renorm=True` (batch "
                                      "renormalization) is not implemented in fastnet")
        self.axis = axis
        self.momentum = float(check_number(momentum, "momentum", self))
        self.epsilon = float(check_number(epsilon, "epsilon", self, minimum=0))
        self.center = center
        self.scale = scale
        _set_affine_args(self, beta_initializer, gamma_initializer, beta_regularizer,
                         gamma_regularizer, beta_constraint, gamma_constraint)
        self.moving_mean_initializer = initializers_mod.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers_mod.get(moving_variance_initializer)
        self.supports_masking = True

    def build(self, input_shape):
        dim = _channel_dim(self, input_shape)
        self._axis = self.axis % len(input_shape)
        shape = (dim,)
        _add_gamma_beta(self, shape, self.scale, self.center)
        self.moving_mean = self.add_weight(shape=shape, name="moving_mean", trainable=False,
                                           initializer=self.moving_mean_initializer)
        self.moving_variance = self.add_weight(shape=shape, name="moving_variance",
                                               trainable=False,
                                               initializer=self.moving_variance_initializer)
        self.input_spec = InputSpec(ndim=len(input_shape), axes={self.axis: dim})
        self.built = True

    def call(self, inputs, training=None, mask=None):
        axis = self._axis
        reduce_axes = tuple(i for i in range(inputs.ndim) if i != axis)
        x = ops.convert_to_tensor(inputs)
        if (axis == x.ndim - 1 and x.dtype == "float32" and training and self.trainable
                and not tape.backward_is_recorded()):
            # fused C++ kernel: batch statistics, normalization and one-pass backward
            y, mean, var = ops_nn.batch_norm_train(x, self.gamma, self.beta, self.epsilon)
            m = self.momentum
            self.moving_mean.assign(self.moving_mean.numpy() * m + mean.numpy() * (1.0 - m))
            self.moving_variance.assign(self.moving_variance.numpy() * m + var.numpy() * (1.0 - m))
            return y
        if training and self.trainable:
            mean, var = ops.moments(inputs, axes=reduce_axes)
            m = self.momentum
            self.moving_mean.assign(self.moving_mean.numpy() * m + mean.numpy() * (1.0 - m))
            self.moving_variance.assign(self.moving_variance.numpy() * m + var.numpy() * (1.0 - m))
        else:
            mean, var = self.moving_mean, self.moving_variance
        return ops.batch_normalization(inputs, mean, var, axis=axis, offset=self.beta,
                                       scale=self.gamma, epsilon=self.epsilon)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum,
                "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                **_serialized(self, "beta_initializer", "gamma_initializer",
                              "moving_mean_initializer", "moving_variance_initializer",
                              "beta_regularizer", "gamma_regularizer", "beta_constraint",
                              "gamma_constraint"),
                "synchronized": False}


class LayerNormalization(Layer):
    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, rms_scaling=False,
                 beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None,
                 gamma_regularizer=None, beta_constraint=None, gamma_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis
        self.epsilon = epsilon
        self.center = center
        self.scale = scale
        self.rms_scaling = rms_scaling
        _set_affine_args(self, beta_initializer, gamma_initializer, beta_regularizer,
                         gamma_regularizer, beta_constraint, gamma_constraint)
        self.supports_masking = True

    def build(self, input_shape):
        axes = [self.axis] if isinstance(self.axis, int) else list(self.axis)
        self._axes = tuple(a % len(input_shape) for a in axes)
        shape = tuple(input_shape[a] for a in self._axes)
        # as Keras: rms_scaling has a gamma and no beta
        _add_gamma_beta(self, shape, self.scale or self.rms_scaling,
                        self.center and not self.rms_scaling)
        self.built = True

    def call(self, inputs):
        axes = self._axes
        if not self.rms_scaling and axes == (inputs.ndim - 1,):
            # C++ kernel for float32 (one fused backward); composed ops otherwise
            return ops_nn.layer_norm(inputs, self.gamma, self.beta, self.epsilon)
        bshape = [inputs.shape[i] if i in axes else 1 for i in range(inputs.ndim)]
        if self.rms_scaling:
            # Keras's (deprecated) rms_scaling: the uncentred input over the root of the
            # variance (not of the mean square), times gamma
            _, var = ops.moments(inputs, axes=axes, keepdims=True)
            y = inputs / ops.sqrt(var + self.epsilon)
        else:
            mean, var = ops.moments(inputs, axes=axes, keepdims=True)
            y = (inputs - mean) / ops.sqrt(var + self.epsilon)
        return _scale_shift(y, self.gamma, self.beta, bshape)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale, "rms_scaling": self.rms_scaling,
                **_serialized(self, *_AFFINE_ARGS)}


def _serialized(layer, *names):
    """Keras's config entries for the layer's initializer/regularizer/constraint args."""
    out = {}
    for name in names:
        value = getattr(layer, name)
        if name.endswith("initializer"):
            out[name] = initializers_mod.serialize(value)
        elif name.endswith("regularizer"):
            out[name] = regularizers_mod.serialize(value) if value is not None else None
        else:
            out[name] = constraints_mod.serialize(value) if value is not None else None
    return out




# ---- GroupNormalization, RMSNormalization, UnitNormalization (keras.layers) ----------------

def _check_axes_in(layer, axes, input_shape):
    rank = len(input_shape)
    for a in axes:
        if not isinstance(a, (int, np.integer)) or isinstance(a, bool) or not -rank <= a < rank:
            raise ValueError(f"{type(layer).__name__} {layer.name!r}: axis {a} is out of bounds "
                             f"for input shape {tuple(input_shape)}. Received: axis={layer.axis}")


class GroupNormalization(Layer):
    """Normalizes each sample over groups of channels (``groups`` of them along ``axis``;
    ``groups=-1``: one per channel, instance normalization), then ``gamma`` / ``beta`` per
    channel, as keras.layers.GroupNormalization."""

    def __init__(self, groups=32, axis=-1, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None,
                 gamma_regularizer=None, beta_constraint=None, gamma_constraint=None, **kwargs):
        if isinstance(groups, bool) or not isinstance(groups, int) or (groups <= 0
                                                                        and groups != -1):
            raise ValueError("Received an invalid value for argument `groups`, expected a "
                             "positive integer (or `-1` for instance normalization). "
                             f"Received: groups={groups}")
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise TypeError(f"GroupNormalization: `axis` must be an integer. Received: "
                            f"axis={axis!r}")
        super().__init__(**kwargs)
        self.groups = groups
        self.axis = axis
        self.epsilon = float(check_number(epsilon, "epsilon", self, minimum=0))
        self.center = center
        self.scale = scale
        _set_affine_args(self, beta_initializer, gamma_initializer, beta_regularizer,
                         gamma_regularizer, beta_constraint, gamma_constraint)
        self.supports_masking = True

    def build(self, input_shape):
        dim = _channel_dim(self, input_shape)
        if self.groups == -1:
            self.groups = dim  # as Keras: the config then carries the channel count
        if dim < self.groups:
            raise ValueError(f"GroupNormalization {self.name!r}: number of groups "
                             f"({self.groups}) cannot be more than the number of channels "
                             f"({dim}).")
        if dim % self.groups:
            raise ValueError(f"GroupNormalization {self.name!r}: number of groups "
                             f"({self.groups}) must divide the number of channels ({dim}).")
        self._axis = self.axis % len(input_shape)
        self.input_spec = InputSpec(ndim=len(input_shape), axes={self.axis: dim})
        _add_gamma_beta(self, (dim,), self.scale, self.center)
        self.built = True

    def call(self, inputs):
        x = ops.convert_to_tensor(inputs)
        axis, g = self._axis, self.groups
        shape = tuple(x.shape)
        # (..., C, ...) -> (..., groups, C // groups, ...): statistics over every axis but
        # the batch and the group axis
        grouped = shape[:axis] + (g, shape[axis] // g) + shape[axis + 1:]
        xg = ops.reshape(x, grouped)
        reduce_axes = tuple(i for i in range(1, len(grouped)) if i != axis)
        mean, var = ops.moments(xg, axes=reduce_axes, keepdims=True)
        y = ops.reshape((xg - mean) * ops.rsqrt(var + self.epsilon), shape)
        bshape = [1] * len(shape)
        bshape[axis] = shape[axis]
        return _scale_shift(y, self.gamma, self.beta, bshape)

    def compute_output_shape(self, input_shape):
        _check_axes_in(self, [self.axis], input_shape)
        return input_shape

    def get_config(self):
        return {**super().get_config(), "groups": self.groups, "axis": self.axis,
                "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                **_serialized(self, *_AFFINE_ARGS)}


class RMSNormalization(Layer):
    """``x * rsqrt(mean(x**2 over axis) + epsilon) * scale``, a trainable ``scale`` over the
    normalized axes (keras.layers.RMSNormalization; no centring, no bias)."""

    def __init__(self, axis=-1, epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)):
            if not axis or any(isinstance(a, bool) or not isinstance(a, int) for a in axis):
                raise TypeError(f"RMSNormalization: `axis` must be an int or a non-empty "
                                f"list of ints. Received: axis={axis!r}")
            axis = list(axis)
        elif isinstance(axis, bool) or not isinstance(axis, int):
            raise TypeError(f"RMSNormalization: `axis` must be an int or a list of ints. "
                            f"Received: axis={axis!r}")
        self.axis = axis
        self.epsilon = float(check_number(epsilon, "epsilon", self, minimum=0))

    def build(self, input_shape):
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        _check_axes_in(self, axes, input_shape)
        # as Keras: after build the axis is a sorted list (and so is the config)
        self.axis = sorted(axes)
        self._axes = tuple(sorted(a % len(input_shape) for a in axes))
        shape = tuple(input_shape[a] for a in self.axis)
        if any(d is None for d in shape):
            raise ValueError(f"RMSNormalization {self.name!r}: the normalized axes {self.axis} "
                             f"must have defined sizes; input shape {tuple(input_shape)}")
        self.scale = self.add_weight(shape=shape, name="scale", initializer="ones")
        self.built = True

    def call(self, inputs):
        x = ops.convert_to_tensor(inputs)
        axes = self._axes
        y = x * ops.rsqrt(ops.mean(ops.square(x), axis=axes, keepdims=True) + self.epsilon)
        bshape = [x.shape[i] if i in axes else 1 for i in range(x.ndim)]
        return y * ops.reshape(self.scale, bshape)

    def compute_output_shape(self, input_shape):
        _check_axes_in(self, self.axis if isinstance(self.axis, list) else [self.axis],
                       input_shape)
        return input_shape

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon}


class UnitNormalization(Layer):
    """Scales each input to unit L2 norm along ``axis``: ``x * min(rsqrt(sum(x**2)),
    1e12)`` (keras.layers.UnitNormalization)."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)) and all(
                isinstance(a, int) and not isinstance(a, bool) for a in axis):
            self.axis = list(axis)
        elif isinstance(axis, int) and not isinstance(axis, bool):
            self.axis = axis
        else:
            raise TypeError("Invalid value for `axis` argument: expected an int or a "
                            f"list/tuple of ints. Received: axis={axis}")
        self.supports_masking = True
        self.built = True

    def call(self, inputs):
        x = ops.convert_to_tensor(inputs)
        axes = self.axis if isinstance(self.axis, int) else tuple(self.axis)
        inv = ops.rsqrt(ops.sum(ops.square(x), axis=axes, keepdims=True))
        return x * ops.minimum(inv, 1e12)

    def compute_output_shape(self, input_shape):
        _check_axes_in(self, [self.axis] if isinstance(self.axis, int) else self.axis,
                       input_shape)
        return input_shape

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
