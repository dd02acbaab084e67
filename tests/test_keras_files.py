"""Keras files in and out (issue 14).

The fixtures under tests/fixtures/keras/ were written by real Keras 3.15 (torch backend,
``k3_*``) and tf.keras 2.21 (``k2_*``) with tools/make_keras_fixtures.py; each family has
its ``.keras``, legacy ``.h5`` and ``.weights.h5`` (tf.keras 2 also its own HDF5 weights
``.legacy.h5``) and an ``.npz`` with the inputs, Keras's outputs and, for compiled models,
the targets and Keras's weights after one more train step (in Keras's order: layer by
layer). The same builders, given fastnet instead of keras, make the models that
``load_weights`` fills.
"""

import importlib.util
import json
import os
import signal
import subprocess
import sys
import zipfile

import h5py
import numpy as np
import pytest

import fastnet
from fastnet import layers
from fastnet.saving import SavedFileError

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures", "keras")
_spec = importlib.util.spec_from_file_location(
    "make_keras_fixtures", os.path.join(HERE, os.pardir, "tools", "make_keras_fixtures.py"))
mkf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mkf)
FAMILIES = mkf.families(fastnet, False)  # also registers the custom "fixtures>Scale"
NAMES = [n for n in FAMILIES if n != "lambda"]
_registry = fastnet.saving.object_registration
_SCALE = _registry.GLOBAL_CUSTOM_OBJECTS.pop("fixtures>Scale")
_registry.GLOBAL_CUSTOM_NAMES.pop(_SCALE)


@pytest.fixture(autouse=True)
def _registered_scale():
    """The fixtures' custom layer is registered only while these tests run (other tests
    check how unregistered classes named Scale fail)."""
    _registry.GLOBAL_CUSTOM_OBJECTS["fixtures>Scale"] = _SCALE
    _registry.GLOBAL_CUSTOM_NAMES[_SCALE] = "fixtures>Scale"
    yield
    _registry.GLOBAL_CUSTOM_OBJECTS.pop("fixtures>Scale", None)
    _registry.GLOBAL_CUSTOM_NAMES.pop(_SCALE, None)
FORMATS = {"k3": [".keras", ".h5", ".weights.h5"],
           "k2": [".keras", ".h5", ".weights.h5", ".legacy.h5"]}
CASES = [(p, n, f) for p in ("k3", "k2") for n in NAMES for f in FORMATS[p]]


def _read(path):
    with open(path, "rb") as fh:
        return fh.read()


def _npz(path):
    with np.load(path) as z:
        return dict(z)


def _arrays(z, key):
    return [z[f"{key}_{i}"] for i in range(200) if f"{key}_{i}" in z]


def _one(xs):
    return xs[0] if len(xs) == 1 else xs


def _layerwise(model):  # Keras's weight order: each layer's weights in turn
    return [w.numpy() for lay in model.layers for w in lay.weights]


@pytest.mark.parametrize("prefix,name,fmt", CASES, ids=[f"{p}-{n}{f}" for p, n, f in CASES])
def test_keras_fixture_loads_with_keras_outputs_and_next_step(prefix, name, fmt):
    z = _npz(os.path.join(FIXTURES, f"{prefix}_{name}.npz"))
    path = os.path.join(FIXTURES, f"{prefix}_{name}{fmt}")
    x, outs, ys, after = (_arrays(z, k) for k in ("x", "out", "y", "next"))
    if fmt in (".keras", ".h5"):
        model = fastnet.models.load_model(path)
    else:
        model = FAMILIES[name][0]()
        model.load_weights(path)
    pred = model.predict(_one(x), verbose=0)
    pred = pred if isinstance(pred, list) else [pred]
    assert len(pred) == len(outs)
    for p, want in zip(pred, outs):
        np.testing.assert_allclose(p, want, rtol=1e-5, atol=1e-5)
    if ys and fmt in (".keras", ".h5"):
        # the optimizer state came with the file: one more step lands on Keras's weights
        # (a fresh Adam's first step would move every weight by ~lr instead)
        assert model.optimizer is not None and int(model.optimizer.iterations.numpy()) == 3
        model.train_on_batch(_one(x), _one(ys))
        got = _layerwise(model)
        assert [g.shape for g in got] == [a.shape for a in after]
        for g, want in zip(got, after):
            np.testing.assert_allclose(g, want, rtol=1e-5, atol=2e-6)


@pytest.mark.parametrize("prefix", ["k3", "k2"])
@pytest.mark.parametrize("fmt", [".keras", ".h5"])
def test_keras_lambda_fixture_needs_safe_mode_false(prefix, fmt):
    path = os.path.join(FIXTURES, f"{prefix}_lambda{fmt}")
    with pytest.raises(SavedFileError, match="safe_mode=False") as info:
        fastnet.models.load_model(path)
    assert path in str(info.value)
    model = fastnet.models.load_model(path, safe_mode=False)
    z = _npz(os.path.join(FIXTURES, f"{prefix}_lambda.npz"))
    np.testing.assert_allclose(model.predict(z["x_0"], verbose=0), z["out_0"], rtol=1e-5,
                               atol=1e-5)


def test_keras2_layer_names_and_metrics_compile():
    model = fastnet.models.load_model(os.path.join(FIXTURES, "k2_mlp.h5"))
    assert isinstance(model.optimizer, fastnet.optimizers.Adam)
    assert model.optimizer.learning_rate == pytest.approx(0.01)
    assert [lay.name for lay in model.layers][:1] == ["dense"]


# ---- fastnet's own round trips ---------------------------------------------------------

def _wrappers_model():
    inner = fastnet.Sequential([layers.Input((3,)), layers.Dense(4, activation="tanh")],
                               name="inner")
    inp = fastnet.Input((5, 3))
    x = layers.Bidirectional(layers.LSTM(2, return_sequences=True))(inp)
    x = layers.TimeDistributed(layers.Dense(3))(x)
    x = layers.TimeDistributed(inner)(x)
    x = layers.Bidirectional(layers.GRU(2), merge_mode="sum")(x)
    model = fastnet.Model(inp, layers.Dense(1)(x))
    model.compile(optimizer=fastnet.optimizers.Adam(0.01), loss="mse")
    return model


@pytest.mark.parametrize("ext", [".keras", ".h5"])
def test_wrappers_and_nested_models_round_trip_and_resume(tmp_path, ext):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 5, 3)).astype("float32")
    y = rng.standard_normal((4, 1)).astype("float32")
    model = _wrappers_model()
    for _ in range(2):
        model.train_on_batch(x, y)
    path = str(tmp_path / f"m{ext}")
    model.save(path)
    loaded = fastnet.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6, atol=1e-7)
    assert int(loaded.optimizer.iterations.numpy()) == 2  # .h5 keeps the optimizer too
    model.train_on_batch(x, y)
    loaded.train_on_batch(x, y)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    weights = str(tmp_path / "w.weights.h5")
    model.save_weights(weights)
    fresh = _wrappers_model()
    fresh.load_weights(weights)
    np.testing.assert_allclose(fresh.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6, atol=1e-7)


def test_keras_weight_paths_written():
    model = _wrappers_model()
    buf = __import__("io").BytesIO()
    fastnet.saving.weights_io.write_weights_file(buf, model)
    with h5py.File(buf, "r") as f:
        names = []
        f.visit(names.append)
    assert "layers/bidirectional/forward_layer/cell/vars/0" in names
    assert "layers/bidirectional/backward_layer/cell/vars/2" in names
    assert "layers/time_distributed/layer/vars/1" in names
    assert "layers/time_distributed_1/layer/layers/dense/vars/0" in names


def test_lambda_round_trip_safe_mode(tmp_path):
    inp = fastnet.Input((3,))
    model = fastnet.Model(inp, layers.Lambda(lambda t, k=3.0: t * k - 1.0)(inp))
    path = str(tmp_path / "lam.keras")
    model.save(path)
    with pytest.raises(SavedFileError, match="safe_mode=False"):
        fastnet.models.load_model(path)
    loaded = fastnet.models.load_model(path, safe_mode=False)
    x = np.arange(6, dtype="float32").reshape(2, 3)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), x * 3.0 - 1.0)


def test_functional_layers_in_keras_depth_order():
    title = fastnet.Input((5,), name="title", dtype="int32")
    body = fastnet.Input((7,), name="body", dtype="int32")
    tags = fastnet.Input((4,), name="tags")
    t = layers.LSTM(4, name="lt")(layers.Embedding(20, 3, name="et")(title))
    b = layers.LSTM(3, name="lb")(layers.Embedding(20, 3, name="eb")(body))
    x = layers.concatenate([t, b, tags], name="cat")
    model = fastnet.Model([title, body, tags],
                          [layers.Dense(1, name="p")(x), layers.Dense(3, name="d")(x)])
    # Keras 3's order (by decreasing depth, then traversal order): what its files use
    assert [lay.name for lay in model.layers] == ["title", "body", "et", "eb", "lt", "lb",
                                                  "tags", "cat", "p", "d"]


def test_variance_scaling_fan_axes():
    init = fastnet.initializers.VarianceScaling(2.0, "fan_in", "uniform", seed=1,
                                                input_axes=[0, 1], output_axes=[2])
    w = init((4, 5, 6))
    limit = np.sqrt(3.0 * 2.0 / 20)
    assert w.max() <= limit and w.min() >= -limit and w.max() > 0.9 * limit
    cfg = fastnet.initializers.GlorotUniform(input_axes=[0], output_axes=[1]).get_config()
    assert cfg["input_axes"] == [0] and cfg["output_axes"] == [1]
    assert "input_axes" not in fastnet.initializers.GlorotUniform().get_config()


# ---- nothing half-done, every error names the file -------------------------------------

def _mlp(units=3):
    m = fastnet.Sequential([layers.Input((4,)), layers.Dense(5), layers.Dense(units)])
    m.compile(optimizer="adam", loss="mse")
    return m


def test_failed_load_weights_leaves_model_unchanged(tmp_path):
    src = _mlp(units=2)  # last layer's shape differs
    path = str(tmp_path / "w.weights.h5")
    src.save_weights(path)
    model = _mlp(units=3)
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(SavedFileError, match="shape") as info:
        model.load_weights(path)
    assert path in str(info.value)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    legacy = str(tmp_path / "m.h5")
    src.save(legacy)
    with pytest.raises(SavedFileError, match="shape"):
        model.load_weights(legacy)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_optimizer_state_that_does_not_fit_assigns_nothing():
    model = _mlp()
    x = np.ones((2, 4), "float32")
    model.train_on_batch(x, np.ones((2, 3), "float32"))
    before = [s.copy() for v in model.trainable_weights for s in model.optimizer._slots[id(v)]]
    bad = [np.asarray(7, np.int64), np.float32(0.1)] + [np.zeros((9,), "float32")] * 8
    with pytest.raises(ValueError, match="optimizer state"):
        fastnet.saving.weights_io.set_optimizer_state(model, model.optimizer, bad)
    after = [s for v in model.trainable_weights for s in model.optimizer._slots[id(v)]]
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)
    assert int(model.optimizer.iterations.numpy()) == 1


def _corrupt_files(tmp_path):
    good = str(tmp_path / "good.keras")
    _mlp().save(good)
    raw = _read(good)
    h5good = str(tmp_path / "good.h5")
    _mlp().save(h5good)
    h5raw = _read(h5good)
    files = {}

    def put(name, data):
        p = str(tmp_path / name)
        with open(p, "wb") as fh:
            fh.write(data)
        files[name] = p

    put("empty.keras", b"")
    put("truncated.keras", raw[: len(raw) // 2])
    put("truncated.h5", h5raw[: len(h5raw) // 3])
    put("noise.keras", np.random.default_rng(0).bytes(600))
    put("text.h5", b"this is not hdf5 at all")
    for name, members in (("noconfig.keras", {"model.weights.h5": b"x"}),
                          ("badjson.keras", {"config.json": b"{not json",
                                             "model.weights.h5": b""}),
                          ("deep.keras", {"config.json": b"[" * 100000 + b"]" * 100000,
                                          "model.weights.h5": b""}),
                          ("notmodel.keras", {"config.json": b"[1, 2]",
                                              "model.weights.h5": b""}),
                          ("badweights.keras", {"config.json": zipfile.ZipFile(good).read(
                              "config.json"), "model.weights.h5": b"garbage"})):
        p = str(tmp_path / name)
        with zipfile.ZipFile(p, "w") as zf:
            for k, v in members.items():
                zf.writestr(k, v)
        files[name] = p
    foreign = str(tmp_path / "foreign.h5")
    with h5py.File(foreign, "w") as f:
        f.create_dataset("data", data=np.arange(3))
    files["foreign.h5"] = foreign
    files["missing.keras"] = str(tmp_path / "missing.keras")
    files["missing.h5"] = str(tmp_path / "missing.h5")
    files["directory"] = str(tmp_path)
    return files


def test_corrupt_missing_and_foreign_files_raise_one_error_naming_the_file(tmp_path):
    for name, path in _corrupt_files(tmp_path).items():
        with pytest.raises(SavedFileError) as info:
            fastnet.models.load_model(path)
        msg = str(info.value)
        assert path in msg, (name, msg)
        assert "not supported" not in msg, (name, msg)
        if name.startswith("missing"):
            assert "no such file" in msg
        if name == "empty.keras":
            assert "empty" in msg
        model = _mlp()
        before = [w.copy() for w in model.get_weights()]
        with pytest.raises(SavedFileError) as info:
            model.load_weights(path)
        assert path in str(info.value), (name, str(info.value))
        for a, b in zip(before, model.get_weights()):
            np.testing.assert_array_equal(a, b)


def test_absurd_sizes_refused_before_allocating(tmp_path):
    path = str(tmp_path / "huge.keras")
    _mlp().save(path)
    with zipfile.ZipFile(path) as zf:
        config = json.loads(zf.read("config.json"))
        weights = zf.read("model.weights.h5")
    config["config"]["layers"][-1]["config"]["units"] = 2**31
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("config.json", json.dumps(config))
        zf.writestr("model.weights.h5", weights)
    with pytest.raises(SavedFileError, match="units=2147483648") as info:
        fastnet.models.load_model(path)
    assert path in str(info.value)
    with pytest.raises(ValueError, match="more than this machine's memory"):
        layers.Dense(2**31 - 1).build((None, 2**20))


# ---- atomic saves ----------------------------------------------------------------------

def _temps(d):
    return [p for p in os.listdir(d) if p.endswith(".fastnet-tmp")]


def test_failed_save_removes_its_temp_and_keeps_the_old_file(tmp_path, monkeypatch):
    path = str(tmp_path / "m.keras")
    model = _mlp()
    model.save(path)
    old = _read(path)

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(zipfile.ZipFile, "writestr", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        model.save(path)
    assert _read(path) == old and _temps(tmp_path) == []


KILLED_SAVE = r"""
import os, signal, sys
sys.path.insert(0, {root!r})
import fastnet
from fastnet import layers
from fastnet.saving import weights_io
m = fastnet.Sequential([layers.Input((4,)), layers.Dense(3)])
real = weights_io.save_legacy_weights
def die(group, model):
    real(group, model)
    os.kill(os.getpid(), signal.SIGKILL)  # killed with the temp file half written
weights_io.save_legacy_weights = die
m.save({path!r})
"""


def test_killed_save_leaves_old_file_and_next_save_cleans_the_temp(tmp_path):
    path = str(tmp_path / "m.h5")
    model = _mlp()
    model.save(path)
    old = _read(path)
    # the fastnet this test imports (an installed one in CI, the source tree in development)
    root = os.path.dirname(os.path.dirname(os.path.abspath(fastnet.__file__)))
    proc = subprocess.run([sys.executable, "-c", KILLED_SAVE.format(root=root, path=path)],
                          capture_output=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    assert _read(path) == old  # the old file, whole
    assert len(_temps(tmp_path)) == 1  # and one stray temp file beside it
    fastnet.models.load_model(path)
    model.save(path)
    assert _temps(tmp_path) == []
    fastnet.models.load_model(path)


# ---- safe_mode and hostile files -------------------------------------------------------

def _write_keras(path, config, extra=None):
    good = path + ".src.keras"
    _mlp().save(good)
    with zipfile.ZipFile(good) as zf:
        weights = zf.read("model.weights.h5")
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("config.json", json.dumps(config))
        zf.writestr("model.weights.h5", weights)
        for k, v in (extra or {}).items():
            zf.writestr(k, v)


def _mlp_config(tmp_path):
    p = str(tmp_path / "cfg.keras")
    _mlp().save(p)
    with zipfile.ZipFile(p) as zf:
        return json.loads(zf.read("config.json"))


def test_hostile_files_run_nothing(tmp_path):
    marker = tmp_path / "pwned"
    cmd = f"touch {marker}"
    payload = layers.Lambda._fn_config(
        eval(f"lambda x: (__import__('os').system({cmd!r}), x)[1]"))  # noqa: S307
    cases = {}
    cfg = _mlp_config(tmp_path)
    cfg["config"]["layers"][1] = {"module": "os", "class_name": "system",
                                  "config": {"command": cmd}, "registered_name": "os.system"}
    cases["class_path"] = cfg
    cfg = _mlp_config(tmp_path)
    cfg["config"]["layers"][1]["config"]["activation"] = {
        "module": "os", "class_name": "function", "config": "system",
        "registered_name": "function"}
    cases["function_path"] = cfg
    cfg = _mlp_config(tmp_path)
    cfg["config"]["layers"].insert(1, {"module": "keras.layers", "class_name": "Lambda",
                                       "config": {"name": "evil", "function": payload},
                                       "registered_name": None})
    cases["lambda"] = cfg
    cfg = _mlp_config(tmp_path)
    cfg["module"], cfg["class_name"], cfg["registered_name"] = "subprocess", "Popen", None
    cases["model_class"] = cfg
    for name, config in cases.items():
        path = str(tmp_path / f"{name}.keras")
        _write_keras(path, config)
        with pytest.raises(SavedFileError) as info:
            m = fastnet.models.load_model(path)
            m.predict(np.ones((1, 4), "float32"), verbose=0)
        assert path in str(info.value)
        if name == "lambda":
            assert "safe_mode=False" in str(info.value)
        assert not marker.exists(), name
    # a pickle member beside a good config is never unpickled
    import pickle

    class Evil:
        def __reduce__(self):
            return (os.system, (cmd,))

    path = str(tmp_path / "pickle.keras")
    _write_keras(path, _mlp_config(tmp_path), {"model.pkl": pickle.dumps(Evil()),
                                               "assets/x.pkl": pickle.dumps(Evil())})
    fastnet.models.load_model(path).predict(np.ones((1, 4), "float32"), verbose=0)
    assert not marker.exists()
    # the same Lambda file runs its code with safe_mode=False (when the model is rebuilt
    # and called): the payload was real, safe_mode is what stopped it
    path = str(tmp_path / "lambda.keras")
    model = fastnet.models.load_model(path, safe_mode=False)
    model.predict(np.ones((1, 4), "float32"), verbose=0)
    assert marker.exists()


def test_optimizer_variables_in_keras3_order_and_old_files_still_load():
    wio = fastnet.saving.weights_io
    x = np.ones((2, 4), "float32")
    y = np.ones((2, 3), "float32")

    def trained(opt):
        m = fastnet.Sequential([layers.Input((4,)), layers.Dense(3)])
        m.compile(optimizer=opt, loss="mse")
        m.train_on_batch(x, y)
        return m

    m = trained(fastnet.optimizers.RMSprop(momentum=0.9, centered=True))
    (k, b) = m.trainable_weights
    s = m.optimizer._slots
    # Keras 3: iterations, learning_rate, then one add_optimizer_variables call per kind
    want = [s[id(k)][0], s[id(b)][0], s[id(k)][1], s[id(b)][1], s[id(k)][2], s[id(b)][2]]
    got = wio.optimizer_arrays(m, m.optimizer)
    assert len(got) == 2 + len(want) and got[1] == np.float32(0.001)
    assert all(g is w for g, w in zip(got[2:], want))
    m = trained(fastnet.optimizers.Adam(amsgrad=True))
    (k, b) = m.trainable_weights
    s = m.optimizer._slots
    want = [s[id(k)][0], s[id(k)][1], s[id(b)][0], s[id(b)][1], s[id(k)][2], s[id(b)][2]]
    assert all(g is w for g, w in zip(wio.optimizer_arrays(m, m.optimizer)[2:], want))
    # a file of fastnet < 0.2: iterations then each variable's slots in turn, no lr
    old = [np.asarray(5, np.int64)] + [np.full(a.shape, i, a.dtype) for i, a in
                                       enumerate(a for v in m.trainable_weights
                                                 for a in m.optimizer._slots[id(v)])]
    fresh = trained(fastnet.optimizers.Adam(amsgrad=True))
    wio.set_optimizer_state(fresh, fresh.optimizer, [old[0]] + [a.astype("float32")
                                                               for a in old[1:]])
    assert int(fresh.optimizer.iterations.numpy()) == 5
    (k, b) = fresh.trainable_weights
    assert fresh.optimizer._slots[id(k)][2].max() == 2  # per-variable layout understood
    assert fresh.optimizer._slots[id(b)][0].max() == 3


def test_constraints_get_of_dicts_builtin_and_registered():
    c = fastnet.constraints.get({"module": "keras.constraints", "class_name": "MaxNorm",
                                 "config": {"max_value": 2.0, "axis": 0},
                                 "registered_name": None})
    assert isinstance(c, fastnet.constraints.MaxNorm) and c.get_config()["max_value"] == 2.0

    @fastnet.saving.register_keras_serializable(package="kf_test")
    class Clip(fastnet.constraints.Constraint):
        def __init__(self, limit=1.0):
            self.limit = limit

        def __call__(self, w):
            return np.clip(w, -self.limit, self.limit)

        def get_config(self):
            return {"limit": self.limit}

    try:
        c = fastnet.constraints.get({"module": "x", "class_name": "Clip",
                                     "config": {"limit": 0.5}, "registered_name": "kf_test>Clip"})
        assert isinstance(c, Clip) and c.limit == 0.5
        with pytest.raises(ValueError, match="constraint"):
            fastnet.constraints.get({"class_name": "NoSuchConstraint", "config": {}})
    finally:
        _registry.GLOBAL_CUSTOM_OBJECTS.pop("kf_test>Clip", None)
        _registry.GLOBAL_CUSTOM_NAMES.pop(Clip, None)
