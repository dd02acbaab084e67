"""fastnet.random, as keras.random: seeded sampling.

``seed`` may be an int (a fixed stream per call site) or None (the global
generator, reset by ``fastnet.utils.set_random_seed``).
"""

from __future__ import annotations

import numpy as np

from fastnet.backend.tensor import Tensor, Variable, standardize_dtype

_global = np.random.default_rng()
_global_seed_generator = None


def set_global_seed(seed):
    """Reseeds the unseeded stream (``seed=None``) and the global SeedGenerator."""
    global _global, _global_seed_generator
    _global = np.random.default_rng(seed)
    _global_seed_generator = None


def _rng(seed):
    """The numpy Generator for one random op: a fresh stream per call of a SeedGenerator
    (from its (seed, counter) state, so the draws depend on neither thread count nor what
    else ran), a fixed stream for an int seed, the global stream for None."""
    if seed is None:
        return _global
    if isinstance(seed, SeedGenerator):
        return seed.rng
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise ValueError("Argument `seed` must be either an integer or an instance of "
                         f"`SeedGenerator`. Received: seed={seed!r} (of type {type(seed)})")
    return np.random.default_rng(int(seed))


def make_default_seed():
    """A seed for a SeedGenerator built with ``seed=None``: from Python's ``random``, which
    ``fastnet.utils.set_random_seed`` seeds (so such generators are reproducible too)."""
    import random as _pyrandom

    return _pyrandom.randint(1, int(1e9))


class SeedGenerator:
    """A stateful seed, as ``keras.random.SeedGenerator``.

    Its state is a non-trainable uint32 Variable ``[seed, counter]``; ``next()`` returns the
    state and advances the counter, and every random op given the generator draws from a
    stream keyed by that state. So restoring ``state`` (``layer.variables`` holds it, and
    fastnet's saving restores it) replays the same draws, and a layer's dropout masks are
    a function of (seed, step) only.
    """

    def __init__(self, seed=None, name=None, **kwargs):
        from fastnet.backend import naming

        if kwargs:
            raise ValueError(f"SeedGenerator: unrecognized keyword arguments: {sorted(kwargs)}")
        self.name = name or naming.unique_name("seed_generator")
        self._initial_seed = seed
        if seed is None:
            seed = make_default_seed()
        if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
            raise ValueError(f"SeedGenerator: argument `seed` must be an integer. "
                             f"Received: seed={seed!r}")
        self.state = Variable(np.array([int(seed) & 0xFFFFFFFF, 0], dtype=np.uint32),
                              dtype="uint32", trainable=False, name="seed_generator_state")

    def next(self, ordered=True):
        """The current state (a copy), then advance: the counter by one (``ordered``), or
        the state along Keras's unordered sequence ``(state + 1) * 5387 % 933199``."""
        value = np.array(self.state.numpy(), dtype=np.uint32)
        if ordered:
            new = value + np.array([0, 1], dtype=np.uint32)
        else:
            new = ((value.astype(np.uint64) + 1) * 5387 % 933199).astype(np.uint32)
        self.state.assign(new)
        return Tensor(value)

    @property
    def rng(self):
        """A numpy Generator for one draw, keyed by ``next()``'s state."""
        seed, counter = (int(v) for v in self.next().numpy())
        return np.random.default_rng([seed, counter])

    def get_config(self):
        return {"seed": self._initial_seed, "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<SeedGenerator name={self.name} state={self.state.numpy().tolist()}>"


def global_seed_generator():
    """The SeedGenerator behind unseeded ops that need one (rebuilt by set_random_seed)."""
    global _global_seed_generator
    if _global_seed_generator is None:
        _global_seed_generator = SeedGenerator()
    return _global_seed_generator


def draw_seed(seed):
    """A ``[seed, counter]`` uint32 pair for one random op, as ``keras.random.draw_seed``."""
    if isinstance(seed, SeedGenerator):
        return seed.next()
    if seed is None:
        return global_seed_generator().next(ordered=False)
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise ValueError("Argument `seed` must be either an integer or an instance of "
                         f"`SeedGenerator`. Received: seed={seed!r} (of type {type(seed)})")
    return Tensor(np.array([int(seed) & 0xFFFFFFFF, 0], dtype=np.uint32))


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
