"""Optional: fastnet's files loaded by real Keras 3, and fresh Keras 3 files loaded by
fastnet (skipped when Keras with the torch backend is not installed). Keras runs in a
subprocess, so its import and registry do not meet fastnet's test process."""

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

import fastnet

HERE = os.path.dirname(os.path.abspath(__file__))
TOOL = os.path.join(HERE, os.pardir, "tools", "make_keras_fixtures.py")
pytestmark = pytest.mark.skipif(importlib.util.find_spec("keras") is None or
                                importlib.util.find_spec("torch") is None,
                                reason="needs keras 3 with the torch backend")

_spec = importlib.util.spec_from_file_location("make_keras_fixtures", TOOL)
mkf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mkf)
FAMILIES = mkf.families(fastnet, False)
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

KERAS_CHECK = r"""
import importlib.util, os, sys
os.environ["KERAS_BACKEND"] = "torch"
import numpy as np, keras
spec = importlib.util.spec_from_file_location("mkf", {tool!r})
mkf = importlib.util.module_from_spec(spec); spec.loader.exec_module(mkf)
mkf.families(keras, False)  # registers fixtures>Scale in Keras
d = {d!r}
for name in {names!r}:
    with np.load(os.path.join(d, name + ".npz")) as f:
        z = dict(f)
    xs = [z[k] for k in sorted(z) if k.startswith("x_")]
    xin = xs[0] if len(xs) == 1 else xs
    for kind in ("keras", "weights"):
        if kind == "keras":
            m = keras.saving.load_model(os.path.join(d, name + ".keras"))
        else:
            m = mkf.families(keras, False)[name][0]()
            m.load_weights(os.path.join(d, name + ".weights.h5"))
        p = m.predict(xin, verbose=0)
        p = p if isinstance(p, list) else [p]
        for i, a in enumerate(p):
            np.testing.assert_allclose(a, z["out_%d" % i], rtol=1e-5, atol=1e-5,
                                       err_msg=name + " " + kind)
        ys = [z[k] for k in sorted(z) if k.startswith("y_")]
        if ys and kind == "keras":
            assert int(m.optimizer.iterations.numpy()) == 3, name
            m.train_on_batch(xin, ys[0] if len(ys) == 1 else ys)
            got = [np.asarray(w.numpy()) for lay in m.layers for w in lay.weights]
            want = [z["next_%d" % i] for i in range(len(got))]
            for a, b in zip(got, want):
                np.testing.assert_allclose(a, b, rtol=1e-5, atol=2e-6, err_msg=name)
    print(name, "ok")
"""


def _keras(script):
    env = {**os.environ, "KERAS_BACKEND": "torch"}
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, timeout=600)


def test_fastnet_keras_files_load_in_keras3(tmp_path):
    d = str(tmp_path)
    for name in NAMES:
        build, xs, ys = FAMILIES[name]
        rng = np.random.default_rng(len(name))
        fastnet.utils.set_random_seed(len(name))
        model = build()
        x = [g(rng) for g in xs]
        xin = x[0] if len(x) == 1 else x
        arrays = {f"x_{i}": v for i, v in enumerate(x)}
        if ys is not None:
            y = [g(rng) for g in ys]
            for _ in range(3):
                model.train_on_batch(xin, y[0] if len(y) == 1 else y)
            arrays.update({f"y_{i}": v for i, v in enumerate(y)})
        model.save(os.path.join(d, f"{name}.keras"))
        model.save_weights(os.path.join(d, f"{name}.weights.h5"))
        pred = model.predict(xin, verbose=0)
        pred = pred if isinstance(pred, list) else [pred]
        arrays.update({f"out_{i}": v for i, v in enumerate(pred)})
        if ys is not None:
            model.train_on_batch(xin, y[0] if len(y) == 1 else y)
            arrays.update({f"next_{i}": w.numpy() for i, w in
                           enumerate(w for lay in model.layers for w in lay.weights)})
        np.savez(os.path.join(d, f"{name}.npz"), **arrays)
    proc = _keras(KERAS_CHECK.format(tool=TOOL, d=d, names=NAMES))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.count(" ok") == len(NAMES)


def test_fresh_keras3_files_load_in_fastnet(tmp_path):
    names = ["rnn", "ticket", "shared_nested"]
    proc = subprocess.run([sys.executable, TOOL, "--out", str(tmp_path), "--only", *names],
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "KERAS_BACKEND": "torch"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    for name in names:
        with np.load(tmp_path / f"k3_{name}.npz") as f:
            z = dict(f)
        xs = [z[k] for k in sorted(z) if k.startswith("x_")]
        for ext in (".keras", ".h5"):
            model = fastnet.models.load_model(str(tmp_path / f"k3_{name}{ext}"))
            pred = model.predict(xs[0] if len(xs) == 1 else xs, verbose=0)
            pred = pred if isinstance(pred, list) else [pred]
            for i, p in enumerate(pred):
                np.testing.assert_allclose(p, z[f"out_{i}"], rtol=1e-5, atol=1e-5)


TF_KERAS_CHECK = r"""
import importlib.util, os
os.environ["TF_USE_LEGACY_KERAS"] = "1"
import numpy as np, tf_keras as keras
spec = importlib.util.spec_from_file_location("mkf", {tool!r})
mkf = importlib.util.module_from_spec(spec); spec.loader.exec_module(mkf)
mkf.families(keras, True)
d = {d!r}
for name in {names!r}:
    with np.load(os.path.join(d, name + ".npz")) as f:
        z = dict(f)
    xs = [z[k] for k in sorted(z) if k.startswith("x_")]
    m = keras.models.load_model(os.path.join(d, name + ".h5"))
    p = m.predict(xs[0] if len(xs) == 1 else xs, verbose=0)
    p = p if isinstance(p, list) else [p]
    for i, a in enumerate(p):
        np.testing.assert_allclose(a, z["out_%d" % i], rtol=1e-5, atol=1e-5, err_msg=name)
    print(name, "ok")
"""


@pytest.mark.skipif(not os.environ.get("FASTNET_TF_KERAS_PYTHON"),
                    reason="set FASTNET_TF_KERAS_PYTHON to a Python with tensorflow and "
                           "tf_keras (never installed beside fastnet's own environment)")
def test_fastnet_h5_loads_in_tf_keras2(tmp_path):
    d = str(tmp_path)
    for name in NAMES:
        build, xs, ys = FAMILIES[name]
        rng = np.random.default_rng(len(name))
        model = build()
        x = [g(rng) for g in xs]
        xin = x[0] if len(x) == 1 else x
        if ys is not None:
            y = [g(rng) for g in ys]
            model.train_on_batch(xin, y[0] if len(y) == 1 else y)
        model.save(os.path.join(d, f"{name}.h5"))
        pred = model.predict(xin, verbose=0)
        pred = pred if isinstance(pred, list) else [pred]
        np.savez(os.path.join(d, f"{name}.npz"),
                 **{f"x_{i}": v for i, v in enumerate(x)},
                 **{f"out_{i}": v for i, v in enumerate(pred)})
    proc = subprocess.run([os.environ["FASTNET_TF_KERAS_PYTHON"], "-c",
                           TF_KERAS_CHECK.format(tool=TOOL, d=d, names=NAMES)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.count(" ok") == len(NAMES)
