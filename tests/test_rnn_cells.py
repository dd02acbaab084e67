"""layers.RNN(cell) over the built-in cells, StackedRNNCells and user cells; Masking;
initial_state, return_state, go_backwards, the stateful surface, configs and saving — as a
Keras 3 user writes them. References: numpy loops, the SimpleRNN/LSTM/GRU layers with the
same weights, and Keras 3 itself (optional, KERAS_BACKEND=torch)."""

import os

import numpy as np
import pytest
from oracle import assert_close, rand
from test_rnn_dropout_kernels import ref_sequence

import fastnet as keras
from fastnet import layers, ops

CASES = [("SimpleRNN", "SimpleRNNCell", {}), ("LSTM", "LSTMCell", {}),
         ("GRU", "GRUCell", {}), ("GRU", "GRUCell", {"reset_after": False}),
         ("LSTM", "LSTMCell", {"activation": "relu", "use_bias": False})]
MASK = np.array([[1, 1, 0, 1, 1], [0, 0, 1, 1, 0], [1, 1, 1, 1, 1]], bool)


def _pair(layer_name, cell_name, kw, **flags):
    lay = getattr(layers, layer_name)(4, **kw, **flags)
    rnn = layers.RNN(getattr(layers, cell_name)(4, **kw), **flags)
    x = rand((3, 5, 3), seed=1)
    lay(x)
    rnn(x)
    rnn.set_weights(lay.get_weights())
    return lay, rnn, x


@pytest.mark.parametrize("layer_name,cell_name,kw", CASES)
@pytest.mark.parametrize("flags", [{"return_sequences": True},
                                   {"return_state": True, "go_backwards": True},
                                   {"return_sequences": True, "zero_output_for_mask": True}])
def test_rnn_of_builtin_cell_equals_the_layer(layer_name, cell_name, kw, flags):
    lay, rnn, x = _pair(layer_name, cell_name, kw, **flags)
    assert [w.shape for w in rnn.weights] == [w.shape for w in lay.weights]
    assert [w.name for w in rnn.weights][:2] == ["kernel", "recurrent_kernel"]
    n_states = 2 if layer_name == "LSTM" else 1
    init = [rand((3, 4), seed=10 + i) for i in range(n_states)]
    for kwargs in ({}, {"mask": MASK}, {"initial_state": init, "mask": MASK}):
        a, b = lay(x, **kwargs), rnn(x, **kwargs)
        a, b = (a, b) if isinstance(a, list) else ([a], [b])
        assert len(a) == len(b)
        for p, q in zip(a, b):
            np.testing.assert_allclose(q.numpy(), p.numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("kind,cell", [("simple", "SimpleRNNCell"), ("lstm", "LSTMCell"),
                                       ("gru", "GRUCell")])
def test_rnn_cell_against_numpy_with_mask_and_initial_state(kind, cell):
    rnn = layers.RNN(getattr(layers, cell)(4), return_sequences=True, return_state=True,
                     go_backwards=True)
    x = rand((3, 5, 3), seed=2)
    n = 2 if kind == "lstm" else 1
    init = [rand((3, 4), seed=20 + i) for i in range(n)]
    out = rnn(x, initial_state=init, mask=MASK)
    w = [v.numpy().astype(np.float64) for v in rnn.cell.weights]
    want = ref_sequence(kind, x.astype(np.float64), *w, *[s.astype(np.float64) for s in init],
                        go_backwards=True, mask=MASK)
    assert_close(out[0].numpy(), want[:, :5], atol=1e-5, what="outputs")
    for i in range(n):
        assert_close(out[1 + i].numpy(), want[:, 5 + i], atol=1e-5, what=f"state {i}")


def test_builtin_cell_called_one_step_and_in_a_user_loop():
    cell = layers.LSTMCell(3)
    x = rand((2, 4, 5), seed=3)
    states = cell.get_initial_state(batch_size=2)
    outs = []
    for t in range(4):
        out, states = cell(x[:, t], states)
        outs.append(out.numpy())
    assert cell.state_size == [3, 3] and cell.output_size == 3
    w = [v.numpy().astype(np.float64) for v in cell.weights]
    want = ref_sequence("lstm", x.astype(np.float64), *w)
    assert_close(np.stack(outs, 1), want[:, :4], atol=1e-5)
    gru = layers.GRUCell(2)
    h = ops.zeros((2, 2))
    out, new = gru(x[:, 0], h)  # a single tensor state comes back as a tensor, as Keras
    assert not isinstance(new, list) and new.shape == (2, 2)
    with pytest.raises(ValueError, match="expected 2 state"):
        cell(x[:, 0], [states[0]])


class MinimalRNNCell(layers.Layer):
    """Keras 3's documented user cell."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units),
                                      initializer="uniform", name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.units),
                                                initializer="uniform", name="recurrent_kernel")

    def call(self, inputs, states):
        prev_output = states[0]
        h = ops.matmul(inputs, self.kernel)
        output = h + ops.matmul(prev_output, self.recurrent_kernel)
        return output, [output]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


class TwoStateCell(layers.Layer):
    """Two states of different sizes, an output of a third size, a training argument."""

    state_size = [3, 2]
    output_size = 1

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], 3), initializer="ones", name="w")

    def call(self, inputs, states, training=False):
        a = ops.tanh(ops.matmul(inputs, self.w) + states[0])
        b = states[1] + 1.0
        out = ops.sum(a, axis=-1, keepdims=True) + (10.0 if training else 0.0)
        return out, [a, b]


def test_user_cell_runs_in_python_with_masks_and_gradients():
    cell = MinimalRNNCell(3)
    rnn = layers.RNN(cell, return_sequences=True)
    x = rand((3, 5, 2), seed=4)
    y = rnn(x, mask=MASK).numpy()
    k, rk = cell.kernel.numpy().astype(np.float64), cell.recurrent_kernel.numpy().astype(np.float64)
    h = np.zeros((3, 3))
    prev = np.zeros((3, 3))
    want = []
    for t in range(5):
        hn = x[:, t] @ k + h @ rk
        m = MASK[:, t][:, None]
        h = np.where(m, hn, h)
        prev = np.where(m, hn, prev)
        want.append(prev)
    assert_close(y, np.stack(want, 1), atol=1e-5)
    with keras.GradientTape() as tape:
        loss = ops.sum(rnn(x, mask=MASK))
    grads = tape.gradient(loss, rnn.trainable_weights)
    assert len(grads) == 2 and all(np.abs(g.numpy()).sum() > 0 for g in grads)


def test_user_cell_with_several_states_and_training_flag():
    rnn = layers.RNN(TwoStateCell(), return_state=True, return_sequences=True)
    x = rand((2, 4, 3), seed=5)
    out, a, b = rnn(x)
    assert out.shape == (2, 4, 1) and a.shape == (2, 3) and b.shape == (2, 2)
    np.testing.assert_allclose(b.numpy(), 4.0)
    train = rnn(x, training=True)[0].numpy()
    np.testing.assert_allclose(train - out.numpy(), 10.0, rtol=1e-6)
    assert rnn.compute_output_shape((2, 4, 3)) == [(2, 4, 1), (2, 3), (2, 2)]


def test_stacked_cells_on_the_kernels_equal_the_step_loop(monkeypatch):
    cells = [layers.LSTMCell(4), layers.GRUCell(3), layers.SimpleRNNCell(2)]
    rnn = layers.RNN(cells, return_sequences=True, return_state=True, go_backwards=True)
    assert isinstance(rnn.cell, layers.StackedRNNCells)
    assert rnn.cell.state_size == [[4, 4], 3, 2] and rnn.cell.output_size == 2
    x = rand((3, 5, 3), seed=6)
    fast = rnn(x, mask=MASK)
    assert len(fast) == 4 and len(fast[1]) == 2 and fast[2].shape == (3, 3)
    monkeypatch.setattr(layers.RNN, "_builtin_chain", lambda self: None)
    slow = rnn(x, mask=MASK)
    for a, b in zip(_flat(fast), _flat(slow)):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)
    # by hand: the cells one after the other over the whole (reversed) sequence
    monkeypatch.undo()
    h = x[:, ::-1]
    m = MASK[:, ::-1]
    for cell, kind in zip(cells, ("lstm", "gru", "simple")):
        w = [v.numpy().astype(np.float64) for v in cell.weights]
        h = ref_sequence(kind, h.astype(np.float64), *w, mask=m)[:, :5]
    assert_close(fast[0].numpy(), h, atol=1e-5)


def _flat(x):
    if isinstance(x, (list, tuple)):
        return [v for item in x for v in _flat(item)]
    return [x]


def test_subclass_of_a_builtin_cell_runs_its_own_step():
    class ScaledGRUCell(layers.GRUCell):
        def call(self, inputs, states, training=False):
            out, new = super().call(inputs, states, training=training)
            return out * 2.0, new

    x = rand((2, 4, 3), seed=30)
    rnn = layers.RNN(ScaledGRUCell(3), return_sequences=True, return_state=True)
    out, h = rnn(x)
    plain = layers.RNN(layers.GRUCell(3), return_sequences=True, return_state=True)
    plain(x)
    plain.set_weights(rnn.get_weights())
    want, want_h = plain(x)
    np.testing.assert_allclose(out.numpy(), 2.0 * want.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h.numpy(), want_h.numpy(), rtol=1e-5, atol=1e-6)


def test_stacked_user_and_builtin_cells_with_initial_state():
    cells = layers.StackedRNNCells([MinimalRNNCell(3), layers.LSTMCell(2)])
    rnn = layers.RNN(cells, return_state=True)
    x = rand((2, 4, 2), seed=7)
    init = [rand((2, 3), seed=1), [rand((2, 2), seed=2), rand((2, 2), seed=3)]]
    out, s1, s2 = rnn(x, initial_state=init)
    assert out.shape == (2, 2) and s1.shape == (2, 3) and [s.shape for s in s2] == [(2, 2)] * 2
    # the same, flat
    out2 = rnn(x, initial_state=_flat(init))[0]
    np.testing.assert_allclose(out2.numpy(), out.numpy())
    with pytest.raises(ValueError, match="received 2 initial state"):
        rnn(x, initial_state=_flat(init)[:2])


def test_initial_state_as_symbolic_inputs_in_a_functional_model(tmp_path):
    seq = keras.Input((5, 3))
    h_in, c_in = keras.Input((4,)), keras.Input((4,))
    rnn = layers.RNN(layers.LSTMCell(4), return_state=True)
    out, h, c = rnn(seq, initial_state=[h_in, c_in])
    model = keras.Model([seq, h_in, c_in], [out, h, c])
    x, h0, c0 = rand((3, 5, 3), seed=8), rand((3, 4), seed=9), rand((3, 4), seed=10)
    got = model([x, h0, c0])
    want = rnn(x, initial_state=[h0, c0])
    for a, b in zip(got, want):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)
    assert not np.allclose(got[0].numpy(), rnn(x)[0].numpy())
    path = os.path.join(tmp_path, "init_state.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    for a, b in zip(loaded.predict([x, h0, c0], verbose=0), model.predict([x, h0, c0], verbose=0)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_masking_layer_feeds_the_mask_into_rnns():
    x = rand((3, 5, 2), seed=11)
    x[~MASK] = 0.0
    masking = layers.Masking(mask_value=0.0)
    np.testing.assert_array_equal(masking.compute_mask(x).numpy(), MASK)
    y = x.copy()
    y[0, 2, 0] = 5.0  # a partly-zero step is not masked
    assert masking.compute_mask(y).numpy()[0, 2]
    model = keras.Sequential([keras.Input((5, 2)), layers.Masking(),
                              layers.RNN(layers.GRUCell(3), return_sequences=True)])
    out = model(x).numpy()
    rnn = model.layers[-1]
    np.testing.assert_allclose(out, rnn(x, mask=MASK).numpy(), rtol=1e-6, atol=1e-7)
    # masked steps repeat the previous output (zeros before the first step)
    np.testing.assert_allclose(out[0, 2], out[0, 1])
    np.testing.assert_array_equal(out[1, :2], 0.0)
    inp = keras.Input((None, 2))
    fmodel = keras.Model(inp, layers.LSTM(3)(layers.Masking(-1.0)(inp)))
    z = np.full((1, 5, 2), -1.0, np.float32)
    z[0, :2] = x[0, :2]
    short = fmodel(z[:, :2]).numpy()
    np.testing.assert_allclose(fmodel(z).numpy(), short, rtol=1e-5, atol=1e-6)
    # Masking zeroes the masked steps' features (what a layer without masking sees)
    np.testing.assert_array_equal(layers.Masking(-1.0)(z).numpy()[0, 2:], 0.0)
    assert layers.Masking(2.5).get_config()["mask_value"] == 2.5
    with pytest.raises(TypeError, match="mask_value"):
        layers.Masking(mask_value="x")


@pytest.mark.parametrize("cell", ["LSTMCell", "GRUCell", "SimpleRNNCell"])
def test_stateful_rnn_of_cell(cell):
    x = rand((2, 6, 3), seed=12)
    rnn = layers.RNN(getattr(layers, cell)(4), stateful=True, return_sequences=True)
    whole = layers.RNN(getattr(layers, cell)(4), return_sequences=True)
    rnn.build((2, 6, 3))
    whole(x)
    whole.set_weights(rnn.get_weights())
    assert all(np.all(s.numpy() == 0) for s in _flat(rnn.states))
    first = rnn(x[:, :3]).numpy()
    second = rnn(x[:, 3:]).numpy()
    np.testing.assert_allclose(np.concatenate([first, second], 1), whole(x).numpy(),
                               rtol=1e-5, atol=1e-6)
    states = _flat(rnn.states)
    np.testing.assert_allclose(states[0].numpy(), second[:, -1], rtol=1e-6)
    rnn.reset_states()
    assert all(np.all(s.numpy() == 0) for s in _flat(rnn.states))
    np.testing.assert_allclose(rnn(x[:, :3]).numpy(), first, rtol=1e-6)
    with pytest.raises(ValueError, match="batch size"):
        rnn(x[:1, :3])
    with pytest.raises(ValueError, match="batch size must be static"):
        keras.Sequential([keras.Input((6, 3)),
                          layers.RNN(getattr(layers, cell)(2), stateful=True)])


def test_rnn_and_cell_argument_errors():
    with pytest.raises(ValueError, match="`call` method"):
        layers.RNN(object())
    with pytest.raises(ValueError, match="state_size"):
        layers.RNN(type("NoState", (), {"call": lambda self, x, s: (x, s)})())
    with pytest.raises(ValueError, match="units"):
        layers.LSTMCell(0)
    with pytest.raises(ValueError, match="recurrent_activation"):
        layers.SimpleRNNCell(3, recurrent_activation="relu")
    with pytest.raises(ValueError, match="ndim|rank|sequences"):
        layers.RNN(layers.GRUCell(2))(np.zeros((2, 3), np.float32))
    assert layers.LSTMCell(2, dropout=1.5).dropout == 1.0  # Keras clips the rates


def test_configs_round_trip_with_the_nested_cell():
    rnn = layers.RNN(layers.GRUCell(3, reset_after=False, dropout=0.1, seed=4),
                     return_sequences=True, go_backwards=True, name="rnn_gru")
    cfg = rnn.get_config()
    assert cfg["cell"]["class_name"] == "GRUCell"
    assert cfg["cell"]["config"]["reset_after"] is False and cfg["cell"]["config"]["units"] == 3
    assert cfg["go_backwards"] is True and cfg["return_sequences"] is True
    clone = layers.RNN.from_config(cfg)
    x = rand((2, 4, 3), seed=13)
    rnn(x)
    clone(x)
    clone.set_weights(rnn.get_weights())
    np.testing.assert_allclose(clone(x).numpy(), rnn(x).numpy())
    stacked = layers.RNN([layers.LSTMCell(3, unit_forget_bias=False), layers.SimpleRNNCell(2)])
    cfg = stacked.get_config()
    assert cfg["cell"]["class_name"] == "StackedRNNCells"
    inner = cfg["cell"]["config"]["cells"]
    assert [c["class_name"] for c in inner] == ["LSTMCell", "SimpleRNNCell"]
    assert inner[0]["config"]["unit_forget_bias"] is False
    again = layers.deserialize(layers.serialize(stacked))
    assert isinstance(again.cell, layers.StackedRNNCells)
    assert [type(c).__name__ for c in again.cell.cells] == ["LSTMCell", "SimpleRNNCell"]
    user = layers.RNN(MinimalRNNCell(3))
    back = layers.RNN.from_config(user.get_config(),
                                  custom_objects={"MinimalRNNCell": MinimalRNNCell})
    assert isinstance(back.cell, MinimalRNNCell) and back.cell.units == 3


def test_save_and_load_a_model_holding_rnn_of_cells(tmp_path):
    inp = keras.Input((5, 3))
    x = layers.Masking()(inp)
    x = layers.RNN([layers.LSTMCell(4), layers.GRUCell(3)], return_sequences=True)(x)
    x = layers.RNN(layers.SimpleRNNCell(2))(x)
    model = keras.Model(inp, layers.Dense(1)(x))
    data = rand((4, 5, 3), seed=14)
    data[0, 3:] = 0.0
    want = model.predict(data, verbose=0)
    path = os.path.join(tmp_path, "rnn_cells.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(data, verbose=0), want, rtol=1e-6, atol=1e-6)
    assert [type(lay).__name__ for lay in loaded.layers][1:3] == ["Masking", "RNN"]


# ---- Keras 3 as the oracle (optional) -------------------------------------------------

def _keras3():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    k = pytest.importorskip("keras")
    if k.backend.backend() != "torch":
        pytest.skip("Keras oracle runs on the torch backend")
    return k


@pytest.mark.parametrize("cell,kw", [("LSTMCell", {}), ("GRUCell", {}),
                                     ("GRUCell", {"reset_after": False}),
                                     ("SimpleRNNCell", {"activation": "relu"})])
def test_rnn_of_cell_matches_keras(cell, kw):
    k = _keras3()
    x = rand((3, 5, 3), seed=15)
    flags = dict(return_sequences=True, return_state=True, go_backwards=True)
    ours = layers.RNN(getattr(layers, cell)(4, **kw), **flags)
    theirs = k.layers.RNN(getattr(k.layers, cell)(4, **kw), **flags)
    ours(x)
    theirs(x)
    theirs.set_weights(ours.get_weights())
    got = ours(x, mask=MASK)
    want = theirs(x, mask=k.ops.convert_to_tensor(MASK))
    for a, b in zip(got, want):
        np.testing.assert_allclose(a.numpy(), k.ops.convert_to_numpy(b), rtol=1e-5, atol=1e-5)
    # Keras's config, read by fastnet (nested cell as Keras writes it)
    clone = layers.deserialize(k.layers.serialize(theirs))
    assert isinstance(clone.cell, getattr(layers, cell))
    clone(x)
    clone.set_weights(ours.get_weights())
    np.testing.assert_allclose(clone(x)[0].numpy(), ours(x)[0].numpy(), rtol=1e-6)


def test_stacked_cells_match_keras():
    k = _keras3()
    x = rand((2, 4, 3), seed=16)
    ours = layers.RNN([layers.LSTMCell(3), layers.GRUCell(2)], return_sequences=True)
    theirs = k.layers.RNN([k.layers.LSTMCell(3), k.layers.GRUCell(2)], return_sequences=True)
    ours(x)
    theirs(x)
    assert [tuple(w.shape) for w in theirs.weights] == [tuple(w.shape) for w in ours.weights]
    theirs.set_weights(ours.get_weights())
    np.testing.assert_allclose(ours(x).numpy(), k.ops.convert_to_numpy(theirs(x)), rtol=1e-5,
                               atol=1e-5)
    # Keras's config of the stack (cells nested under StackedRNNCells), read by fastnet
    clone = layers.deserialize(k.layers.serialize(theirs))
    assert [type(c).__name__ for c in clone.cell.cells] == ["LSTMCell", "GRUCell"]
    clone(x)
    clone.set_weights(ours.get_weights())
    np.testing.assert_allclose(clone(x).numpy(), ours(x).numpy(), rtol=1e-6)


@pytest.mark.parametrize("layer_name,cell_name", [("LSTM", "LSTMCell"), ("GRU", "GRUCell"),
                                                  ("SimpleRNN", "SimpleRNNCell")])
def test_rnn_of_cell_dropout_equals_the_layer_with_the_same_seed(layer_name, cell_name):
    kw = dict(dropout=0.3, recurrent_dropout=0.4, seed=5)
    lay = getattr(layers, layer_name)(4, return_sequences=True, **kw)
    rnn = layers.RNN(getattr(layers, cell_name)(4, **kw), return_sequences=True)
    x = rand((3, 5, 3), seed=17)
    lay(x)
    rnn(x)
    rnn.set_weights(lay.get_weights())
    got = rnn(x, mask=MASK, training=True).numpy()
    np.testing.assert_allclose(got, lay(x, mask=MASK, training=True).numpy(), rtol=1e-6,
                               atol=1e-6)
    in_masks, rec_masks = rnn.cell._dropout_masks
    assert len(in_masks) == len(rec_masks) == lay.gates
    assert not np.allclose(got, rnn(x, mask=MASK).numpy(), atol=1e-4)


def test_bidirectional_rnn_of_cell_has_its_own_backward_weights():
    x = rand((2, 5, 3), seed=18)
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
    bi = layers.Bidirectional(layers.RNN(layers.LSTMCell(4), return_sequences=True))
    ref = layers.Bidirectional(layers.LSTM(4, return_sequences=True))
    bi(x)
    ref(x)
    assert bi.forward_layer.cell is not bi.backward_layer.cell and len(bi.weights) == 6
    ref.set_weights(bi.get_weights())
    np.testing.assert_allclose(bi(x, mask=mask).numpy(), ref(x, mask=mask).numpy(),
                               rtol=1e-6, atol=1e-6)


def test_fit_save_and_load_a_registered_user_cell(tmp_path):
    @keras.saving.register_keras_serializable(package="test_rnn_cells")
    class SavedCell(MinimalRNNCell):
        pass

    x = rand((16, 5, 3), seed=19)
    y = x.sum(axis=(1, 2))[:, None]
    model = keras.Sequential([keras.Input((5, 3)), layers.RNN(SavedCell(4)), layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    before = [w.numpy().copy() for w in model.layers[0].weights]
    hist = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert np.isfinite(hist.history["loss"]).all()
    assert not np.allclose(before[0], model.layers[0].weights[0].numpy())  # the cell trained
    path = os.path.join(tmp_path, "user_cell.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert len(loaded.layers[0].cell.weights) == 2
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("build", ["LSTM", "GRU", "SimpleRNN", "LSTMCell", "GRUCell",
                                   "SimpleRNNCell"])
def test_dropout_rate_one_matches_keras(build):
    k = _keras3()
    x = rand((2, 4, 3), seed=32)

    def make(mod):
        if build.endswith("Cell"):
            return mod.RNN(getattr(mod, build)(3, dropout=1.0))
        return getattr(mod, build)(3, dropout=1.0)

    ours, theirs = make(layers), make(k.layers)
    ours(x)
    theirs(x)
    theirs.set_weights(ours.get_weights())
    np.testing.assert_allclose(ours(x, training=True).numpy(),
                               k.ops.convert_to_numpy(theirs(x, training=True)),
                               rtol=1e-5, atol=1e-6)
