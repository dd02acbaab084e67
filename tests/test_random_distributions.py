"""keras.random.gamma / beta / binomial / categorical: seeded like the other random ops
(int seed, SeedGenerator, set_random_seed), moments of many seeded draws against the
distributions' formulas (deterministic: fixed seeds, so never flaky), argument errors,
and Keras's shapes and dtypes when Keras is installed."""

import math
import os

import numpy as np
import pytest

import fastnet
from fastnet import random as R

N = 200_000


def _np(t):
    return fastnet.ops.convert_to_numpy(t)


def test_gamma_moments_and_broadcast_alpha():
    x = _np(R.gamma((N,), 3.0, seed=1))
    assert x.dtype == np.float32 and x.min() > 0
    assert x.mean() == pytest.approx(3.0, rel=0.01) and x.var() == pytest.approx(3.0, rel=0.03)
    alpha = np.array([0.5, 2.0, 9.0])
    y = _np(R.gamma((N // 10, 3), alpha, seed=2, dtype="float64"))
    assert y.dtype == np.float64
    np.testing.assert_allclose(y.mean(0), alpha, rtol=0.03)
    np.testing.assert_allclose(y.var(0), alpha, rtol=0.06)


def test_beta_moments():
    a, b = 2.0, 5.0
    x = _np(R.beta((N,), a, b, seed=3))
    assert 0 <= x.min() and x.max() <= 1
    assert x.mean() == pytest.approx(a / (a + b), rel=0.01)
    assert x.var() == pytest.approx(a * b / ((a + b) ** 2 * (a + b + 1)), rel=0.03)
    z = _np(R.beta((N // 10, 2), np.array([1.0, 4.0]), 1.0, seed=4))
    np.testing.assert_allclose(z.mean(0), [0.5, 0.8], rtol=0.02)


def test_binomial_moments_and_float_dtype():
    x = _np(R.binomial((N,), 10, 0.3, seed=5))
    assert x.dtype == np.float32 and set(np.unique(x)) <= set(range(11))
    assert x.mean() == pytest.approx(3.0, rel=0.01)
    assert x.var() == pytest.approx(10 * 0.3 * 0.7, rel=0.03)
    y = _np(R.binomial((N // 10, 2), np.array([4.0, 20.0]), np.array([0.5, 0.1]), seed=6))
    np.testing.assert_allclose(y.mean(0), [2.0, 2.0], rtol=0.03)
    assert np.all(y[:, 0] <= 4)


def test_categorical_frequencies_and_masked_classes():
    logits = np.log(np.array([[0.1, 0.2, 0.7], [0.5, 0.5, 1e-12]]))
    logits[1, 2] = -np.inf
    s = _np(R.categorical(logits, N // 4, seed=7))
    assert s.shape == (2, N // 4) and s.dtype == np.int32
    freq = [np.bincount(row, minlength=3) / row.size for row in s]
    np.testing.assert_allclose(freq[0], [0.1, 0.2, 0.7], atol=0.01)
    np.testing.assert_allclose(freq[1], [0.5, 0.5, 0.0], atol=0.01)
    assert not np.any(s[1] == 2)
    assert _np(R.categorical(np.zeros((3, 4)), 5, dtype="int64", seed=1)).dtype == np.int64


@pytest.mark.parametrize("draw", [
    lambda seed: R.gamma((5,), 2.0, seed=seed), lambda seed: R.beta((5,), 2.0, 3.0, seed=seed),
    lambda seed: R.binomial((5,), 7, 0.4, seed=seed),
    lambda seed: R.categorical(np.zeros((2, 5)), 4, seed=seed)])
def test_seeding_like_the_other_random_ops(draw):
    np.testing.assert_array_equal(_np(draw(11)), _np(draw(11)))  # an int seed: fixed
    gen = R.SeedGenerator(3)
    first, second = _np(draw(gen)), _np(draw(gen))
    gen.state.assign(np.array([3, 0], np.uint32))  # restoring the state replays the draws
    np.testing.assert_array_equal(_np(draw(gen)), first)
    np.testing.assert_array_equal(_np(draw(gen)), second)
    fastnet.utils.set_random_seed(5)
    a = _np(draw(None))
    fastnet.utils.set_random_seed(5)
    np.testing.assert_array_equal(_np(draw(None)), a)


def test_argument_errors_name_the_argument():
    with pytest.raises(ValueError, match="alpha"):
        R.gamma((3,), 0.0)
    with pytest.raises(ValueError, match="alpha"):
        R.gamma((3,), np.ones(4))
    with pytest.raises(ValueError, match="beta"):
        R.beta((3,), 1.0, -1.0)
    with pytest.raises(ValueError, match="counts"):
        R.binomial((3,), 2.5, 0.5)
    with pytest.raises(ValueError, match="probabilities"):
        R.binomial((3,), 2, 1.5)
    with pytest.raises(ValueError, match="2-D"):
        R.categorical(np.zeros(3), 2)
    with pytest.raises(ValueError, match="num_samples"):
        R.categorical(np.zeros((1, 3)), -1)
    with pytest.raises(ValueError, match="seed"):
        R.gamma((3,), 1.0, seed="x")


def test_shapes_and_dtypes_match_keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    pytest.importorskip("torch")
    kr = keras.random
    for name, args in [("gamma", ((4, 3), 2.0)), ("beta", ((4, 3), 2.0, 3.0)),
                       ("binomial", ((4, 3), 5, 0.5))]:
        k = getattr(kr, name)(*args, seed=1)
        f = getattr(R, name)(*args, seed=1)
        assert tuple(k.shape) == tuple(f.shape)
        assert keras.backend.standardize_dtype(k.dtype) == str(f.dtype), name
    k = kr.categorical(np.zeros((2, 5), np.float32), 3, seed=1)
    f = R.categorical(np.zeros((2, 5), np.float32), 3, seed=1)
    assert tuple(k.shape) == tuple(f.shape) == (2, 3)
    assert keras.backend.standardize_dtype(k.dtype) == str(f.dtype) == "int32"
    # same distribution: the means of many draws agree with Keras's within sampling error
    kg = keras.ops.convert_to_numpy(kr.gamma((20000,), 4.0, seed=2))
    fg = _np(R.gamma((20000,), 4.0, seed=2))
    assert abs(kg.mean() - fg.mean()) < 6 * math.sqrt(4.0 / 20000) * math.sqrt(2)
