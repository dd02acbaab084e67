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
            dx = _empty_like(v)  # gv may be a broadcast view (sum's): the kernel reads it as is
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


# The Keras 3 activations beyond the kernel set: numpy forwards, derivatives from ops (so
# they differentiate to any order), no kernel path.
def _mask_of(x, cond):
    return Tensor(cond.astype(x._value.dtype))


@op
def celu(x, alpha=1.0):
    x = _float(x)
    a = float(alpha)
    if a == 0.0:
        raise ValueError("celu: `alpha` must be nonzero. Received: alpha=0")
    return _activation(
        "celu", x, lambda v: np.where(v > 0, v, a * np.expm1(np.minimum(v, 0) / a)).astype(v.dtype),
        lambda x, y: m.where(Tensor(x._value > 0), 1.0, m.exp(m.minimum(x, 0.0) / a)),
        kernel=False)


@op
def glu(x, axis=-1):
    x = _float(x)
    ax = m._axis(axis, x.shape, "glu: axis")
    if x.shape[ax] % 2:
        raise ValueError(f"glu: axis size must be divisible by 2. Received: x.shape={x.shape} "
                         f"with axis={axis}")
    a, b = m.split(x, 2, axis=ax)
    return a * sigmoid(b)


@op
def hard_shrink(x, threshold=0.5):
    x = _float(x)
    t = float(threshold)
    return _activation("hard_shrink", x,
                       lambda v: np.where(np.abs(v) > t, v, 0).astype(v.dtype),
                       lambda x, y: _mask_of(x, np.abs(x._value) > t), kernel=False)


@op
def hard_tanh(x):
    x = _float(x)
    return _activation("hard_tanh", x, lambda v: np.clip(v, -1, 1).astype(v.dtype),
                       lambda x, y: _mask_of(x, np.abs(x._value) < 1), kernel=False)


@op
def log_sigmoid(x):
    x = _float(x)
    return _activation(
        "log_sigmoid", x,
        lambda v: (np.minimum(v, 0) - np.log1p(np.exp(-np.abs(v)))).astype(v.dtype),
        lambda x, y: sigmoid(-x), kernel=False)


@op
def soft_shrink(x, threshold=0.5):
    x = _float(x)
    t = float(threshold)
    return _activation(
        "soft_shrink", x,
        lambda v: np.where(v > t, v - t, np.where(v < -t, v + t, 0)).astype(v.dtype),
        lambda x, y: _mask_of(x, np.abs(x._value) > t), kernel=False)


@op
def sparse_plus(x):
    x = _float(x)
    return _activation(
        "sparse_plus", x,
        lambda v: np.where(v <= -1, 0, np.where(v < 1, 0.25 * (v + 1) ** 2, v)).astype(v.dtype),
        lambda x, y: m.where(Tensor(np.abs(x._value) < 1), (x + 1.0) * 0.5,
                             _mask_of(x, x._value >= 1)), kernel=False)


@op
def sparse_sigmoid(x):
    x = _float(x)
    return _activation(
        "sparse_sigmoid", x,
        lambda v: np.where(v <= -1, 0, np.where(v >= 1, 1, 0.5 * (v + 1))).astype(v.dtype),
        lambda x, y: _mask_of(x, np.abs(x._value) < 1) * 0.5, kernel=False)


@op
def squareplus(x, b=4):
    x = _float(x)
    b = float(b)
    if b < 0:
        raise ValueError(f"squareplus: `b` must be >= 0. Received: b={b}")
    return _activation("squareplus", x,
                       lambda v: (0.5 * (v + np.sqrt(v * v + b))).astype(v.dtype),
                       lambda x, y: 0.5 * (1.0 + x / m.sqrt(x * x + b)), kernel=False)


@op
def tanh_shrink(x):
    x = _float(x)

    def grad(x, y):
        t = tanh(x)
        return t * t

    return _activation("tanh_shrink", x, lambda v: (v - np.tanh(v)).astype(v.dtype), grad,
                       kernel=False)


@op
def threshold(x, threshold, default_value):
    x = _float(x)
    t, d = float(threshold), float(default_value)
    return _activation("threshold", x, lambda v: np.where(v > t, v, d).astype(v.dtype),
                       lambda x, y: _mask_of(x, x._value > t), kernel=False)


@op
def sparsemax(x, axis=-1):
    """Sparsemax (Martins & Astudillo, 2016): the Euclidean projection of x onto the
    simplex along `axis`, max(x - tau, 0). The support (a numpy sort) is a constant of the
    backward; tau = (sum of x over the support - 1) / |support| is written with ops, so the
    gradient is sparsemax's exact Jacobian and differentiates again."""
    x = _float(x)
    ax = m._axis(axis, x.shape, "sparsemax: axis")
    v = x._value
    srt = -np.sort(-v, axis=ax)
    csum = np.cumsum(srt, axis=ax)
    r = np.arange(1, v.shape[ax] + 1, dtype=v.dtype).reshape(
        [-1 if i == ax else 1 for i in range(v.ndim)])
    k = np.sum(srt - (csum - 1) / r > 0, axis=ax, keepdims=True)
    tau_np = (np.take_along_axis(csum, np.maximum(k - 1, 0), axis=ax) - 1) / np.maximum(k, 1)
    support = Tensor(v > tau_np)
    tau = (m.sum(m.where(support, x, 0.0), axis=ax, keepdims=True) - 1.0) / Tensor(
        np.maximum(k, 1).astype(v.dtype))
    return m.where(support, x - tau, 0.0)


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
            K.bias_grad(gv, db)  # gv may be a broadcast view (sum's): read as is
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



# ---- normalizations, encodings and rearrangements (keras.ops.nn) ----------------------

def _eps(epsilon):
    from fastnet.backend import epsilon as _backend_epsilon

    return _backend_epsilon() if epsilon is None else float(epsilon)


@op
def multi_hot(inputs, num_classes=None, axis=-1, dtype=None, sparse=False, **kwargs):
    """Multi-hot encoding as Keras: one_hot over `axis`, then the max over the label axis
    (axis 1 of a batch of label lists, axis 0 of one list)."""
    if num_classes is None and "num_tokens" in kwargs:
        num_classes = kwargs.pop("num_tokens")
    if kwargs:
        raise TypeError(f"multi_hot: unexpected arguments {sorted(kwargs)}")
    if num_classes is None:
        raise ValueError("multi_hot: argument `num_classes` must be specified.")
    hot = m.one_hot(inputs, num_classes, axis=axis, dtype=dtype, sparse=sparse)
    x = _t(inputs)
    return Tensor(np.max(hot._value, axis=1 if x.ndim > 1 else 0))


@op
def normalize(x, axis=-1, order=2, epsilon=None):
    """x / max(norm(x, order, axis), epsilon) (order 2: x * min(rsqrt(sum x^2), 1/eps))."""
    if isinstance(order, bool) or not isinstance(order, int) or order < 1:
        raise ValueError(f"normalize: argument `order` must be an int >= 1. Received: "
                         f"order={order}")
    x = _float(x)
    if x.ndim == 0:
        x = m.expand_dims(x, 0)
    eps = _eps(epsilon)
    if order == 2:
        inv = m.rsqrt(m.sum(m.square(x), axis=axis, keepdims=True))
        return x * m.minimum(inv, 1.0 / eps)
    from fastnet.ops.linalg import norm

    return x / m.maximum(norm(x, ord=order, axis=axis, keepdims=True), eps)


@op
def psnr(x1, x2, max_val):
    """Peak signal-to-noise ratio over all elements: 20 log10(max_val) - 10 log10(mse)."""
    x1, x2 = _float(x1), _float(x2)
    if tuple(x1.shape) != tuple(x2.shape):
        raise ValueError(f"psnr: input shapes {tuple(x1.shape)} and {tuple(x2.shape)} must "
                         "match for PSNR calculation.")
    mse = m.mean(m.square(x1 - x2))
    return 20.0 * _pymath.log10(float(max_val)) - (10.0 / _pymath.log(10.0)) * m.log(mse)


def _norm_axes(axis, ndim, name):
    axes = axis if isinstance(axis, (list, tuple)) else [axis]
    return sorted(m._axis(a, (0,) * ndim, f"{name}: axis") for a in axes)


def _broadcast_param(v, axes, shape, name, what):
    """gamma / beta / scale reshaped to broadcast on the normalized axes."""
    if v is None:
        return None
    v = _t(v)
    want = tuple(shape[a] for a in axes)
    if v.ndim == 0 or tuple(v.shape) == tuple(shape[axes[0]:]) or tuple(v.shape) == want and \
            axes == list(range(len(shape) - len(axes), len(shape))):
        return v
    if tuple(v.shape) != want:
        raise ValueError(f"{name}: `{what}` has shape {tuple(v.shape)}, expected {want} for "
                         f"inputs of shape {tuple(shape)} and axis={axes}")
    return m.reshape(v, [shape[i] if i in axes else 1 for i in range(len(shape))])


@op
def rms_normalization(x, scale=None, axis=-1, epsilon=None):
    """x * rsqrt(mean(x^2 over axis) + epsilon) * scale."""
    x = _float(x)
    if x.ndim == 0:
        x = m.expand_dims(x, 0)
    axes = _norm_axes(axis, x.ndim, "rms_normalization")
    y = x * m.rsqrt(m.mean(m.square(x), axis=tuple(axes), keepdims=True) + _eps(epsilon))
    s = _broadcast_param(scale, axes, x.shape, "rms_normalization", "scale")
    return y if s is None else y * s


@op
def layer_normalization(x, gamma=None, beta=None, axis=-1, epsilon=None, **kwargs):
    """Layer normalization over `axis` (Ba et al., 2016): (x - mean) * rsqrt(var + eps)
    * gamma + beta; ``rms_scaling=True``: x * rsqrt(var + eps) * gamma. The last axis
    alone runs the fused layer-norm kernel."""
    rms_scaling = bool(kwargs.pop("rms_scaling", False))
    if kwargs:
        raise TypeError(f"layer_normalization: unexpected arguments {sorted(kwargs)}")
    x = _float(x)
    axes = _norm_axes(axis, x.ndim, "layer_normalization")
    eps = _eps(epsilon)
    g = _broadcast_param(gamma, axes, x.shape, "layer_normalization", "gamma")
    b = _broadcast_param(beta, axes, x.shape, "layer_normalization", "beta")
    last = axes == [x.ndim - 1]
    if (not rms_scaling and last and (g is None or g.ndim == 1) and (b is None or b.ndim == 1)
            and eps > 0):
        return layer_norm(x, g, b, epsilon=eps)
    mean, var = moments(x, axes=tuple(axes), keepdims=True)
    inv = m.rsqrt(var + eps)
    if rms_scaling:
        y = x * inv
        return y if g is None else y * g
    y = (x - mean) * inv
    if g is not None:
        y = y * g
    return y if b is None else y + b


def _block_args(x, block_size, data_format, name):
    x = _t(x)
    if x.ndim != 4:
        raise ValueError(f"{name}: inputs must be 4-D (N, H, W, C) or (N, C, H, W). "
                         f"Received: x.shape={tuple(x.shape)}")
    b = int(block_size)
    if b < 1:
        raise ValueError(f"{name}: `block_size` must be >= 1. Received: block_size={block_size}")
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"{name}: data_format must be 'channels_last' or 'channels_first'. "
                         f"Received: data_format={data_format!r}")
    return x, b


@op
def depth_to_space(x, block_size, data_format="channels_last"):
    """Pixel shuffle: (N, H, W, C) -> (N, H*b, W*b, C/b^2) (channels_first likewise)."""
    x, b = _block_args(x, block_size, data_format, "depth_to_space")
    if data_format == "channels_last":
        n, h, w, c = x.shape
        if c % (b * b):
            raise ValueError(f"depth_to_space: channels {c} are not divisible by "
                             f"block_size**2 = {b * b}")
        y = m.reshape(x, (n, h, w, b, b, c // (b * b)))
        y = m.transpose(y, (0, 1, 3, 2, 4, 5))
        return m.reshape(y, (n, h * b, w * b, c // (b * b)))
    n, c, h, w = x.shape
    if c % (b * b):
        raise ValueError(f"depth_to_space: channels {c} are not divisible by "
                         f"block_size**2 = {b * b}")
    y = m.reshape(x, (n, c // (b * b), b, b, h, w))
    y = m.transpose(y, (0, 1, 4, 2, 5, 3))
    return m.reshape(y, (n, c // (b * b), h * b, w * b))


@op
def space_to_depth(x, block_size, data_format="channels_last"):
    """Pixel unshuffle: (N, H, W, C) -> (N, H/b, W/b, C*b^2) (channels_first likewise)."""
    x, b = _block_args(x, block_size, data_format, "space_to_depth")
    if data_format == "channels_last":
        n, h, w, c = x.shape
    else:
        n, c, h, w = x.shape
    if h % b or w % b:
        raise ValueError(f"space_to_depth: spatial size {(h, w)} is not divisible by "
                         f"block_size={b}")
    if data_format == "channels_last":
        y = m.reshape(x, (n, h // b, b, w // b, b, c))
        y = m.transpose(y, (0, 1, 3, 2, 4, 5))
        return m.reshape(y, (n, h // b, w // b, c * b * b))
    y = m.reshape(x, (n, c, h // b, b, w // b, b))
    y = m.transpose(y, (0, 1, 3, 5, 2, 4))
    return m.reshape(y, (n, c * b * b, h // b, w // b))


def _adaptive_pool(inputs, output_size, data_format, kind, name):
    from fastnet.backend import image_data_format

    x = _float(inputs)
    nd = x.ndim - 2
    if nd not in (1, 2, 3):
        raise ValueError(f"{name}: inputs must be 3-D, 4-D or 5-D (batch, spatial..., "
                         f"channels). Received: inputs.shape={tuple(x.shape)}")
    fmt = data_format or image_data_format()
    if fmt not in ("channels_last", "channels_first"):
        raise ValueError(f"{name}: data_format must be 'channels_last' or 'channels_first'. "
                         f"Received: data_format={data_format!r}")
    sizes = (output_size,) * nd if isinstance(output_size, int) else tuple(output_size)
    if len(sizes) != nd or any(int(s) < 1 for s in sizes):
        raise ValueError(f"{name}: `output_size` must be a positive int or a tuple of {nd} "
                         f"positive ints. Received: output_size={output_size}")
    first = 2 if fmt == "channels_first" else 1
    y = x
    for i, out in enumerate(sizes):  # separable: a window is a product of 1-D ranges
        ax = first + i
        n = x.shape[ax]
        starts = [(j * n) // out for j in range(out)]
        ends = [-(-((j + 1) * n) // out) for j in range(out)]
        if kind == "average":
            w = np.zeros((out, n), dtype=x._value.dtype)
            for j, (a, e) in enumerate(zip(starts, ends)):
                w[j, a:e] = 1.0 / (e - a)
            y = m.moveaxis(m.tensordot(Tensor(w), y, axes=([1], [ax])), 0, ax)
        else:
            parts = [m.max(m.get_item(y, (slice(None),) * ax + (slice(a, e),)), axis=ax)
                     for a, e in zip(starts, ends)]
            y = m.stack(parts, axis=ax)
    return y


@op
def adaptive_average_pool(inputs, output_size, data_format=None):
    """Average pooling to a fixed output size (PyTorch's bins: floor(i*L/out) to
    ceil((i+1)*L/out)); 1-D, 2-D or 3-D."""
    return _adaptive_pool(inputs, output_size, data_format, "average", "adaptive_average_pool")


@op
def adaptive_max_pool(inputs, output_size, data_format=None):
    """Max pooling to a fixed output size (the bins of adaptive_average_pool)."""
    return _adaptive_pool(inputs, output_size, data_format, "max", "adaptive_max_pool")


def _pair(v, name, what):
    t = (v, v) if isinstance(v, int) else tuple(v)
    if len(t) != 2 or any(int(a) < 0 for a in t):
        raise ValueError(f"{name}: `{what}` must be an int or a pair of ints >= 0. "
                         f"Received: {what}={v}")
    return int(t[0]), int(t[1])


def _block_index(k, d, s, n_out):
    """Row (or column) index of every (kernel offset, output position): i*s + ki*d."""
    return (np.arange(k)[:, None] * d + np.arange(n_out)[None, :] * s)


@op
def unfold(x, kernel_size, dilation=1, padding=0, stride=1):
    """im2col of an NCHW batch: (N, C, H, W) -> (N, C*kH*kW, L), L the output positions
    (PyTorch's torch.nn.Unfold order)."""
    x = _t(x)
    if x.ndim != 4:
        raise ValueError(f"unfold: inputs must be 4-D (N, C, H, W). Received: "
                         f"x.shape={tuple(x.shape)}")
    (kh, kw), (dh, dw) = _pair(kernel_size, "unfold", "kernel_size"), _pair(dilation, "unfold",
                                                                            "dilation")
    (ph, pw), (sh, sw) = _pair(padding, "unfold", "padding"), _pair(stride, "unfold", "stride")
    if min(kh, kw, dh, dw, sh, sw) < 1:
        raise ValueError("unfold: kernel_size, dilation and stride must be >= 1")
    n, c, h, w = x.shape
    oh = (h + 2 * ph - (kh - 1) * dh - 1) // sh + 1
    ow = (w + 2 * pw - (kw - 1) * dw - 1) // sw + 1
    if oh < 1 or ow < 1:
        raise ValueError(f"unfold: kernel {kh}x{kw} (dilation {dh}x{dw}) does not fit the "
                         f"padded input {h + 2 * ph}x{w + 2 * pw}")
    xp = m.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if ph or pw else x
    rows = _block_index(kh, dh, sh, oh)[:, None, :, None]  # (kh, 1, oh, 1)
    cols = _block_index(kw, dw, sw, ow)[None, :, None, :]  # (1, kw, 1, ow)
    rows, cols = np.broadcast_arrays(rows, cols)
    patches = m.get_item(xp, (slice(None), slice(None), rows, cols))  # (N, C, kh, kw, oh, ow)
    return m.reshape(patches, (n, c * kh * kw, oh * ow))


@op
def fold(x, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """col2im, the adjoint of unfold: (N, C*kH*kW, L) -> (N, C, H, W), overlapping
    blocks summed (torch.nn.Fold)."""
    from fastnet.ops.math import scatter_into

    x = _t(x)
    if x.ndim != 3:
        raise ValueError(f"fold: inputs must be 3-D (N, C*kH*kW, L). Received: "
                         f"x.shape={tuple(x.shape)}")
    (oh_, ow_) = _pair(output_size, "fold", "output_size")
    (kh, kw), (dh, dw) = _pair(kernel_size, "fold", "kernel_size"), _pair(dilation, "fold",
                                                                          "dilation")
    (ph, pw), (sh, sw) = _pair(padding, "fold", "padding"), _pair(stride, "fold", "stride")
    if min(kh, kw, dh, dw, sh, sw) < 1:
        raise ValueError("fold: kernel_size, dilation and stride must be >= 1")
    n, ckk, length = x.shape
    nh = (oh_ + 2 * ph - (kh - 1) * dh - 1) // sh + 1
    nw = (ow_ + 2 * pw - (kw - 1) * dw - 1) // sw + 1
    if ckk % (kh * kw) or nh * nw != length or nh < 1 or nw < 1:
        raise ValueError(f"fold: inputs of shape {tuple(x.shape)} do not match kernel "
                         f"{kh}x{kw} and output_size {(oh_, ow_)} (expected C*{kh * kw} rows "
                         f"and {max(nh, 0) * max(nw, 0)} blocks)")
    c = ckk // (kh * kw)
    blocks = m.reshape(x, (n, c, kh, kw, nh, nw))
    rows = _block_index(kh, dh, sh, nh)[:, None, :, None]
    cols = _block_index(kw, dw, sw, nw)[None, :, None, :]
    rows, cols = np.broadcast_arrays(rows, cols)
    out = scatter_into(blocks, (slice(None), slice(None), rows, cols),
                       (n, c, oh_ + 2 * ph, ow_ + 2 * pw), None, False)
    if ph or pw:
        out = out[:, :, ph:ph + oh_, pw:pw + ow_]
    return out



# ---- CTC ------------------------------------------------------------------------------------
def _ctc_alpha_beta(log_probs, labels, label_length, input_length, blank):
    """(loss per sample, d loss / d logits) in float64, by the alpha-beta recursion in
    log space over the extended label sequence (blank, l1, blank, l2, ..., blank), one
    vectorized step over the batch per time frame. ``log_probs`` (B, T, K) float64,
    ``labels`` (B, N) in [0, K), ``label_length`` in [0, N], ``input_length`` in [1, T].
    An impossible alignment gives an infinite loss and a zero gradient."""
    batch, steps, classes = log_probs.shape
    max_len = labels.shape[1]
    size = 2 * max_len + 1
    ext = np.full((batch, size), blank, np.int64)
    ext[:, 1::2] = labels
    ext_len = 2 * label_length + 1
    # a label may be skipped to from two positions back unless it repeats the one there
    skip = np.zeros((batch, size), bool)
    skip[:, 2:] = (ext[:, 2:] != blank) & (ext[:, 2:] != ext[:, :-2])
    rows = np.arange(batch)[:, None]
    emit = log_probs[rows, :, ext].transpose(0, 2, 1)  # (batch, steps, size)
    pos = np.arange(size)[None, :]
    valid = pos < ext_len[:, None]
    neg_inf = -np.inf

    alpha = np.full((batch, steps, size), neg_inf)
    alpha[:, 0, 0] = emit[:, 0, 0]
    alpha[:, 0, 1] = np.where(ext_len > 1, emit[:, 0, 1], neg_inf)
    for t in range(1, steps):
        prev = alpha[:, t - 1]
        a1 = np.concatenate([np.full((batch, 1), neg_inf), prev[:, :-1]], axis=1)
        a2 = np.concatenate([np.full((batch, 2), neg_inf), prev[:, :-2]], axis=1)
        a2 = np.where(skip, a2, neg_inf)
        alpha[:, t] = np.logaddexp(np.logaddexp(prev, a1), a2) + emit[:, t]
        alpha[:, t] = np.where(valid, alpha[:, t], neg_inf)
    beta = np.full((batch, steps, size), neg_inf)
    last = input_length - 1
    b_idx = np.arange(batch)
    beta[b_idx, last, ext_len - 1] = emit[b_idx, last, ext_len - 1]
    has_two = ext_len > 1
    beta[b_idx[has_two], last[has_two], ext_len[has_two] - 2] = \
        emit[b_idx[has_two], last[has_two], ext_len[has_two] - 2]
    skip_next = np.zeros((batch, size), bool)
    skip_next[:, :-2] = skip[:, 2:]
    for t in range(steps - 2, -1, -1):
        nxt = beta[:, t + 1]
        b1 = np.concatenate([nxt[:, 1:], np.full((batch, 1), neg_inf)], axis=1)
        b2 = np.concatenate([nxt[:, 2:], np.full((batch, 2), neg_inf)], axis=1)
        b2 = np.where(skip_next, b2, neg_inf)
        new = np.logaddexp(np.logaddexp(nxt, b1), b2) + emit[:, t]
        inside = (t < last)[:, None] & valid
        beta[:, t] = np.where(inside, new, beta[:, t])
    ends = alpha[b_idx, last, ext_len - 1]
    ends2 = np.where(has_two, alpha[b_idx, last, np.maximum(ext_len - 2, 0)], neg_inf)
    log_likelihood = np.logaddexp(ends, ends2)
    loss = -log_likelihood
    # gradient wrt the logits: softmax - (1/p) * sum over positions emitting class k of
    # alpha * beta / y (alpha and beta both include the emission at t)
    with np.errstate(invalid="ignore"):  # -inf - -inf in an impossible row: zeroed below
        gamma_ = alpha + beta - emit - log_likelihood[:, None, None]
    gamma_[~np.isfinite(log_likelihood)] = -np.inf
    occupancy = np.zeros((batch, steps, classes))
    np.add.at(occupancy, (rows[:, :, None].repeat(steps, 1).repeat(size, 2),
                          np.arange(steps)[None, :, None].repeat(batch, 0).repeat(size, 2),
                          ext[:, None, :].repeat(steps, 1)), np.exp(gamma_))
    grad = np.exp(log_probs) - occupancy
    grad[np.arange(steps)[None, :] >= input_length[:, None]] = 0.0
    finite = np.isfinite(loss)
    grad[~finite] = 0.0
    return loss, grad


@op
def ctc_loss(target, output, target_length, output_length, mask_index=0):
    """Connectionist temporal classification loss per sequence, -log p(target | output),
    with `output` logits (batch, time, classes) and `mask_index` the blank class; an
    impossible alignment (a target longer than its output allows) gives inf, as Keras's
    torch backend.

    The alpha-beta (forward-backward) recursion over the blank/label lattice in log
    space, in numpy float64; the gradient is the closed form softmax - occupancy (first
    order: a second-order gradient raises). losses.ctc is this op on Keras's padded
    labels."""
    out = _float(output)
    tgt = np.asarray(_t(target)._value)
    if out.ndim != 3 or tgt.ndim != 2 or tgt.shape[0] != out.shape[0]:
        raise ValueError(f"ctc_loss: target must be (batch, max_label_length) and output "
                         f"(batch, max_time, classes) with the same batch; received shapes "
                         f"{tgt.shape} and {tuple(out.shape)}")
    if tgt.dtype.kind not in "iu":
        tgt = tgt.astype(np.int64)
    b, t_max, k = out.shape
    n = tgt.shape[1]
    tl = np.asarray(_t(target_length)._value).astype(np.int64).reshape(-1)
    ol = np.asarray(_t(output_length)._value).astype(np.int64).reshape(-1)
    if tl.shape != (b,) or ol.shape != (b,):
        raise ValueError(f"ctc_loss: target_length and output_length must have shape ({b},); "
                         f"received {tl.shape} and {ol.shape}")
    if not 0 <= int(mask_index) < k:
        raise ValueError(f"ctc_loss: mask_index must be a class in [0, {k}). Received: "
                         f"mask_index={mask_index}")
    dt = out._value.dtype
    tl, ol = np.clip(tl, 0, n), np.clip(ol, 0, t_max)
    x = out._value.astype(np.float64)
    shifted = x - x.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))
    loss, grad = _ctc_alpha_beta(log_probs, np.clip(tgt, 0, k - 1).astype(np.int64), tl,
                                 np.maximum(ol, 1), int(mask_index))
    empty = ol == 0  # no frames: only the empty target has probability 1
    loss[empty] = np.where(tl[empty] == 0, 0.0, np.inf)
    grad[empty] = 0.0

    def backward(g):
        g = np.asarray(g._value if isinstance(g, Tensor) else g, np.float64).reshape(b)
        return [Tensor((grad * g[:, None, None]).astype(dt))]

    return make(loss.astype(dt), (out,), first_order_only("ctc_loss", backward, (out,)))


def _ctc_greedy(v, lengths, merge_repeated, mask_index):
    b, t_max, k = v.shape
    idx = np.argmax(v, axis=-1).astype(np.int32)
    scores = np.max(v, axis=-1)
    beyond = np.arange(t_max)[None, :] >= lengths[:, None]
    idx = np.where(beyond, mask_index, idx)
    scores = np.where(beyond, 0.0, scores)
    if merge_repeated:
        rep = np.zeros_like(beyond)
        rep[:, 1:] = idx[:, 1:] == idx[:, :-1]
        idx = np.where(rep, mask_index, idx)
    out = np.full((b, t_max), -1, np.int32)
    for i in range(b):
        keep = idx[i][idx[i] != mask_index]
        out[i, :len(keep)] = keep
    return out[None], (-np.sum(scores, axis=1))[:, None].astype(v.dtype)


def _ctc_prefix_beam_search(logp, length, beam_width, top_paths, blank):
    """Prefix beam search over one sequence of log-probabilities (T, K): beams are label
    prefixes with their log-probabilities of ending in a blank and in a label."""
    neg = -np.inf

    def add(nxt, prefix, pb=neg, pnb=neg):
        ob, onb = nxt.get(prefix, (neg, neg))
        nxt[prefix] = (np.logaddexp(ob, pb), np.logaddexp(onb, pnb))

    beams = {(): (0.0, neg)}
    for t in range(int(length)):
        lp = logp[t]
        nxt = {}
        for prefix, (pb, pnb) in beams.items():
            total = np.logaddexp(pb, pnb)
            add(nxt, prefix, pb=total + lp[blank])
            for c in range(logp.shape[1]):
                if c == blank:
                    continue
                if prefix and prefix[-1] == c:
                    add(nxt, prefix, pnb=pnb + lp[c])  # the repeat collapses into it
                    add(nxt, prefix + (c,), pnb=pb + lp[c])  # a blank separated the repeat
                else:
                    add(nxt, prefix + (c,), pnb=total + lp[c])
        ranked = sorted(nxt.items(), key=lambda kv: -np.logaddexp(*kv[1]))
        beams = dict(ranked[:beam_width])
    ranked = sorted(beams.items(), key=lambda kv: -np.logaddexp(*kv[1]))[:top_paths]
    return [(p, float(np.logaddexp(*s))) for p, s in ranked]


@op
def ctc_decode(inputs, sequence_lengths, strategy="greedy", beam_width=100, top_paths=1,
               merge_repeated=True, mask_index=0):
    """Decodes CTC outputs (batch, time, classes): ``(paths, scores)``, paths (top_paths,
    batch, time) int32 padded with -1. "greedy": the best class per frame, repeats merged,
    blanks (mask_index) dropped; scores -(sum of the per-frame maxima of `inputs`).
    "beam_search": prefix beam search on log_softmax(inputs); scores the top paths'
    log-probabilities. Decoding is not differentiable (integer paths)."""
    x = _float(inputs)
    v = x._value
    if v.ndim != 3:
        raise ValueError(f"ctc_decode: inputs must be (batch, time, classes); received shape "
                         f"{v.shape}")
    b, t_max, k = v.shape
    lengths = np.asarray(_t(sequence_lengths)._value).astype(np.int64).reshape(-1)
    if lengths.shape != (b,):
        raise ValueError(f"ctc_decode: sequence_lengths must have shape ({b},); received "
                         f"{lengths.shape}")
    blank = k - 1 if mask_index is None else int(mask_index)
    if strategy == "greedy":
        paths, scores = _ctc_greedy(v, lengths, merge_repeated, blank)
        return Tensor(paths), Tensor(scores)
    if strategy != "beam_search":
        raise ValueError(f"Invalid strategy {strategy}. Supported values are 'greedy' and "
                         "'beam_search'.")
    if int(beam_width) < 1 or int(top_paths) < 1 or int(top_paths) > int(beam_width):
        raise ValueError(f"ctc_decode: need 1 <= top_paths <= beam_width. Received: "
                         f"beam_width={beam_width}, top_paths={top_paths}")
    lv = v.astype(np.float64)
    lv = lv - lv.max(-1, keepdims=True)
    lv = lv - np.log(np.exp(lv).sum(-1, keepdims=True))
    paths = np.full((int(top_paths), b, t_max), -1, np.int32)
    scores = np.full((b, int(top_paths)), -np.inf)
    for i in range(b):
        for j, (p, sc) in enumerate(_ctc_prefix_beam_search(lv[i], lengths[i],
                                                            int(beam_width), int(top_paths),
                                                            blank)):
            paths[j, i, :len(p)] = p
            scores[i, j] = sc
    return Tensor(paths), Tensor(scores.astype(v.dtype))

from fastnet.ops.attention import dot_product_attention  # noqa: E402,F401  (keras.ops.nn name)
from fastnet.ops.math import one_hot  # noqa: E402,F401  (keras.ops.nn names)
from fastnet.ops.spatial import (  # noqa: E402,F401
    average_pool,
    conv,
    conv_transpose,
    depthwise_conv,
    max_pool,
    separable_conv,
)

# The public ops of this module (Keras 3 names; fastnet.ops re-exports exactly these).
__all__ = ["adaptive_average_pool", "adaptive_max_pool", "average_pool",
           "batch_normalization", "binary_crossentropy", "categorical_crossentropy", "celu",
           "ctc_decode", "ctc_loss",
           "conv", "conv_transpose", "depth_to_space", "depthwise_conv",
           "dot_product_attention", "elu", "fold", "gelu", "glu", "hard_shrink",
           "hard_sigmoid", "hard_silu", "hard_swish", "hard_tanh", "layer_normalization",
           "leaky_relu", "log_sigmoid", "log_softmax", "max_pool", "moments", "multi_hot",
           "normalize", "one_hot", "psnr", "relu", "relu6", "rms_normalization", "selu",
           "separable_conv", "sigmoid", "silu", "soft_shrink", "softmax", "softplus",
           "softsign", "space_to_depth", "sparse_categorical_crossentropy", "sparse_plus",
           "sparse_sigmoid", "sparsemax", "squareplus", "swish", "tanh", "tanh_shrink",
           "threshold", "unfold"]
