"""Keras 3 contracts a user relies on without knowing it (issue 12): each test is
written the way a Keras program hits the contract; Keras itself (torch backend)
is an optional oracle where it helps."""

import os

import numpy as np
import pytest

import fastnet as keras
from fastnet import layers, ops


@pytest.fixture(autouse=True)
def fresh_names():
    keras.backend.clear_session()


def _keras():
    """Keras 3 on the torch backend, or skip."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    k = pytest.importorskip("keras")
    if k.backend.backend() != "torch":
        pytest.skip("Keras oracle runs on the torch backend")
    return k


# ---- 1. NumPy 2 __array__ contract ---------------------------------------------------

def test_asarray_of_a_0d_tensor_is_a_0d_ndarray():
    dense = layers.Dense(2, kernel_regularizer="l2")
    dense(np.ones((1, 3), np.float32))
    loss = dense.losses[0]
    a = np.asarray(loss)  # NumPy 2 raises if __array__ returns a numpy scalar
    assert type(a) is np.ndarray and a.shape == ()
    np.testing.assert_allclose(a, 0.01 * np.sum(dense.kernel.numpy() ** 2), rtol=1e-6)
    assert type(loss.numpy()) is np.ndarray and loss.numpy().shape == ()
    total = ops.sum(ops.ones((3,)))
    assert np.asarray(total).shape == () and float(np.asarray(total)) == 3.0


def test_array_protocol_dtype_and_copy_keywords():
    t = ops.ones((2, 3))
    assert np.asarray(t, dtype="float64").dtype == np.float64
    view = np.asarray(t)
    assert np.shares_memory(view, t.numpy())
    copied = np.array(t, copy=True)
    assert not np.shares_memory(copied, t.numpy())
    assert t.__array__(dtype=None, copy=None) is t.numpy()
    with pytest.raises(ValueError, match="copy"):
        np.array(t, dtype="float64", copy=False)


# ---- 2. functional input standardisation (Keras 3 Functional._standardize_inputs) ---

def test_functional_input_gets_its_trailing_channel_axis():
    inputs = keras.Input((28, 28, 1))
    x = layers.Conv2D(2, 3)(inputs)
    model = keras.Model(inputs, layers.Dense(3)(layers.Flatten()(x)))
    data = np.random.default_rng(0).random((4, 28, 28)).astype(np.float32)
    out = model(data)
    np.testing.assert_allclose(out.numpy(), model(data[..., None]).numpy())
    model.compile(optimizer="sgd", loss="mse")
    model.fit(data, np.zeros((4, 3), np.float32), batch_size=2, epochs=1, verbose=0)
    assert model.predict(data, verbose=0).shape == (4, 3)
    assert np.isfinite(model.evaluate(data, np.zeros((4, 3)), verbose=0))
    # a trailing axis of 1 beyond the Input's rank is squeezed
    flat_in = keras.Input((5,))
    m2 = keras.Model(flat_in, flat_in * 2.0)
    assert m2(np.ones((2, 5, 1))).shape == (2, 5)
    with pytest.raises(ValueError, match=r"expected shape=\(None, 28, 28, 1\).*\(4, 28, 27\)"):
        model(data[:, :, :27])
    col = keras.Input((4, 1))
    with pytest.raises(ValueError, match=r"expected shape=\(None, 4, 1\).*\(2, 5\)"):
        keras.Model(col, layers.Flatten()(col))(np.ones((2, 5)))


def test_functional_inputs_are_cast_to_the_input_dtype():
    ids = keras.Input((4,), dtype="int32")
    model = keras.Model(ids, layers.Embedding(10, 2)(ids))
    assert model(np.array([[1.0, 2.0, 3.0, 4.0]])).shape == (1, 4, 2)
    ints = keras.Model(ids, ids * 2)
    assert ints(np.ones((2, 4))).dtype == "int32"
    floats_in = keras.Input((4,))
    floats = keras.Model(floats_in, floats_in * 2.0)
    assert floats(np.ones((2, 4), np.int64)).dtype == "float32"
    assert floats(np.ones((2, 4), np.float64)).dtype == "float32"


def test_functional_dict_inputs_by_name_extra_keys_warn():
    a, b = keras.Input((3,), name="a"), keras.Input((2,), name="b")
    joined = layers.Concatenate()([a, b])
    by_list = keras.Model([a, b], joined)
    by_dict = keras.Model({"a": a, "b": b}, joined)
    feed = {"b": np.full((1, 2), 2.0), "a": np.ones((1, 3))}
    want = [[1, 1, 1, 2, 2]]
    np.testing.assert_allclose(by_list(feed).numpy(), want)
    np.testing.assert_allclose(by_dict(feed).numpy(), want)
    with pytest.warns(UserWarning, match=r"\['c'\].*ignored"):
        out = by_dict({**feed, "c": np.ones((1, 1))})
    np.testing.assert_allclose(out.numpy(), want)
    with pytest.warns(UserWarning, match=r"\['c'\]"):
        by_list({**feed, "c": np.ones((1, 1))})
    with pytest.raises(ValueError, match='Missing data for input "b".*Expected the following '
                                         r"keys: \['a', 'b'\]"):
        by_dict({"a": np.ones((1, 3)), "c": np.ones((1, 2))})
    by_dict.compile(optimizer="sgd", loss="mse")
    by_dict.fit(feed, np.zeros((1, 5)), verbose=0)
    with pytest.raises(ValueError, match="expects 2 input"):
        by_list([np.ones((1, 3))])


# ---- 3. build(shape) builds every sub-layer -------------------------------------------

def test_bidirectional_build_builds_both_directions():
    bi = layers.Bidirectional(layers.LSTM(3, return_sequences=True))
    bi.build((None, 5, 2))
    shapes = [w.shape for w in bi.get_weights()]
    assert shapes == [(2, 12), (3, 12), (12,)] * 2
    rng = np.random.default_rng(1)
    new = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    bi.set_weights(new)  # before any call
    for got, want in zip(bi.get_weights(), new):
        np.testing.assert_array_equal(got, want)
    assert bi(np.ones((1, 5, 2), np.float32)).shape == (1, 5, 6)

    inputs = keras.Input((5, 2))
    model = keras.Model(inputs, layers.Bidirectional(layers.GRU(4))(inputs))
    assert model.count_params() == 2 * 3 * 4 * (2 + 4 + 2)  # before any real call
    lines = []
    model.summary(print_fn=lines.append)
    assert "192" in "\n".join(lines)


def test_time_distributed_and_custom_block_build_their_sublayers():
    td = layers.TimeDistributed(layers.Dense(3))
    td.build((None, 4, 2))
    assert [w.shape for w in td.weights] == [(2, 3), (3,)]

    class Block(layers.Layer):
        def __init__(self):
            super().__init__()
            self.a = layers.Dense(4, activation="relu")
            self.b = layers.Dense(2)

        def call(self, x):
            return self.b(self.a(x))

    block = Block()
    block.build((None, 3))
    assert block.built and block.a.built and block.b.built
    assert [w.shape for w in block.weights] == [(3, 4), (4,), (4, 2), (2,)]
    block.set_weights([np.ones(s, np.float32) for s in [(3, 4), (4,), (4, 2), (2,)]])
    np.testing.assert_allclose(block(np.ones((1, 3), np.float32)).numpy(), [[17.0, 17.0]])
    assert block.losses == []


def test_bidirectional_weight_shapes_match_keras():
    k = _keras()
    for make in (lambda L: L.Bidirectional(L.LSTM(3)), lambda L: L.Bidirectional(L.GRU(2)),
                 lambda L: L.TimeDistributed(L.Dense(3))):
        ours, theirs = make(layers), make(k.layers)
        ours.build((None, 5, 2))
        theirs.build((None, 5, 2))
        assert [tuple(w.shape) for w in ours.weights] == \
            [tuple(w.shape) for w in theirs.weights]


# ---- 4. training contracts -------------------------------------------------------------

def _data(n=10, d=3, k=2, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, d)).astype(np.float32),
            rng.integers(0, k, n).astype(np.int64))


def test_compute_loss_override_returning_a_scalar_trains_under_fit():
    class Custom(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(1)
            self.calls = 0

        def call(self, x):
            return self.dense(x)

        def compute_loss(self, x, y, y_pred, sample_weight):  # Keras 3 signature, no training
            self.calls += 1
            return ops.mean(ops.abs(y_pred - y))

    x, _ = _data()
    y = (x @ np.array([[1.0], [-2.0], [0.5]], np.float32)).astype(np.float32)
    model = Custom()
    model.compile(optimizer=keras.optimizers.SGD(0.05))
    hist = model.fit(x, y, batch_size=5, epochs=5, verbose=0)
    assert model.calls == 10
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    want = np.mean(np.abs(model.predict(x, verbose=0) - y))
    np.testing.assert_allclose(model.evaluate(x, y, batch_size=10, verbose=0), want, rtol=1e-5)


def test_compile_without_loss_trains_on_add_loss():
    class Reconstruct(layers.Layer):
        def call(self, x, target):
            self.add_loss(ops.mean(ops.square(x - target)))
            return x

    inputs = keras.Input((3,))
    out = Reconstruct()(layers.Dense(3)(inputs), inputs)
    model = keras.Model(inputs, out)
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    x, _ = _data(32)
    hist = model.fit(x, batch_size=8, epochs=4, verbose=0)
    assert hist.history["loss"][-1] < 0.5 * hist.history["loss"][0]
    with pytest.raises(ValueError, match="No loss to compute"):
        plain = keras.Sequential([keras.Input((3,)), layers.Dense(1)])
        plain.compile(optimizer="sgd")
        plain.fit(x, x[:, :1], verbose=0)


def test_losses_reset_per_top_level_call_and_include_sublayers():
    class Block(layers.Layer):
        def __init__(self):
            super().__init__()
            self.inner = layers.Dense(2, kernel_regularizer=keras.regularizers.L2(0.1),
                                      activity_regularizer=keras.regularizers.L1(0.01))

        def call(self, x):
            return self.inner(x)

    block = Block()
    x = np.ones((2, 3), np.float32)
    for _ in range(3):
        y = block(x).numpy()
    assert len(block.losses) == 2  # one activity loss (this call) + one weight regularizer
    activity, weight = (float(v) for v in block.losses)
    np.testing.assert_allclose(activity, 0.01 * np.abs(y).sum() / 2, rtol=1e-5)
    np.testing.assert_allclose(weight, 0.1 * np.sum(block.inner.kernel.numpy() ** 2), rtol=1e-5)
    block.inner.trainable = False  # a frozen layer's weights are not regularized (Keras)
    block(x)
    assert len(block.losses) == 1


_HOOK_LOG_KEYS_FIT = [  # recorded from Keras 3 (torch backend) on the same program
    ("on_train_begin", []), ("on_epoch_begin", []),
    ("on_train_batch_begin", []), ("on_train_batch_end", ["accuracy", "loss"]),
    ("on_train_batch_begin", []), ("on_train_batch_end", ["accuracy", "loss"]),
    ("on_test_begin", []),
    ("on_test_batch_begin", []), ("on_test_batch_end", ["accuracy", "loss"]),
    ("on_test_batch_begin", []), ("on_test_batch_end", ["accuracy", "loss"]),
    ("on_test_end", ["accuracy", "loss"]),
    ("on_epoch_end", ["accuracy", "loss", "val_accuracy", "val_loss"]),
    ("on_train_end", ["accuracy", "loss", "val_accuracy", "val_loss"])]
_HOOK_LOG_KEYS_PREDICT = [
    ("on_predict_begin", []), ("on_predict_batch_begin", []),
    ("on_predict_batch_end", ["outputs"]), ("on_predict_batch_begin", []),
    ("on_predict_batch_end", ["outputs"]), ("on_predict_end", [])]


def _recorder(base):
    class Recorder(base):
        def __init__(self):
            super().__init__()
            self.seen = []

    def make(hook):
        if "batch" in hook or "epoch" in hook:
            def f(self, i, logs=None):
                self.seen.append((hook, None if logs is None else sorted(logs)))
        else:
            def f(self, logs=None):
                self.seen.append((hook, None if logs is None else sorted(logs)))
        return f

    for hook in [h for h in dir(base) if h.startswith("on_") and ("begin" in h or "end" in h)]:
        setattr(Recorder, hook, make(hook))
    return Recorder


def _run_hooks(k):
    model = k.Sequential([k.Input((3,)), k.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = _data(4)
    fit_rec, pred_rec = _recorder(k.callbacks.Callback)(), _recorder(k.callbacks.Callback)()
    model.fit(x, y, batch_size=2, epochs=1, verbose=0, callbacks=[fit_rec],
              validation_data=(x, y))
    model.predict(x, batch_size=2, verbose=0, callbacks=[pred_rec])
    return fit_rec.seen, pred_rec.seen


def test_callback_hooks_get_dicts_with_keras_keys():
    fit_seen, pred_seen = _run_hooks(keras)
    assert fit_seen == _HOOK_LOG_KEYS_FIT
    assert pred_seen == _HOOK_LOG_KEYS_PREDICT


def test_callback_hook_keys_match_keras():
    k = _keras()
    assert _run_hooks(keras) == _run_hooks(k)


def _sequential_xy():
    model = keras.Sequential([keras.Input((3,)), layers.Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model, _data(8)


def test_batches_as_lists_from_generators_and_pydatasets():
    model, (x, y) = _sequential_xy()

    def gen():
        for i in range(0, 8, 4):
            yield [x[i:i + 4], y[i:i + 4]]

    hist = model.fit(gen(), epochs=1, verbose=0)
    assert np.isfinite(hist.history["loss"][0])
    assert np.isfinite(model.evaluate(gen(), verbose=0)[0])
    assert model.predict(([x[i:i + 4]] for i in range(0, 8, 4)), verbose=0).shape == (8, 2)

    class Data(keras.utils.PyDataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            return [x[4 * i:4 * i + 4], y[4 * i:4 * i + 4], np.ones(4, np.float32)]

    model.fit(Data(), epochs=1, verbose=0)
    model.fit(x, y, validation_data=[x, y], epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"4-element structure: \(ndarray\(shape=\(4, 3\)\)"):
        model.fit(iter([(x[:4], y[:4], y[:4], y[:4])]), verbose=0)


def test_batches_from_a_torch_dataloader():
    torch = pytest.importorskip("torch")
    model, (x, y) = _sequential_xy()
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), batch_size=4)
    hist = model.fit(loader, epochs=2, verbose=0)
    assert len(hist.history["loss"]) == 2
    np.testing.assert_allclose(model.evaluate(loader, verbose=0),
                               model.evaluate(x, y, batch_size=4, verbose=0), rtol=1e-5)
    assert model.predict(loader, verbose=0).shape == (8, 2)


def _twin_models(k, reg=0.0):
    """The same 3->4->2 softmax model in fastnet and in library `k`, same weights."""
    rng = np.random.default_rng(3)
    weights = [rng.standard_normal(s).astype(np.float32) * 0.5
               for s in [(3, 4), (4,), (4, 2), (2,)]]
    out = []
    for lib in (keras, k):
        kr = lib.regularizers.L2(reg) if reg else None
        m = lib.Sequential([lib.Input((3,)), lib.layers.Dense(4, activation="tanh",
                                                              kernel_regularizer=kr),
                            lib.layers.Dense(2, activation="softmax")])
        m.set_weights(weights)
        out.append(m)
    return out


def test_train_on_batch_reports_the_pre_update_loss_with_regularization():
    model = keras.Sequential([keras.Input((3,)),
                              layers.Dense(2, activation="softmax",
                                           kernel_regularizer=keras.regularizers.L2(0.1))])
    x, y = _data(6)
    kernel, bias = (w.copy() for w in model.get_weights())
    logits = x @ kernel + bias
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    want_loss = -np.mean(np.log(p[np.arange(6), y])) + 0.1 * np.sum(kernel ** 2)
    want_acc = np.mean(np.argmax(p, 1) == y)
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    loss, acc = model.train_on_batch(x, y)
    np.testing.assert_allclose(loss, want_loss, rtol=1e-5)
    np.testing.assert_allclose(acc, want_acc)
    assert not np.allclose(model.get_weights()[0], kernel)  # the update happened after


def test_train_on_batch_and_epoch_loss_match_keras():
    k = _keras()
    ours, theirs = _twin_models(k, reg=0.05)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((10, 3)).astype(np.float32)
    y = rng.integers(0, 2, 10)
    sw = rng.random(10).astype(np.float32)
    for m in (ours, theirs):
        m.compile(optimizer=(keras if m is ours else k).optimizers.SGD(0.1),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    np.testing.assert_allclose(ours.train_on_batch(x, y, sample_weight=sw),
                               theirs.train_on_batch(x, y, sample_weight=sw), rtol=1e-5)
    # an uneven last batch (4, 4, 2) and sample weights: the epoch loss is the mean of the
    # batch losses weighted by their number of samples, as Keras
    h1 = ours.fit(x, y, sample_weight=sw, batch_size=4, epochs=2, shuffle=False, verbose=0)
    h2 = theirs.fit(x, y, sample_weight=sw, batch_size=4, epochs=2, shuffle=False, verbose=0)
    for key in ("loss", "accuracy"):
        np.testing.assert_allclose(h1.history[key], h2.history[key], rtol=2e-5)
    np.testing.assert_allclose(ours.evaluate(x, y, batch_size=3, verbose=0),
                               theirs.evaluate(x, y, batch_size=3, verbose=0), rtol=2e-5)


# (labels (n,) against a (n, 1) output are the loss/metric rank reconciliation, elsewhere)
@pytest.mark.parametrize("case", ["binary", "sparse", "sparse_column", "categorical"])
def test_accuracy_resolves_from_shapes_as_keras(case):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((12, 3)).astype(np.float32)
    units, loss, y = {
        "binary": (1, "binary_crossentropy", rng.integers(0, 2, (12, 1)).astype(np.float32)),
        "sparse": (3, "sparse_categorical_crossentropy", rng.integers(0, 3, 12)),
        "sparse_column": (3, "sparse_categorical_crossentropy", rng.integers(0, 3, (12, 1))),
        "categorical": (3, "categorical_crossentropy", np.eye(3)[rng.integers(0, 3, 12)]),
    }[case]
    act = "sigmoid" if units == 1 else "softmax"
    model = keras.Sequential([keras.Input((3,)), layers.Dense(units, activation=act)])
    model.compile(optimizer="sgd", loss=loss, metrics=["accuracy", "acc"])
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    p = model.predict(x, verbose=0)
    if units == 1:
        want = np.mean((p[:, 0] > 0.5) == (y.reshape(-1) > 0.5))
    elif case == "categorical":
        want = np.mean(np.argmax(p, 1) == np.argmax(y, 1))
    else:
        want = np.mean(np.argmax(p, 1) == y.reshape(-1))
    assert set(logs) == {"loss", "accuracy", "acc"}
    np.testing.assert_allclose([logs["accuracy"], logs["acc"]], [want, want])


# ---- 5. arguments are honoured (or raise naming themselves) ----------------------------

def _sig(z):
    return 1.0 / (1.0 + np.exp(-z))


def _np_rnn_impl1(kind, layer, x, in_masks, rec_masks):
    """numpy Keras-3 implementation-1 cells with per-gate dropout masks (fixed over time)."""
    k, rk = layer.kernel.numpy(), layer.recurrent_kernel.numpy()
    b = layer.bias.numpy()
    u = layer.units
    n, steps, d = x.shape
    ones_in = [np.ones((n, d), np.float32)] * layer.gates
    im = ones_in if in_masks is None else [m.numpy() for m in in_masks]
    rm = [m.numpy() for m in rec_masks]
    h = np.zeros((n, u), np.float32)
    c = np.zeros((n, u), np.float32)
    sl = [slice(g * u, (g + 1) * u) for g in range(layer.gates)]
    bin_, brec = (b[0], b[1]) if kind == "gru" else (b, np.zeros_like(b))
    for t in range(steps):
        xs = [(x[:, t] * im[g]) @ k[:, sl[g]] + bin_[sl[g]] for g in range(layer.gates)]
        rec = [(h * rm[g]) @ rk[:, sl[g]] + brec[sl[g]] for g in range(layer.gates)]
        if kind == "simple":
            h = np.tanh(xs[0] + rec[0])
        elif kind == "lstm":
            i, f, o = _sig(xs[0] + rec[0]), _sig(xs[1] + rec[1]), _sig(xs[3] + rec[3])
            c = f * c + i * np.tanh(xs[2] + rec[2])
            h = o * np.tanh(c)
        else:
            z, r = _sig(xs[0] + rec[0]), _sig(xs[1] + rec[1])
            h = z * h + (1 - z) * np.tanh(xs[2] + r * rec[2])
    return h


@pytest.mark.parametrize("kind", ["simple", "lstm", "gru"])
def test_rnn_dropout_and_recurrent_dropout_as_keras_cells(kind):
    cls = {"simple": layers.SimpleRNN, "lstm": layers.LSTM, "gru": layers.GRU}[kind]
    x = np.random.default_rng(6).standard_normal((5, 6, 3)).astype(np.float32)
    # dropout alone: one input mask for the whole sequence, then the usual kernel
    lay = cls(4, dropout=0.4, seed=0)
    infer = lay(x).numpy()
    assert lay._dropout_masks is None
    train = lay(x, training=True).numpy()
    (mask,), rec = lay._dropout_masks
    assert rec is None and mask.shape == (5, 3)
    assert set(np.unique(mask.numpy())) <= {0.0, np.float32(1 / 0.6)}
    np.testing.assert_allclose(train, lay(x * mask.numpy()[:, None, :]).numpy(), atol=1e-6)
    assert not np.allclose(train, infer)
    # recurrent_dropout: per-gate input and recurrent masks (Keras's implementation 1)
    lay = cls(4, dropout=0.3, recurrent_dropout=0.5, seed=1)
    lay(x)
    train = lay(x, training=True).numpy()
    in_masks, rec_masks = lay._dropout_masks
    assert len(in_masks) == len(rec_masks) == lay.gates
    np.testing.assert_allclose(train, _np_rnn_impl1(kind, lay, x, in_masks, rec_masks),
                               rtol=1e-5, atol=1e-5)
    # the same seed draws the same masks; gradients flow through the masked loop
    twin = cls(4, dropout=0.3, recurrent_dropout=0.5, seed=1)
    twin(x)
    twin.set_weights(lay.get_weights())
    twin._seed_generator = keras.random.SeedGenerator(1)
    lay._seed_generator = keras.random.SeedGenerator(1)
    np.testing.assert_allclose(twin(x, training=True).numpy(), lay(x, training=True).numpy())
    with keras.GradientTape() as tape:
        loss = ops.sum(lay(x, training=True))
    grads = tape.gradient(loss, lay.trainable_weights)
    assert all(g is not None and np.isfinite(g.numpy()).all() for g in grads)
    with pytest.raises(ValueError, match="recurrent_dropout=1.5"):
        cls(2, recurrent_dropout=1.5)


@pytest.mark.parametrize("cls", [layers.SimpleRNN, layers.LSTM, layers.GRU])
def test_rnn_stateful_carries_states_until_reset(cls):
    x = np.random.default_rng(7).standard_normal((3, 4, 2)).astype(np.float32)
    lay = cls(5, stateful=True)
    first = lay(x).numpy()
    assert len(lay.weights) == 3  # states are not weights
    states = lay.states
    assert [tuple(s.shape) for s in states] == [(3, 5)] * (2 if cls is layers.LSTM else 1)
    second = lay(x).numpy()
    plain = cls(5)
    plain(x)
    plain.set_weights(lay.get_weights())
    init = states if cls is layers.LSTM else states[0]
    np.testing.assert_allclose(second, plain(x, initial_state=init).numpy(), atol=1e-6)
    lay.reset_states()
    np.testing.assert_allclose(lay(x).numpy(), first, atol=1e-6)
    with pytest.raises(ValueError, match="batch size"):
        lay(x[:2])
    with pytest.raises(ValueError, match="stateful=True.*static"):
        cls(2, stateful=True)(keras.Input((4, 2)))
    seq = keras.Sequential([keras.Input((4, 2), batch_size=3), cls(5, stateful=True),
                            layers.Dense(1)])
    seq.compile(optimizer="sgd", loss="mse")
    seq.fit(x, np.zeros((3, 1)), batch_size=3, epochs=2, shuffle=False, verbose=0)
    assert seq.layers[0].states is not None


def test_rnn_unroll_is_the_same_computation_and_time_major_is_not_keras3():
    x = np.random.default_rng(8).standard_normal((2, 3, 2)).astype(np.float32)
    rolled, unrolled = layers.GRU(3), layers.GRU(3, unroll=True)
    rolled(x)
    unrolled(x)
    unrolled.set_weights(rolled.get_weights())
    np.testing.assert_allclose(unrolled(x).numpy(), rolled(x).numpy())
    assert unrolled.get_config()["unroll"] is True
    with pytest.raises(TypeError, match="time_major"):
        layers.LSTM(2, time_major=True)


def test_rnn_constraints_and_activity_regularizer_apply():
    x = np.random.default_rng(9).standard_normal((4, 3, 2)).astype(np.float32)
    lay = layers.LSTM(3, kernel_constraint="non_neg", recurrent_constraint="non_neg",
                      bias_constraint="non_neg", activity_regularizer="l2")
    model = keras.Sequential([keras.Input((3, 2)), lay])
    model.compile(optimizer=keras.optimizers.SGD(1.0), loss="mse")
    model.fit(x, np.full((4, 3), -5.0, np.float32), epochs=2, verbose=0)
    for w in lay.get_weights():
        assert (w >= 0).all()
    out = lay(x).numpy()
    np.testing.assert_allclose(float(lay.losses[0]), 0.01 * np.sum(out ** 2) / 4, rtol=1e-5)
    cfg = lay.get_config()
    assert cfg["kernel_constraint"]["class_name"] == "NonNeg"
    assert layers.LSTM.from_config(cfg).bias_constraint is not None
