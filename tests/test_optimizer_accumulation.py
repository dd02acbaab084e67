"""gradient_accumulation_steps, loss_scale_factor and a callable learning rate, as
Keras 3's optimizers have them; the `_against_keras` tests train the same model with
Keras 3 (torch backend) and exchange files with it."""

import numpy as np
import pytest
from keras_peer import keras_or_skip as _keras
from keras_peer import to_numpy as _np

import fastnet
from fastnet import optimizers as O


def test_sgd_accumulation_applies_the_mean_every_n_calls():
    opt = O.SGD(0.1, momentum=0.5, gradient_accumulation_steps=3)
    v = fastnet.Variable(np.ones(4, "float32"))
    ref, velocity, acc = np.ones(4), np.zeros(4), np.zeros(4)
    rng = np.random.default_rng(0)
    for call in range(1, 10):
        g = rng.normal(size=4).astype("float32")
        opt.apply([g], [v])
        acc += g
        if call % 3 == 0:  # Keras's SGD momentum on the averaged gradient
            velocity = 0.5 * velocity - 0.1 * (acc / 3)
            ref = ref + velocity
            acc[:] = 0
        np.testing.assert_allclose(v.numpy(), ref, rtol=1e-6, atol=1e-7)
        assert int(opt.iterations) == call // 3
        assert int(opt._iterations.numpy()) == call


def test_adam_bias_correction_counts_updates_not_calls():
    n = 2
    opt = O.Adam(0.01, gradient_accumulation_steps=n)
    plain = O.Adam(0.01)
    a = fastnet.Variable(np.ones(3, "float32"))
    b = fastnet.Variable(np.ones(3, "float32"))
    rng = np.random.default_rng(1)
    for _ in range(4):
        g1, g2 = rng.normal(size=(2, 3)).astype("float32")
        opt.apply([g1], [a])
        opt.apply([g2], [a])
        plain.apply([(g1 + g2) / 2], [b])
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)
    assert int(opt.iterations) == int(plain.iterations.numpy()) == 4


def test_loss_scale_factor_scales_the_loss_and_unscales_the_gradients():
    opt = O.SGD(0.1, loss_scale_factor=8.0)
    assert float(opt.scale_loss(2.0)) == 16.0
    v = fastnet.Variable(np.ones(2, "float32"))
    opt.apply([np.full(2, 8.0, "float32")], [v])
    np.testing.assert_allclose(v.numpy(), [0.9, 0.9])

    def train(opt):
        fastnet.utils.set_random_seed(0)
        m = fastnet.Sequential([fastnet.Input((3,)), fastnet.layers.Dense(2, activation="tanh"),
                                fastnet.layers.Dense(1)])
        m.compile(opt, "mse")
        x = np.random.default_rng(0).normal(size=(16, 3)).astype("float32")
        m.fit(x, x[:, :1], batch_size=4, epochs=2, shuffle=False, verbose=0)
        return m.get_weights()

    for a, b in zip(train(O.Adam(0.01, loss_scale_factor=1024.0)), train(O.Adam(0.01))):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kw,arg", [({"gradient_accumulation_steps": 1}, "gradient_accumulation"),
                                    ({"gradient_accumulation_steps": 2.5}, "gradient_accumulation"),
                                    ({"gradient_accumulation_steps": True}, "gradient_accumulation"),
                                    ({"loss_scale_factor": 0}, "loss_scale_factor"),
                                    ({"loss_scale_factor": "big"}, "loss_scale_factor")])
def test_bad_values_are_refused_by_name(kw, arg):
    with pytest.raises(ValueError, match=arg):
        O.Adam(**kw)


def test_config_round_trip_and_the_plan_falls_back():
    opt = O.AdamW(0.01, gradient_accumulation_steps=4, loss_scale_factor=2.0)
    cfg = opt.get_config()
    assert cfg["gradient_accumulation_steps"] == 4 and cfg["loss_scale_factor"] == 2.0
    again = O.AdamW.from_config(cfg)
    assert again.gradient_accumulation_steps == 4 and again.loss_scale_factor == 2.0
    m = fastnet.Sequential([fastnet.Input((3,)), fastnet.layers.Dense(1)])
    m.compile(O.SGD(gradient_accumulation_steps=2), "mse")
    assert "gradient_accumulation_steps=2" in m._plan_status("train")
    m.compile(O.SGD(loss_scale_factor=4.0), "mse")
    assert "loss_scale_factor=4.0" in m._plan_status("train")


def _mlp(lib, seed=0):
    m = lib.Sequential([lib.Input((5,)), lib.layers.Dense(4, activation="tanh"),
                        lib.layers.Dense(1)])
    rng = np.random.default_rng(seed)
    for w in m.weights:
        w.assign(rng.uniform(-0.5, 0.5, tuple(w.shape)).astype("float32"))
    return m


def _xy(n=48):
    rng = np.random.default_rng(3)
    return rng.normal(size=(n, 5)).astype("float32"), rng.normal(size=(n, 1)).astype("float32")


def test_a_checkpoint_taken_mid_accumulation_resumes_exactly(tmp_path):
    x, y = _xy()
    whole = _mlp(fastnet)
    whole.compile(O.Adam(0.01, gradient_accumulation_steps=2), "mse")
    whole.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)  # 6 calls
    part = _mlp(fastnet)
    part.compile(O.Adam(0.01, gradient_accumulation_steps=2), "mse")
    part.fit(x[:16], y[:16], batch_size=16, epochs=1, shuffle=False, verbose=0)
    assert np.any(next(iter(part.optimizer._accumulators.values())) != 0)  # mid-update
    part.fit(x[16:32], y[16:32], batch_size=16, epochs=1, shuffle=False, verbose=0)
    part.fit(x[32:], y[32:], batch_size=16, epochs=1, shuffle=False, verbose=0)  # 3 calls
    part.save(tmp_path / "mid.keras")
    resumed = fastnet.models.load_model(tmp_path / "mid.keras")
    assert resumed.optimizer.gradient_accumulation_steps == 2
    assert int(resumed.optimizer._iterations.numpy()) == 3
    resumed.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(resumed.get_weights(), whole.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_a_callable_learning_rate_is_read_every_step():
    rates = iter([0.1, 0.0, 0.2])
    current = {"lr": 0.1}

    def lr():
        return current["lr"]

    opt = O.SGD(lr)
    v = fastnet.Variable(np.zeros(1, "float32"))
    for _ in range(3):
        current["lr"] = next(rates)
        opt.apply([np.ones(1, "float32")], [v])
    np.testing.assert_allclose(v.numpy(), [-0.3], rtol=1e-6)
    assert opt.learning_rate == pytest.approx(0.2)


CONFIGS = {
    "sgd": lambda L: L.optimizers.SGD(0.1, momentum=0.9, gradient_accumulation_steps=2),
    "adamw_clip": lambda L: L.optimizers.AdamW(0.01, weight_decay=0.1, global_clipnorm=0.5,
                                               gradient_accumulation_steps=3),
    "adam_ema": lambda L: L.optimizers.Adam(0.01, use_ema=True, ema_momentum=0.9,
                                            ema_overwrite_frequency=3,
                                            gradient_accumulation_steps=2),
    "schedule": lambda L: L.optimizers.SGD(L.optimizers.schedules.ExponentialDecay(0.1, 1, 0.5),
                                           gradient_accumulation_steps=2),
    "rmsprop": lambda L: L.optimizers.RMSprop(0.01, gradient_accumulation_steps=4),
    "loss_scale": lambda L: L.optimizers.Adam(0.01, loss_scale_factor=128.0),
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_training_matches_keras(name):
    k = _keras()
    x, y = _xy(64)
    out = []
    for lib in (fastnet, k):
        m = _mlp(lib)
        m.compile(CONFIGS[name](lib), "mse")
        m.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
        out.append([_np(w) for w in m.get_weights()])
    for a, b in zip(*out):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=2e-6)


def test_files_with_accumulators_move_between_keras_and_fastnet(tmp_path):
    k = _keras()
    x, y = _xy()
    ours = _mlp(fastnet)
    ours.compile(fastnet.optimizers.Adam(0.01, gradient_accumulation_steps=2), "mse")
    ours.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)  # 3 calls: mid-update
    ours.save(tmp_path / "ours.keras")
    theirs = k.models.load_model(tmp_path / "ours.keras")
    fo = ours.optimizer
    kvars = [_np(v) for v in theirs.optimizer.variables]
    ovars = [np.asarray(a) for a in fastnet.saving.weights_io.optimizer_arrays(ours, fo)]
    assert len(kvars) == len(ovars)
    for a, b in zip(kvars, ovars):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    # and back: Keras continues, saves; fastnet loads the same state
    theirs.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    theirs.save(tmp_path / "theirs.keras")
    back = fastnet.models.load_model(tmp_path / "theirs.keras")
    assert int(back.optimizer._iterations.numpy()) == 6
    for a, b in zip(back.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, _np(b), rtol=1e-6)
    kvars = [_np(v) for v in theirs.optimizer.variables]
    ovars = [np.asarray(a) for a in
             fastnet.saving.weights_io.optimizer_arrays(back, back.optimizer)]
    for a, b in zip(kvars, ovars):
        np.testing.assert_allclose(a, b, rtol=1e-6)
