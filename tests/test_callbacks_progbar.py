import io

import pytest

from fastnet import callbacks
from fastnet.trainers.progbar import Progbar


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
    assert text.rstrip().endswith("- accuracy: 0.9000 - loss: 0.2500")
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


def run_epochs(cb, values, key="val_loss"):
    model = FakeModel()
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
    cb = callbacks.EarlyStopping(monitor="val_accuracy", patience=1)
    _, stopped = run_epochs(cb, [0.5, 0.6, 0.55, 0.9], key="val_accuracy")
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
