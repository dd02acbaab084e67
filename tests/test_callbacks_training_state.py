"""LearningRateScheduler, BackupAndRestore, SwapEMAWeights and the optimizers' use_ema,
each checked against a numpy formula, an uninterrupted run, or Keras (optional)."""

import json
import os

import numpy as np
import pytest

import fastnet as keras
from fastnet import callbacks


def _data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5)).astype("float32")
    y = (x @ rng.normal(size=(5, 1))).astype("float32") + 0.1
    return x, y


def _model(optimizer, seed=1):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(4, activation="tanh"),
                              keras.layers.Dense(1)])
    model.compile(optimizer=optimizer, loss="mse")
    return model


# ---- LearningRateScheduler -------------------------------------------------------------

def test_learning_rate_scheduler_sets_rate_used_by_the_update():
    x, y = _data(16)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(1, use_bias=False)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    w0 = model.layers[0].kernel.numpy().astype(np.float64)
    rates = [0.1, 0.05, 0.025]
    sched = callbacks.LearningRateScheduler(lambda epoch, lr: lr if epoch == 0 else lr * 0.5)
    hist = model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0,
                     callbacks=[sched])
    np.testing.assert_allclose(hist.history["learning_rate"], rates, rtol=1e-7)
    # numpy: full-batch gradient descent on the mean squared error with those rates
    w = w0
    xd, yd = x.astype(np.float64), y.astype(np.float64)
    for lr in rates:
        w = w - lr * (2 / len(x)) * xd.T @ (xd @ w - yd)
    np.testing.assert_allclose(model.layers[0].kernel.numpy(), w, rtol=1e-5, atol=1e-6)


def test_learning_rate_scheduler_one_argument_form_and_bad_output(capsys):
    x, y = _data(16)
    model = _model(keras.optimizers.SGD(0.1))
    hist = model.fit(x, y, epochs=2, verbose=0, callbacks=[
        callbacks.LearningRateScheduler(lambda epoch: 0.01 * (epoch + 1), verbose=1)])
    np.testing.assert_allclose(hist.history["learning_rate"], [0.01, 0.02])
    assert "LearningRateScheduler setting learning rate to 0.02" in capsys.readouterr().out
    with pytest.raises(ValueError, match="should be a float"):
        model.fit(x, y, epochs=1, verbose=0,
                  callbacks=[callbacks.LearningRateScheduler(lambda epoch, lr: "fast")])
    with pytest.raises(TypeError, match="schedule"):
        callbacks.LearningRateScheduler(0.1)


# ---- BackupAndRestore -------------------------------------------------------------------

class _Interrupt(callbacks.Callback):
    def __init__(self, at_epoch):
        super().__init__()
        self.at_epoch = at_epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at_epoch:
            raise RuntimeError("Interrupting!")


def _adam():
    return keras.optimizers.Adam(0.01, use_ema=True, ema_momentum=0.9)


def test_backup_and_restore_resumes_to_the_uninterrupted_result(tmp_path):
    x, y = _data()
    ref = _model(_adam())
    ref_hist = ref.fit(x, y, batch_size=16, epochs=5, shuffle=False, verbose=0)

    model = _model(_adam())
    backup = callbacks.BackupAndRestore(tmp_path / "backup")
    with pytest.raises(RuntimeError, match="Interrupting"):
        model.fit(x, y, batch_size=16, epochs=5, shuffle=False, verbose=0,
                  callbacks=[backup, _Interrupt(3)])
    meta = json.loads((tmp_path / "backup" / "training_metadata.json").read_text())
    assert meta == {"epoch": 3, "batch": 0}
    assert sorted(os.listdir(tmp_path / "backup")) == ["latest.weights.h5",
                                                       "training_metadata.json"]

    # a fresh process would rebuild the model: weights, optimizer state and EMA come back
    resumed = _model(_adam(), seed=7)
    hist = resumed.fit(x, y, batch_size=16, epochs=5, shuffle=False, verbose=0,
                       callbacks=[backup])
    assert hist.epoch == [3, 4]
    np.testing.assert_allclose(hist.history["loss"], ref_hist.history["loss"][3:], rtol=1e-6)
    for a, b in zip(resumed.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert int(resumed.optimizer.iterations.numpy()) == 20
    assert not (tmp_path / "backup").exists()  # deleted once training completed
    # the next fit starts from epoch 0 again
    assert resumed.fit(x, y, epochs=1, verbose=0).epoch == [0]


def test_backup_and_restore_batch_frequency_and_double_checkpoint(tmp_path):
    x, y = _data()
    d = tmp_path / "b"
    model = _model("sgd")
    backup = callbacks.BackupAndRestore(d, save_freq=5, double_checkpoint=True,
                                        delete_checkpoint=False)
    with pytest.raises(RuntimeError):
        model.fit(x, y, batch_size=16, epochs=4, verbose=0, callbacks=[backup, _Interrupt(3)])
    # 4 batches per epoch, a backup every 5 batches: after global batches 5 and 10
    assert json.loads((d / "training_metadata.json").read_text()) == {"epoch": 2, "batch": 1}
    assert json.loads((d / "training_metadata.json.bkp").read_text()) == {"epoch": 1, "batch": 0}
    # the latest backup is damaged: the previous one is restored instead
    (d / "latest.weights.h5").write_bytes(b"not an hdf5 file")
    model2 = _model("sgd")
    seen = []
    model2.fit(x, y, batch_size=16, epochs=4, verbose=0,
               callbacks=[callbacks.BackupAndRestore(d, double_checkpoint=True),
                          callbacks.LambdaCallback(on_epoch_begin=lambda e, logs: seen.append(e))])
    assert seen == [1, 2, 3]


def test_backup_write_failure_leaves_the_previous_backup(tmp_path, monkeypatch):
    from fastnet.saving import weights_io

    x, y = _data()
    d = tmp_path / "b"
    model = _model("sgd")
    with pytest.raises(RuntimeError):
        model.fit(x, y, epochs=3, verbose=0,
                  callbacks=[callbacks.BackupAndRestore(d), _Interrupt(1)])
    before = (d / "latest.weights.h5").read_bytes()
    real = weights_io.write_weights_file

    def dying_write(path, *args, **kwargs):
        real(path, *args, **kwargs)
        with open(path, "r+b") as f:  # half-written, then the process "dies"
            f.truncate(100)
        raise KeyboardInterrupt

    monkeypatch.setattr(weights_io, "write_weights_file", dying_write)
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, epochs=3, verbose=0, callbacks=[callbacks.BackupAndRestore(d)])
    assert (d / "latest.weights.h5").read_bytes() == before
    assert sorted(os.listdir(d)) == ["latest.weights.h5", "training_metadata.json"]


def test_backup_and_restore_arguments():
    with pytest.raises(ValueError, match="backup_dir"):
        callbacks.BackupAndRestore("")
    with pytest.raises(ValueError, match="save_freq"):
        callbacks.BackupAndRestore("x", save_freq="often")


# ---- use_ema ----------------------------------------------------------------------------

def test_use_ema_moving_average_and_overwrite_match_numpy():
    rng = np.random.default_rng(3)
    w0 = rng.normal(size=(3, 2)).astype("float32")
    grads = [rng.normal(size=(3, 2)).astype("float32") for _ in range(6)]
    opt = keras.optimizers.SGD(0.1, use_ema=True, ema_momentum=0.8, ema_overwrite_frequency=4)
    v = keras.Variable(w0.copy())
    w, avg = w0.astype(np.float64), None
    for step, g in enumerate(grads, start=1):
        opt.apply([g], [v])
        w = w - 0.1 * g
        avg = w.copy() if step == 1 else 0.8 * avg + 0.2 * w
        if step % 4 == 0:
            w = avg.copy()
        np.testing.assert_allclose(v.numpy(), w, rtol=1e-5, atol=1e-6)
    opt.finalize_variable_values([v])
    np.testing.assert_allclose(v.numpy(), avg, rtol=1e-5, atol=1e-6)
    config = opt.get_config()
    assert (config["use_ema"], config["ema_momentum"], config["ema_overwrite_frequency"]) == \
        (True, 0.8, 4)
    assert keras.optimizers.SGD.from_config(config).use_ema


def test_use_ema_bad_arguments():
    with pytest.raises(ValueError, match="ema_momentum"):
        keras.optimizers.Adam(use_ema=True, ema_momentum=1.5)
    with pytest.raises(ValueError, match="ema_overwrite_frequency"):
        keras.optimizers.Adam(use_ema=True, ema_overwrite_frequency=0)


def test_use_ema_matches_keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    k = pytest.importorskip("keras")
    rng = np.random.default_rng(4)
    w0 = rng.normal(size=(4,)).astype("float32")
    grads = [rng.normal(size=(4,)).astype("float32") for _ in range(5)]
    ours = keras.optimizers.Adam(0.05, use_ema=True, ema_momentum=0.7, ema_overwrite_frequency=3)
    theirs = k.optimizers.Adam(0.05, use_ema=True, ema_momentum=0.7, ema_overwrite_frequency=3)
    v, kv = keras.Variable(w0.copy()), k.Variable(w0.copy())
    for g in grads:
        ours.apply([g], [v])
        theirs.apply([k.ops.convert_to_tensor(g)], [kv])
        np.testing.assert_allclose(v.numpy(), k.ops.convert_to_numpy(kv), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours._ema[id(v)][1],
                               k.ops.convert_to_numpy(theirs._model_variables_moving_average[0]),
                               rtol=1e-5, atol=1e-6)


def test_fit_with_use_ema_ends_with_the_averages():
    x, y = _data()
    model = _model(_adam())
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    opt = model.optimizer
    for w in model.trainable_weights:
        np.testing.assert_array_equal(w.numpy(), opt._ema[id(w)][1])


# ---- SwapEMAWeights ---------------------------------------------------------------------

def test_swap_ema_weights_validates_with_the_averages():
    x, y = _data()
    xv, yv = x[:16] + 0.5, y[:16]
    plain = _model(_adam())
    h_plain = plain.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0,
                        validation_data=(xv, yv))
    swapped = _model(_adam())
    h_swap = swapped.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0,
                         validation_data=(xv, yv), callbacks=[callbacks.SwapEMAWeights()])
    # training itself is unchanged (the raw weights go back after each validation) ...
    np.testing.assert_allclose(h_swap.history["loss"], h_plain.history["loss"], rtol=1e-6)
    # ... but validation ran on the averages: the last one is the final (averaged) model's
    assert not np.allclose(h_swap.history["val_loss"], h_plain.history["val_loss"])
    np.testing.assert_allclose(h_swap.history["val_loss"][-1],
                               swapped.evaluate(xv, yv, verbose=0), rtol=1e-6)
    before = [w.copy() for w in swapped.get_weights()]
    swapped.predict(xv, verbose=0, callbacks=[callbacks.SwapEMAWeights()])
    for a, b in zip(swapped.get_weights(), before):  # predict swaps back afterwards
        np.testing.assert_array_equal(a, b)


def test_swap_ema_weights_on_epoch_lets_later_callbacks_see_the_averages():
    x, y = _data()
    model = _model(_adam())
    seen = []
    model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0, callbacks=[
        callbacks.SwapEMAWeights(swap_on_epoch=True),
        callbacks.LambdaCallback(on_epoch_end=lambda e, logs: seen.append(model.get_weights()))])
    ref = _model(_adam())
    ref.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)  # ends on the averages
    for a, b in zip(seen[-1], ref.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    for a, b in zip(model.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_swap_ema_weights_needs_use_ema():
    x, y = _data()
    model = _model("adam")
    with pytest.raises(ValueError, match="use_ema"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[callbacks.SwapEMAWeights()])
