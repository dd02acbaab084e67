"""Fuzz of the API users touch (issue 18 item 5): every layer of the harness table
(tests/test_layer_harness.py) built from random valid and invalid configurations and fed
random valid and invalid inputs, eagerly and symbolically; fit/evaluate/predict with
malformed data. Every outcome is the right answer or a Python exception of an expected
type whose message names the layer or the argument -- never a crash, a hang, a
MemoryError from a size that could have been refused, or a model left half-updated.

Bounded in CI by the 'ci' profile (tests/fuzz/conftest.py); HYPOTHESIS_PROFILE=long for a
local hunt.
"""

import re
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from layer_harness import flat, numpy_outputs, symbolic_inputs
from test_layer_harness import ROWS

import fastnet
from fastnet import layers

# What a bad argument or a bad input may raise.
CLEAN = (ValueError, TypeError, NotImplementedError, IndexError)

# Arguments that are sizes or counts: the fuzz gives them degenerate and absurd values.
SIZE_ARGS = ("units", "filters", "kernel_size", "strides", "pool_size", "dilation_rate", "n",
             "num_heads", "key_dim", "value_dim", "output_dim", "input_dim", "num_tokens",
             "size", "padding", "cropping", "depth_multiplier", "height", "width", "rate",
             "target_shape", "dims", "axis", "axes", "max_value", "momentum", "epsilon",
             "groups", "output_padding")
ABSURD = [0, 1, -1, 2, 3, 2**40, -(2**40), 2.5, float("nan"), None, "x", True, (), (0,),
          (2**20, 2**20), (1, 1, 1, 1)]

ROW_BY_ID = {r.name: r for r in ROWS}
ROW_IDS = sorted(ROW_BY_ID)


def names_the_layer(e, layer_cls, layer=None, arg=None):
    """The message names the layer (class or instance name) or the argument."""
    msg = str(e)
    words = [layer_cls.__name__, re.sub(r"(?<!^)(?=[A-Z])", "_", layer_cls.__name__).lower()]
    if layer is not None:
        words.append(layer.name)
    if arg is not None:
        words.append(arg)
    # or a nested layer named itself (Keras's calling context)
    words.append("Exception encountered when calling")
    return any(w.lower() in msg.lower() for w in words)


def _check_clean(e, row, layer, arg, what):
    assert not isinstance(e, MemoryError), (
        f"{row.name} {what}: MemoryError for a size that could have been refused: {e}")
    assert isinstance(e, CLEAN), f"{row.name} {what}: {type(e).__name__}: {e}"
    assert names_the_layer(e, row.cls, layer, arg), (
        f"{row.name} {what}: the {type(e).__name__} names neither the layer nor the "
        f"argument: {e}")


def _inputs(row, draw):
    """The row's inputs, maybe with a mutated batch size, rank, dtype or NaN/inf values."""
    x = row.inputs(seed=draw(st.integers(0, 3)))
    xs = list(x) if row.multi_input else [x]
    kind = draw(st.sampled_from(["valid", "batch0", "batch1", "odd", "rank-", "rank+",
                                 "dtype", "nonfinite"]))
    i = draw(st.integers(0, len(xs) - 1))
    a = np.asarray(xs[i])
    if kind == "batch0":
        xs = [np.asarray(b)[:0] for b in xs]
    elif kind == "batch1":
        xs = [np.asarray(b)[:1] for b in xs]
    elif kind == "odd" and a.ndim >= 2:
        axis = draw(st.integers(1, a.ndim - 1))
        size = draw(st.sampled_from([0, 1, 3, 7]))
        reps = [1] * a.ndim
        reps[axis] = 8
        xs[i] = np.take(np.tile(a, reps), range(size), axis=axis)
    elif kind == "rank-" and a.ndim >= 2:
        xs[i] = a[..., 0]
    elif kind == "rank+":
        xs[i] = a[..., None]
    elif kind == "dtype":
        dtype = draw(st.sampled_from(["float64", "int32", "bool", "float16", "U1"]))
        try:
            xs[i] = a.astype(dtype)
        except ValueError:  # strings that are not numbers: keep them
            pass
    elif kind == "nonfinite" and a.dtype.kind == "f":
        b = np.array(a, copy=True)
        flat_b = b.reshape(-1)
        if flat_b.size:
            flat_b[draw(st.integers(0, flat_b.size - 1))] = draw(
                st.sampled_from([np.nan, np.inf, -np.inf]))
        xs[i] = b
    return (xs if row.multi_input else xs[0]), kind


@st.composite
def cases(draw):
    row = ROW_BY_ID[draw(st.sampled_from(ROW_IDS))]
    kwargs = dict(row.kwargs)
    arg = None
    if draw(st.booleans()):
        candidates = sorted(set(row.kwargs) | {a for a in row.args if a in SIZE_ARGS})
        candidates = [a for a in candidates if a in SIZE_ARGS]
        if candidates:
            arg = draw(st.sampled_from(candidates))
            kwargs[arg] = draw(st.sampled_from(ABSURD))
    x, kind = _inputs(row, draw)
    return row.name, kwargs, arg, x, kind


def _run(row, kwargs, arg, x, kind):
    """One case: construct, call eagerly, call symbolically. Returns outputs or None."""
    try:
        kw = dict(kwargs)
        if row.sublayer is not None:
            kw["layer"] = row.sublayer()
        layer = row.cls(**kw)
    except Exception as e:  # noqa: BLE001 - the fuzz classifies every outcome
        _check_clean(e, row, None, arg, f"{row.cls.__name__}(**{kwargs})")
        return
    eager = symbolic = None
    try:
        with warnings.catch_warnings():
            if kind == "nonfinite":  # numpy may warn on NaN/inf arithmetic; not an error
                warnings.simplefilter("ignore", RuntimeWarning)
            eager = numpy_outputs(row.call(layer, x, training=False))
    except Exception as e:  # noqa: BLE001
        _check_clean(e, row, layer, arg, f"eager call on {kind} input, kwargs={kwargs}")
    if row.symbolic is True:
        sym_layer = row.cls(**kw) if row.sublayer is None else None
        if sym_layer is not None:
            try:
                sym = row.call(sym_layer, symbolic_inputs(row, x))
                symbolic = [tuple(t.shape) for t in flat(sym)]
            except Exception as e:  # noqa: BLE001
                _check_clean(e, row, sym_layer, arg,
                             f"symbolic call on {kind} input, kwargs={kwargs}")
    if eager is not None and symbolic is not None:
        got = [tuple(o.shape) for o in eager]
        assert len(got) == len(symbolic), f"{row.name}: {len(got)} eager vs {len(symbolic)} " \
                                          "symbolic outputs"
        for g, s in zip(got, symbolic):
            assert len(g) == len(s) and all(b is None or a == b for a, b in zip(g, s)), (
                f"{row.name} kwargs={kwargs} {kind} input: eager output shape {g} does not "
                f"match the symbolic {s}")


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(cases())
def test_layers_on_random_configs_and_inputs(case):
    row_id, kwargs, arg, x, kind = case
    fastnet.backend.clear_session()
    _run(ROW_BY_ID[row_id], kwargs, arg, x, kind)


@pytest.mark.parametrize("row_id", ROW_IDS)
def test_every_row_refuses_absurd_sizes(row_id):
    """units=2**40 and friends: a clean error before any allocation, never a MemoryError."""
    row = ROW_BY_ID[row_id]
    for arg in [a for a in row.kwargs if a in SIZE_ARGS]:
        value = row.kwargs[arg]
        if isinstance(value, int) and not isinstance(value, bool):
            for absurd in (2**40, 0, -1):
                kwargs = {**row.kwargs, arg: absurd}
                _run(row, kwargs, arg, row.inputs(), "valid")


@pytest.mark.parametrize("cls,kw", [
    (layers.Conv2DTranspose, dict(filters=2, kernel_size=3, dilation_rate=(2**20, 2**20))),
    (layers.Conv1DTranspose, dict(filters=2, kernel_size=3, dilation_rate=2**30)),
    (layers.Conv2DTranspose, dict(filters=2, kernel_size=3, strides=2**20)),
])
def test_a_transposed_conv_larger_than_memory_is_refused_by_name(cls, kw):
    """The replayed hypothesis case: the output, not a weight, is what cannot fit."""
    layer = cls(**kw)
    x = np.ones((1, 4, 4, 1) if cls is layers.Conv2DTranspose else (1, 4, 1), "float32")
    with pytest.raises(ValueError, match=cls.__name__):
        layer(x)


# ---- fit / evaluate / predict with malformed data -------------------------------------------

def _model(seed=0):
    fastnet.utils.set_random_seed(seed)
    model = fastnet.Sequential([fastnet.Input((3,)), layers.Dense(4, activation="relu"),
                                layers.Dense(2)])
    model.compile(optimizer=fastnet.optimizers.SGD(0.1), loss="mse")
    return model


def _data(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 3)).astype("float32"), rng.standard_normal((n, 2)).astype(
        "float32")


def _weights(model):
    return [w.copy() for w in model.get_weights()]


BAD_DATA = {
    "mismatched lengths": lambda x, y: (x, y[:-1]),
    "x a list of two arrays": lambda x, y: ([x, x], y),
    "x a dict": lambda x, y: ({"nope": x}, y),
    "wrong feature size": lambda x, y: (x[:, :2], y),
    "wrong target size": lambda x, y: (x, y[:, :1].repeat(3, axis=1)),
    "x of rank 3": lambda x, y: (x[:, :, None].repeat(2, axis=2), y),
    "y a string array": lambda x, y: (x, np.array(["a"] * len(y))),
    "x empty": lambda x, y: (x[:0], y[:0]),
    "x None": lambda x, y: (None, y),
    "y nested tuple": lambda x, y: (x, ((y,),)),
    "x ragged list": lambda x, y: ([[1.0, 2.0, 3.0], [1.0]] * (len(x) // 2), y),
}


BAD_WEIGHTS = {
    "sample_weight too short": dict(sample_weight=np.ones(7, "float32")),
    "sample_weight a string array": dict(sample_weight=np.array(["a"] * 8)),
    "sample_weight of rank 3": dict(sample_weight=np.ones((8, 2, 2), "float32")),
    "batch_size 0": dict(batch_size=0),
    "batch_size negative": dict(batch_size=-3),
    "epochs a string": dict(epochs="2"),
}


@pytest.mark.parametrize("case", sorted(BAD_WEIGHTS))
def test_malformed_fit_arguments_raise_cleanly_and_leave_the_weights(case):
    model = _model()
    x, y = _data(8)
    before = _weights(model)
    kwargs = {"batch_size": 4, "epochs": 1, **BAD_WEIGHTS[case]}
    with pytest.raises(CLEAN) as e:
        model.fit(x, y, verbose=0, **kwargs)
    assert not isinstance(e.value, MemoryError)
    for a, b in zip(_weights(model), before):
        np.testing.assert_array_equal(a, b, err_msg=f"fit with {case} failed but changed the "
                                                    "weights")


@pytest.mark.parametrize("case", sorted(BAD_DATA))
@pytest.mark.parametrize("method", ["fit", "evaluate", "predict"])
def test_malformed_data_raises_cleanly_and_leaves_the_weights(case, method):
    model = _model()
    x, y = BAD_DATA[case](*_data(8))
    before = _weights(model)
    try:
        if method == "fit":
            model.fit(x, y, batch_size=4, epochs=1, verbose=0)
        elif method == "evaluate":
            model.evaluate(x, y, batch_size=4, verbose=0)
        else:
            out = model.predict(x, batch_size=4, verbose=0)
            if case in ("mismatched lengths", "wrong target size", "y a string array",
                        "y nested tuple"):  # predict never reads y
                assert np.asarray(out).shape == (len(x), 2)
                return
    except Exception as e:  # noqa: BLE001
        assert isinstance(e, CLEAN) and not isinstance(e, MemoryError), (
            f"{method} with {case}: {type(e).__name__}: {e}")
        assert len(str(e)) > 20, f"{method} with {case}: an uninformative message: {e!r}"
        for a, b in zip(_weights(model), before):
            np.testing.assert_array_equal(a, b, err_msg=f"{method} with {case} failed but "
                                                        "changed the weights")
        return
    raise AssertionError(f"{method} with {case} neither raised nor is a valid input")


def _stream(batches, fail_at, failure):
    """A generator of (x, y) batches that fails at batch `fail_at` with `failure`."""
    for i, batch in enumerate(batches):
        if i == fail_at:
            if isinstance(failure, BaseException):
                raise failure
            yield failure(*batch)
        else:
            yield batch


MIDWAY = {
    "raises RuntimeError": RuntimeError("user generator failed"),
    "bad feature size": lambda x, y: (x[:, :2], y),
    "bad target size": lambda x, y: (x, y[:, :1]),
    "mismatched batch": lambda x, y: (x, y[:-1]),
    "a bare array": lambda x, y: x,
    "a 4-tuple": lambda x, y: (x, y, None, None),
}


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(MIDWAY)), st.integers(0, 3),
       st.sampled_from(["fit", "evaluate", "predict"]))
def test_generator_failing_midway(kind, fail_at, method):
    """A generator that raises or yields a bad batch at step k: the user's exception (or a
    clean one) propagates and the weights are those after the k good steps."""
    x, y = _data(16)
    batches = [(x[i:i + 4], y[i:i + 4]) for i in range(0, 16, 4)]
    failure = MIDWAY[kind]
    assume(not (method == "predict" and kind in ("bad target size", "mismatched batch")))

    reference = _model()
    if method == "fit" and fail_at:
        reference.fit(iter(batches[:fail_at]), epochs=1, steps_per_epoch=fail_at, verbose=0)
    model = _model()
    gen = _stream(batches, fail_at, failure)
    try:
        if method == "fit":
            model.fit(gen, epochs=1, steps_per_epoch=4, verbose=0)
        elif method == "evaluate":
            model.evaluate(gen, steps=4, verbose=0)
        else:
            model.predict(gen, steps=4, verbose=0)
    except Exception as e:  # noqa: BLE001
        if isinstance(failure, BaseException):
            assert e is failure or e.__cause__ is failure or e.__context__ is failure, (
                f"the generator's own exception did not propagate: {type(e).__name__}: {e}")
        else:
            assert isinstance(e, CLEAN), f"{method}, batch {fail_at} {kind}: " \
                                         f"{type(e).__name__}: {e}"
    else:
        if kind == "a 4-tuple" and method != "fit":
            return
        if method == "predict" and kind in ("bad target size", "a bare array"):
            return  # predict ignores targets
        raise AssertionError(f"{method} with a batch that {kind} at step {fail_at} did not "
                             "raise")
    for a, b in zip(_weights(model), _weights(reference)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7, err_msg=(
            f"{method}: after a failure at step {fail_at} ({kind}) the weights are not those "
            f"of the {fail_at} good steps (a half-applied step)"))
