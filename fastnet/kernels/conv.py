"""Convolution kernels on numpy float32 arrays (csrc/conv): N-D convolution,
transposed convolution and depthwise convolution, forward and backward.

Layouts are channels-last and Keras's, for rank r = 1, 2 or 3 spatial axes:

    x       (N, *spatial, C_in)                       float32, C-contiguous
    conv kernel            (*k, C_in, filters)        Keras Conv1D/2D/3D
    conv_transpose kernel  (*k, filters, C_in)        Keras Conv1D/2D/3DTranspose
    depthwise kernel       (*k, C_in, depth_multiplier)  Keras DepthwiseConv1D/2D;
                           output channels C_in * depth_multiplier, ordered c * M + m
    bias    (out_channels,) or None

``strides``, ``dilation_rate`` (and ``output_padding``) are an int or one int per
spatial axis; ``padding`` is ``'valid'`` or ``'same'`` (TensorFlow's split: the
odd extra pad goes after, i.e. bottom/right). The rank comes from ``x.ndim - 2``.

Forward functions return the output; ``*_backward_input`` returns the gradient
wrt the input (shape ``input_shape``); ``*_backward_kernel`` returns
``(dkernel, dbias)`` where ``dbias`` is ``dy`` summed over all but the last axis
(``None`` when ``with_bias=False``).

Errors: a wrong dtype raises TypeError; a wrong rank, a channel mismatch,
zero/negative sizes, strides or dilation, a non-contiguous array, or a window
that does not fit in the input with ``padding='valid'`` (an empty output)
raise ValueError naming the op and the argument. A batch of 0 is allowed and
gives an empty result.

Memory: no full im2col matrix is built; see csrc/include/fastnet/conv.h (about
1 MiB of cached scratch per thread, more only when one output pixel's window
K*C_in exceeds 16K floats).
"""

from __future__ import annotations

import numpy as np

from fastnet import _C

__all__ = [
    "conv_output_shape",
    "conv_transpose_output_shape",
    "depthwise_conv_output_shape",
    "conv_output_length",
    "deconv_output_length",
    "conv_forward",
    "conv_backward_input",
    "conv_backward_kernel",
    "relu_backward_from_output",
    "conv_transpose_forward",
    "conv_transpose_backward_input",
    "conv_transpose_backward_kernel",
    "depthwise_conv_forward",
    "depthwise_conv_backward_input",
    "depthwise_conv_backward_kernel",
]


def _array(a, name, op):
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{op}: `{name}` must be a numpy array, got {type(a).__name__}")
    if a.dtype != np.float32:
        raise TypeError(f"{op}: `{name}` must be float32, got dtype {a.dtype} with shape {a.shape}")
    if a.ndim < 3 or a.ndim > 5:
        raise ValueError(f"{op}: `{name}` must be 3-D, 4-D or 5-D (batch, spatial..., channels), "
                         f"got shape {a.shape}")
    return a


def _rank_of(shape, name, op):
    shape = tuple(shape)
    if len(shape) < 3 or len(shape) > 5:
        raise ValueError(f"{op}: `{name}` must have 3, 4 or 5 axes (batch, spatial..., channels), "
                         f"got {shape}")
    return len(shape) - 2


def _axis_arg(v, rank, name, op):
    if isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{op}: `{name}` must be an int or a sequence of ints, got {v!r}")
    if isinstance(v, (int, np.integer)):
        return [int(v)] * rank
    try:
        vals = list(v)
    except TypeError:
        raise TypeError(f"{op}: `{name}` must be an int or a sequence of ints, got {v!r}") from None
    if len(vals) != rank or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool)
                                    for s in vals):
        raise ValueError(f"{op}: `{name}` must be an int or {rank} ints (one per spatial axis), "
                         f"got {v!r}")
    return [int(s) for s in vals]


def _padding(p, op):
    if not isinstance(p, str) or p.lower() not in ("valid", "same"):
        raise ValueError(f"{op}: `padding` must be 'valid' or 'same', got {p!r}")
    return p.lower()


def _opt_bias(bias, op):
    if bias is None:
        return None
    if not isinstance(bias, np.ndarray) or bias.dtype != np.float32:
        raise TypeError(f"{op}: `bias` must be a float32 numpy array or None, got "
                        f"{getattr(bias, 'dtype', type(bias).__name__)}")
    return bias


def _ints(shape, name, op):
    try:
        return [int(s) for s in shape]
    except TypeError:
        raise TypeError(f"{op}: `{name}` must be a sequence of ints, got {shape!r}") from None


# ---- shape helpers (Keras's conv_output_length / deconv_output_length) ----

def conv_output_length(size, kernel_size, stride=1, padding="valid", dilation=1):
    """Output length of one axis: ``ceil(size / stride)`` for 'same',
    ``floor((size - (k-1)*dilation - 1) / stride) + 1`` for 'valid' (may be <= 0)."""
    eff = (kernel_size - 1) * dilation + 1
    if padding == "same":
        return -(-size // stride)
    return (size - eff) // stride + 1


def deconv_output_length(size, kernel_size, stride=1, padding="valid", output_padding=None,
                         dilation=1):
    """Keras's ``deconv_output_length`` for one axis of a transposed convolution."""
    eff = (kernel_size - 1) * dilation + 1
    if output_padding is None:
        return size * stride if padding == "same" else size * stride + max(eff - stride, 0)
    pad = eff // 2 if padding == "same" else 0
    return (size - 1) * stride + eff - 2 * pad + output_padding


def conv_output_shape(input_shape, kernel_shape, strides=1, padding="valid", dilation_rate=1):
    """Output shape of :func:`conv_forward` (no checks beyond the rank)."""
    rank = _rank_of(input_shape, "input_shape", "conv_output_shape")
    s = _axis_arg(strides, rank, "strides", "conv_output_shape")
    d = _axis_arg(dilation_rate, rank, "dilation_rate", "conv_output_shape")
    p = _padding(padding, "conv_output_shape")
    out = [conv_output_length(input_shape[1 + i], kernel_shape[i], s[i], p, d[i])
           for i in range(rank)]
    return (input_shape[0], *out, kernel_shape[-1])


def depthwise_conv_output_shape(input_shape, kernel_shape, strides=1, padding="valid",
                                dilation_rate=1):
    """Output shape of :func:`depthwise_conv_forward`: channels ``C_in * depth_multiplier``."""
    shape = conv_output_shape(input_shape, kernel_shape, strides, padding, dilation_rate)
    return shape[:-1] + (kernel_shape[-2] * kernel_shape[-1],)


def conv_transpose_output_shape(input_shape, kernel_shape, strides=1, padding="valid",
                                output_padding=None, dilation_rate=1):
    """Output shape of :func:`conv_transpose_forward` (Keras's deconv_output_length)."""
    rank = _rank_of(input_shape, "input_shape", "conv_transpose_output_shape")
    s = _axis_arg(strides, rank, "strides", "conv_transpose_output_shape")
    d = _axis_arg(dilation_rate, rank, "dilation_rate", "conv_transpose_output_shape")
    p = _padding(padding, "conv_transpose_output_shape")
    op_ = (None if output_padding is None
           else _axis_arg(output_padding, rank, "output_padding", "conv_transpose_output_shape"))
    out = [deconv_output_length(input_shape[1 + i], kernel_shape[i], s[i], p,
                                None if op_ is None else op_[i], d[i]) for i in range(rank)]
    return (input_shape[0], *out, kernel_shape[-2])


# ---- convolution ----

def conv_forward(x, kernel, bias=None, strides=1, padding="valid", dilation_rate=1,
                 activation=None):
    """N-D convolution (Keras Conv1D/2D/3D, cross-correlation as Keras).

    x (N, *spatial, C_in), kernel (*k, C_in, filters), bias (filters,) or None
    -> y (N, *out, filters), ``out`` per :func:`conv_output_shape`.
    ``activation``: None (or ``'linear'``) or ``'relu'``, applied by the kernel to each
    block of output as it writes it (no second pass); the gradient through it is
    :func:`relu_backward_from_output` of this output.
    """
    op = "conv_forward"
    x = _array(x, "x", op)
    rank = x.ndim - 2
    act = "linear" if activation is None else activation
    if not isinstance(act, str):
        raise TypeError(f"{op}: `activation` must be None, 'linear' or 'relu', got {activation!r}")
    return _C.conv_forward(x, _kernel(kernel, op), _opt_bias(bias, op),
                           _axis_arg(strides, rank, "strides", op), _padding(padding, op),
                           _axis_arg(dilation_rate, rank, "dilation_rate", op), act)


def relu_backward_from_output(y, dy):
    """The gradient through a ReLU from its output y: ``dy`` where ``y > 0``, else 0
    (float32 C-contiguous arrays of one shape; threaded)."""
    op = "relu_backward_from_output"
    for name, a in (("y", y), ("dy", dy)):
        if not isinstance(a, np.ndarray):
            raise TypeError(f"{op}: `{name}` must be a numpy array, got {type(a).__name__}")
    return _C.relu_backward_from_output(y, dy)


def conv_backward_input(dy, kernel, input_shape, strides=1, padding="valid", dilation_rate=1):
    """Gradient of :func:`conv_forward` wrt x: dy (N, *out, filters) -> dx (input_shape)."""
    op = "conv_backward_input"
    input_shape = _ints(input_shape, "input_shape", op)
    rank = _rank_of(input_shape, "input_shape", op)
    return _C.conv_backward_input(_array(dy, "dy", op), _kernel(kernel, op), input_shape,
                                  _axis_arg(strides, rank, "strides", op), _padding(padding, op),
                                  _axis_arg(dilation_rate, rank, "dilation_rate", op))


def conv_backward_kernel(x, dy, kernel_shape, strides=1, padding="valid", dilation_rate=1,
                         with_bias=True):
    """Gradients of :func:`conv_forward` wrt the kernel and bias.

    x (N, *spatial, C_in), dy (N, *out, filters) -> (dkernel (kernel_shape),
    dbias (filters,) or None).
    """
    op = "conv_backward_kernel"
    x = _array(x, "x", op)
    rank = x.ndim - 2
    return _C.conv_backward_kernel(x, _array(dy, "dy", op), _ints(kernel_shape, "kernel_shape", op),
                                   _axis_arg(strides, rank, "strides", op), _padding(padding, op),
                                   _axis_arg(dilation_rate, rank, "dilation_rate", op),
                                   bool(with_bias))


def _kernel(k, op):
    if not isinstance(k, np.ndarray):
        raise TypeError(f"{op}: `kernel` must be a numpy array, got {type(k).__name__}")
    if k.dtype != np.float32:
        raise TypeError(f"{op}: `kernel` must be float32, got dtype {k.dtype} with shape {k.shape}")
    return k


def _opad(output_padding, rank, op):
    if output_padding is None:
        return None
    return _axis_arg(output_padding, rank, "output_padding", op)


# ---- transposed convolution ----

def conv_transpose_forward(x, kernel, bias=None, strides=1, padding="valid", output_padding=None,
                           dilation_rate=1):
    """Transposed convolution (Keras Conv2DTranspose; 1-D and 3-D alike).

    x (N, *spatial, C_in), kernel (*k, filters, C_in), bias (filters,) or None
    -> y (N, *out, filters), ``out`` per Keras's deconv_output_length. It is the
    adjoint (input gradient) of the convolution from y's shape to x's shape, with
    TensorFlow's padding split: pad before = max((in-1)*stride + eff_k - out, 0) // 2.
    ``output_padding`` (int, per-axis ints or None) must be smaller than ``strides``.
    """
    op = "conv_transpose_forward"
    x = _array(x, "x", op)
    rank = x.ndim - 2
    return _C.conv_transpose_forward(x, _kernel(kernel, op), _opt_bias(bias, op),
                                     _axis_arg(strides, rank, "strides", op),
                                     _padding(padding, op), _opad(output_padding, rank, op),
                                     _axis_arg(dilation_rate, rank, "dilation_rate", op))


def conv_transpose_backward_input(dy, kernel, input_shape, strides=1, padding="valid",
                                  output_padding=None, dilation_rate=1):
    """Gradient of :func:`conv_transpose_forward` wrt x (a plain convolution of dy)."""
    op = "conv_transpose_backward_input"
    input_shape = _ints(input_shape, "input_shape", op)
    rank = _rank_of(input_shape, "input_shape", op)
    return _C.conv_transpose_backward_input(
        _array(dy, "dy", op), _kernel(kernel, op), input_shape,
        _axis_arg(strides, rank, "strides", op), _padding(padding, op),
        _opad(output_padding, rank, op), _axis_arg(dilation_rate, rank, "dilation_rate", op))


def conv_transpose_backward_kernel(x, dy, kernel_shape, strides=1, padding="valid",
                                   output_padding=None, dilation_rate=1, with_bias=True):
    """Gradients of :func:`conv_transpose_forward` wrt the kernel (*k, filters, C_in)
    and bias (filters,): returns ``(dkernel, dbias or None)``."""
    op = "conv_transpose_backward_kernel"
    x = _array(x, "x", op)
    rank = x.ndim - 2
    return _C.conv_transpose_backward_kernel(
        x, _array(dy, "dy", op), _ints(kernel_shape, "kernel_shape", op),
        _axis_arg(strides, rank, "strides", op), _padding(padding, op),
        _opad(output_padding, rank, op), _axis_arg(dilation_rate, rank, "dilation_rate", op),
        bool(with_bias))


# ---- depthwise convolution ----

def depthwise_conv_forward(x, kernel, bias=None, strides=1, padding="valid", dilation_rate=1):
    """Depthwise convolution (Keras DepthwiseConv2D; 1-D and 3-D alike).

    x (N, *spatial, C), kernel (*k, C, M), bias (C*M,) or None -> y (N, *out, C*M)
    with ``y[..., c*M + m] = sum_k x[..., c] * kernel[k, c, m]``.
    """
    op = "depthwise_conv_forward"
    x = _array(x, "x", op)
    rank = x.ndim - 2
    return _C.depthwise_conv_forward(x, _kernel(kernel, op), _opt_bias(bias, op),
                                     _axis_arg(strides, rank, "strides", op),
                                     _padding(padding, op),
                                     _axis_arg(dilation_rate, rank, "dilation_rate", op))


def depthwise_conv_backward_input(dy, kernel, input_shape, strides=1, padding="valid",
                                  dilation_rate=1):
    """Gradient of :func:`depthwise_conv_forward` wrt x: dy (N, *out, C*M) -> dx."""
    op = "depthwise_conv_backward_input"
    input_shape = _ints(input_shape, "input_shape", op)
    rank = _rank_of(input_shape, "input_shape", op)
    return _C.depthwise_conv_backward_input(
        _array(dy, "dy", op), _kernel(kernel, op), input_shape,
        _axis_arg(strides, rank, "strides", op), _padding(padding, op),
        _axis_arg(dilation_rate, rank, "dilation_rate", op))


def depthwise_conv_backward_kernel(x, dy, kernel_shape, strides=1, padding="valid",
                                   dilation_rate=1, with_bias=True):
    """Gradients of :func:`depthwise_conv_forward` wrt the kernel (*k, C, M) and bias (C*M,)."""
    op = "depthwise_conv_backward_kernel"
    x = _array(x, "x", op)
    rank = x.ndim - 2
    return _C.depthwise_conv_backward_kernel(
        x, _array(dy, "dy", op), _ints(kernel_shape, "kernel_shape", op),
        _axis_arg(strides, rank, "strides", op), _padding(padding, op),
        _axis_arg(dilation_rate, rank, "dilation_rate", op), bool(with_bias))
