import io

import pytest

from fastnet import callbacks
from fastnet.utils import Progbar


class TTY(io.StringIO):
    def isatty(self):
        return True


def test_progbar_non_tty_writes_only_final_line():
    out = io.StringIO()
    bar = Progbar(10, stream=out)
    for i in range(1, 10):
        bar.update(i, {"loss": 0.5})
    assert out.getvalue() == ""
    bar.update(10, {"loss": 0.25, "accuracy": 0.9})
    text = out.getvalue()
    assert text.count("\n") == 1
    assert text.startswith("10/10 ━━━━━━━━━━━━━━━━━━━━ ")
    # Keras: metrics in the order first seen; stateless ones (the default) are averaged
    # over the steps, but the finishing update shows the values given
    assert text.rstrip().endswith("- loss: 0.2500 - accuracy: 0.9000")
    assert "/step" in text


def test_progbar_tty_redraws_and_verbose2_is_one_line():
    out = TTY()
    bar = Progbar(3, stream=out, interval=0.0)
    bar.update(1, {"loss": 1.0})
    bar.update(3, {"loss": 0.5})
    assert out.getvalue().count("\r") == 2 and out.getvalue().endswith("\n")
    out2 = io.StringIO()
    bar2 = Progbar(3, verbose=2, stream=out2)
    bar2.update(3, {"loss": 0.5})
    assert out2.getvalue().startswith("3/3 - ") and " - loss: 0.5000" in out2.getvalue()


def test_progbar_averages_stateless_values_over_steps():
    out = TTY()
    bar = Progbar(10, stream=out, interval=0.0, stateful_metrics=["acc"])
    bar.update(2, [("loss", 1.0), ("acc", 0.1)])   # covers 2 steps
    bar.update(5, [("loss", 0.5), ("acc", 0.2)])   # covers 3 steps
    mean = (1.0 * 2 + 0.5 * 3) / 5
    last = out.getvalue().split("\r")[-1]
    assert f"loss: {mean:.4f}" in last and "acc: 0.2000" in last
    bar.add(1, [("loss", 0.0)])
    assert bar.seen == 6
    mean = (1.0 * 2 + 0.5 * 3 + 0.0) / 6
    assert f"loss: {mean:.4f}" in out.getvalue().split("\r")[-1]
    with pytest.raises(ValueError, match="Only one of"):
        Progbar(3, stateful_metrics=["a"], stateless_metrics=["b"])


def test_progbar_colours_only_on_a_terminal():
    out = TTY()
    Progbar(4, stream=out, interval=0.0).update(2, [("loss", 1.0)])
    line = out.getvalue()
    assert "\x1b[1m2/4\x1b[0m" in line            # bold count
    assert "\x1b[32m" + "━" * 10 + "\x1b[0m" in line  # the done half in green
    pipe = io.StringIO()
    Progbar(4, stream=pipe).update(4, [("loss", 1.0)])
    assert "\x1b[" not in pipe.getvalue()
    assert Progbar(None, stream=pipe).target is None


def test_fit_in_a_pipe_prints_one_line_per_epoch(capsys):
    import numpy as np

    import fastnet as keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    x = np.ones((64, 3), "float32")
    model.fit(x, x[:, :1], batch_size=8, epochs=3, verbose=1)
    lines = capsys.readouterr().out.splitlines()
    assert [ln for ln in lines if ln.startswith("Epoch")] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    bars = [ln for ln in lines if not ln.startswith("Epoch")]
    assert len(bars) == 3 and all(b.startswith("8/8 ━") and "- loss: " in b for b in bars)
    assert "\r" not in "".join(lines) and "\x1b" not in "".join(lines)


class FakeOptimizer:
    learning_rate = 0.1


class FakeModel:
    def __init__(self):
        self.stop_training = False
        self.optimizer = FakeOptimizer()
        self.weights = [1.0]

    def get_weights(self):
        return list(self.weights)

    def set_weights(self, w):
        self.weights = list(w)


def run_epochs(cb, values, key="val_loss", metrics=()):
    model = FakeModel()
    model.metrics = list(metrics)
    cb.set_model(model)
    cb.on_train_begin()
    for epoch, v in enumerate(values):
        model.weights = [float(epoch)]
        cb.on_epoch_end(epoch, {key: v})
        if model.stop_training:
            break
    cb.on_train_end()
    return model, epoch


def test_early_stopping_patience_and_restore():
    cb = callbacks.EarlyStopping(patience=2, restore_best_weights=True)
    model, stopped = run_epochs(cb, [1.0, 0.5, 0.6, 0.7, 0.1])
    assert stopped == 3 and model.stop_training
    assert model.weights == [1.0]  # best epoch was 1


def test_early_stopping_mode_auto_for_accuracy():
    from fastnet import metrics

    cb = callbacks.EarlyStopping(monitor="val_accuracy", patience=1)
    _, stopped = run_epochs(cb, [0.5, 0.6, 0.55, 0.9], key="val_accuracy",
                            metrics=[metrics.SparseCategoricalAccuracy(name="accuracy")])
    assert stopped == 2


def test_reduce_lr_on_plateau():
    cb = callbacks.ReduceLROnPlateau(factor=0.5, patience=1, min_lr=0.03)
    model, _ = run_epochs(cb, [1.0, 1.0, 1.0, 1.0])
    assert model.optimizer.learning_rate == pytest.approx(0.03)
    with pytest.raises(ValueError, match="factor"):
        callbacks.ReduceLROnPlateau(factor=1.5)


def test_csv_logger(tmp_path):
    path = tmp_path / "log.csv"
    cb = callbacks.CSVLogger(str(path))
    run_epochs(cb, [1.0, 0.5])
    lines = path.read_text().splitlines()
    assert lines[0] == "epoch,val_loss" and lines[2] == "1,0.5"


def test_terminate_on_nan_and_lambda():
    model = FakeModel()
    cb = callbacks.TerminateOnNaN()
    cb.set_model(model)
    cb.on_train_batch_end(0, {"loss": float("nan")})
    assert model.stop_training
    seen = []
    lc = callbacks.LambdaCallback(on_epoch_end=lambda e, logs: seen.append(e))
    lc.on_epoch_end(3, {})
    assert seen == [3]


def test_callback_list_fans_out_and_history():
    hist = callbacks.History()
    cl = callbacks.CallbackList([hist], model=FakeModel(), epochs=2, verbose=0)
    cl.on_train_begin()
    cl.on_epoch_end(0, {"loss": 1.0})
    cl.on_epoch_end(1, {"loss": 0.5})
    assert hist.history == {"loss": [1.0, 0.5]} and hist.epoch == [0, 1]
