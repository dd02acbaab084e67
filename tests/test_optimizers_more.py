"""Adamax, Ftrl, Lion, Lamb, Adafactor, LossScaleOptimizer and CosineDecayRestarts:
each against a plain numpy transcription of its published update, against Keras 3
itself when installed, through get/serialize/deserialize and a saved model."""

import math
import os

import numpy as np
import pytest
from oracle import rand

import fastnet
from fastnet import layers
from fastnet import optimizers as O


# ---- independent references: one step of each rule on float64 arrays ----------------------
def ref_adamax(w, g, st, t, lr=0.001, b1=0.9, b2=0.999, eps=1e-7):
    m, u = st.setdefault("m", np.zeros_like(w)), st.setdefault("u", np.zeros_like(w))
    m = b1 * m + (1 - b1) * g
    u = np.maximum(b2 * u, np.abs(g))
    st["m"], st["u"] = m, u
    return w - lr / (1 - b1 ** t) * m / (u + eps)


def ref_ftrl(w, g, st, t, lr=0.001, power=-0.5, init=0.1, l1=0.0, l2=0.0, l2s=0.0, beta=0.0):
    n = st.setdefault("n", np.full_like(w, init))
    z = st.setdefault("z", np.zeros_like(w))
    g_shrunk = g + 2 * l2s * w
    n_new = n + g * g
    sigma = (n_new ** -power - n ** -power) / lr
    z = z + g_shrunk - sigma * w
    w_new = np.where(np.abs(z) <= l1, 0.0,
                     -(z - np.sign(z) * l1) / (n_new ** -power / lr + 2 * (l2 + beta / (2 * lr))))
    st["n"], st["z"] = n_new, z
    return w_new


def ref_lion(w, g, st, t, lr=0.001, b1=0.9, b2=0.99):
    m = st.setdefault("m", np.zeros_like(w))
    c = b1 * m + (1 - b1) * g
    st["m"] = b2 * m + (1 - b2) * g
    return w - lr * np.sign(c)


def ref_lamb(w, g, st, t, lr=0.001, b1=0.9, b2=0.999, eps=1e-7):
    m, v = st.setdefault("m", np.zeros_like(w)), st.setdefault("v", np.zeros_like(w))
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    st["m"], st["v"] = m, v
    r = (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
    wn, rn = np.linalg.norm(w), np.linalg.norm(r)
    trust = wn / rn if wn > 0 and rn > 0 else 1.0
    return w - lr * trust * r


def ref_adafactor(w, g, st, t, lr=0.001, decay=-0.8, e1=1e-30, e2=1e-3, d=1.0):
    rho = min(lr, 1 / math.sqrt(t))
    alpha = max(e2, np.sqrt(np.mean(w * w))) * rho
    beta2 = 1 - t ** decay
    g2 = g * g + e1
    if w.ndim >= 2:
        r = st.setdefault("r", np.zeros(w.shape[:-1]))
        c = st.setdefault("c", np.zeros(w.shape[:-2] + w.shape[-1:]))
        r = beta2 * r + (1 - beta2) * g2.mean(-1)
        c = beta2 * c + (1 - beta2) * g2.mean(-2)
        st["r"], st["c"] = r, c
        v = np.outer(r, c) / r.mean() if w.ndim == 2 else \
            (r / r.mean(-1, keepdims=True))[..., None] * c[..., None, :]
    else:
        v = beta2 * st.setdefault("v", np.zeros_like(w)) + (1 - beta2) * g2
        st["v"] = v
    u = g / np.sqrt(v)
    u = u / max(1.0, np.sqrt(np.mean(u * u)) / d)
    return w - alpha * u


def ref_schedule_free(w, g, st, t, lr=0.0025, b1=0.9, b2=0.999, eps=1e-8, warmup=0):
    """Defazio et al.'s form with the averaged iterate x kept explicitly: z takes the
    Adam step, x averages the z's (weight 1/t), the weight is (1 - b1) z + b1 x."""
    z, x = st.setdefault("z", w.copy()), st.setdefault("x", w.copy())
    v = b2 * st.setdefault("v", np.zeros_like(w)) + (1 - b2) * g * g
    rate = lr * min(t / warmup, 1.0) if warmup else lr
    z = z - rate * g / (np.sqrt(v / (1 - b2 ** t)) + eps)
    x = (1 - 1 / t) * x + z / t
    st.update(z=z, x=x, v=v)
    return (1 - b1) * z + b1 * x


CASES = [("Adamax", {}, ref_adamax), ("Adamax", {"beta_1": 0.5, "epsilon": 1e-3}, ref_adamax),
         ("Ftrl", {"learning_rate": 0.1}, ref_ftrl),
         ("Ftrl", {"learning_rate": 0.1, "l1_regularization_strength": 0.05,
                   "l2_regularization_strength": 0.1,
                   "l2_shrinkage_regularization_strength": 0.02, "beta": 0.3}, ref_ftrl),
         ("Lion", {}, ref_lion), ("Lion", {"beta_1": 0.5, "beta_2": 0.9}, ref_lion),
         ("Lamb", {"learning_rate": 0.01}, ref_lamb),
         ("Adafactor", {"learning_rate": 0.1}, ref_adafactor),
         ("ScheduleFreeAdamW", {}, ref_schedule_free),
         ("ScheduleFreeAdamW", {"learning_rate": 0.01, "warmup_steps": 3, "beta_1": 0.8},
          ref_schedule_free)]
_KW = {"learning_rate": "lr", "beta_1": "b1", "beta_2": "b2", "epsilon": "eps",
       "l1_regularization_strength": "l1", "l2_regularization_strength": "l2",
       "l2_shrinkage_regularization_strength": "l2s", "beta": "beta", "warmup_steps": "warmup"}


def _ids(c):
    return c[0] + "".join(f"-{k}" for k in c[1])


@pytest.mark.parametrize("shape", [(7, 5), (6,), (2, 3, 4)])
@pytest.mark.parametrize("name,kwargs,ref", CASES, ids=[_ids(c) for c in CASES])
def test_update_matches_the_published_formula(name, kwargs, ref, shape):
    w0 = rand(shape, seed=1).astype(np.float64)
    for dtype in (np.float32, np.float64):
        var = fastnet.Variable(w0.astype(dtype), dtype=np.dtype(dtype).name)
        opt = getattr(O, name)(**kwargs)
        w, st = w0.copy(), {}
        for t in range(1, 6):
            g = rand(shape, seed=10 + t).astype(np.float64)
            opt.apply([g.astype(dtype)], [var])
            w = ref(w, g, st, t, **{_KW[k]: v for k, v in kwargs.items()})
        # float64 weights: the learning rate is a float32 value, as Keras keeps it, so
        # the exact-rate formula agrees to float32 rounding of the rate (~6e-8)
        tol = 2e-5 if dtype == np.float32 else 1e-7
        np.testing.assert_allclose(var.numpy(), w, rtol=tol, atol=tol)
        assert var.numpy().dtype == dtype
        assert int(opt.iterations.numpy()) == 5


@pytest.mark.parametrize("name,kwargs,ref", CASES, ids=[_ids(c) for c in CASES])
def test_matches_keras(name, kwargs, ref):
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    pytest.importorskip("torch")
    if name == "ScheduleFreeAdamW" and keras.backend.backend() == "torch":
        # Keras's torch backend reads `momentum.value` before updating the momentum in
        # place, so its "old" momentum is the new one; TF/JAX (and the paper) use the old
        # value, as fastnet does. Compared where Keras runs on another backend.
        pytest.skip("Keras's torch ScheduleFreeAdamW aliases the old momentum")
    for shape in [(6, 4), (5,)]:
        init = rand(shape, seed=3)
        kv, fv = keras.Variable(init.copy()), fastnet.Variable(init.copy())
        kopt, fopt = getattr(keras.optimizers, name)(**kwargs), getattr(O, name)(**kwargs)
        for s in range(4):
            g = rand(shape, seed=20 + s)
            kopt.apply_gradients([(keras.ops.convert_to_tensor(g), kv)])
            fopt.apply([g], [fv])
        np.testing.assert_allclose(fv.numpy(), keras.ops.convert_to_numpy(kv), atol=1e-6,
                                   rtol=1e-5)
        assert set(kopt.get_config()) == set(fopt.get_config())
        # the slot shapes in Keras's variable order (after iterations and learning rate)
        kshapes = [tuple(v.shape) for v in kopt.variables[2:]]
        fshapes = [tuple(s.shape) for s in fopt._slots[id(fv)]]
        assert kshapes == fshapes


@pytest.mark.parametrize("name", ["Adamax", "Ftrl", "Lion", "Lamb", "Adafactor",
                                  "ScheduleFreeAdamW"])
def test_get_config_round_trip_and_saved_model_resumes(name, tmp_path):
    opt = O.get(name.lower())
    assert type(opt) is getattr(O, name) and type(O.get(name)) is type(opt)
    cfg = O.serialize(opt)
    again = O.deserialize(cfg)
    assert type(again) is type(opt) and again.get_config() == opt.get_config()

    x = rand((16, 3), seed=4)
    y = rand((16, 2), seed=5)

    def model():
        fastnet.utils.set_random_seed(0)
        m = fastnet.Sequential([fastnet.Input((3,)), layers.Dense(4), layers.Dense(2)])
        m.compile(optimizer=getattr(O, name)(learning_rate=0.01), loss="mse")
        return m

    a = model()
    a.fit(x, y, batch_size=8, epochs=1, verbose=0)
    path = str(tmp_path / "m.keras")
    a.save(path)
    b = fastnet.models.load_model(path)
    assert type(b.optimizer) is getattr(O, name)
    a.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    b.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-6, atol=1e-7)


def test_argument_checks_name_the_argument():
    with pytest.raises(ValueError, match="beta_1"):
        O.Lion(beta_1=0.0)
    with pytest.raises(ValueError, match="learning_rate_power"):
        O.Ftrl(learning_rate_power=0.5)
    with pytest.raises(ValueError, match="l1_regularization_strength"):
        O.Ftrl(l1_regularization_strength=-1.0)
    with pytest.raises(ValueError, match="unrecognized"):
        O.Adamax(beta3=1)


def test_public_surface_is_keras_names_only():
    public = {n for n in dir(O) if not n.startswith("_")}
    for leaked in ("np", "math", "Tensor", "Variable", "annotations", "optimizer", "adaptive",
                   "LearningRateSchedule"):
        assert leaked not in public
    assert set(O.__all__) == public
    from fastnet.optimizers.optimizer import Adam  # the implementation stays importable

    assert Adam is O.Adam


# ---- LossScaleOptimizer --------------------------------------------------------------------
def test_loss_scale_optimizer_fit_equals_inner_optimizer_on_float32():
    x, y = rand((32, 4), seed=1), rand((32, 1), seed=2)

    def train(wrap):
        fastnet.utils.set_random_seed(3)
        m = fastnet.Sequential([fastnet.Input((4,)), layers.Dense(8, activation="relu"),
                                layers.Dense(1)])
        opt = O.Adam(0.01)
        # both eager: the compiled plan (which does not take a LossScaleOptimizer) would
        # run the plain one through its own fused update, equal only to rounding
        m.compile(optimizer=O.LossScaleOptimizer(opt) if wrap else opt, loss="mse",
                  jit_compile=False)
        h = m.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
        return m, h.history["loss"]

    plain, hp = train(False)
    scaled, hs = train(True)
    np.testing.assert_array_equal(hp, hs)  # the reported loss is the unscaled one
    for a, b in zip(plain.get_weights(), scaled.get_weights()):
        np.testing.assert_array_equal(a, b)  # a power-of-two scale is exact
    assert int(scaled.optimizer.iterations.numpy()) == 8
    assert scaled.optimizer.learning_rate == pytest.approx(0.01)


def test_loss_scale_optimizer_skips_non_finite_steps_and_grows():
    var = fastnet.Variable(np.ones(3, np.float32))
    opt = O.LossScaleOptimizer(O.SGD(0.5), initial_scale=8.0, dynamic_growth_steps=2)
    assert float(fastnet.ops.convert_to_numpy(opt.scale_loss(fastnet.ops.ones(())))) == 8.0
    opt.apply([np.array([np.inf, 0, 0], np.float32)], [var])
    np.testing.assert_array_equal(var.numpy(), 1.0)  # skipped
    assert opt.dynamic_scale == 4.0 and int(opt.iterations.numpy()) == 0
    opt.apply([np.full(3, 4.0, np.float32)], [var])  # a gradient of 1 after unscaling
    np.testing.assert_allclose(var.numpy(), 0.5)
    assert opt.dynamic_scale == 4.0 and opt.step_counter == 1
    opt.apply([np.full(3, 4.0, np.float32)], [var])
    assert opt.dynamic_scale == 8.0 and opt.step_counter == 0  # two finite steps: doubled
    np.testing.assert_allclose(var.numpy(), 0.0)


def test_loss_scale_optimizer_config_arguments_and_saving(tmp_path):
    opt = O.LossScaleOptimizer(O.Adam(0.02), initial_scale=1024.0, dynamic_growth_steps=3)
    cfg = O.serialize(opt)
    assert cfg["config"]["inner_optimizer"]["class_name"] == "Adam"
    again = O.deserialize(cfg)
    assert isinstance(again.inner_optimizer, O.Adam)
    assert again.get_config() == opt.get_config()
    with pytest.raises(ValueError, match="clipnorm"):
        O.LossScaleOptimizer(O.SGD(), clipnorm=1.0)
    with pytest.raises(ValueError, match="dynamic=False"):
        O.LossScaleOptimizer(O.SGD(), dynamic=False)
    with pytest.raises(TypeError, match="inner_optimizer"):
        O.LossScaleOptimizer("adam")

    x, y = rand((16, 3), seed=4), rand((16, 1), seed=5)
    m = fastnet.Sequential([fastnet.Input((3,)), layers.Dense(1)])
    m.compile(optimizer=O.LossScaleOptimizer(O.Adam(0.01), dynamic_growth_steps=3), loss="mse")
    m.fit(x, y, batch_size=4, epochs=1, verbose=0)
    path = str(tmp_path / "lso.keras")
    m.save(path)
    back = fastnet.models.load_model(path)
    assert isinstance(back.optimizer, O.LossScaleOptimizer)
    assert back.optimizer.step_counter == m.optimizer.step_counter == 1  # 4 steps mod 3
    assert int(back.optimizer.iterations.numpy()) == 4
    ka = m.optimizer._slots[id(m.trainable_weights[0])]
    kb = back.optimizer._slots[id(back.trainable_weights[0])]
    for a, b in zip(ka, kb):
        np.testing.assert_array_equal(a, b)


def test_loss_scale_optimizer_matches_keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    pytest.importorskip("torch")
    init = rand((5,), seed=3)
    kv, fv = keras.Variable(init.copy()), fastnet.Variable(init.copy())
    kopt = keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(0.1), initial_scale=4.0,
                                               dynamic_growth_steps=2)
    fopt = O.LossScaleOptimizer(O.SGD(0.1), initial_scale=4.0, dynamic_growth_steps=2)
    grads = [rand((5,), seed=7), np.array([np.nan, 1, 1, 1, 1], np.float32), rand((5,), seed=8),
             rand((5,), seed=9), rand((5,), seed=10)]
    for g in grads:
        kopt.apply([keras.ops.convert_to_tensor(g)], [kv])
        fopt.apply([g], [fv])
        assert float(keras.ops.convert_to_numpy(kopt.dynamic_scale)) == fopt.dynamic_scale
    np.testing.assert_allclose(fv.numpy(), keras.ops.convert_to_numpy(kv), rtol=1e-6)
    assert kopt.get_config() == {**fopt.get_config(),
                                 "inner_optimizer": kopt.get_config()["inner_optimizer"]}


# ---- CosineDecayRestarts -------------------------------------------------------------------
def _sgdr(step, lr0, first, t_mul, m_mul, alpha):
    """Walk the periods one by one (the closed form in the class is Keras's)."""
    start, length, i = 0, first, 0
    while step >= start + length:
        start, length, i = start + length, length * t_mul, i + 1
    frac = (step - start) / length
    return lr0 * ((1 - alpha) * 0.5 * m_mul ** i * (1 + math.cos(math.pi * frac)) + alpha)


@pytest.mark.parametrize("t_mul,m_mul,alpha", [(2.0, 1.0, 0.0), (1.0, 0.5, 0.1), (1.5, 0.8, 0.0)])
def test_cosine_decay_restarts(t_mul, m_mul, alpha):
    s = O.schedules.CosineDecayRestarts(0.1, 10, t_mul=t_mul, m_mul=m_mul, alpha=alpha)
    for step in [0, 1, 5, 9, 10, 11, 29, 30, 31, 69, 75]:
        assert s(step) == pytest.approx(_sgdr(step, 0.1, 10, t_mul, m_mul, alpha), rel=1e-9,
                                        abs=1e-12), step
    again = O.schedules.deserialize(O.schedules.serialize(s))
    assert type(again) is type(s) and again.get_config() == s.get_config()
    opt = O.SGD(learning_rate=s)
    assert O.deserialize(O.serialize(opt)).learning_rate == pytest.approx(0.1)
    with pytest.raises(ValueError, match="first_decay_steps"):
        O.schedules.CosineDecayRestarts(0.1, 0)
    os.environ.setdefault("KERAS_BACKEND", "torch")
    try:
        import keras
    except ImportError:
        return
    k = keras.optimizers.schedules.CosineDecayRestarts(0.1, 10, t_mul=t_mul, m_mul=m_mul,
                                                       alpha=alpha)
    for step in [0, 7, 10, 33, 75]:
        assert s(step) == pytest.approx(float(keras.ops.convert_to_numpy(k(step))), rel=1e-5,
                                        abs=1e-7)
    assert k.get_config() == s.get_config()


@pytest.mark.parametrize("name", ["Adamax", "Ftrl", "Lion", "Lamb", "Adafactor"])
def test_keras_files_resume_in_both_directions(name, tmp_path):
    """A model compiled with the optimizer, saved by Keras, loads in fastnet (and the
    other way) with its optimizer state: one more epoch gives the same weights."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    pytest.importorskip("torch")
    x = rand((8, 4), seed=1)
    y = np.eye(3, dtype=np.float32)[np.arange(8) % 3]
    km = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    km.compile(optimizer=getattr(keras.optimizers, name)(), loss=keras.losses.Dice())
    km.fit(x, y, verbose=0, shuffle=False)
    path = str(tmp_path / "k.keras")
    km.save(path)
    fm = fastnet.models.load_model(path)
    assert type(fm.optimizer) is getattr(O, name)
    fpath = str(tmp_path / "f.keras")
    fm.save(fpath)
    km2 = keras.models.load_model(fpath)
    for m in (km, fm, km2):
        m.fit(x, y, verbose=0, shuffle=False)
    for a, b, c in zip(km.get_weights(), fm.get_weights(), km2.get_weights()):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(c, a, rtol=1e-5, atol=1e-6)


def test_schedule_free_config_and_slots_match_keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    pytest.importorskip("torch")
    kopt = keras.optimizers.ScheduleFreeAdamW(0.01, warmup_steps=5)
    fopt = O.deserialize(keras.optimizers.serialize(kopt))
    assert type(fopt) is O.ScheduleFreeAdamW
    assert fopt.get_config() == kopt.get_config()
    init = rand((3, 2), seed=2)
    kv, fv = keras.Variable(init.copy()), fastnet.Variable(init.copy())
    kopt.build([kv])
    fopt.build([fv])
    # the momentum slot starts as a copy of the weight, the velocity at zero
    for k, f in zip(kopt.variables[2:], fopt._slots[id(fv)]):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(k), f)


# ---- Muon --------------------------------------------------------------------------------------
def _muon_model(lib, layers_mod):
    return lib.Sequential([lib.Input((3,), dtype="int32"), layers_mod.Embedding(10, 4),
                           layers_mod.Flatten(), layers_mod.Dense(5),
                           layers_mod.Dense(2, name="head")])


def test_muon_orthogonalises_2d_steps_and_uses_adamw_elsewhere():
    rng = np.random.default_rng(0)
    g = rng.standard_normal((6, 4))
    opt = O.Muon()
    ns = opt._newton_schulz(g)
    # the quintic iteration approximates the polar factor U V^T: same singular vectors,
    # singular values pushed into a band around 1
    u, s, vt = np.linalg.svd(g, full_matrices=False)
    s_ns = np.linalg.svd(ns, compute_uv=False)
    assert s_ns.min() > 0.6 and s_ns.max() < 1.25
    np.testing.assert_allclose(u.T @ ns @ vt.T, np.diag(np.diag(u.T @ ns @ vt.T)), atol=1e-6)

    w0 = rng.standard_normal((6, 4)).astype(np.float32)
    b0 = rng.standard_normal((4,)).astype(np.float32)
    w, b = fastnet.Variable(w0.copy()), fastnet.Variable(b0.copy())
    lr, mom, wd = 0.02, 0.95, 0.004
    opt = O.Muon(learning_rate=lr, momentum=mom)
    gw, gb = g.astype(np.float32), rng.standard_normal((4,)).astype(np.float32)
    opt.apply([gw, gb], [w, b])
    # 2-D: decay, momentum m = g (first step), nesterov direction g + mom * m, scaled step
    m = gw.astype(np.float64)
    want_w = w0 * (1 - wd * lr) - lr * opt._newton_schulz(gw + mom * m) * np.sqrt(6) * 0.2
    np.testing.assert_allclose(w.numpy(), want_w, rtol=1e-5, atol=1e-6)
    # 1-D: one AdamW step (alpha = lr * sqrt(1 - b2) / (1 - b1), m = 0.1 g, v = 0.001 g^2)
    mb, vb = 0.1 * gb, 0.001 * gb * gb
    want_b = b0 * (1 - wd * lr) - mb * (lr * np.sqrt(0.001) / 0.1) / (np.sqrt(vb) + 1e-7)
    np.testing.assert_allclose(b.numpy(), want_b, rtol=1e-5, atol=1e-6)
    assert len(opt._slots[id(w)]) == 1 and len(opt._slots[id(b)]) == 2


def test_muon_saves_and_resumes(tmp_path):
    rng = np.random.default_rng(1)
    x, y = rng.integers(0, 10, (8, 3)), rng.random((8, 2)).astype(np.float32)
    model = _muon_model(fastnet, layers)
    model.compile(optimizer=O.Muon(0.01, exclude_layers=["head"]), loss="mse")
    model.fit(x, y, verbose=0, batch_size=4)
    path = str(tmp_path / "muon.keras")
    model.save(path)
    back = fastnet.models.load_model(path)
    assert back.optimizer.get_config() == model.optimizer.get_config()
    model.fit(x, y, verbose=0, batch_size=4, shuffle=False)
    back.fit(x, y, verbose=0, batch_size=4, shuffle=False)
    for a, b in zip(model.get_weights(), back.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_muon_matches_keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 10, (8, 3)), rng.random((8, 2)).astype(np.float32)
    k = _muon_model(keras, keras.layers)
    k.compile(optimizer=keras.optimizers.Muon(0.01, exclude_layers=["head"]), loss="mse")
    f = _muon_model(fastnet, layers)
    f.set_weights(k.get_weights())
    f.compile(optimizer=O.deserialize(keras.optimizers.serialize(k.optimizer)), loss="mse")
    for _ in range(3):
        k.train_on_batch(x, y)
        f.train_on_batch(x, y)
    for a, b in zip(k.get_weights(), f.get_weights()):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
    assert [tuple(v.shape) for v in k.optimizer.variables[2:]] == \
        [tuple(s.shape) for w in f.trainable_weights for s in f.optimizer._slots[id(w)]]
