"""Each place where a keras-io guide, run against fastnet with only its imports changed,
differed from Keras 3, as a focused test written the way the guide's user hits it; Keras itself (torch
backend) is the optional oracle where a test names one."""

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


def _mlp(k, n_out=10):
    inputs = k.Input(shape=(8,), name="digits")
    x = k.layers.Dense(16, activation="relu")(inputs)
    outputs = k.layers.Dense(n_out, activation="softmax", name="predictions")(x)
    return k.Model(inputs, outputs)


def _data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 8)).astype("float32"), rng.integers(0, 10, n).astype("float32")


# ---- Metric state through add_variable (training guide: CategoricalTruePositives) -------

class CategoricalTruePositives(keras.metrics.Metric):
    def __init__(self, name="categorical_true_positives", **kwargs):
        super().__init__(name=name, **kwargs)
        self.true_positives = self.add_variable(shape=(), name="ctp", initializer="zeros")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.reshape(ops.argmax(y_pred, axis=1), (-1, 1))
        values = ops.cast(ops.cast(y_true, "int32") == ops.cast(y_pred, "int32"), "float32")
        if sample_weight is not None:
            values = ops.multiply(values, ops.cast(sample_weight, "float32"))
        self.true_positives.assign_add(ops.sum(values))

    def result(self):
        return self.true_positives


def test_metric_add_variable_holds_state_and_fit_logs_it_per_epoch():
    m = CategoricalTruePositives()
    assert len(m.variables) == 1 and m.variables[0] is m.true_positives
    assert not m.true_positives.trainable and m.true_positives.shape == ()
    y_pred = np.eye(3, dtype="float32")[[0, 1, 2, 0]]
    m.update_state(np.array([[0], [1], [0], [0]]), y_pred)
    assert float(m.result()) == 3.0  # rows 0, 1 and 3 match
    m.reset_state()  # Keras's default: every variable back to zeros
    assert float(m.result()) == 0.0

    x, y = _data()
    y = y.reshape(-1, 1)  # (n, 1) labels: the metric compares them with (n, 1) argmaxes
    model = _mlp(keras)
    model.compile("rmsprop", "sparse_categorical_crossentropy",
                  metrics=[CategoricalTruePositives()])
    h = model.fit(x, y, batch_size=16, epochs=3, verbose=0)
    assert sorted(h.history) == ["categorical_true_positives", "loss"]
    # reset at each epoch: a count of that epoch's correct samples
    assert all(0 <= v <= len(x) for v in h.history["categorical_true_positives"])
    assert all(float(v).is_integer() for v in h.history["categorical_true_positives"])
    r = model.evaluate(x, y, batch_size=len(x), verbose=0, return_dict=True)
    pred = model.predict(x, verbose=0).argmax(-1)
    assert r["categorical_true_positives"] == float(np.sum(pred == y[:, 0]))


def test_metric_add_weight_keras_signature_and_missing_super_init():
    class Total(keras.metrics.Metric):
        def __init__(self):
            super().__init__(name="total")
            self.total = self.add_weight(name="t")  # shape=() and zeros by default

        def update_state(self, values):
            self.total.assign_add(ops.sum(values))

        def result(self):
            return self.total

    t = Total()
    t.update_state(np.array([1.0, 2.0]))
    assert float(t.result()) == 3.0 and t.total.shape == ()

    class NoSuper(keras.metrics.Metric):
        def __init__(self):
            self.v = self.add_variable(shape=(), initializer="zeros")

    with pytest.raises(RuntimeError, match="super\\(\\).__init__"):
        NoSuper()

    class Stateless(keras.metrics.Metric):
        def update_state(self, *a):
            pass

        def result(self):
            return 0.0

    with pytest.raises(NotImplementedError, match="reset_state"):
        Stateless().reset_state()


# ---- on_batch_begin / on_batch_end (training guide: LossHistory) ------------------------

def test_on_batch_end_runs_at_every_training_batch():
    class LossHistory(keras.callbacks.Callback):
        def on_train_begin(self, logs):
            self.per_batch_losses = []
            self.begins = 0

        def on_batch_begin(self, batch, logs):
            self.begins += 1

        def on_batch_end(self, batch, logs):
            self.per_batch_losses.append(logs.get("loss"))

    x, y = _data(n=100)
    model = _mlp(keras)
    model.compile("rmsprop", "sparse_categorical_crossentropy")
    cb = LossHistory()
    model.fit(x, y, batch_size=10, epochs=2, verbose=0, callbacks=[cb])
    assert cb.begins == 20 and len(cb.per_batch_losses) == 20
    assert all(isinstance(v, float) for v in cb.per_batch_losses)
    # evaluation batches do not call them (as Keras: only the training-batch hooks do)
    model.evaluate(x, y, batch_size=10, verbose=0, callbacks=[cb])
    assert len(cb.per_batch_losses) == 20


# ---- compile() keeps an earlier loss / metrics (subclassing guide) ---------------------

def test_compile_without_loss_or_metrics_keeps_the_earlier_ones():
    x, y = _data()
    model = _mlp(keras)
    model.compile("adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.compile(optimizer="adam")  # Keras 3 keeps the loss and the metrics
    h = model.fit(x, y, epochs=1, verbose=0)
    assert sorted(h.history) == ["accuracy", "loss"]
    w = model.get_weights()
    manual = model.evaluate(x, y, verbose=0, return_dict=True)
    model.set_weights(w)
    probs = model.predict(x, verbose=0)
    ce = -np.mean(np.log(np.clip(probs[np.arange(len(y)), y.astype(int)], 1e-7, 1)))
    np.testing.assert_allclose(manual["loss"], ce, rtol=1e-4)

    fresh = _mlp(keras)
    fresh.compile(optimizer="adam")  # a first compile without loss has none
    with pytest.raises(ValueError, match="No loss to compute"):
        fresh.fit(x, y, epochs=1, verbose=0)


def test_compile_keeps_earlier_loss_like_keras():
    k = _keras()
    x, y = _data()
    for lib in (keras, k):
        model = _mlp(lib)
        model.compile("adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        model.compile(optimizer="adam")
        keys = sorted(model.fit(x, y, epochs=1, verbose=0).history)
        assert keys == ["accuracy", "loss"], lib.__name__


# ---- multi-output losses and their logs (training guide) -------------------------------

def _two_outputs(k):
    inp = k.Input(shape=(6,), name="x")
    h = k.layers.Dense(4)(inp)
    score = k.layers.Dense(1, name="score_output")(h)
    cls = k.layers.Dense(5, name="class_output")(h)
    return k.Model(inp, [score, cls])


def _two_output_data():
    rng = np.random.default_rng(1)
    return (rng.random((32, 6)).astype("float32"),
            [rng.random((32, 1)).astype("float32"), rng.random((32, 5)).astype("float32")])


def test_per_output_loss_logged_only_with_several_losses():
    x, ys = _two_output_data()
    model = _two_outputs(keras)
    model.compile("rmsprop", loss=[None, keras.losses.CategoricalCrossentropy()])
    assert sorted(model.fit(x, ys, epochs=1, verbose=0).history) == ["loss"]
    model.compile("rmsprop", loss=["mse", keras.losses.CategoricalCrossentropy()])
    assert sorted(model.fit(x, ys, epochs=1, verbose=0).history) == [
        "class_output_loss", "loss", "score_output_loss"]


def test_loss_dict_must_name_every_output():
    x, ys = _two_output_data()
    model = _two_outputs(keras)
    model.compile("rmsprop", loss={"class_output": keras.losses.CategoricalCrossentropy()})
    with pytest.raises(ValueError, match=r"Expected keys \['score_output', 'class_output'\] "
                                         r"in loss dict, but found loss.keys\(\)="
                                         r"\['class_output'\]"):
        model.fit(x, ys, epochs=1, verbose=0)
    model.compile("rmsprop", loss={"class_output": "categorical_crossentropy",
                                   "score_output": None})
    assert sorted(model.fit(x, ys, epochs=1, verbose=0).history) == ["loss"]


def test_recompiling_with_the_same_metrics_names_them_once():
    x, ys = _two_output_data()
    model = _two_outputs(keras)
    mae = keras.metrics.MeanAbsoluteError()
    acc = keras.metrics.CategoricalAccuracy()
    for _ in range(3):
        model.compile("rmsprop", loss=["mse", "categorical_crossentropy"],
                      metrics=[[mae], [acc]])
        keys = sorted(model.fit(x, ys, epochs=1, verbose=0).history)
    assert keys == ["class_output_categorical_accuracy", "class_output_loss", "loss",
                    "score_output_loss", "score_output_mean_absolute_error"]
    assert mae.name == "mean_absolute_error"  # the metric object keeps its own name


def test_duplicate_and_weighted_metric_names_like_keras():
    k = _keras()
    x, y = _data()
    sw = np.linspace(0.5, 1.5, len(x)).astype("float32")
    found = []
    for lib in (keras, k):
        model = _mlp(lib)
        model.compile("rmsprop", "sparse_categorical_crossentropy",
                      metrics=["sparse_categorical_accuracy", "sparse_categorical_accuracy"],
                      weighted_metrics=["sparse_categorical_accuracy"])
        found.append(list(model.fit(x, y, sample_weight=sw, epochs=1, verbose=0).history))
    assert sorted(found[0]) == sorted(found[1])
    assert "weighted_sparse_categorical_accuracy" in found[0]
    assert "sparse_categorical_accuracy_1" in found[0]


# ---- Model.input_shape / output_shape (sequential and functional guides) ---------------

def test_input_and_output_shape_properties():
    model = keras.Sequential([keras.Input(shape=(250, 250, 3)),
                              layers.Conv2D(32, 5, strides=2), layers.MaxPooling2D(3)])
    assert model.input_shape == (None, 250, 250, 3)
    assert model.output_shape == (None, 41, 41, 32)
    two = _two_outputs(keras)
    assert two.input_shape == (None, 6) and two.output_shape == [(None, 1), (None, 5)]
    lazy = keras.Sequential([layers.Dense(2)])
    with pytest.raises(AttributeError, match="no defined output shape"):
        _ = lazy.output_shape
    lazy(np.ones((3, 4), "float32"))
    assert lazy.output_shape == (3, 2)  # built on data: that batch size, as Keras


# ---- optimizer.learning_rate reads back as float32 (callbacks guide) -------------------

def test_learning_rate_reads_back_as_its_float32_value():
    opt = keras.optimizers.RMSprop(learning_rate=0.1)
    assert opt.learning_rate == float(np.float32(0.1)) == 0.10000000149011612
    opt.learning_rate = 0.05
    assert float(np.array(opt.learning_rate)) == float(np.float32(0.05))
    k = _keras()
    kopt = k.optimizers.RMSprop(learning_rate=0.1)
    kopt.learning_rate = 0.05
    assert float(k.ops.convert_to_numpy(kopt.learning_rate)) == opt.learning_rate


# ---- masks on tensors (masking guide) --------------------------------------------------

PADDED = np.array([[711, 632, 71, 0, 0, 0], [73, 8, 3215, 55, 927, 0],
                   [83, 91, 1, 645, 1253, 927]], dtype="int32")


def test_mask_generating_layers_attach_the_mask_to_their_output():
    out = layers.Embedding(input_dim=5000, output_dim=16, mask_zero=True)(PADDED)
    np.testing.assert_array_equal(ops.convert_to_numpy(out._keras_mask), PADDED != 0)
    x = ops.cast(ops.tile(ops.expand_dims(PADDED, -1), [1, 1, 10]), "float32")
    masked = layers.Masking()(x)
    np.testing.assert_array_equal(ops.convert_to_numpy(masked._keras_mask), PADDED != 0)
    unmasked = layers.Dense(3)(x)
    assert not hasattr(unmasked, "_keras_mask")


def test_subclassed_layer_lstm_gets_the_embedding_mask_without_passing_it():
    class Encoder(layers.Layer):
        def __init__(self, explicit, **kwargs):
            super().__init__(**kwargs)
            self.explicit = explicit
            self.embedding = layers.Embedding(input_dim=50, output_dim=4, mask_zero=True)
            self.lstm = layers.LSTM(3)

        def call(self, inputs):
            x = self.embedding(inputs)
            if self.explicit:
                return self.lstm(x, mask=self.embedding.compute_mask(inputs))
            return self.lstm(x)  # Keras 3: the mask travels on x

    ids = np.array([[5, 6, 7, 0, 0], [1, 2, 3, 4, 9]], "int32")
    implicit, explicit = Encoder(False), Encoder(True)
    implicit(ids)
    explicit(ids)
    explicit.set_weights(implicit.get_weights())
    a = ops.convert_to_numpy(implicit(ids))
    np.testing.assert_allclose(a, ops.convert_to_numpy(explicit(ids)), atol=1e-6)
    # the padded steps are skipped: same as the unpadded sequence
    np.testing.assert_allclose(a[0], ops.convert_to_numpy(implicit(ids[:1, :3]))[0], atol=1e-6)


class TemporalSplit(keras.layers.Layer):
    def call(self, inputs):
        return ops.split(inputs, 2, axis=1)

    def compute_mask(self, inputs, mask=None):
        if mask is None:
            return None
        return ops.split(mask, 2, axis=1)


def test_overriding_compute_mask_makes_a_layer_support_masking():
    assert TemporalSplit().supports_masking
    assert not layers.Layer().supports_masking

    class Off(TemporalSplit):
        def __init__(self):
            super().__init__()
            self.supports_masking = False

    assert not Off().supports_masking
    x = layers.Masking()(ops.cast(ops.expand_dims(PADDED, -1), "float32"))
    first, second = TemporalSplit()(x)
    np.testing.assert_array_equal(ops.convert_to_numpy(first._keras_mask), PADDED[:, :3] != 0)
    np.testing.assert_array_equal(ops.convert_to_numpy(second._keras_mask), PADDED[:, 3:] != 0)


def test_functional_model_gives_each_output_its_own_mask():
    class Mean(keras.layers.Layer):
        def call(self, inputs, mask=None):
            m = ops.cast(ops.expand_dims(mask, -1), "float32")
            return ops.sum(inputs * m, axis=1) / ops.maximum(ops.sum(m, axis=1), 1.0)

    inp = keras.Input(shape=(6,), dtype="int32")
    emb = layers.Embedding(10, 2, mask_zero=True, embeddings_initializer="ones")(inp)
    a, b = TemporalSplit()(emb)
    model = keras.Model(inp, [Mean()(a), Mean()(b)])
    ids = np.array([[1, 2, 3, 0, 0, 0], [1, 0, 0, 4, 5, 0]], "int32")
    out_a, out_b = (ops.convert_to_numpy(t) for t in model(ids))
    np.testing.assert_allclose(out_a, np.ones((2, 2)))
    np.testing.assert_allclose(out_b, [[0, 0], [1, 1]])  # row 0's second half is all padding


def test_mask_consuming_custom_layer_builds_in_a_functional_model():
    class TemporalSoftmax(keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.supports_masking = True

        def call(self, inputs, mask=None):
            assert mask is not None
            m = ops.expand_dims(ops.cast(mask, "float32"), -1)
            e = ops.exp(inputs) * m
            return e / ops.sum(e * m, axis=1, keepdims=True)

    inputs = keras.Input(shape=(None,), dtype="int32")
    x = layers.Embedding(input_dim=10, output_dim=32, mask_zero=True)(inputs)
    assert x._keras_mask.shape == (None, None) and x._keras_mask.dtype == "bool"
    x = layers.Dense(1)(x)
    outputs = TemporalSoftmax()(x)
    model = keras.Model(inputs, outputs)
    ids = np.array([[3, 4, 0, 0], [1, 2, 3, 5]], "int32")
    y = ops.convert_to_numpy(model(ids))[..., 0]
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-5)
    assert np.all(y[0, 2:] == 0)  # masked steps get no probability


def test_functional_call_takes_input_masks():
    inp = keras.Input(shape=(None, 3))
    out = layers.LSTM(2)(inp)
    model = keras.Model(inp, out)
    x = np.random.default_rng(0).random((2, 5, 3)).astype("float32")
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
    masked = ops.convert_to_numpy(model(x, mask=mask))
    np.testing.assert_allclose(masked[0], ops.convert_to_numpy(model(x[:1, :3]))[0], atol=1e-6)
    np.testing.assert_allclose(masked[1], ops.convert_to_numpy(model(x[1:]))[0], atol=1e-6)


def test_masks_match_keras():
    k = _keras()
    for lib in (keras, k):
        emb = lib.layers.Embedding(input_dim=5000, output_dim=16, mask_zero=True)
        out = emb(PADDED)
        first, second = TemporalSplitFor(lib)()(out)
        np.testing.assert_array_equal(lib.ops.convert_to_numpy(second._keras_mask),
                                      PADDED[:, 3:] != 0)


def TemporalSplitFor(lib):
    class Split(lib.layers.Layer):
        def call(self, inputs):
            return lib.ops.split(inputs, 2, axis=1)

        def compute_mask(self, inputs, mask=None):
            return None if mask is None else lib.ops.split(mask, 2, axis=1)

    return Split


# ---- dict outputs in sorted key order (functional guide: the ticket model) --------------

def _ticket(k):
    title = k.Input(shape=(None,), name="title")
    tags = k.Input(shape=(12,), name="tags")
    x = k.layers.concatenate([k.layers.GlobalAveragePooling1D()(
        k.layers.Embedding(100, 4)(title)), tags])
    return k.Model(inputs=[title, tags],
                   outputs={"priority": k.layers.Dense(1, name="priority")(x),
                            "department": k.layers.Dense(4, name="department")(x)})


def test_dict_outputs_follow_sorted_keys():
    model = _ticket(keras)
    assert model.output_names == ["department", "priority"]
    assert [t.shape for t in model.outputs] == [(None, 4), (None, 1)]
    assert [lay.name for lay in model.layers][-2:] == ["department", "priority"]
    # a list of losses follows that order: [department's, priority's]
    model.compile("rmsprop", loss=["categorical_crossentropy", "mse"])
    rng = np.random.default_rng(0)
    x = {"title": rng.integers(0, 100, (16, 5)), "tags": rng.random((16, 12))}
    y = {"priority": rng.random((16, 1)), "department": np.eye(4)[rng.integers(0, 4, 16)]}
    h = model.fit(x, y, epochs=1, verbose=0)
    assert sorted(h.history) == ["department_loss", "loss", "priority_loss"]
    pred = model.predict(x, verbose=0)
    assert isinstance(pred, dict) and pred["priority"].shape == (16, 1)


def test_dict_inputs_follow_sorted_keys_as_a_list():
    a = keras.Input(shape=(1,), name="b_in")
    b = keras.Input(shape=(2,), name="a_in")
    model = keras.Model({"zeta": a, "alpha": b}, layers.concatenate([a, b]))
    assert [t.shape for t in model.inputs] == [(None, 2), (None, 1)]  # alpha, zeta
    out = ops.convert_to_numpy(model([np.full((1, 2), 2.0), np.full((1, 1), 1.0)]))
    np.testing.assert_array_equal(out, [[1.0, 2.0, 2.0]])


def test_dict_outputs_order_like_keras():
    k = _keras()
    assert _ticket(keras).output_names == list(_ticket(k).output_names)


# ---- summary of a subclassed model's nested Sequential (intro guide) --------------------

def test_summary_shows_a_nested_sequentials_output_shape():
    class MyModel(keras.Model):
        def __init__(self):
            super().__init__()
            self.conv_base = keras.Sequential([layers.Conv2D(4, 3),
                                               layers.GlobalAveragePooling2D()])
            self.dense = layers.Dense(2)

        def call(self, x):
            return self.dense(self.conv_base(x))

    model = MyModel()
    model(np.zeros((5, 8, 8, 1), "float32"))
    lines = []
    model.summary(print_fn=lambda line, *a, **kw: lines.append(line))
    text = "\n".join(lines)
    row = next(ln for ln in text.splitlines() if "(Sequential)" in ln)
    assert "(5, 4)" in row


# ---- to_categorical's dtype (mnist_convnet example) ------------------------------------

def test_to_categorical_dtype_like_keras():
    y = keras.utils.to_categorical(np.array([3, 0, 9], "uint8"), 10)
    assert y.dtype == np.float64 and y.shape == (3, 10)
    np.testing.assert_array_equal(y.argmax(-1), [3, 0, 9])
    k = _keras()
    ky = k.utils.to_categorical(np.array([3, 0, 9], "uint8"), 10)
    assert ky.dtype == y.dtype
    np.testing.assert_array_equal(ky, y)


# ---- Keras objects inside a custom get_config are serialized (saving guide) ------------

def test_layer_serialize_serializes_nested_keras_objects():
    import json

    class Wrap(keras.layers.Layer):
        def __init__(self, inner=None, reg=None, **kwargs):
            super().__init__(**kwargs)
            self.inner, self.reg = inner, reg

        def get_config(self):
            return {**super().get_config(), "inner": self.inner, "reg": self.reg}

    config = keras.layers.serialize(Wrap(inner=layers.Dense(3), reg=keras.regularizers.L1(0.5)))
    inner = config["config"]["inner"]
    assert inner["class_name"] == "Dense" and inner["config"]["units"] == 3
    assert config["config"]["reg"]["class_name"] == "L1"
    json.dumps(config)  # JSON-able, as a .keras file needs
