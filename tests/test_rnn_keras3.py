"""The RNN family as Keras 3 builds it: SimpleRNN/LSTM/GRU are RNN layers over their cell
(``layer.cell``, Keras's names, paths and weights-file keys), with Keras's signatures and
configs; stateful layers (``.states``, ``reset_states()``), ``unroll``, ``go_backwards`` and
Bidirectional against Keras 3 itself with the same weights (optional: KERAS_BACKEND=torch,
skipped without keras); a cell called step by step keeps one dropout mask until reset (Keras's
DropoutRNNCell); ``time_major`` refused, as Keras 3 refuses it."""

import inspect
import os

import numpy as np
import pytest

import fastnet
from fastnet import layers

LAYER_CELLS = [("SimpleRNN", "SimpleRNNCell", "simple_rnn_cell"),
               ("LSTM", "LSTMCell", "lstm_cell"), ("GRU", "GRUCell", "gru_cell")]
RNG = np.random.default_rng(2026)
X1, X2, X3 = (RNG.standard_normal((3, 5, 2)).astype(np.float32) for _ in range(3))
MASK = np.array([[1, 1, 0, 1, 1], [1, 0, 0, 0, 1], [1, 1, 1, 1, 1]], bool)


def _keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("the Keras oracle runs on the torch backend")
    return keras


def _np(x):
    """fastnet outputs/states (nested) as a flat list of arrays."""
    if isinstance(x, (list, tuple)):
        return [v for item in x for v in _np(item)]
    return [np.asarray(fastnet.ops.convert_to_numpy(x))]


def _k(keras, x):
    """Keras outputs/states (nested) as a flat list of arrays."""
    if isinstance(x, (list, tuple)):
        return [v for item in x for v in _k(keras, item)]
    return [np.asarray(keras.ops.convert_to_numpy(x))]


def _close(ours, theirs, what):
    assert len(ours) == len(theirs), f"{what}: {len(ours)} arrays, Keras {len(theirs)}"
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert a.shape == b.shape, f"{what} {i}: shape {a.shape}, Keras {b.shape}"
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5, err_msg=f"{what} {i}")


# ---- the structure: layers built from their cells ------------------------------------------

@pytest.mark.parametrize("layer_name,cell_name,cell_key", LAYER_CELLS)
def test_layer_is_an_rnn_over_its_cell(layer_name, cell_name, cell_key):
    lay = getattr(layers, layer_name)(4, dropout=0.2, name="seq")
    assert isinstance(lay, layers.RNN)
    assert type(lay.cell) is getattr(layers, cell_name) and lay.cell.name == cell_key
    assert lay.units == lay.cell.units == 4 and lay.dropout == lay.cell.dropout == 0.2
    y = lay(X1)
    assert [id(w) for w in lay.weights] == [id(w) for w in lay.cell.weights]
    assert [w.path for w in lay.weights] == [f"seq/{cell_key}/{n}" for n in
                                             ("kernel", "recurrent_kernel", "bias")]
    assert lay.kernel is lay.cell.kernel and lay.bias is lay.cell.bias
    config = lay.get_config()
    assert "cell" not in config and config["units"] == 4 and config["dropout"] == 0.2
    clone = type(lay).from_config(config)
    clone(X1)
    clone.set_weights(lay.get_weights())
    np.testing.assert_allclose(clone(X1).numpy(), y.numpy(), rtol=1e-6)
    # the cell run by RNN gives the layer's numbers (the same C++ kernel under both)
    rnn = layers.RNN(getattr(layers, cell_name)(4))
    rnn(X1)
    rnn.set_weights(lay.get_weights())
    np.testing.assert_allclose(rnn(X1, mask=MASK).numpy(), lay(X1, mask=MASK).numpy(),
                               rtol=1e-6)


def test_positional_arguments_bind_as_keras():
    cell = layers.LSTMCell(4, "relu", "sigmoid", False)  # Keras: the 4th is use_bias
    assert cell.use_bias is False and cell.unit_forget_bias is True
    gru = layers.GRUCell(4, "tanh", "sigmoid", False)
    assert gru.use_bias is False and gru.reset_after is True
    lstm = layers.LSTM(4, "tanh", "sigmoid", True, "glorot_uniform", "orthogonal", "zeros",
                       False)  # 8th: unit_forget_bias
    assert lstm.unit_forget_bias is False
    with pytest.raises(ValueError, match="use_cudnn"):  # Keras's SimpleRNN has none
        layers.SimpleRNN(3, use_cudnn="auto")


@pytest.mark.parametrize("make", [lambda: layers.LSTM(2, time_major=True),
                                  lambda: layers.GRU(2, time_major=False),
                                  lambda: layers.SimpleRNN(2, time_major=True),
                                  lambda: layers.RNN(layers.LSTMCell(2), time_major=True),
                                  lambda: layers.Bidirectional(layers.LSTM(2),
                                                               time_major=True)])
def test_time_major_is_refused_naming_it(make):
    with pytest.raises(ValueError, match="time_major"):
        make()


def test_keras3_has_no_time_major_either():
    keras = _keras()
    for make in (lambda: keras.layers.LSTM(2, time_major=True),
                 lambda: keras.layers.RNN(keras.layers.LSTMCell(2), time_major=True)):
        with pytest.raises(ValueError, match="time_major"):
            make()


@pytest.mark.parametrize("name", ["SimpleRNN", "LSTM", "GRU", "SimpleRNNCell", "LSTMCell",
                                  "GRUCell", "RNN", "StackedRNNCells", "Bidirectional"])
def test_signatures_are_keras3s(name):
    keras = _keras()

    def sig(cls):
        return [(p.name, repr(p.default))
                for p in inspect.signature(cls.__init__).parameters.values()]

    assert sig(getattr(layers, name)) == sig(getattr(keras.layers, name))


@pytest.mark.parametrize("layer_name", ["SimpleRNN", "LSTM", "GRU"])
def test_config_has_keras3s_keys_and_keras_builds_from_it(layer_name):
    keras = _keras()
    extra = {"LSTM": {"unit_forget_bias": False}, "GRU": {"reset_after": False}}.get(
        layer_name, {})
    kwargs = dict(return_sequences=True, go_backwards=True, dropout=0.1, seed=3, **extra)
    ours = getattr(layers, layer_name)(4, **kwargs)
    theirs = getattr(keras.layers, layer_name)(4, **kwargs)
    # Keras 3's SimpleRNN.get_config drops its `seed` (its LSTM/GRU keep it); fastnet keeps
    # it for all three, and Keras's from_config accepts it
    extra_keys = {"seed"} if layer_name == "SimpleRNN" else set()
    assert set(ours.get_config()) == set(theirs.get_config()) | extra_keys
    rebuilt = getattr(keras.layers, layer_name).from_config(ours.get_config())
    ours(X1)
    rebuilt(X1)
    rebuilt.set_weights(ours.get_weights())
    _close(_np(ours(X1, mask=MASK)), _k(keras, rebuilt(X1, mask=MASK)), layer_name)


# ---- stateful, go_backwards, unroll: against Keras with the same weights --------------------

def _pair(keras, make):
    """(ours, theirs) built by make(module) on batch 3, theirs given our weights."""
    ours, theirs = make(layers), make(keras.layers)
    ours(X1)
    theirs(X1)
    theirs.set_weights(ours.get_weights())
    if ours.stateful:
        ours.reset_states()
        theirs.reset_states()
    return ours, theirs


def _pair_no_reset(keras, make):
    """_pair for layers Keras cannot reset: fresh layers, built by a call on X1 (which
    leaves states), theirs given our weights and both given the same zero states."""
    ours, theirs = make(layers), make(keras.layers)
    ours(X1)
    theirs(X1)
    theirs.set_weights(ours.get_weights())
    ours.reset_states()
    for v in keras.tree.flatten(theirs.states):
        v.assign(np.zeros(v.shape, np.float32))
    return ours, theirs


def _stateful_run(keras, ours, theirs, keras_resets=True):
    """Two calls carrying the states, a reset, a call from zeros again."""
    first = None
    for i, x in enumerate((X1, X2)):
        out = _np(ours(x))
        first = out if first is None else first
        _close(out, _k(keras, theirs(x)), f"call {i + 1}")
        _close(_np(ours.states), _k(keras, theirs.states), f"states after call {i + 1}")
    assert not np.allclose(out[0], first[0])  # the second call started from the states
    ours.reset_states()
    assert all(not np.any(s) for s in _np(ours.states))
    if keras_resets:
        theirs.reset_states()
        _close(_np(ours(X3)), _k(keras, theirs(X3)), "after reset_states")
    else:  # Keras 3 cannot reset the nested states of a stack of cells (it raises)
        _close(_np(ours(X1)), first, "after reset_states, as the first call")


STATEFUL = [
    (name, flags) for name in ("SimpleRNN", "LSTM", "GRU")
    for flags in ({}, {"go_backwards": True, "return_sequences": True},
                  {"return_state": True, "unroll": True},
                  {"go_backwards": True, "return_state": True, "unroll": True,
                   "return_sequences": True})]


@pytest.mark.parametrize("name,flags", STATEFUL)
def test_stateful_layers_match_keras(name, flags):
    keras = _keras()
    ours, theirs = _pair(keras, lambda m: getattr(m, name)(4, stateful=True, **flags))
    _stateful_run(keras, ours, theirs)


@pytest.mark.parametrize("cells", ["LSTMCell", "stacked"])
def test_stateful_rnn_of_cells_matches_keras(cells):
    keras = _keras()

    def make(m):
        cell = m.LSTMCell(3) if cells == "LSTMCell" else [m.GRUCell(3), m.LSTMCell(2)]
        return m.RNN(cell, stateful=True, return_sequences=True, go_backwards=True)

    ours, theirs = _pair(keras, make) if cells == "LSTMCell" else _pair_no_reset(keras, make)
    _stateful_run(keras, ours, theirs, keras_resets=cells == "LSTMCell")


@pytest.mark.parametrize("merge_mode", ["concat", "sum", None])
@pytest.mark.parametrize("inner", ["LSTM", "GRU"])
def test_stateful_bidirectional_matches_keras(inner, merge_mode):
    keras = _keras()

    def make(m):
        return m.Bidirectional(getattr(m, inner)(3, stateful=True, return_sequences=True),
                               merge_mode=merge_mode)

    ours, theirs = _pair(keras, make)
    assert len(ours.states) == len(theirs.states)
    _stateful_run(keras, ours, theirs)


@pytest.mark.parametrize("inner", ["SimpleRNN", "LSTM", "GRU"])
def test_bidirectional_go_backwards_matches_keras(inner):
    keras = _keras()

    def make(m):  # the forward layer reads backwards, the given backward layer forwards
        kw = dict(return_sequences=True, return_state=True)
        return m.Bidirectional(getattr(m, inner)(3, go_backwards=True, **kw),
                               backward_layer=getattr(m, inner)(3, **kw))

    ours, theirs = _pair(keras, make)
    _close(_np(ours(X1, mask=MASK)), _k(keras, theirs(X1, mask=MASK)), "masked")
    _close(_np(ours(X2)), _k(keras, theirs(X2)), "unmasked")
    for module, exc in ((layers, ValueError), (keras.layers, ValueError)):
        with pytest.raises(exc, match="go_backwards"):  # both directions backwards
            module.Bidirectional(getattr(module, inner)(3, go_backwards=True))
        with pytest.raises(exc, match="go_backwards"):  # both forwards
            module.Bidirectional(getattr(module, inner)(3),
                                 backward_layer=getattr(module, inner)(3))


@pytest.mark.parametrize("name", ["SimpleRNN", "LSTM", "GRU"])
def test_unroll_gives_the_same_numbers_as_the_loop_and_as_keras(name):
    keras = _keras()
    ours, theirs = _pair(keras, lambda m: getattr(m, name)(4, unroll=True, return_state=True,
                                                         return_sequences=True))
    rolled = getattr(layers, name)(4, return_state=True, return_sequences=True)
    rolled(X1)
    rolled.set_weights(ours.get_weights())
    for a, b in zip(_np(ours(X1, mask=MASK)), _np(rolled(X1, mask=MASK))):
        np.testing.assert_array_equal(a, b)
    _close(_np(ours(X1, mask=MASK)), _k(keras, theirs(X1, mask=MASK)), "unrolled")
    with pytest.raises(ValueError, match="unroll"):
        getattr(layers, name)(4, unroll=True)(fastnet.Input((None, 2)))


@pytest.mark.parametrize("flags", [{}, {"go_backwards": True, "return_state": True},
                                   {"return_sequences": True, "zero_output_for_mask": True}])
def test_conv_lstm2d_masks_and_regularizers_match_keras(flags):
    keras = _keras()
    x = RNG.standard_normal((3, 4, 5, 5, 2)).astype(np.float32)
    mask = np.array([[1, 0, 1, 1], [1, 1, 0, 0], [0, 1, 1, 1]], bool)
    kw = dict(padding="same", kernel_regularizer="l2", recurrent_regularizer="l1",
              bias_regularizer="l2", activity_regularizer="l2", **flags)
    ours, theirs = layers.ConvLSTM2D(2, 3, **kw), keras.layers.ConvLSTM2D(2, 3, **kw)
    ours(x)
    theirs(x)
    theirs.set_weights(ours.get_weights())
    _close(_np(ours(x, mask=mask)), _k(keras, theirs(x, mask=mask)), "masked ConvLSTM2D")
    np.testing.assert_allclose(sorted(float(v) for v in ours.losses),
                               sorted(float(keras.ops.convert_to_numpy(v))
                                      for v in theirs.losses), rtol=1e-5)
    assert set(ours.get_config()) == set(theirs.get_config())


# ---- a cell stepped by hand keeps its dropout masks until reset ----------------------------

def _np_step(name, cell, x, states, in_masks, rec_masks):
    """One step of Keras's cell formulas (implementation 1 when per-gate masks) in numpy."""
    k, rk = cell.kernel.numpy().astype(np.float64), cell.recurrent_kernel.numpy().astype(
        np.float64)
    b = cell.bias.numpy().astype(np.float64)
    u, h = cell.units, states[0].astype(np.float64)
    g = {"SimpleRNNCell": 1, "LSTMCell": 4, "GRUCell": 3}[name]
    ims = [np.ones_like(x)] * g if in_masks is None else in_masks
    rms = [np.ones_like(h)] * g if rec_masks is None else rec_masks
    if len(ims) == 1:
        ims = ims * g
    if len(rms) == 1:
        rms = rms * g
    xs = [(x * ims[i]) @ k[:, i * u:(i + 1) * u] for i in range(g)]
    hs = [h * rms[i] for i in range(g)]

    def sig(v):
        return 1 / (1 + np.exp(-v))

    if name == "SimpleRNNCell":
        h = np.tanh(xs[0] + b + hs[0] @ rk)
        return h, [h]
    if name == "LSTMCell":
        z = [xs[i] + b[i * u:(i + 1) * u] + hs[i] @ rk[:, i * u:(i + 1) * u] for i in range(4)]
        c = sig(z[1]) * states[1] + sig(z[0]) * np.tanh(z[2])
        h = sig(z[3]) * np.tanh(c)
        return h, [h, c]
    bi, br = b[0], b[1]  # GRU, reset_after=True
    rec = [hs[i] @ rk[:, i * u:(i + 1) * u] + br[i * u:(i + 1) * u] for i in range(3)]
    z = sig(xs[0] + bi[:u] + rec[0])
    r = sig(xs[1] + bi[u:2 * u] + rec[1])
    hh = np.tanh(xs[2] + bi[2 * u:] + r * rec[2])
    h = z * h + (1 - z) * hh
    return h, [h]


def _masks(m):
    if m is None:
        return None
    return [v.numpy() for v in (m if isinstance(m, list) else [m])]


@pytest.mark.parametrize("rec", [0.0, 0.4])
@pytest.mark.parametrize("name", ["SimpleRNNCell", "LSTMCell", "GRUCell"])
def test_cell_called_step_by_step_keeps_one_mask_until_reset(name, rec):
    cell = getattr(layers, name)(4, dropout=0.5, recurrent_dropout=rec, seed=11,
                                 bias_initializer="uniform")
    states = [s.numpy() for s in cell.get_initial_state(batch_size=3)]
    states = [s + RNG.standard_normal(s.shape).astype(np.float32) for s in states]
    seen = []
    for t in range(3):
        x = X1[:, t]
        out, new = cell(x, [fastnet.ops.convert_to_tensor(s) for s in states], training=True)
        in_m, rec_m = _masks(cell.get_dropout_mask(x)), _masks(
            cell.get_recurrent_dropout_mask(states[0]))
        assert (rec_m is not None) == (rec > 0)
        if rec > 0 and name != "SimpleRNNCell":  # Keras's implementation 1: one per gate
            assert len(in_m) == len(rec_m) == cell.gates
        want, want_states = _np_step(name, cell, x.astype(np.float64), states, in_m, rec_m)
        np.testing.assert_allclose(out.numpy(), want, rtol=1e-5, atol=1e-5)
        new = new if isinstance(new, list) else [new]
        states = [s.numpy() for s in new]
        for a, b in zip(states, want_states):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
        seen.append(in_m)
    for m in seen[1:]:  # the same mask at every step
        for a, b in zip(m, seen[0]):
            np.testing.assert_array_equal(a, b)
    cell.reset_dropout_mask()
    cell.reset_recurrent_dropout_mask()
    fresh = _masks(cell.get_dropout_mask(X1[:, 0]))
    assert not all(np.array_equal(a, b) for a, b in zip(fresh, seen[0]))
    # inference: no mask applied (the cached one is not used)
    out, _ = cell(X1[:, 0], cell.get_initial_state(batch_size=3), training=False)
    want, _ = _np_step(name, cell, X1[:, 0].astype(np.float64),
                       [np.zeros((3, 4))] * (2 if name == "LSTMCell" else 1), None, None)
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-5, atol=1e-5)


def test_rnn_layer_resets_its_cells_masks_and_uses_a_mask_set_before():
    cell = layers.LSTMCell(4, dropout=0.5, seed=4)
    rnn = layers.RNN(cell, return_sequences=True)
    rnn(X1)
    mask = cell.get_dropout_mask(X1[:, 0])  # the user draws the mask first, as in Keras
    got = rnn(X1, training=True).numpy()
    assert cell._dropout_mask is None  # the layer reset it after its call
    np.testing.assert_allclose(got, rnn(X1 * mask.numpy()[:, None, :]).numpy(), rtol=1e-6)
    again = rnn(X1, training=True).numpy()  # a new mask for the next call
    assert not np.allclose(again, got)


@pytest.mark.parametrize("rec", [0.0, 0.4])
@pytest.mark.parametrize("name", ["SimpleRNNCell", "LSTMCell", "GRUCell"])
def test_cell_steps_with_its_masks_match_keras(name, rec):
    keras = _keras()
    ours = getattr(layers, name)(4, dropout=0.5, recurrent_dropout=rec, seed=2)
    theirs = getattr(keras.layers, name)(4, dropout=0.5, recurrent_dropout=rec)
    states = ours.get_initial_state(batch_size=3)
    ours(X1[:, 0], states)
    theirs(X1[:, 0], theirs.get_initial_state(batch_size=3))
    theirs.set_weights(ours.get_weights())
    kstates = [keras.ops.convert_to_tensor(s.numpy()) for s in states]
    for t in range(4):
        out, states = ours(X1[:, t], states, training=True)
        if t == 0:  # Keras's cell given our (cached) masks
            def to_k(m):
                if m is None:
                    return None
                if isinstance(m, list):
                    return [keras.ops.convert_to_tensor(v.numpy()) for v in m]
                return keras.ops.convert_to_tensor(m.numpy())

            theirs._dropout_mask = to_k(ours.get_dropout_mask(X1[:, 0]))
            theirs._recurrent_dropout_mask = to_k(ours.get_recurrent_dropout_mask(
                states[0] if isinstance(states, list) else states))
        kout, kstates = theirs(X1[:, t], kstates, training=True)
        _close(_np(out), _k(keras, kout), f"step {t}")
        _close(_np(states), _k(keras, kstates), f"states at step {t}")


@pytest.mark.parametrize("cell_name", ["LSTMCell", "GRUCell"])
def test_implementation_1_draws_one_input_mask_per_gate_as_keras(cell_name):
    keras = _keras()
    ours = layers.RNN(getattr(layers, cell_name)(4, dropout=0.4, implementation=1, seed=3),
                      return_sequences=True)
    theirs = keras.layers.RNN(getattr(keras.layers, cell_name)(4, dropout=0.4,
                                                               implementation=1),
                              return_sequences=True)
    ours(X1)
    theirs(X1)
    theirs.set_weights(ours.get_weights())
    y = ours(X1, mask=MASK, training=True)
    in_masks, rec_masks = ours.cell._dropout_masks
    assert rec_masks is None and len(in_masks) == ours.cell.gates
    assert not np.array_equal(in_masks[0].numpy(), in_masks[1].numpy())
    theirs.cell.get_dropout_mask = lambda s: [keras.ops.convert_to_tensor(m.numpy())
                                              for m in in_masks]
    _close(_np(y), _k(keras, theirs(X1, mask=MASK, training=True)), "implementation=1")
    with pytest.raises(ValueError, match="implementation"):  # as Keras: not on SimpleRNN
        layers.SimpleRNNCell(3, implementation=1)
    with pytest.raises(ValueError, match="implementation"):
        getattr(layers, cell_name)(3, implementation=3)


# ---- weights files: Keras 3's keys ---------------------------------------------------------

def _model(keras_module):
    m = keras_module.layers
    return keras_module.Sequential([
        keras_module.Input((5, 2)), m.LSTM(3, return_sequences=True),
        m.RNN(m.GRUCell(3), return_sequences=True),
        m.RNN([m.SimpleRNNCell(3), m.LSTMCell(2)], return_sequences=True),
        m.Bidirectional(m.SimpleRNN(2))])


def _h5_keys(path):
    import h5py

    keys = []
    with h5py.File(path, "r") as f:
        f.visititems(lambda k, v: keys.append(k) if isinstance(v, h5py.Dataset) else None)
    return sorted(keys)


def test_weights_files_have_keras3s_keys_and_load_both_ways(tmp_path):
    keras = _keras()
    ours, theirs = _model(fastnet), _model(keras)
    ours.save_weights(str(tmp_path / "ours.weights.h5"))
    theirs.save_weights(str(tmp_path / "theirs.weights.h5"))
    assert _h5_keys(tmp_path / "ours.weights.h5") == _h5_keys(tmp_path / "theirs.weights.h5")
    assert "layers/rnn/cell/vars/0" in _h5_keys(tmp_path / "ours.weights.h5")
    ours.load_weights(str(tmp_path / "theirs.weights.h5"))
    _close(_np(ours(X1)), _k(keras, theirs(X1)), "Keras's weights in fastnet")
    other = _model(fastnet)
    other.save_weights(str(tmp_path / "other.weights.h5"))
    theirs.load_weights(str(tmp_path / "other.weights.h5"))
    _close(_np(other(X2)), _k(keras, theirs(X2)), "fastnet's weights in Keras")


def test_keras_model_file_with_rnn_of_cells_loads(tmp_path):
    keras = _keras()
    theirs = _model(keras)
    theirs.save(str(tmp_path / "m.keras"))
    ours = fastnet.models.load_model(str(tmp_path / "m.keras"))
    assert isinstance(ours.layers[0].cell, layers.LSTMCell)
    _close(_np(ours(X1)), _k(keras, theirs(X1)), "loaded .keras model")


def test_weights_written_by_fastnet_before_cells_had_keras_keys_still_load(tmp_path):
    import h5py

    model = _model(fastnet)
    path = str(tmp_path / "old.weights.h5")
    model.save_weights(path)
    with h5py.File(path, "a") as f:  # the layout of RNN(cell) that fastnet wrote before
        f.move("layers/rnn/cell", "layers/rnn/layers/gru_cell")
        f.move("layers/rnn_1/cell/cells", "layers/rnn_1/cell/layers")
        f.move("layers/rnn_1/cell", "layers/rnn_1/layers/stacked_rnn_cells")
    fresh = _model(fastnet)
    fresh.load_weights(path)
    np.testing.assert_allclose(fresh(X1).numpy(), model(X1).numpy(), rtol=1e-6)


def test_legacy_h5_model_files_load_both_ways(tmp_path):
    keras = _keras()
    ours = _model(fastnet)
    ours.save(str(tmp_path / "ours.h5"))
    theirs = keras.models.load_model(str(tmp_path / "ours.h5"), compile=False)
    _close(_np(ours(X1)), _k(keras, theirs(X1)), "fastnet's .h5 in Keras")
    theirs.save(str(tmp_path / "theirs.h5"))
    back = fastnet.models.load_model(str(tmp_path / "theirs.h5"))
    _close(_np(back(X2)), _np(ours(X2)), "Keras's .h5 back in fastnet")
