"""Subclassed models on the compiled plan (fastnet/plan/trace.py): a `call` that traces
to a static graph trains, evaluates and predicts on the plan with the numbers of the eager
path (run_eagerly=True) from the same initial weights; a call the trace cannot turn into
plan layers runs eagerly, with the reason naming the model and what failed."""

import numpy as np
import pytest

import fastnet as keras
from fastnet import layers, ops
from fastnet import plan as fplan

RTOL, ATOL = 1e-5, 1e-6


def _assert_same_state(a, b):
    assert len(a.weights) == len(b.weights)
    for wa, wb in zip(a.weights, b.weights):
        np.testing.assert_allclose(wa.numpy(), wb.numpy(), rtol=RTOL, atol=ATOL,
                                   err_msg=wa.path or wa.name)
    for sa, sb in zip(a.optimizer.variables, b.optimizer.variables):
        np.testing.assert_allclose(sa.numpy(), sb.numpy(), rtol=RTOL, atol=ATOL)


def _pair(build, loss="sparse_categorical_crossentropy", optimizer="adam", metrics=None,
          seed=1):
    models = []
    for eager in (False, True):
        keras.utils.set_random_seed(seed)
        m = build()
        m.compile(optimizer=optimizer, loss=loss, metrics=metrics, run_eagerly=eager)
        models.append(m)
    return models


def _fit_both(a, b, x, y, epochs=2, **kw):
    hs = []
    for m in (a, b):
        keras.utils.set_random_seed(123)  # the Dropout masks: the same draws on both paths
        hs.append(m.fit(x, y, batch_size=16, epochs=epochs, verbose=0, shuffle=False, **kw))
    assert a._plan_runner.last["train"] == "plan", a._plan_runner.last
    assert a._plan_status("train") is None
    assert b._plan_status("train") == "run_eagerly=True"
    for k in hs[0].history:
        np.testing.assert_allclose(hs[0].history[k], hs[1].history[k], rtol=RTOL, atol=ATOL,
                                   err_msg=k)
    _assert_same_state(a, b)


def _check_inference(a, b, x, y):
    pa, pb = a.predict(x, batch_size=16, verbose=0), b.predict(x, batch_size=16, verbose=0)
    assert a._plan_runner.last["predict"] == "plan", a._plan_runner.last
    if isinstance(pa, list):
        for u, v in zip(pa, pb):
            np.testing.assert_allclose(u, v, rtol=RTOL, atol=ATOL)
    else:
        np.testing.assert_allclose(pa, pb, rtol=RTOL, atol=ATOL)
    ea = a.evaluate(x, y, batch_size=16, verbose=0, return_dict=True)
    eb = b.evaluate(x, y, batch_size=16, verbose=0, return_dict=True)
    assert a._plan_runner.last["test"] == "plan", a._plan_runner.last
    assert ea.keys() == eb.keys()
    for k in ea:
        np.testing.assert_allclose(ea[k], eb[k], rtol=RTOL, atol=ATOL, err_msg=k)


def _vectors(n=48, d=12, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, d)).astype(np.float32), rng.integers(0, classes, n))


def _images(n=32, size=8, channels=3, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, size, size, channels)).astype(np.float32),
            rng.integers(0, classes, n))


# ---- the models of the Keras guides ---------------------------------------------------------
class MLP(keras.Model):
    def __init__(self, classes=4, **kw):
        super().__init__(**kw)
        self.d1 = layers.Dense(32, activation="relu")
        self.dr = layers.Dropout(0.5)
        self.d2 = layers.Dense(classes, activation="softmax")

    def call(self, x, training=False):
        return self.d2(self.dr(self.d1(x), training=training))


class CNN(keras.Model):
    def __init__(self, classes=4, **kw):
        super().__init__(**kw)
        self.c1 = layers.Conv2D(8, 3, padding="same", activation="relu")
        self.bn = layers.BatchNormalization()
        self.pool = layers.MaxPooling2D()
        self.c2 = layers.Conv2D(8, 3, activation="relu")
        self.flat = layers.Flatten()
        self.dr = layers.Dropout(0.3)
        self.out = layers.Dense(classes, activation="softmax")

    def call(self, x, training=False):
        x = self.bn(self.c1(x), training=training)
        x = self.c2(self.pool(x))
        return self.out(self.dr(self.flat(x), training=training))


class Residual(keras.Model):
    """Both ways of writing a skip connection: an Add layer and `+` on tensors."""

    def __init__(self, classes=4, **kw):
        super().__init__(**kw)
        self.stem = layers.Dense(16, activation="relu")
        self.a = layers.Dense(16, activation="relu")
        self.b = layers.Dense(16)
        self.add = layers.Add()
        self.c = layers.Dense(16)
        self.head = layers.Dense(classes)

    def call(self, x):
        x = self.stem(x)
        x = ops.relu(self.add([x, self.b(self.a(x))]))
        x = keras.activations.tanh(x + self.c(x))
        return self.head(x)


class FunctionalHelpers(keras.Model):
    """layers.add / layers.concatenate in call: a new weightless layer per call."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.a = layers.Dense(8, activation="relu")
        self.b = layers.Dense(8)
        self.out = layers.Dense(4)

    def call(self, x):
        h = self.a(x)
        h = layers.add([h, self.b(h)])
        return self.out(layers.concatenate([h, layers.Activation("tanh")(h)]))


class Reshapes(keras.Model):
    """ops.reshape keeping the batch axis, and a cast to the dtype the tensor has."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.d = layers.Dense(12, activation="relu")
        self.conv = layers.Conv2D(4, 2, activation="relu")
        self.out = layers.Dense(4)

    def call(self, x):
        h = ops.reshape(self.d(ops.cast(x, "float32")), (-1, 2, 6, 1))
        return self.out(ops.reshape(self.conv(h), (-1, 20)))


class TwoInputs(keras.Model):
    """A list (or dict) of inputs, concatenated."""

    def __init__(self, as_dict=False, **kw):
        super().__init__(**kw)
        self.as_dict = as_dict
        self.da = layers.Dense(8, activation="tanh")
        self.db = layers.Dense(8, activation="relu")
        self.cat = layers.Concatenate()
        self.out = layers.Dense(3)

    def call(self, inputs):
        a, b = (inputs["a"], inputs["b"]) if self.as_dict else inputs
        return self.out(ops.concatenate([self.da(a), self.db(b)], axis=-1) if self.as_dict
                        else self.cat([self.da(a), self.db(b)]))


def test_mlp_fit_evaluate_predict_match_eager():
    x, y = _vectors()
    a, b = _pair(MLP, metrics=["accuracy"])
    _fit_both(a, b, x, y, epochs=3)
    _check_inference(a, b, x, y)
    # the trace left no nodes on the model's layers (they were never called symbolically)
    assert all(not lay._inbound_nodes for lay in a._flatten_layers())


def test_cnn_with_batch_norm_and_dropout_matches_eager():
    x, y = _images()
    a, b = _pair(CNN, optimizer="sgd")
    _fit_both(a, b, x, y)
    _check_inference(a, b, x, y)


def test_residual_model_with_add_layer_and_plus_matches_eager():
    x, y = _vectors()
    a, b = _pair(Residual, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                 optimizer="rmsprop")
    _fit_both(a, b, x, y)
    _check_inference(a, b, x, y)
    kinds = [type(n.operation).__name__ for n in a._plan_traced.nodes]
    assert kinds.count("Add") == 2 and kinds.count("Activation") == 2, kinds


def test_layers_made_inside_call_without_state_are_planned():
    x, y = _vectors()
    a, b = _pair(FunctionalHelpers, loss="mse", optimizer="sgd")
    y = np.tile(x[:, :1], (1, 4))
    _fit_both(a, b, x, y)
    _check_inference(a, b, x, y)


def test_reshape_and_noop_cast_ops_are_planned():
    x, y = _vectors()
    a, b = _pair(Reshapes, loss="mse", optimizer="sgd")
    y = np.tile(x[:, :1], (1, 4))
    _fit_both(a, b, x, y)
    _check_inference(a, b, x, y)
    kinds = [type(n.operation).__name__ for n in a._plan_traced.nodes]
    assert kinds == ["Reshape", "Dense", "Reshape", "Conv2D", "Reshape", "Dense"], kinds


def test_a_reshape_into_the_batch_axis_runs_eagerly():
    x, _ = _vectors()
    m = BadReshape()
    out = m.predict(x, verbose=0)
    assert "ops.reshape" in m._plan_runner.last["predict"]
    assert out.shape == (2 * len(x), 2)
    np.testing.assert_allclose(out, m(x).numpy().reshape(-1, 2), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("as_dict", [False, True])
def test_multi_input_model_matches_eager(as_dict):
    rng = np.random.default_rng(0)
    xa = rng.standard_normal((32, 5)).astype(np.float32)
    xb = rng.standard_normal((32, 7)).astype(np.float32)
    x = {"a": xa, "b": xb} if as_dict else [xa, xb]
    y = rng.standard_normal((32, 3)).astype(np.float32)
    a, b = _pair(lambda: TwoInputs(as_dict), loss="mse", optimizer="sgd")
    _fit_both(a, b, x, y)
    _check_inference(a, b, x, y)


def test_two_outputs_in_a_list_match_eager():
    class TwoHeads(keras.Model):
        def __init__(self):
            super().__init__()
            self.body = layers.Dense(16, activation="relu")
            self.h1 = layers.Dense(4, activation="softmax")
            self.h2 = layers.Dense(1)

        def call(self, x):
            h = self.body(x)
            return [self.h1(h), self.h2(h)]

    x, y = _vectors()
    y2 = x[:, :1] * 2.0
    a, b = _pair(TwoHeads, loss=["sparse_categorical_crossentropy", "mse"])
    _fit_both(a, b, x, [y, y2])
    _check_inference(a, b, x, [y, y2])


def test_nested_sequential_block_becomes_its_layers():
    class WithBlock(keras.Model):
        def __init__(self):
            super().__init__()
            self.block = keras.Sequential([layers.Dense(16, activation="relu"),
                                           layers.Dropout(0.2), layers.Dense(16)])
            self.out = layers.Dense(4, activation="softmax")

        def call(self, x, training=False):
            return self.out(self.block(x, training=training))

    x, y = _vectors()
    a, b = _pair(WithBlock)
    _fit_both(a, b, x, y)
    _check_inference(a, b, x, y)
    kinds = [type(n.operation).__name__ for n in a.__dict__["_plan_runner"].active[True].nodes]
    assert kinds == ["Dense", "Dropout", "Dense", "Dense"]


class ConvBlock(layers.Layer):
    """A residual block as a custom layer (the Keras guides' ResNet blocks)."""

    def __init__(self, filters, **kw):
        super().__init__(**kw)
        self.c1 = layers.Conv2D(filters, 3, padding="same", activation="relu")
        self.bn = layers.BatchNormalization()
        self.c2 = layers.Conv2D(filters, 3, padding="same")

    def call(self, x, training=None):
        y = self.c2(self.bn(self.c1(x), training=training))
        return ops.relu(x + y)


class Encoder(keras.Model):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.stem = layers.Conv2D(8, 3, padding="same", activation="relu")
        self.block = ConvBlock(8)
        self.pool = layers.GlobalAveragePooling2D()

    def call(self, x, training=False):
        return self.pool(self.block(self.stem(x), training=training))


class Classifier(keras.Model):
    """A subclassed model inside a subclassed model, with a custom layer inside that."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.encoder = Encoder()
        self.dr = layers.Dropout(0.2)
        self.head = layers.Dense(4, activation="softmax")

    def call(self, x, training=False):
        return self.head(self.dr(self.encoder(x, training=training), training=training))


def test_custom_layers_and_nested_subclassed_models_are_traced_through():
    x, y = _images()
    a, b = _pair(Classifier)
    _fit_both(a, b, x, y)
    _check_inference(a, b, x, y)
    kinds = [type(n.operation).__name__ for n in a._plan_runner.active[True].nodes]
    assert kinds == ["Conv2D", "Conv2D", "BatchNormalization", "Conv2D", "Add", "Activation",
                     "GlobalAveragePooling2D", "Dropout", "Dense"], kinds


class Linear(layers.Layer):
    """The guide's custom layer with weights of its own: a matmul the plan has no op for."""

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], 4))

    def call(self, x):
        return ops.matmul(x, self.w)


class WithLinear(keras.Model):
    def __init__(self):
        super().__init__()
        self.lin = Linear()

    def call(self, x):
        return self.lin(x)


class LayerAddsLoss(layers.Layer):
    def __init__(self):
        super().__init__()
        self.d = layers.Dense(4)

    def call(self, x):
        h = self.d(x)
        self.add_loss(1e-2 * ops.sum(ops.square(h)))
        return h


class WithLossLayer(keras.Model):
    def __init__(self):
        super().__init__()
        self.inner = LayerAddsLoss()

    def call(self, x):
        return self.inner(x)


def test_python_control_flow_on_training_gives_one_graph_per_mode():
    class Noisy(keras.Model):
        def __init__(self):
            super().__init__()
            self.noise = layers.Dropout(0.25)
            self.d = layers.Dense(8, activation="relu")
            self.out = layers.Dense(4, activation="softmax")

        def call(self, x, training=False):
            if training:
                x = self.noise(x, training=training)
            return self.out(self.d(x))

    x, y = _vectors()
    a, b = _pair(Noisy)
    _fit_both(a, b, x, y)
    _check_inference(a, b, x, y)
    active = a._plan_runner.active
    ops_of = {mode: [n.operation.name for n in g.nodes] for mode, g in active.items()}
    assert ops_of[True] == [a.noise.name, a.d.name, a.out.name]
    assert ops_of[False] == [a.d.name, a.out.name]


def test_a_layer_called_with_a_fixed_training_flag_runs_eagerly_in_the_other_mode():
    class MCDropout(keras.Model):
        def __init__(self):
            super().__init__()
            self.d = layers.Dense(8)
            self.dr = layers.Dropout(0.5)

        def call(self, x):
            return self.dr(self.d(x), training=True)  # dropout at inference too

    x, y = _vectors()
    m = MCDropout()
    m.compile(optimizer="sgd", loss="mse")
    m.fit(x, np.zeros((48, 8), np.float32), verbose=0)
    assert m._plan_status("train") is None
    m.predict(x, verbose=0)
    reason = m._plan_runner.last["predict"]
    assert "MCDropout" in reason and "training=True" in reason and "inference" in reason


# ---- refusals: the eager path, with the reason ---------------------------------------------
class _Base(keras.Model):
    def __init__(self):
        super().__init__()
        self.d = layers.Dense(4)


class AddsLoss(_Base):
    def call(self, x):
        h = self.d(x)
        self.add_loss(ops.mean(ops.square(h)))
        return h


class UsesNumpy(_Base):
    def call(self, x):
        return self.d(x) * float(np.mean(x))


class OwnWeight(_Base):
    def build(self, input_shape):
        self.scale = self.add_weight(shape=(4,), initializer="ones", name="scale")

    def call(self, x):
        return self.d(x) * self.scale


class CountsCalls(_Base):
    def __init__(self):
        super().__init__()
        self.calls = 0

    def call(self, x):
        self.calls += 1
        return self.d(x)


class DrawsNoise(_Base):
    def call(self, x):
        return self.d(x) + keras.random.normal((4,))


class BadReshape(_Base):
    def call(self, x):
        return ops.reshape(self.d(x), (-1, 2))  # merges rows into the batch axis


class UnknownOp(_Base):
    def call(self, x):
        return ops.exp(self.d(x))


class UntrackedLayer(keras.Model):
    def __init__(self):
        super().__init__()
        self.layers_by_name = None
        self.d = layers.Dense(4)

    def call(self, x):
        return _GLOBAL_DENSE(self.d(x))


_GLOBAL_DENSE = layers.Dense(4)


@pytest.mark.parametrize("cls, reason", [
    (AddsLoss, "adds losses"),
    (UsesNumpy, "could not be traced on symbolic inputs"),
    (OwnWeight, "weights of its own"),
    (CountsCalls, r"sets attributes \['calls'\]"),
    (DrawsNoise, "not a tensor computed from the inputs|non-tensor arguments"),
    (UnknownOp, "ops.exp"),
    (UntrackedLayer, "does not track"),
    (WithLinear, "ops.matmul"),
    (WithLossLayer, r"adds losses \(add_loss in \['layer_adds_loss"),
])
def test_calls_the_plan_cannot_run_fall_back_with_a_reason_and_train_as_eager(cls, reason):
    import re

    x, _ = _vectors()
    y = np.zeros((48, 4), np.float32)
    a, b = _pair(cls, loss="mse", optimizer="sgd")
    for m in (a, b):
        keras.utils.set_random_seed(7)
        m.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=False)
    got = a._plan_runner.last["train"]
    assert re.search(reason, got) and cls.__name__ in got, got
    assert re.search(reason, a._plan_status("train"))
    # the refused trace changed nothing the eager path reads (random streams included)
    _assert_same_state(a, b)
    if cls is CountsCalls:
        assert a.calls == b.calls


def test_status_before_any_batch_and_jit_compile_true():
    import warnings

    m = MLP()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not built: no "doesn't support jit_compile" warning
        m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", jit_compile=True)
    assert "not built" in m._plan_status("train")
    m(np.zeros((2, 12), np.float32))  # built by a call: traced from that call's shapes
    assert m._plan_status("train") is None
    assert m._plan_status("predict") is None
    with pytest.warns(UserWarning, match="jit_compile=True.*adds losses"):
        n = AddsLoss()
        n(np.zeros((2, 12), np.float32))
        n.compile(optimizer="sgd", loss="mse", jit_compile=True)


def test_a_layer_swapped_after_training_is_traced_again():
    x, y = _vectors()
    m = MLP()
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    m.fit(x, y, batch_size=16, verbose=0)
    m.predict(x, verbose=0)
    first = m._plan_traced
    old = m.d2
    m.d2 = layers.Dense(4, activation="softmax")
    out = m.predict(x, verbose=0)
    assert m._plan_runner.last["predict"] == "plan"
    assert m._plan_traced is not first
    assert any(n.operation is m.d2 for n in m._plan_traced.nodes)
    np.testing.assert_allclose(out, m(x).numpy(), rtol=RTOL, atol=ATOL)
    # the layer swapped out is still tracked (its weights trainable) but gets no gradient:
    # the eager path trains without it
    before = old.kernel.numpy().copy()
    m.fit(x, y, batch_size=16, verbose=0)
    assert "get no gradient" in m._plan_runner.last["train"]
    np.testing.assert_array_equal(old.kernel.numpy(), before)


def test_signature_changes_trace_again_and_keep_separate_plans():
    class Flat(keras.Model):
        def __init__(self):
            super().__init__()
            self.f = layers.Flatten()
            self.d = layers.Dense(3)

        def call(self, x):
            return self.d(self.f(x))

    m = Flat()
    m.compile(optimizer="sgd", loss="mse")
    x = np.ones((8, 2, 6), np.float32)
    m.predict(x, verbose=0)
    assert m._plan_runner.last["predict"] == "plan"
    # another input shape: another trace; the Dense built for 12 features refuses 13
    out = m.predict(x.reshape(8, 3, 4), verbose=0)
    assert m._plan_runner.last["predict"] == "plan"
    np.testing.assert_allclose(out, m(x.reshape(8, 3, 4)).numpy(), rtol=RTOL, atol=ATOL)
    assert len(m._plan_runner.traces) == 2
    with pytest.raises(ValueError):
        m.predict(np.ones((8, 13), np.float32), verbose=0)
    assert "could not be traced" in m._plan_runner.last["predict"]


def test_the_plan_module_says_why_not_for_a_model_without_call():
    m = keras.Model()
    assert fplan.status(m, "predict") is not None


def test_steps_per_execution_and_sample_weights_match_eager():
    x, y = _vectors()
    sw = np.linspace(0.5, 1.5, len(x)).astype(np.float32)
    models = []
    for eager in (False, True):
        keras.utils.set_random_seed(1)
        m = MLP()
        m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", run_eagerly=eager,
                  steps_per_execution=2)
        models.append(m)
    _fit_both(*models, x, y, sample_weight=sw)


def test_predict_and_evaluate_of_a_fresh_model_build_it_as_the_eager_path():
    x, y = _images()
    outs = []
    for eager in (False, True):
        keras.utils.set_random_seed(3)
        m = CNN()
        m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", run_eagerly=eager)
        outs.append((m.predict(x, batch_size=8, verbose=0), m))
    assert outs[0][1]._plan_runner.last["predict"] == "plan"
    np.testing.assert_allclose(outs[0][0], outs[1][0], rtol=RTOL, atol=ATOL)
    _assert_same_state(outs[0][1], outs[1][1])


def test_planned_subclassed_model_trains_as_keras():
    """The same subclassed model in Keras 3 (optional), from the same weights: the planned
    fit ends with Keras's weights."""
    import os

    os.environ.setdefault("KERAS_BACKEND", "torch")
    k = pytest.importorskip("keras")

    def define(lib):
        class Net(lib.Model):
            def __init__(self):
                super().__init__()
                self.stem = lib.layers.Dense(16, activation="relu")
                self.a = lib.layers.Dense(16, activation="tanh")
                self.head = lib.layers.Dense(4, activation="softmax")

            def call(self, x, training=False):
                h = self.stem(x)
                return self.head(lib.ops.relu(h + self.a(h)))
        return Net()

    x, y = _vectors()
    ours, theirs = define(keras), define(k)
    ours(x[:1])
    theirs(x[:1])
    theirs.set_weights(ours.get_weights())
    for m, lib in ((ours, keras), (theirs, k)):
        m.compile(optimizer=lib.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
        m.fit(x, y, batch_size=16, epochs=3, verbose=0, shuffle=False)
    assert ours._plan_runner.last["train"] == "plan"
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_a_python_flag_call_branches_on_is_read_again_when_it_changes():
    class Switch(keras.Model):
        def __init__(self):
            super().__init__()
            self.use_second = False
            self.d1 = layers.Dense(4)
            self.d2 = layers.Dense(4)

        def call(self, x):
            h = self.d1(x)
            return self.d2(h) if self.use_second else h

    x, _ = _vectors()
    m = Switch()
    m.compile(optimizer="sgd", loss="mse")
    first = m.predict(x, verbose=0)
    m.use_second = True
    second = m.predict(x, verbose=0)
    assert m._plan_runner.last["predict"] == "plan"
    np.testing.assert_allclose(second, m.d2(m.d1(x)).numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(first, m.d1(x).numpy(), rtol=RTOL, atol=ATOL)
