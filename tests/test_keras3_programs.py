"""Short Keras 3 programs of the kind people write today, run as written with `keras` being
fastnet (and, when installed, Keras 3 on the torch backend, whose results they must equal).
Each program is a function of the library; it returns what a user would look at (history,
evaluations, predictions, files written, shapes). fastnet's results are also checked
against numbers that hold without Keras (numpy formulas and structural facts)."""

import csv
import math
import os

import numpy as np
import pytest
from keras_peer import keras_or_skip as _keras
from keras_peer import to_numpy as _np

import fastnet


def _fill(model, seed=0):
    """The same deterministic trainable weights in both libraries."""
    rng = np.random.default_rng(seed)
    for w in model.trainable_weights:
        w.assign(rng.uniform(-0.4, 0.4, tuple(w.shape)).astype("float32"))


def _is_torch(keras):
    return keras is not fastnet


def _close(a, b, path="result"):
    """Results equal up to float32 rounding (dicts, lists, arrays, numbers, strings)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), f"{path}: keys {list(a)} != {list(b)}"
        for k in a:
            _close(a[k], b[k], f"{path}[{k!r}]")
    elif isinstance(a, (list, tuple)) and not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in a):
        assert len(a) == len(b), f"{path}: {len(a)} items != {len(b)}"
        for i, (p, q) in enumerate(zip(a, b)):
            _close(p, q, f"{path}[{i}]")
    elif isinstance(a, (str, bool, type(None))):
        assert a == b, f"{path}: {a!r} != {b!r}"
    else:
        np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64),
                                   rtol=2e-4, atol=2e-5, err_msg=path)


def _history(h):
    return {k: [float(v) for v in vals] for k, vals in sorted(h.history.items())}


# ---- 1. a subclassed Model with its own train_step and test_step ---------------------------

def custom_steps_program(keras):
    ops = keras.ops
    torch_backend = _is_torch(keras)

    class Regressor(keras.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.hidden = keras.layers.Dense(16, activation="relu")
            self.out = keras.layers.Dense(1)
            self.mae = keras.metrics.MeanAbsoluteError(name="mae")
            self.loss_tracker = keras.metrics.Mean(name="loss")

        def call(self, x):
            return self.out(self.hidden(x))

        def _loss_and_grads(self, x, y):
            if torch_backend:  # Keras's torch guide: zero_grad, backward, .grad
                self.zero_grad()
                y_pred = self(x, training=True)
                loss = self.compute_loss(x=x, y=y, y_pred=y_pred)
                loss.backward()
                return loss, y_pred, [v.value.grad for v in self.trainable_weights]
            with keras.GradientTape() as tape:  # the TensorFlow guide's tf.GradientTape
                y_pred = self(x, training=True)
                loss = self.compute_loss(x=x, y=y, y_pred=y_pred)
            return loss, y_pred, tape.gradient(loss, self.trainable_weights)

        def train_step(self, data):
            x, y = data
            loss, y_pred, grads = self._loss_and_grads(x, y)
            if torch_backend:
                import torch

                with torch.no_grad():
                    self.optimizer.apply(grads, self.trainable_weights)
            else:
                self.optimizer.apply(grads, self.trainable_weights)
            self.loss_tracker.update_state(loss)
            self.mae.update_state(y, y_pred)
            return {"loss": self.loss_tracker.result(), "mae": self.mae.result()}

        def test_step(self, data):
            x, y = data
            y_pred = self(x, training=False)
            self.loss_tracker.update_state(self.compute_loss(x=x, y=y, y_pred=y_pred))
            self.mae.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

        @property
        def metrics(self):
            return [self.loss_tracker, self.mae]

    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 4)).astype("float32")
    y = (np.sin(x[:, :1]) + 0.5 * x[:, 1:2] ** 2).astype("float32")
    model = Regressor()
    model(x[:2])
    _fill(model)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    h = model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0,
                  validation_data=(x[:16], y[:16]))
    pred = _np(model.predict(x[:3], verbose=0))
    first = ops.convert_to_numpy(model(x[:3])) if hasattr(ops, "convert_to_numpy") else pred
    return {"history": _history(h),
            "evaluate": model.evaluate(x, y, batch_size=32, verbose=0, return_dict=True),
            "evaluate_list": model.evaluate(x, y, batch_size=32, verbose=0),
            "predict": pred.ravel().tolist(), "call": _np(first).ravel().tolist(),
            "metrics": [m.name for m in model.metrics], "params": model.count_params(),
            "n_weights": len(model.weights)}


def test_custom_train_and_test_steps():
    r = custom_steps_program(fastnet)
    assert list(r["history"]) == ["loss", "mae", "val_loss", "val_mae"]
    assert r["history"]["loss"][-1] < r["history"]["loss"][0]
    assert r["metrics"] == ["loss", "mae"] and r["params"] == 4 * 16 + 16 + 16 + 1
    assert r["n_weights"] == 4 and r["predict"] == pytest.approx(r["call"], abs=1e-6)
    assert r["evaluate_list"] == pytest.approx([r["evaluate"]["loss"], r["evaluate"]["mae"]])


def test_custom_train_and_test_steps_against_keras():
    _close(custom_steps_program(fastnet), custom_steps_program(_keras()))


# ---- 2. the callbacks of a training script ----------------------------------------------

def callbacks_program(keras, folder):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((96, 5)).astype("float32")
    y = (x @ rng.standard_normal((5, 1)) > 0).astype("float32")
    xv, yv = x[:32] + 0.5, y[:32]

    def build():
        m = keras.Sequential([keras.Input((5,)), keras.layers.Dense(8, activation="tanh"),
                              keras.layers.Dense(1, activation="sigmoid")])
        _fill(m)
        m.compile(optimizer=keras.optimizers.SGD(0.5), loss="binary_crossentropy",
                  metrics=["accuracy"])
        return m

    model = build()
    seen_lr = []
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=2,
                                         restore_best_weights=True)
    cbs = [stop,
           keras.callbacks.ModelCheckpoint(os.path.join(folder, "best.keras"),
                                           monitor="val_loss", save_best_only=True),
           keras.callbacks.ModelCheckpoint(os.path.join(folder, "ep{epoch:02d}.weights.h5"),
                                           save_weights_only=True),
           keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1,
                                             min_lr=0.01),
           keras.callbacks.CSVLogger(os.path.join(folder, "log.csv")),
           keras.callbacks.LearningRateScheduler(lambda e, lr: lr if e < 2 else lr * 0.9),
           keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: seen_lr.append(
               float(_np(model.optimizer.learning_rate))))]
    h = model.fit(x, y, validation_data=(xv, yv), epochs=12, batch_size=32, shuffle=False,
                  verbose=0, callbacks=cbs)
    with open(os.path.join(folder, "log.csv"), newline="") as f:
        rows = list(csv.reader(f))
    best = keras.models.load_model(os.path.join(folder, "best.keras"))
    first = build()
    first.load_weights(os.path.join(folder, "ep01.weights.h5"))

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 2:
                raise RuntimeError("interrupted")

    backup = os.path.join(folder, "backup")
    with pytest.raises(RuntimeError, match="interrupted"):
        build().fit(x, y, epochs=5, batch_size=32, shuffle=False, verbose=0,
                    callbacks=[keras.callbacks.BackupAndRestore(backup), Interrupt()])
    resumed = build().fit(x, y, epochs=5, batch_size=32, shuffle=False, verbose=0,
                          callbacks=[keras.callbacks.BackupAndRestore(backup)])
    whole = build().fit(x, y, epochs=5, batch_size=32, shuffle=False, verbose=0)
    return {"history": _history(h), "stopped_epoch": stop.stopped_epoch,
            "best": float(stop.best), "lr_seen": seen_lr,
            "files": sorted(os.listdir(folder)), "csv_header": rows[0], "csv_rows": len(rows),
            "restored_val": float(model.evaluate(xv, yv, verbose=0)[0]),
            "best_file_val": float(best.evaluate(xv, yv, verbose=0)[0]),
            "epoch1_val": float(first.evaluate(xv, yv, verbose=0)[0]),
            "resumed": _history(resumed), "whole": _history(whole),
            "backup_left": os.path.exists(backup)}


def test_callbacks(tmp_path):
    r = callbacks_program(fastnet, str(tmp_path))
    val = r["history"]["val_loss"]
    best_epoch = int(np.argmin(val))
    assert r["stopped_epoch"] == best_epoch + 2 and len(val) == best_epoch + 3  # patience 2
    assert r["restored_val"] == pytest.approx(min(val), abs=1e-5)
    assert r["best_file_val"] == pytest.approx(min(val), abs=1e-5)
    assert r["epoch1_val"] == pytest.approx(val[0], abs=1e-5)
    assert r["lr_seen"] == pytest.approx(r["history"]["learning_rate"])
    lr = r["history"]["learning_rate"]
    assert lr[:3] == pytest.approx([0.5, 0.5, 0.45])  # the scheduler from epoch 2 on
    assert r["csv_header"] == ["epoch", "accuracy", "learning_rate", "loss", "val_accuracy",
                               "val_loss"] and r["csv_rows"] == len(val) + 1
    assert r["files"] == sorted(["best.keras", "log.csv"] + [f"ep{i:02d}.weights.h5" for i in
                                                           range(1, len(val) + 1)])
    # BackupAndRestore: the interrupted run resumes at epoch 3 and ends as the whole run
    assert r["resumed"]["loss"] == pytest.approx(r["whole"]["loss"][3:], rel=1e-5)
    assert r["backup_left"] is False


def test_callbacks_against_keras(tmp_path):
    k = _keras()
    (tmp_path / "f").mkdir()
    (tmp_path / "k").mkdir()
    _close(callbacks_program(fastnet, str(tmp_path / "f")),
           callbacks_program(k, str(tmp_path / "k")))


# ---- 3. save / load round trips with registered custom objects --------------------------

@pytest.fixture
def clean_registry():
    """The programs' registered classes leave fastnet's registry as they found it."""
    reg = fastnet.saving.object_registration
    objects, names = dict(reg.GLOBAL_CUSTOM_OBJECTS), dict(reg.GLOBAL_CUSTOM_NAMES)
    yield
    reg.GLOBAL_CUSTOM_OBJECTS.clear()
    reg.GLOBAL_CUSTOM_OBJECTS.update(objects)
    reg.GLOBAL_CUSTOM_NAMES.clear()
    reg.GLOBAL_CUSTOM_NAMES.update(names)


def saving_program(keras, folder, tag):
    """Writes its files as `<kind>_<tag>.keras` and reads back every such file in the
    folder: the other library's files too, when both ran on one folder."""
    ops = keras.ops

    @keras.saving.register_keras_serializable(package="programs")
    class ScaledDense(keras.layers.Layer):
        def __init__(self, units, scale=1.0, **kwargs):
            super().__init__(**kwargs)
            self.units, self.scale = units, scale

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], self.units), name="w",
                                     initializer="glorot_uniform")
            self.b = self.add_weight(shape=(self.units,), initializer="zeros", name="b")

        def call(self, x):
            return ops.matmul(x, self.w) * self.scale + self.b

        def get_config(self):
            return {**super().get_config(), "units": self.units, "scale": self.scale}

    @keras.saving.register_keras_serializable(package="programs")
    def huberish(y_true, y_pred):
        e = ops.abs(y_true - y_pred)
        return ops.mean(ops.where(e < 1.0, 0.5 * e * e, e - 0.5), axis=-1)

    @keras.saving.register_keras_serializable(package="programs")
    class Residual(keras.Model):
        def __init__(self, units=4, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.a = ScaledDense(units, scale=2.0)
            self.b = keras.layers.Dense(units)

        def call(self, x):
            return self.b(ops.relu(self.a(x))) + x[:, :self.units]

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    rng = np.random.default_rng(2)
    x = rng.standard_normal((32, 6)).astype("float32")
    y = rng.standard_normal((32, 4)).astype("float32")
    inp = keras.Input((6,), name="features")
    hidden = ScaledDense(8, scale=0.5, name="scaled")(inp)
    out = keras.layers.Dense(4, name="head")(keras.layers.Activation("gelu")(hidden))
    model = keras.Model(inp, out, name="functional")
    _fill(model)
    model.compile(optimizer="adam", loss=huberish, metrics=["mae"])
    model.fit(x, y, epochs=2, batch_size=8, verbose=0, shuffle=False)
    model.save(os.path.join(folder, f"functional_{tag}.keras"))
    sub = Residual(units=4)
    sub(x[:1])
    _fill(sub, 3)
    sub.compile("sgd", "mse")
    sub.save(os.path.join(folder, f"subclassed_{tag}.keras"))
    weights = os.path.join(folder, f"w_{tag}.weights.h5")
    model.save_weights(weights)
    rebuilt = keras.Model.from_config(model.get_config())
    rebuilt.load_weights(weights)
    out = {"rebuilt": _np(rebuilt.predict(x, verbose=0)).tolist(),
           "registered": keras.saving.get_registered_name(ScaledDense),
           "found": keras.saving.get_registered_object("programs>huberish") is huberish}
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".keras"):
            continue
        loaded = keras.models.load_model(os.path.join(folder, name))
        kind = name.split("_")[0]
        if kind == "functional":
            out[kind + "_" + name.split("_")[1]] = {
                "predict": _np(loaded.predict(x[:2], verbose=0)).tolist(),
                "loss": getattr(loaded.loss, "__name__", str(loaded.loss)),
                "iterations": int(_np(loaded.optimizer.iterations)),
                "continues": _history(loaded.fit(x, y, epochs=1, batch_size=8, verbose=0,
                                                 shuffle=False))}
        else:
            out[kind + "_" + name.split("_")[1]] = {
                "class": type(loaded).__name__, "units": loaded.get_config()["units"],
                "call": _np(loaded(x[:2])).tolist()}
    out["original_continues"] = _history(model.fit(x, y, epochs=1, batch_size=8, verbose=0,
                                                   shuffle=False))
    out["original_call"] = _np(sub(x[:2])).tolist()
    return out


def test_save_and_load_custom_objects(tmp_path, clean_registry):
    r = saving_program(fastnet, str(tmp_path), "ours")
    assert r["registered"] == "programs>ScaledDense" and r["found"]
    f = r["functional_ours.keras"]
    assert f["loss"] == "huberish" and f["iterations"] == 8  # 2 epochs of 4 batches
    assert f["continues"] == r["original_continues"]  # optimizer state came back too
    assert r["subclassed_ours.keras"] == {"class": "Residual", "units": 4,
                                          "call": r["original_call"]}


def test_save_and_load_custom_objects_against_keras(tmp_path, clean_registry):
    k = _keras()
    ours = saving_program(fastnet, str(tmp_path), "ours")
    theirs = saving_program(k, str(tmp_path), "theirs")  # reads our files too
    both = saving_program(fastnet, str(tmp_path), "ours")  # reads Keras's files
    assert set(both) >= {"functional_theirs.keras", "subclassed_theirs.keras"}
    _close({key: v for key, v in both.items() if key.endswith("ours.keras")},
           {key: v for key, v in ours.items() if key.endswith("ours.keras")})
    _close({key: theirs[key] for key in sorted(theirs)}, {key: both[key] for key in sorted(both)})


# ---- 4. preprocessing layers inside a model ------------------------------------------------

def preprocessing_program(keras, folder):
    layers = keras.layers
    rng = np.random.default_rng(4)
    num = (rng.standard_normal((40, 3)) * [1, 10, 100] + [0, 5, -50]).astype("float32")
    norm = layers.Normalization()
    norm.adapt(num)
    flat = layers.Normalization(axis=None)
    flat.adapt(num)
    img_in = keras.Input((8, 8, 3))
    z = layers.Rescaling(1.0 / 255, offset=-0.5)(img_in)
    z = layers.RandomFlip("horizontal", seed=1)(z)
    z = layers.GlobalAveragePooling2D()(layers.Conv2D(4, 3, activation="relu")(z))
    num_in = keras.Input((3,))
    out = layers.Dense(1)(layers.concatenate([z, norm(num_in)]))
    model = keras.Model([img_in, num_in], out)
    _fill(model)
    imgs = (rng.random((6, 8, 8, 3)) * 255).astype("float32")
    pred = _np(model.predict([imgs, num[:6]], verbose=0))
    model.compile("adam", "mse")
    model.fit([imgs, num[:6]], np.ones((6, 1)), epochs=1, verbose=0)
    path = os.path.join(folder, "pre.keras")
    model.save(path)
    again = keras.models.load_model(path)
    return {"mean": _np(norm.mean).tolist(), "variance": _np(norm.variance).tolist(),
            "normalized": _np(norm(num[:2])).tolist(), "flat": _np(flat(num[:1])).tolist(),
            "inverted": _np(layers.Normalization(mean=3.0, variance=4.0, invert=True)(
                np.array([[1.0, 2.0]], "float32"))).tolist(),
            "multi_hot": _np(layers.CategoryEncoding(num_tokens=4, output_mode="multi_hot")(
                np.array([[0, 1], [3, 3]]))).tolist(),
            "bins": _np(layers.Discretization(bin_boundaries=[0.0, 1.0])(
                np.array([[-1.0, 0.5, 2.0]]))).tolist(),
            "predict": pred.tolist(),
            "inference_is_deterministic": bool(np.allclose(
                _np(model([imgs, num[:6]], training=False)),
                _np(model.predict([imgs, num[:6]], verbose=0)), atol=1e-5)),
            "weights": [w.name for w in model.weights],
            "reloaded": bool(np.allclose(_np(again.predict([imgs, num[:6]], verbose=0)),
                                         _np(model.predict([imgs, num[:6]], verbose=0)),
                                         atol=1e-5))}


def test_preprocessing_in_a_model(tmp_path):
    r = preprocessing_program(fastnet, str(tmp_path))
    num = (np.random.default_rng(4).standard_normal((40, 3)) * [1, 10, 100] +
           [0, 5, -50]).astype("float32")
    np.testing.assert_allclose(r["mean"], [num.mean(0)], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(r["variance"], [num.var(0)], rtol=1e-4)
    np.testing.assert_allclose(r["normalized"], (num[:2] - num.mean(0)) / num.std(0),
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(r["flat"], (num[:1] - num.mean()) / num.std(), rtol=1e-4)
    assert r["inverted"] == [[5.0, 7.0]] and r["bins"] == [[0, 1, 2]]
    assert r["multi_hot"] == [[1, 1, 0, 0], [0, 0, 0, 1]]
    assert r["inference_is_deterministic"] and r["reloaded"]
    assert r["weights"] == ["kernel", "bias", "mean", "variance", "count", "kernel", "bias"]


def test_preprocessing_in_a_model_against_keras(tmp_path):
    k = _keras()
    (tmp_path / "f").mkdir()
    (tmp_path / "k").mkdir()
    _close(preprocessing_program(fastnet, str(tmp_path / "f")),
           preprocessing_program(k, str(tmp_path / "k")))


def test_string_lookup_and_text_vectorization_in_models():
    # Keras's lookup layers need TensorFlow (not installed beside the torch oracle): the
    # expected values are Keras's documented behaviour (vocabulary by frequency, ties in
    # reverse order; OOV index 0; one_hot with the OOV column first)
    layers = fastnet.layers
    cats = np.array(["red", "green", "blue", "green", "red", "red", "purple"])
    lookup = layers.StringLookup()
    lookup.adapt(cats)
    assert lookup.get_vocabulary() == ["[UNK]", "red", "green", "purple", "blue"]
    assert _np(lookup(np.array(["red", "blue", "zzz"]))).tolist() == [1, 4, 0]
    inverse = layers.StringLookup(vocabulary=lookup.get_vocabulary(), invert=True)
    assert [str(s) for s in _np(inverse(np.array([1, 2, 0]))).ravel()] == \
        ["red", "green", "[UNK]"]
    inp = fastnet.Input((1,), dtype="string")
    hot = layers.StringLookup(vocabulary=["a", "b", "c"], output_mode="one_hot")(inp)
    model = fastnet.Model(inp, layers.Dense(2)(hot))
    _fill(model)
    words = np.array([["b"], ["x"]])
    kernel, bias = (w.numpy() for w in model.layers[-1].weights)
    np.testing.assert_allclose(model.predict(words, verbose=0),
                               np.eye(4)[[2, 0]] @ kernel + bias, rtol=1e-5)
    model.compile("sgd", "mse")
    model.fit(words, np.zeros((2, 2)), verbose=0)
    vectorize = layers.TextVectorization(max_tokens=10, output_sequence_length=4)
    vectorize.adapt(["the cat sat", "the dog"])
    text = fastnet.Input((1,), dtype="string")
    pooled = layers.GlobalAveragePooling1D()(layers.Embedding(10, 3)(vectorize(text)))
    encoder = fastnet.Model(text, pooled)
    assert encoder.predict(np.array([["the cat"], ["a dog sat"]]), verbose=0).shape == (2, 3)
    assert encoder.predict(np.array(["the cat", "a dog sat"]), verbose=0).shape == (2, 3)


# ---- 5. a multi-output functional model with dict losses and metrics -----------------------

def multi_output_program(keras):
    layers = keras.layers
    rng = np.random.default_rng(5)
    x = rng.standard_normal((48, 6)).astype("float32")
    y_cls = rng.integers(0, 3, 48)
    y_reg = (x[:, :1] * 2).astype("float32")
    inp = keras.Input((6,), name="feats")
    h = layers.Dense(8, activation="relu", name="trunk")(inp)
    cls = layers.Dense(3, activation="softmax", name="species")(h)
    reg = layers.Dense(1, name="size_head")(h)  # the dict keys name the outputs
    model = keras.Model(inp, {"species": cls, "size": reg})
    _fill(model)
    model.compile(optimizer=keras.optimizers.SGD(0.1),
                  loss={"species": "sparse_categorical_crossentropy", "size": "mse"},
                  loss_weights={"species": 1.0, "size": 0.5},
                  metrics={"species": ["accuracy"],
                           "size": ["mae", keras.metrics.RootMeanSquaredError(name="rmse")]})
    ys = {"species": y_cls, "size": y_reg}
    h = model.fit(x, ys, epochs=2, batch_size=16, shuffle=False, verbose=0,
                  validation_data=(x[:16], {"species": y_cls[:16], "size": y_reg[:16]}))
    sw = np.linspace(0.1, 1, 48).astype("float32")
    weighted = model.fit(x, ys, sample_weight={"species": sw, "size": sw}, epochs=1,
                         batch_size=16, shuffle=False, verbose=0)
    pred = model.predict(x[:2], verbose=0)
    return {"history": _history(h),
            "evaluate": dict(sorted(model.evaluate(x, ys, verbose=0, return_dict=True).items())),
            "evaluate_list": model.evaluate(x, ys, verbose=0),
            "metrics_names": model.metrics_names, "weighted": _history(weighted),
            "predict": {k: _np(v).tolist() for k, v in sorted(pred.items())},
            "output_names": model.output_names}


def test_multi_output_dict_losses_and_metrics():
    r = multi_output_program(fastnet)
    assert list(r["history"]) == sorted(
        ["loss", "size_loss", "size_mae", "size_rmse", "species_accuracy", "species_loss"] +
        ["val_" + k for k in ("loss", "size_loss", "size_mae", "size_rmse",
                              "species_accuracy", "species_loss")])
    e = r["evaluate"]
    assert e["loss"] == pytest.approx(e["species_loss"] + 0.5 * e["size_loss"], rel=1e-5)
    assert e["size_rmse"] == pytest.approx(math.sqrt(e["size_loss"]), rel=1e-5)  # mse loss
    # Keras's order: the total, the per-output losses in the loss dict's order, metrics
    assert r["evaluate_list"] == pytest.approx([e["loss"], e["species_loss"], e["size_loss"],
                                                e["size_mae"], e["size_rmse"],
                                                e["species_accuracy"]])
    assert r["metrics_names"] == ["loss", "compile_metrics", "species_loss", "size_loss"]
    assert [np.shape(v) for v in r["predict"].values()] == [(2, 1), (2, 3)]
    np.testing.assert_allclose(np.sum(r["predict"]["species"], -1), 1.0, rtol=1e-5)


def test_multi_output_dict_losses_and_metrics_against_keras():
    _close(multi_output_program(fastnet), multi_output_program(_keras()))


# ---- 6. PyDataset, class_weight, validation_data tuples --------------------------------------

def dataset_program(keras):
    layers = keras.layers
    rng = np.random.default_rng(6)
    x = rng.standard_normal((50, 4)).astype("float32")
    y = (x[:, 0] + 0.3 * x[:, 1] > 0.4).astype("int32")

    class Batches(keras.utils.PyDataset):
        def __init__(self, x, y, batch_size, **kwargs):
            super().__init__(**kwargs)
            self.x, self.y, self.batch_size = x, y, batch_size

        def __len__(self):
            return math.ceil(len(self.x) / self.batch_size)

        def __getitem__(self, i):
            part = slice(i * self.batch_size, (i + 1) * self.batch_size)
            return self.x[part], self.y[part]

    def build():
        m = keras.Sequential([keras.Input((4,)), layers.Dense(6, activation="relu"),
                              layers.Dense(2, activation="softmax")])
        _fill(m)
        m.compile(keras.optimizers.SGD(0.2), "sparse_categorical_crossentropy",
                  metrics=["accuracy"], weighted_metrics=["accuracy"])
        return m

    ds = Batches(x, y, 16)
    out = {"batches": [len(ds[i][0]) for i in range(len(ds))], "num_batches": ds.num_batches}
    m = build()
    out["pydataset"] = _history(m.fit(ds, epochs=2, verbose=0, shuffle=False,
                                      validation_data=(x[:20], y[:20])))
    out["evaluate_dataset"] = dict(sorted(m.evaluate(ds, verbose=0, return_dict=True).items()))
    out["predict_dataset"] = list(_np(m.predict(Batches(x, y, 16), verbose=0)).shape)
    m = build()
    out["class_weight"] = _history(m.fit(
        x, y, batch_size=16, epochs=2, shuffle=False, verbose=0, class_weight={0: 1.0, 1: 3.0},
        validation_data=(x[:20], y[:20], np.linspace(0.5, 1, 20).astype("float32"))))
    m = build()
    out["validation_split"] = _history(m.fit(x, y, batch_size=16, epochs=1, shuffle=False,
                                             verbose=0, validation_split=0.2))
    return out


def test_pydataset_class_weight_and_validation():
    r = dataset_program(fastnet)
    assert r["batches"] == [16, 16, 16, 2] and r["num_batches"] == 4
    assert r["predict_dataset"] == [50, 2]
    h = r["pydataset"]
    assert h["accuracy"] == h["weighted_accuracy"]  # no weights: the same metric
    cw = r["class_weight"]
    assert cw["accuracy"] != cw["weighted_accuracy"]  # class_weight weighs the metric too
    assert cw["val_accuracy"] != cw["val_weighted_accuracy"]  # the tuple's sample weights
    assert set(r["validation_split"]) == set(h)


def test_pydataset_class_weight_and_validation_against_keras():
    _close(dataset_program(fastnet), dataset_program(_keras()))


# ---- 7. mixed precision policies -----------------------------------------------------------

def test_mixed_precision_policies_are_refused_by_name():
    # fastnet's kernels compute in float32 (and float64 per layer): the mixed policies
    # Keras programs set first thing are refused at once, naming the policy; the global
    # policy is left as it was
    for policy in ("mixed_float16", "mixed_bfloat16"):
        with pytest.raises(NotImplementedError, match=f"'{policy}'.*mixed precision"):
            fastnet.mixed_precision.set_global_policy(policy)
        with pytest.raises(NotImplementedError, match=policy):
            fastnet.layers.Dense(2, dtype=policy)
        assert fastnet.mixed_precision.global_policy().name == "float32"
    with pytest.raises(NotImplementedError, match="global dtype policy 'float64'.*dtype="):
        fastnet.mixed_precision.set_global_policy("float64")
    for bad in ("mixed_int8", "nonsense"):  # not a policy at all: Keras's ValueError
        with pytest.raises(ValueError, match=f"Cannot convert '{bad}'"):
            fastnet.mixed_precision.set_global_policy(bad)
    layer = fastnet.layers.Dense(2, dtype="float64")  # what fastnet offers instead
    assert str(layer(np.ones((1, 3), np.float32)).dtype) == "float64"


def test_mixed_precision_names_against_keras():
    k = _keras()
    for bad in ("mixed_int8", "nonsense"):
        with pytest.raises(ValueError, match=f"Cannot convert '{bad}'"):
            k.mixed_precision.set_global_policy(bad)
    k.mixed_precision.set_global_policy("mixed_float16")  # valid in Keras: fastnet refuses
    try:
        assert k.mixed_precision.global_policy().compute_dtype == "float16"
    finally:
        k.mixed_precision.set_global_policy("float32")


# ---- 8. Sequential.pop/add, trainable after compile, get_layer, feature extraction --------

def model_surgery_program(keras):
    layers = keras.layers
    rng = np.random.default_rng(8)
    x = rng.standard_normal((32, 5)).astype("float32")
    y = rng.standard_normal((32, 2)).astype("float32")
    seq = keras.Sequential([keras.Input((5,)), layers.Dense(8, activation="relu", name="d1"),
                            layers.Dense(4, name="d2"), layers.Dense(3, name="old_head")])
    out = {"before": [[lay.name for lay in seq.layers], list(seq.output_shape)]}
    popped = seq.pop()
    out["popped"] = [popped.name, [lay.name for lay in seq.layers], list(seq.output_shape)]
    seq.add(layers.Dense(2, name="new_head"))
    out["added"] = [[lay.name for lay in seq.layers], list(seq.output_shape), seq.count_params()]
    _fill(seq, 1)
    seq.compile(keras.optimizers.SGD(0.1), "mse")
    d1 = seq.get_layer("d1")
    out["get_layer"] = [d1.name, seq.get_layer(index=1).name]
    with pytest.raises(ValueError):
        seq.get_layer("nope")
    frozen = _np(d1.kernel).copy()
    d1.trainable = False
    out["counts"] = [len(seq.trainable_weights), len(seq.non_trainable_weights)]
    seq.fit(x, y, epochs=1, batch_size=8, verbose=0, shuffle=False)
    out["frozen_kept"] = bool(np.array_equal(frozen, _np(d1.kernel)))
    d1.trainable = True
    seq.compile(keras.optimizers.SGD(0.1), "mse")
    out["unfrozen"] = _history(seq.fit(x, y, epochs=1, batch_size=8, verbose=0, shuffle=False))
    out["unfrozen_moved"] = not np.array_equal(frozen, _np(d1.kernel))
    seq.trainable = False
    out["all_frozen"] = [len(seq.trainable_weights), [lay.trainable for lay in seq.layers]]
    seq.trainable = True
    inp = keras.Input((5,), name="x")
    a = layers.Dense(6, activation="tanh", name="block1")(inp)
    b = layers.Dense(4, activation="relu", name="block2")(a)
    full = keras.Model(inp, layers.Dense(1, name="out")(b))
    _fill(full, 2)
    extractor = keras.Model(inputs=full.inputs, outputs=[full.get_layer("block1").output,
                                                         full.get_layer("block2").output])
    f1, f2 = extractor.predict(x[:3], verbose=0)
    named = keras.Model(full.input, {lay.name: lay.output for lay in full.layers[1:]})
    out["features"] = [_np(f1).tolist(), _np(f2).tolist()]
    out["named"] = {k: _np(v).tolist() for k, v in sorted(named(x[:2]).items())}
    out["shared"] = extractor.get_layer("block1") is full.get_layer("block1")
    deferred = keras.Sequential([layers.Dense(3), layers.Dense(1)])
    out["deferred"] = [deferred.built]
    deferred.build((None, 7))
    out["deferred"] += [deferred.built, deferred.count_params()]
    return out


def test_model_surgery_and_feature_extraction():
    r = model_surgery_program(fastnet)
    assert r["popped"] == ["old_head", ["d1", "d2"], [None, 4]]
    assert r["added"] == [["d1", "d2", "new_head"], [None, 2], 5 * 8 + 8 + 8 * 4 + 4 + 4 * 2 + 2]
    assert r["counts"] == [4, 2] and r["frozen_kept"] and r["unfrozen_moved"]
    assert r["all_frozen"] == [0, [False, False, False]] and r["shared"]
    x = np.random.default_rng(8).standard_normal((32, 5)).astype("float32")
    w = np.random.default_rng(2)
    k1, b1, k2, b2 = (w.uniform(-0.4, 0.4, s).astype("float32") for s in
                      ((5, 6), (6,), (6, 4), (4,)))
    h1 = np.tanh(x[:3] @ k1 + b1)
    np.testing.assert_allclose(r["features"][0], h1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(r["features"][1], np.maximum(h1 @ k2 + b2, 0), rtol=1e-5,
                               atol=1e-6)
    assert list(r["named"]) == ["block1", "block2", "out"]
    assert r["deferred"] == [False, True, 7 * 3 + 3 + 3 + 1]


def test_model_surgery_and_feature_extraction_against_keras():
    import warnings

    k = _keras()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras warns on a dict-structured call of a list
        theirs = model_surgery_program(k)
    _close(model_surgery_program(fastnet), theirs)


def _block_model(keras):
    @keras.saving.register_keras_serializable(package="programs")
    class Block(keras.layers.Layer):  # sublayers held by attribute, and in a list
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.inner = keras.layers.Dense(units, activation="relu")
            self.skip = [keras.layers.Dense(units), keras.layers.Dense(units)]

        def build(self, shape):
            self.inner.build(shape)
            self.skip[0].build(shape)
            self.skip[1].build((None, self.units))

        def call(self, x):
            return self.inner(x) + self.skip[1](self.skip[0](x))

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    inp = keras.Input((3,))
    model = keras.Model(inp, keras.layers.Dense(1)(Block(4)(inp)))
    _fill(model)
    return model


def test_weights_in_keras_by_attribute_layout(tmp_path, clean_registry):
    # Keras 3 writes a custom layer's sublayers under their attribute names
    # (layers/block/inner/vars, layers/block/skip/dense_1/vars): such a file loads
    import h5py

    model = _block_model(fastnet)
    block = model.layers[1]
    path = str(tmp_path / "by_attribute.weights.h5")
    with h5py.File(path, "w") as f:
        def put(group, layer):
            g = f.create_group(group + "/vars")
            for i, v in enumerate(layer.weights):
                g.create_dataset(str(i), data=v.numpy())
        f.create_group("vars")
        put("layers/block/inner", block.inner)
        put("layers/block/skip/dense", block.skip[0])
        put("layers/block/skip/dense_1", block.skip[1])
        put("layers/dense", model.layers[2])
        f.create_group("layers/block/vars")
        f.create_group("layers/input_layer/vars")
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    want = model.predict(x, verbose=0)
    fresh = _block_model(fastnet)
    for w in fresh.trainable_weights:
        w.assign(np.zeros(tuple(w.shape), np.float32))
    fresh.load_weights(path)
    np.testing.assert_allclose(fresh.predict(x, verbose=0), want, rtol=1e-6)


def test_weights_in_keras_by_attribute_layout_against_keras(tmp_path, clean_registry):
    k = _keras()
    theirs = _block_model(k)
    path = str(tmp_path / "block.keras")
    theirs.save(path)
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    _block_model(fastnet)  # registers fastnet's Block
    np.testing.assert_allclose(fastnet.models.load_model(path).predict(x, verbose=0),
                               _np(theirs.predict(x, verbose=0)), rtol=1e-5)
