"""The signature sweep of fastnet.ops against keras.ops: every parameter of every Keras 3
function in keras.ops (and its nn, numpy, linalg and image namespaces) is accepted by the
fastnet function of that name, by keyword and at the same position, with Keras's default.

Keras's signatures are checked in (tests/fixtures/keras3_ops_args.json, read from the
installed Keras), so the sweep runs without Keras; with Keras installed the file is
compared with it (regenerate: ``KERAS_BACKEND=torch python tests/test_ops_args_sweep.py``).
The names fastnet lacks altogether are pinned in tests/test_ops_names_gap.py."""

from __future__ import annotations

import inspect
import json
import os
from pathlib import Path

import numpy as np
import pytest
from test_ops_names_gap import STILL_MISSING

import fastnet
from fastnet import ops

FIXTURE = Path(__file__).parent / "fixtures" / "keras3_ops_args.json"
MODULES = ["ops", "ops.nn", "ops.numpy", "ops.linalg", "ops.image"]

# (module, function, argument): why fastnet's default differs from Keras's. Empty: a
# difference is a bug to fix, not to list.
DEFAULT_DIFFERENCES: dict = {}


def _module(root, path):
    for part in path.split("."):
        root = getattr(root, part)
    return root


def _params(fn):
    """[[name, repr(default) or None when required, keyword_only]] of fn's signature."""
    out = []
    for n, p in inspect.signature(fn).parameters.items():
        if p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
            continue
        out.append([n, None if p.default is p.empty else repr(p.default),
                    p.kind == p.KEYWORD_ONLY])
    return out


def keras3_ops_args(keras):
    data = {}
    for path in MODULES:
        mod = _module(keras, path)
        funcs = {}
        for name in sorted(dir(mod)):
            obj = getattr(mod, name)
            if name.startswith("_") or isinstance(obj, type) or not callable(obj):
                continue
            try:
                funcs[name] = _params(obj)
            except (TypeError, ValueError):  # pragma: no cover - a builtin without signature
                continue
        data[path] = funcs
    return data


def _load():
    data = json.loads(FIXTURE.read_text())
    return data["keras"], data["modules"]


KERAS_VERSION, KERAS_ARGS = _load() if FIXTURE.exists() else (None, {})


def _cases():
    for path in MODULES:
        for name in sorted(KERAS_ARGS.get(path, {})):
            if name not in STILL_MISSING.get(path, []):
                yield pytest.param(path, name, id=f"{path}.{name}")


@pytest.mark.parametrize("path,name", list(_cases()))
def test_keras_arguments_are_accepted(path, name):
    fn = getattr(_module(fastnet, path), name, None)
    assert fn is not None, f"fastnet.{path}.{name} is missing (pin it in test_ops_names_gap)"
    ours = {n: (d, kw) for n, d, kw in _params(fn)}
    order = [n for n, _, kw in _params(fn) if not kw]
    problems = []
    position = 0
    for arg, default, keyword_only in KERAS_ARGS[path][name]:
        if arg not in ours:
            problems.append(f"no argument {arg!r}")
            continue
        if not keyword_only:
            if position >= len(order) or order[position] != arg:
                problems.append(f"{arg!r} is not argument {position} (fastnet: {order})")
            position += 1
        if ours[arg][0] != default and (path, name, arg) not in DEFAULT_DIFFERENCES:
            problems.append(f"{arg}={ours[arg][0]} where Keras has {arg}={default}")
    assert not problems, f"fastnet.{path}.{name}: " + "; ".join(problems)


def test_the_checked_in_list_is_keras_own():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    if keras.__version__ != KERAS_VERSION:
        pytest.skip(f"the list was read from Keras {KERAS_VERSION}; installed {keras.__version__}")
    assert keras3_ops_args(keras) == KERAS_ARGS, "regenerate tests/fixtures/keras3_ops_args.json"


# ---- the arguments the sweep found missing, doing what Keras does ------------------------

def test_cumsum_cumprod_prod_sum_dtypes_as_keras():
    b = np.array([True, False, True])
    i8 = np.array([1, 2, 3], np.int8)
    i32 = np.array([[1, 2, 3], [4, 5, 6]], np.int32)
    assert ops.cumsum(b).dtype == "int32" and ops.cumprod(b).dtype == "int32"
    assert ops.cumsum(i8).dtype == "int8" and ops.cumsum(i32).dtype == "int32"
    got = ops.cumsum(i32, axis=1, dtype="float32")
    assert got.dtype == "float32"
    np.testing.assert_array_equal(got.numpy(), np.cumsum(i32, axis=1))
    np.testing.assert_array_equal(ops.cumprod(i32, 0, "float32").numpy(), np.cumprod(i32, 0))
    assert ops.prod(i8).dtype == "int32" and ops.sum(i8).dtype == "int32"
    assert ops.sum(i32).dtype == "int32" and ops.prod(i32, dtype="float32").dtype == "float32"
    assert int(ops.prod(i32)) == 720 and int(ops.sum(b)) == 2
    assert ops.sum(np.array([1, 2], np.uint8)).dtype == "uint32"
    x = fastnet.Variable(np.array([1.0, 2.0, 3.0], np.float32))
    with fastnet.GradientTape() as tape:
        y = ops.sum(ops.cumsum(x, dtype="float32") * np.array([1.0, 10.0, 100.0], np.float32))
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), [111.0, 110.0, 100.0])


def test_linspace_retstep_and_axis_arange_step_none():
    samples, step = ops.linspace(0, 1, 5, retstep=True)
    np.testing.assert_allclose(samples.numpy(), np.linspace(0, 1, 5))
    assert step == 0.25 and samples.dtype == "float32"
    got = ops.linspace(np.array([0.0, 1.0]), np.array([1.0, 3.0]), 3, axis=1)
    np.testing.assert_allclose(got.numpy(), np.linspace([0.0, 1.0], [1.0, 3.0], 3, axis=1))
    assert ops.arange(5, step=None).numpy().tolist() == [0, 1, 2, 3, 4]


def test_renamed_arguments_by_keyword():
    a = np.array([[4.0, 2.0], [2.0, 3.0]], np.float32)
    np.testing.assert_allclose(ops.linalg.inv(x=a).numpy(), np.linalg.inv(a), rtol=1e-5)
    np.testing.assert_allclose(ops.linalg.det(x=a).numpy(), np.linalg.det(a), rtol=1e-5)
    np.testing.assert_allclose(ops.linalg.cholesky(x=a).numpy(), np.linalg.cholesky(a),
                               rtol=1e-5)
    assert ops.gcd(x1=np.int32(12), x2=np.int32(18)).numpy() == 6
    assert ops.lcm(x1=np.int32(4), x2=np.int32(6)).numpy() == 12
    assert ops.stack(x=[np.zeros(2), np.ones(2)], axis=1).shape == (2, 2)
    v = fastnet.Variable(np.ones(2, np.float32))
    with fastnet.GradientTape() as tape:
        y = ops.sum(v * ops.stop_gradient(variable=v * 3.0))
    np.testing.assert_allclose(tape.gradient(y, v).numpy(), [3.0, 3.0])
    with pytest.raises(ValueError, match="ragged=True"):
        ops.convert_to_tensor([1, 2], ragged=True)


if __name__ == "__main__":  # regenerate the checked-in list from the installed Keras
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    FIXTURE.write_text(json.dumps({"keras": keras.__version__, "modules": keras3_ops_args(keras)},
                                  indent=1, sort_keys=True) + "\n")
    print(f"wrote {FIXTURE}")
