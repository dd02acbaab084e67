"""Fused optimizer kernels (csrc/optim) against the numpy formulas, every ISA, and
against Keras 3's own optimizers when Keras is installed."""

import os

import numpy as np
import pytest
from oracle import assert_close, rand

import fastnet
from fastnet import optimizers as O
from fastnet.kernels import optim as K

CONFIGS = [
    (O.SGD, {}), (O.SGD, {"momentum": 0.9}), (O.SGD, {"momentum": 0.9, "nesterov": True}),
    (O.RMSprop, {}), (O.RMSprop, {"momentum": 0.5, "centered": True}),
    (O.Adam, {}), (O.Adam, {"amsgrad": True}), (O.AdamW, {}), (O.Adagrad, {}),
    (O.Adadelta, {"learning_rate": 1.0}), (O.Nadam, {}),
    (O.Adam, {"clipnorm": 0.1}), (O.SGD, {"clipvalue": 0.01, "weight_decay": 0.1}),
]


def ids(c):
    return c[0].__name__ + "".join(f"-{k}" for k in c[1])


def run(opt_cls, kwargs, use_kernel, steps=5, size=(1000, 3)):
    var = fastnet.Variable(rand(size, seed=1))
    opt = opt_cls(**kwargs)
    if not use_kernel:
        opt._update = opt._update_reference
    for s in range(steps):
        opt.apply([rand(size, seed=10 + s)], [var])
    return var.numpy(), opt


@pytest.mark.parametrize("config", CONFIGS, ids=[ids(c) for c in CONFIGS])
def test_kernel_matches_formula(isa, config):
    got, opt = run(*config, use_kernel=True)
    want, _ = run(*config, use_kernel=False)
    assert_close(got, want, atol=1e-6, rtol=1e-5)
    assert int(opt.iterations.numpy()) == 5


def test_large_weight_is_threaded_and_equal():
    got, _ = run(O.Adam, {}, True, steps=2, size=(300_000,))
    want, _ = run(O.Adam, {}, False, steps=2, size=(300_000,))
    assert_close(got, want, atol=1e-6, rtol=1e-5)


def test_kernel_argument_checks():
    v = np.zeros(4, np.float32)
    with pytest.raises(ValueError, match="grad.*shape"):
        K.sgd_update(v, np.zeros(3, np.float32), None, 0.1, 0.0, False)
    with pytest.raises(TypeError, match="float32"):
        K.sgd_update(v, np.zeros(4), None, 0.1, 0.0, False)
    with pytest.raises(ValueError, match="overlaps"):
        K.sgd_update(v, v, None, 0.1, 0.0, False)
    with pytest.raises(ValueError, match="momentum_buf"):
        K.sgd_update(v, np.zeros(4, np.float32), np.zeros(5, np.float32), 0.1, 0.9, False)
    with pytest.raises(ValueError, match="shape"):
        O.SGD().apply([np.zeros(3, np.float32)], [fastnet.Variable(np.zeros(4, np.float32))])


def test_schedules_and_lr_setter():
    sched = O.schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    opt = O.SGD(learning_rate=sched)
    var = fastnet.Variable(np.zeros(2, np.float32))
    for _ in range(10):
        opt.apply([np.ones(2, np.float32)], [var])
    assert opt.learning_rate == pytest.approx(0.05)
    with pytest.raises(TypeError, match="LearningRateSchedule"):
        opt.learning_rate = 0.3
    assert O.schedules.PiecewiseConstantDecay([5], [1.0, 0.5])(6) == 0.5
    assert O.schedules.CosineDecay(1.0, 10)(10) == pytest.approx(0.0)


KERAS_CASES = [("SGD", {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}),
               ("RMSprop", {"momentum": 0.3, "centered": True}), ("Adam", {"amsgrad": True}),
               ("AdamW", {}), ("Adagrad", {}), ("Adadelta", {"learning_rate": 1.0}),
               ("Nadam", {})]


@pytest.mark.parametrize("name,kwargs", KERAS_CASES, ids=[c[0] for c in KERAS_CASES])
def test_matches_keras_optimizers(name, kwargs):
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    pytest.importorskip("torch")
    init = rand((50,), seed=3)
    kv = keras.Variable(init.copy())
    kopt = getattr(keras.optimizers, name)(**kwargs)
    fv = fastnet.Variable(init.copy())
    fopt = getattr(O, name)(**kwargs)
    for s in range(4):
        g = rand((50,), seed=20 + s)
        kopt.apply_gradients([(keras.ops.convert_to_tensor(g), kv)])
        fopt.apply([g], [fv])
    assert_close(fv.numpy(), keras.ops.convert_to_numpy(kv), atol=1e-6, rtol=1e-5)


def test_optimizer_slot_that_is_not_an_array_raises_type_error():
    # Regression (fuzz, issue 6): optional slots taken as objects were reinterpreted as
    # numpy arrays without a check, so a list (or int) segfaulted.
    var, grad = np.ones(3, np.float32), np.ones(3, np.float32)
    with pytest.raises(TypeError, match="`momentum_buf` must be a numpy array"):
        K.sgd_update(var, grad, [0.0, 0.0, 0.0], 0.1, 0.9, False)
    with pytest.raises(TypeError, match="`velocity_hat` must be a numpy array"):
        K.adam_update(var, grad, np.zeros(3, np.float32), np.zeros(3, np.float32), 1,
                      0.1, 0.9, 0.999, 1e-7)
    np.testing.assert_array_equal(var, 1)


def test_optimizer_slots_aliasing_each_other_raise():
    # Regression (fuzz, issue 6): two slots sharing memory (e.g. Adam's momentum passed as
    # its velocity) were accepted and silently gave a wrong update.
    var, grad = np.ones(4, np.float32), np.full(4, 0.5, np.float32)
    m = np.zeros(8, np.float32)
    with pytest.raises(ValueError, match="overlaps"):
        K.adam_update(var, grad, m[:4], m[:4], None, 0.1, 0.9, 0.999, 1e-7)
    with pytest.raises(ValueError, match="overlaps"):
        K.adadelta_update(var, grad, m[:4], m[1:5], 1.0, 0.95, 1e-7)
    with pytest.raises(ValueError, match="overlaps"):
        K.rmsprop_update(var, grad, m[:4], None, m[2:6], 0.1, 0.9, 0.0, 1e-7)
    np.testing.assert_array_equal(var, 1)
    np.testing.assert_array_equal(m, 0)


@pytest.mark.parametrize("config", CONFIGS, ids=[ids(c) for c in CONFIGS])
def test_scalar_variable_every_optimizer(config):
    """A 0-d float32 Variable (np.ascontiguousarray makes its gradient 1-D): the kernel
    update keeps the shape () and matches the numpy formula."""
    def steps(use_kernel):
        var = fastnet.Variable(np.float32(0.7))
        opt = config[0](**config[1])
        if not use_kernel:
            opt._update = opt._update_reference
        for s in range(3):
            opt.apply([np.float32(0.5 - 0.3 * s)], [var])
        return var.numpy()

    got = steps(True)
    assert got.shape == ()
    assert_close(got, steps(False), atol=1e-6, rtol=1e-5)
    assert got != np.float32(0.7)


@pytest.mark.parametrize("staircase", [False, True])
def test_exponential_and_inverse_time_decay_formulas_and_config(staircase):
    """The two step decays share their progress (step / decay_steps, floored with
    staircase) and their config; Keras's formulas."""
    S = O.schedules
    exp = S.ExponentialDecay(0.2, decay_steps=4, decay_rate=0.6, staircase=staircase)
    inv = S.InverseTimeDecay(0.2, decay_steps=4, decay_rate=0.6, staircase=staircase)
    for step in (0, 3, 4, 7, 13):
        p = np.floor(step / 4) if staircase else step / 4
        assert exp(step) == pytest.approx(0.2 * 0.6 ** p)
        assert inv(step) == pytest.approx(0.2 / (1 + 0.6 * p))
    for sched in (exp, inv):
        again = S.deserialize(S.serialize(sched))
        assert type(again) is type(sched) and again.get_config() == sched.get_config()
        assert again.get_config()["staircase"] is staircase
    with pytest.raises(ValueError, match="decay_steps must be > 0"):
        S.ExponentialDecay(0.1, decay_steps=0, decay_rate=0.5)
