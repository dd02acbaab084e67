"""Reshaping layers: UpSampling1D/2D/3D, ZeroPadding1D/2D, Cropping1D/2D."""

from __future__ import annotations

from fastnet import ops
from fastnet.layers.argument_validation import standardize_tuple
from fastnet.layers.core import _data_format
from fastnet.layers.layer import InputSpec, Layer, check_array_size
from fastnet.ops import spatial as ops_spatial


class _Spatial(Layer):
    """A layer written for channels-last inputs (``_call_last``/``_shape_last``) that also
    takes ``data_format='channels_first'``, by transposing around them."""

    rank = 2

    def call(self, inputs):
        if self.data_format != "channels_first":
            return self._call_last(inputs)
        n = self.rank
        y = self._call_last(ops.transpose(inputs, (0,) + tuple(range(2, n + 2)) + (1,)))
        return ops.transpose(y, (0, n + 1) + tuple(range(1, n + 1)))

    def compute_output_shape(self, input_shape):
        s = tuple(input_shape)
        if self.data_format != "channels_first":
            return self._shape_last(s)
        out = self._shape_last((s[0],) + s[2:] + (s[1],))
        return (out[0], out[-1]) + tuple(out[1:-1])

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


def _pairs(padding, n, name, layer=None):
    """An int, n ints or n (before, after) pairs of non-negative ints -> n pairs."""
    def bad():
        where = f"{type(layer).__name__} {layer.name!r}: " if layer is not None else ""
        return ValueError(f"{where}`{name}` should be an integer, {n} integers or {n} pairs of "
                          f"non-negative integers. Received: {name}={padding!r}")

    def is_int(v):
        return isinstance(v, int) and not isinstance(v, bool)

    if is_int(padding):
        out = ((padding, padding),) * n
    else:
        try:
            items = list(padding)
        except TypeError:
            raise bad() from None
        if n == 1 and len(items) == 2 and all(is_int(p) for p in items):
            items = [tuple(items)]  # Keras's 1-D form: (left, right)
        out = []
        for p in items:
            if is_int(p):
                out.append((p, p))
                continue
            try:
                pair = tuple(p)
            except TypeError:
                raise bad() from None
            if len(pair) != 2 or not all(is_int(v) for v in pair):
                raise bad()
            out.append(pair)
        out = tuple(out)
    if len(out) != n or any(v < 0 for pair in out for v in pair):
        raise bad()
    return out


class _UpSampling(_Spatial):
    rank = 2

    def __init__(self, size=2, data_format=None, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        self.size = standardize_tuple(size, self.rank, "size", self)
        if interpolation != "nearest":
            raise ValueError(f"UpSampling: only interpolation='nearest' is supported, got "
                             f"{interpolation!r}")
        self.interpolation = interpolation
        self.data_format = _data_format(data_format, self)
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def _call_last(self, inputs):
        check_array_size(self, self._shape_last(tuple(inputs.shape)), inputs.dtype)
        return ops_spatial.upsampling(inputs, self.size)

    def _shape_last(self, input_shape):
        sp = [None if input_shape[1 + i] is None else input_shape[1 + i] * self.size[i]
              for i in range(self.rank)]
        return (input_shape[0],) + tuple(sp) + (input_shape[-1],)

    def get_config(self):
        return {**super().get_config(), "size": list(self.size)}


def _no_data_format(layer_name, kwargs, extra=()):
    """Keras's 1-D reshaping layers take no data_format (nor interpolation): refuse them
    instead of accepting and ignoring them."""
    for arg in ("data_format",) + tuple(extra):
        if arg in kwargs:
            raise ValueError(f"{layer_name}: unrecognized keyword argument `{arg}` (Keras's "
                            f"{layer_name} has none). Received: {arg}={kwargs[arg]!r}")


class UpSampling1D(_UpSampling):
    rank = 1

    def __init__(self, size=2, **kwargs):
        _no_data_format("UpSampling1D", kwargs, ("interpolation",))
        super().__init__(size=size, **kwargs)

    def get_config(self):
        config = {**super().get_config(), "size": self.size[0]}
        config.pop("data_format")  # Keras's UpSampling1D has no data_format
        return config


class UpSampling2D(_UpSampling):
    rank = 2


class UpSampling3D(_UpSampling):
    rank = 3

    def __init__(self, size=2, data_format=None, **kwargs):
        if "interpolation" in kwargs:
            raise ValueError("UpSampling3D: unrecognized keyword argument `interpolation` "
                            "(Keras's UpSampling3D is nearest-neighbour only). Received: "
                            f"interpolation={kwargs['interpolation']!r}")
        super().__init__(size=size, data_format=data_format, **kwargs)


class _ZeroPadding(_Spatial):
    rank = 2

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.padding = _pairs(padding, self.rank, "padding", self)
        self.data_format = _data_format(data_format, self)
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def _call_last(self, inputs):
        return ops.pad(inputs, [(0, 0)] + list(self.padding) + [(0, 0)])

    def _shape_last(self, input_shape):
        sp = [None if input_shape[1 + i] is None else input_shape[1 + i] + sum(self.padding[i])
              for i in range(self.rank)]
        return (input_shape[0],) + tuple(sp) + (input_shape[-1],)

    def get_config(self):
        return {**super().get_config(), "padding": [list(p) for p in self.padding]}


class ZeroPadding1D(_ZeroPadding):
    rank = 1

    def get_config(self):
        return {**super().get_config(), "padding": list(self.padding[0])}


class ZeroPadding2D(_ZeroPadding):
    rank = 2


class ZeroPadding3D(_ZeroPadding):
    rank = 3


class _Cropping(_Spatial):
    rank = 2

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.cropping = _pairs(cropping, self.rank, "cropping", self)
        self.data_format = _data_format(data_format, self)
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def _call_last(self, inputs):
        key = (slice(None),) + tuple(slice(a, (inputs.shape[1 + i] - b))
                                     for i, (a, b) in enumerate(self.cropping)) + (slice(None),)
        return inputs[key]

    def _shape_last(self, input_shape):
        sp = []
        for i, (a, b) in enumerate(self.cropping):
            size = input_shape[1 + i]
            if size is not None and size - a - b <= 0:
                raise ValueError(f"Layer {self.name}: cropping {self.cropping} is too large for "
                                 f"input shape {input_shape}")
            sp.append(None if size is None else size - a - b)
        return (input_shape[0],) + tuple(sp) + (input_shape[-1],)

    def get_config(self):
        return {**super().get_config(), "cropping": [list(p) for p in self.cropping]}


class Cropping1D(_Cropping):
    rank = 1

    def __init__(self, cropping=(1, 1), **kwargs):  # Keras's default crops one step each side
        _no_data_format("Cropping1D", kwargs)
        super().__init__(cropping=cropping, **kwargs)

    def get_config(self):
        config = {**super().get_config(), "cropping": list(self.cropping[0])}
        config.pop("data_format")
        return config


class Cropping2D(_Cropping):
    rank = 2


class Cropping3D(_Cropping):
    rank = 3

    def __init__(self, cropping=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(cropping=cropping, data_format=data_format, **kwargs)
