"""EinsumDense and Identity, as keras.layers.

EinsumDense contracts its input with a kernel along an einsum ``equation`` of the forms
Keras accepts: ``"ab,bc->ac"``, ``"...b,bc->...c"`` (left ellipsis) and ``"ab...,bc->ac..."``
(right ellipsis). The kernel and bias shapes, the fan axes of a variance-scaling
initializer, and the config are Keras's, so ``set_weights(keras_layer.get_weights())``
gives Keras's outputs. The usual dense-like equations (the output is the input's kept
axes followed by the kernel's new axes, in order) run as one GEMM (``ops.matmul`` on the
flattened operands); any other equation is ``ops.einsum``.
"""

from __future__ import annotations

import re
import string

import numpy as np

from fastnet import activations as activations_mod
from fastnet import initializers as initializers_mod
from fastnet import ops
from fastnet.layers.layer import InputSpec, Layer
from fastnet.layers.lora import LoRAMixin
from fastnet.layers.weight_args import kernel_bias_config, set_kernel_bias_args

_FORMS = (
    (re.compile(r"^([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)$"), None),
    (re.compile(r"^0([a-zA-Z]+),([a-zA-Z]+)->0([a-zA-Z]+)$"), "left"),
    (re.compile(r"^([a-zA-Z]{2,})0,([a-zA-Z]+)->([a-zA-Z]+)0$"), "right"),
)


def _split_equation(equation):
    """(input_spec, weight_spec, output_spec, elided side) of a Keras EinsumDense equation."""
    if not isinstance(equation, str):
        raise TypeError(f"EinsumDense: `equation` must be a string. Received: "
                        f"equation={equation!r}")
    text = equation.replace(" ", "").replace("...", "0")
    for pattern, side in _FORMS:
        m = pattern.match(text)
        if m:
            return m.group(1), m.group(2), m.group(3), side
    raise ValueError(f"Invalid einsum equation '{equation}'. Equations must be in the form "
                     "[X],[Y]->[Z], ...[X],[Y]->...[Z], or [X]...,[Y]->[Z]....")


def _analyze(equation, bias_axes, input_shape, output_shape):
    """Keras's shape analysis: (kernel shape, bias shape or None, full output shape,
    kernel input axes, kernel output axes, explicit einsum equation for this rank)."""
    in_spec, w_spec, out_spec, side = _split_equation(equation)
    input_shape = tuple(input_shape)
    elided = len(input_shape) - len(in_spec)
    if elided < 0 or (side is None and elided != 0):
        raise ValueError(f"EinsumDense: the equation '{equation}' needs an input of rank "
                         f"{len(in_spec)}{' or more' if side else ''}; received input shape "
                         f"{input_shape}")
    out_shape = [input_shape[0]] + list(output_shape)
    if elided > 0 and side == "left":
        # the elided axes after the batch, in order (Keras 3.15 inserts them reversed in its
        # compute_output_shape, against its own call's result, when there are two or more)
        out_shape[1:1] = list(input_shape[1:elided])
    elif elided > 0 and side == "right":
        out_shape.extend(input_shape[len(input_shape) - elided:])
    if side == "left":
        in_map = {d: i + elided - len(input_shape) for i, d in enumerate(in_spec)}
        out_map = {d: i + elided for i, d in enumerate(out_spec)}
    else:
        in_map = {d: i for i, d in enumerate(in_spec)}
        out_map = {d: i for i, d in enumerate(out_spec)}
    for d in in_spec:
        if d in out_map:
            want, got = out_shape[out_map[d]], input_shape[in_map[d]]
            if want is not None and got is not None and want != got:
                raise ValueError(f"Input shape and output shape do not match at shared "
                                 f"dimension '{d}'. Input shape is {got}, and output shape is "
                                 f"{want}.")
    for d in out_spec:
        if d not in in_spec and d not in w_spec:
            raise ValueError(f"Dimension '{d}' was specified in the output '{out_spec}' but "
                             f"has no corresponding dim in the input spec '{in_spec}' or "
                             f"weight spec '{w_spec}'")
    kernel_shape, input_axes, output_axes = [], [], []
    for i, d in enumerate(w_spec):
        if d in out_map:
            kernel_shape.append(out_shape[out_map[d]])
            output_axes.append(i)
        elif d in in_map:
            kernel_shape.append(input_shape[in_map[d]])
            input_axes.append(i)
        else:
            raise ValueError(f"Weight dimension '{d}' did not have a match in either the input "
                             f"spec '{in_spec}' or the output spec '{out_spec}'. For this "
                             "layer, the weight must be fully specified.")
    bias_shape = None
    if bias_axes is not None:
        left = elided if side == "left" else 0
        sizes = {c: out_shape[i + left] for i, c in enumerate(out_spec)}
        for c in bias_axes:
            if c not in out_spec:
                raise ValueError(f"Bias dimension '{c}' was requested, but is not part of the "
                                 f"output spec '{out_spec}'")
        first = min(out_spec.find(c) for c in bias_axes)
        bias_shape = [sizes[c] if c in bias_axes else 1 for c in out_spec[first:]]
        if side == "right":
            bias_shape.extend([1] * elided)
    # the explicit equation for this input rank (einsum's gradient needs named axes)
    free = [c for c in string.ascii_letters if c not in in_spec + w_spec + out_spec]
    extra = "".join(free[:max(elided, 0)])
    if side == "left":
        explicit = f"{extra}{in_spec},{w_spec}->{extra}{out_spec}"
    elif side == "right":
        explicit = f"{in_spec}{extra},{w_spec}->{out_spec}{extra}"
    else:
        explicit = f"{in_spec},{w_spec}->{out_spec}"
    return kernel_shape, bias_shape, out_shape, input_axes, output_axes, explicit


def _gemm_plan(explicit):
    """For ``I,W->O`` with I = kept + contracted, W = contracted + new, O = kept + new
    (each in order): (number of kept input axes, number of contracted axes); else None."""
    lhs, out = explicit.split("->")
    in_spec, w_spec = lhs.split(",")
    contracted = [c for c in in_spec if c not in out]
    kept = [c for c in in_spec if c in out]
    new = [c for c in w_spec if c not in in_spec]
    if len(set(in_spec)) != len(in_spec) or len(set(w_spec)) != len(w_spec):
        return None
    if (in_spec != "".join(kept + contracted) or w_spec != "".join(contracted + new)
            or out != "".join(kept + new) or not contracted):
        return None
    return len(kept), len(contracted)


class EinsumDense(LoRAMixin, Layer):
    """A dense layer of any rank: ``activation(einsum(equation, inputs, kernel) + bias)``.

    ``output_shape``: the output's shape without the batch axis (and without the elided
    axes); ``None`` entries take the input's size. ``bias_axes``: the output letters the
    bias spans (``None``: no bias)."""

    def __init__(self, equation, output_shape, activation=None, bias_axes=None,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, lora_rank=None, lora_alpha=None,
                 gptq_unpacked_column_size=None, quantization_config=None, **kwargs):
        super().__init__(**kwargs)
        for name, value in (("gptq_unpacked_column_size", gptq_unpacked_column_size),
                            ("quantization_config", quantization_config)):
            if value is not None:
                raise NotImplementedError(f"EinsumDense {self.name!r}: `{name}` "
                                          f"(quantization) is not implemented in fastnet. "
                                          f"Received: {name}={value!r}")
        self._init_lora(lora_rank, lora_alpha)
        _split_equation(equation)
        self.equation = equation
        if isinstance(output_shape, (int, np.integer)) and not isinstance(output_shape, bool):
            output_shape = (int(output_shape),)
        if not isinstance(output_shape, (list, tuple)) or any(
                d is not None and (isinstance(d, bool) or not isinstance(d, (int, np.integer))
                                   or d <= 0) for d in output_shape):
            raise ValueError(f"EinsumDense {self.name!r}: `output_shape` must be an int or a "
                             f"tuple of positive ints (or None). Received: "
                             f"output_shape={output_shape!r}")
        self.partial_output_shape = tuple(None if d is None else int(d) for d in output_shape)
        if bias_axes is not None and not isinstance(bias_axes, str):
            raise TypeError(f"EinsumDense {self.name!r}: `bias_axes` must be a string of "
                            f"output letters or None. Received: bias_axes={bias_axes!r}")
        self.bias_axes = bias_axes
        self.activation = activations_mod.get(activation)
        set_kernel_bias_args(self, kernel_initializer, bias_initializer, kernel_regularizer,
                             bias_regularizer, kernel_constraint, bias_constraint)

    def build(self, input_shape):
        kshape, bshape, _, in_axes, out_axes, explicit = _analyze(
            self.equation, self.bias_axes, input_shape, self.partial_output_shape)
        if any(d is None for d in kshape):
            raise ValueError(f"EinsumDense {self.name!r}: the kernel shape {kshape} has an "
                             f"undefined size; define the input's contracted axes "
                             f"(input shape {tuple(input_shape)}) or the output_shape")
        self._explicit = explicit
        self._plan = _gemm_plan(explicit)
        self.input_spec = InputSpec(ndim=len(input_shape))
        init = self.kernel_initializer
        if isinstance(init, initializers_mod.VarianceScaling) and (
                init.input_axes is None or init.output_axes is None):
            # as Keras: the fans of the kernel's input and output axes
            config = dict(init.get_config(), input_axes=in_axes, output_axes=out_axes)
            init = type(init).from_config(config)
        self._kernel = self.add_weight(shape=tuple(kshape), name="kernel", initializer=init,
                                       regularizer=self.kernel_regularizer,
                                       constraint=self.kernel_constraint)
        self.bias = None if bshape is None else self.add_weight(
            shape=tuple(bshape), name="bias", initializer=self.bias_initializer,
            regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        self.built = True
        if self.lora_rank:
            self.enable_lora(self.lora_rank, self.lora_alpha)

    @property
    def kernel(self):
        return self._lora_merged()

    def call(self, inputs):
        x = ops.convert_to_tensor(inputs)
        kernel = self.kernel  # merged once when LoRA is enabled
        if self._plan is not None:
            n_kept, n_contr = self._plan
            kept = tuple(x.shape[:n_kept])
            k = int(np.prod(x.shape[n_kept:], dtype=np.int64))
            new = tuple(kernel.shape[n_contr:])
            if tuple(x.shape[n_kept:]) != tuple(kernel.shape[:n_contr]):
                raise ValueError(f"EinsumDense {self.name!r}: input shape {tuple(x.shape)} "
                                 f"does not match the kernel {tuple(kernel.shape)} of "
                                 f"'{self.equation}'")
            y = ops.matmul(ops.reshape(x, (-1, k)),
                           ops.reshape(kernel, (k, int(np.prod(new, dtype=np.int64)))))
            y = ops.reshape(y, kept + new)
        else:
            y = ops.einsum(self._explicit, x, kernel)
        if self.bias is not None:
            y = ops.add(y, self.bias)
        return self.activation(y) if self.activation is not None else y

    def compute_output_shape(self, input_shape):
        return tuple(_analyze(self.equation, self.bias_axes, input_shape,
                              self.partial_output_shape)[2])

    def get_config(self):
        return {**super().get_config(), "output_shape": list(self.partial_output_shape),
                "equation": self.equation,
                "activation": activations_mod.serialize(self.activation),
                "bias_axes": self.bias_axes,
                **kernel_bias_config(self), **self._lora_config(),
                "quantization_config": None}


class Identity(Layer):
    """Returns its input unchanged (keras.layers.Identity); masks pass through."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.built = True

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape


__all__ = ["EinsumDense", "Identity"]
