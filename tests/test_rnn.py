"""LSTM sequence kernel (csrc/rnn) against a plain numpy LSTM cell loop and finite
differences, every ISA level."""

import numpy as np
import pytest
from oracle import assert_close, numeric_grad, rand

import fastnet
from fastnet import ops
from fastnet.kernels import rnn as R
from fastnet.ops import nn as ops_nn


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
    packed = ops_nn.lstm_sequence(x, k, rk, b, h0, c0, go_backwards).numpy()
    want = ref_lstm(*(None if a is None else a.astype(np.float64) for a in (x, k, rk, b, h0, c0)),
                    go_backwards)
    assert_close(packed, want, atol=1e-5)
    dout = rand(packed.shape, seed=7)
    vs = [fastnet.Variable(a) for a in (x, k, rk, b)] + \
        ([fastnet.Variable(h0), fastnet.Variable(c0)] if states else [])
    with fastnet.GradientTape() as tape:
        y = ops_nn.lstm_sequence(vs[0], vs[1], vs[2], vs[3], *(vs[4:6] if states else (None, None)),
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
    packed = ops_nn.gru_sequence(x, k, rk, b, h0, go_backwards).numpy()
    want = ref_gru(*(None if a is None else a.astype(np.float64) for a in (x, k, rk, b, h0)),
                   go_backwards)
    assert_close(packed, want, atol=1e-5)
    dout = rand(packed.shape, seed=7)
    vs = [fastnet.Variable(a) for a in (x, k, rk, b)] + ([fastnet.Variable(h0)] if state else [])
    with fastnet.GradientTape() as tape:
        y = ops_nn.gru_sequence(vs[0], vs[1], vs[2], vs[3], vs[4] if state else None,
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


# ---------------------------------------------------------------------------------------
# Masks, SimpleRNN, the threaded path and argument checks, for all three cells.
# References are plain float64 numpy step loops with Keras's mask semantics: at a masked
# step the state is carried and the output repeats the previous output (zeros first).

def _sig(v):
    return 1 / (1 + np.exp(-v))


def _step_lstm(xp, h, c, rk, b_unused):
    u = h.shape[1]
    z = xp + h @ rk
    i, f, g, o = _sig(z[:, :u]), _sig(z[:, u:2 * u]), np.tanh(z[:, 2 * u:3 * u]), _sig(z[:, 3 * u:])
    c = f * c + i * g
    return o * np.tanh(c), c


ACTS = {"tanh": np.tanh, "relu": lambda v: np.maximum(v, 0), "sigmoid": _sig,
        "linear": lambda v: v}


def ref_masked(cell, x, k, rk, b, h0, c0, mask, go_backwards, activation="tanh"):
    """packed (N, T+S, U) of `cell` ("lstm", "gru", "simple_rnn") in float64."""
    n, t, _ = x.shape
    u = rk.shape[0]
    h = np.zeros((n, u)) if h0 is None else h0
    c = np.zeros((n, u)) if c0 is None else c0
    out = np.zeros((n, u))
    outs = []
    for s in range(t):
        tt = t - 1 - s if go_backwards else s
        if cell == "lstm":
            hn, cn = _step_lstm(x[:, tt] @ k + (0 if b is None else b), h, c, rk, None)
        elif cell == "gru":
            xp = x[:, tt] @ k + (0 if b is None else b[0])
            hr = h @ rk + (0 if b is None else b[1])
            z = _sig(xp[:, :u] + hr[:, :u])
            r = _sig(xp[:, u:2 * u] + hr[:, u:2 * u])
            hh = np.tanh(xp[:, 2 * u:] + r * hr[:, 2 * u:])
            hn, cn = z * h + (1 - z) * hh, c
        else:
            hn = ACTS[activation](x[:, tt] @ k + h @ rk + (0 if b is None else b))
            cn = c
        m = np.ones((n, 1)) if mask is None else mask[:, tt:tt + 1].astype(np.float64)
        h = m * hn + (1 - m) * h
        c = m * cn + (1 - m) * c
        out = m * hn + (1 - m) * out
        outs.append(out)
    finals = [h[:, None], c[:, None]] if cell == "lstm" else [h[:, None]]
    return np.concatenate([np.stack(outs, 1)] + finals, axis=1)


GATES = {"lstm": 4, "gru": 3, "simple_rnn": 1}


def _bias_shape(cell, u):
    return (2, 3 * u) if cell == "gru" else (GATES[cell] * u,)


def _make_mask(kind, n, t, seed=11):
    if kind is None:
        return None
    if kind == "all_true":
        return np.ones((n, t), bool)
    rng = np.random.default_rng(seed)
    m = rng.random((n, t)) < 0.6
    if kind == "all_false_rows":
        m[::2] = False  # every other sequence entirely padded (row 0 among them)
    return m


def _seq_op(cell, activation="tanh"):
    def run(x, k, rk, b, h0, c0, go_backwards, mask):
        if cell == "lstm":
            return ops_nn.lstm_sequence(x, k, rk, b, h0, c0, go_backwards, mask=mask)
        if cell == "gru":
            return ops_nn.gru_sequence(x, k, rk, b, h0, go_backwards, mask=mask)
        return ops_nn.simple_rnn_sequence(x, k, rk, b, h0, go_backwards, mask=mask,
                                       activation=activation)
    return run


def _check_cell(cell, n, t, i, u, go_backwards, states, mask_kind, activation="tanh",
                use_bias=True, fd=True):
    g = GATES[cell]
    x = rand((n, t, i), seed=1)
    k = rand((i, g * u), seed=2)
    rk = rand((u, g * u), seed=3)
    b = rand(_bias_shape(cell, u), seed=4) if use_bias else None
    h0 = rand((n, u), seed=5) if states else None
    c0 = rand((n, u), seed=6) if states and cell == "lstm" else None
    mask = _make_mask(mask_kind, n, t)
    run = _seq_op(cell, activation)
    packed = run(x, k, rk, b, h0, c0, go_backwards, mask).numpy()
    f64 = [None if a is None else a.astype(np.float64) for a in (x, k, rk, b, h0, c0)]
    want = ref_masked(cell, *f64, mask, go_backwards, activation)
    assert_close(packed, want, atol=2e-5, what=f"{cell} forward")
    if not fd:
        return packed
    dout = rand(packed.shape, seed=7)
    names = ["x", "kernel", "recurrent", "bias", "h0", "c0"]
    present = [idx for idx, a in enumerate((x, k, rk, b, h0, c0)) if a is not None]
    vs = {idx: fastnet.Variable((x, k, rk, b, h0, c0)[idx]) for idx in present}
    args = [vs.get(idx) for idx in range(6)]
    with fastnet.GradientTape() as tape:
        y = run(*args, go_backwards, mask)
    grads = tape.gradient(y, [vs[idx] for idx in present], output_gradients=dout)
    inputs = [(x, k, rk, b, h0, c0)[idx] for idx in present]

    def f(*a):
        full = [None] * 6
        for idx, v in zip(present, a):
            full[idx] = v
        return ref_masked(cell, *full, mask, go_backwards, activation)

    for pos, (idx, gr) in enumerate(zip(present, grads)):
        assert_close(gr.numpy(), numeric_grad(f, inputs, dout, pos), atol=1e-4, rtol=1e-3,
                     what=f"{cell} gradient of {names[idx]}")
    return packed


MASKS = [None, "all_true", "all_false_rows", "random"]


@pytest.mark.parametrize("cell", ["lstm", "gru", "simple_rnn"])
@pytest.mark.parametrize("mask_kind", MASKS)
@pytest.mark.parametrize("go_backwards", [False, True])
def test_masked_sequences_forward_and_backward(isa, cell, mask_kind, go_backwards):
    _check_cell(cell, 3, 5, 2, 5, go_backwards, True, mask_kind)


@pytest.mark.parametrize("cell", ["lstm", "gru", "simple_rnn"])
@pytest.mark.parametrize("n,t,i,u", [(1, 1, 2, 3), (1, 4, 3, 2), (4, 1, 2, 3), (10, 3, 2, 9)])
@pytest.mark.parametrize("mask_kind", [None, "random"])
def test_edge_shapes_t1_batch1_tile_tails(isa, cell, n, t, i, u, mask_kind):
    # batch 1, T=1, rows beyond one register tile (10 > 8) and units off the panel width
    _check_cell(cell, n, t, i, u, False, n > 1, mask_kind)


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid", "linear"])
@pytest.mark.parametrize("use_bias", [True, False])
def test_simple_rnn_activations(isa, activation, use_bias):
    _check_cell("simple_rnn", 2, 4, 3, 4, False, True, "random", activation, use_bias)


@pytest.mark.parametrize("cell", ["lstm", "gru", "simple_rnn"])
def test_threaded_batch_split_matches_reference_and_serial(cell):
    # Large enough that the rows are split between threads; same result on one thread.
    n, t, i, u = 16, 24, 3, 24
    g = GATES[cell]
    x, k, rk = rand((n, t, i), seed=1), rand((i, g * u), seed=2) * 0.5, rand((u, g * u), seed=3) * 0.5
    b = rand(_bias_shape(cell, u), seed=4)
    mask = _make_mask("random", n, t)
    run = _seq_op(cell)

    def fwd_bwd():
        vs = [fastnet.Variable(a) for a in (x, k, rk, b)]
        with fastnet.GradientTape() as tape:
            y = run(*vs, None, None, True, mask)
        dout = rand(tuple(y.shape), seed=9)
        return [y.numpy()] + [gr.numpy() for gr in tape.gradient(y, vs, output_gradients=dout)]

    before = fastnet.config.get_num_threads()
    try:
        fastnet.config.set_num_threads(2)
        threaded = fwd_bwd()
        fastnet.config.set_num_threads(1)
        serial = fwd_bwd()
    finally:
        fastnet.config.set_num_threads(before)
    want = ref_masked(cell, *(a.astype(np.float64) for a in (x, k, rk, b)), None, None, mask, True)
    assert_close(threaded[0], want, atol=3e-5)
    for a, s in zip(threaded, serial):
        assert_close(a, s, atol=1e-5, rtol=1e-5)


def _kernel_fns(cell):
    return getattr(R, f"{cell}_forward"), getattr(R, f"{cell}_backward")


def _fwd_args(cell, n=2, t=3, i=4, u=2, **over):
    g = GATES[cell]
    a = {"x": np.zeros((n, t, i), np.float32), "kernel": np.zeros((i, g * u), np.float32),
         "recurrent_kernel": np.zeros((u, g * u), np.float32),
         "bias": np.zeros(_bias_shape(cell, u), np.float32), "h0": None}
    if cell == "lstm":
        a["c0"] = None
    a.update(over)
    return a


@pytest.mark.parametrize("cell", ["lstm", "gru", "simple_rnn"])
def test_argument_checks_name_the_argument_and_shapes(cell):
    fwd, bwd = _kernel_fns(cell)
    g = GATES[cell]
    cases = [
        (ValueError, r"`mask` must be \(batch, steps\) = \(2, 3\).*got \(2, 4\)",
         {"mask": np.ones((2, 4), bool)}),
        (ValueError, r"`mask`.*got \(3,\)", {"mask": np.ones(3, bool)}),
        (TypeError, r"`mask` must be bool or uint8, got dtype float32 with shape \(2, 3\)",
         {"mask": np.ones((2, 3), np.float32)}),
        (TypeError, r"`x` must be float32, got dtype float64", {"x": np.zeros((2, 3, 4))}),
        (TypeError, r"`kernel` must be float32", {"kernel": np.zeros((4, 2 * g), np.int32)}),
        (ValueError, rf"`kernel` must be \(4, {2 * g}\) for x \(2, 3, 4\).*got \(5, {2 * g}\)",
         {"kernel": np.zeros((5, 2 * g), np.float32)}),
        (ValueError, r"`recurrent_kernel` must be \(units, .*got \(2, 7\)",
         {"recurrent_kernel": np.zeros((2, 7), np.float32)}),
        (ValueError, r"`bias` must be .*got \(5,\)", {"bias": np.zeros(5, np.float32)}),
        (ValueError, r"`h0` must be \(2, 2\), got \(3, 2\)", {"h0": np.zeros((3, 2), np.float32)}),
        (ValueError, r"`x` must have at least one time step",
         {"x": np.zeros((2, 0, 4), np.float32), "mask": None}),
    ]
    for exc, pattern, over in cases:
        with pytest.raises(exc, match=pattern):
            fwd(**_fwd_args(cell, **over))
    # the backward checks the mask and the forward's outputs as well
    a = _fwd_args(cell, mask=np.ones((2, 3), bool))
    packed, ws = fwd(**a)
    bargs = dict(x=a["x"], kernel=a["kernel"], recurrent_kernel=a["recurrent_kernel"],
                 h0=None, go_backwards=False, packed=packed, workspace=ws,
                 dpacked=np.zeros_like(packed), has_bias=True, mask=a["mask"])
    if cell == "lstm":
        bargs["c0"] = None
    bwd(**bargs)
    with pytest.raises(ValueError, match=r"`mask` must be \(batch, steps\)"):
        bwd(**{**bargs, "mask": np.ones((1, 3), bool)})
    with pytest.raises(TypeError, match=r"`mask` must be bool or uint8"):
        bwd(**{**bargs, "mask": np.ones((2, 3), np.int64)})
    with pytest.raises(ValueError, match=r"`workspace`"):
        bwd(**{**bargs, "workspace": ws[:-1]})
    with pytest.raises(ValueError, match=r"`packed`/`dpacked` must be"):
        bwd(**{**bargs, "dpacked": np.zeros((2, 1, 2), np.float32)})
    if cell == "simple_rnn":
        with pytest.raises(ValueError, match="`activation` must be one of"):
            fwd(**_fwd_args(cell), activation="gelu")


def test_uint8_mask_equals_bool_mask():
    x, k, rk = rand((3, 4, 2), seed=1), rand((2, 8), seed=2), rand((2, 8), seed=3)
    m = _make_mask("random", 3, 4)
    a, _ = R.lstm_forward(x, k, rk, None, None, None, False, mask=m)
    b, _ = R.lstm_forward(x, k, rk, None, None, None, False, mask=m.astype(np.uint8))
    np.testing.assert_array_equal(a, b)


# ---- the layers run the kernels, masked or not, and agree with the Python loop ----------

def _layer_and_loop(monkeypatch, layer, x, **kw):
    """(kernel path result, Python step-loop result, gradients of both) for one layer."""
    from fastnet.layers.rnn_cell import _BuiltinCell

    def run():
        xv = fastnet.Variable(x)
        with fastnet.GradientTape() as tape:
            y = layer(xv, **kw)
            ys = y if isinstance(y, list) else [y]
            loss = sum(ops.sum(v * (j + 1.0)) for j, v in enumerate(ys))
        grads = tape.gradient(loss, [xv] + layer.trainable_weights)
        return [v.numpy() for v in ys], [gr.numpy() for gr in grads]

    calls = []
    cell_cls = type(layer.cell)  # the layer runs its cell: the kernel, or the cell's steps
    real = cell_cls._step

    def spy(self, *a):
        calls.append(1)
        return real(self, *a)

    monkeypatch.setattr(cell_cls, "_step", spy)
    fused = run()
    assert not calls, "the layer fell back to the Python step loop"
    monkeypatch.setattr(cell_cls, "_fusable", lambda self, x: False)
    monkeypatch.setattr(_BuiltinCell, "_fusable", lambda self, x: False)
    loop = run()
    assert calls
    return fused, loop


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "SimpleRNN"])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_layers_with_mask_use_the_kernel(monkeypatch, kind, return_sequences, go_backwards):
    from fastnet import layers

    x = rand((4, 6, 3), seed=1)
    mask = _make_mask("all_false_rows", 4, 6)
    layer = getattr(layers, kind)(5, return_sequences=return_sequences, return_state=True,
                                  go_backwards=go_backwards)
    layer(x)
    h0 = [rand((4, 5), seed=2)] + ([rand((4, 5), seed=3)] if kind == "LSTM" else [])
    (fy, fg), (ly, lg) = _layer_and_loop(monkeypatch, layer, x, mask=mask, initial_state=h0)
    for a, b in zip(fy + fg, ly + lg):
        assert_close(a, b, atol=1e-5, rtol=1e-4)


def test_embedding_mask_zero_into_recurrent_layers_runs_the_kernel(monkeypatch):
    from fastnet import layers

    for kind in ("LSTM", "GRU", "SimpleRNN"):
        emb = layers.Embedding(10, 3, mask_zero=True)
        rnn_layer = getattr(layers, kind)(4)
        inp = fastnet.Input((None,), dtype="int32")
        model = fastnet.Model(inp, rnn_layer(emb(inp)))
        seq = np.array([[5, 2, 7, 0, 0], [0, 0, 0, 0, 0]])
        short = np.array([[5, 2, 7]])
        monkeypatch.setattr(type(rnn_layer.cell), "_step", lambda *a: (_ for _ in ()).throw(
            AssertionError("Python step loop used")))
        out = model(seq).numpy()
        np.testing.assert_allclose(out[:1], model(short).numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(out[1], 0)  # a fully padded sequence outputs zeros
        monkeypatch.undo()


def test_simple_rnn_other_activation_falls_back_and_agrees():
    from fastnet import layers

    x = rand((2, 4, 3), seed=1)
    layer = layers.SimpleRNN(3, activation="elu", return_sequences=True)
    y = layer(x, mask=_make_mask("random", 2, 4)).numpy()
    assert y.shape == (2, 4, 3)


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "SimpleRNN"])
def test_zero_time_steps_layer_returns_zero_output(kind):
    from fastnet import layers

    x = np.zeros((2, 0, 4), np.float32)
    assert not getattr(layers, kind)(3)(x).numpy().any()
    assert getattr(layers, kind)(3, return_sequences=True)(x).shape == (2, 0, 3)


@pytest.mark.parametrize("n,i,u", [(1, 1, 1), (5, 3, 17), (9, 70, 33), (4, 2, 16)])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("mask_kind", [None, "random"])
def test_lstm_fused_step_equals_the_masked_dropout_path_bitwise(isa, n, i, u, go_backwards, mask_kind):
    # Without dropout masks the forward runs the fused step (the product of [x | h] with the
    # stacked kernels, gates and cell in registers); with masks of ones it runs the input
    # projection and a product per gate. Both add bias, x @ kernel, h @ recurrent in the
    # same order and share the gate arithmetic, so they give the same bits: rows and units
    # off the register tile (n up to 9, u = 1, 17, 33 against 4/8/16 lanes) and masked steps.
    t = 6
    x, k, rk = rand((n, t, i), seed=1), rand((i, 4 * u), seed=2), rand((u, 4 * u), seed=3)
    b, h0, c0 = rand((4 * u,), seed=4), rand((n, u), seed=5), rand((n, u), seed=6)
    mask = _make_mask(mask_kind, n, t) if mask_kind else None
    fused = ops_nn.lstm_sequence(x, k, rk, b, h0, c0, go_backwards, mask).numpy()
    ones_in, ones_rec = np.ones((1, n, i), np.float32), np.ones((4, n, u), np.float32)
    masked = ops_nn.lstm_sequence(x, k, rk, b, h0, c0, go_backwards, mask, ones_in, ones_rec).numpy()
    np.testing.assert_array_equal(fused, masked)
    want = ref_masked("lstm", *(a.astype(np.float64) for a in (x, k, rk, b, h0, c0)), mask, go_backwards)
    assert_close(fused, want, atol=2e-5)
