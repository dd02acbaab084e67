"""Keras 3 behaviours a program depends on, each checked as a user meets it: against Keras
3 (torch backend, skipped when absent) or a numpy formula."""

import json
import os
import zipfile

import numpy as np
import pytest

import fastnet
from fastnet import layers as L


def _keras():
    """Keras 3 on the torch backend, or skip."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    k = pytest.importorskip("keras")
    if k.backend.backend() != "torch":
        pytest.skip("Keras oracle runs on the torch backend")
    return k


def _dense_model(lib):
    model = lib.Sequential([lib.Input((3,)), lib.layers.Dense(2)])
    model.compile("adam", "mse", steps_per_execution=3, run_eagerly=True)
    return model


# ---- 1. compile_config: run_eagerly, steps_per_execution, jit_compile ----------------------

def test_compile_config_keeps_what_compile_was_given(tmp_path):
    model = _dense_model(fastnet)
    path = tmp_path / "m.keras"
    model.save(path)
    cc = json.loads(zipfile.ZipFile(path).read("config.json"))["compile_config"]
    assert (cc["run_eagerly"], cc["steps_per_execution"], cc["jit_compile"]) == (True, 3, "auto")
    loaded = fastnet.models.load_model(path)
    assert (loaded.run_eagerly, loaded.steps_per_execution) == (True, 3)
    assert loaded.get_compile_config()["jit_compile"] == "auto"

    model.compile("sgd", "mse", jit_compile=False)
    model.save(path)
    loaded = fastnet.models.load_model(path)
    assert (loaded.run_eagerly, loaded.steps_per_execution, loaded.jit_compile) == (False, 1, False)
    # an .h5 training_config gives back only optimizer, losses and metrics, as Keras's
    model.compile("sgd", "mse", steps_per_execution=4)
    model.save(tmp_path / "m.h5")
    assert fastnet.models.load_model(tmp_path / "m.h5").steps_per_execution == 1


def test_compile_config_against_keras(tmp_path):
    k = _keras()
    ours, theirs = tmp_path / "f.keras", tmp_path / "k.keras"
    _dense_model(fastnet).save(ours)
    _dense_model(k).save(theirs)  # compiled, never trained: its optimizer is not built
    by_keras = k.models.load_model(ours)
    assert (by_keras.run_eagerly, by_keras.steps_per_execution) == (True, 3)
    by_us = fastnet.models.load_model(theirs)
    assert (by_us.run_eagerly, by_us.steps_per_execution, by_us.jit_compile) == (True, 3, False)
    for a, b in zip(by_us.get_weights(), k.models.load_model(theirs).get_weights()):
        np.testing.assert_array_equal(a, np.asarray(b))


# ---- 4. InputLayer / Input arguments ------------------------------------------------------

def _input_outcomes(lib):
    import warnings

    cases = {
        "Input with an unknown keyword": lambda: lib.Input((3,), foo=1),
        "InputLayer with an unknown keyword": lambda: lib.layers.InputLayer(shape=(3,), foo=1),
        "shape and batch_shape": lambda: lib.Input(shape=(3,), batch_shape=(2, 3)),
        "batch_size and batch_shape": lambda: lib.Input(batch_size=2, batch_shape=(2, 3)),
        "no shape": lambda: lib.Input(),
        "a negative dimension": lambda: lib.Input((-2,)),
        "input_shape": lambda: lib.layers.InputLayer(input_shape=(3,)),
        "batch_input_shape": lambda: lib.layers.InputLayer(batch_input_shape=(None, 4)),
    }
    out = {}
    for what, make in cases.items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                made = make()
            out[what] = tuple(getattr(made, "batch_shape", None) or made.shape)
        except Exception as e:  # noqa: BLE001 - the exception type is what is compared
            out[what] = type(e).__name__
    return out


EXPECTED_INPUT_OUTCOMES = {
    # Keras 3.15: keras.Input has no **kwargs (Python's TypeError); InputLayer passes only
    # `name` to Layer, so it ignores what it does not know (fastnet warns, naming it)
    "Input with an unknown keyword": "TypeError",
    "InputLayer with an unknown keyword": (None, 3),
    "shape and batch_shape": "ValueError", "batch_size and batch_shape": "ValueError",
    "no shape": "ValueError", "a negative dimension": "ValueError",
    "input_shape": (None, 3), "batch_input_shape": (None, 4),
}


def test_input_arguments_as_keras():
    assert _input_outcomes(fastnet) == EXPECTED_INPUT_OUTCOMES
    with pytest.warns(UserWarning, match="ignoring unrecognized keyword argument.*foo"):
        fastnet.layers.InputLayer(shape=(3,), foo=1)
    with pytest.raises(ValueError, match=r"Unrecognized keyword|unrecognized keyword.*foo"):
        L.Dense(3, foo=1)  # every other layer refuses them, as Keras, with ValueError
    with pytest.raises(ValueError, match="unrecognized keyword.*foo"):
        fastnet.optimizers.Adam(foo=1)


def test_input_arguments_against_keras():
    k = _keras()
    assert _input_outcomes(k) == EXPECTED_INPUT_OUTCOMES
    for lib in (k, fastnet):
        with pytest.raises(ValueError):
            lib.layers.Dense(3, foo=1)
    cfg = fastnet.layers.InputLayer(shape=(3,), name="x").get_config()
    assert cfg == {**k.layers.InputLayer(shape=(3,), name="x").get_config(),
                   "batch_shape": [None, 3]}


# ---- 5. LSTM/GRU `implementation` through a config -----------------------------------------

@pytest.mark.parametrize("cls", ["LSTM", "GRU", "LSTMCell", "GRUCell"])
def test_implementation_through_config_as_keras(cls):
    # Keras 3.15's get_config has no `implementation` (LSTM, GRU nor their cells): a
    # reloaded layer is back at implementation 2. fastnet does the same, so a config moved
    # between the two libraries means the same layer.
    layer = getattr(L, cls)(3, implementation=1)
    cell = getattr(layer, "cell", layer)
    assert cell.implementation == 1 and "implementation" not in layer.get_config()
    again = getattr(L, cls).from_config(layer.get_config())
    assert getattr(again, "cell", again).implementation == 2
    assert getattr(L, cls)(3, recurrent_dropout=0.2).get_config()["recurrent_dropout"] == 0.2


@pytest.mark.parametrize("cls", ["LSTM", "GRU", "LSTMCell", "GRUCell"])
def test_implementation_through_config_against_keras(cls):
    k = _keras()
    theirs = getattr(k.layers, cls)(3, implementation=1)
    ours = getattr(L, cls)(3, implementation=1)
    assert ("implementation" in theirs.get_config()) == ("implementation" in ours.get_config())
    again = getattr(k.layers, cls).from_config(theirs.get_config())
    assert getattr(again, "cell", again).implementation == 2


# ---- 6. ConvLSTM2D: dropout, recurrent_dropout, stateful, channels_first -------------------

def _sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def _conv_same(x, k):
    """'same' 2-D convolution (stride 1) of x (b, r, c, cin) with k (kh, kw, cin, cout)."""
    kh, kw = k.shape[:2]
    top, left = (kh - 1) // 2, (kw - 1) // 2
    xp = np.pad(x, ((0, 0), (top, kh - 1 - top), (left, kw - 1 - left), (0, 0)))
    out = np.zeros(x.shape[:3] + (k.shape[-1],), np.float64)
    for i in range(kh):
        for j in range(kw):
            out += xp[:, i:i + x.shape[1], j:j + x.shape[2]] @ k[i, j]
    return out


def _conv_lstm_reference(x, kernel, rec, bias, in_masks=None, rec_masks=None, state=None):
    """numpy ConvLSTM2D ('same' padding, channels_last): the last h and c."""
    f = rec.shape[2]
    h = np.zeros(x.shape[:1] + x.shape[2:4] + (f,)) if state is None else state[0]
    c = np.zeros_like(h) if state is None else state[1]
    for t in range(x.shape[1]):
        gates = []
        for g in range(4):
            xin = x[:, t] * (1 if in_masks is None else in_masks[g])
            hin = h * (1 if rec_masks is None else rec_masks[g])
            gates.append(_conv_same(xin, kernel[..., g * f:(g + 1) * f]) +
                         _conv_same(hin, rec[..., g * f:(g + 1) * f]) + bias[g * f:(g + 1) * f])
        i, fg, o = _sigmoid(gates[0]), _sigmoid(gates[1]), _sigmoid(gates[3])
        c = fg * c + i * np.tanh(gates[2])
        h = o * np.tanh(c)
    return h, c


def _conv_lstm_weights(layer):
    return [np.asarray(w, np.float64) for w in layer.get_weights()]


def test_conv_lstm2d_dropout_masks_per_gate_as_keras():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 3, 5, 5, 2)).astype(np.float32)
    layer = L.ConvLSTM2D(3, 3, padding="same", dropout=0.4, recurrent_dropout=0.3, seed=1,
                         return_state=True)
    plain = L.ConvLSTM2D(3, 3, padding="same", return_state=True)
    layer(x)
    plain(x)
    plain.set_weights(layer.get_weights())
    # inference: no masks, the same as the layer without dropout
    for a, b in zip(layer(x), plain(x)):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)
    drawn = []
    original = layer._gate_masks

    def spy(shape, rate, training):
        masks = original(shape, rate, training)
        drawn.append(None if masks is None else [m.numpy() for m in masks])
        return masks

    layer._gate_masks = spy
    _, h, c = layer(x, training=True)
    in_masks, rec_masks = drawn
    assert len(in_masks) == 4 and in_masks[0].shape == (2, 5, 5, 2)
    assert rec_masks[0].shape == (2, 5, 5, 3)
    assert not np.array_equal(in_masks[0], in_masks[1])  # one mask per gate
    assert set(np.unique(in_masks[0])) <= {0.0, np.float32(1 / 0.6)}
    want_h, want_c = _conv_lstm_reference(x, *_conv_lstm_weights(layer), in_masks, rec_masks)
    np.testing.assert_allclose(h.numpy(), want_h, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(c.numpy(), want_c, rtol=1e-4, atol=1e-5)
    # the masks are redrawn at every call (training outputs differ), trainable by fit
    layer._gate_masks = original
    assert not np.allclose(layer(x, training=True)[1].numpy(), h.numpy())
    model = fastnet.Sequential([fastnet.Input((3, 5, 5, 2)), L.ConvLSTM2D(2, 3, dropout=0.5,
                                                                         recurrent_dropout=0.5)])
    model.compile("sgd", "mse")
    model.fit(x, np.zeros((2, 3, 3, 2), np.float32), verbose=0)
    cfg = L.ConvLSTM2D(2, 3, dropout=0.5, recurrent_dropout=0.25, seed=3).get_config()
    assert (cfg["dropout"], cfg["recurrent_dropout"], cfg["seed"]) == (0.5, 0.25, 3)


def test_conv_lstm2d_stateful_carries_h_and_c():
    rng = np.random.default_rng(7)
    x1, x2 = rng.standard_normal((2, 2, 2, 4, 4, 1)).astype(np.float32)
    layer = L.ConvLSTM2D(2, 3, padding="same", stateful=True)
    first = layer(x1).numpy()
    second = layer(x2).numpy()
    w = _conv_lstm_weights(layer)
    h1, c1 = _conv_lstm_reference(x1, *w)
    np.testing.assert_allclose(first, h1, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(second, _conv_lstm_reference(x2, *w, state=(h1, c1))[0],
                               rtol=1e-4, atol=1e-5)
    layer.reset_states()
    np.testing.assert_allclose(layer(x2).numpy(), _conv_lstm_reference(x2, *w)[0], rtol=1e-4,
                               atol=1e-5)
    assert layer.get_config()["stateful"] is True
    with pytest.raises(ValueError, match="stateful=True.*batch size must be static"):
        fastnet.Sequential([fastnet.Input((2, 4, 4, 1)), L.ConvLSTM2D(2, 3, stateful=True)])


def test_conv_lstm2d_channels_first():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 3, 2, 6, 5)).astype(np.float32)  # (b, t, ch, rows, cols)
    first = L.ConvLSTM2D(3, 3, data_format="channels_first", return_sequences=True,
                         return_state=True)
    last = L.ConvLSTM2D(3, 3, return_sequences=True, return_state=True)
    seq, h, c = first(x)
    last(np.transpose(x, (0, 1, 3, 4, 2)))
    last.set_weights(first.get_weights())
    seq_l, h_l, c_l = last(np.transpose(x, (0, 1, 3, 4, 2)))
    assert tuple(seq.shape) == (2, 3, 3, 4, 3) and tuple(h.shape) == (2, 3, 4, 3)
    np.testing.assert_allclose(seq.numpy(), np.transpose(seq_l.numpy(), (0, 1, 4, 2, 3)),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(c.numpy(), np.transpose(c_l.numpy(), (0, 3, 1, 2)), rtol=1e-5,
                               atol=1e-6)
    model = fastnet.Sequential([fastnet.Input((3, 2, 6, 5)),
                                L.ConvLSTM2D(3, 3, data_format="channels_first")])
    assert model.output_shape == (None, 3, 4, 3)
    assert first.get_config()["data_format"] == "channels_first"


@pytest.mark.parametrize("kw", [{"data_format": "channels_first", "return_sequences": True},
                                {"data_format": "channels_first", "return_state": True,
                                 "padding": "same"},
                                {"stateful": True, "padding": "same"},
                                {"dropout": 0.3, "recurrent_dropout": 0.4}])
def test_conv_lstm2d_against_keras(kw):
    k = _keras()
    rng = np.random.default_rng(9)
    shape = (2, 3, 2, 5, 5) if kw.get("data_format") == "channels_first" else (2, 3, 5, 5, 2)
    x1, x2 = rng.standard_normal((2,) + shape).astype(np.float32)
    ours, theirs = L.ConvLSTM2D(2, 3, **kw), k.layers.ConvLSTM2D(2, 3, **kw)
    ours(x1)
    theirs(x1)
    theirs.set_weights(ours.get_weights())
    if kw.get("stateful"):
        ours.reset_states()
        theirs.reset_states()
    for x in (x1, x2):  # a stateful layer's second call starts from the first's states
        got, want = ours(x), theirs(x)
        got, want = (got, want) if isinstance(got, list) else ([got], [want])
        for a, b in zip(got, want):
            np.testing.assert_allclose(a.numpy(), k.ops.convert_to_numpy(b), rtol=1e-4,
                                       atol=1e-5)
    ours_cfg, theirs_cfg = ours.get_config(), theirs.get_config()
    assert set(ours_cfg) == set(theirs_cfg)
    for key in ("data_format", "stateful", "dropout", "recurrent_dropout", "padding"):
        assert ours_cfg[key] == theirs_cfg[key], key


# ---- 7. float64: wrappers compute in their sublayers' dtype, as Keras ---------------------

def _dtype_outcomes(lib):
    x = np.random.default_rng(10).random((2, 5, 3)).astype(np.float32)
    img = (np.random.default_rng(11).random((2, 8, 8, 3)) * 255).astype(np.float32)
    lay = lib.layers
    made = {
        "RNN(LSTMCell)": (lay.RNN(lay.LSTMCell(4), dtype="float64"), x),
        "RNN(stacked)": (lay.RNN([lay.LSTMCell(4), lay.GRUCell(3)], dtype="float64"), x),
        "RNN(StackedRNNCells float64)": (lay.RNN(lay.StackedRNNCells(
            [lay.LSTMCell(4), lay.GRUCell(3)], dtype="float64")), x),
        "Bidirectional": (lay.Bidirectional(lay.LSTM(4), dtype="float64"), x),
        "Bidirectional states": (lay.Bidirectional(lay.SimpleRNN(
            3, return_sequences=True, return_state=True), merge_mode=None, dtype="float64"), x),
        "CLAHE": (lay.ContrastLimitedAdaptiveHistogramEqualization(
            value_range=(0, 255), tile_grid_size=(2, 2), dtype="float64"), img),
    }
    out = {}
    for what, (layer, inp) in made.items():
        got = layer(inp)
        got = got if isinstance(got, (list, tuple)) else [got]
        out[what] = ([str(t.dtype).replace("torch.", "") for t in got],
                     sorted({str(w.dtype) for w in layer.weights}))
    return out


EXPECTED_DTYPES = {
    "RNN(LSTMCell)": (["float64"], ["float32"]),
    "RNN(stacked)": (["float64"], ["float32"]),
    "RNN(StackedRNNCells float64)": (["float32"], ["float32"]),
    "Bidirectional": (["float64"], ["float32"]),
    "Bidirectional states": (["float64", "float64", "float32", "float32"], ["float32"]),
    "CLAHE": (["float64"], []),
}


def test_float64_wrappers_as_keras():
    assert _dtype_outcomes(fastnet) == EXPECTED_DTYPES


def test_float64_wrappers_against_keras():
    assert _dtype_outcomes(_keras()) == EXPECTED_DTYPES


# ---- logs in Keras's order ---------------------------------------------------------------

def _logs_program(lib):
    rng = np.random.default_rng(12)
    x = rng.standard_normal((16, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.float32)
    model = lib.Sequential([lib.Input((3,)), lib.layers.Dense(1, activation="sigmoid")])
    model.compile("sgd", "binary_crossentropy", metrics=["mae", "accuracy"])
    seen = []
    cb = lib.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: seen.append(list(logs)))
    h = model.fit(x, y, epochs=1, verbose=0, validation_data=(x, y), callbacks=[cb])
    return {"history": list(h.history), "epoch_logs": seen[0],
            "return_dict": list(model.evaluate(x, y, verbose=0, return_dict=True)),
            "n_listed": len(model.evaluate(x, y, verbose=0))}


def test_logs_are_in_keras_order():
    # Keras 3 sorts the logs by name (pythonify_logs), validation entries after the
    # training ones; evaluate()'s list keeps the loss first, then the metrics as compiled
    r = _logs_program(fastnet)
    assert r["history"] == ["accuracy", "loss", "mae", "val_accuracy", "val_loss", "val_mae"]
    assert r["epoch_logs"] == r["history"] and r["return_dict"] == ["accuracy", "loss", "mae"]
    assert r["n_listed"] == 3
    x = np.ones((4, 3), np.float32)
    model = fastnet.Sequential([fastnet.Input((3,)), L.Dense(1)])
    model.compile("sgd", "mse", metrics=["mae"])
    loss, mae = model.evaluate(x, np.zeros(4), verbose=0)
    assert loss == pytest.approx(mae ** 2, rel=1e-5)  # one constant output per batch row
    assert list(model.train_on_batch(x, np.zeros(4), return_dict=True)) == ["loss", "mae"]


def test_logs_are_in_keras_order_against_keras():
    assert _logs_program(fastnet) == _logs_program(_keras())
