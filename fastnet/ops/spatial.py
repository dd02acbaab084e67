"""Convolution, pooling and upsampling ops (channels-last, 1-D/2-D/3-D), with
Keras 3's `keras.ops` signatures.

Convolutions (conv, conv_transpose, depthwise_conv) run the C++ kernels of
fastnet.kernels.conv for float32 inputs, forward and both backward passes.
Max/average pooling 1-D/2-D/3-D, global pooling and nearest upsampling run
fastnet.kernels.pool (csrc/pool) for float32 C-contiguous inputs, forward and backward;
the numpy versions below remain for other dtypes and layouts. Padding follows
TensorFlow: for 'same' the odd extra pad goes after (bottom/right).
``data_format='channels_first'`` transposes the input to channels-last and the
result back (one copy each way, and of their gradients).
"""

from __future__ import annotations

import functools
import inspect
import itertools

import numpy as np
from numpy.lib.stride_tricks import as_strided

from fastnet._core import RECORDING, needs_grad
from fastnet.backend.tape import create_graph
from fastnet.backend.tensor import Tensor
from fastnet.kernels import conv as _conv
from fastnet.kernels import gemm as _gemm
from fastnet.kernels import pool as _poolk
from fastnet.ops.core import _t, make, op
from fastnet.ops.math import cast, transpose


def _data_format_aware(fn):
    """Runs a channels-last op on ``data_format='channels_first'`` inputs by transposing
    them to channels-last and the result (when it keeps the input's rank) back."""
    params = list(inspect.signature(fn).parameters)
    pos = params.index("data_format")

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        df = args[pos] if len(args) > pos else kwargs.get("data_format")
        if df is None or df == "channels_last":
            return fn(*args, **kwargs)
        if df != "channels_first":
            raise ValueError(f"{fn.__name__}: data_format must be 'channels_first' or "
                             f"'channels_last'. Received: data_format={df!r}")
        args = list(args)
        x = _t(args[0] if args else kwargs.pop("inputs"))
        nd = x.ndim
        x = transpose(x, (0,) + tuple(range(2, nd)) + (1,))
        if len(args) > pos:
            args[pos] = "channels_last"
        else:
            kwargs["data_format"] = "channels_last"
        y = fn(x, *args[1:], **kwargs) if args else fn(x, **kwargs)
        if y.ndim == nd:
            y = transpose(y, (0, nd - 1) + tuple(range(1, nd - 1)))
        return y

    return wrapper


def _tuple(v, n, name):
    if isinstance(v, int):
        return (v,) * n
    v = tuple(int(x) for x in v)
    if len(v) != n:
        raise ValueError(f"`{name}` must have {n} elements, got {v}")
    return v


def same_pads(size, k, stride, dilation):
    eff = (k - 1) * dilation + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + eff - size, 0)
    return total // 2, total - total // 2


def conv_output_length(size, k, stride, padding, dilation=1):
    if size is None:
        return None
    eff = (k - 1) * dilation + 1
    if padding == "same":
        return -(-size // stride)
    return max((size - eff) // stride + 1, 0)


def _pad_spatial(xv, ks, strides, dil, padding, value=0.0):
    nd = len(ks)
    if padding == "valid":
        return xv, [(0, 0)] * nd
    pads = [same_pads(xv.shape[1 + i], ks[i], strides[i], dil[i]) for i in range(nd)]
    if any(p != (0, 0) for p in pads):
        xv = np.pad(xv, [(0, 0)] + pads + [(0, 0)], constant_values=value)
    return xv, pads


def _windows(xv, ks, strides, dil):
    """View (N, out..., k..., C) of the windows of padded channels-last xv."""
    nd = len(ks)
    n, c = xv.shape[0], xv.shape[-1]
    spatial = xv.shape[1:-1]
    outs = [max((spatial[i] - ((ks[i] - 1) * dil[i] + 1)) // strides[i] + 1, 0) for i in range(nd)]
    s = xv.strides
    shape = (n,) + tuple(outs) + tuple(ks) + (c,)
    st = (s[0],) + tuple(s[1 + i] * strides[i] for i in range(nd)) + \
        tuple(s[1 + i] * dil[i] for i in range(nd)) + (s[-1],)
    return as_strided(xv, shape=shape, strides=st, writeable=False), outs


def _check_conv(x, kernel, nd, name):
    if x.ndim != nd + 2:
        raise ValueError(f"{name}: inputs must be {nd + 2}-D (batch, spatial..., channels), got "
                         f"shape {x.shape}")
    if kernel.ndim != nd + 2:
        raise ValueError(f"{name}: kernel must be {nd + 2}-D, got shape {kernel.shape}")


def _scatter_windows(gwin, in_shape, ks, strides, dil, pads):
    """Adjoint of _windows: sums window gradients (N, out..., k..., C) into the input."""
    nd = len(ks)
    padded = (in_shape[0],) + tuple(in_shape[1 + i] + pads[i][0] + pads[i][1]
                                    for i in range(nd)) + (in_shape[-1],)
    buf = np.zeros(padded, dtype=gwin.dtype)
    outs = gwin.shape[1:1 + nd]
    for offs in itertools.product(*[range(k) for k in ks]):
        sl = tuple(slice(o * d, o * d + (n - 1) * s + 1, s) if n > 0 else slice(0, 0)
                   for o, d, n, s in zip(offs, dil, outs, strides))
        buf[(slice(None),) + sl + (slice(None),)] += gwin[(slice(None),) * (1 + nd) + offs]
    crop = tuple(slice(p[0], p[0] + in_shape[1 + i]) for i, p in enumerate(pads))
    return buf[(slice(None),) + crop + (slice(None),)]


def _matmul(a, b, trans_a=False, trans_b=False):
    """a @ b (optionally transposed) by our GEMM for float32, views as they are; numpy's for
    float64, which our kernels do not compute (a layer built with dtype="float64")."""
    if a.dtype == np.float32 and b.dtype == np.float32:
        return _gemm.gemm(a, b, trans_a=trans_a, trans_b=trans_b)
    return np.matmul(a.T if trans_a else a, b.T if trans_b else b)


def _kernel_ok(x, w):
    return (x._value.dtype == np.float32 and w._value.dtype == np.float32
            and 3 <= x.ndim <= 5 and x._value.flags.c_contiguous and x.shape[0] > 0)


def _valid_fits(shape, ks, dil, padding):
    if padding == "same":
        return True
    return all(shape[1 + i] >= (k - 1) * d + 1 for i, (k, d) in enumerate(zip(ks, dil)))


# ---- differentiable backwards (nested tapes) ------------------------------------------
# A convolution y = F(x, w) is bilinear, so its two vector-Jacobian products are bilinear
# too: Bx(g, w) = (dF/dx)^T g (a transposed convolution of g) and Bw(x, g) = (dF/dw)^T g
# (a correlation of x with g). Each one's own VJP is made of the other two:
#   F(x, w):  g -> (Bx(g, w), Bw(x, g))
#   Bx(g, w): u -> (F(u, w),  Bw(u, g))
#   Bw(x, g): v -> (Bx(g, v), F(x, v))
# so with the three kernels as taped ops the gradient is differentiable to any order.
# Pooling and upsampling backwards are linear maps of g given the forward's argmax:
# a map A and its adjoint A^T, each the other's backward.

class _Bilinear:
    """The three taped kernels of one bilinear op (shapes and options fixed)."""

    def __init__(self, f, bx, bw):
        self._f, self._bx, self._bw = f, bx, bw

    def f(self, x, w):
        return make(self._f(_c32(x), _c32(w)), (x, w),
                    lambda g: (self.bx(g, w), self.bw(x, g)))

    def bx(self, g, w):
        return make(self._bx(_c32(g), _c32(w)), (g, w),
                    lambda u: (self.f(u, w), self.bw(u, g)))

    def bw(self, x, g):
        return make(self._bw(_c32(x), _c32(g)), (x, g),
                    lambda v: (self.bx(g, v), self.f(x, v)))

    def grads(self, g, x, w, b=None):
        """The VJP of F(x, w) (+ b) as taped ops, for an outer tape."""
        from fastnet.ops.math import sum as _sum

        gx = self.bx(g, w) if needs_grad(x) else None
        gw = self.bw(x, g) if needs_grad(w) else None
        if b is None:
            return gx, gw
        return gx, gw, _sum(g, axis=tuple(range(g.ndim - 1)))


def _linear(fwd, adj, x):
    """y = A x as a taped op: ``fwd`` applies A, ``adj`` its adjoint (numpy -> numpy)."""
    return make(fwd(_c32(x)), (x,), lambda g: (_linear(adj, fwd, g),))


def _cast_like(grads, inputs):
    """The taped float32 kernel gradients in their inputs' dtypes (float64 kernels, say)."""
    return tuple(g if g is None or g.dtype == t.dtype else cast(g, t.dtype)
                 for g, t in zip(grads, inputs))


def _linear_np(fwd, adj, x):
    """_linear in x's own dtype (the numpy paths: float64 stays float64)."""
    return make(fwd(x._value), (x,), lambda g: (_linear_np(adj, fwd, g),))


def _c32(t):
    return np.ascontiguousarray(t._value, dtype=np.float32)


def _conv_family(strides, padding, dil, xshape, wshape):
    return _Bilinear(
        lambda xv, wv: _conv.conv_forward(xv, wv, None, strides, padding, dil),
        lambda gv, wv: _conv.conv_backward_input(gv, wv, xshape, strides, padding, dil),
        lambda xv, gv: _conv.conv_backward_kernel(xv, gv, wshape, strides, padding, dil,
                                                  with_bias=False)[0])


def _kernel_conv(x, w, strides, padding, dil, b=None, activation=None):
    xv = x._value
    wv = np.ascontiguousarray(w._value)
    bv = None if b is None else b._value
    out = _conv.conv_forward(xv, wv, bv, strides, padding, dil, activation=activation)
    relu = activation == "relu"

    def backward(g):
        if RECORDING and create_graph(g, x, w, b):
            if relu:  # through the ReLU by its output's mask (a constant: differentiable in g)
                g = g * Tensor((out > 0).astype(np.float32))
            return _conv_family(strides, padding, dil, xv.shape, wv.shape).grads(g, x, w, b)
        gv = np.ascontiguousarray(g._value, dtype=np.float32)
        if relu:
            gv = _conv.relu_backward_from_output(out, gv)
        gx = gw = gb = None
        if needs_grad(x):  # not for the images fed to the first layer
            gx = Tensor(_conv.conv_backward_input(gv, wv, xv.shape, strides, padding, dil))
        if needs_grad(w) or (b is not None and needs_grad(b)):
            dw, db = _conv.conv_backward_kernel(xv, gv, wv.shape, strides, padding, dil,
                                                with_bias=b is not None)
            gw = Tensor(dw)
            gb = None if db is None else Tensor(db)
        return (gx, gw) if b is None else (gx, gw, gb)

    return make(out, (x, w) if b is None else (x, w, b), backward)


def _fused_conv_args(x, w, b, strides, padding, dilation_rate):
    """(strides, padding, dilation) when conv_bias and conv_bias_relu can run as one kernel
    call (float32, a (filters,) bias, channels that match the kernel, a window that fits,
    no nested tapes: the kernels' backward is first order), else None (composed ops)."""
    nd = x.ndim - 2
    if (x.dtype == "float32" and b.dtype == "float32" and b.ndim == 1 and nd >= 1
            and w.ndim == nd + 2 and b.shape[0] == w.shape[-1] and x.shape[-1] == w.shape[-2]
            and _kernel_ok(x, w) and len(RECORDING) <= 1):
        padding = padding.lower()
        strides = _tuple(strides, nd, "strides")
        dil = _tuple(dilation_rate, nd, "dilation_rate")
        if (padding in ("valid", "same") and min(strides) >= 1 and min(dil) >= 1
                and _valid_fits(x.shape, w.shape[:nd], dil, padding)):
            return strides, padding, dil
    return None


@op
def conv_bias_relu(inputs, kernel, bias, strides=1, padding="valid", dilation_rate=1):
    """``relu(conv(inputs, kernel) + bias)`` in one kernel call: the convolution applies
    the bias and the ReLU to each block of output as it writes it, and the backward pass
    masks the gradient by the output (the pre-activation is never stored). What the Conv
    layers call for ``activation='relu'``; same values as ``relu(conv_bias(...))``."""
    x, w, b = _t(inputs), _t(kernel), _t(bias)
    fused = _fused_conv_args(x, w, b, strides, padding, dilation_rate)
    if fused is not None:
        return _kernel_conv(x, w, *fused, b, activation="relu")
    from fastnet.ops.nn import relu

    return relu(conv_bias(x, w, b, strides, padding, dilation_rate=dilation_rate))


@op
def conv_bias(inputs, kernel, bias, strides=1, padding="valid", dilation_rate=1):
    """``conv(inputs, kernel) + bias`` with the bias fused into the kernel's passes (the
    forward adds it while writing the output, the kernel-gradient pass sums its
    gradient), which is what the Conv layers call."""
    x, w, b = _t(inputs), _t(kernel), _t(bias)
    fused = _fused_conv_args(x, w, b, strides, padding, dilation_rate)
    if fused is not None:
        return _kernel_conv(x, w, *fused, b)
    from fastnet.ops.math import add

    return add(conv(x, w, strides, padding, dilation_rate=dilation_rate), b)


@op
@_data_format_aware
def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """N-D convolution; kernel (k..., in_channels, out_channels) as Keras."""
    x, w = _t(inputs), _t(kernel)
    dtype = "float64" if "float64" in (x.dtype, w.dtype) else "float32"
    if x.dtype != dtype:
        x = cast(x, dtype)
    if w.dtype != dtype:
        w = cast(w, dtype)
    nd = x.ndim - 2
    _check_conv(x, w, nd, "conv")
    padding = padding.lower()
    if padding not in ("valid", "same"):
        raise ValueError(f"conv: padding must be 'valid' or 'same', got {padding!r}")
    ks = w.shape[:nd]
    cin, cout = w.shape[-2], w.shape[-1]
    if x.shape[-1] != cin:
        raise ValueError(f"conv: input channels {x.shape[-1]} (input shape {x.shape}) do not "
                         f"match the kernel's in_channels {cin} (kernel shape {w.shape})")
    strides = _tuple(strides, nd, "strides")
    dil = _tuple(dilation_rate, nd, "dilation_rate")
    if min(strides) < 1 or min(dil) < 1:
        raise ValueError(f"conv: strides and dilation_rate must be >= 1, got {strides}, {dil}")
    if _kernel_ok(x, w) and _valid_fits(x.shape, ks, dil, padding):
        return _kernel_conv(x, w, strides, padding, dil)
    xv, pads = _pad_spatial(x._value, ks, strides, dil, padding)
    win, outs = _windows(xv, ks, strides, dil)
    n = x.shape[0]
    rows = n * int(np.prod(outs))
    kk = int(np.prod(ks)) * cin
    cols = np.ascontiguousarray(win).reshape(rows, kk)
    w2 = np.ascontiguousarray(w._value).reshape(kk, cout)
    out = _matmul(cols, w2).reshape((n,) + tuple(outs) + (cout,))
    in_shape = x.shape

    def backward(g):
        gv = np.ascontiguousarray(g._value).reshape(rows, cout)
        gw = _matmul(cols, gv, trans_a=True).reshape(w.shape)
        gcols = _matmul(gv, w2, trans_b=True).reshape(win.shape)
        gx = _scatter_windows(gcols, in_shape, ks, strides, dil, pads)
        return Tensor(gx), Tensor(gw)

    def nested_backward(g):
        if out.size and RECORDING and create_graph(g, x, w):  # taped kernels, any layout
            return _cast_like(_conv_family(strides, padding, dil, in_shape, w.shape)
                              .grads(g, x, w), (x, w))
        return backward(g)

    return make(out, (x, w), nested_backward)


def deconv_output_length(size, k, stride, padding, output_padding=None, dilation=1):
    if size is None:
        return None
    k = (k - 1) * dilation + 1
    if output_padding is None:
        if padding == "valid":
            return size * stride + max(k - stride, 0)
        return size * stride
    pad = k // 2 if padding == "same" else 0
    return (size - 1) * stride + k - 2 * pad + output_padding


@op
@_data_format_aware
def conv_transpose(inputs, kernel, strides=1, padding="valid", output_padding=None,
                   data_format=None, dilation_rate=1):
    """Transposed convolution; kernel (k..., out_channels, in_channels) as Keras."""
    x, w = _t(inputs), _t(kernel)
    nd = x.ndim - 2
    _check_conv(x, w, nd, "conv_transpose")
    ks = w.shape[:nd]
    cout, cin = w.shape[-2], w.shape[-1]
    if x.shape[-1] != cin:
        raise ValueError(f"conv_transpose: input channels {x.shape[-1]} (input shape {x.shape}) "
                         f"do not match the kernel's in_channels {cin} (kernel shape {w.shape})")
    strides = _tuple(strides, nd, "strides")
    dil = _tuple(dilation_rate, nd, "dilation_rate")
    opad = None if output_padding is None else _tuple(output_padding, nd, "output_padding")
    if _kernel_ok(x, w):
        xv = x._value
        wv = np.ascontiguousarray(w._value)
        out = _conv.conv_transpose_forward(xv, wv, None, strides, padding, opad, dil)

        def kbackward(g):
            if RECORDING and create_graph(g, x, w):
                return _Bilinear(
                    lambda xv, wv: _conv.conv_transpose_forward(xv, wv, None, strides, padding,
                                                                opad, dil),
                    lambda gv, wv: _conv.conv_transpose_backward_input(
                        gv, wv, xv.shape, strides, padding, opad, dil),
                    lambda xv, gv: _conv.conv_transpose_backward_kernel(
                        xv, gv, wv.shape, strides, padding, opad, dil, with_bias=False)[0],
                ).grads(g, x, w)
            gv = np.ascontiguousarray(g._value, dtype=np.float32)
            gx = gw = None
            if needs_grad(x):
                gx = Tensor(_conv.conv_transpose_backward_input(gv, wv, xv.shape, strides,
                                                                padding, opad, dil))
            if needs_grad(w):
                gw = Tensor(_conv.conv_transpose_backward_kernel(
                    xv, gv, wv.shape, strides, padding, opad, dil, with_bias=False)[0])
            return gx, gw

        return make(out, (x, w), kbackward)
    out_sizes = [deconv_output_length(x.shape[1 + i], ks[i], strides[i], padding,
                                      None if opad is None else opad[i], dil[i]) for i in range(nd)]
    # Scatter each input pixel's contribution, then crop the padding away.
    n = x.shape[0]
    eff = [(k - 1) * d + 1 for k, d in zip(ks, dil)]
    full = [(x.shape[1 + i] - 1) * strides[i] + eff[i] for i in range(nd)]
    pads_before = []
    for i in range(nd):
        if padding == "same":
            # TensorFlow's rule (the conv whose input gradient this is): half of the total
            # padding goes before, output_padding or not — as the C++ kernel does.
            pads_before.append(max(full[i] - out_sizes[i], 0) // 2)
        else:
            pads_before.append(0)
    xv = np.ascontiguousarray(x._value)
    rows = n * int(np.prod(x.shape[1:-1]))
    w2 = np.ascontiguousarray(w._value).reshape(-1, cout, cin)  # (K, cout, cin)
    kprod = w2.shape[0]
    wmat = np.ascontiguousarray(w2.transpose(2, 0, 1)).reshape(cin, kprod * cout)
    cols = _matmul(xv.reshape(rows, cin), wmat).reshape(
        (n,) + tuple(x.shape[1:-1]) + tuple(ks) + (cout,))
    size = [max(full[i], pads_before[i] + out_sizes[i]) for i in range(nd)]
    buf = _scatter_windows(cols, (n,) + tuple(size) + (cout,), ks, strides, dil,
                           [(0, 0)] * nd)
    crop = tuple(slice(p, p + o) for p, o in zip(pads_before, out_sizes))
    out = np.ascontiguousarray(buf[(slice(None),) + crop + (slice(None),)])

    def backward(g):
        gv = g._value
        padded = np.zeros((n,) + tuple(size) + (cout,), dtype=gv.dtype)
        padded[(slice(None),) + crop + (slice(None),)] = gv
        win, _ = _windows(padded, ks, strides, dil)
        win = win[(slice(None),) + tuple(slice(0, s) for s in x.shape[1:-1])]
        gcols = np.ascontiguousarray(win).reshape(rows, kprod * cout)
        gx = _matmul(gcols, wmat.T).reshape(x.shape)
        gwm = _matmul(xv.reshape(rows, cin).T, gcols)  # (cin, K*cout)
        gw = gwm.reshape(cin, kprod, cout).transpose(1, 2, 0).reshape(w.shape)
        return Tensor(gx), Tensor(np.ascontiguousarray(gw))

    def nested_backward(g):
        if out.size and RECORDING and create_graph(g, x, w):  # taped kernels, any layout
            return _cast_like(_Bilinear(
                lambda xv, wv: _conv.conv_transpose_forward(xv, wv, None, strides, padding,
                                                            opad, dil),
                lambda gv, wv: _conv.conv_transpose_backward_input(
                    gv, wv, x.shape, strides, padding, opad, dil),
                lambda xv, gv: _conv.conv_transpose_backward_kernel(
                    xv, gv, w.shape, strides, padding, opad, dil, with_bias=False)[0],
            ).grads(g, x, w), (x, w))
        return backward(g)

    return make(out, (x, w), nested_backward)


@op
@_data_format_aware
def depthwise_conv(inputs, kernel, strides=1, padding="valid", data_format=None,
                   dilation_rate=1):
    """Depthwise convolution; kernel (k..., in_channels, depth_multiplier)."""
    x, w = _t(inputs), _t(kernel)
    nd = x.ndim - 2
    _check_conv(x, w, nd, "depthwise_conv")
    ks = w.shape[:nd]
    cin, mult = w.shape[-2], w.shape[-1]
    if x.shape[-1] != cin:
        raise ValueError(f"depthwise_conv: input channels {x.shape[-1]} do not match the "
                         f"kernel's {cin} (kernel shape {w.shape})")
    strides = _tuple(strides, nd, "strides")
    dil = _tuple(dilation_rate, nd, "dilation_rate")
    if _kernel_ok(x, w) and _valid_fits(x.shape, ks, dil, padding.lower()):
        xv0 = x._value
        wv = np.ascontiguousarray(w._value)
        out = _conv.depthwise_conv_forward(xv0, wv, None, strides, padding.lower(), dil)

        def kbackward(g):
            if RECORDING and create_graph(g, x, w):
                pad = padding.lower()
                return _Bilinear(
                    lambda xv, wv: _conv.depthwise_conv_forward(xv, wv, None, strides, pad, dil),
                    lambda gv, wv: _conv.depthwise_conv_backward_input(gv, wv, xv0.shape,
                                                                       strides, pad, dil),
                    lambda xv, gv: _conv.depthwise_conv_backward_kernel(
                        xv, gv, wv.shape, strides, pad, dil, with_bias=False)[0],
                ).grads(g, x, w)
            gv = np.ascontiguousarray(g._value, dtype=np.float32)
            gx = gw = None
            if needs_grad(x):
                gx = Tensor(_conv.depthwise_conv_backward_input(gv, wv, xv0.shape, strides,
                                                                padding.lower(), dil))
            if needs_grad(w):
                gw = Tensor(_conv.depthwise_conv_backward_kernel(
                    xv0, gv, wv.shape, strides, padding.lower(), dil, with_bias=False)[0])
            return gx, gw

        return make(out, (x, w), kbackward)
    xv, pads = _pad_spatial(x._value, ks, strides, dil, padding.lower())
    win, outs = _windows(xv, ks, strides, dil)  # (N, out..., k..., C)
    axes = tuple(range(1 + nd, 1 + 2 * nd))
    out = np.einsum(win, list(range(2 * nd + 2)), w._value, list(range(1 + nd, 1 + 2 * nd)) +
                    [2 * nd + 1, 2 * nd + 2], list(range(1 + nd)) + [2 * nd + 1, 2 * nd + 2],
                    optimize=True)
    out = np.ascontiguousarray(out.reshape(out.shape[:1 + nd] + (cin * mult,)))
    in_shape = x.shape

    def backward(g):
        gv = g._value.reshape(g.shape[:-1] + (cin, mult))
        gw = np.einsum(win, list(range(2 * nd + 2)), gv, list(range(1 + nd)) +
                       [2 * nd + 1, 2 * nd + 2], list(range(1 + nd, 1 + 2 * nd)) +
                       [2 * nd + 1, 2 * nd + 2], optimize=True)
        gwin = np.einsum(gv, list(range(1 + nd)) + [2 * nd + 1, 2 * nd + 2], w._value,
                         list(range(1 + nd, 1 + 2 * nd)) + [2 * nd + 1, 2 * nd + 2],
                         list(range(2 * nd + 2)), optimize=True)
        gx = _scatter_windows(np.ascontiguousarray(gwin), in_shape, ks, strides, dil, pads)
        return Tensor(gx.astype(np.float32)), Tensor(gw.astype(np.float32))

    del axes
    def nested_backward(g):
        if out.size and RECORDING and create_graph(g, x, w):  # taped kernels, any layout
            pad = padding.lower()
            return _cast_like(_Bilinear(
                lambda xv, wv: _conv.depthwise_conv_forward(xv, wv, None, strides, pad, dil),
                lambda gv, wv: _conv.depthwise_conv_backward_input(gv, wv, in_shape, strides,
                                                                   pad, dil),
                lambda xv, gv: _conv.depthwise_conv_backward_kernel(
                    xv, gv, w.shape, strides, pad, dil, with_bias=False)[0],
            ).grads(g, x, w), (x, w))
        return backward(g)

    return make(out, (x, w), nested_backward)


@op
@_data_format_aware
def separable_conv(inputs, depthwise_kernel, pointwise_kernel, strides=1, padding="valid",
                   data_format=None, dilation_rate=1):
    y = depthwise_conv(inputs, depthwise_kernel, strides, padding, data_format, dilation_rate)
    return conv(y, pointwise_kernel, 1, "valid")


def _pool(x, pool_size, strides, padding, kind):
    x = _t(x)
    nd = x.ndim - 2
    if nd < 1:
        raise ValueError(f"{kind}_pool: inputs must be at least 3-D, got shape {x.shape}")
    ks = _tuple(pool_size, nd, "pool_size")
    strides = ks if strides is None else _tuple(strides, nd, "strides")
    if min(ks) < 1 or min(strides) < 1:
        raise ValueError(f"{kind}_pool: pool_size and strides must be >= 1, got {ks}, {strides}")
    padding = padding.lower()
    if padding not in ("valid", "same"):
        raise ValueError(f"{kind}_pool: padding must be 'valid' or 'same', got {padding!r}")
    if nd <= 3 and _pool_kernel_ok(x._value):
        return _kernel_pool(x, ks, strides, padding, kind)
    ones = (1,) * nd
    fill = -np.inf if kind == "max" else 0.0
    xv, pads = _pad_spatial(x._value, ks, strides, ones, padding, value=fill)
    win, outs = _windows(xv, ks, strides, ones)
    waxes = tuple(range(1 + nd, 1 + 2 * nd))
    in_shape = x.shape
    if kind == "max":
        flat = np.ascontiguousarray(win).reshape(win.shape[:1 + nd] + (-1, win.shape[-1]))
        arg = np.argmax(flat, axis=1 + nd)
        out = np.take_along_axis(flat, arg[..., None, :], axis=1 + nd)[..., 0, :]

        def scatter(gv):  # the max-pool VJP: each window's g to its argmax (linear in g)
            onehot = np.zeros(flat.shape, dtype=gv.dtype)
            np.put_along_axis(onehot, arg[..., None, :], gv[..., None, :], axis=1 + nd)
            gwin = onehot.reshape(win.shape)
            return _scatter_windows(gwin, in_shape, ks, strides, ones, pads)

        def gather(uv):  # its adjoint: each window reads u at its argmax
            up, _ = _pad_spatial(uv, ks, strides, ones, padding, value=0.0)
            uw, _ = _windows(up, ks, strides, ones)
            uf = np.ascontiguousarray(uw).reshape(flat.shape)
            return np.take_along_axis(uf, arg[..., None, :], axis=1 + nd)[..., 0, :]

        def backward(g):
            if RECORDING and create_graph(g):
                return (_linear_np(scatter, gather, g),)
            return (Tensor(scatter(g._value)),)

        return make(np.ascontiguousarray(out), (x,), backward)
    # average: divide by the number of real (unpadded) elements, as Keras
    ones_in = np.ones((1,) + x.shape[1:-1] + (1,), dtype=x._value.dtype)
    ov, _ = _pad_spatial(ones_in, ks, strides, ones, padding, value=0.0)
    owin, _ = _windows(ov, ks, strides, ones)
    count = owin.sum(axis=waxes)
    out = win.sum(axis=waxes) / count

    def scatter(gv):  # the average-pool VJP (linear in g)
        gwin = np.broadcast_to(np.expand_dims(gv / count, waxes), win.shape)
        return _scatter_windows(np.ascontiguousarray(gwin), in_shape, ks, strides, ones, pads)

    def pool(uv):  # its adjoint: the average pool itself
        up, _ = _pad_spatial(uv, ks, strides, ones, padding, value=0.0)
        uw, _ = _windows(up, ks, strides, ones)
        return (uw.sum(axis=waxes) / count).astype(uv.dtype)

    def backward(g):
        if RECORDING and create_graph(g):
            return (_linear_np(scatter, pool, g),)
        return (Tensor(scatter(g._value)),)

    return make(np.ascontiguousarray(out.astype(x._value.dtype)), (x,), backward)


def _pool_kernel_ok(v):
    return v.dtype == np.float32 and v.flags.c_contiguous


def _kernel_pool(x, ks, strides, padding, kind):
    """1-D/2-D/3-D pooling on the C++ kernels (one 3-D core; dx written by a gather)."""
    xv = x._value
    y, arg = _poolk.pool_forward(xv, kind, list(ks), list(strides), padding)
    xshape = list(xv.shape)

    def scatter(gv):
        return _poolk.pool_backward(gv, arg, xshape, kind, list(ks), list(strides), padding)

    def adjoint(uv):  # max: gather u at each window's argmax; average: the pool itself
        if kind == "avg":
            return _poolk.pool_forward(uv, kind, list(ks), list(strides), padding)[0]
        n, c = xshape[0], xshape[-1]
        return np.take_along_axis(uv.reshape(n, -1, c), arg.reshape(n, -1, c).astype(np.intp),
                                  axis=1).reshape(arg.shape)

    def backward(g):
        if RECORDING and create_graph(g):
            return (_linear(scatter, adjoint, g),)
        gv = np.ascontiguousarray(g._value, dtype=np.float32)
        return (Tensor(scatter(gv)),)

    return make(y, (x,), backward)


@op
@_data_format_aware
def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    return _pool(inputs, pool_size, strides, padding, "max")


@op
@_data_format_aware
def average_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    return _pool(inputs, pool_size, strides, padding, "avg")


@op
def upsampling(inputs, size):
    """Nearest-neighbour upsampling of each spatial axis by `size` (channels-last)."""
    x = _t(inputs)
    nd = x.ndim - 2
    if nd < 1:
        raise ValueError(f"upsampling: inputs must be at least 3-D (batch, spatial..., "
                         f"channels), got shape {x.shape}")
    size = _tuple(size, nd, "size")
    if min(size) < 1:
        raise ValueError(f"upsampling: size must be positive, got {size} for input shape "
                         f"{x.shape}")
    if nd <= 3 and _pool_kernel_ok(x._value):
        y = _poolk.upsampling_forward(x._value, list(size))

        def kbackward(g):
            if RECORDING and create_graph(g):
                return (_linear(lambda gv: _poolk.upsampling_backward(gv, list(size)),
                                lambda uv: _poolk.upsampling_forward(uv, list(size)), g),)
            gv = np.ascontiguousarray(g._value, dtype=np.float32)
            return (Tensor(_poolk.upsampling_backward(gv, list(size))),)

        return make(y, (x,), kbackward)
    out = x._value
    for i, s in enumerate(size):
        out = np.repeat(out, s, axis=1 + i)
    in_shape = x.shape

    def block_sum(gv):
        shape = [in_shape[0]]
        for i, s in enumerate(size):
            shape += [in_shape[1 + i], s]
        shape.append(in_shape[-1])
        return gv.reshape(shape).sum(axis=tuple(2 + 2 * i for i in range(nd)))

    def repeat(uv):
        for i, s in enumerate(size):
            uv = np.repeat(uv, s, axis=1 + i)
        return uv

    def backward(g):
        if RECORDING and create_graph(g):
            return (_linear_np(block_sum, repeat, g),)
        return (Tensor(block_sum(g._value)),)

    return make(np.ascontiguousarray(out), (x,), backward)


def _global_pool(inputs, kind, keepdims):
    x = _t(inputs)
    if x.ndim < 3:
        raise ValueError(f"global_{kind}_pool: inputs must be at least 3-D (batch, spatial..., "
                         f"channels), got shape {x.shape}")
    axes = tuple(range(1, x.ndim - 1))
    xv = x._value
    if not (_pool_kernel_ok(xv) and all(xv.shape[a] > 0 for a in axes)):
        from fastnet.ops import math as _m

        fn = _m.max if kind == "max" else _m.mean
        return fn(x, axis=axes, keepdims=keepdims)
    y, count = _poolk.global_pool_forward(xv, kind)
    out_shape = (xv.shape[0],) + (1,) * len(axes) + (xv.shape[-1],) if keepdims else y.shape
    xshape = list(xv.shape)

    def backward(g):
        if RECORDING:  # an outer tape records the backward: differentiable ops
            from fastnet.ops import math as _m

            gk = _m.reshape(g, (xv.shape[0],) + (1,) * len(axes) + (xv.shape[-1],))
            if kind == "avg":
                return (_m.broadcast_to(gk, xv.shape) / float(np.prod(xv.shape[1:-1])),)
            mask = (xv == y.reshape(gk.shape)).astype(np.float32) / count.reshape(gk.shape)
            return (_m.broadcast_to(gk, xv.shape) * Tensor(mask),)
        gv = np.ascontiguousarray(g._value, dtype=np.float32).reshape(y.shape)
        if kind == "max":
            return (Tensor(_poolk.global_max_pool_backward(gv, xv, y, count)),)
        return (Tensor(_poolk.global_avg_pool_backward(gv, xshape)),)

    return make(y.reshape(out_shape), (x,), backward)


@op
@_data_format_aware
def global_max_pool(inputs, keepdims=False, data_format=None):
    """Max over the spatial axes of channels-last (batch, spatial..., channels); the
    gradient is shared among tied maxima (as TensorFlow's reduce_max)."""
    return _global_pool(inputs, "max", keepdims)


@op
@_data_format_aware
def global_average_pool(inputs, keepdims=False, data_format=None):
    """Mean over the spatial axes of channels-last (batch, spatial..., channels)."""
    return _global_pool(inputs, "avg", keepdims)


# The public ops of this module (Keras 3 names; fastnet.ops re-exports exactly these).
__all__ = ["average_pool", "conv", "conv_transpose", "depthwise_conv", "max_pool",
           "separable_conv"]
