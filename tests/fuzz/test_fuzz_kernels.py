"""Property-based fuzzing of the compiled entry points: every call either matches a numpy
reference or raises TypeError/ValueError — never crashes, never writes out of bounds."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from fastnet import _C
from fastnet.kernels import gemm as G

dims = st.integers(0, 9)
small = st.integers(1, 6)


@given(m=dims, k=dims, n=dims, ta=st.booleans(), tb=st.booleans(),
       view=st.sampled_from(["contig", "offset", "negative", "f64"]))
def test_gemm_matches_or_raises(m, k, n, ta, tb, view):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(np.float32)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(np.float32)
    if view == "offset":
        big = np.zeros((a.shape[0] + 2, a.shape[1] + 3), np.float32)
        big[1:1 + a.shape[0], 2:2 + a.shape[1]] = a
        a = big[1:1 + a.shape[0], 2:2 + a.shape[1]]
    elif view == "negative":
        a = a[::-1]
    elif view == "f64":
        a = a.astype(np.float64)
    try:
        c = G.gemm(a, b, trans_a=ta, trans_b=tb)
    except TypeError:
        assert view == "f64"
        return
    want = (a.T if ta else a).astype(np.float64) @ (b.T if tb else b).astype(np.float64)
    np.testing.assert_allclose(c, want, atol=1e-4 * max(1, k))


@given(n=st.integers(0, 3), h=st.integers(1, 9), w=st.integers(1, 9), c=st.integers(1, 5),
       kh=st.integers(-1, 10), kw=st.integers(1, 10), sh=st.integers(0, 5), sw=st.integers(1, 5),
       padding=st.sampled_from(["valid", "same", "full"]), kind=st.sampled_from(["max", "avg"]))
def test_pool_matches_or_raises(n, h, w, c, kh, kw, sh, sw, padding, kind):
    x = np.random.default_rng(1).standard_normal((n, h, w, c)).astype(np.float32)
    try:
        y, arg = _C.pool2d_forward(x, kind, kh, kw, sh, sw, padding)
    except ValueError:
        assert kh < 1 or sh < 1 or padding == "full" or (padding == "valid" and
                                                          (kh > h or kw > w))
        return
    assert y.shape[:1] == (n,) and y.shape[-1] == c and np.all(np.isfinite(y))
    dx = _C.pool2d_backward(np.ones_like(y), arg, list(x.shape), kind, kh, kw, sh, sw, padding)
    assert dx.shape == x.shape
    if kind == "max" and y.size:
        assert np.isclose(dx.sum(), y.size)  # every output routes exactly one unit


@given(size=st.integers(0, 300), other=st.integers(0, 300),
       name=st.sampled_from(["relu", "sigmoid", "tanh", "gelu"]))
def test_elementwise_matches_or_raises(size, other, name):
    x = np.linspace(-50, 50, size, dtype=np.float32)
    out = np.empty(other, np.float32)
    try:
        _C.activation_forward(name, x, out)
    except ValueError:
        assert name == "gelu" or size != other
        return
    ref = {"relu": lambda v: np.maximum(v, 0), "sigmoid": lambda v: 0.5 * (1 + np.tanh(v / 2)),
           "tanh": np.tanh}[name](x.astype(np.float64))
    np.testing.assert_allclose(out, ref, atol=1e-6)


@given(n=st.integers(0, 50), m=st.integers(0, 50), alias=st.booleans())
def test_optimizer_kernels_check_shapes_and_aliasing(n, m, alias):
    var = np.ones(n, np.float32)
    grad = var if alias else np.full(m, 0.5, np.float32)
    vel = np.zeros(n, np.float32)
    try:
        _C.rmsprop_update(var, grad, vel, None, None, 0.1, 0.9, 0.0, 1e-7)
    except ValueError:
        assert alias and n > 0 or n != m
        return
    assert not alias or n == 0
    np.testing.assert_allclose(var, 1 - 0.1 * 0.5 / np.sqrt(0.1 * 0.25 + 1e-7), rtol=1e-5)


@given(n=st.integers(0, 4), t=st.integers(0, 4), i=small, u=small, bad=st.booleans())
def test_lstm_kernel_matches_shapes_or_raises(n, t, i, u, bad):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((n, t, i)).astype(np.float32)
    k = rng.standard_normal((i + bad, 4 * u)).astype(np.float32)
    r = rng.standard_normal((u, 4 * u)).astype(np.float32)
    try:
        packed, ws = _C.lstm_forward(x, k, r, None, None, None, False)
    except ValueError:
        assert bad or t == 0
        return
    assert packed.shape == (n, t + 2, u) and np.all(np.abs(packed[:, :t + 1]) <= 1)
