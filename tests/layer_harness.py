"""The layer test harness (Keras's ``run_layer_test`` idea, written here).

A ``Row`` describes one configuration of one built-in layer; the check functions
below run the contract every layer owes a Keras user on it:

- ``check_build``: ``layer.build(shape)`` creates the weights the row declares
  (trainable / non-trainable counts, and their shapes when given).
- ``check_symbolic``: ``Input -> layer`` gives KerasTensors whose shape (batch
  None) and dtype equal the eager output's; the functional model replays the layer.
- ``check_config``: ``get_config`` is JSON-serialisable and ``from_config(config)``
  gives the same config, and the same outputs once given the same weights.
- ``check_train_step``: one GradientTape + SGD step lowers a mean-squared loss
  (layers without trainable weights: the step leaves the weights alone).
- ``check_input_gradient``: the tape's input gradient against central finite
  differences along random directions (float32 layers: loose tolerance).
- ``check_masking``: "propagate" rows return the input mask from ``compute_mask``;
  "consume" rows give outputs that do not depend on masked-out values.
- ``check_argument``: a constructor argument set to a non-default value either
  changes the layer's behaviour (outputs in inference and training mode, weight
  shapes, ``losses``, or the weights after one optimizer step, with the same seed)
  or raises ValueError/NotImplementedError/TypeError naming the argument.

The table of rows lives in ``tests/test_layer_harness.py``; the fuzz in
``tests/fuzz/test_fuzz_layer_api.py`` reads the same table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

import fastnet
from fastnet import layers, ops


@dataclass(frozen=True)
class Raises:
    """``args={"name": Raises(value)}``: constructing, building or calling the layer with
    ``name=value`` must raise one of ``exc`` with a message naming the argument."""

    value: Any
    exc: tuple = (ValueError, NotImplementedError, TypeError)
    match: str | None = None  # regex the message must contain; default: the argument's name


@dataclass(repr=False)
class Row:
    cls: type
    kwargs: dict = field(default_factory=dict)
    input_shape: Any = (2, 3)            # a shape, or a list of shapes (multi-input layers)
    input_dtype: str = "float32"
    make_input: Callable | None = None   # rng, shape -> np.ndarray (e.g. token ids)
    trainable: int = 0                   # number of trainable weights after build
    non_trainable: int = 0
    weight_shapes: list | None = None    # optional: the shapes of layer.weights, in order
    masking: str | None = None           # None | "propagate" | "consume"
    # str = the written reason the check does not apply; True = run it
    symbolic: Any = True
    gradient: Any = True
    train: Any = True
    config: Any = True
    fd_eps: float = 1e-2
    fd_tol: float = 2e-2
    # constructor arguments: {name: non-default value | Raises(value)}
    args: dict = field(default_factory=dict)
    # constructor arguments deliberately not in `args`: {name: reason}
    args_exempt: dict = field(default_factory=dict)
    keras_skip: dict = field(default_factory=dict)  # {arg or None: why Keras is no oracle}
    sublayer: Callable | None = None     # wrappers: () -> the wrapped layer, passed as `layer`
    positional: bool = False             # multi-input layers called as layer(a, b) (MHA)
    sublayer_arg: str = "layer"          # the constructor argument `sublayer` fills (RNN: cell)
    call_fn: Callable | None = None      # (layer, x, **kwargs) -> output, for other call forms
    id: str | None = None

    def call(self, layer, x, **kwargs):
        if self.call_fn is not None:
            return self.call_fn(layer, x, **kwargs)
        if self.positional:
            return layer(*x, **kwargs)
        return layer(x, **kwargs)

    @property
    def name(self):
        return self.id or self.cls.__name__

    def __repr__(self):  # short, for hypothesis's falsifying examples
        return f"ROW_BY_ID[{self.name!r}]"

    def make(self, **overrides):
        kw = dict(self.kwargs)
        kw.update(overrides)
        if self.sublayer is not None and self.sublayer_arg not in kw:
            kw[self.sublayer_arg] = self.sublayer()
        return self.cls(**kw)

    @property
    def multi_input(self):
        return isinstance(self.input_shape, list)

    def shapes(self):
        return list(self.input_shape) if self.multi_input else [self.input_shape]

    def inputs(self, seed=0):
        rng = np.random.default_rng(seed)
        out = []
        for shape in self.shapes():
            if self.make_input is not None:
                out.append(np.asarray(self.make_input(rng, shape)))
            else:
                out.append(rng.uniform(-1.0, 1.0, size=shape).astype(self.input_dtype))
        return out if self.multi_input else out[0]


# ---- helpers ------------------------------------------------------------------------------

def flat(struct):
    if isinstance(struct, dict):
        return [v for k in sorted(struct) for v in flat(struct[k])]
    if isinstance(struct, (list, tuple)):
        return [v for s in struct for v in flat(s)]
    return [struct]


def numpy_outputs(out):
    return [np.asarray(o) for o in flat(out)]


def _float_inputs(row):
    return row.make_input is None and np.dtype(row.input_dtype).kind == "f"


def _loss_weights(outs, seed=7):
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1.0, 1.0, size=np.shape(o)).astype(np.float32) for o in outs]


def _weighted_sum(out, ws):
    total = None
    for o, w in zip(flat(out), ws):
        if not np.issubdtype(np.dtype(str(o.dtype)), np.floating):
            continue
        term = ops.sum(ops.multiply(o, ops.convert_to_tensor(w)))
        total = term if total is None else total + term
    return total


def symbolic_inputs(row, x):
    arrays = x if row.multi_input else [x]
    dtypes = [row.input_dtype if row.make_input is None else str(np.asarray(a).dtype)
              for a in arrays]
    ins = [fastnet.Input(shape=np.shape(a)[1:], dtype=d) for a, d in zip(arrays, dtypes)]
    return ins if row.multi_input else ins[0]


def standard_mask(row, x):
    """(batch, steps) mask with a tail of the first sample and the head of the last off."""
    x0 = x[0] if row.multi_input else x
    steps = x0.shape[1]
    mask = np.ones(x0.shape[:2], bool)
    mask[0, steps // 2:] = False
    mask[-1, :1] = False
    return mask


# ---- checks -------------------------------------------------------------------------------

def check_build(row):
    layer = row.make()
    shape = row.shapes() if row.multi_input else row.input_shape
    if row.positional:
        layer.build(*shape)
    else:
        layer.build(shape)
    assert layer.built, f"{row.name}: build({shape}) left built=False"
    # Keras builds on the first call as well; the weights must be the same either way
    got = (len(layer.trainable_weights), len(layer.non_trainable_weights))
    assert got == (row.trainable, row.non_trainable), (
        f"{row.name}: (trainable, non-trainable) weights after build = {got}, the row says "
        f"{(row.trainable, row.non_trainable)}")
    if row.weight_shapes is not None:
        shapes = [tuple(w.shape) for w in layer.weights]
        assert shapes == [tuple(s) for s in row.weight_shapes], (
            f"{row.name}: weight shapes {shapes} != {row.weight_shapes}")
    out = row.call(layer, row.inputs())
    assert (len(layer.trainable_weights), len(layer.non_trainable_weights)) == got, (
        f"{row.name}: calling the built layer created more weights")
    return layer, out


def check_symbolic(row):
    fastnet.utils.set_random_seed(0)
    layer = row.make()
    x = row.inputs()
    eager = numpy_outputs(row.call(layer, x, training=False))
    sym_in = symbolic_inputs(row, x)
    sym_out = row.call(layer, sym_in)
    for i, (kt, e) in enumerate(zip(flat(sym_out), eager)):
        want = (None,) + tuple(e.shape[1:])
        assert tuple(kt.shape) == want, (
            f"{row.name}: symbolic output {i} has shape {tuple(kt.shape)}, the eager call "
            f"gives {tuple(e.shape)} (expected {want} with the batch axis unknown)")
        assert np.dtype(str(kt.dtype)) == e.dtype, (
            f"{row.name}: symbolic output {i} dtype {kt.dtype} != eager dtype {e.dtype}")
    assert len(flat(sym_out)) == len(eager), f"{row.name}: symbolic/eager output counts differ"
    model = fastnet.Model(sym_in, sym_out)
    replay = numpy_outputs(model(x, training=False))
    for i, (r, e) in enumerate(zip(replay, eager)):
        np.testing.assert_allclose(r, e, rtol=1e-5, atol=1e-6,
                                   err_msg=f"{row.name}: functional replay output {i}")


def check_config(row):
    layer = row.make()
    x = row.inputs()
    before = numpy_outputs(row.call(layer, x, training=False))
    config = layer.get_config()
    json.dumps(config)  # a .keras file stores it as JSON
    clone = type(layer).from_config(config)
    assert clone.get_config() == config, f"{row.name}: from_config(get_config()) changed it"
    row.call(clone, x)
    clone.set_weights(layer.get_weights())
    after = numpy_outputs(row.call(clone, x, training=False))
    for i, (a, b) in enumerate(zip(after, before)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6,
                                   err_msg=f"{row.name}: output {i} after the config round trip")


def _mse(out, targets):
    total = None
    for o, t in zip(flat(out), targets):
        if not np.issubdtype(np.dtype(str(o.dtype)), np.floating):
            continue
        term = ops.mean(ops.square(ops.subtract(o, ops.convert_to_tensor(t))))
        total = term if total is None else total + term
    return total


def check_train_step(row, lr=0.05):
    fastnet.utils.set_random_seed(0)
    layer = row.make()
    x = row.inputs()
    outs = numpy_outputs(row.call(layer, x, training=False))
    targets = [np.asarray(o, np.float32) + _loss_weights([o])[0] for o in outs]
    before = [w.copy() for w in layer.get_weights()]
    variables = layer.trainable_weights
    opt = fastnet.optimizers.SGD(learning_rate=lr)
    fastnet.utils.set_random_seed(1)  # the same dropout draws in both training passes
    with fastnet.GradientTape() as tape:
        loss0 = _mse(row.call(layer, x, training=True), targets)
    assert loss0 is not None, f"{row.name}: no floating output to train"
    if not variables:
        after = layer.get_weights()
        for a, b in zip(after, before):
            np.testing.assert_array_equal(a, b)
        return
    grads = tape.gradient(loss0, variables)
    missing = [v.path for v, g in zip(variables, grads) if g is None]
    assert not missing, f"{row.name}: no gradient for trainable weight(s) {missing}"
    opt.apply(grads, variables)
    fastnet.utils.set_random_seed(1)
    loss1 = _mse(row.call(layer, x, training=True), targets)
    assert float(loss1) < float(loss0), (
        f"{row.name}: one SGD step did not lower the loss ({float(loss0)} -> {float(loss1)})")


def check_input_gradient(row, directions=3):
    fastnet.utils.set_random_seed(0)
    layer = row.make()
    x = row.inputs()
    xs = x if row.multi_input else [x]
    ws = _loss_weights(numpy_outputs(row.call(layer, x, training=False)))

    def loss_of(arrays):
        out = row.call(layer, arrays if row.multi_input else arrays[0], training=False)
        return sum(float(np.sum(o.astype(np.float64) * w))
                   for o, w in zip(numpy_outputs(out), ws))

    tensors = [ops.convert_to_tensor(a) for a in xs]
    with fastnet.GradientTape() as tape:
        for t in tensors:
            tape.watch(t)
        loss = _weighted_sum(
            row.call(layer, tensors if row.multi_input else tensors[0], training=False), ws)
    grads = tape.gradient(loss, tensors)
    rng = np.random.default_rng(3)
    for i, (a, g) in enumerate(zip(xs, grads)):
        assert g is not None, f"{row.name}: no gradient for input {i}"
        g = np.asarray(g, np.float64)
        assert g.shape == a.shape, f"{row.name}: input {i} gradient shape {g.shape} != {a.shape}"
        for _ in range(directions):
            v = rng.standard_normal(a.shape)
            v /= max(np.linalg.norm(v), 1e-12)
            plus = [b if j != i else (a + row.fd_eps * v).astype(a.dtype)
                    for j, b in enumerate(xs)]
            minus = [b if j != i else (a - row.fd_eps * v).astype(a.dtype)
                     for j, b in enumerate(xs)]
            fd = (loss_of(plus) - loss_of(minus)) / (2 * row.fd_eps)
            an = float(np.sum(g * v))
            tol = row.fd_tol * max(abs(fd), abs(an), 1.0)
            assert abs(fd - an) <= tol, (
                f"{row.name}: input {i} gradient along a random direction {an:.6g}, finite "
                f"differences {fd:.6g} (tol {tol:.3g})")


def check_masking(row):
    layer = row.make()
    x = row.inputs()
    x0 = x[0] if row.multi_input else x
    mask = standard_mask(row, x)
    if row.masking == "propagate":
        out_mask = layer.compute_mask(x, mask)
        assert out_mask is not None, f"{row.name}: compute_mask dropped the mask"
        np.testing.assert_array_equal(np.asarray(out_mask), mask,
                                      err_msg=f"{row.name}: compute_mask changed the mask")
        return
    assert row.masking == "consume", row.masking
    garbage = np.array(x0, copy=True)
    rng = np.random.default_rng(11)
    garbage[~mask] = rng.uniform(-5, 5, size=garbage[~mask].shape).astype(garbage.dtype)
    xg = [garbage] + list(x[1:]) if row.multi_input else garbage
    a = numpy_outputs(row.call(layer, x, mask=mask))
    b = numpy_outputs(row.call(layer, xg, mask=mask))
    c = numpy_outputs(row.call(layer, xg))
    for i, (p, q) in enumerate(zip(a, b)):
        if p.ndim >= 2 and p.shape[:2] == mask.shape:  # per-step outputs: compare kept steps
            p, q = p[mask], q[mask]
        np.testing.assert_allclose(p, q, rtol=1e-5, atol=1e-6, err_msg=(
            f"{row.name}: output {i} depends on masked-out input values"))
    assert any(not np.allclose(p, q) for p, q in zip(b, c)), (
        f"{row.name}: the mask had no effect on the output")


def _fingerprint(row, overrides):
    """Everything a constructor argument can change, with the global seed fixed."""
    fastnet.utils.set_random_seed(1234)
    layer = row.make(**overrides)
    x = row.inputs()
    parts = {"infer": numpy_outputs(row.call(layer, x, training=False))}
    fastnet.utils.set_random_seed(99)
    parts["train"] = numpy_outputs(row.call(layer, x, training=True))
    parts["losses"] = [np.asarray(v) for v in layer.losses]
    parts["shapes"] = [np.asarray(w.shape) for w in layer.weights]
    parts["dtypes"] = [np.asarray(str(o.dtype)) for o in parts["infer"]]
    parts["mask"] = [np.asarray(m) for m in flat(layer.compute_mask(x, None)) if m is not None]
    if hasattr(layer, "get_vocabulary"):
        parts["vocabulary"] = [np.asarray(layer.get_vocabulary(), dtype=object)]
    # the standard mask is (batch, steps) of a channels-last input
    if row.masking == "consume" and "data_format" not in overrides:
        parts["masked"] = numpy_outputs(row.call(layer, x, mask=standard_mask(row, x)))
    if row.symbolic is True:
        sym = row.call(layer, symbolic_inputs(row, x))
        parts["symbolic"] = [np.asarray([-1 if d is None else d for d in t.shape])
                             for t in flat(sym)]
    variables = layer.trainable_weights
    if variables:
        ws = _loss_weights(parts["infer"])
        with fastnet.GradientTape() as tape:
            loss = _weighted_sum(row.call(layer, x, training=True), ws)
            for extra in layer.losses:
                loss = loss + extra
        grads = tape.gradient(loss, variables)
        fastnet.optimizers.SGD(learning_rate=1.0).apply(grads, variables)
        parts["stepped"] = [np.asarray(v) for v in layer.weights]
        parts["after"] = numpy_outputs(row.call(layer, x, training=False))
    return parts


def _same(a, b):
    if a.keys() != b.keys():
        return False
    for k in a:
        if len(a[k]) != len(b[k]):
            return False
        for p, q in zip(a[k], b[k]):
            if p.shape != q.shape or p.dtype != q.dtype:
                return False
            if p.dtype.kind in "fc":
                if not np.allclose(p, q, rtol=1e-6, atol=1e-7, equal_nan=True):
                    return False
            elif not np.array_equal(p, q):
                return False
    return True


def check_argument(row, arg, value):
    import re

    if isinstance(value, Raises):
        pattern = value.match or re.escape(arg)
        try:
            layer = row.make(**{arg: value.value})
            row.call(layer, row.inputs())
        except value.exc as e:
            assert re.search(pattern, str(e)), (
                f"{row.name}({arg}={value.value!r}) raised {type(e).__name__} without naming "
                f"{arg!r}: {e}")
            return
        raise AssertionError(f"{row.name}({arg}={value.value!r}) neither raised nor was "
                             "expected to work")
    base = _fingerprint(row, {})
    alt = _fingerprint(row, {arg: value})
    assert not _same(base, alt), (
        f"{row.name}: {arg}={value!r} gives the same outputs, weights, losses and training "
        f"step as {arg}={row.kwargs.get(arg, '<default>')!r}: the argument is ignored")
    if row.config is True:  # the non-default value survives get_config/from_config
        layer = row.make(**{arg: value})
        x = row.inputs()
        want = numpy_outputs(row.call(layer, x, training=False))
        want_losses = [float(v) for v in layer.losses]
        config = layer.get_config()
        if arg not in CONFIG_FREE_ARGS:
            assert arg in config, f"{row.name}: get_config() has no {arg!r}: {config}"
        clone = type(layer).from_config(config)
        row.call(clone, x, training=False)
        clone.set_weights(layer.get_weights())
        if getattr(clone, "stateful", False):
            clone.reset_states()
        got = numpy_outputs(row.call(clone, x, training=False))
        got_losses = [float(v) for v in clone.losses]
        np.testing.assert_allclose(got_losses, want_losses, rtol=1e-5, err_msg=(
            f"{row.name}({arg}={value!r}): the config round trip changed the layer's losses"))
        assert len(got) == len(want) and all(
            g.shape == w.shape and np.allclose(g, w, rtol=1e-6, atol=1e-6)
            for g, w in zip(got, want)), (
            f"{row.name}({arg}={value!r}): from_config(get_config()) gives other outputs; "
            f"the config loses the argument: {layer.get_config()}")


def check_keras_parity(row, keras, overrides):
    """Keras 3 itself as the oracle: the Keras layer built from this layer's get_config()
    (what a .keras file carries), given the same weights, gives the same outputs."""
    import pytest

    fastnet.utils.set_random_seed(0)
    layer = row.make(**overrides)
    x = row.inputs()
    want = numpy_outputs(row.call(layer, x, training=False))
    kcls = getattr(keras.layers, row.cls.__name__, None)
    if kcls is None:
        pytest.skip(f"keras.layers has no {row.cls.__name__}")
    try:
        klayer = kcls.from_config(layer.get_config())
    except (ImportError, TypeError) as e:  # Keras's lookup layers need TensorFlow
        if "requires TensorFlow" not in str(e):
            raise
        pytest.skip(f"Keras cannot build {row.cls.__name__} here: {e}")
    row.call(klayer, x)
    klayer.set_weights(layer.get_weights())
    if getattr(klayer, "stateful", False):
        klayer.reset_states()
    got = row.call(klayer, x, training=False)
    got = [np.asarray(keras.ops.convert_to_numpy(g)) for g in flat(got)]
    assert len(got) == len(want), f"{row.name}: {len(want)} outputs, Keras gives {len(got)}"
    for i, (g, w) in enumerate(zip(got, want)):
        assert g.shape == w.shape, f"{row.name} {overrides}: output {i} shape {w.shape}, " \
                                   f"Keras {g.shape}"
        np.testing.assert_allclose(w, g, rtol=1e-4, atol=1e-5, err_msg=(
            f"{row.name} {overrides}: output {i} differs from Keras's"))


# Constructor arguments Keras does not keep in get_config (initial values, not settings).
CONFIG_FREE_ARGS = {"weights"}


# ---- coverage -----------------------------------------------------------------------------

# Arguments every layer takes through the Layer base class: tested once, by the base's own tests.
BASE_ARGS = {"self", "kwargs", "args", "name", "dtype", "trainable", "autocast", "input_shape",
             "input_dim", "batch_input_shape", "batch_size", "input_length"}


def constructor_args(cls):
    import inspect

    return [p for p in inspect.signature(cls.__init__).parameters if p not in BASE_ARGS]


def public_layer_classes():
    """Every Layer subclass fastnet.layers exports (aliases collapsed), by name."""
    out = {}
    for name in dir(layers):
        obj = getattr(layers, name)
        if isinstance(obj, type) and issubclass(obj, layers.Layer):
            out.setdefault(obj, name)
    return out


def check_dtype(row, dtype="float64", output_dtype=None, weight_dtype=None):
    """``dtype=`` is honoured or refused: the layer built with ``dtype`` keeps its floating
    weights and outputs in it (Keras casts floating inputs to the compute dtype), and with
    the same weights it computes what the float32 layer computes; or construction or the
    call raises NotImplementedError naming the dtype. Returns "refused" or "computed".
    Where Keras itself does otherwise (a wrapper whose sublayers keep their own dtype),
    ``output_dtype(layer, i)`` and ``weight_dtype`` give the dtypes Keras has."""
    x = row.inputs()
    try:
        layer = row.make(dtype=dtype)
        out = row.call(layer, x, training=False)
    except NotImplementedError as e:
        assert dtype in str(e), f"{row.name}: NotImplementedError without naming {dtype}: {e}"
        return "refused"
    for i, o in enumerate(flat(out)):
        if np.issubdtype(np.dtype(str(o.dtype)), np.floating):
            want = dtype if output_dtype is None else output_dtype(layer, i)
            assert str(o.dtype) == want, f"{row.name}: output {i} is {o.dtype}, not {want}"
    for w in layer.weights:
        if np.dtype(str(w.dtype)).kind == "f":
            want = weight_dtype or dtype
            assert str(w.dtype) == want, f"{row.name}: weight {w.path} is {w.dtype}"
    ref = row.make()
    row.call(ref, x, training=False)
    ref.set_weights([np.asarray(w, np.float32) if np.asarray(w).dtype.kind == "f" else w
                     for w in layer.get_weights()])
    want = numpy_outputs(row.call(ref, x, training=False))
    for i, (a, b) in enumerate(zip(numpy_outputs(out), want)):
        if np.asarray(a).dtype.kind == "f":
            np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64),
                                       rtol=1e-4, atol=1e-4,
                                       err_msg=f"{row.name}: {dtype} output {i} vs float32")
    return "computed"
