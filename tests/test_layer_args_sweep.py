"""The constructor sweep (issue 12): every constructor argument Keras 3 has, on every public
layer class fastnet shares with Keras, is accepted by name (a Keras program passing it gets
no TypeError) and is either implemented or refused with NotImplementedError naming the
layer and the argument — never silently ignored.

The classes are iterated automatically (fastnet.layers' exports, so a new layer is covered
the day it is added). Keras 3's arguments and defaults are checked in
(tests/fixtures/keras3_layer_args.json, read from the installed Keras's signatures), so the
sweep runs without Keras; with Keras installed the file is compared with it (regenerate:
``KERAS_BACKEND=torch python tests/test_layer_args_sweep.py``).

"Implemented or refused" is proved by the layer harness (tests/test_layer_harness.py):
each Keras argument must be a row argument there — a non-default value that changes the
layer's outputs, weights, losses or training step, or ``Raises(value)`` naming the
argument — or be exempted there with a written reason. Arguments of the recurrent family
(rnn.py / rnn_cell.py, another engineer's work) that are not covered yet are listed in
PENDING below with their status, so the sweep shows them without failing."""

from __future__ import annotations

import ast
import inspect
import json
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from layer_harness import public_layer_classes
from test_layer_harness import ROWS

import fastnet
from fastnet import layers

FIXTURE = Path(__file__).parent / "fixtures" / "keras3_layer_args.json"

# Keras 3's Layer base: the keyword arguments every layer takes (keras/src/layers/layer.py)
KERAS_BASE_ARGS = {"activity_regularizer": None, "trainable": True, "dtype": None,
                   "autocast": True, "name": None, "input_dim": None, "input_shape": None}

# (layer, argument) -> status: Keras arguments of the recurrent family that the harness does
# not prove yet. The RNN family (fastnet/layers/rnn.py, rnn_cell.py) is being finished on
# another branch; these entries are to be removed as that work lands. "TypeError" means a
# Keras program passing the argument fails today.
PENDING: dict = {}  # the RNN family's entries closed with the rnn2 merge

# Layers with no harness row (tests/test_layer_harness.py: EXCLUDED), whose arguments are
# proved here instead: {layer: {argument: how}}.
NO_ROW = {
    "InputLayer": {
        "shape": "test_input_layer_arguments", "batch_size": "test_input_layer_arguments",
        "dtype": "test_input_layer_arguments", "sparse": "test_input_layer_arguments",
        "ragged": "test_input_layer_arguments", "batch_shape": "test_input_layer_arguments",
        "input_tensor": "test_input_layer_arguments", "optional": "test_input_layer_arguments",
        "name": "test_input_layer_arguments"},
}


def keras3_layer_args(keras):
    """{layer name: {argument: repr(default) or None when required}} from Keras's
    signatures, for every public fastnet layer class Keras also has (and Input)."""
    out = {}
    for _, name in sorted(public_layer_classes().items(), key=lambda kv: kv[1]):
        kcls = getattr(keras.layers, name, None)
        if isinstance(kcls, type):
            out[name] = _signature_args(kcls.__init__)
    out["Input"] = _signature_args(keras.Input)
    return out


def _signature_args(fn):
    args = {}
    for n, p in inspect.signature(fn).parameters.items():
        if n == "self" or p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
            continue
        args[n] = None if p.default is p.empty else repr(p.default)
    return args


def _load():
    data = json.loads(FIXTURE.read_text())
    return data["keras"], data["layers"]


KERAS_VERSION, KERAS_ARGS = _load() if FIXTURE.exists() else (None, {})
CLASSES = {name: cls for cls, name in public_layer_classes().items()}
_ROW_OF = {}
for _r in ROWS:
    _ROW_OF.setdefault(_r.cls, _r)


def _cases():
    for name in sorted(KERAS_ARGS):
        # the bases: Layer's arguments are KERAS_BASE_ARGS; Wrapper's `layer` is proved by
        # every wrapper's row (Bidirectional, TimeDistributed, SpectralNormalization, ...)
        if name in CLASSES and name not in ("Layer", "Wrapper"):
            yield pytest.param(name, id=name)


def test_the_checked_in_list_covers_every_shared_class():
    # a fastnet layer Keras has but the list lacks means the list is stale: regenerate it
    missing = sorted(n for n in CLASSES if n not in KERAS_ARGS and n not in _NOT_IN_KERAS)
    assert not missing, f"not in {FIXTURE.name} (regenerate it with Keras installed): {missing}"


# fastnet layers Keras 3 does not have (by name), so nothing to compare
_NOT_IN_KERAS = {"Layer"}


def test_the_checked_in_list_is_keras_own():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    if keras.__version__ != KERAS_VERSION:
        pytest.skip(f"the list was read from Keras {KERAS_VERSION}; installed "
                    f"{keras.__version__}")
    live = keras3_layer_args(keras)
    assert live == KERAS_ARGS, "regenerate tests/fixtures/keras3_layer_args.json"
    not_in_keras = sorted(n for n in CLASSES if n not in live)
    assert set(not_in_keras) <= _NOT_IN_KERAS | {"Layer"}, not_in_keras


def _default(text):
    return ast.literal_eval(text)


def _required(name):
    """The constructor arguments the class's first harness row gives."""
    if name == "InputLayer":
        return {"shape": (3,)}
    row = _ROW_OF.get(CLASSES[name])
    if row is None:
        raise AssertionError(f"{name}: no harness row to take the required arguments from")
    return row.kwargs


def _construct(name, extra):
    row = _ROW_OF.get(CLASSES[name])
    if row is not None:
        return row.make(**extra)
    return CLASSES[name](**{**_required(name), **extra})


@pytest.mark.parametrize("name", list(_cases()))
def test_every_keras_argument_name_is_accepted(name):
    """Passing any Keras argument at Keras's default value constructs the layer."""
    failures = []
    # Keras's InputLayer does not take the base Layer's keyword arguments (it passes only
    # `name` on): its own list is complete
    base = {} if name == "InputLayer" else KERAS_BASE_ARGS
    for arg, default in {**KERAS_ARGS[name], **base}.items():
        if (name, arg) in PENDING and PENDING[(name, arg)].startswith("TypeError"):
            continue
        if (default is None and arg in KERAS_ARGS[name]) or arg in _required(name):
            continue  # required (the row gives it), or the row sets it already
        value = _default(default) if arg in KERAS_ARGS[name] else default
        if arg == "input_shape":
            value = (3,)
        elif arg == "input_dim":
            value = 3
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _construct(name, {arg: value})
        except (TypeError, ValueError) as e:  # Keras refuses unknown names with ValueError
            if isinstance(e, TypeError) or "unrecognized keyword" in str(e):
                failures.append(f"{arg}={value!r}: {e}")
    assert not failures, f"{name} refuses Keras arguments by name: {failures}"


@pytest.mark.parametrize("name", list(_cases()))
def test_every_keras_argument_is_implemented_or_refused(name):
    """Each Keras argument is a harness row argument (behaviour changes, or it raises
    naming itself) or exempted there with a reason; NO_ROW layers are proved here."""
    cls = CLASSES[name]
    if name in NO_ROW:
        missing = [a for a in KERAS_ARGS[name] if a not in NO_ROW[name]]
        assert not missing, f"{name}: Keras arguments with no test: {missing}"
        return
    listed = set()
    for r in ROWS:
        if r.cls is cls:
            listed.update(r.args, r.args_exempt)
    missing = [a for a in KERAS_ARGS[name]
               if a not in listed and a not in KERAS_BASE_ARGS and (name, a) not in PENDING]
    assert not missing, (f"{name}: Keras arguments neither tested nor exempted in "
                         f"tests/test_layer_harness.py: {missing}")


def test_pending_entries_are_still_gaps():
    # an entry whose gap is closed (the harness lists it now) must leave PENDING
    listed = {}
    for r in ROWS:
        listed.setdefault(r.cls.__name__, set()).update(r.args, r.args_exempt)
    closed = sorted(k for k in PENDING if k[1] in listed.get(k[0], set()))
    assert not closed, f"remove from PENDING (now covered by the harness): {closed}"
    for (name, arg), status in PENDING.items():
        assert arg in KERAS_ARGS[name], (name, arg)
        if status.startswith("TypeError"):
            with pytest.raises((TypeError, ValueError), match=arg):
                _construct(name, {arg: None})


def test_keras_base_layer_arguments_work_on_every_layer():
    """name, dtype, trainable, input_shape/input_dim (the Keras 3 base Layer kwargs) do what
    they say on a representative layer of each module; autocast and activity_regularizer
    are proved by the layer harness rows and tests/test_keras_contracts.py."""
    for name in ("Dense", "Conv2D", "BatchNormalization", "Embedding", "Flatten"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lay = _construct(name, {"name": "probe", "trainable": False, "dtype": "float64"})
        assert lay.name == "probe" and lay.trainable is False and lay.dtype == "float64"
    model = fastnet.Sequential([layers.Dense(2, input_shape=(3,))])
    assert model.layers[0].kernel.shape == (3, 2)
    model = fastnet.Sequential([layers.Dense(2, input_dim=4)])
    assert model.layers[0].kernel.shape == (4, 2)
    with pytest.raises(ValueError, match="not_a_keras_argument"):  # Keras's error type
        layers.Dense(2, not_a_keras_argument=1)


def test_input_layer_arguments():
    """InputLayer / Input: Keras's shape, batch_size, batch_shape, dtype, name work;
    sparse, ragged, input_tensor (tensor) and optional raise naming themselves."""
    t = fastnet.Input(shape=(3,), batch_size=4, dtype="float64", name="ids")
    assert tuple(t.shape) == (4, 3) and t.dtype == "float64"
    assert tuple(fastnet.Input(batch_shape=(2, 5)).shape) == (2, 5)
    lay = layers.InputLayer(shape=(3,), batch_size=4, name="inp")
    assert lay.batch_shape == (4, 3) and lay.name == "inp"
    assert tuple(layers.InputLayer(batch_shape=(None, 2)).batch_shape) == (None, 2)
    for arg, value in (("sparse", True), ("ragged", True), ("input_tensor", np.zeros((1, 3))),
                       ("optional", True)):
        with pytest.raises(NotImplementedError, match=arg):
            layers.InputLayer(shape=(3,), **{arg: value})
    for arg, value in (("sparse", True), ("ragged", True), ("tensor", np.zeros((1, 3))),
                       ("optional", True)):
        with pytest.raises(NotImplementedError, match=arg):
            fastnet.Input(shape=(3,), **{arg: value})
    # every keras.Input argument name is accepted at its default
    for arg, default in KERAS_ARGS["Input"].items():
        fastnet.Input(**{"shape": (3,), arg: _default(default) if arg != "shape" else (3,)})


if __name__ == "__main__":  # regenerate the checked-in list from the installed Keras
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    FIXTURE.write_text(json.dumps({"keras": keras.__version__, "layers": keras3_layer_args(keras)},
                                  indent=1, sort_keys=True) + "\n")
    print(f"wrote {FIXTURE}")
