"""Merge layers: Add, Subtract, Multiply, Average, Maximum, Minimum,
Concatenate, Dot, and their functional forms (add, concatenate, ...)."""

from __future__ import annotations

from fastnet import ops
from fastnet.layers.layer import Layer


def _broadcast_shape(shapes, name):
    out = list(shapes[0])
    for s in shapes[1:]:
        if len(s) != len(out):
            raise ValueError(f"Layer {name!r}: inputs must have the same rank, got shapes {shapes}")
        for i, (a, b) in enumerate(zip(out, s)):
            if a is None or b is None:
                out[i] = a if b is None else b if a is None else a
            elif a == 1:
                out[i] = b
            elif b != 1 and a != b:
                raise ValueError(f"Inputs have incompatible shapes. Received shapes {shapes} "
                                 f"(layer {name!r})")
    return tuple(out)


class _Merge(Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def _check_inputs(self, inputs):
        if not isinstance(inputs, (list, tuple)) or len(inputs) < 1:
            raise ValueError(f"A merge layer ({self.name!r}) should be called on a list of "
                             f"inputs. Received: inputs={inputs!r}")

    def build(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or not input_shape or \
                not isinstance(input_shape[0], (list, tuple)):
            raise ValueError(f"A merge layer ({self.name!r}) should be called on a list of "
                             f"inputs. Received: input_shape={input_shape}")
        self.built = True

    def compute_output_shape(self, input_shape):
        return _broadcast_shape([tuple(s) for s in input_shape], self.name)

    def call(self, inputs):
        self._check_inputs(inputs)
        out = inputs[0]
        for x in inputs[1:]:
            out = self._merge(out, x)
        return self._finish(out, len(inputs))

    def _finish(self, out, n):
        return out


class Add(_Merge):
    def _merge(self, a, b):
        return ops.add(a, b)


class Subtract(_Merge):
    def call(self, inputs):
        if len(inputs) != 2:
            raise ValueError(f"A `Subtract` layer should be called on exactly 2 inputs. "
                             f"Received: inputs={inputs}")
        return ops.subtract(inputs[0], inputs[1])


class Multiply(_Merge):
    def _merge(self, a, b):
        return ops.multiply(a, b)


class Average(_Merge):
    def _merge(self, a, b):
        return ops.add(a, b)

    def _finish(self, out, n):
        return ops.divide(out, float(n))


class Maximum(_Merge):
    def _merge(self, a, b):
        return ops.maximum(a, b)


class Minimum(_Merge):
    def _merge(self, a, b):
        return ops.minimum(a, b)


class Concatenate(_Merge):
    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, inputs):
        self._check_inputs(inputs)
        return ops.concatenate(list(inputs), axis=self.axis)

    def compute_output_shape(self, input_shape):
        shapes = [list(s) for s in input_shape]
        rank = len(shapes[0])
        ax = self.axis % rank
        out = list(shapes[0])
        for s in shapes[1:]:
            if len(s) != rank or any(a is not None and b is not None and a != b
                                     for i, (a, b) in enumerate(zip(out, s)) if i != ax):
                raise ValueError("A `Concatenate` layer requires inputs with matching shapes "
                                 f"except for the concatenation axis. Received: input_shape="
                                 f"{[tuple(x) for x in input_shape]}")
            out[ax] = None if out[ax] is None or s[ax] is None else out[ax] + s[ax]
        return tuple(out)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class Dot(_Merge):
    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        self.axes = axes
        self.normalize = normalize

    def _axes_for(self, ndim_a, ndim_b):
        axes = self.axes if isinstance(self.axes, (list, tuple)) else (self.axes, self.axes)
        ax0, ax1 = axes[0] % ndim_a, axes[1] % ndim_b
        if ax0 == 0 or ax1 == 0:  # as Keras's batch_dot
            raise ValueError(f"Dot layer {self.name!r}: cannot take the dot product over the "
                             f"batch axis 0 (axes={self.axes}). If your inputs are not "
                             "batched, add a dummy batch dimension to them.")
        return ax0, ax1

    def call(self, inputs):
        a, b = inputs
        axes = self._axes_for(a.ndim, b.ndim)
        size_a, size_b = a.shape[axes[0]], b.shape[axes[1]]
        if size_a != size_b:
            raise ValueError(f"Dot layer {self.name!r}: incompatible input shapes for "
                             f"axes={self.axes}: axis values {size_a} (at axis {axes[0]}) != "
                             f"{size_b} (at axis {axes[1]}). Received shapes {tuple(a.shape)} "
                             f"and {tuple(b.shape)}")
        if self.normalize:
            a = a / ops.sqrt(ops.maximum(ops.sum(ops.square(a), axis=axes[0], keepdims=True), 1e-12))
            b = b / ops.sqrt(ops.maximum(ops.sum(ops.square(b), axis=axes[1], keepdims=True), 1e-12))
        ax0, ax1 = axes[0] % a.ndim, axes[1] % b.ndim
        # batched tensordot over the given axes, batch axis 0 kept
        a2 = ops.moveaxis(a, ax0, -1)
        b2 = ops.moveaxis(b, ax1, 1)
        out = ops.matmul(ops.reshape(a2, (a2.shape[0], -1, a2.shape[-1])),
                         ops.reshape(b2, (b2.shape[0], b2.shape[1], -1)))
        shape = (a2.shape[0],) + tuple(a2.shape[1:-1]) + tuple(b2.shape[2:])
        out = ops.reshape(out, shape)
        if len(shape) == 1:
            out = ops.expand_dims(out, -1)
        return out

    def compute_output_shape(self, input_shape):
        a, b = (tuple(s) for s in input_shape)
        ax0, ax1 = self._axes_for(len(a), len(b))
        if a[ax0] is not None and b[ax1] is not None and a[ax0] != b[ax1]:
            raise ValueError(f"Dot layer {self.name!r}: incompatible input shapes {a} and {b} "
                             f"(axis {ax0} of the first is {a[ax0]}, axis {ax1} of the second "
                             f"is {b[ax1]})")
        shape = (a[0],) + a[1:ax0] + a[ax0 + 1:] + b[1:ax1] + b[ax1 + 1:]
        return shape if len(shape) > 1 else shape + (1,)

    def get_config(self):
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}


def add(inputs, **kwargs):
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    return Minimum(**kwargs)(inputs)


def concatenate(inputs, axis=-1, **kwargs):
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs, axes=-1, **kwargs):
    return Dot(axes=axes, **kwargs)(inputs)
