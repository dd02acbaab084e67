"""Neural-network ops with Keras 3's names and signatures: activations,
softmax, the fused cross-entropies, and (over the conv/pool/norm/rnn kernels)
convolution, pooling, batch normalization."""

from __future__ import annotations

import math as _pymath
import warnings

import numpy as np

from fastnet import _C
from fastnet._core import needs_grad
from fastnet.backend.tape import RECORDING, create_graph, first_order_only, higher_order_error
from fastnet.backend.tensor import Tensor, floatx
from fastnet.kernels import elementwise as K
from fastnet.ops import math as m
from fastnet.ops.core import _t, make, op

EPSILON = 1e-7


def _opt(x):
    """An optional op argument as a Tensor (None stays None)."""
    return None if x is None else _t(x)


def _f32(t):
    """A Tensor's value as the C-contiguous float32 array kernels take (None stays None)."""
    return None if t is None else np.ascontiguousarray(t._value, dtype=np.float32)


def _empty_like(a):
    """An uninitialised float32 array of a's shape for a kernel to fill (kernel paths
    only: `a` is float32); large ones come from fastnet's buffer cache."""
    return _C.empty_f32(a.shape)


def _float(x):
    x = _t(x)
    if x._value.dtype.kind != "f":
        x = m.cast(x, floatx())
    return x


# ---- activations --------------------------------------------------------------------
# Each activation is one `_activation` call: its numpy forward and its derivative from
# differentiable ops, with the C++ kernel (fastnet.kernels.elementwise) as the fast path
# of both on float32, C-contiguous inputs of at least 4096 elements. softmax,
# log_softmax, the cross-entropies and bias_add use the kernels the same way. A gradient
# asked for while another tape records (nested tapes) is built from the ops.

def _kernel_ok(v):
    # Below a few thousand elements a numpy ufunc call is cheaper than any kernel call.
    return v.dtype == np.float32 and v.flags.c_contiguous and v.size >= 4096


def _activation(name, x, forward, grad, param=None, kernel=None):
    """One activation, one implementation: y = f(x) and its backward g * f'(x).

    ``forward(v)`` is f on a numpy array; ``grad(x, y)`` is f'(x) from differentiable ops
    (given the input and output Tensors). The C++ kernel is the fast path of both, on
    float32 C-contiguous inputs of at least 4096 elements: its forward replaces
    ``forward`` and its backward replaces ``g * grad(x, y)`` for a first-order gradient
    (no other tape recording). The kernel's backward reads y for sigmoid/tanh and x for
    the others. ``kernel`` overrides the size rule."""
    v = x._value
    y = None
    if kernel is None:
        kernel = v.size >= 4096 and _kernel_ok(v)  # the size test first: it is the cheapest
    if kernel:
        out = _empty_like(v)
        K.activation_forward(name, v, out, param)

        def backward(g):
            gv = g._value
            if RECORDING or gv.dtype != np.float32:
                return (g * grad(x, y),)  # an outer tape records: differentiable ops
            gv = np.ascontiguousarray(gv)  # e.g. sum's broadcast upstream gradient
            dx = _empty_like(gv)
            K.activation_backward(name, out if name in ("sigmoid", "tanh") else v, gv, dx,
                                  param)
            return (Tensor(dx),)
    else:
        out = forward(v)

        def backward(g):
            return (g * grad(x, y),)

    y = make(out, (x,), backward)
    return y


def _mask(cond, dtype):
    return Tensor(cond.astype(dtype))


@op
def relu(x):
    if type(x) is not Tensor or x._value.dtype.kind != "f":
        x = _float(x)
    if x._value.size < 4096:  # the hottest small op: _activation's small path, inlined
        return make(_relu_np(x._value), (x,), lambda g: (g * _relu_grad(x, None),))
    return _activation("relu", x, _relu_np, _relu_grad)


def _relu_np(v):
    return np.maximum(v, 0)


def _relu_grad(x, y):
    v = x._value
    return Tensor((v > 0).astype(v.dtype))


@op
def relu6(x):
    x = _float(x)
    v = x._value
    out = np.clip(v, 0, 6)
    return make(out, (x,), lambda g: (g * Tensor(((v > 0) & (v < 6)).astype(v.dtype)),))


@op
def leaky_relu(x, negative_slope=0.2):
    x = _float(x)
    slope = float(negative_slope)
    return _activation(
        "leaky_relu", x, lambda v: np.where(v >= 0, v, v * slope).astype(v.dtype),
        lambda x, y: Tensor(np.where(x._value >= 0, 1.0, slope).astype(x._value.dtype)), slope)


@op
def sigmoid(x):
    x = _float(x)
    y = _activation("sigmoid", x, _sigmoid_np, _sigmoid_grad)
    y._keras_logits = x  # the cross-entropies compute from these (see keras_logits)
    return y


def _sigmoid_np(v):  # the tanh form: no overflow for any |v|
    return (0.5 * (1.0 + np.tanh(0.5 * v))).astype(v.dtype)


def _sigmoid_grad(x, y):
    return y * (1.0 - y)


@op
def tanh(x):
    x = _float(x)
    return _activation("tanh", x, np.tanh, _tanh_grad)


def _tanh_grad(x, y):
    return 1.0 - y * y


@op
def softplus(x):
    x = _float(x)
    return _activation("softplus", x,
                       lambda v: (np.maximum(v, 0) + np.log1p(np.exp(-np.abs(v)))).astype(v.dtype),
                       lambda x, y: sigmoid(x))


@op
def softsign(x):
    x = _float(x)
    return x / (m.abs(x) + 1.0)


@op
def silu(x):
    x = _float(x)

    def grad(x, y):
        sg = sigmoid(x)
        return sg * (1.0 + x * (1.0 - sg))

    return _activation("silu", x, lambda v: v * (0.5 * (1.0 + np.tanh(0.5 * v))), grad)


swish = silu


def _hard_sigmoid_grad_mask(v):
    s = v + 3.0
    return Tensor((((s > 0) & (s < 6)) / 6.0).astype(v.dtype))


def _hard_sigmoid_np(v):
    return (np.clip(v + 3.0, 0.0, 6.0) / 6.0).astype(v.dtype)


@op
def hard_sigmoid(x):
    x = _float(x)
    return _activation("hard_sigmoid", x, _hard_sigmoid_np,
                       lambda x, y: _hard_sigmoid_grad_mask(x._value))


@op
def hard_silu(x):
    x = _float(x)
    return _activation("hard_silu", x, lambda v: v * _hard_sigmoid_np(v),
                       lambda x, y: hard_sigmoid(x) + x * _hard_sigmoid_grad_mask(x._value))


hard_swish = hard_silu


def _elu_grad(x, alpha):
    # d/dx elu(x; alpha), from differentiable ops
    v = x._value
    return m.where(Tensor(v > 0), 1.0, alpha * m.exp(m.minimum(x, 0.0)))


@op
def elu(x, alpha=1.0):
    x = _float(x)
    alpha = float(alpha)
    return _activation("elu", x, lambda v: _elu_np(v, alpha),
                       lambda x, y: _elu_grad(x, alpha), alpha)


def _elu_np(v, alpha):
    return np.where(v > 0, v, alpha * np.expm1(np.minimum(v, 0))).astype(v.dtype)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


@op
def selu(x):
    x = _float(x)
    return _activation("selu", x,
                       lambda v: (_SELU_SCALE * _elu_np(v, _SELU_ALPHA)).astype(v.dtype),
                       lambda x, y: _SELU_SCALE * _elu_grad(x, _SELU_ALPHA))


_GELU_C = _pymath.sqrt(2.0 / _pymath.pi)


def _normal_pdf(x):
    return m.exp(-0.5 * x * x) * (1.0 / _pymath.sqrt(2.0 * _pymath.pi))


def _normal_cdf(x, value):
    """Phi(x) with the given value, differentiable (dPhi = phi, from ops)."""
    return make(value, (x,), lambda g: (g * _normal_pdf(x),))


def _gelu_tanh_np(v):
    return (0.5 * v * (1.0 + np.tanh(_GELU_C * (v + 0.044715 * v * v * v)))).astype(v.dtype)


def _gelu_tanh_grad(x, y):
    sg = sigmoid(2.0 * _GELU_C * (x + 0.044715 * x * x * x))
    return sg + x * (2.0 * sg * (1.0 - sg)) * (_GELU_C * (1.0 + 3 * 0.044715 * x * x))


def _std_normal_cdf_np(v):
    """Phi(v) in numpy; on float32 through the gelu_erf kernel (x Phi(x), then / x)."""
    if v.dtype == np.float32 and v.flags.c_contiguous:
        xphi = _empty_like(v)
        K.activation_forward("gelu_erf", v, xphi)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(v != 0, xphi / v, 0.5).astype(v.dtype)
    from math import erf

    if not v.size:
        return v
    return (0.5 * (1.0 + np.vectorize(erf, otypes=[v.dtype])(v / _pymath.sqrt(2.0)))
            ).astype(v.dtype)


def _gelu_erf_grad(x, y):
    return _normal_cdf(x, _std_normal_cdf_np(x._value)) + x * _normal_pdf(x)


@op
def gelu(x, approximate=True):
    x = _float(x)
    if approximate:
        return _activation("gelu", x, _gelu_tanh_np, _gelu_tanh_grad)
    v = x._value
    # exact: the kernel at any float32 size (numpy has no erf: math.erf per element)
    return _activation("gelu_erf", x, lambda v: (v * _std_normal_cdf_np(v)).astype(v.dtype),
                       _gelu_erf_grad, kernel=v.dtype == np.float32 and v.flags.c_contiguous)


@op
def mish(x):
    x = _float(x)
    return x * tanh(softplus(x))


@op
def exponential(x):
    return m.exp(x)


@op
def linear(x):
    return _t(x)


@op
def softmax(x, axis=-1):
    x = _float(x)
    v = x._value
    if _kernel_ok(v) and v.ndim >= 1 and axis in (-1, v.ndim - 1):
        out = _empty_like(v)
        K.softmax(v, out, False)
        y = None

        def kbackward(g):
            if RECORDING or g._value.dtype != np.float32:
                return (y * (g - m.sum(g * y, axis=-1, keepdims=True)),)
            dx = _empty_like(out)
            K.softmax_backward(out, np.ascontiguousarray(g._value), dx)
            return (Tensor(dx),)

        y = make(out, (x,), kbackward)
        y._keras_logits = x  # the cross-entropies compute from these (see keras_logits)
        return y
    e = np.exp(v - np.max(v, axis=axis, keepdims=True)) if v.size else v
    out = e / np.sum(e, axis=axis, keepdims=True) if v.size else v
    y = None

    def backward(g):
        return (y * (g - m.sum(g * y, axis=axis, keepdims=True)),)

    y = make(out.astype(v.dtype, copy=False), (x,), backward)
    y._keras_logits = x
    return y


@op
def log_softmax(x, axis=-1):
    x = _float(x)
    v = x._value
    if not v.size:
        return make(v, (x,), lambda g: (g,))
    if _kernel_ok(v) and axis in (-1, v.ndim - 1):
        out = _empty_like(v)
        K.softmax(v, out, True)
        y = None
        y = make(out, (x,), lambda g: (g - m.exp(y) * m.sum(g, axis=-1, keepdims=True),))
        return y
    shifted = v - np.max(v, axis=axis, keepdims=True)
    out = shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
    y = None

    def backward(g):
        return (g - m.exp(y) * m.sum(g, axis=axis, keepdims=True),)

    y = make(out.astype(v.dtype, copy=False), (x,), backward)
    return y


# ---- bias ---------------------------------------------------------------------------

@op
def bias_add(x, bias, _inplace=False):
    """``x + bias`` over the last axis (a Dense layer's bias). On the kernel path the
    bias gradient is one threaded reduction over the rows. ``_inplace`` (for callers
    that own ``x``, e.g. Dense at inference) writes the result into x's buffer."""
    x, b = _float(x), _t(bias)
    v, bv = x._value, b._value
    if (_kernel_ok(v) and v.ndim >= 1 and bv.dtype == np.float32 and bv.ndim == 1
            and bv.shape[0] == v.shape[-1] and bv.flags.c_contiguous):
        out = v if (_inplace and not RECORDING and v.flags.writeable) else _empty_like(v)
        K.bias_add(v, bv, out)
        if out is v:
            return Tensor(out)

        def backward(g):
            gv = g._value
            if RECORDING or gv.dtype != np.float32:
                return (g, m.sum(g, axis=tuple(range(g.ndim - 1))))
            if not needs_grad(b):  # a frozen bias
                return (g, None)
            db = _C.empty_f32(bv.shape)
            K.bias_grad(np.ascontiguousarray(gv), db)
            return (g, Tensor(db))

        return make(out, (x, b), backward)
    return m.add(x, b)


# ---- losses -------------------------------------------------------------------------
# Logits of softmax/sigmoid outputs, as Keras's TensorFlow backend (and tf.keras 2): ops.softmax
# and ops.sigmoid (so every activation='softmax'/'sigmoid', the Softmax layer and
# keras.activations) keep their input on the output tensor (`_keras_logits`, a reference),
# and the three cross-entropies given that very tensor compute from the logits
# (from_logits=True) instead of from clipped probabilities: with saturated probabilities
# the loss is the true -log p (not capped at -log(epsilon) ~ 16.1) and the gradient flows
# into the logits as softmax(z) - target (not zero where the clip saturates). Any op on the output (a slice, a cast, a product)
# gives a tensor without them, so the clipped formula applies there. As Keras, the cached
# logits are used whatever activation produced them and a from_logits=True call on such an
# output warns and uses them too.

def keras_logits(x):
    """The logits cached on the output of a softmax/sigmoid (None for anything else)."""
    return getattr(x, "_keras_logits", None) if isinstance(x, Tensor) else None


def without_logits(x):
    """x without its cached logits (the clipped-probability formulas then apply): a view
    of the same buffer, differentiable (identity gradient)."""
    if keras_logits(x) is None:
        return x
    return make(x._value, (x,), lambda g: (g,))


def _get_logits(output, from_logits, op_type, fn_name):
    logits = keras_logits(output)
    if logits is None:
        return output, from_logits
    if from_logits:
        warnings.warn(f"`{fn_name}` received `from_logits=True`, but the `output` argument "
                      f"was produced by a {op_type} activation and thus does not represent "
                      "logits. Was this intended?", stacklevel=3)
    return logits, True

# The fused kernels give the per-sample loss and, when a tape records, the gradient wrt
# `output` in the same pass. They run while at most one tape records: under nested tapes
# the composed (twice-differentiable) expressions below are used. The gradient wrt
# `target` (rarely wanted) is only computed when a tape tracks the target.

def _loss_kernel_ok(target, output, axis):
    v = output._value
    return (_kernel_ok(v) and v.ndim >= 1 and axis in (-1, v.ndim - 1) and len(RECORDING) <= 1
            and target._value.dtype == np.float32 and target._value.flags.c_contiguous)


def _fused_loss(target, output, loss, grad, target_grad, expand):
    """Wraps a fused kernel's loss; `grad` is dloss/doutput per unit upstream gradient,
    `target_grad()` builds dloss/dtarget (only when the sweep wants it), `expand(g)`
    shapes g to broadcast on them."""
    if grad is None:
        return Tensor(loss)

    def backward(g):
        if RECORDING and create_graph(output):
            # The kernel's dloss/doutput is a constant here; nested tapes around the
            # forward take the composed path instead (see _loss_kernel_ok).
            raise higher_order_error("the fused cross-entropy kernel",
                                     " (its forward ran while only one tape recorded)")
        ge = expand(g)
        return (target_grad() * ge if needs_grad(target) else None, ge * Tensor(grad))

    return make(loss, (target, output), backward)


@op
def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    target, output = _float(target), _float(output)
    if tuple(target.shape) != tuple(output.shape):
        raise ValueError("Arguments `target` and `output` must have the same shape. Received: "
                         f"target.shape={target.shape}, output.shape={output.shape}")
    output, from_logits = _get_logits(output, from_logits, "Softmax", "categorical_crossentropy")
    if _loss_kernel_ok(target, output, axis):
        ov = output._value
        loss = _C.empty_f32(ov.shape[:-1])
        grad = _empty_like(ov) if RECORDING else None
        K.categorical_cross_entropy(target._value, ov, loss, grad, bool(from_logits), EPSILON)

        def target_grad():
            if from_logits:
                return -log_softmax(output)
            return -m.log(m.clip(output / m.sum(output, axis=-1, keepdims=True),
                                 EPSILON, 1.0 - EPSILON))

        return _fused_loss(target, output, loss, grad, target_grad,
                           lambda g: m.expand_dims(g, -1))
    if from_logits:
        return -m.sum(target * log_softmax(output, axis=axis), axis=axis)
    output = output / m.sum(output, axis=axis, keepdims=True)
    output = m.clip(output, EPSILON, 1.0 - EPSILON)
    return -m.sum(target * m.log(output), axis=axis)


@op
def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    target, output = _t(target), _float(output)
    output, from_logits = _get_logits(output, from_logits, "Softmax",
                                      "sparse_categorical_crossentropy")
    if target.ndim == output.ndim and target.shape[-1] == 1:
        target = m.squeeze(target, axis=-1)
    if target.ndim != output.ndim - 1 or tuple(target.shape) != tuple(output.shape[:-1]):
        raise ValueError("Arguments `target` and `output` must have compatible shapes: target "
                         f"{target.shape} should be output.shape[:-1] for output {output.shape}")
    labels = target._value.astype(np.int64)
    n = output.shape[axis]
    if labels.size and (labels.min() < 0 or labels.max() >= n):
        raise ValueError(f"sparse_categorical_crossentropy: labels must be in [0, {n}), got "
                         f"values in [{int(labels.min())}, {int(labels.max())}]")
    if (output.ndim == 2 and _kernel_ok(output._value) and axis in (-1, 1)
            and len(RECORDING) <= 1):  # nested tapes take the composed (twice-differentiable) path
        # fused kernel: one pass gives the loss and dloss/doutput for the backward
        lab32 = np.ascontiguousarray(labels, dtype=np.int32)
        loss = _C.empty_f32((output.shape[0],))
        grad = _empty_like(output._value) if RECORDING else None
        if from_logits:
            K.sparse_softmax_cross_entropy(output._value, lab32, loss, grad)
        else:
            K.sparse_categorical_cross_entropy_probs(output._value, lab32, loss, grad, EPSILON)
        if grad is None:
            return Tensor(loss)
        return make(loss, (target, output), first_order_only(
            "sparse_categorical_crossentropy (fused kernel)",
            lambda g: (None, m.reshape(g, (-1, 1)) * Tensor(grad)), (output,)))
    if from_logits:
        logp = log_softmax(output, axis=axis)
    else:
        p = output / m.sum(output, axis=axis, keepdims=True)
        logp = m.log(m.clip(p, EPSILON, 1.0 - EPSILON))
    picked = m.take_along_axis(logp, Tensor(labels[..., None]), axis=-1)
    return -m.squeeze(picked, axis=-1)


def _bce_target_grad(output, from_logits):
    if from_logits:
        return -output
    c = m.clip(output, EPSILON, 1.0 - EPSILON)
    return -(m.log(c) - m.log(1.0 - c))


def _bce_kernel(target, output, from_logits, mean):
    ov = output._value
    loss = _C.empty_f32(ov.shape[:-1] if mean else ov.shape)
    grad = _empty_like(ov) if RECORDING else None
    K.binary_cross_entropy(target._value, ov, loss, grad, bool(from_logits), EPSILON)
    cols = ov.shape[-1]

    def target_grad():
        tg = _bce_target_grad(output, from_logits)
        return tg / float(cols) if mean else tg

    return _fused_loss(target, output, loss, grad, target_grad,
                       (lambda g: m.expand_dims(g, -1)) if mean else (lambda g: g))


@op
def binary_crossentropy(target, output, from_logits=False):
    target, output = _float(target), _float(output)
    if tuple(target.shape) != tuple(output.shape):
        raise ValueError("Arguments `target` and `output` must have the same shape. Received: "
                         f"target.shape={target.shape}, output.shape={output.shape}")
    output, from_logits = _get_logits(output, from_logits, "Sigmoid", "binary_crossentropy")
    return _binary_crossentropy(target, output, from_logits)


def _binary_crossentropy(target, output, from_logits):
    if _loss_kernel_ok(target, output, -1):
        return _bce_kernel(target, output, from_logits, mean=False)
    if from_logits:
        return relu(output) - output * target + softplus(-m.abs(output))
    output = m.clip(output, EPSILON, 1.0 - EPSILON)
    return -(target * m.log(output) + (1.0 - target) * m.log(1.0 - output))


def _binary_crossentropy_mean(target, output, from_logits=False, axis=-1):
    """mean(binary_crossentropy(target, output), axis): over the last axis, one fused
    kernel pass (no elementwise loss array) when the kernels apply."""
    target, output = _float(target), _float(output)
    if tuple(target.shape) != tuple(output.shape):
        return m.mean(binary_crossentropy(target, output, from_logits=from_logits), axis=axis)
    output, from_logits = _get_logits(output, from_logits, "Sigmoid", "binary_crossentropy")
    if output.ndim >= 1 and _loss_kernel_ok(target, output, axis):
        return _bce_kernel(target, output, from_logits, mean=True)
    return m.mean(_binary_crossentropy(target, output, from_logits), axis=axis)


@op
def moments(x, axes, keepdims=False, synchronized=False):
    if synchronized:
        raise NotImplementedError("moments: `synchronized=True` (cross-replica statistics) is "
                                  "not implemented in fastnet")
    x = _float(x)
    mean = m.mean(x, axis=axes, keepdims=True)
    variance = m.mean(m.square(x - mean), axis=axes, keepdims=True)
    if not keepdims:
        mean = m.squeeze(mean, axis=axes)
        variance = m.squeeze(variance, axis=axes)
    return mean, variance


@op
def batch_normalization(x, mean, variance, axis, offset=None, scale=None, epsilon=1e-3):
    x = _float(x)
    shape = [1] * x.ndim
    shape[axis] = x.shape[axis]
    inv = m.reshape(1.0 / m.sqrt(_t(variance) + epsilon), shape)
    if scale is not None:
        inv = inv * m.reshape(_t(scale), shape)
    y = (x - m.reshape(_t(mean), shape)) * inv
    if offset is not None:
        y = y + m.reshape(_t(offset), shape)
    return y


@op
def dropout(x, rate, noise_shape=None, seed=None):
    from fastnet import random

    return random.dropout(x, rate, noise_shape=noise_shape, seed=seed)


def _dropout_array(m):
    """A dropout mask argument of the sequence kernels: None, or C-contiguous float32
    numpy (masks are constants: no gradient flows into them)."""
    if m is None:
        return None
    if isinstance(m, (list, tuple)):
        m = np.stack([np.asarray(v._value if isinstance(v, Tensor) else v) for v in m])
    return np.ascontiguousarray(m._value if isinstance(m, Tensor) else m, dtype=np.float32)


def _mask_array(mask, x):
    """A recurrent kernel's mask argument: None, or C-contiguous bool (N, T) numpy."""
    if mask is None:
        return None
    m = np.asarray(mask._value if isinstance(mask, Tensor) else mask)
    if m.dtype != np.bool_ and m.dtype != np.uint8:
        m = m.astype(bool)
    return np.ascontiguousarray(m)


@op
def lstm_sequence(inputs, kernel, recurrent_kernel, bias=None, initial_h=None, initial_c=None,
                  go_backwards=False, mask=None, in_mask=None, rec_mask=None):
    """Whole-sequence LSTM (gates i, f, c, o; tanh / sigmoid) on the C++ kernel.

    Returns ``packed`` (N, T+2, U): ``packed[:, :T]`` the outputs in processing order,
    ``packed[:, T]`` the last h, ``packed[:, T+1]`` the last c. Slice it (differentiably).
    ``mask`` (N, T) bool, in input time order: at a False step the state is carried and
    the output repeats the previous output (zeros before the first step), as Keras.
    ``in_mask`` / ``rec_mask``: dropout masks fixed over the time steps (Keras's cells in
    training), float (C, N, I) with C = 1 or the gate count, and (gates, N, U): gate g's
    input is ``x * in_mask[g]`` and its recurrent product ``(h * rec_mask[g]) @ U_g``,
    forward and backward in the kernel (a list of per-gate (N, .) arrays works too).
    """
    from fastnet.kernels import rnn as R

    x = _float(inputs)
    k, rk = _t(kernel), _t(recurrent_kernel)
    b = _opt(bias)
    h0 = _opt(initial_h)
    c0 = _opt(initial_c)
    xv = _f32(x)
    kv = _f32(k)
    rv = _f32(rk)
    hv = _f32(h0)
    cv = _f32(c0)
    mv = _mask_array(mask, x)
    im, rm = _dropout_array(in_mask), _dropout_array(rec_mask)
    packed, ws = R.lstm_forward(xv, kv, rv,
                                _f32(b),
                                hv, cv, bool(go_backwards), mv, im, rm)

    def backward(g):
        dx, dk, dr, db, dh0, dc0 = R.lstm_backward(
            xv, kv, rv, hv, cv, bool(go_backwards), packed, ws,
            _f32(g), b is not None, mv, im, rm)
        return (Tensor(dx), Tensor(dk), Tensor(dr), None if db is None else Tensor(db),
                None if h0 is None else Tensor(dh0), None if c0 is None else Tensor(dc0))

    ins = (x, k, rk, b, h0, c0)
    return make(packed, ins, first_order_only("lstm_sequence", backward, ins))


@op
def simple_rnn_sequence(inputs, kernel, recurrent_kernel, bias=None, initial_h=None,
                        go_backwards=False, mask=None, activation="tanh", in_mask=None,
                        rec_mask=None):
    """Whole-sequence SimpleRNN, h_t = act(x_t @ kernel + h_{t-1} @ recurrent_kernel + bias)
    with act one of "tanh", "relu", "sigmoid", "linear", on the C++ kernel. Returns
    ``packed`` (N, T+1, U): the outputs in processing order, then h_T; ``mask``,
    ``in_mask`` and ``rec_mask`` as lstm_sequence."""
    from fastnet.kernels import rnn as R

    x = _float(inputs)
    k, rk = _t(kernel), _t(recurrent_kernel)
    b = _opt(bias)
    h0 = _opt(initial_h)
    xv = _f32(x)
    kv = _f32(k)
    rv = _f32(rk)
    hv = _f32(h0)
    mv = _mask_array(mask, x)
    im, rm = _dropout_array(in_mask), _dropout_array(rec_mask)
    packed, ws = R.simple_rnn_forward(
        xv, kv, rv, _f32(b), hv,
        bool(go_backwards), mv, activation, im, rm)

    def backward(g):
        dx, dk, dr, db, dh0 = R.simple_rnn_backward(
            xv, kv, rv, hv, bool(go_backwards), packed, ws,
            np.ascontiguousarray(g._value, np.float32), b is not None, mv, activation, im, rm)
        return (Tensor(dx), Tensor(dk), Tensor(dr), None if db is None else Tensor(db),
                None if h0 is None else Tensor(dh0))

    ins = (x, k, rk, b, h0)
    return make(packed, ins, first_order_only("simple_rnn_sequence", backward, ins))


def batch_norm_train(x, gamma=None, beta=None, epsilon=1e-3):
    """Training-mode batch normalization over all but the last axis on the C++ kernel.

    Returns ``(y, mean, variance)``: ``y`` is differentiable wrt x, gamma and beta (one
    fused backward); mean and the biased variance are plain tensors (for moving stats).
    """
    from fastnet.kernels import norm as N

    x = _float(x)
    g = _opt(gamma)
    b = _opt(beta)
    xv = _f32(x)
    gv = _f32(g)
    bv = _f32(b)
    y, mean, var = N.batch_norm_train(xv, gv, bv, float(epsilon))

    def backward(gy):
        if RECORDING and create_graph(gy, x, g, b):  # an outer tape records: taped ops
            return _batch_norm_grads(x, g, b, gy, epsilon)
        dx, dg, db = N.batch_norm_backward(xv, _f32(gy),
                                           mean, var, gv, float(epsilon))
        return Tensor(dx), (None if g is None else Tensor(dg)), (None if b is None else Tensor(db))

    return make(y, (x, g, b), backward), Tensor(mean), Tensor(var)


def _batch_norm_grads(x, g, b, gy, epsilon):
    """Training-mode batch-norm gradients (statistics over all but the last axis) written
    with ops, so an outer tape differentiates them again."""
    lead = tuple(range(x.ndim - 1))
    mean = m.mean(x, axis=lead, keepdims=True)
    xc = x - mean
    rstd = 1.0 / m.sqrt(m.mean(xc * xc, axis=lead, keepdims=True) + epsilon)
    xhat = xc * rstd
    gg = gy * g if g is not None else gy
    dx = rstd * (gg - m.mean(gg, axis=lead, keepdims=True)
                 - xhat * m.mean(gg * xhat, axis=lead, keepdims=True))
    dg = None if g is None else m.sum(gy * xhat, axis=lead)
    db = None if b is None else m.sum(gy, axis=lead)
    return dx, dg, db


def _layer_norm_grads(x, g, b, gy, epsilon):
    """Layer-norm gradients written with ops (differentiable again, for nested tapes)."""
    mean = m.mean(x, axis=-1, keepdims=True)
    xc = x - mean
    rstd = 1.0 / m.sqrt(m.mean(xc * xc, axis=-1, keepdims=True) + epsilon)
    xhat = xc * rstd
    gg = gy * g if g is not None else gy
    dx = rstd * (gg - m.mean(gg, axis=-1, keepdims=True)
                 - xhat * m.mean(gg * xhat, axis=-1, keepdims=True))
    lead = tuple(range(x.ndim - 1))
    dg = None if g is None else m.sum(gy * xhat, axis=lead)
    db = None if b is None else m.sum(gy, axis=lead)
    return dx, dg, db


@op
def layer_norm(x, gamma=None, beta=None, epsilon=1e-3):
    """Layer normalization over the last axis (Keras LayerNormalization, axis=-1):
    ``(x - mean) / sqrt(var + epsilon) * gamma + beta`` with per-row mean and biased
    variance. float32 C-contiguous inputs run the C++ kernel (one fused backward for x,
    gamma and beta); others are composed from ops."""
    x = _t(x)
    g = _opt(gamma)
    b = _opt(beta)
    c = x.shape[-1] if x.ndim else None
    if c is not None and g is not None and tuple(g.shape) != (c,):
        raise ValueError(f"layer_norm: gamma has shape {g.shape}, expected ({c},) for inputs "
                         f"of shape {x.shape}")
    if c is not None and b is not None and tuple(b.shape) != (c,):
        raise ValueError(f"layer_norm: beta has shape {b.shape}, expected ({c},) for inputs "
                         f"of shape {x.shape}")
    xv = x._value
    if (x.ndim >= 1 and xv.dtype == np.float32 and xv.flags.c_contiguous and epsilon > 0
            and all(t is None or t._value.dtype == np.float32 for t in (g, b))):
        from fastnet.kernels import norm as N

        gv = None if g is None else np.ascontiguousarray(g._value)
        bv = None if b is None else np.ascontiguousarray(b._value)
        y, mean, rstd = N.layer_norm_forward(xv, gv, bv, float(epsilon))

        def backward(gy):
            if RECORDING:  # an outer tape records the backward: differentiable ops
                return _layer_norm_grads(x, g, b, gy, epsilon)
            dx, dg, db = N.layer_norm_backward(
                xv, _f32(gy), mean, rstd, gv)
            return (Tensor(dx), None if g is None else Tensor(dg),
                    None if b is None else Tensor(db))

        return make(y, (x, g, b), backward)
    x = _float(x)
    mean, var = moments(x, axes=(-1,), keepdims=True)
    y = (x - mean) / m.sqrt(var + epsilon)
    if g is not None:
        y = y * g
    if b is not None:
        y = y + b
    return y


@op
def gru_sequence(inputs, kernel, recurrent_kernel, bias=None, initial_h=None,
                 go_backwards=False, mask=None, in_mask=None, rec_mask=None):
    """Whole-sequence GRU (Keras reset_after=True: bias (2, 3U); gates z, r, h) on the C++
    kernel. Returns ``packed`` (N, T+1, U): the outputs in processing order, then h_T;
    ``mask``, ``in_mask`` and ``rec_mask`` as lstm_sequence."""
    from fastnet.kernels import rnn as R

    x = _float(inputs)
    k, rk = _t(kernel), _t(recurrent_kernel)
    b = _opt(bias)
    h0 = _opt(initial_h)
    xv = _f32(x)
    kv = _f32(k)
    rv = _f32(rk)
    hv = _f32(h0)
    mv = _mask_array(mask, x)
    im, rm = _dropout_array(in_mask), _dropout_array(rec_mask)
    packed, ws = R.gru_forward(xv, kv, rv,
                               _f32(b),
                               hv, bool(go_backwards), mv, im, rm)

    def backward(g):
        dx, dk, dr, db, dh0 = R.gru_backward(xv, kv, rv, hv, bool(go_backwards), packed, ws,
                                             np.ascontiguousarray(g._value, np.float32),
                                             b is not None, mv, im, rm)
        return (Tensor(dx), Tensor(dk), Tensor(dr), None if db is None else Tensor(db),
                None if h0 is None else Tensor(dh0))

    ins = (x, k, rk, b, h0)
    return make(packed, ins, first_order_only("gru_sequence", backward, ins))


from fastnet.ops.attention import dot_product_attention  # noqa: E402,F401  (keras.ops.nn name)

# The public ops of this module (Keras 3 names; fastnet.ops re-exports exactly these).
__all__ = ["batch_normalization", "binary_crossentropy", "categorical_crossentropy",
           "dot_product_attention", "elu", "gelu", "hard_sigmoid", "hard_silu",
           "hard_swish", "leaky_relu", "log_softmax", "moments", "relu", "relu6",
           "selu", "sigmoid", "silu", "softmax", "softplus", "softsign",
           "sparse_categorical_crossentropy", "swish", "tanh"]
