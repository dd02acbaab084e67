"""Keras 3 contracts a user relies on without knowing it (issue 12): each test is
written the way a Keras program hits the contract; Keras itself (torch backend)
is an optional oracle where it helps."""

import os

import numpy as np
import pytest

import fastnet as keras
from fastnet import layers, ops
from fastnet.ops import spatial as ops_spatial


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


def test_float_sparse_labels_and_the_sample_weighted_epoch_loss():
    # labels read from a CSV arrive as floats; the epoch loss is the mean of the batch
    # losses weighted by their number of samples (each batch loss: sum(w * l) / batch size)
    rng = np.random.default_rng(8)
    x = rng.standard_normal((10, 3)).astype(np.float32)
    y = rng.integers(0, 3, 10).astype(np.float32)
    sw = rng.random(10).astype(np.float32)
    model = keras.Sequential([keras.Input((3,)), layers.Dense(3, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy", keras.metrics.SparseTopKCategoricalAccuracy(k=2)])
    hist = model.fit(x, y, sample_weight=sw, batch_size=4, epochs=1, shuffle=False, verbose=0)
    kernel, bias = model.get_weights()
    z = x @ kernel + bias
    logp = z - z.max(1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(1, keepdims=True))
    per = -logp[np.arange(10), y.astype(int)]
    batches = [slice(0, 4), slice(4, 8), slice(8, 10)]
    want = sum(np.sum(sw[b] * per[b]) for b in batches) / 10  # sum_b n_b * loss_b / N
    np.testing.assert_allclose(hist.history["loss"][0], want, rtol=1e-5)
    np.testing.assert_allclose(hist.history["accuracy"][0], np.mean(logp.argmax(1) == y))
    top2 = np.argsort(-logp, 1)[:, :2]
    np.testing.assert_allclose(hist.history["sparse_top_k_categorical_accuracy"][0],
                               np.mean([yi in t for yi, t in zip(y, top2)]), rtol=1e-6)


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
    with pytest.raises(ValueError, match="time_major"):
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


def test_dropout_seed_gives_a_reproducible_mask_sequence():
    x = np.ones((4, 50), np.float32)
    a, b, c = layers.Dropout(0.5, seed=3), layers.Dropout(0.5, seed=3), layers.Dropout(0.5, seed=4)
    a1, a2 = a(x, training=True).numpy(), a(x, training=True).numpy()
    b1, b2 = b(x, training=True).numpy(), b(x, training=True).numpy()
    np.testing.assert_array_equal(a1, b1)
    np.testing.assert_array_equal(a2, b2)
    assert not np.array_equal(a1, a2)  # a sequence, not one fixed mask
    assert not np.array_equal(a1, c(x, training=True).numpy())
    assert set(np.unique(a1)) <= {0.0, 2.0}
    np.testing.assert_array_equal(a(x).numpy(), x)
    assert layers.Dropout.from_config(a.get_config()).seed == 3


def test_dense_config_keeps_constraints_and_regularizers():
    dense = layers.Dense(3, kernel_constraint=keras.constraints.MaxNorm(2.0, axis=0),
                         bias_constraint="non_neg", activity_regularizer=keras.regularizers.L1(0.1))
    config = dense.get_config()
    assert config["kernel_constraint"]["class_name"] == "MaxNorm"
    assert config["kernel_constraint"]["config"] == {"max_value": 2.0, "axis": 0}
    assert config["bias_constraint"]["class_name"] == "NonNeg"
    clone = layers.Dense.from_config(config)
    assert isinstance(clone.kernel_constraint, keras.constraints.MaxNorm)
    assert clone.kernel_constraint.max_value == 2.0
    assert isinstance(clone.bias_constraint, keras.constraints.NonNeg)
    assert isinstance(clone.activity_regularizer, keras.regularizers.L1)
    model = keras.Sequential([keras.Input((2,)), dense])
    restored = keras.Sequential.from_config(model.get_config())
    assert isinstance(restored.layers[0].kernel_constraint, keras.constraints.MaxNorm)


def test_dense_config_matches_keras():
    k = _keras()
    kwargs = dict(kernel_constraint="non_neg", bias_constraint="non_neg")
    ours, theirs = layers.Dense(3, **kwargs).get_config(), k.layers.Dense(3, **kwargs).get_config()
    for key in ("kernel_constraint", "bias_constraint"):
        assert ours[key]["class_name"] == theirs[key]["class_name"]
        assert ours[key]["config"] == theirs[key]["config"]


@pytest.fixture
def restore_epsilon():
    before = keras.backend.epsilon()
    yield
    keras.backend.set_epsilon(before)


def test_set_epsilon_reaches_losses_and_constraints(restore_epsilon):
    onehot, probs = np.array([[1.0, 0.0]], np.float32), np.array([[0.0, 1.0]], np.float32)
    before = float(keras.losses.categorical_crossentropy(onehot, probs)[0])
    keras.config.set_epsilon(1e-3)
    assert keras.backend.epsilon() == keras.config.epsilon() == 1e-3
    want = -np.log(1e-3)
    np.testing.assert_allclose(float(keras.losses.categorical_crossentropy(onehot, probs)[0]),
                               want, rtol=1e-5)
    assert abs(before - want) > 1.0
    np.testing.assert_allclose(float(keras.losses.sparse_categorical_crossentropy(
        np.array([0]), probs)[0]), want, rtol=1e-5)
    np.testing.assert_allclose(float(keras.losses.binary_crossentropy(
        np.array([[1.0]], np.float32), np.array([[0.0]], np.float32))[0]), want, rtol=1e-5)
    np.testing.assert_allclose(float(keras.losses.mean_absolute_percentage_error(
        np.array([[0.0]], np.float32), np.array([[1.0]], np.float32))[0]), 100 / 1e-3,
        rtol=1e-5)
    w = np.array([[3.0, 4.0]], np.float32).T  # norm 5 along axis 0
    np.testing.assert_allclose(keras.constraints.MaxNorm(1.0)(w), w / (5.0 + 1e-3), rtol=1e-6)


def test_set_epsilon_reaches_metrics_and_normalization(restore_epsilon):
    onehot, probs = np.array([[1.0, 0.0]], np.float32), np.array([[0.0, 1.0]], np.float32)
    keras.config.set_epsilon(1e-3)
    want = -np.log(1e-3)
    for metric, y in ((keras.metrics.CategoricalCrossentropy(), onehot),
                      (keras.metrics.SparseCategoricalCrossentropy(), np.array([0])),
                      (keras.metrics.BinaryCrossentropy(), onehot)):
        metric.update_state(y, probs)
        np.testing.assert_allclose(float(metric.result()), want, rtol=1e-5)
    mape = keras.metrics.MeanAbsolutePercentageError()
    mape.update_state(np.array([[0.0]]), np.array([[1.0]]))
    np.testing.assert_allclose(float(mape.result()), 100 / 1e-3, rtol=1e-5)
    f1 = keras.metrics.F1Score()
    f1.update_state(np.array([[1.0, 0.0]]), np.array([[0.0, 0.0]]))  # tp = fp = fn = 0
    assert float(np.asarray(f1.result())[0]) == 0.0
    auc = keras.metrics.AUC(num_thresholds=3)
    np.testing.assert_allclose(auc.thresholds[[0, -1]], [-1e-3, 1 + 1e-3])
    norm = layers.Normalization(mean=0.0, variance=0.0)  # std 0: divided by epsilon
    norm.build((None, 1))
    np.testing.assert_allclose(norm(np.array([[2.0]], np.float32)).numpy(), [[2e3]], rtol=1e-5)
    # the ops' fused kernels get it too (>= 4096 elements: the C++ path)
    big_t, big_p = np.tile(onehot, (4096, 1)), np.tile(probs, (4096, 1))
    np.testing.assert_allclose(keras.ops.categorical_crossentropy(big_t, big_p).numpy(), want,
                               rtol=1e-5)


def test_set_epsilon_matches_keras(restore_epsilon):
    k = _keras()
    before = k.config.epsilon()
    try:
        onehot, probs = np.array([[1.0, 0.0]], np.float32), np.array([[0.0, 1.0]], np.float32)
        for lib in (keras, k):
            lib.config.set_epsilon(1e-4)
        ours = float(keras.losses.categorical_crossentropy(onehot, probs)[0])
        theirs = float(k.ops.convert_to_numpy(k.losses.categorical_crossentropy(onehot, probs))[0])
        np.testing.assert_allclose(ours, theirs, rtol=1e-5)
    finally:
        k.config.set_epsilon(before)


def test_separable_conv_depthwise_and_pointwise_regularizers_and_constraints():
    conv = layers.SeparableConv2D(
        4, 3, depthwise_regularizer=keras.regularizers.L2(0.1),
        pointwise_regularizer=keras.regularizers.L1(0.2), bias_regularizer="l2",
        depthwise_constraint="non_neg", pointwise_constraint="non_neg", bias_constraint="non_neg")
    x = np.random.default_rng(10).standard_normal((2, 6, 6, 3)).astype(np.float32)
    conv(x)
    dw, pw = conv.depthwise_kernel.numpy(), conv.pointwise_kernel.numpy()
    np.testing.assert_allclose(sorted(float(v) for v in conv.losses),
                               sorted([0.1 * np.sum(dw ** 2), 0.2 * np.sum(np.abs(pw)), 0.0]),
                               rtol=1e-5)
    model = keras.Sequential([keras.Input((6, 6, 3)), conv, layers.Flatten()])
    model.compile(optimizer=keras.optimizers.SGD(1.0), loss="mse")
    model.fit(x, np.full((2, 64), -10.0, np.float32), epochs=2, verbose=0)
    assert all((w >= 0).all() for w in conv.get_weights())
    config = conv.get_config()
    assert config["depthwise_regularizer"]["class_name"] == "L2"
    assert config["pointwise_constraint"]["class_name"] == "NonNeg"
    clone = layers.SeparableConv2D.from_config(config)
    assert isinstance(clone.pointwise_regularizer, keras.regularizers.L1)


def _np_conv2d_valid(x, w):
    n, h, wd, _ = x.shape
    kh, kw, _, co = w.shape
    out = np.zeros((n, h - kh + 1, wd - kw + 1, co), np.float64)
    for i in range(out.shape[1]):
        for j in range(out.shape[2]):
            out[:, i, j] = np.tensordot(x[:, i:i + kh, j:j + kw, :], w, axes=3)
    return out


def test_conv_groups_are_per_group_convolutions():
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, 5, 5, 6)).astype(np.float32)
    conv = layers.Conv2D(4, 3, groups=2, use_bias=False)
    y = conv(x).numpy()
    w = conv.kernel.numpy()
    assert w.shape == (3, 3, 3, 4)
    want = np.concatenate([_np_conv2d_valid(x[..., :3], w[..., :2]),
                           _np_conv2d_valid(x[..., 3:], w[..., 2:])], axis=-1)
    np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-5)
    assert conv.compute_output_shape((None, 5, 5, 6)) == (None, 3, 3, 4)
    c1 = layers.Conv1D(6, 2, groups=3)
    assert c1(x[:, 0]).shape == (2, 4, 6) and c1.kernel.shape == (2, 2, 6)
    with pytest.raises(ValueError, match="filters must be evenly divisible.*groups=3, filters=4"):
        layers.Conv2D(4, 3, groups=3)
    with pytest.raises(ValueError, match="input channels must be evenly divisible"):
        layers.Conv2D(4, 3, groups=4)(x)
    with pytest.raises(NotImplementedError, match="groups"):
        layers.Conv2DTranspose(4, 3, groups=2)
    # gradients flow through each group
    with keras.GradientTape() as tape:
        loss = ops.sum(ops.square(conv(x)))
    gk, = tape.gradient(loss, [conv.kernel])
    assert gk.shape == w.shape and np.abs(gk.numpy()).min() > 0


def test_conv_groups_match_keras():
    k = _keras()
    x = np.random.default_rng(12).standard_normal((2, 6, 6, 4)).astype(np.float32)
    ours, theirs = layers.Conv2D(6, 3, groups=2), k.layers.Conv2D(6, 3, groups=2)
    ours(x)
    theirs(x)
    theirs.set_weights(ours.get_weights())
    np.testing.assert_allclose(ours(x).numpy(), k.ops.convert_to_numpy(theirs(x)),
                               rtol=1e-4, atol=1e-5)


_CHANNELS_FIRST = [
    (lambda df: layers.Conv2D(3, 3, padding="same", strides=2, data_format=df), (2, 4, 7, 6)),
    (lambda df: layers.Conv1D(3, 2, data_format=df), (2, 4, 7)),
    (lambda df: layers.Conv3D(2, 2, data_format=df), (1, 3, 4, 4, 4)),
    (lambda df: layers.Conv2DTranspose(3, 3, strides=2, data_format=df), (2, 4, 5, 5)),
    (lambda df: layers.DepthwiseConv2D(3, depth_multiplier=2, data_format=df), (2, 4, 6, 6)),
    (lambda df: layers.SeparableConv2D(3, 3, data_format=df), (2, 4, 6, 6)),
    (lambda df: layers.MaxPooling2D(2, data_format=df), (2, 3, 6, 6)),
    (lambda df: layers.AveragePooling1D(2, data_format=df), (2, 3, 6)),
    (lambda df: layers.MaxPooling3D(2, data_format=df), (1, 2, 4, 4, 4)),
    (lambda df: layers.GlobalAveragePooling2D(data_format=df, keepdims=True), (2, 3, 4, 5)),
    (lambda df: layers.GlobalMaxPooling1D(data_format=df), (2, 3, 4)),
    (lambda df: layers.Flatten(data_format=df), (2, 3, 2, 2)),
    (lambda df: layers.UpSampling2D(2, data_format=df), (2, 3, 2, 2)),
    (lambda df: layers.ZeroPadding2D(1, data_format=df), (2, 3, 2, 2)),
    (lambda df: layers.Cropping2D(1, data_format=df), (2, 3, 4, 4)),
]


@pytest.mark.parametrize("idx", range(len(_CHANNELS_FIRST)))
def test_channels_first_is_the_transposed_channels_last_layer(idx):
    make, shape = _CHANNELS_FIRST[idx]
    x = np.random.default_rng(idx).standard_normal(shape).astype(np.float32)
    nd = x.ndim
    to_last = (0,) + tuple(range(2, nd)) + (1,)
    first, last = make("channels_first"), make("channels_last")
    y_last = last(np.transpose(x, to_last)).numpy()
    first(x)
    first.set_weights(last.get_weights())
    y_first = first(x).numpy()
    if isinstance(first, layers.Flatten):  # Keras flattens channels-first in channels-last order
        np.testing.assert_allclose(y_first, y_last, rtol=1e-5, atol=1e-6)
        return
    if y_last.ndim == nd:
        y_last = np.transpose(y_last, (0, nd - 1) + tuple(range(1, nd - 1)))
    np.testing.assert_allclose(y_first, y_last, rtol=1e-5, atol=1e-5)
    symbolic = first(keras.Input(shape[1:]))
    assert tuple(symbolic.shape[1:]) == y_first.shape[1:]


def test_channels_first_matches_keras():
    k = _keras()
    x = np.random.default_rng(13).standard_normal((2, 3, 6, 6)).astype(np.float32)
    for make in (lambda L: L.Conv2D(4, 3, strides=2, padding="same", data_format="channels_first"),
                 lambda L: L.MaxPooling2D(2, data_format="channels_first"),
                 lambda L: L.Flatten(data_format="channels_first")):
        ours, theirs = make(layers), make(k.layers)
        ours(x)
        theirs(x)
        theirs.set_weights(ours.get_weights())
        np.testing.assert_allclose(ours(x).numpy(), k.ops.convert_to_numpy(theirs(x)),
                                   rtol=1e-4, atol=1e-5)


# Each accepted argument either changes what the layer does (its outputs in training and
# inference, its losses, its weights, or its weights after one SGD step) or raises naming
# itself. (layer, baseline kwargs, the argument's kwargs, input shape)
class _Halve(keras.constraints.Constraint):
    """A constraint every update shows: the weight halves."""

    def __call__(self, w):
        return w * 0.5


_HALF = _Halve()
_SWEEP = [
    ("Dense", {"units": 3}, {"kernel_regularizer": "l2"}, (4, 5)),
    ("Dense", {"units": 3}, {"bias_regularizer": "l1"}, (4, 5)),
    ("Dense", {"units": 3}, {"activity_regularizer": "l2"}, (4, 5)),
    ("Dense", {"units": 3}, {"kernel_constraint": _HALF}, (4, 5)),
    ("Dense", {"units": 3}, {"bias_constraint": _HALF}, (4, 5)),
    ("Dense", {"units": 3}, {"lora_rank": 2}, (4, 5)),
    ("Embedding", {"input_dim": 5, "output_dim": 3}, {"embeddings_constraint": _HALF}, "ids"),
    ("Embedding", {"input_dim": 5, "output_dim": 3}, {"embeddings_regularizer": "l2"}, "ids"),
    ("Embedding", {"input_dim": 5, "output_dim": 3}, {"lora_rank": 2}, "ids"),
    ("Dropout", {"rate": 0.5, "seed": 1}, {"seed": 2}, (4, 20)),
    ("Dropout", {"rate": 0.5, "seed": 1}, {"noise_shape": (4, 1)}, (4, 20)),
    ("Conv2D", {"filters": 4, "kernel_size": 3}, {"groups": 2}, (2, 6, 6, 4)),
    ("Conv2D", {"filters": 4, "kernel_size": 3}, {"data_format": "channels_first"}, (2, 6, 6, 6)),
    ("Conv2D", {"filters": 4, "kernel_size": 3}, {"dilation_rate": 2}, (2, 6, 6, 4)),
    ("Conv2D", {"filters": 4, "kernel_size": 3}, {"kernel_constraint": _HALF}, (2, 6, 6, 4)),
    ("Conv2D", {"filters": 4, "kernel_size": 3}, {"bias_constraint": _HALF}, (2, 6, 6, 4)),
    ("Conv2D", {"filters": 4, "kernel_size": 3}, {"activity_regularizer": "l1"}, (2, 6, 6, 4)),
    ("Conv2D", {"filters": 4, "kernel_size": 3}, {"output_padding": 1}, (2, 6, 6, 4)),
    ("Conv1D", {"filters": 4, "kernel_size": 3}, {"groups": 2}, (2, 6, 4)),
    ("Conv1D", {"filters": 4, "kernel_size": 3}, {"padding": "causal"}, (2, 6, 4)),
    ("Conv2DTranspose", {"filters": 4, "kernel_size": 3}, {"groups": 2}, (2, 6, 6, 4)),
    ("Conv2DTranspose", {"filters": 4, "kernel_size": 3, "strides": 2},
     {"output_padding": 1}, (2, 3, 3, 4)),
    ("DepthwiseConv2D", {"kernel_size": 3}, {"depthwise_constraint": _HALF}, (2, 6, 6, 3)),
    ("DepthwiseConv2D", {"kernel_size": 3}, {"bias_constraint": _HALF}, (2, 6, 6, 3)),
    ("DepthwiseConv2D", {"kernel_size": 3}, {"data_format": "channels_first"}, (2, 3, 6, 6)),
    ("SeparableConv2D", {"filters": 4, "kernel_size": 3}, {"depthwise_regularizer": "l2"},
     (2, 6, 6, 3)),
    ("SeparableConv2D", {"filters": 4, "kernel_size": 3}, {"pointwise_regularizer": "l2"},
     (2, 6, 6, 3)),
    ("SeparableConv2D", {"filters": 4, "kernel_size": 3}, {"depthwise_constraint": _HALF},
     (2, 6, 6, 3)),
    ("SeparableConv2D", {"filters": 4, "kernel_size": 3}, {"pointwise_constraint": _HALF},
     (2, 6, 6, 3)),
    ("SeparableConv2D", {"filters": 4, "kernel_size": 3}, {"bias_regularizer": "l1"},
     (2, 6, 6, 3)),
    ("SeparableConv2D", {"filters": 4, "kernel_size": 3}, {"bias_constraint": _HALF},
     (2, 6, 6, 3)),
    ("SeparableConv2D", {"filters": 4, "kernel_size": 3}, {"data_format": "channels_first"},
     (2, 3, 6, 6)),
    ("MaxPooling2D", {}, {"data_format": "channels_first"}, (2, 4, 6, 6)),
    ("AveragePooling1D", {}, {"data_format": "channels_first"}, (2, 4, 6)),
    ("GlobalAveragePooling2D", {}, {"data_format": "channels_first"}, (2, 4, 6, 6)),
    ("GlobalMaxPooling1D", {}, {"data_format": "channels_first"}, (2, 4, 6)),
    ("Flatten", {}, {"data_format": "channels_first"}, (2, 3, 2, 2)),
    ("UpSampling2D", {}, {"data_format": "channels_first"}, (2, 3, 2, 2)),
    ("ZeroPadding2D", {}, {"data_format": "channels_first"}, (2, 3, 2, 2)),
    ("Cropping2D", {"cropping": 1}, {"data_format": "channels_first"}, (2, 3, 4, 4)),
    ("LayerNormalization", {}, {"gamma_regularizer": "l2"}, (4, 5)),
    ("LayerNormalization", {}, {"beta_regularizer": "l1"}, (4, 5)),
    ("LayerNormalization", {}, {"gamma_constraint": _HALF}, (4, 5)),
    ("LayerNormalization", {}, {"beta_constraint": _HALF}, (4, 5)),
    ("BatchNormalization", {}, {"synchronized": True}, (4, 5)),
    ("Bidirectional", {"layer": "gru"}, {"merge_mode": "sum"}, (2, 3, 2)),
    ("ConvLSTM2D", {"filters": 2, "kernel_size": 2}, {"dropout": 0.5}, (1, 2, 4, 4, 1)),
    ("ConvLSTM2D", {"filters": 2, "kernel_size": 2}, {"recurrent_dropout": 0.5},
     (1, 2, 4, 4, 1)),
    ("ConvLSTM2D", {"filters": 2, "kernel_size": 2}, {"stateful": True}, (1, 2, 4, 4, 1)),
    ("ConvLSTM2D", {"filters": 2, "kernel_size": 2}, {"data_format": "channels_first"},
     (1, 2, 1, 4, 4)),
] + [(rnn, {"units": 3}, arg, (2, 4, 2))
     for rnn in ("SimpleRNN", "LSTM", "GRU")
     for arg in ({"dropout": 0.5}, {"recurrent_dropout": 0.5}, {"stateful": True},
                 {"kernel_constraint": _HALF}, {"recurrent_constraint": _HALF},
                 {"bias_constraint": _HALF}, {"activity_regularizer": "l2"},
                 {"use_cudnn": True}, {"time_major": True})]


def _make(name, kwargs):
    kwargs = dict(kwargs)
    if kwargs.get("layer") == "gru":
        kwargs["layer"] = layers.GRU(2, return_sequences=True)
    return getattr(layers, name)(**kwargs)


def _behaviour(layer, x):
    """Everything observable of one layer on x: outputs (inference, training, a second
    call), losses, weight shapes and the weights after one SGD step."""
    out = [layer(x).numpy(), layer(x, training=True).numpy(), layer(x).numpy()]
    losses = [float(v) for v in layer.losses]
    shapes = [w.shape for w in layer.weights]
    if layer.trainable_weights:
        opt = keras.optimizers.SGD(0.01)  # a small step: constraints must clip the init
        with keras.GradientTape() as tape:
            y = layer(x, training=True)
            loss = ops.sum(ops.square(y + 3.0)) + sum((ops.sum(v) for v in layer.losses), 0.0)
        opt.apply(tape.gradient(loss, layer.trainable_weights), layer.trainable_weights)
    return out, losses, shapes, [w.numpy().copy() for w in layer.weights]


@pytest.mark.parametrize("entry", _SWEEP, ids=lambda e: f"{e[0]}-{next(iter(e[2]))}"
                         if isinstance(e, tuple) else str(e))
def test_every_accepted_argument_changes_behaviour_or_raises(entry):
    name, base, arg, shape = entry
    (arg_name, _), = arg.items()
    rng = np.random.default_rng(14)
    x = rng.integers(0, 5, (3, 4)) if shape == "ids" else rng.standard_normal(shape).astype(
        np.float32) - 0.5
    try:
        lay = _make(name, {**base, **arg})
    except (NotImplementedError, TypeError, ValueError) as e:
        assert arg_name in str(e)
        return
    ref = _make(name, base)
    if "data_format" in arg:  # the same layer on the transposed input
        nd = x.ndim
        to_last = (0, 1, 3, 4, 2) if name == "ConvLSTM2D" else (0,) + tuple(range(2, nd)) + (1,)
        y_ref = ref(np.transpose(x, to_last)).numpy()
        lay(x)
        lay.set_weights(ref.get_weights())
        if y_ref.ndim == nd and name != "Flatten":
            y_ref = np.transpose(y_ref, (0, nd - 1) + tuple(range(1, nd - 1)))
        elif name == "ConvLSTM2D":  # the last h of a (batch, time, ...) sequence
            y_ref = np.transpose(y_ref, (0, 3, 1, 2))
        np.testing.assert_allclose(lay(x).numpy(), y_ref, rtol=1e-5, atol=1e-5)
        return
    ref(x)
    lay(x)
    if [w.shape for w in lay.weights] == [w.shape for w in ref.weights]:
        lay.set_weights(ref.get_weights())
    for layer in (ref, lay):
        if hasattr(layer, "_seed_generator") and name != "Dropout":
            layer._seed_generator = keras.random.SeedGenerator(5)
        if getattr(layer, "stateful", False):
            layer.reset_states()
    a, b = _behaviour(ref, x), _behaviour(lay, x)

    def same(p, q):
        if isinstance(p, list):
            return len(p) == len(q) and all(same(u, v) for u, v in zip(p, q))
        if isinstance(p, tuple):
            return p == q
        return np.shape(p) == np.shape(q) and np.allclose(p, q)

    assert not all(same(p, q) for p, q in zip(a, b)), f"{name}({arg_name}=...) changed nothing"


# ---- 6. summary batch size, Lambda on lists, the transposed convolutions ---------------

def _summary(model):
    lines = []
    model.summary(print_fn=lines.append)
    return "\n".join(lines)


def test_summary_shows_the_batch_size_of_the_data_the_model_was_built_on():
    seq = keras.Sequential([layers.Dense(3), layers.Dense(2)])
    seq(np.ones((7, 4), np.float32))
    text = _summary(seq)
    assert "(7, 3)" in text and "(7, 2)" in text
    assert seq(np.ones((3, 4), np.float32)).shape == (3, 2)  # other batch sizes still run

    class Sub(keras.Model):
        def __init__(self):
            super().__init__()
            self.a, self.b = layers.Dense(3), layers.Dense(2)

        def call(self, x):
            return self.b(self.a(x))

    sub = Sub()
    sub(np.ones((5, 4), np.float32))
    text = _summary(sub)
    assert "(5, 3)" in text and "(5, 2)" in text and "?" not in text


def test_summary_batch_size_matches_keras():
    k = _keras()
    shapes = []
    for lib in (keras, k):
        m = lib.Sequential([lib.layers.Dense(3), lib.layers.Dense(2)])
        m(np.ones((7, 4), np.float32))
        shapes.append([tuple(m.layers[i].output.shape) for i in range(2)])
    assert shapes[0] == shapes[1] == [(7, 3), (7, 2)]


def test_lambda_output_shape_on_a_list_of_inputs():
    a, b = keras.Input((3,)), keras.Input((3,))
    summed = layers.Lambda(lambda xs: xs[0] + xs[1], output_shape=(3,))([a, b])
    assert summed.shape == (None, 3)
    model = keras.Model([a, b], summed)
    np.testing.assert_allclose(model([np.ones((2, 3)), np.full((2, 3), 2.0)]).numpy(), 3.0)
    c = keras.Input((4,))
    pair = layers.Lambda(lambda xs: [xs[0] * 2.0, xs[1]], output_shape=[(3,), (4,)])([a, c])
    assert [t.shape for t in pair] == [(None, 3), (None, 4)]
    batch7 = keras.Input((3,), batch_size=7)
    assert layers.Lambda(lambda xs: xs[0], output_shape=(3,))([batch7, a]).shape == (7, 3)
    masked = layers.Lambda(lambda x: x, mask=lambda x, m: ops.not_equal(x, 0.0))
    m = masked.compute_mask(ops.convert_to_tensor(np.array([[0.0, 1.0]], np.float32)))
    np.testing.assert_array_equal(m.numpy(), [[False, True]])


def test_lambda_list_output_shape_matches_keras():
    k = _keras()
    shapes = []
    for lib in (keras, k):
        a, b = lib.Input((3,)), lib.Input((4,))
        out = lib.layers.Lambda(lambda xs: [xs[0], xs[1]], output_shape=[(3,), (4,)])([a, b])
        shapes.append([tuple(t.shape) for t in out])
    assert shapes[0] == shapes[1]


def _np_conv1d_transpose(x, w, stride):
    """'valid' transposed 1-D convolution; w (k, out, in) as Keras."""
    n, length, _ = x.shape
    k, cout, _ = w.shape
    out = np.zeros((n, (length - 1) * stride + k, cout))
    for i in range(length):
        out[:, i * stride:i * stride + k, :] += np.einsum("nc,koc->nko", x[:, i], w)
    return out


@pytest.mark.parametrize("stride", [1, 2, 3])
def test_conv1d_transpose_symbolic_and_eager(stride):
    x = np.random.default_rng(15).standard_normal((2, 5, 4)).astype(np.float32)
    layer = layers.Conv1DTranspose(3, 3, strides=stride, use_bias=False)
    symbolic = layer(keras.Input((5, 4)))
    y = layer(x).numpy()
    assert symbolic.shape == (None,) + y.shape[1:]
    np.testing.assert_allclose(y, _np_conv1d_transpose(x, layer.kernel.numpy(), stride),
                               rtol=1e-4, atol=1e-5)
    model = keras.Sequential([keras.Input((5, 4)), layers.Conv1DTranspose(2, 2, strides=2,
                                                                          padding="same")])
    assert model.layers[-1].output.shape == (None, 10, 2)
    assert model.predict(x, verbose=0).shape == (2, 10, 2)


def test_transposed_convolutions_match_keras():
    k = _keras()
    rng = np.random.default_rng(16)
    cases = [("Conv1DTranspose", (2, 5, 3), dict(strides=2, padding="same")),
             ("Conv1DTranspose", (2, 5, 3), dict(strides=3, output_padding=1)),
             ("Conv2DTranspose", (2, 4, 4, 3), dict(strides=2)),
             ("Conv3DTranspose", (1, 3, 3, 3, 2), dict(strides=2, padding="same"))]
    for name, shape, kwargs in cases:
        x = rng.standard_normal(shape).astype(np.float32)
        ours, theirs = getattr(layers, name)(4, 3, **kwargs), getattr(k.layers, name)(4, 3,
                                                                                        **kwargs)
        ours(x)
        theirs(x)
        theirs.set_weights(ours.get_weights())
        np.testing.assert_allclose(ours(x).numpy(), k.ops.convert_to_numpy(theirs(x)),
                                   rtol=1e-4, atol=1e-4)
        sym = ours(keras.Input(shape[1:]))
        assert tuple(sym.shape) == tuple(theirs.compute_output_shape((None,) + shape[1:]))


def test_sequential_input_standardised_like_functional():
    model = keras.Sequential([keras.Input((28, 28, 1)), layers.Conv2D(2, 3), layers.Flatten(),
                              layers.Dense(3)])
    data = np.random.default_rng(17).random((4, 28, 28)).astype(np.float32)
    np.testing.assert_allclose(model(data).numpy(), model(data[..., None]).numpy())
    model.compile(optimizer="sgd", loss="mse")
    model.fit(data, np.zeros((4, 3)), batch_size=2, verbose=0)
    ids = keras.Sequential([keras.Input((4,), dtype="int32"), layers.Embedding(10, 2)])
    assert ids(np.array([[1.0, 2.0, 3.0, 4.0]])).shape == (1, 4, 2)


@pytest.mark.parametrize("labels", ["sparse", "onehot"])
def test_loss_crossentropy_resolves_from_shapes(labels):
    x, y = _data(12, k=3)
    target = y if labels == "sparse" else np.eye(3, dtype=np.float32)[y]
    model = keras.Sequential([keras.Input((3,)), layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="crossentropy")
    loss = model.evaluate(x, target, verbose=0)
    p = model.predict(x, verbose=0)
    np.testing.assert_allclose(loss, -np.mean(np.log(p[np.arange(12), y])), rtol=1e-5)


def test_bidirectional_return_state_and_initial_state():
    x = np.random.default_rng(18).standard_normal((2, 4, 3)).astype(np.float32)
    bi = layers.Bidirectional(layers.LSTM(2, return_state=True, return_sequences=True))
    out, fh, fc, bh, bc = (t.numpy() for t in bi(x))
    assert out.shape == (2, 4, 4) and fh.shape == fc.shape == bh.shape == bc.shape == (2, 2)
    np.testing.assert_allclose(out[:, -1, :2], fh, atol=1e-6)  # forward's last step
    np.testing.assert_allclose(out[:, 0, 2:], bh, atol=1e-6)  # backward's last step is t=0
    sym = bi(keras.Input((4, 3)))
    assert [tuple(t.shape) for t in sym] == [(None, 4, 4)] + [(None, 2)] * 4
    zeros = [np.zeros((2, 2), np.float32)] * 4
    np.testing.assert_allclose(bi(x, initial_state=zeros)[0].numpy(), out, atol=1e-6)
    ones = [np.ones((2, 2), np.float32)] * 4
    assert not np.allclose(bi(x, initial_state=ones)[0].numpy(), out)


def test_bidirectional_return_state_matches_keras():
    k = _keras()
    x = np.random.default_rng(19).standard_normal((2, 4, 3)).astype(np.float32)
    ours = layers.Bidirectional(layers.GRU(2, return_state=True), merge_mode="sum")
    theirs = k.layers.Bidirectional(k.layers.GRU(2, return_state=True), merge_mode="sum")
    ours(x)
    theirs(x)
    theirs.set_weights(ours.get_weights())
    for a, b in zip(ours(x), theirs(x)):
        np.testing.assert_allclose(a.numpy(), k.ops.convert_to_numpy(b), rtol=1e-5, atol=1e-6)


def test_metrics_are_logged_under_the_names_given():
    model = keras.Sequential([keras.Input((3,)), layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse", metrics=["mae", "mse"])
    logs = model.evaluate(np.ones((4, 3)), np.ones((4, 2)), verbose=0, return_dict=True)
    assert sorted(logs) == ["loss", "mae", "mse"]
    hist = model.fit(np.ones((8, 3)), np.ones((8, 2)), validation_split=0.25, verbose=0)
    assert sorted(hist.history) == ["loss", "mae", "mse", "val_loss", "val_mae", "val_mse"]


def test_prelu_config_round_trip():
    prelu = layers.PReLU(alpha_initializer="ones", alpha_regularizer="l2", shared_axes=[1])
    clone = layers.PReLU.from_config(prelu.get_config())
    x = np.random.default_rng(20).standard_normal((2, 3, 4)).astype(np.float32)
    np.testing.assert_allclose(clone(x).numpy(), prelu(x).numpy())
    assert clone.alpha.shape == (1, 4) and len(clone.losses) == 1


@pytest.mark.parametrize("rec", [0.0, 0.4])
@pytest.mark.parametrize("name", ["SimpleRNN", "LSTM", "GRU"])
def test_rnn_dropout_matches_keras_given_the_same_masks(name, rec):
    k = _keras()
    x = np.random.default_rng(21).standard_normal((3, 5, 2)).astype(np.float32)
    ours = getattr(layers, name)(4, dropout=0.3, recurrent_dropout=rec, return_sequences=True)
    theirs = getattr(k.layers, name)(4, dropout=0.3, recurrent_dropout=rec,
                                     return_sequences=True)
    ours(x)
    theirs(x)
    theirs.set_weights(ours.get_weights())
    y = ours(x, training=True).numpy()
    in_masks, rec_masks = ours._dropout_masks

    def as_keras(masks):
        if masks is None:
            return None
        ms = [k.ops.convert_to_tensor(m.numpy()) for m in masks]
        return ms[0] if name == "SimpleRNN" or not rec else ms

    theirs.cell.get_dropout_mask = lambda step_input: as_keras(in_masks)
    theirs.cell.get_recurrent_dropout_mask = lambda step_input: as_keras(rec_masks)
    np.testing.assert_allclose(y, k.ops.convert_to_numpy(theirs(x, training=True)),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name,kwargs", [("GRU", {"reset_after": False}),
                                         ("LSTM", {"activation": "relu"}),
                                         ("LSTM", {"go_backwards": True, "use_bias": False}),
                                         ("GRU", {"mask": True})])
def test_rnn_recurrent_dropout_variants_match_keras(name, kwargs):
    k = _keras()
    kwargs = dict(kwargs)
    mask = np.array([[1, 1, 0, 1, 1], [1, 0, 0, 0, 1], [1, 1, 1, 1, 1]], bool) \
        if kwargs.pop("mask", False) else None
    x = np.random.default_rng(22).standard_normal((3, 5, 2)).astype(np.float32)
    ours = getattr(layers, name)(4, dropout=0.3, recurrent_dropout=0.4, return_sequences=True,
                                 **kwargs)
    theirs = getattr(k.layers, name)(4, dropout=0.3, recurrent_dropout=0.4,
                                     return_sequences=True, **kwargs)
    ours(x)
    theirs(x)
    theirs.set_weights(ours.get_weights())
    y = ours(x, mask=mask, training=True).numpy()
    in_masks, rec_masks = ours._dropout_masks
    theirs.cell.get_dropout_mask = lambda s: [k.ops.convert_to_tensor(m.numpy())
                                              for m in in_masks]
    theirs.cell.get_recurrent_dropout_mask = lambda s: [k.ops.convert_to_tensor(m.numpy())
                                                        for m in rec_masks]
    np.testing.assert_allclose(
        y, k.ops.convert_to_numpy(theirs(x, mask=mask, training=True)), rtol=1e-5, atol=1e-5)


def test_bidirectional_stateful_states_and_reset():
    x = np.random.default_rng(23).standard_normal((2, 3, 2)).astype(np.float32)
    bi = layers.Bidirectional(layers.GRU(3, stateful=True))
    first = bi(x).numpy()
    assert len(bi.states) == 2 and bi.states[0].shape == (2, 3)
    assert not np.allclose(bi(x).numpy(), first)
    bi.reset_states()
    np.testing.assert_allclose(bi(x).numpy(), first, atol=1e-6)
    with pytest.raises(AttributeError, match="stateful"):
        layers.Bidirectional(layers.GRU(3)).reset_states()


def test_default_build_of_a_block_whose_call_needs_more_warns_as_keras():
    class Pair(layers.Layer):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(2)

        def call(self, x, other):
            return self.dense(x) + other

    pair = Pair()
    with pytest.warns(UserWarning, match="marked as built"):
        pair.build((None, 3))
    assert pair(np.ones((1, 3), np.float32), np.ones((1, 2), np.float32)).shape == (1, 2)
    assert pair.dense.built


@pytest.mark.parametrize("op_name", ["conv", "conv_transpose", "depthwise_conv",
                                     "separable_conv", "max_pool", "average_pool",
                                     "global_max_pool", "global_average_pool"])
def test_ops_data_format_channels_first(op_name):
    rng = np.random.default_rng(24)
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    last = np.transpose(x, (0, 2, 3, 1))
    args = {"conv": (rng.standard_normal((3, 3, 3, 4)).astype(np.float32), 1, "same"),
            "conv_transpose": (rng.standard_normal((3, 3, 4, 3)).astype(np.float32), 2, "valid"),
            "depthwise_conv": (rng.standard_normal((3, 3, 3, 2)).astype(np.float32), 1, "valid"),
            "separable_conv": (rng.standard_normal((3, 3, 3, 1)).astype(np.float32),
                               rng.standard_normal((1, 1, 3, 5)).astype(np.float32)),
            "max_pool": (2,), "average_pool": (3, 2, "same"),
            "global_max_pool": (True,), "global_average_pool": (False,)}[op_name]
    fn = getattr(ops_spatial, op_name)  # global pools are fused helpers of ops.spatial
    got = fn(x, *args, data_format="channels_first").numpy()
    want = fn(last, *args).numpy()
    if want.ndim == 4:
        want = np.transpose(want, (0, 3, 1, 2))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="data_format"):
        fn(x, *args, data_format="channels_middle")


def test_one_hot_casts_float_labels_and_refuses_sparse():
    np.testing.assert_array_equal(ops.one_hot(np.array([1.0, 0.0, 2.0]), 3).numpy(),
                                  np.eye(3)[[1, 0, 2]])
    with pytest.raises(NotImplementedError, match="sparse"):
        ops.one_hot(np.array([1]), 3, sparse=True)


def test_one_hot_float_labels_match_keras():
    k = _keras()
    labels = np.array([[1.0, 0.0], [2.0, 1.0]], np.float32)
    np.testing.assert_array_equal(ops.one_hot(labels, 3).numpy(),
                                  k.ops.convert_to_numpy(k.ops.one_hot(labels, 3)))


def test_more_accepted_arguments_work_or_raise():
    x = np.array([[1.0, 5.0], [-2.0, 0.5]], np.float32)
    np.testing.assert_allclose(ops.max(x, axis=1, initial=3.0).numpy(), [5.0, 3.0])
    np.testing.assert_allclose(ops.min(x, initial=-5.0).numpy(), -5.0)
    assert float(ops.max(np.zeros((0,), np.float32), initial=2.0)) == 2.0
    cases = [(lambda: ops.moments(x, axes=[0], synchronized=True), "synchronized"),
             (lambda: ops.convert_to_tensor(x, sparse=True), "sparse"),
             (lambda: keras.Input((2,), tensor=ops.convert_to_tensor(x)), "input_tensor")]
    for make, arg in cases:
        with pytest.raises(NotImplementedError, match=arg):
            make()
    keras.optimizers.Adam.from_config(keras.optimizers.Adam().get_config())  # defaults load


def test_summary_layer_range_show_trainable_expand_nested_and_widths():
    inner = keras.Sequential([keras.Input((3,)), layers.Dense(2, name="in_a"),
                              layers.Dense(2, name="in_b")], name="inner")
    model = keras.Sequential([keras.Input((3,)), layers.Dense(3, name="first"), inner,
                              layers.Dense(1, name="last")])
    model.layers[0].trainable = False
    lines = []
    model.summary(print_fn=lines.append, show_trainable=True, expand_nested=True)
    text = "\n".join(lines)
    assert "Trainable" in text and "in_a (Dense)" in text and "in_b (Dense)" in text
    row = next(line for line in lines if "first (Dense)" in line)
    assert row.rstrip("│ ").endswith("N")
    lines = []
    model.summary(print_fn=lines.append, layer_range=["inner", "la.*"], line_length=60)
    text = "\n".join(lines)
    assert "first" not in text and "inner (Sequential)" in text and "last (Dense)" in text
    assert {len(line) for line in lines[1:-3]} == {60}
    with pytest.raises(ValueError, match="do not match the layer names"):
        model.summary(layer_range=["nope", "last"])


def test_building_a_functional_graph_leaves_no_losses():
    class Block(layers.Layer):  # no compute_output_shape: its output spec comes from a dry run
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(2, activity_regularizer="l2")

        def call(self, x):
            return self.dense(x)

    inputs = keras.Input((3,))
    model = keras.Model(inputs, Block()(inputs))
    assert model.losses == []
    out = model(np.ones((2, 3), np.float32)).numpy()
    assert len(model.losses) == 1
    np.testing.assert_allclose(float(model.losses[0]), 0.01 * np.sum(out ** 2) / 2, rtol=1e-5)
