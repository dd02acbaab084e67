"""Weight initializers, as keras.initializers (names, defaults, formulas)."""

from __future__ import annotations

import math

import numpy as np

from fastnet import random as frandom
from fastnet.backend.tensor import standardize_dtype


def _fans(shape, input_axes=None, output_axes=None):
    if input_axes is not None and output_axes is not None:  # Keras 3.15's explicit fan axes
        return (int(np.prod([shape[a] for a in input_axes])),
                int(np.prod([shape[a] for a in output_axes])))
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = int(np.prod(shape[:-2]))
    return shape[-2] * receptive, shape[-1] * receptive


class Initializer:
    def __call__(self, shape, dtype=None):
        raise NotImplementedError(f"{type(self).__name__} must implement __call__")

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class Zeros(Initializer):
    def __call__(self, shape, dtype=None):
        return np.zeros(shape, dtype=standardize_dtype(dtype))


class Ones(Initializer):
    def __call__(self, shape, dtype=None):
        return np.ones(shape, dtype=standardize_dtype(dtype))


class Constant(Initializer):
    def __init__(self, value=0.0):
        self.value = value

    def __call__(self, shape, dtype=None):
        return np.full(shape, self.value, dtype=standardize_dtype(dtype))

    def get_config(self):
        return {"value": self.value}


class Identity(Initializer):
    def __init__(self, gain=1.0):
        self.gain = gain

    def __call__(self, shape, dtype=None):
        if len(shape) != 2:
            raise ValueError(f"Identity initializer needs a 2-D shape, got {shape}")
        return (self.gain * np.eye(*shape)).astype(standardize_dtype(dtype))

    def get_config(self):
        return {"gain": self.gain}


class RandomNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev, self.seed = mean, stddev, seed

    def __call__(self, shape, dtype=None):
        return frandom.normal(shape, self.mean, self.stddev, dtype, self.seed).numpy()

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class RandomUniform(Initializer):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval, self.maxval, self.seed = minval, maxval, seed

    def __call__(self, shape, dtype=None):
        return frandom.uniform(shape, self.minval, self.maxval, dtype, self.seed).numpy()

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


class TruncatedNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev, self.seed = mean, stddev, seed

    def __call__(self, shape, dtype=None):
        return frandom.truncated_normal(shape, self.mean, self.stddev, dtype, self.seed).numpy()

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class VarianceScaling(Initializer):
    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None,
                 input_axes=None, output_axes=None):
        if scale <= 0:
            raise ValueError(f"VarianceScaling: scale must be positive, got {scale}")
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"VarianceScaling: invalid mode {mode!r}")
        if distribution not in ("truncated_normal", "untruncated_normal", "uniform", "normal"):
            raise ValueError(f"VarianceScaling: invalid distribution {distribution!r}")
        self.scale, self.mode, self.distribution, self.seed = scale, mode, distribution, seed
        # Keras 3.15: the weight axes counted as inputs / outputs (both or neither given)
        self.input_axes = None if input_axes is None else [int(a) for a in input_axes]
        self.output_axes = None if output_axes is None else [int(a) for a in output_axes]

    def _axes_config(self):
        if self.input_axes is None and self.output_axes is None:
            return {}
        return {"input_axes": self.input_axes, "output_axes": self.output_axes}

    def __call__(self, shape, dtype=None):
        shape = tuple(shape)
        for axes in (self.input_axes, self.output_axes):
            for a in axes or ():
                if not -len(shape) <= a < len(shape):
                    raise ValueError(f"{type(self).__name__}: axis {a} of input_axes/"
                                     f"output_axes is out of range for the shape {shape}")
        fan_in, fan_out = _fans(shape, self.input_axes, self.output_axes)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        var = self.scale / max(1.0, n)
        if self.distribution in ("truncated_normal", "normal"):
            std = math.sqrt(var) / 0.87962566103423978  # std of a unit normal truncated at ±2
            return frandom.truncated_normal(shape, 0.0, std, dtype, self.seed).numpy()
        if self.distribution == "untruncated_normal":
            return frandom.normal(shape, 0.0, math.sqrt(var), dtype, self.seed).numpy()
        limit = math.sqrt(3.0 * var)
        return frandom.uniform(shape, -limit, limit, dtype, self.seed).numpy()

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                "seed": self.seed, **self._axes_config()}


def _vs(name, scale, mode, dist):
    class _Init(VarianceScaling):
        def __init__(self, seed=None, input_axes=None, output_axes=None):
            super().__init__(scale, mode, dist, seed, input_axes, output_axes)

        def get_config(self):
            return {"seed": self.seed, **self._axes_config()}

    _Init.__name__ = _Init.__qualname__ = name
    return _Init


GlorotUniform = _vs("GlorotUniform", 1.0, "fan_avg", "uniform")
GlorotNormal = _vs("GlorotNormal", 1.0, "fan_avg", "truncated_normal")
HeUniform = _vs("HeUniform", 2.0, "fan_in", "uniform")
HeNormal = _vs("HeNormal", 2.0, "fan_in", "truncated_normal")
LecunUniform = _vs("LecunUniform", 1.0, "fan_in", "uniform")
LecunNormal = _vs("LecunNormal", 1.0, "fan_in", "truncated_normal")


class Orthogonal(Initializer):
    def __init__(self, gain=1.0, seed=None):
        self.gain, self.seed = gain, seed

    def __call__(self, shape, dtype=None):
        if len(shape) < 2:
            raise ValueError(f"Orthogonal initializer needs at least 2 dims, got shape {shape}")
        rows = int(np.prod(shape[:-1]))
        cols = shape[-1]
        flat = frandom.normal((max(rows, cols), min(rows, cols)), seed=self.seed,
                              dtype="float64").numpy()
        q, r = np.linalg.qr(flat)
        q *= np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return (self.gain * q[:rows, :cols]).reshape(shape).astype(standardize_dtype(dtype))

    def get_config(self):
        return {"gain": self.gain, "seed": self.seed}


def _window(name, length, periodic):
    """scipy.signal.get_window(name, length, fftbins=periodic) for the windows without
    parameters, as numpy formulas (a periodic window is the symmetric one of length + 1
    without its last point)."""
    names = ("hann", "hanning", "hamming", "blackman", "boxcar", "box", "ones", "rectangular",
             "rect", "bartlett", "triang")
    if name not in names:
        raise ValueError(f"STFT: window {name!r} is not implemented in fastnet; use one of "
                         f"{names}, an array of window values or None")
    if length <= 1:
        return np.ones(length)
    n = length + 1 if periodic else length
    k = np.arange(n) * (2 * np.pi / (n - 1))
    if name in ("hann", "hanning"):
        w = 0.5 - 0.5 * np.cos(k)
    elif name == "hamming":
        w = 0.54 - 0.46 * np.cos(k)
    elif name == "blackman":
        w = 0.42 - 0.5 * np.cos(k) + 0.08 * np.cos(2 * k)
    elif name in ("boxcar", "box", "ones", "rectangular", "rect"):
        w = np.ones(n)
    elif name == "triang":
        m = np.arange(1, (n + 1) // 2 + 1)
        half = 2 * m / (n + 1) if n % 2 else (2 * m - 1) / n
        w = np.concatenate([half, half[-2::-1] if n % 2 else half[::-1]])
    else:  # bartlett
        w = 1 - np.abs(2 * np.arange(n) / (n - 1) - 1)
    return w[:length]


class STFT(Initializer):
    """Kernels of a convolution computing the real or imaginary part of a short-time
    Fourier transform: shape ``(frame_length, 1, fft_length // 2 + 1)``, entry
    ``[t, 0, f] = cos/sin(-2 pi t f / fft_length) * window[t] / scaling``."""

    def __init__(self, side="real", window="hann", scaling="density", periodic=False):
        if side not in ("real", "imag"):
            raise ValueError(f"STFT: side should be 'real' or 'imag', not {side!r}")
        if isinstance(window, str):
            _window(window, 1, periodic)  # an unknown window raises here
        if scaling is not None and scaling not in ("density", "spectrum"):
            raise ValueError("STFT: scaling is invalid, it must be `None`, 'density' or "
                             f"'spectrum'. Received: scaling={scaling!r}")
        self.side, self.window, self.scaling, self.periodic = side, window, scaling, periodic

    def __call__(self, shape, dtype=None):
        dtype = standardize_dtype(dtype)
        if len(shape) != 3:
            raise ValueError("STFT initializer needs a shape (frame_length, input_channels, "
                             f"fft_length // 2 + 1). Received: shape={tuple(shape)}")
        frame_length, _, bins = shape
        t = np.arange(frame_length, dtype=np.float64).reshape(frame_length, 1, 1)
        f = np.arange(bins, dtype=np.float64).reshape(1, 1, bins) / ((bins - 1) * 2)
        args = -2 * t * f * np.pi
        kernel = np.cos(args) if self.side == "real" else np.sin(args)
        if self.window is not None:
            win = _window(self.window, frame_length, self.periodic) \
                if isinstance(self.window, str) else np.asarray(self.window, np.float64)
            if win.ndim != 1 or win.shape[0] != frame_length:
                raise ValueError("STFT: the shape of `window` must be equal to "
                                 f"[frame_length]. Received: window shape={win.shape}")
            win = win.reshape(frame_length, 1, 1)
            scaling = 1.0
            if self.scaling == "density":
                scaling = np.sqrt(np.sum(win * win))
            elif self.scaling == "spectrum":
                scaling = np.sum(np.abs(win))
            kernel = kernel * win / scaling
        return np.broadcast_to(kernel, tuple(shape)).astype(dtype)

    def get_config(self):
        window = self.window
        if isinstance(window, np.ndarray):
            window = window.tolist()
        return {"side": self.side, "window": window, "periodic": self.periodic,
                "scaling": self.scaling}


# tf.keras-era aliases the seeds use (tf.random_normal_initializer()).
random_normal_initializer = RandomNormal
random_uniform_initializer = RandomUniform

# Keras 3's other public names for the same classes (keras.initializers.glorot_uniform is
# keras.initializers.GlorotUniform)
zeros, ones, constant, identity = Zeros, Ones, Constant, Identity
IdentityInitializer = Identity
random_normal, random_uniform, truncated_normal = RandomNormal, RandomUniform, TruncatedNormal
variance_scaling = VarianceScaling
glorot_uniform, glorot_normal = GlorotUniform, GlorotNormal
he_uniform, he_normal = HeUniform, HeNormal
lecun_uniform, lecun_normal = LecunUniform, LecunNormal
orthogonal = OrthogonalInitializer = Orthogonal
stft = STFTInitializer = STFT

_ALL = {c.__name__: c for c in (Zeros, Ones, Constant, Identity, RandomNormal, RandomUniform,
                                TruncatedNormal, VarianceScaling, GlorotUniform, GlorotNormal,
                                HeUniform, HeNormal, LecunUniform, LecunNormal, Orthogonal,
                                STFT)}
_ALIASES = {
    "zeros": Zeros, "ones": Ones, "constant": Constant, "identity": Identity,
    "random_normal": RandomNormal, "random_uniform": RandomUniform,
    "truncated_normal": TruncatedNormal, "variance_scaling": VarianceScaling,
    "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal, "he_uniform": HeUniform,
    "he_normal": HeNormal, "lecun_uniform": LecunUniform, "lecun_normal": LecunNormal,
    "orthogonal": Orthogonal, "stft": STFT, "IdentityInitializer": Identity,
    "OrthogonalInitializer": Orthogonal, "STFTInitializer": STFT,
    # Keras 3's short names (its RNN-cell examples use initializer="uniform")
    "uniform": RandomUniform, "normal": RandomNormal, "one": Ones, "zero": Zeros,
}


def get(identifier):
    if identifier is None:
        return None
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str):
        from fastnet.saving import object_registration

        cls = _ALIASES.get(identifier) or _ALL.get(identifier) or \
            object_registration.lookup([identifier], fuzzy=True)
        if cls is None:
            raise ValueError(f"Could not interpret initializer identifier: {identifier!r}")
        return cls()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret initializer identifier: {identifier!r}")


def serialize(init):
    if isinstance(init, Initializer) and type(init).__name__ in _ALL:
        return {"module": "keras.initializers", "class_name": type(init).__name__,
                "config": init.get_config(), "registered_name": None}
    if isinstance(init, Initializer) or hasattr(init, "get_config"):
        from fastnet.saving import object_registration

        return {"module": type(init).__module__, "class_name": type(init).__name__,
                "config": init.get_config(),
                "registered_name": object_registration.get_registered_name(type(init))}
    return getattr(init, "__name__", None)


def deserialize(config, custom_objects=None):
    from fastnet.saving import object_registration

    name = config["class_name"]
    cls = object_registration.lookup([config.get("registered_name"), name], custom_objects) or \
        _ALL.get(name) or _ALIASES.get(name)
    if cls is None:
        raise ValueError(f"Unknown initializer: {name!r}")
    # Keras >= 3.12 writes input_axes/output_axes (None unless set) for variance scaling.
    kwargs = {k: v for k, v in (config.get("config") or {}).items()
              if not (k in ("input_axes", "output_axes") and v is None)}
    return cls(**kwargs)
