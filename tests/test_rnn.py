"""LSTM sequence kernel (csrc/rnn) against a plain numpy LSTM cell loop and finite
differences, every ISA level."""

import numpy as np
import pytest
from oracle import assert_close, numeric_grad, rand

import fastnet
from fastnet import ops
from fastnet.kernels import rnn as R


def ref_lstm(x, k, rk, b, h0, c0, go_backwards):
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    n, t, _ = x.shape
    u = rk.shape[0]
    h = np.zeros((n, u)) if h0 is None else h0
    c = np.zeros((n, u)) if c0 is None else c0
    outs = []
    for s in range(t):
        tt = t - 1 - s if go_backwards else s
        z = x[:, tt] @ k + h @ rk + (0 if b is None else b)
        i, f, g, o = sig(z[:, :u]), sig(z[:, u:2 * u]), np.tanh(z[:, 2 * u:3 * u]), sig(z[:, 3 * u:])
        c = f * c + i * g
        h = o * np.tanh(c)
        outs.append(h)
    return np.concatenate([np.stack(outs, 1), h[:, None], c[:, None]], axis=1)


@pytest.mark.parametrize("n,t,i,u", [(1, 1, 1, 1), (2, 5, 3, 4), (3, 7, 2, 5)])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("states", [False, True])
def test_lstm_forward_and_backward(isa, n, t, i, u, go_backwards, states):
    x = rand((n, t, i), seed=1)
    k = rand((i, 4 * u), seed=2)
    rk = rand((u, 4 * u), seed=3)
    b = rand((4 * u,), seed=4)
    h0 = rand((n, u), seed=5) if states else None
    c0 = rand((n, u), seed=6) if states else None
    packed = ops.lstm_sequence(x, k, rk, b, h0, c0, go_backwards).numpy()
    want = ref_lstm(*(None if a is None else a.astype(np.float64) for a in (x, k, rk, b, h0, c0)),
                    go_backwards)
    assert_close(packed, want, atol=1e-5)
    dout = rand(packed.shape, seed=7)
    vs = [fastnet.Variable(a) for a in (x, k, rk, b)] + \
        ([fastnet.Variable(h0), fastnet.Variable(c0)] if states else [])
    with fastnet.GradientTape() as tape:
        y = ops.lstm_sequence(vs[0], vs[1], vs[2], vs[3], *(vs[4:6] if states else (None, None)),
                              go_backwards=go_backwards)
    grads = tape.gradient(y, vs, output_gradients=dout)
    inputs = [x, k, rk, b] + ([h0, c0] if states else [])

    def f(*a):
        a = list(a) + ([None, None] if not states else [])
        return ref_lstm(*a, go_backwards)

    for idx, g in enumerate(grads):
        assert_close(g.numpy(), numeric_grad(f, inputs, dout, idx), atol=1e-4, rtol=1e-3,
                     what=f"gradient {idx}")


def test_lstm_kernel_argument_checks():
    x = np.zeros((2, 3, 4), np.float32)
    with pytest.raises(ValueError, match="recurrent_kernel"):
        R.lstm_forward(x, np.zeros((4, 8), np.float32), np.zeros((2, 6), np.float32), None, None,
                       None)
    with pytest.raises(ValueError, match="kernel"):
        R.lstm_forward(x, np.zeros((5, 8), np.float32), np.zeros((2, 8), np.float32), None, None,
                       None)
    with pytest.raises(ValueError, match="h0"):
        R.lstm_forward(x, np.zeros((4, 8), np.float32), np.zeros((2, 8), np.float32), None,
                       np.zeros((3, 2), np.float32), None)
    with pytest.raises(ValueError, match="time step"):
        R.lstm_forward(np.zeros((2, 0, 4), np.float32), np.zeros((4, 8), np.float32),
                       np.zeros((2, 8), np.float32), None, None, None)


def ref_gru(x, k, rk, b, h0, go_backwards):
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    n, t, _ = x.shape
    u = rk.shape[0]
    h = np.zeros((n, u)) if h0 is None else h0
    bi = 0 if b is None else b[0]
    br = 0 if b is None else b[1]
    outs = []
    for s in range(t):
        tt = t - 1 - s if go_backwards else s
        xp = x[:, tt] @ k + bi
        hr = h @ rk + br
        z = sig(xp[:, :u] + hr[:, :u])
        r = sig(xp[:, u:2 * u] + hr[:, u:2 * u])
        hh = np.tanh(xp[:, 2 * u:] + r * hr[:, 2 * u:])
        h = z * h + (1 - z) * hh
        outs.append(h)
    return np.concatenate([np.stack(outs, 1), h[:, None]], axis=1)


@pytest.mark.parametrize("n,t,i,u", [(1, 1, 1, 1), (2, 5, 3, 4)])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("state", [False, True])
def test_gru_forward_and_backward(isa, n, t, i, u, go_backwards, state):
    x = rand((n, t, i), seed=1)
    k = rand((i, 3 * u), seed=2)
    rk = rand((u, 3 * u), seed=3)
    b = rand((2, 3 * u), seed=4)
    h0 = rand((n, u), seed=5) if state else None
    packed = ops.gru_sequence(x, k, rk, b, h0, go_backwards).numpy()
    want = ref_gru(*(None if a is None else a.astype(np.float64) for a in (x, k, rk, b, h0)),
                   go_backwards)
    assert_close(packed, want, atol=1e-5)
    dout = rand(packed.shape, seed=7)
    vs = [fastnet.Variable(a) for a in (x, k, rk, b)] + ([fastnet.Variable(h0)] if state else [])
    with fastnet.GradientTape() as tape:
        y = ops.gru_sequence(vs[0], vs[1], vs[2], vs[3], vs[4] if state else None,
                             go_backwards=go_backwards)
    grads = tape.gradient(y, vs, output_gradients=dout)
    inputs = [x, k, rk, b] + ([h0] if state else [])

    def f(*a):
        a = list(a) + ([None] if not state else [])
        return ref_gru(*a, go_backwards)

    for idx, g in enumerate(grads):
        assert_close(g.numpy(), numeric_grad(f, inputs, dout, idx), atol=1e-4, rtol=1e-3,
                     what=f"gradient {idx}")


def test_empty_batch_found_by_fuzzing_under_ubsan():
    # Regression: batch 0 used to memcpy from a null vector buffer (UB caught by UBSan).
    x = np.zeros((0, 3, 2), np.float32)
    k, r = rand((2, 8), seed=1), rand((2, 8), seed=2)
    packed, ws = R.lstm_forward(x, k, r, None, None, None, False)
    assert packed.shape == (0, 5, 2)
    dx, dk, dr, db, dh0, dc0 = R.lstm_backward(x, k, r, None, None, False, packed, ws,
                                               np.zeros_like(packed), True)
    assert dx.shape == (0, 3, 2) and not dk.any() and not dr.any() and not db.any()
    kg, rg = rand((2, 6), seed=3), rand((2, 6), seed=4)
    packed, ws = R.gru_forward(x, kg, rg, None, None, False)
    out = R.gru_backward(x, kg, rg, None, False, packed, ws, np.zeros_like(packed), True)
    assert out[0].shape == (0, 3, 2) and not out[1].any() and not out[3].any()


def test_rnn_optional_arguments_that_are_not_arrays_raise_type_error():
    # Regression (fuzz, issue 6): bias/h0/c0 given as non-arrays segfaulted.
    x = np.ones((1, 2, 1), np.float32)
    with pytest.raises(TypeError, match="`bias` must be a numpy array"):
        R.lstm_forward(x, np.ones((1, 4), np.float32), np.ones((1, 4), np.float32), 5, None, None)
    with pytest.raises(TypeError, match="`h0` must be a numpy array"):
        R.gru_forward(x, np.ones((1, 3), np.float32), np.ones((1, 3), np.float32), None, [[0.0]])
