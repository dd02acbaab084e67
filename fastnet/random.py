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
        from fastnet.backend.name_scope import name_scope

        with name_scope(self.name, caller=self):  # Keras's path: <name>/seed_generator_state
            self.state = Variable(np.array([int(seed) & 0xFFFFFFFF, 0], dtype=np.uint32),
                                  dtype="uint32", trainable=False,
                                  name="seed_generator_state")

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


def _param(x, what):
    value = np.asarray(x._value if isinstance(x, Tensor) else x, dtype=np.float64)
    if not np.all(np.isfinite(value)):
        raise ValueError(f"{what} must be finite. Received: {what}={x!r}")
    return value


def _broadcastable(shape, value, fn, what):
    shape = tuple(int(s) for s in shape)
    try:
        np.broadcast_shapes(np.shape(value), shape)
    except ValueError:
        raise ValueError(f"{fn}: `{what}` of shape {np.shape(value)} does not broadcast to "
                         f"shape={shape}") from None
    if np.broadcast_shapes(np.shape(value), shape) != shape:
        raise ValueError(f"{fn}: `{what}` of shape {np.shape(value)} does not broadcast to "
                         f"shape={shape}")
    return shape


def gamma(shape, alpha, dtype=None, seed=None):
    """Gamma(alpha, scale 1) samples; `alpha` a number or an array broadcasting to shape."""
    a = _param(alpha, "alpha")
    if np.any(a <= 0):
        raise ValueError(f"gamma: `alpha` must be > 0. Received: alpha={alpha!r}")
    shape = _broadcastable(shape, a, "gamma", "alpha")
    return Tensor(_rng(seed).gamma(a, size=shape).astype(standardize_dtype(dtype)))


def beta(shape, alpha, beta, dtype=None, seed=None):  # noqa: A002 (Keras's argument name)
    """Beta(alpha, beta) samples in [0, 1]."""
    a, b = _param(alpha, "alpha"), _param(beta, "beta")
    if np.any(a <= 0) or np.any(b <= 0):
        raise ValueError(f"beta: `alpha` and `beta` must be > 0. Received: alpha={alpha!r}, "
                         f"beta={beta!r}")
    shape = _broadcastable(shape, a, "beta", "alpha")
    _broadcastable(shape, b, "beta", "beta")
    return Tensor(_rng(seed).beta(a, b, size=shape).astype(standardize_dtype(dtype)))


def binomial(shape, counts, probabilities, dtype=None, seed=None):
    """The number of successes in `counts` trials of success probability `probabilities`,
    as floats of `dtype` (Keras's default: floatx)."""
    n, p = _param(counts, "counts"), _param(probabilities, "probabilities")
    if np.any(n < 0) or np.any(n != np.floor(n)):
        raise ValueError(f"binomial: `counts` must be non-negative integers. Received: "
                         f"counts={counts!r}")
    if np.any(p < 0) or np.any(p > 1):
        raise ValueError(f"binomial: `probabilities` must be in [0, 1]. Received: "
                         f"probabilities={probabilities!r}")
    shape = _broadcastable(shape, n, "binomial", "counts")
    _broadcastable(shape, p, "binomial", "probabilities")
    draws = _rng(seed).binomial(n.astype(np.int64), p, size=shape)
    return Tensor(draws.astype(standardize_dtype(dtype)))


def categorical(logits, num_samples, dtype="int32", seed=None):
    """``num_samples`` class indices per row of the 2-D `logits` (batch, num_classes),
    drawn from softmax(logits); a class of logit -inf is never drawn."""
    x = np.asarray(logits._value if isinstance(logits, Tensor) else logits, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError("`logits` should be a 2-D tensor with shape [batch_size, "
                         f"num_classes]. Received: logits.shape={x.shape}")
    if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)) or \
            num_samples < 0:
        raise ValueError("categorical: `num_samples` must be a non-negative integer. "
                         f"Received: num_samples={num_samples!r}")
    if x.shape[1] == 0 or np.any(np.isnan(x)) or np.any(np.all(x == -np.inf, axis=1)):
        raise ValueError("categorical: every row of `logits` needs a finite logit (no NaN). "
                         f"Received: logits.shape={x.shape}")
    top = np.max(x, axis=1, keepdims=True)
    p = np.exp(x - top)
    cdf = np.cumsum(p / p.sum(axis=1, keepdims=True), axis=1)
    u = _rng(seed).random((x.shape[0], int(num_samples)))
    idx = np.sum(u[:, :, None] >= cdf[:, None, :], axis=-1)
    # rounding can leave the cdf's end just below 1: take the last drawable class
    last = x.shape[1] - 1 - np.argmax(np.isfinite(x)[:, ::-1], axis=1)
    idx = np.minimum(idx, last[:, None])
    return Tensor(idx.astype(dtype))
