"""The one test helper every kernel/op test uses.

Same seeded data goes through fastnet and an independent numpy reference;
forward and backward are compared with separate tolerances, and backward
references come from central finite differences of the float64 reference
forward, so a wrong hand-written gradient cannot agree with itself.

    from oracle import check_forward, check_gradients, rand

    x = rand((3, 5), seed=0)
    check_forward(lambda x: fast(x), lambda x: ref(x), [x], atol=1e-5)
    check_gradients(fast_grad, ref_forward, [x], dout, atol=1e-4)
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np


def rand(shape, seed=0, low=-1.0, high=1.0, dtype=np.float32):
    """Seeded uniform data of ``shape`` (deterministic across runs and machines)."""
    rng = np.random.default_rng(seed)
    return rng.uniform(low, high, size=shape).astype(dtype)


def randn(shape, seed=0, scale=1.0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(size=shape) * scale).astype(dtype)


def assert_close(actual, expected, atol, rtol=0.0, what="value"):
    """Max-abs comparison with a message giving the worst element and its index."""
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    if actual.shape != expected.shape:
        raise AssertionError(f"{what}: shape {actual.shape} != expected {expected.shape}")
    if actual.size == 0:
        return
    a64 = np.atleast_1d(actual.astype(np.float64))
    e64 = np.atleast_1d(expected.astype(np.float64))
    finite = np.isfinite(e64)
    if not np.array_equal(np.isfinite(a64), finite):
        raise AssertionError(f"{what}: non-finite values differ from the reference")
    err = np.abs(a64 - e64)
    err[~finite] = 0.0
    bound = atol + rtol * np.abs(e64)
    bad = err > bound
    if bad.any():
        idx = np.unravel_index(np.argmax(err - bound), err.shape)
        raise AssertionError(
            f"{what}: {int(bad.sum())} of {err.size} elements off; worst at {idx}: "
            f"got {a64[idx]!r}, expected {e64[idx]!r} (|diff|={err[idx]:.3g}, "
            f"atol={atol:g}, rtol={rtol:g})"
        )


def check_forward(fast: Callable, ref: Callable, inputs: Sequence, atol=1e-5, rtol=1e-5):
    """fast(*inputs) must match ref(*inputs in float64)."""
    got = fast(*inputs)
    want = ref(*[np.asarray(x, dtype=np.float64) for x in inputs])
    if isinstance(got, (tuple, list)):
        for i, (g, w) in enumerate(zip(got, want)):
            assert_close(g, w, atol, rtol, what=f"forward output {i}")
    else:
        assert_close(got, want, atol, rtol, what="forward")
    return got


def numeric_grad(f: Callable, inputs: Sequence[np.ndarray], dout: np.ndarray, wrt: int,
                 eps=1e-6):
    """d(sum(f(*inputs) * dout)) / d inputs[wrt] by central differences in float64."""
    xs = [np.array(x, dtype=np.float64) for x in inputs]
    dout = np.asarray(dout, dtype=np.float64)
    x = xs[wrt]
    grad = np.zeros_like(x)
    flat = x.reshape(-1)
    gflat = grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        up = np.sum(np.asarray(f(*xs), dtype=np.float64) * dout)
        flat[i] = old - eps
        down = np.sum(np.asarray(f(*xs), dtype=np.float64) * dout)
        flat[i] = old
        gflat[i] = (up - down) / (2 * eps)
    return grad


def check_gradients(fast_grads: Callable, ref_forward: Callable, inputs: Sequence,
                    dout: np.ndarray, wrt: Sequence[int] | None = None, atol=1e-4, rtol=1e-3,
                    eps=1e-6):
    """fast_grads(*inputs, dout) -> gradients for inputs[wrt]; each is compared with
    finite differences of the float64 reference forward."""
    if wrt is None:
        wrt = list(range(len(inputs)))
    got = fast_grads(*inputs, dout)
    if not isinstance(got, (tuple, list)):
        got = [got]
    assert len(got) == len(wrt), f"expected {len(wrt)} gradients, got {len(got)}"
    for g, i in zip(got, wrt):
        want = numeric_grad(ref_forward, inputs, dout, i, eps=eps)
        assert_close(g, want, atol, rtol, what=f"gradient wrt input {i}")
    return got


def k_tolerance(k, base=1e-6):
    """float32 accumulation error bound that grows with the reduction length."""
    return base * max(1.0, float(np.sqrt(max(k, 1)))) * 8


def elementwise_numeric_grad(f: Callable, x: np.ndarray, dout: np.ndarray, eps=1e-6):
    """numeric_grad for an elementwise f (each output element depends only on the same
    input element): every element is perturbed at once, so one pair of calls suffices."""
    x = np.asarray(x, dtype=np.float64)
    dout = np.asarray(dout, dtype=np.float64)
    return (np.asarray(f(x + eps), np.float64) - np.asarray(f(x - eps), np.float64)) / (2 * eps) * dout


def check_elementwise_gradient(fast_grad: Callable, ref_forward: Callable, x: np.ndarray,
                               dout: np.ndarray, atol=1e-4, rtol=1e-3, eps=1e-6):
    """check_gradients for one input of an elementwise function, with
    elementwise_numeric_grad (cheap on large arrays)."""
    got = fast_grad(x, dout)
    assert_close(got, elementwise_numeric_grad(ref_forward, x, dout, eps), atol, rtol,
                 what="elementwise gradient")
    return got
