"""keras.optimizers.MultiOptimizer / OptimizerMap (Keras 3.15): variables routed by path
or by a callable, each sub-optimizer its own state, files as Keras writes them."""

import numpy as np
import pytest
from keras_peer import keras_or_skip
from keras_peer import to_numpy as _np

import fastnet
from fastnet import optimizers as O


def _keras():
    k = keras_or_skip()
    if not hasattr(k.optimizers, "MultiOptimizer"):
        pytest.skip("this Keras has no MultiOptimizer")
    return k


def _model(lib, seed=0):
    inp = lib.Input((3,))
    h = lib.layers.Dense(4, activation="tanh", name="enc")(inp)
    out = lib.layers.Dense(1, name="dec")(h)
    m = lib.Model(inp, out)
    rng = np.random.default_rng(seed)
    for w in m.weights:
        w.assign(rng.uniform(-0.5, 0.5, tuple(w.shape)).astype("float32"))
    return m


def _xy():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(32, 3)).astype("float32")
    return x, np.tanh(x[:, :1])


def test_optimizer_map_lookup_rules():
    adam, sgd, rms = O.Adam(), O.SGD(), O.RMSprop()
    omap = O.OptimizerMap(default_optimizer=rms)
    omap["encoder/layer_0/dense"] = adam
    omap["encoder/.*"] = sgd
    omap["decoder"] = adam
    assert omap["decoder"] is adam and omap["encoder/layer_0/dense"] is adam
    assert omap["encoder/layer_0/attention/query"] is sgd
    assert omap["decoder/layer_0/dense"] is rms
    omap[".*query"] = rms
    with pytest.raises(ValueError, match="Multiple optimizers"):
        omap["encoder/attention/query"]
    with pytest.raises(ValueError, match="already exists"):
        omap["decoder"] = sgd
    with pytest.raises(ValueError, match="cannot be LossScaleOptimizer"):
        omap["x"] = O.LossScaleOptimizer(O.SGD())
    with pytest.raises(TypeError, match="default_optimizer"):
        O.OptimizerMap("sgd")


def test_each_variable_moves_by_its_own_optimizer():
    x, y = _xy()
    adam, sgd = O.Adam(0.01), O.SGD(0.1, momentum=0.9)
    m = _model(fastnet)
    mo = O.MultiOptimizer(O.OptimizerMap(sgd, {"enc/.*": adam}))
    m.compile(mo, "mse")
    assert "MultiOptimizer" in m._plan_status("train")
    m.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    # the same training by hand: Adam on enc's weights, SGD on dec's, same gradients
    ref = _model(fastnet)
    a2, s2 = O.Adam(0.01), O.SGD(0.1, momentum=0.9)
    for _ in range(2):
        for i in range(0, 32, 8):
            with fastnet.GradientTape() as tape:
                loss = fastnet.ops.mean((ref(x[i:i + 8]) - y[i:i + 8]) ** 2)
            grads = tape.gradient(loss, ref.trainable_weights)
            pairs = list(zip(grads, ref.trainable_weights))
            a2.apply([g for g, v in pairs if v.path.startswith("enc/")],
                     [v for g, v in pairs if v.path.startswith("enc/")])
            s2.apply([g for g, v in pairs if v.path.startswith("dec/")],
                     [v for g, v in pairs if v.path.startswith("dec/")])
    for a, b in zip(m.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert int(mo.iterations.numpy()) == 8 and int(adam.iterations.numpy()) == 8
    with pytest.raises(AttributeError, match="sub-optimizers"):
        _ = mo.learning_rate


def test_a_callable_selector_and_a_plateau_schedule_per_sub_optimizer():
    x, y = _xy()
    fast, slow = O.SGD(0.1), O.SGD(0.01)
    m = _model(fastnet)
    m.compile(O.MultiOptimizer(lambda v: fast if "enc" in v.path else slow), "mse")
    h = m.fit(x, y, epochs=2, verbose=0, callbacks=[
        fastnet.callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5)])
    # as Keras: before the first step a callable has picked no sub-optimizer yet, so the
    # first epoch's schedule reaches none of them
    assert fast.learning_rate == pytest.approx(0.05) and slow.learning_rate == \
        pytest.approx(0.005)
    assert any(k.startswith("learning_rate_") for k in h.history)


def test_save_and_resume(tmp_path):
    x, y = _xy()
    m = _model(fastnet)
    m.compile(O.MultiOptimizer(O.OptimizerMap(O.SGD(0.1, momentum=0.9), {"enc/.*": O.Adam(0.01)})),
              "mse")
    m.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    m.save(tmp_path / "m.keras")
    back = fastnet.models.load_model(tmp_path / "m.keras")
    assert [type(o).__name__ for o in back.optimizer.optimizers] == ["Adam", "SGD"]
    m.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    back.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(m.get_weights(), back.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_training_and_files_match_keras(tmp_path):
    k = _keras()
    x, y = _xy()
    models = []
    for lib in (fastnet, k):
        m = _model(lib)
        omap = lib.optimizers.OptimizerMap(lib.optimizers.SGD(0.1, momentum=0.9),
                                           {"enc/.*": lib.optimizers.Adam(0.01)})
        m.compile(lib.optimizers.MultiOptimizer(omap), "mse")
        m.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
        models.append(m)
    ours, theirs = models
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, _np(b), rtol=1e-5, atol=1e-6)
    theirs_vars = [_np(v) for v in theirs.optimizer.variables]
    ours_vars = fastnet.saving.weights_io.optimizer_arrays(ours, ours.optimizer)
    assert [np.shape(v) for v in ours_vars] == [np.shape(v) for v in theirs_vars]
    ours.save(tmp_path / "ours.keras")
    loaded = k.models.load_model(tmp_path / "ours.keras")
    for a, b in zip(loaded.optimizer.variables, ours_vars):
        np.testing.assert_allclose(_np(a), b, rtol=1e-6)
    theirs.save(tmp_path / "theirs.keras")
    back = fastnet.models.load_model(tmp_path / "theirs.keras")
    for a, b in zip(fastnet.saving.weights_io.optimizer_arrays(back, back.optimizer),
                    theirs_vars):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_loss_scale_factor_reaches_every_sub_optimizer():
    x, y = _xy()
    out = []
    for factor in (None, 64.0):
        m = _model(fastnet)
        mo = O.MultiOptimizer(O.OptimizerMap(O.SGD(0.1), {"enc/.*": O.Adam(0.01)}),
                              loss_scale_factor=factor)
        m.compile(mo, "mse")
        m.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
        assert all(o.loss_scale_factor == factor for o in mo.optimizers)
        out.append(m.get_weights())
    assert float(mo.scale_loss(1.0)) == 64.0
    for a, b in zip(*out):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
