"""Fourier transforms, as keras.ops: fft, fft2, ifft2, rfft, irfft, stft. Complex
values are ``(real, imag)`` pairs of float tensors, as in Keras. numpy computes
them; each output's gradient is the transform's adjoint applied to the upstream
gradient (so real and imaginary parts both carry gradients)."""

from __future__ import annotations

import numpy as np

from fastnet.backend.tape import first_order_only
from fastnet.backend.tensor import Tensor
from fastnet.ops.core import _t, make, op


def _pair(x, name):
    if not isinstance(x, (tuple, list)) or len(x) != 2:
        raise ValueError(f"{name}: input `x` should be a tuple of two tensors - real and "
                         f"imaginary. Received: x={x!r}")
    re, im = _t(x[0]), _t(x[1])
    if re.shape != im.shape:
        raise ValueError(f"{name}: the real and imaginary parts should have the same shape. "
                         f"Received: x[0].shape = {re.shape}, x[1].shape = {im.shape}")
    if re._value.dtype.kind != "f" or im._value.dtype.kind != "f":
        raise ValueError(f"{name}: at least one tensor in input `x` is not of type float. "
                         f"Received dtypes {re.dtype}, {im.dtype}")
    return re, im


def _complex_outputs(z, inputs, adjoint, dtype, complex_inputs):
    """(real, imag) Tensors of complex array z = A(inputs); adjoint(ybar) is A^H ybar."""

    def grads(ybar):
        zbar = adjoint(ybar)
        if complex_inputs:
            return (Tensor(np.real(zbar).astype(dtype)), Tensor(np.imag(zbar).astype(dtype)))
        return (Tensor(np.real(zbar).astype(dtype)),)

    real = make(np.real(z).astype(dtype), inputs, first_order_only(
        "fft", lambda g: grads(g._value.astype(np.float64)), inputs))
    imag = make(np.imag(z).astype(dtype), inputs, first_order_only(
        "fft", lambda g: grads(1j * g._value.astype(np.float64)), inputs))
    return real, imag


@op
def fft(x):
    """FFT over the last axis of the complex input (real, imag)."""
    re, im = _pair(x, "fft")
    z = np.fft.fft(re._value + 1j * im._value.astype(np.float64), axis=-1)
    n = re.shape[-1]
    return _complex_outputs(z, (re, im), lambda y: n * np.fft.ifft(y, axis=-1), re._value.dtype,
                            True)


@op
def fft2(x):
    """2-D FFT over the last two axes of the complex input (real, imag)."""
    re, im = _pair(x, "fft2")
    z = np.fft.fft2(re._value + 1j * im._value.astype(np.float64))
    n = re.shape[-1] * re.shape[-2]
    return _complex_outputs(z, (re, im), lambda y: n * np.fft.ifft2(y), re._value.dtype, True)


@op
def ifft2(x):
    """Inverse 2-D FFT over the last two axes of the complex input (real, imag)."""
    re, im = _pair(x, "ifft2")
    z = np.fft.ifft2(re._value + 1j * im._value.astype(np.float64))
    n = re.shape[-1] * re.shape[-2]
    return _complex_outputs(z, (re, im), lambda y: np.fft.fft2(y) / n, re._value.dtype, True)


def _fit_last(a, length):
    """a's last axis cut or zero-padded to `length`."""
    cur = a.shape[-1]
    if cur >= length:
        return a[..., :length]
    pads = [(0, 0)] * (a.ndim - 1) + [(0, length - cur)]
    return np.pad(a, pads)


@op
def rfft(x, fft_length=None):
    """FFT of a real signal over the last axis: the fft_length // 2 + 1 non-negative
    frequencies, as (real, imag)."""
    x = _t(x)
    if x._value.dtype.kind != "f":
        raise TypeError(f"rfft: x must be a float tensor, received dtype {x.dtype}")
    n = x.shape[-1] if fft_length is None else int(fft_length)
    if n <= 0:
        raise ValueError(f"rfft: fft_length must be positive. Received: fft_length={n}")
    z = np.fft.rfft(x._value.astype(np.float64), n=n, axis=-1)
    length = x.shape[-1]

    def adjoint(y):
        full = _fit_last(y, n)  # the dropped negative frequencies get no cotangent
        return _fit_last(n * np.fft.ifft(full, axis=-1), length)

    return _complex_outputs(z, (x,), adjoint, x._value.dtype, False)


@op
def irfft(x, fft_length=None):
    """Inverse of rfft: a real signal of fft_length (default 2 * (bins - 1)) samples."""
    re, im = _pair(x, "irfft")
    bins = re.shape[-1]
    n = 2 * (bins - 1) if fft_length is None else int(fft_length)
    if n <= 0:
        raise ValueError(f"irfft: fft_length must be positive. Received: fft_length={n}")
    z = re._value.astype(np.float64) + 1j * im._value
    out = np.fft.irfft(z, n=n, axis=-1).astype(re._value.dtype)
    used = n // 2 + 1
    c = np.full(used, 2.0)
    c[0] = 1.0
    if n % 2 == 0:
        c[-1] = 1.0

    def backward(g):
        zbar = _fit_last(c / n * np.fft.rfft(g._value.astype(np.float64), n=n, axis=-1), bins)
        if bins > used:
            zbar[..., used:] = 0.0
        zbar = zbar.copy()
        zbar[..., 0] = np.real(zbar[..., 0])  # irfft ignores Im of the DC bin
        if n % 2 == 0 and bins >= used:
            zbar[..., used - 1] = np.real(zbar[..., used - 1])  # ... and of the Nyquist bin
        dt = re._value.dtype
        return Tensor(np.real(zbar).astype(dt)), Tensor(np.imag(zbar).astype(dt))

    return make(out, (re, im), first_order_only("irfft", backward, (re, im)))


def _window(window, sequence_length, dtype):
    if window is None:
        return np.ones(sequence_length)
    if isinstance(window, str):
        n = np.arange(sequence_length)
        if window == "hann":  # periodic, as scipy.signal.get_window
            return 0.5 - 0.5 * np.cos(2 * np.pi * n / sequence_length)
        if window == "hamming":
            return 0.54 - 0.46 * np.cos(2 * np.pi * n / sequence_length)
        raise ValueError('If a string is passed to `window`, it must be one of "hann", '
                         f'"hamming". Received: window={window}')
    w = np.asarray(_t(window)._value, dtype=np.float64)
    if w.shape != (sequence_length,):
        raise ValueError("The shape of `window` must be equal to [sequence_length]. "
                         f"Received: window shape={w.shape}")
    return w


@op
def stft(x, sequence_length, sequence_stride, fft_length, window="hann", center=True):
    """Short-time Fourier transform over the last axis, as Keras: frames of
    fft_length samples every sequence_stride (the window of sequence_length samples
    centred in each), reflect-padded by fft_length // 2 when center. Returns
    (real, imag) of shape (..., frames, fft_length // 2 + 1)."""
    x = _t(x)
    if x.dtype not in ("float32", "float64"):
        raise TypeError(f"Invalid input type. Expected `float32` or `float64`. Received: input "
                        f"type={x.dtype}")
    if fft_length < sequence_length:
        raise ValueError("`fft_length` must equal or larger than `sequence_length`. Received: "
                         f"sequence_length={sequence_length}, fft_length={fft_length}")
    if sequence_stride <= 0:
        raise ValueError(f"stft: sequence_stride must be positive. Received: {sequence_stride}")
    win = _window(window, sequence_length, x._value.dtype)
    l_pad = (fft_length - sequence_length) // 2
    win = np.pad(win, (l_pad, fft_length - sequence_length - l_pad))
    v = x._value.astype(np.float64)
    length = v.shape[-1]
    p = fft_length // 2 if center else 0
    if center:
        if p >= length:
            raise ValueError(f"stft: center=True reflect-pads by fft_length // 2 = {p}, which "
                             f"needs more than {p} samples; the signal has {length}")
        v = np.pad(v, [(0, 0)] * (v.ndim - 1) + [(p, p)], mode="reflect")
    padded = v.shape[-1]
    frames = 1 + (padded - fft_length) // sequence_stride if padded >= fft_length else 0
    if frames <= 0:
        raise ValueError(f"stft: the signal ({length} samples) is shorter than one frame "
                         f"(fft_length={fft_length})")
    starts = np.arange(frames) * sequence_stride
    idx = starts[:, None] + np.arange(fft_length)[None, :]
    segs = v[..., idx] * win
    z = np.fft.rfft(segs, n=fft_length, axis=-1)

    def adjoint(y):
        seg_bar = fft_length * np.fft.ifft(_fit_last(y, fft_length), axis=-1) * win
        buf = np.zeros(v.shape, dtype=np.complex128)
        for f in range(frames):
            buf[..., idx[f]] += seg_bar[..., f, :]
        if not center:
            return buf
        gx = buf[..., p:p + length].copy()
        gx[..., 1:p + 1] += buf[..., :p][..., ::-1]
        gx[..., length - 1 - p:length - 1] += buf[..., p + length:][..., ::-1]
        return gx

    return _complex_outputs(z, (x,), adjoint, x._value.dtype, False)


@op
def istft(x, sequence_length, sequence_stride, fft_length, length=None, window="hann",
          center=True):
    """Inverse of stft, as Keras: each frame's irfft times the window, overlap-added and
    divided by the overlap-added squared window (where it is nonzero); the center padding
    trimmed, or `length` samples kept. x is (real, imag) of shape (..., frames, bins);
    differentiable through irfft (first order)."""
    from fastnet.ops import math as m
    from fastnet.ops.math import scatter_into

    re, im = _pair(x, "istft")
    if re.ndim < 2:
        raise ValueError(f"istft: x must be (real, imag) of shape (..., frames, bins); received "
                         f"{re.shape}")
    if fft_length < sequence_length or sequence_stride <= 0:
        raise ValueError(f"istft: need fft_length >= sequence_length and sequence_stride > 0. "
                         f"Received: sequence_length={sequence_length}, "
                         f"sequence_stride={sequence_stride}, fft_length={fft_length}")
    dtype = re._value.dtype if re._value.dtype.kind == "f" else np.dtype("float32")
    win = _window(window, sequence_length, dtype)
    l_pad = (fft_length - sequence_length) // 2
    win = np.pad(win, (l_pad, fft_length - sequence_length - l_pad))
    frames = re.shape[-2]
    lead = tuple(re.shape[:-2])
    total = fft_length + sequence_stride * (frames - 1)
    seg = irfft((re, im), fft_length) * Tensor(win.astype(dtype))  # (..., frames, fft)
    idx = (np.arange(frames)[:, None] * sequence_stride + np.arange(fft_length)[None, :])
    flat = m.reshape(seg, (-1, frames * fft_length))
    ola = scatter_into(flat, (slice(None), idx.reshape(-1)), (flat.shape[0], total), None,
                       False)
    norm = np.zeros(total)
    np.add.at(norm, idx.reshape(-1), np.tile(win * win, frames))
    y = ola / Tensor(np.where(norm > 1e-10, norm, 1.0).astype(dtype))
    if window is None:
        y = y * (float(fft_length) / sequence_stride)
    y = m.reshape(y, lead + (total,))
    start = fft_length // 2 if center else 0
    if length is not None:
        end = start + int(length)
    elif center:
        end = total - fft_length // 2
    else:
        end = total
    return y[..., start:end]


__all__ = ["fft", "fft2", "ifft2", "rfft", "irfft", "stft", "istft"]
