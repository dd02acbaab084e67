"""fastnet.random, as keras.random: seeded sampling.

``seed`` may be an int (a fixed stream per call site) or None (the global
generator, reset by ``fastnet.utils.set_random_seed``).
"""

from __future__ import annotations

import numpy as np

from fastnet.backend.tensor import Tensor, standardize_dtype

_global = np.random.default_rng()


def set_global_seed(seed):
    global _global
    _global = np.random.default_rng(seed)


def _rng(seed):
    if seed is None:
        return _global
    if isinstance(seed, SeedGenerator):
        return seed.rng
    return np.random.default_rng(int(seed))


class SeedGenerator:
    """A stateful seed, as keras.random.SeedGenerator."""

    def __init__(self, seed=None, **kwargs):
        self.rng = np.random.default_rng(seed)


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    dt = standardize_dtype(dtype)
    return Tensor(_rng(seed).normal(mean, stddev, size=tuple(shape)).astype(dt))


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    dt = standardize_dtype(dtype)
    return Tensor(_rng(seed).uniform(minval, maxval, size=tuple(shape)).astype(dt))


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Normal samples redrawn until within two standard deviations (as Keras)."""
    dt = standardize_dtype(dtype)
    rng = _rng(seed)
    out = rng.normal(0.0, 1.0, size=tuple(shape))
    bad = np.abs(out) > 2.0
    while bad.any():
        out[bad] = rng.normal(0.0, 1.0, size=int(bad.sum()))
        bad = np.abs(out) > 2.0
    return Tensor((out * stddev + mean).astype(dt))


def randint(shape, minval, maxval, dtype="int32", seed=None):
    return Tensor(_rng(seed).integers(minval, maxval, size=tuple(shape)).astype(dtype))


def shuffle(x, axis=0, seed=None):
    from fastnet import ops

    x = ops.convert_to_tensor(x)
    perm = _rng(seed).permutation(x.shape[axis])
    return ops.take(x, Tensor(perm.astype(np.int32)), axis=axis)


def dropout(inputs, rate, noise_shape=None, seed=None):
    """Zeroes each element with probability `rate` and scales the rest by 1/(1-rate)."""
    from fastnet import ops

    if not 0.0 <= rate < 1.0:
        raise ValueError(f"dropout: rate must be in [0, 1), got {rate}")
    x = ops.convert_to_tensor(inputs)
    if rate == 0.0:
        return x
    shape = tuple(x.shape) if noise_shape is None else tuple(
        s if n is None else n for s, n in zip(x.shape, noise_shape))
    keep = (_rng(seed).random(shape) >= rate).astype(x.dtype) / np.asarray(1.0 - rate, x.dtype)
    return x * Tensor(keep)
