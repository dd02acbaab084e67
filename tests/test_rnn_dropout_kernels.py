"""Dropout and recurrent dropout inside the C++ sequence kernels (csrc/rnn): the masked
recurrence against a float64 numpy reference with the same masks, gradients by finite
differences, and the layers' training calls running the kernel (no Python time loop)."""

import numpy as np
import pytest
from oracle import assert_close, numeric_grad, rand

import fastnet
from fastnet import layers
from fastnet import ops as _public_ops
from fastnet.ops import nn as _ops_nn
from fastnet.ops import spatial as _ops_spatial


class _OpsAndHelpers:
    """fastnet.ops plus the fused helpers the layers call (they are not public names)."""

    def __getattr__(self, name):
        for module in (_public_ops, _ops_nn, _ops_spatial):
            if hasattr(module, name):
                return getattr(module, name)
        raise AttributeError(name)


ops = _OpsAndHelpers()

GATES = {"simple": 1, "lstm": 4, "gru": 3}


def _sig(v):
    return 1 / (1 + np.exp(-v))


def ref_sequence(kind, x, k, rk, b, h0=None, c0=None, go_backwards=False, mask=None,
                 in_mask=None, rec_mask=None, reset_after=True):
    """Keras's cells (implementation 1: gate g sees x * in_mask[g] and h * rec_mask[g]) run
    by backend.rnn's masking rule. Returns the kernels' packed layout: outputs in processing
    order, then the final states."""
    g_count = GATES[kind]
    n, t, _ = x.shape
    u = rk.shape[0]
    h = np.zeros((n, u)) if h0 is None else h0
    c = (np.zeros((n, u)) if c0 is None else c0) if kind == "lstm" else None
    ims = [1.0] * g_count if in_mask is None else \
        [in_mask[0 if len(in_mask) == 1 else g] for g in range(g_count)]
    rms = [1.0] * g_count if rec_mask is None else [rec_mask[g] for g in range(g_count)]
    if b is None:
        bi, br = np.zeros(g_count * u), np.zeros(g_count * u)
    elif kind == "gru" and reset_after:
        bi, br = b[0], b[1]
    else:
        bi, br = b, np.zeros(g_count * u)
    col = [slice(g * u, (g + 1) * u) for g in range(g_count)]
    prev = np.zeros((n, u))
    outs = []
    for s in range(t):
        tt = t - 1 - s if go_backwards else s
        xs = [(x[:, tt] * ims[g]) @ k[:, col[g]] + bi[col[g]] for g in range(g_count)]
        hr = [(h * rms[g]) @ rk[:, col[g]] + br[col[g]] for g in range(g_count)]
        cn = None
        if kind == "simple":
            hn = np.tanh(xs[0] + hr[0])
        elif kind == "lstm":
            i, f = _sig(xs[0] + hr[0]), _sig(xs[1] + hr[1])
            gg, o = np.tanh(xs[2] + hr[2]), _sig(xs[3] + hr[3])
            cn = f * c + i * gg
            hn = o * np.tanh(cn)
        else:
            z, r = _sig(xs[0] + hr[0]), _sig(xs[1] + hr[1])
            rh = r * hr[2] if reset_after else (r * h * rms[2]) @ rk[:, col[2]]
            hn = z * h + (1 - z) * np.tanh(xs[2] + rh)
        if mask is not None:
            m = mask[:, tt][:, None].astype(bool)
            hn = np.where(m, hn, h)
            cn = np.where(m, cn, c) if cn is not None else None
            out = np.where(m, hn, prev)
        else:
            out = hn
        h, c, prev = hn, cn, out
        outs.append(out)
    finals = [h[:, None], c[:, None]] if kind == "lstm" else [h[:, None]]
    return np.concatenate([np.stack(outs, 1)] + finals, axis=1)


def _keep_mask(shape, rate, seed):
    keep = np.random.default_rng(seed).random(shape) >= rate
    return (keep / (1.0 - rate)).astype(np.float32)


def _op(kind):
    return {"simple": ops.simple_rnn_sequence, "lstm": ops.lstm_sequence,
            "gru": ops.gru_sequence}[kind]


def _bias_shape(kind, u):
    return (2, 3 * u) if kind == "gru" else (GATES[kind] * u,)


@pytest.mark.parametrize("kind", ["simple", "lstm", "gru"])
@pytest.mark.parametrize("per_gate", [True, False])
@pytest.mark.parametrize("go_backwards,masked", [(False, False), (True, True)])
def test_kernel_dropout_masks_forward_and_gradients(isa, kind, per_gate, go_backwards, masked):
    n, t, i, u = 3, 4, 3, 4
    g = GATES[kind]
    x = rand((n, t, i), seed=1)
    k = rand((i, g * u), seed=2, low=-0.7, high=0.7)
    rk = rand((u, g * u), seed=3, low=-0.7, high=0.7)
    b = rand(_bias_shape(kind, u), seed=4, low=-0.3, high=0.3)
    h0 = rand((n, u), seed=5)
    in_mask = _keep_mask((g if per_gate else 1, n, i), 0.4, 6)
    rec_mask = _keep_mask((g, n, u), 0.3, 7) if per_gate else None
    mask = np.array([[1, 1, 0, 1], [0, 1, 1, 0], [1, 1, 1, 1]], bool) if masked else None
    packed = _op(kind)(x, k, rk, b, h0, go_backwards=go_backwards, mask=mask,
                       in_mask=in_mask, rec_mask=rec_mask).numpy() if kind != "lstm" else \
        ops.lstm_sequence(x, k, rk, b, h0, None, go_backwards, mask=mask, in_mask=in_mask,
                          rec_mask=rec_mask).numpy()

    def ref(x, k, rk, b, h0):
        return ref_sequence(kind, x, k, rk, b, h0, None, go_backwards, mask, in_mask, rec_mask)

    inputs = [x, k, rk, b, h0]
    assert_close(packed, ref(*[a.astype(np.float64) for a in inputs]), atol=1e-5,
                 what="forward")
    # the masks matter: without them the result differs
    plain = ref_sequence(kind, *[a.astype(np.float64) for a in inputs], None, go_backwards,
                         mask)
    assert not np.allclose(packed, plain, atol=1e-3)
    dout = rand(packed.shape, seed=8)
    vs = [fastnet.Variable(a) for a in inputs]
    with fastnet.GradientTape() as tape:
        if kind == "lstm":
            y = ops.lstm_sequence(vs[0], vs[1], vs[2], vs[3], vs[4], None, go_backwards,
                                  mask=mask, in_mask=in_mask, rec_mask=rec_mask)
        else:
            y = _op(kind)(vs[0], vs[1], vs[2], vs[3], vs[4], go_backwards=go_backwards,
                          mask=mask, in_mask=in_mask, rec_mask=rec_mask)
    grads = tape.gradient(y, vs, output_gradients=dout)
    for idx, grad in enumerate(grads):
        assert_close(grad.numpy(), numeric_grad(ref, inputs, dout, idx), atol=1e-4, rtol=1e-3,
                     what=f"{kind} gradient of input {idx}")


def test_kernel_dropout_mask_shapes_are_checked():
    x = rand((2, 3, 4))
    k, rk = rand((4, 12)), rand((3, 12))
    with pytest.raises(ValueError, match="in_mask"):
        ops.lstm_sequence(x, k, rk, in_mask=np.ones((2, 2, 4), np.float32))
    with pytest.raises(ValueError, match="rec_mask"):
        ops.lstm_sequence(x, k, rk, rec_mask=np.ones((1, 2, 3), np.float32))
    with pytest.raises(ValueError, match=r"rec_mask.*\(4, 2, 3\)"):
        ops.lstm_sequence(x, k, rk, rec_mask=np.ones((4, 3, 3), np.float32))


def _forbid_python_loops(monkeypatch, cls):
    """No Python time loop in the layer cls: its cell (the layer runs its cell) never
    steps in Python."""
    def boom(*a, **k):
        raise AssertionError("the Python time loop ran")

    cell_cls = getattr(cls, "_cell_class", None) or cls
    monkeypatch.setattr(cell_cls, "_dropout_loop", boom)
    monkeypatch.setattr(cell_cls, "_step", boom)


@pytest.mark.parametrize("kind", ["simple", "lstm", "gru"])
@pytest.mark.parametrize("rec", [0.0, 0.4])
def test_layers_train_with_dropout_in_the_kernel(kind, rec, monkeypatch):
    cls = {"simple": layers.SimpleRNN, "lstm": layers.LSTM, "gru": layers.GRU}[kind]
    x = rand((4, 5, 3), seed=11)
    mask = np.array([[1, 1, 1, 0, 0], [1, 0, 1, 1, 1], [1, 1, 1, 1, 1], [0, 1, 1, 1, 0]],
                    bool)
    lay = cls(4, dropout=0.3, recurrent_dropout=rec, return_sequences=True, seed=3,
              go_backwards=True)
    infer = lay(x, mask=mask).numpy()
    _forbid_python_loops(monkeypatch, cls)
    y = lay(x, mask=mask, training=True).numpy()
    in_masks, rec_masks = lay._dropout_masks
    w = [v.numpy().astype(np.float64) for v in (lay.kernel, lay.recurrent_kernel, lay.bias)]
    im = np.stack([m.numpy() for m in in_masks])
    rm = None if rec_masks is None else np.stack([m.numpy() for m in rec_masks])
    want = ref_sequence(kind, x.astype(np.float64), *w, go_backwards=True, mask=mask,
                        in_mask=im, rec_mask=rm)[:, :5]
    # the layer returns outputs in processing order (reversed, as Keras with go_backwards)
    assert_close(y, want, atol=1e-5, what="training output")
    assert not np.allclose(y, infer, atol=1e-4)
    # a new training call draws new masks; inference is unchanged
    assert not np.allclose(lay(x, mask=mask, training=True).numpy(), y, atol=1e-4)
    np.testing.assert_allclose(lay(x, mask=mask).numpy(), infer, atol=1e-6)
    with fastnet.GradientTape() as tape:
        loss = ops.sum(lay(x, mask=mask, training=True))
    grads = tape.gradient(loss, lay.trainable_weights)
    assert all(g is not None and np.isfinite(g.numpy()).all() for g in grads)
    assert any(np.abs(g.numpy()).sum() > 0 for g in grads)


def test_fit_with_recurrent_dropout_runs_the_kernel(monkeypatch):
    _forbid_python_loops(monkeypatch, layers.LSTM)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 6, 3)).astype(np.float32)
    y = x.sum(axis=(1, 2))[:, None].astype(np.float32)
    model = fastnet.Sequential([fastnet.Input((6, 3)),
                                layers.LSTM(8, dropout=0.2, recurrent_dropout=0.2, seed=1),
                                layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    hist = model.fit(x, y, epochs=3, batch_size=8, verbose=0)
    assert np.isfinite(hist.history["loss"]).all()


@pytest.mark.parametrize("kind", ["simple", "lstm", "gru"])
def test_kernel_dropout_masks_split_across_threads(kind):
    """Large enough that the batch rows are split between threads: same results as one
    thread, and the forward as the numpy reference."""
    n, t, i, u = 64, 12, 16, 32
    g = GATES[kind]
    x = rand((n, t, i), seed=21)
    k = rand((i, g * u), seed=22, low=-0.3, high=0.3)
    rk = rand((u, g * u), seed=23, low=-0.3, high=0.3)
    b = rand(_bias_shape(kind, u), seed=24, low=-0.3, high=0.3)
    in_mask = _keep_mask((g, n, i), 0.3, 25)
    rec_mask = _keep_mask((g, n, u), 0.3, 26)
    mask = np.random.default_rng(27).random((n, t)) > 0.2

    def run():
        vs = [fastnet.Variable(a) for a in (x, k, rk, b)]
        with fastnet.GradientTape() as tape:
            y = _op(kind)(*vs, mask=mask, in_mask=in_mask, rec_mask=rec_mask)
        grads = tape.gradient(y, vs, output_gradients=np.ones(y.shape, np.float32))
        return [y.numpy()] + [gr.numpy() for gr in grads]

    before = fastnet.config.get_num_threads()
    try:
        fastnet.config.set_num_threads(1)
        one = run()
        fastnet.config.set_num_threads(2)
        two = run()
    finally:
        fastnet.config.set_num_threads(before)
    for a, c in zip(one, two):
        np.testing.assert_allclose(c, a, rtol=1e-5, atol=1e-5)
    want = ref_sequence(kind, *[a.astype(np.float64) for a in (x, k, rk, b)], mask=mask,
                        in_mask=in_mask, rec_mask=rec_mask)
    assert_close(two[0], want, atol=1e-5, what="threaded forward")


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_rate_one_as_keras(kind):
    """Keras 3: the LSTM/GRU layers without recurrent_dropout mask their inputs for any
    rate > 0 (1.0: zeros); their cells (recurrent_dropout set, or RNN(cell)) only for
    0 < rate < 1; SimpleRNNCell for any rate > 0."""
    cls = {"lstm": layers.LSTM, "gru": layers.GRU}[kind]
    cell_cls = {"lstm": layers.LSTMCell, "gru": layers.GRUCell}[kind]
    x = rand((2, 4, 3), seed=31)
    lay = cls(3, dropout=1.0, return_sequences=True)
    np.testing.assert_allclose(lay(x, training=True).numpy(), lay(np.zeros_like(x)).numpy(),
                               rtol=1e-6)
    rnn = layers.RNN(cell_cls(3, dropout=1.0), return_sequences=True)
    np.testing.assert_allclose(rnn(x, training=True).numpy(), rnn(x).numpy(), rtol=1e-6)
    assert rnn.cell._dropout_masks is None
    # recurrent rate 1.0 still selects Keras's per-gate input masks (implementation 1)
    for act in ("tanh", "relu"):  # the kernel and the Python loop
        lay = cls(3, dropout=0.5, recurrent_dropout=1.0, return_sequences=True, seed=2,
                  activation=act)
        y = lay(x, training=True).numpy()
        in_masks, rec_masks = lay._dropout_masks
        assert rec_masks is None and len(in_masks) == lay.gates
        if act == "tanh":
            w = [v.numpy().astype(np.float64) for v in lay.weights]
            want = ref_sequence(kind, x.astype(np.float64), *w,
                                in_mask=np.stack([m.numpy() for m in in_masks]))[:, :4]
            assert_close(y, want, atol=1e-5)
    simple = layers.SimpleRNN(3, dropout=1.0, use_bias=False, return_sequences=True)
    np.testing.assert_allclose(simple(x, training=True).numpy()[:, 0], 0.0)
