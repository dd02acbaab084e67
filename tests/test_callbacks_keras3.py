"""EarlyStopping / ReduceLROnPlateau / ModelCheckpoint / CSVLogger / TerminateOnNaN as
Keras 3 behaves: the monitored direction from the metric, baselines, messages, file
checks, batch-level checkpoints. The `_against_keras` tests drive Keras's own callbacks
with the same logs (skipped without Keras)."""

import csv
import os
import warnings

import numpy as np
import pytest
from keras_peer import keras_or_skip as _keras

import fastnet as keras
from fastnet import callbacks


class FakeOptimizer:
    def __init__(self):
        self.learning_rate = 0.1


class FakeModel:
    def __init__(self, metrics=()):
        self.optimizer = FakeOptimizer()
        self.stop_training = False
        self.weights = [0.0]
        self.metrics = list(metrics)

    def get_weights(self):
        return list(self.weights)

    def set_weights(self, w):
        self.weights = list(w)


def drive(cb, values, key="val_loss", metrics=()):
    """Epoch ends with `values` of `key`; (stopped_epoch, weights after train end)."""
    model = FakeModel(metrics)
    cb.set_model(model)
    cb.on_train_begin()
    last = None
    for epoch, v in enumerate(values):
        model.weights = [float(epoch)]
        cb.on_epoch_end(epoch, {key: v})
        last = epoch
        if model.stop_training:
            break
    cb.on_train_end()
    return last, model.weights[0]


def _small_model(metrics=("accuracy",), regression=False):
    keras.utils.set_random_seed(0)
    if regression:
        m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        m.compile("sgd", "mse", metrics=list(metrics))
        return m
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    m.compile("sgd", "sparse_categorical_crossentropy", metrics=list(metrics))
    return m


def _data(n=32):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 4)).astype("float32"), rng.integers(0, 3, n)


SCRIPTS = [
    dict(values=[0.8, 0.7, 0.75, 0.74, 0.6], patience=2),
    dict(values=[0.8, 0.7, 0.75, 0.74, 0.6], patience=2, baseline=0.5),
    dict(values=[0.8, 0.7, 0.75, 0.74, 0.6], patience=1, baseline=0.72),
    dict(values=[1.0, 0.9, 0.95, 0.96, 0.97], patience=2, restore_best_weights=True),
    dict(values=[1.0, 0.9, 0.8, 0.7], patience=1, restore_best_weights=True),  # no stop
    dict(values=[1.0, 0.99, 0.985, 0.98], patience=1, min_delta=0.02),
    dict(values=[1.0, 1.1, 1.2, 0.5, 0.6], patience=1, start_from_epoch=2),
]


@pytest.mark.parametrize("script", SCRIPTS)
def test_early_stopping_script(script):
    script = dict(script)
    values = script.pop("values")
    stopped, weight = drive(callbacks.EarlyStopping(**script), values)
    assert stopped <= len(values) - 1 and weight <= stopped


@pytest.mark.parametrize("script", SCRIPTS)
def test_early_stopping_script_against_keras(script):
    k = _keras()
    script = dict(script)
    values = script.pop("values")
    ours = drive(callbacks.EarlyStopping(**script), values)
    theirs = drive(k.callbacks.EarlyStopping(**script), values)
    assert ours == theirs


def test_baseline_is_a_bar_to_clear_not_the_first_best():
    # Keras 3: best starts at None; epochs that improve but miss the baseline still count
    # toward patience, and the stop happens at the first epoch that does not improve
    stopped, _ = drive(callbacks.EarlyStopping(patience=2, baseline=0.5), [0.8, 0.7, 0.75])
    assert stopped == 2


def test_restore_best_weights_restores_even_without_an_early_stop():
    _, weight = drive(callbacks.EarlyStopping(patience=5, restore_best_weights=True),
                      [1.0, 0.5, 0.7])
    assert weight == 1.0  # the best epoch's weights, though training ran to the end


@pytest.mark.parametrize("monitor,metrics,stopped", [
    ("val_accuracy", ["accuracy"], 2),      # accuracy goes up: 0.55 after 0.6 is worse
    ("val_mae", ["mae"], 1),                # mae goes down: 0.6 after 0.5 is worse
    ("val_auc", [keras.metrics.AUC()], 2),
])
def test_mode_auto_reads_the_direction_from_the_compiled_metric(monitor, metrics, stopped):
    regression = monitor != "val_accuracy"
    m = _small_model(metrics, regression=regression)
    x, y = _data()
    m.fit(x, (y > 0).astype("float32") if regression else y, epochs=1, verbose=0)
    cb = callbacks.EarlyStopping(monitor=monitor, patience=1)
    cb.set_model(m)
    cb.on_train_begin()
    for epoch, v in enumerate([0.5, 0.6, 0.55, 0.9]):
        cb.on_epoch_end(epoch, {monitor: v})
        if m.stop_training:
            break
    assert epoch == stopped


def test_mode_auto_on_a_multi_output_metric_name():
    inp = keras.Input((4,))
    a = keras.layers.Dense(3, activation="softmax", name="cls")(inp)
    b = keras.layers.Dense(1, name="reg")(inp)
    m = keras.Model(inp, [a, b])
    m.compile("sgd", ["sparse_categorical_crossentropy", "mse"],
              metrics=[["accuracy"], ["mae"]])
    x, y = _data()
    h = m.fit(x, [y, y.astype("float32")], epochs=1, verbose=0, validation_data=(
        x, [y, y.astype("float32")]))
    assert "val_cls_accuracy" in h.history
    for monitor, op in (("val_cls_accuracy", np.greater), ("val_reg_mae", np.less),
                        ("val_reg_loss", np.less)):
        cb = callbacks.EarlyStopping(monitor=monitor)
        cb.set_model(m)
        cb._set_monitor_op()
        assert cb.monitor_op is op, monitor


class Hits(keras.metrics.Metric):
    def __init__(self, name="hits", **kw):
        super().__init__(name=name, **kw)
        self.n = self.add_variable(shape=(), name="n", initializer="zeros")

    def update_state(self, y_true, y_pred, sample_weight=None):
        self.n.assign_add(1.0)

    def result(self):
        return self.n


def test_a_metric_without_a_direction_needs_a_mode():
    m = _small_model([Hits()])
    x, y = _data()
    with pytest.raises(ValueError, match="monitor=val_hits.*mode='max'"):
        m.fit(x, y, epochs=2, verbose=0, validation_data=(x, y),
              callbacks=[callbacks.EarlyStopping(monitor="val_hits")])
    m.fit(x, y, epochs=2, verbose=0, validation_data=(x, y),
          callbacks=[callbacks.EarlyStopping(monitor="val_hits", mode="max")])


def test_an_unknown_mode_warns_and_falls_back_to_auto():
    with pytest.warns(UserWarning, match="mode 'minimum' is unknown"):
        cb = callbacks.EarlyStopping(mode="minimum")
    assert cb.mode == "auto"


def test_a_missing_monitor_warns():
    with pytest.warns(UserWarning, match="`val_acc` which is not available"):
        drive(callbacks.EarlyStopping(monitor="val_acc", mode="max"), [1.0], key="loss")
    with pytest.warns(UserWarning, match="Learning rate reduction.*`val_acc`"):
        drive(callbacks.ReduceLROnPlateau(monitor="val_acc", mode="max"), [1.0], key="loss")


def test_checkpoint_file_extensions_are_checked(tmp_path):
    with pytest.raises(ValueError, match=r"must end in `\.keras`"):
        callbacks.ModelCheckpoint(str(tmp_path / "model.ckpt"))
    with pytest.raises(ValueError, match=r"save_weights_only=True.*`\.weights\.h5`"):
        callbacks.ModelCheckpoint(str(tmp_path / "w.keras"), save_weights_only=True)
    with pytest.raises(ValueError, match="Unrecognized save_freq"):
        callbacks.ModelCheckpoint(str(tmp_path / "m.keras"), save_freq="batch")


def test_checkpoint_messages_and_best_only(tmp_path, capsys):
    m = _small_model()
    x, y = _data()
    path = str(tmp_path / "sub" / "best.keras")
    cb = callbacks.ModelCheckpoint(path, monitor="loss", save_best_only=True, verbose=1,
                                   mode="min")
    cb.set_model(m)
    cb.on_train_begin()
    for epoch, v in enumerate([0.5, 0.25, 0.375]):
        cb.on_epoch_begin(epoch)
        cb.on_epoch_end(epoch, {"loss": v})
    out = capsys.readouterr().out
    assert f"Epoch 1: loss improved from None to 0.50000, saving model to {path}" in out
    assert "Epoch 2: loss improved from 0.50000 to 0.25000" in out
    assert "Epoch 3: loss did not improve from 0.25000" in out
    assert f"Epoch 2: finished saving model to {path}" in out
    assert os.path.exists(path)  # the directory was made


def test_checkpoint_every_n_batches_with_a_batch_placeholder(tmp_path):
    m = _small_model()
    x, y = _data(40)  # 5 batches of 8 per epoch
    pattern = str(tmp_path / "ck-{epoch}-{batch}.weights.h5")
    m.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[
        callbacks.ModelCheckpoint(pattern, save_weights_only=True, save_freq=2)])
    names = sorted(os.listdir(tmp_path))
    # every 2 batches across the epoch boundary: batches 2, 4 of epoch 1; 1, 3, 5 of epoch 2
    assert names == sorted(["ck-1-2.weights.h5", "ck-1-4.weights.h5", "ck-2-1.weights.h5",
                            "ck-2-3.weights.h5", "ck-2-5.weights.h5"])


def test_checkpoint_without_the_monitor_warns_and_saves(tmp_path):
    m = _small_model()
    x, y = _data()
    path = str(tmp_path / "m.keras")
    with pytest.warns(UserWarning, match="Can save best model only with val_loss available"):
        m.fit(x, y, epochs=1, verbose=0, callbacks=[
            callbacks.ModelCheckpoint(path, save_best_only=True)])
    assert os.path.exists(path)


def test_checkpoint_path_errors(tmp_path):
    m = _small_model()
    x, y = _data()
    with pytest.raises(KeyError, match="Failed to format this callback filepath"):
        m.fit(x, y, epochs=1, verbose=0, callbacks=[
            callbacks.ModelCheckpoint(str(tmp_path / "{nope}.keras"))])
    d = tmp_path / "dir.keras"
    d.mkdir()
    with pytest.raises(OSError, match="non-directory filepath"):
        m.fit(x, y, epochs=1, verbose=0, callbacks=[callbacks.ModelCheckpoint(str(d))])


def test_csv_logger_adds_validation_columns_and_writes_arrays(tmp_path):
    path = tmp_path / "log.csv"
    cb = callbacks.CSVLogger(str(path))
    cb.set_model(FakeModel())
    cb.on_train_begin()
    cb.on_epoch_end(0, {"loss": 0.5, "per_class": np.array([1.0, 2.0])})
    cb.on_train_end()
    rows = list(csv.reader(path.read_text().splitlines()))
    assert rows[0] == ["epoch", "loss", "per_class", "val_loss", "val_per_class"]
    assert rows[1] == ["0", "0.5", '"[1.0, 2.0]"', "NA", "NA"]
    cb2 = callbacks.CSVLogger(str(path), append=True)  # header not repeated
    cb2.set_model(FakeModel())
    cb2.on_train_begin()
    cb2.on_epoch_end(0, {"loss": 0.25, "per_class": np.array([0.0, 1.0])})
    cb2.on_train_end()
    assert [r[0] for r in csv.reader(path.read_text().splitlines())] == ["epoch", "0", "0"]


def test_csv_logger_against_keras(tmp_path):
    k = _keras()
    logs = [{"loss": 0.5, "acc": np.float32(0.25)}, {"loss": 0.375, "acc": np.float32(0.5)}]
    files = []
    for name, mod in (("ours", callbacks), ("keras", k.callbacks)):
        path = tmp_path / f"{name}.csv"
        cb = mod.CSVLogger(str(path))
        cb.set_model(FakeModel())
        cb.on_train_begin()
        for e, log in enumerate(logs):
            cb.on_epoch_end(e, dict(log))
        cb.on_train_end()
        files.append(path.read_text())
    assert files[0] == files[1]


def test_terminate_on_nan_can_raise():
    cb = callbacks.TerminateOnNaN(raise_error=True)
    cb.set_model(FakeModel())
    with pytest.raises(RuntimeError, match="NaN or Inf loss encountered at batch 3"):
        cb.on_train_batch_end(3, {"loss": float("nan")})
    cb = callbacks.TerminateOnNaN()
    model = FakeModel()
    cb.set_model(model)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cb.on_train_batch_end(0, {"loss": np.float32("inf")})
    assert model.stop_training


def test_reduce_lr_on_plateau_matches_keras_schedule():
    k = _keras()
    values = [1.0, 0.9, 0.9, 0.9, 0.9, 0.5, 0.5, 0.5, 0.5]

    rates = []
    for mod in (callbacks, k.callbacks):
        model = FakeModel()
        cb = mod.ReduceLROnPlateau(factor=0.5, patience=1, cooldown=1, min_lr=0.02)
        cb.set_model(model)
        cb.on_train_begin()
        seen = []
        for e, v in enumerate(values):
            cb.on_epoch_end(e, {"val_loss": v})
            seen.append(round(float(model.optimizer.learning_rate), 8))
        rates.append(seen)
    assert rates[0] == rates[1]
