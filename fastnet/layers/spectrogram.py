"""Audio front ends, as keras.layers: STFTSpectrogram and MelSpectrogram.

STFTSpectrogram is Keras's: a strided 1-D convolution of each channel with two kernels
(the windowed cosines and sines of the DFT, Keras's STFT initializer) that are weights of
the layer ("real_kernel", "imag_kernel", trainable as in Keras), so its numbers and its
weights are Keras's; the convolution is fastnet's im2col + GEMM kernel. MelSpectrogram
is the magnitude of ``ops.stft`` (centred, reflect-padded) to the power ``mag_exp``, a
triangular mel filter bank (Keras's / TensorFlow's ``linear_to_mel_weight_matrix``) and,
by default, decibels with a ``top_db`` floor; differentiable w.r.t. the signal.
"""

from __future__ import annotations

import math

import numpy as np

from fastnet import ops
from fastnet.backend.symbolic import KerasTensor
from fastnet.initializers import Initializer
from fastnet.layers.layer import InputSpec, Layer

_EPSILON = 1e-7  # keras.backend.epsilon()


def get_window(window, length, periodic):
    """scipy.signal.get_window(window, length, fftbins=periodic) for 'hann', 'hamming',
    'boxcar' (and any scipy window when scipy is installed), or an array."""
    if not isinstance(window, str):
        w = np.asarray(window, np.float64)
        if w.shape != (length,):
            raise ValueError("The shape of `window` must be equal to [frame_length]. Received: "
                             f"window shape={w.shape}")
        return w
    n = np.arange(length)
    denom = length if periodic else max(length - 1, 1)
    if window in ("hann", "hanning"):
        return 0.5 - 0.5 * np.cos(2 * np.pi * n / denom)
    if window == "hamming":
        return 0.54 - 0.46 * np.cos(2 * np.pi * n / denom)
    if window in ("boxcar", "rectangular", "ones"):
        return np.ones(length)
    try:
        import scipy.signal
    except ImportError:
        raise ValueError(f"window={window!r} needs scipy (fastnet computes 'hann', 'hamming' "
                         "and 'boxcar' itself)") from None
    return np.asarray(scipy.signal.get_window(window, length, fftbins=periodic), np.float64)


class _STFTKernel(Initializer):
    """keras.initializers.STFT: (frame_length, 1, bins) windowed DFT cosines ('real') or
    sines ('imag'), divided by the window's norm ('density') or sum ('spectrum')."""

    def __init__(self, side="real", window="hann", scaling="density", periodic=False):
        self.side, self.window, self.scaling, self.periodic = side, window, scaling, periodic

    def __call__(self, shape, dtype=None):
        frame_length, _, bins = shape
        fft = (bins - 1) * 2
        t = np.arange(frame_length, dtype=np.float64).reshape(frame_length, 1, 1)
        f = np.arange(bins, dtype=np.float64).reshape(1, 1, bins) / fft
        args = -2.0 * t * f * np.pi
        kernel = np.cos(args) if self.side == "real" else np.sin(args)
        if self.window is not None:
            win = get_window(self.window, frame_length, self.periodic).reshape(-1, 1, 1)
            scale = 1.0
            if self.scaling == "density":
                scale = np.sqrt(np.sum(win ** 2))
            elif self.scaling == "spectrum":
                scale = np.sum(np.abs(win))
            kernel = kernel * win / scale
        return kernel.astype(dtype or "float32")

    def get_config(self):
        return {"side": self.side, "window": self.window, "periodic": self.periodic,
                "scaling": self.scaling}


def _conv_length(length, size, stride, padding):
    if length is None:
        return None
    if padding == "same":
        return -(-length // stride)
    return (length - size) // stride + 1


class STFTSpectrogram(Layer):
    """Spectrogram of (batch, time, channels) signals (``data_format='channels_last'``) or
    (batch, channels, time): ``mode`` 'log' (default), 'magnitude', 'psd', 'real', 'imag',
    'angle' or 'stft' (real and imaginary parts concatenated), frames of
    ``frame_length`` every ``frame_step`` (default frame_length // 2), ``fft_length // 2 +
    1`` frequency bins per channel (stacked, or a new axis with ``expand_dims``)."""

    _MODES = ("log", "magnitude", "psd", "real", "imag", "angle", "stft")

    def __init__(self, mode="log", frame_length=256, frame_step=None, fft_length=None,
                 window="hann", periodic=False, scaling="density", padding="valid",
                 expand_dims=False, data_format=None, **kwargs):
        if isinstance(frame_length, bool) or not isinstance(frame_length, (int, np.integer)) \
                or frame_length < 1:
            raise ValueError(f"`frame_length` should be a positive integer. Received: "
                             f"frame_length={frame_length}")
        if frame_step is not None and (frame_step > frame_length or frame_step < 1):
            raise ValueError("`frame_step` should be a positive integer not greater than "
                             f"`frame_length`. Received frame_step={frame_step}, "
                             f"frame_length={frame_length}")
        if fft_length is not None and fft_length < frame_length:
            raise ValueError("`fft_length` should be not less than `frame_length`. Received "
                             f"fft_length={fft_length}, frame_length={frame_length}")
        if mode not in self._MODES:
            raise ValueError(f"Output mode is invalid, it must be one of {', '.join(self._MODES)}"
                             f". Received: mode={mode}")
        if scaling is not None and scaling not in ("density", "spectrum"):
            raise ValueError("Scaling is invalid, it must be `None`, 'density' or 'spectrum'. "
                             f"Received scaling={scaling}")
        if padding not in ("valid", "same"):
            raise ValueError("Padding is invalid, it should be 'valid', 'same'. Received: "
                             f"padding={padding}")
        if window is not None:
            get_window(window, int(frame_length), periodic)  # a bad window fails here
        super().__init__(**kwargs)
        self.mode = mode
        self.frame_length = int(frame_length)
        self.frame_step = frame_step
        self._frame_step = int(frame_step or self.frame_length // 2) or 1
        self.fft_length = fft_length
        self._fft_length = int(fft_length or 2 ** int(math.ceil(math.log2(frame_length))))
        self.window = list(window) if isinstance(window, (tuple, np.ndarray)) else window
        self.periodic = bool(periodic)
        self.scaling = scaling
        self.padding = padding
        self.expand_dims = bool(expand_dims)
        from fastnet.layers.core import _data_format

        self.data_format = _data_format(data_format, self)
        self.input_spec = InputSpec(ndim=3)

    def build(self, input_shape):
        shape = (self.frame_length, 1, self._fft_length // 2 + 1)
        if self.mode != "imag":
            self.real_kernel = self.add_weight(
                shape=shape, name="real_kernel",
                initializer=_STFTKernel("real", self.window, self.scaling, self.periodic))
        if self.mode != "real":
            self.imag_kernel = self.add_weight(
                shape=shape, name="imag_kernel",
                initializer=_STFTKernel("imag", self.window, self.scaling, self.periodic))
        self.built = True

    def _apply_conv(self, x, kernel):
        """(B, T, C) or (B, C, T) -> (B, C, bins, frames)."""
        if self.data_format == "channels_last":
            b, t, c = x.shape
            x = ops.transpose(x, (0, 2, 1))
        else:
            b, c, t = x.shape
        y = ops.conv(ops.reshape(x, (b * c, t, 1)), ops.cast(kernel, x.dtype),
                     strides=self._frame_step, padding=self.padding)   # (B*C, frames, bins)
        frames, bins = y.shape[1], y.shape[2]
        return ops.reshape(ops.transpose(y, (0, 2, 1)), (b, c, bins, frames))

    def _adjust(self, y):
        b, c, f, t = y.shape
        if self.data_format == "channels_last":
            if self.expand_dims:
                return ops.transpose(y, (0, 3, 2, 1))
            return ops.transpose(ops.reshape(y, (b, c * f, t)), (0, 2, 1))
        if self.expand_dims:
            return ops.transpose(y, (0, 1, 3, 2))
        return ops.reshape(y, (b, c * f, t))

    def call(self, inputs):
        x = ops.convert_to_tensor(inputs)
        if x.dtype not in ("float16", "float32", "float64"):
            raise TypeError("Invalid input type. Expected `float16`, `float32` or `float64`. "
                            f"Received: input type={x.dtype}")
        t = x.shape[1] if self.data_format == "channels_last" else x.shape[2]
        if self.padding == "valid" and t < self.frame_length:
            raise ValueError(f"STFTSpectrogram {self.name!r}: the signal has {t} samples, fewer "
                             f"than one frame (frame_length={self.frame_length}); input shape "
                             f"{tuple(x.shape)} with data_format={self.data_format!r}")
        real = self._apply_conv(x, self.real_kernel) if self.mode != "imag" else None
        imag = self._apply_conv(x, self.imag_kernel) if self.mode != "real" else None
        if self.mode == "real":
            return self._adjust(real)
        if self.mode == "imag":
            return self._adjust(imag)
        if self.mode == "angle":
            return self._adjust(ops.arctan2(imag, real))
        if self.mode == "stft":
            return self._adjust(ops.concatenate([real, imag], axis=2))
        power = ops.square(real) + ops.square(imag)
        if self.mode == "psd":
            inner = ops.pad(power[:, :, 1:-1, :], [(0, 0), (0, 0), (1, 1), (0, 0)])
            return self._adjust(power + inner)
        linear = self._adjust(ops.sqrt(ops.maximum(power, _EPSILON)))
        if self.mode == "magnitude":
            return linear
        return ops.log(ops.maximum(linear, _EPSILON))

    def compute_output_shape(self, input_shape):
        if self.data_format == "channels_last":
            b, t, c = input_shape
        else:
            b, c, t = input_shape
        bins = self._fft_length // 2 + 1
        if self.mode == "stft":
            bins *= 2
        frames = _conv_length(t, self.frame_length, self._frame_step, self.padding)
        if self.expand_dims:
            return (b, frames, bins, c) if self.data_format == "channels_last" \
                else (b, c, frames, bins)
        stacked = None if c is None else bins * c
        return (b, frames, stacked) if self.data_format == "channels_last" \
            else (b, stacked, frames)

    def get_config(self):
        return {**super().get_config(), "mode": self.mode, "frame_length": self.frame_length,
                "frame_step": self.frame_step, "fft_length": self.fft_length,
                "window": self.window, "periodic": self.periodic, "scaling": self.scaling,
                "padding": self.padding, "data_format": self.data_format,
                "expand_dims": self.expand_dims}


_MEL_BREAK_FREQUENCY_HERTZ = 700.0
_MEL_HIGH_FREQUENCY_Q = 1127.0


def _hertz_to_mel(hz):
    return _MEL_HIGH_FREQUENCY_Q * np.log(1.0 + hz / _MEL_BREAK_FREQUENCY_HERTZ)


def linear_to_mel_weight_matrix(num_mel_bins=20, num_spectrogram_bins=129, sampling_rate=8000,
                                lower_edge_hertz=125.0, upper_edge_hertz=3800.0,
                                dtype="float32"):
    """(num_spectrogram_bins, num_mel_bins) triangular filters on the mel scale, the DC bin
    zeroed (TensorFlow's / Keras's, computed in ``dtype``)."""
    dt = np.dtype(dtype)
    nyquist = dt.type(sampling_rate) / dt.type(2.0)
    linear = np.linspace(dt.type(0.0), nyquist, num_spectrogram_bins, dtype=dt)[1:]
    bins_mel = _hertz_to_mel(linear).astype(dt)[:, None]
    edges = np.linspace(_hertz_to_mel(dt.type(lower_edge_hertz)),
                        _hertz_to_mel(dt.type(upper_edge_hertz)), num_mel_bins + 2,
                        dtype=dt)
    lower, center, upper = edges[:-2][None], edges[1:-1][None], edges[2:][None]
    lower_slopes = (bins_mel - lower) / (center - lower)
    upper_slopes = (upper - bins_mel) / (upper - center)
    weights = np.maximum(dt.type(0.0), np.minimum(lower_slopes, upper_slopes))
    return np.pad(weights, [(1, 0), (0, 0)]).astype(dt)


class MelSpectrogram(Layer):
    """Mel spectrogram of (batch, time) or (time,) signals: (batch, num_mel_bins, frames)
    with frames = 1 + time // sequence_stride (centred frames), in decibels relative to
    ``ref_power`` and floored ``top_db`` below the batch's maximum when ``power_to_db``."""

    def __init__(self, fft_length=2048, sequence_stride=512, sequence_length=None,
                 window="hann", sampling_rate=16000, num_mel_bins=128, min_freq=20.0,
                 max_freq=None, power_to_db=True, top_db=80.0, mag_exp=2.0, min_power=1e-10,
                 ref_power=1.0, **kwargs):
        for name, value in (("fft_length", fft_length), ("sequence_stride", sequence_stride),
                            ("num_mel_bins", num_mel_bins), ("sampling_rate", sampling_rate)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"MelSpectrogram: `{name}` must be a positive integer. "
                                 f"Received: {name}={value!r}")
        self.fft_length = int(fft_length)
        self.sequence_stride = int(sequence_stride)
        self.sequence_length = int(sequence_length or fft_length)
        if self.fft_length < self.sequence_length:
            raise ValueError("`fft_length` must be greater than or equal to `sequence_length`. "
                             f"Received: `sequence_length`={self.sequence_length}, "
                             f"`fft_length`={self.fft_length}.")
        if isinstance(window, str) and window not in ("hann", "hamming"):
            raise ValueError('If a string is passed to `window`, it must be one of "hann", '
                             f'"hamming". Received: window={window}')
        self.window = window
        self.sampling_rate = int(sampling_rate)
        self.num_mel_bins = int(num_mel_bins)
        self.min_freq = min_freq
        self.max_freq = max_freq or int(sampling_rate / 2)
        self.power_to_db = bool(power_to_db)
        self.top_db = top_db
        self.mag_exp = mag_exp
        self.min_power = min_power
        self.ref_power = ref_power
        super().__init__(**kwargs)
        self.built = True

    def _frames(self, length):
        if length is None:
            return None
        pad = self.fft_length // 2
        return 1 + (length + 2 * pad - self.fft_length) // self.sequence_stride

    def call(self, inputs):
        x = ops.convert_to_tensor(inputs)
        if x.dtype not in ("float32", "float64"):
            x = ops.cast(x, "float32")
        real, imag = ops.stft(x, sequence_length=self.sequence_length,
                              sequence_stride=self.sequence_stride, fft_length=self.fft_length,
                              window=self.window, center=True)
        spec = ops.power(ops.sqrt(ops.square(real) + ops.square(imag)), self.mag_exp)
        matrix = linear_to_mel_weight_matrix(self.num_mel_bins, spec.shape[-1],
                                             self.sampling_rate, self.min_freq, self.max_freq,
                                             dtype=x.dtype)
        mel = ops.matmul(spec, ops.convert_to_tensor(matrix))
        if self.power_to_db:
            ln10 = math.log(10.0)
            log_spec = 10.0 * ops.log(ops.maximum(mel, self.min_power)) / ln10
            ref = max(abs(float(self.ref_power)), self.min_power)
            log_spec = log_spec - 10.0 * math.log10(ref)
            mel = ops.maximum(log_spec, ops.max(log_spec) - self.top_db)
        return ops.swapaxes(mel, -1, -2)

    def compute_output_shape(self, input_shape):
        if len(input_shape) == 1:
            return (self.num_mel_bins, self._frames(input_shape[0]))
        return (input_shape[0], self.num_mel_bins, self._frames(input_shape[1]))

    def compute_output_spec(self, inputs):
        return KerasTensor(self.compute_output_shape(tuple(inputs.shape)), dtype="float32")

    def get_config(self):
        return {**super().get_config(), "fft_length": self.fft_length,
                "sequence_stride": self.sequence_stride,
                "sequence_length": self.sequence_length, "window": self.window,
                "sampling_rate": self.sampling_rate, "num_mel_bins": self.num_mel_bins,
                "min_freq": self.min_freq, "max_freq": self.max_freq,
                "power_to_db": self.power_to_db, "top_db": self.top_db,
                "mag_exp": self.mag_exp, "min_power": self.min_power,
                "ref_power": self.ref_power}


__all__ = ["STFTSpectrogram", "MelSpectrogram"]
