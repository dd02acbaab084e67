"""The compiled training plan (fastnet/plan, csrc/plan): the same numbers as the eager
path (run_eagerly=True) from the same initial weights, steps_per_execution's callback
semantics, the arena reused across steps, and every fallback with its reason."""

import re
import warnings

import numpy as np
import pytest

import fastnet as keras
from fastnet import layers
from fastnet import plan as fplan

RTOL, ATOL = 1e-5, 1e-6


def _data(n=96, d=20, classes=5, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)).astype(np.float32)
    y = rng.integers(0, classes, n)
    return x, y


def _pair(build, compile_kwargs, seed=1):
    """The same model twice (same initial weights): planned and eager."""
    models = []
    for eager in (False, True):
        keras.utils.set_random_seed(seed)
        m = build()
        m.compile(run_eagerly=eager, **compile_kwargs())
        models.append(m)
    for wa, wb in zip(models[0].weights, models[1].weights):
        np.testing.assert_array_equal(wa.numpy(), wb.numpy())
    return models


def _assert_same_state(a, b):
    assert len(a.weights) == len(b.weights)
    for wa, wb in zip(a.weights, b.weights):
        np.testing.assert_allclose(wa.numpy(), wb.numpy(), rtol=RTOL, atol=ATOL,
                                   err_msg=wa.path or wa.name)
    va, vb = a.optimizer.variables, b.optimizer.variables
    assert len(va) == len(vb)
    for sa, sb in zip(va, vb):
        np.testing.assert_allclose(sa.numpy(), sb.numpy(), rtol=RTOL, atol=ATOL)


def _assert_same_history(ha, hb):
    assert ha.history.keys() == hb.history.keys()
    for k in ha.history:
        np.testing.assert_allclose(ha.history[k], hb.history[k], rtol=RTOL, atol=ATOL,
                                   err_msg=k)


def _fit_both(a, b, x, y, **kw):
    kw.setdefault("batch_size", 32)
    kw.setdefault("epochs", 2)
    keras.utils.set_random_seed(123)  # unseeded Dropout draws from the global stream
    ha = a.fit(x, y, verbose=0, shuffle=False, **kw)
    keras.utils.set_random_seed(123)
    hb = b.fit(x, y, verbose=0, shuffle=False, **kw)
    assert a._plan_runner.last["train"] == "plan", a._plan_runner.last
    assert b._plan_status() == "run_eagerly=True"
    return ha, hb


# ---- the seed models ----------------------------------------------------------------------
def seq_mlp(act_out="softmax", d=20, classes=5, dropout=0.0, input_shape=True, **dense_kw):
    def build():
        lays = [layers.Input((d,))] if input_shape else []
        lays += [layers.Dense(32, activation="relu", **dense_kw)]
        if dropout:
            lays.append(layers.Dropout(dropout))
        lays += [layers.Dense(32, activation="tanh"), layers.Dense(classes, activation=act_out)]
        return keras.Sequential(lays)
    return build


def functional_mlp(act_out="softmax", d=20, classes=5, dropout=0.0):
    def build():
        inp = keras.Input((d,))
        x = layers.Dense(32, activation="relu")(inp)
        if dropout:
            x = layers.Dropout(dropout, seed=7)(x)
        x = layers.Dense(32, activation="sigmoid")(x)
        out = layers.Dense(classes, activation=act_out)(x)
        return keras.Model(inp, out)
    return build


LOSS_CASES = [
    ("sparse_categorical_crossentropy", "softmax", "sparse"),
    (keras.losses.SparseCategoricalCrossentropy(from_logits=True), None, "sparse"),
    ("categorical_crossentropy", "softmax", "onehot"),
    (keras.losses.CategoricalCrossentropy(from_logits=True), None, "onehot"),
    ("binary_crossentropy", "sigmoid", "multi"),
    (keras.losses.BinaryCrossentropy(from_logits=True), None, "multi"),
    ("mse", None, "onehot"),
    ("mae", "tanh", "onehot"),
    (keras.losses.SparseCategoricalCrossentropy(), "relu", "sparse"),  # from probabilities
]


def _targets(y, kind, classes=5):
    if kind == "sparse":
        return y
    onehot = np.eye(classes, dtype=np.float32)[y]
    if kind == "onehot":
        return onehot
    return (onehot + np.roll(onehot, 1, axis=1)).clip(0, 1)


@pytest.mark.parametrize("loss,act,kind", LOSS_CASES, ids=lambda v: str(getattr(v, "name", v)))
def test_losses_match_eager(loss, act, kind):
    x, y = _data()
    if act == "relu":  # probabilities through a relu output: keep them positive
        x = np.abs(x)
    t = _targets(y, kind)
    metrics = ["accuracy"] if kind == "sparse" else ["mae"]
    a, b = _pair(functional_mlp(act), lambda: dict(optimizer="adam", loss=loss,
                                                    metrics=metrics))
    ha, hb = _fit_both(a, b, x, t)
    _assert_same_history(ha, hb)
    _assert_same_state(a, b)
    np.testing.assert_allclose(a.predict(x, verbose=0), b.predict(x, verbose=0), rtol=RTOL,
                               atol=ATOL)
    assert a._plan_runner.last["predict"] == "plan"
    np.testing.assert_allclose(a.evaluate(x, t, verbose=0), b.evaluate(x, t, verbose=0),
                               rtol=RTOL, atol=ATOL)
    assert a._plan_runner.last["test"] == "plan"


OPTIMIZERS = [
    lambda: keras.optimizers.SGD(0.05),
    lambda: keras.optimizers.SGD(0.05, momentum=0.9),
    lambda: keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
    lambda: keras.optimizers.SGD(0.05, weight_decay=0.01),
    lambda: keras.optimizers.Adam(0.01),
    lambda: keras.optimizers.Adam(0.01, amsgrad=True),
    lambda: keras.optimizers.AdamW(0.01, weight_decay=0.05),
    lambda: keras.optimizers.RMSprop(0.01),
    lambda: keras.optimizers.RMSprop(0.01, momentum=0.5, centered=True),
    lambda: keras.optimizers.Adam(keras.optimizers.schedules.ExponentialDecay(0.01, 2, 0.5)),
]


@pytest.mark.parametrize("make_opt", OPTIMIZERS)
def test_optimizers_match_eager(make_opt):
    x, y = _data()
    a, b = _pair(seq_mlp(act_out="linear"), lambda: dict(
        optimizer=make_opt(),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"]))
    ha, hb = _fit_both(a, b, x, y, epochs=3)
    _assert_same_history(ha, hb)
    _assert_same_state(a, b)
    assert int(a.optimizer.iterations.numpy()) == int(b.optimizer.iterations.numpy()) == 9


@pytest.mark.parametrize("build", [
    seq_mlp(dropout=0.4), functional_mlp(dropout=0.3), seq_mlp(input_shape=False),
    seq_mlp(kernel_regularizer=keras.regularizers.l2(0.01),
            bias_regularizer=keras.regularizers.l1(0.02)),
], ids=["seq-dropout", "functional-dropout", "seq-unbuilt", "regularizers"])
def test_seed_mlps_match_eager(build):
    """Seeds 000/002/003/004: Sequential/functional MLPs, with Dropout (the same masks as
    eager: the same SeedGenerator/global streams), an unbuilt Sequential (its first
    step builds it eagerly), kernel/bias regularizers."""
    x, y = _data()
    sw = np.random.default_rng(3).random(len(x)).astype(np.float32)
    a, b = _pair(build, lambda: dict(optimizer=keras.optimizers.RMSprop(0.005),
                                     loss="sparse_categorical_crossentropy",
                                     metrics=["accuracy"], weighted_metrics=["accuracy"]))
    ha, hb = _fit_both(a, b, x, y, sample_weight=sw, validation_data=(x[:40], y[:40]))
    _assert_same_history(ha, hb)
    _assert_same_state(a, b)
    np.testing.assert_allclose(a.predict(x, verbose=0), b.predict(x, verbose=0), rtol=RTOL,
                               atol=ATOL)


def test_branches_multiple_outputs_loss_weights():
    """A functional graph with a shared input used twice, Add, Concatenate, Reshape,
    Activation/ReLU layers, two outputs with their own losses and loss_weights."""
    def build():
        inp = keras.Input((12,))
        h = layers.Dense(16, activation="relu")(inp)
        g = layers.Dense(16)(inp)
        s = layers.Add()([h, g, h])
        s = layers.ReLU()(s)
        c = layers.Concatenate()([s, layers.Activation("tanh")(g)])
        c = layers.Reshape((4, 8))(c)
        c = layers.Flatten()(c)
        out1 = layers.Dense(3, activation="softmax", name="cls")(c)
        out2 = layers.Dense(2, name="reg")(layers.Dropout(0.2)(s))
        return keras.Model(inp, [out1, out2])

    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, 12)).astype(np.float32)
    y1 = rng.integers(0, 3, 64)
    y2 = rng.standard_normal((64, 2)).astype(np.float32)
    a, b = _pair(build, lambda: dict(optimizer="adam",
                                     loss=["sparse_categorical_crossentropy", "mse"],
                                     loss_weights=[1.0, 0.5],
                                     metrics=[["accuracy"], ["mae"]]))
    ha, hb = _fit_both(a, b, x, [y1, y2], batch_size=16)
    assert {"cls_loss", "reg_loss", "cls_accuracy", "reg_mae"} <= set(ha.history)
    _assert_same_history(ha, hb)
    _assert_same_state(a, b)
    pa, pb = a.predict(x, verbose=0), b.predict(x, verbose=0)
    for u, v in zip(pa, pb):
        np.testing.assert_allclose(u, v, rtol=RTOL, atol=ATOL)


def test_train_on_batch_and_test_on_batch_match_eager():
    x, y = _data(32)
    a, b = _pair(seq_mlp(act_out="linear"), lambda: dict(optimizer="sgd", loss=keras.losses.
                                         SparseCategoricalCrossentropy(from_logits=True),
                                         metrics=["accuracy"]))
    for _ in range(3):
        np.testing.assert_allclose(a.train_on_batch(x, y, return_dict=True)["loss"],
                                   b.train_on_batch(x, y, return_dict=True)["loss"], rtol=RTOL)
    np.testing.assert_allclose(a.test_on_batch(x, y), b.test_on_batch(x, y), rtol=RTOL)
    np.testing.assert_allclose(a.predict_on_batch(x), b.predict_on_batch(x), rtol=RTOL,
                               atol=ATOL)
    _assert_same_state(a, b)
    assert a._plan_runner.last == {"train": "plan", "test": "plan", "predict": "plan"}


# ---- steps_per_execution ----------------------------------------------------------------------
class _Recorder(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.events = []

    def on_train_batch_begin(self, batch, logs=None):
        self.events.append(("begin", batch))

    def on_train_batch_end(self, batch, logs=None):
        self.events.append(("end", batch, round(logs["loss"], 5)))

    def on_test_batch_begin(self, batch, logs=None):
        self.events.append(("test_begin", batch))

    def on_test_batch_end(self, batch, logs=None):
        self.events.append(("test_end", batch))

    def on_predict_batch_end(self, batch, logs=None):
        self.events.append(("predict_end", batch, len(logs["outputs"])))


@pytest.mark.parametrize("eager", [False, True])
def test_steps_per_execution_callbacks(eager):
    """As Keras 3's EpochIterator: batch callbacks once per execution, begin at its first
    step, end at first + N - 1 (also for a short last execution), logs after its last
    step; the same training as N=1."""
    x, y = _data(10 * 8)  # 10 batches of 8
    ref, m = _pair(seq_mlp(act_out="linear"), lambda: dict(optimizer="adam", loss=keras.losses.
                                           SparseCategoricalCrossentropy(from_logits=True)))
    ref.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(
        from_logits=True), run_eagerly=True)
    m.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(
        from_logits=True), run_eagerly=eager, steps_per_execution=3)
    rec = _Recorder()
    h = m.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False, callbacks=[rec])
    href = ref.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    assert [e[:2] for e in rec.events] == [("begin", 0), ("end", 2), ("begin", 3), ("end", 5),
                                           ("begin", 6), ("end", 8), ("begin", 9), ("end", 11)]
    np.testing.assert_allclose(h.history["loss"], href.history["loss"], rtol=RTOL)
    _assert_same_state(m, ref)
    if not eager:
        assert m._plan_runner.last["train"] == "plan"
    rec.events.clear()
    m.evaluate(x, y, batch_size=8, verbose=0, callbacks=[rec])
    assert rec.events == [("test_begin", 0), ("test_end", 2), ("test_begin", 3),
                          ("test_end", 5), ("test_begin", 6), ("test_end", 8),
                          ("test_begin", 9), ("test_end", 11)]
    rec.events.clear()
    out = m.predict(x, batch_size=8, verbose=0, callbacks=[rec])
    assert rec.events == [("predict_end", 2, 24), ("predict_end", 5, 24),
                          ("predict_end", 8, 24), ("predict_end", 11, 8)]
    np.testing.assert_allclose(out, ref.predict(x, batch_size=8, verbose=0), rtol=RTOL,
                               atol=ATOL)


def test_steps_per_execution_validation():
    m = seq_mlp()()
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="steps_per_execution"):
            m.compile(loss="mse", steps_per_execution=bad)
    with pytest.raises(ValueError, match="jit_compile"):
        m.compile(loss="mse", jit_compile="xla")
    m.compile(loss="mse", steps_per_execution=4)
    assert m.get_compile_config()["steps_per_execution"] == 4


# ---- the arena ------------------------------------------------------------------------------
def test_arena_allocated_once_per_signature():
    x, y = _data(100)
    keras.utils.set_random_seed(0)
    m = functional_mlp()()
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    m.fit(x, y, batch_size=32, epochs=3, verbose=0)
    runner = m._plan_runner
    train_plans = [pb for key, pb in runner.plans.items() if key[0] == 2]
    assert len(train_plans) == 2  # batch 32 and the last batch of 4
    for pb in train_plans:
        assert pb.plan.arena_allocations == 1
    full = next(pb for key, pb in runner.plans.items() if key[1] == ((32, 20),))
    assert full.plan.runs == 9  # 3 full batches per epoch, the same plan and arena
    m.fit(x, y, batch_size=32, epochs=1, verbose=0)
    assert full.plan.runs == 12 and full.plan.arena_allocations == 1
    # the arena is planned by liveness: smaller than every buffer laid end to end
    assert full.plan.arena_floats > 0



def test_a_resnet_step_allocates_no_per_step_arrays():
    """After warm-up, a planned training step of a W2-like model (convs, max pooling, a
    residual add, global average pooling, Dense, Dropout) allocates no numpy array of a
    batch's size on the Python side: the residual add, the gradient sums and the dropout
    draws live in the plan's arena or in buffers kept with the plan."""
    import tracemalloc

    rng = np.random.default_rng(0)
    x = rng.random((32, 16, 16, 3), dtype=np.float32)
    t = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 32)]
    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(16, 16, 3))
    h = layers.MaxPooling2D(2)(layers.Conv2D(16, 3, activation="relu")(inputs))
    h = layers.add([layers.Conv2D(16, 3, padding="same", activation="relu")(h), h])
    h = layers.Dropout(0.5)(layers.Dense(1024, activation="relu")(
        layers.GlobalAveragePooling2D()(h)))
    m = keras.Model(inputs, layers.Dense(10, activation="softmax")(h))
    m.compile(optimizer="rmsprop", loss="categorical_crossentropy")
    for _ in range(3):
        m.train_on_batch(x, t)
    assert m._plan_runner.last["train"] == "plan"
    # the smallest batch-sized buffers: the dropout draw (32 x 1024 float64: 256 KiB) and
    # the residual add (32 x 7 x 7 x 16 float32: 98 KiB)
    tracemalloc.start()
    try:
        for _ in range(4):
            m.train_on_batch(x, t)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024, peak
    assert all(pb.plan.arena_allocations == 1 for pb in m._plan_runner.plans.values())


def test_per_instruction_profile():
    x, y = _data(64)
    keras.utils.set_random_seed(0)
    m = functional_mlp()()
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    m.train_on_batch(x, y)
    pb = next(iter(m._plan_runner.plans.values()))
    assert not pb.plan.profiling and fplan.profile(m) == []  # off by default
    fplan.set_profiling(m, True)
    for _ in range(3):
        m.train_on_batch(x, y)
    rows = fplan.profile(m)
    assert rows and all(r[0] == "train" and r[5] == 3 and r[4] >= 0.0 for r in rows)
    assert {r[1] for r in rows} == {"forward", "loss", "backward", "update"}
    dense = [lay.name for lay in m.layers if isinstance(lay, layers.Dense)]
    assert {r[2] for r in rows if r[1] == "forward"} == set(dense)
    assert {r[3] for r in rows if r[1] == "forward"} == {"dense"}
    assert {r[2] for r in rows if r[1] == "update"} == {w.path for w in m.trainable_weights}
    assert sum(r[1] == "backward" for r in rows) == len(dense)
    fplan.set_profiling(m, False)
    m.train_on_batch(x, y)
    assert fplan.profile(m) == [] and not pb.plan.profiling


def test_eager_code_sees_the_planned_weights():
    """The plan updates the Variables' own buffers; set_weights between steps is seen."""
    x, y = _data(32)
    a, b = _pair(seq_mlp(), lambda: dict(optimizer="sgd", loss="sparse_categorical_crossentropy"))
    a.train_on_batch(x, y)
    b.train_on_batch(x, y)
    _assert_same_state(a, b)
    new = [w * 0.5 for w in a.get_weights()]
    a.set_weights(new)
    b.set_weights(new)
    a.train_on_batch(x, y)
    b.train_on_batch(x, y)
    _assert_same_state(a, b)
    # freezing a layer after compile: the plan is rebuilt for the new trainable set
    a.layers[0].trainable = False
    b.layers[0].trainable = False
    frozen = a.layers[0].kernel.numpy().copy()
    a.train_on_batch(x, y)
    b.train_on_batch(x, y)
    np.testing.assert_array_equal(a.layers[0].kernel.numpy(), frozen)
    for wa, wb in zip(a.weights, b.weights):
        np.testing.assert_allclose(wa.numpy(), wb.numpy(), rtol=RTOL, atol=ATOL)


# ---- fallbacks ------------------------------------------------------------------------------
class _CustomStep(keras.Model):
    def train_step(self, data):
        return super().train_step(data)


def _functional(extra=None):
    inp = keras.Input((20,))
    x = layers.Dense(8, activation="relu")(inp)
    if extra is not None:
        x = extra(x)
    return inp, layers.Dense(5)(x)


FALLBACKS = [
    (lambda: keras.Model(*_functional()), dict(run_eagerly=True), "run_eagerly=True"),
    (lambda: keras.Model(*_functional()), dict(jit_compile=False), "jit_compile=False"),
    (lambda: _CustomStep(*_functional()), {}, "overrides train_step"),
    (lambda: keras.Model(*_functional(layers.LayerNormalization())), {},
     "LayerNormalization"),
    (lambda: keras.Model(*_functional(layers.Activation("gelu"))), {}, "gelu"),
    (lambda: keras.Model(*_functional()), dict(optimizer="nadam"), "Nadam"),
    (lambda: keras.Model(*_functional()), dict(optimizer=keras.optimizers.SGD(clipnorm=1.0)),
     "clipnorm"),
    (lambda: keras.Model(*_functional()), dict(optimizer=keras.optimizers.Adam(use_ema=True)),
     "use_ema"),
    (lambda: keras.Model(*_functional()), dict(loss="huber", _onehot=True), "huber"),
    (lambda: keras.Model(*_functional()), dict(loss=lambda t, p: keras.ops.mean(p)),
     "not one the plan implements"),
    (lambda: keras.Model(*_functional()),
     dict(loss=keras.losses.SparseCategoricalCrossentropy(ignore_class=0)), "ignore_class"),
]


@pytest.mark.parametrize("build,kw,reason", FALLBACKS, ids=[f[2] for f in FALLBACKS])
def test_fallback_reasons_and_same_training(build, kw, reason):
    """Anything the plan cannot do exactly trains eagerly, says why, and still trains."""
    x, y = _data(64)
    keras.utils.set_random_seed(0)
    m = build()
    compile_kw = dict(optimizer="sgd",
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    compile_kw.update(kw)
    if compile_kw.pop("_onehot", False):
        y = np.eye(5, dtype=np.float32)[y]
    m.compile(**compile_kw)
    before = [w.copy() for w in m.get_weights()]
    m.fit(x, y, batch_size=32, epochs=1, verbose=0)
    assert reason in (m._plan_status() or ""), m._plan_status()
    assert m._plan_runner is None or m._plan_runner.last.get("train", reason) != "plan"
    assert any(not np.array_equal(u, v) for u, v in zip(before, m.get_weights()))


def test_data_fallbacks_keep_eager_errors():
    """Data the plan does not take runs eagerly, which raises its own error."""
    x, y = _data(32)
    m = seq_mlp()()
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="labels must be in"):
        m.train_on_batch(x, y + 10)
    assert m._plan_runner.last["train"] == "labels out of range"
    with pytest.raises(ValueError):
        m.train_on_batch(x, np.zeros((32, 3), np.float32))
    m.train_on_batch(x, y)
    assert m._plan_runner.last["train"] == "plan"


def test_subclassed_model_runs_on_the_plan():
    """Its call traced to a graph (tests/test_plan_subclassed.py has the rest)."""
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.d = layers.Dense(5)

        def call(self, x):
            return self.d(x)

    x, y = _data(32)
    m = Net()
    m.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    m.fit(x, y, verbose=0)
    assert m._plan_status() is None
    assert m._plan_runner.last["train"] == "plan"


def test_jit_compile_true_on_an_unsupported_model_warns_and_runs_eagerly():
    """As Keras 3: "Model doesn't support `jit_compile=True`", then the eager path."""
    m = keras.Model(*_functional(layers.LayerNormalization()))
    with pytest.warns(UserWarning, match="jit_compile=True.*LayerNormalization"):
        m.compile(optimizer="sgd", loss="mse", jit_compile=True)
    assert m._plan_status() == "jit_compile=False"
    m2 = keras.Model(*_functional())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m2.compile(optimizer="sgd", loss="mse", jit_compile=True)
    assert m2._plan_status() is None
    with pytest.warns(UserWarning, match="run_eagerly"):
        m2.compile(optimizer="sgd", loss="mse", jit_compile=True, run_eagerly=True)


# ---- convolutional seed models --------------------------------------------------------------
def toy_resnet(bn=False, size=16, width=8):
    """Seed 004 §7.2's toy ResNet (CIFAR-10 shapes scaled down), optionally with
    BatchNormalization in a block."""
    def build():
        inputs = keras.Input(shape=(size, size, 3), name="img")
        x = layers.Conv2D(width, 3, activation="relu")(inputs)
        x = layers.Conv2D(2 * width, 3, activation="relu")(x)
        block_1_output = layers.MaxPooling2D(3)(x)
        x = layers.Conv2D(2 * width, 3, activation="relu", padding="same")(block_1_output)
        x = layers.Conv2D(2 * width, 3, padding="same", activation=None if bn else "relu")(x)
        if bn:
            x = layers.BatchNormalization()(x)
            x = layers.Activation("relu")(x)
        block_2_output = layers.add([x, block_1_output])
        x = layers.Conv2D(2 * width, 3, activation="relu", padding="same")(block_2_output)
        x = layers.Conv2D(2 * width, 3, activation="relu", padding="same")(x)
        block_3_output = layers.add([x, block_2_output])
        x = layers.Conv2D(2 * width, 3, activation="relu")(block_3_output)
        x = layers.GlobalAveragePooling2D()(x)
        x = layers.Dense(32, activation="relu")(x)
        x = layers.Dropout(0.5)(x)
        outputs = layers.Dense(10, activation="softmax")(x)
        return keras.Model(inputs, outputs, name="toy_resnet")
    return build


def encoder_cnn():
    """bench/train.py's CNN (the encoder's conv stack) with a strided conv, average pooling
    with 'same' padding and global max pooling."""
    def build():
        inputs = keras.Input(shape=(20, 20, 1))
        x = layers.Conv2D(8, 3, activation="relu")(inputs)
        x = layers.Conv2D(8, 3, strides=2, padding="same", activation="tanh")(x)
        x = layers.AveragePooling2D(2, padding="same")(x)
        x = layers.Conv2D(8, 3, activation="sigmoid", dilation_rate=1)(x)
        x = layers.MaxPooling2D(2, strides=1)(x)
        x = layers.GlobalMaxPooling2D()(x)
        return keras.Model(inputs, layers.Dense(10)(x))
    return build


@pytest.mark.parametrize("build,loss,onehot", [
    (toy_resnet(), "categorical_crossentropy", True),
    (toy_resnet(bn=True), "categorical_crossentropy", True),
    (encoder_cnn(), keras.losses.SparseCategoricalCrossentropy(from_logits=True), False),
], ids=["toy-resnet", "toy-resnet-bn", "encoder-cnn"])
def test_conv_models_match_eager(build, loss, onehot):
    """SGD with momentum: sign-like updates (RMSprop/Adam) would turn float-rounding
    differences of near-zero gradients (a conv bias before BatchNormalization) into
    visible weight differences."""
    rng = np.random.default_rng(2)
    shape = tuple(build().inputs[0].shape[1:])
    x = rng.random((24,) + shape, dtype=np.float32)
    y = rng.integers(0, 10, 24)
    t = np.eye(10, dtype=np.float32)[y] if onehot else y
    a, b = _pair(build, lambda: dict(optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
                                     loss=loss, metrics=["acc"]))
    ha, hb = _fit_both(a, b, x, t, batch_size=8, epochs=2)
    _assert_same_history(ha, hb)
    _assert_same_state(a, b)  # BatchNormalization's moving statistics included
    np.testing.assert_allclose(a.predict(x, verbose=0), b.predict(x, verbose=0), rtol=RTOL,
                               atol=ATOL)
    np.testing.assert_allclose(a.evaluate(x, t, verbose=0), b.evaluate(x, t, verbose=0),
                               rtol=RTOL, atol=ATOL)
    assert a._plan_runner.last == {"train": "plan", "test": "plan", "predict": "plan"}



def cropped_cnn():
    """Valid convolutions whose readers leave rows unread: Conv2D 17->15->13 under a
    MaxPooling2D(3) that reads 12 of the 13 rows (so the first conv needs 14 of 15); a
    ReLU conv read by a pooling with overlapping windows (the ReLU mask moved into the
    pooling's backward); a conv output read by two readers, a strided conv and a
    pooling, that read different extents."""
    def build():
        inputs = keras.Input(shape=(17, 17, 2))
        x = layers.Conv2D(4, 3, activation="relu")(inputs)
        x = layers.Conv2D(6, 3, activation="relu")(x)
        x = layers.MaxPooling2D(3)(x)
        y = layers.MaxPooling2D(3, strides=1)(layers.Conv2D(6, 1, activation="relu")(x))
        x = layers.Conv2D(6, 1, activation="relu")(x)
        z = layers.Conv2D(6, 3, strides=2, activation="tanh")(x)  # reads 5 of 5 rows
        p = layers.GlobalAveragePooling2D()(layers.AveragePooling2D(2)(x))  # reads 4
        a = layers.Conv2D(5, 2, activation="relu")(y)
        out = layers.add([layers.GlobalAveragePooling2D()(a), layers.Dense(5)(
            layers.GlobalMaxPooling2D()(z)), layers.Dense(5)(p)])
        return keras.Model(inputs, layers.Dense(10, activation="softmax")(out))
    return build


def test_unread_conv_rows_are_cropped_and_train_as_eager():
    rng = np.random.default_rng(5)
    x = rng.random((16, 17, 17, 2), dtype=np.float32)
    t = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 16)]
    a, b = _pair(cropped_cnn(), lambda: dict(optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
                                             loss="categorical_crossentropy"))
    ha, hb = _fit_both(a, b, x, t, batch_size=8, epochs=2)
    _assert_same_history(ha, hb)
    _assert_same_state(a, b)
    np.testing.assert_allclose(a.predict(x, verbose=0), b.predict(x, verbose=0), rtol=RTOL,
                               atol=ATOL)
    assert a._plan_runner.last == {"train": "plan", "predict": "plan"}
    train = next(pb for key, pb in a._plan_runner.plans.items() if key[0] == 2)
    names = [lay.name for lay in a.layers if isinstance(lay, layers.Conv2D)]
    # 15 -> 14 rows for the first conv, 13 -> 12 for the second; the 1x1 convs' outputs
    # (5x5 after the 12-row pooling) are read whole (by the stride-1 pooling; by the
    # strided conv, beside an average pooling reading 4 rows)
    assert train.cropped == {names[0]: ((8, 15, 15, 4), (8, 14, 14, 4)),
                             names[1]: ((8, 13, 13, 6), (8, 12, 12, 6))}
    # the ReLU masks applied by the max poolings' backward: a pooling in blocks (3, 3) and
    # one with overlapping windows (3, stride 1)
    assert train.relu_under_max_pool == sorted([names[1], names[2]])



def conv_autoencoder():
    """Seed 004's autoencoder as one functional graph (28x28 scaled to 16x16 images):
    the conv encoder, Reshape, Conv2DTranspose and UpSampling2D back to the image, and a
    strided 'same' Conv2DTranspose."""
    def build():
        img = keras.Input(shape=(16, 16, 1), name="img")
        x = layers.Conv2D(8, 3, activation="relu")(img)
        x = layers.Conv2D(8, 3, activation="relu")(x)
        x = layers.MaxPooling2D(3)(x)
        x = layers.Conv2D(8, 3, activation="relu")(x)
        x = layers.Conv2D(16, 2, activation="relu")(x)
        x = layers.GlobalMaxPooling2D()(x)
        x = layers.Reshape((2, 2, 4))(x)
        x = layers.UpSampling2D(2)(x)
        x = layers.Conv2DTranspose(8, 3, activation="relu")(x)
        x = layers.Conv2DTranspose(8, 3, activation="relu")(x)
        x = layers.Conv2DTranspose(8, 3, strides=2, padding="same", activation="tanh")(x)
        out = layers.Conv2DTranspose(1, 1, activation="sigmoid")(x)
        return keras.Model(img, out, name="autoencoder")
    return build


@pytest.mark.parametrize("build", [toy_resnet(size=17), conv_autoencoder()],
                         ids=["toy-resnet", "autoencoder"])
def test_side_by_side_conv_gradients_give_the_same_bits(build):
    """On two threads the plan runs a convolution's input and kernel gradients side by
    side (each kernel on one thread); in determinism mode that gives the same bits as
    one after the other, each split over both threads."""
    rng = np.random.default_rng(6)
    shape = tuple(build().inputs[0].shape[1:])
    x = rng.random((8,) + shape, dtype=np.float32)
    t = (np.eye(10, dtype=np.float32)[rng.integers(0, 10, 8)] if shape[-1] == 3 else x)
    threads = keras.config.get_num_threads()
    keras.config.set_num_threads(2)
    keras.config.enable_determinism()
    try:
        weights = []
        for pairs in (True, False):
            keras.utils.set_random_seed(3)
            m = build()
            m.compile(optimizer="adam", loss="categorical_crossentropy" if shape[-1] == 3
                      else "mse")
            m.train_on_batch(x, t)
            pb = next(iter(m._plan_runner.plans.values()))
            pb.plan.concurrent_pairs = pairs
            keras.utils.set_random_seed(4)
            for _ in range(3):
                m.train_on_batch(x, t)
            assert m._plan_runner.last["train"] == "plan"
            weights.append([w.numpy() for w in m.weights])
    finally:
        keras.config.disable_determinism()
        keras.config.set_num_threads(threads)
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)


def test_cross_entropy_on_a_conv_sigmoid_output_runs_eagerly():
    """Eager computes it from the sigmoid's logits (Keras on TensorFlow); the plan fuses
    that only for a Dense, so this model trains eagerly and says why."""
    x = np.random.default_rng(4).random((8, 16, 16, 1), dtype=np.float32)
    m = conv_autoencoder()()
    m.compile(optimizer="adam", loss="binary_crossentropy")
    m.fit(x, x, batch_size=4, epochs=1, verbose=0)
    assert "computed from the logits" in m._plan_runner.last["train"]


@pytest.mark.parametrize("loss", ["mse"])
def test_conv_autoencoder_matches_eager(loss):
    x = np.random.default_rng(4).random((12, 16, 16, 1), dtype=np.float32)
    a, b = _pair(conv_autoencoder(), lambda: dict(optimizer="adam", loss=loss))
    ha, hb = _fit_both(a, b, x, x, batch_size=4, epochs=2)
    _assert_same_history(ha, hb)
    _assert_same_state(a, b)
    np.testing.assert_allclose(a.predict(x, verbose=0), b.predict(x, verbose=0), rtol=RTOL,
                               atol=ATOL)
    assert a._plan_runner.last["predict"] == "plan"


def test_frozen_batch_normalization_runs_eagerly_and_frozen_dense_plans():
    """A frozen BatchNormalization inside a trained graph (inference statistics, whose
    backward the plan does not have) trains eagerly; a frozen Dense is planned (no
    update for its weights, its input gradient still flows)."""
    def build(freeze_bn):
        inp = keras.Input((6, 6, 2))
        x = layers.Conv2D(4, 3)(inp)
        bn = layers.BatchNormalization()
        x = bn(x)
        x = layers.GlobalAveragePooling2D()(x)
        d = layers.Dense(4, activation="relu")
        x = d(x)
        m = keras.Model(inp, layers.Dense(3)(x))
        (bn if freeze_bn else d).trainable = False
        return m

    x = np.random.default_rng(5).random((8, 6, 6, 2), dtype=np.float32)
    y = np.arange(8) % 3
    for freeze_bn in (True, False):
        a, b = _pair(lambda freeze_bn=freeze_bn: build(freeze_bn), lambda: dict(
            optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)))
        a.fit(x, y, verbose=0, epochs=2, shuffle=False)
        b.fit(x, y, verbose=0, epochs=2, shuffle=False)
        if freeze_bn:
            assert "frozen" in a._plan_runner.last["train"]
        else:
            assert a._plan_runner.last["train"] == "plan"
        _assert_same_state(a, b)


# ---- sequence models: Embedding, LSTM, GRU -------------------------------------------------
VOCAB = 40


def ticket_model(title_units=12, body_units=6, tags=5, depts=4, dtype="float32"):
    """The W3 seed workload (bench/workloads.py keras_ticket) at small sizes: Embedding +
    LSTM over a title and over a body (time axes of any length), concatenated with tags,
    a sigmoid priority head and a softmax department head."""
    def build():
        title = keras.Input(shape=(None,), name="title", dtype=dtype)
        body = keras.Input(shape=(None,), name="body", dtype=dtype)
        tag = keras.Input(shape=(tags,), name="tags")
        tf = layers.LSTM(title_units)(layers.Embedding(VOCAB, 8, name="title_words")(title))
        bf = layers.LSTM(body_units)(layers.Embedding(VOCAB, 8, name="body_words")(body))
        x = layers.concatenate([tf, bf, tag])
        priority = layers.Dense(1, activation="sigmoid", name="priority")(x)
        department = layers.Dense(depts, activation="softmax", name="department")(x)
        return keras.Model([title, body, tag], [priority, department], name="ticket")
    return build


def _ticket_data(n, title_len=6, body_len=9, tags=5, depts=4, seed=0):
    rng = np.random.default_rng(seed)
    x = [rng.integers(0, VOCAB, (n, title_len)), rng.integers(0, VOCAB, (n, body_len)),
         rng.integers(0, 2, (n, tags)).astype(np.float32)]
    y = [rng.random((n, 1), dtype=np.float32),
         np.eye(depts, dtype=np.float32)[rng.integers(0, depts, n)]]
    return x, y


def _ticket_compile():
    return dict(optimizer=keras.optimizers.RMSprop(1e-3),
                loss=["binary_crossentropy", "categorical_crossentropy"], loss_weights=[1.0, 0.2])


@pytest.mark.parametrize("dtype", ["float32", "int32"])
def test_ticket_model_matches_eager(dtype):
    """W3 on the plan: integer arrays into float32 (or int32) Inputs, `None` time axes (a
    plan per sequence length), the same weights, slots, losses, evaluate and predict as
    eagerly."""
    a, b = _pair(ticket_model(dtype=dtype), _ticket_compile)
    assert fplan.status(a) is None
    x, y = _ticket_data(64)
    ha, hb = _fit_both(a, b, x, y, batch_size=16, epochs=2)
    _assert_same_history(ha, hb)
    _assert_same_state(a, b)
    # other sequence lengths: plans of their own, the same numbers
    for title_len, body_len in ((3, 11), (1, 2)):
        x2, y2 = _ticket_data(16, title_len, body_len, seed=title_len)
        la, lb = a.train_on_batch(x2, y2), b.train_on_batch(x2, y2)
        assert a._plan_runner.last["train"] == "plan"
        np.testing.assert_allclose(la, lb, rtol=RTOL, atol=ATOL)
    assert {key[1][:2] for key in a._plan_runner.plans if key[0] == fplan.TRAIN} == {
        ((16, 6), (16, 9)), ((16, 3), (16, 11)), ((16, 1), (16, 2))}
    _assert_same_state(a, b)
    np.testing.assert_allclose(a.evaluate(x, y, verbose=0, batch_size=32),
                               b.evaluate(x, y, verbose=0, batch_size=32), rtol=RTOL, atol=ATOL)
    assert a._plan_runner.last["test"] == "plan"
    for pa, pb in zip(a.predict(x, verbose=0), b.predict(x, verbose=0)):
        np.testing.assert_allclose(pa, pb, rtol=RTOL, atol=ATOL)
    assert a._plan_runner.last["predict"] == "plan"


def _seq_regressor(body, vocab=VOCAB):
    def build():
        inp = keras.Input(shape=(None,))
        x = layers.Embedding(vocab, 6)(inp)
        return keras.Model(inp, layers.Dense(3)(body(x)))
    return build


def _stacked(x):
    x = layers.LSTM(5, return_sequences=True)(x)
    return layers.LSTM(4)(x)


def _two_readers(x):  # one embedding read by two recurrences: its gradient accumulates
    return layers.concatenate([layers.LSTM(4)(x), layers.GRU(3)(x)])


def _frozen_lstm(x):  # no weight gradients, the input gradient still flows
    lstm = layers.LSTM(4)
    lstm.trainable = False
    return lstm(x)


def _sequence_dense(x):  # return_sequences into a Dense over (batch, steps, units)
    x = layers.GRU(4, return_sequences=True)(x)
    return layers.LSTM(3)(layers.Dense(2, activation="tanh")(x))


SEQ_BODIES = [
    ("lstm", lambda x: layers.LSTM(5)(x)),
    ("gru", lambda x: layers.GRU(5)(x)),
    ("lstm_no_bias", lambda x: layers.LSTM(5, use_bias=False)(x)),
    ("gru_no_bias", lambda x: layers.GRU(5, use_bias=False)(x)),
    ("simple_rnn", lambda x: layers.SimpleRNN(5)(x)),
    ("simple_rnn_relu_sequences", lambda x: layers.LSTM(3)(
        layers.SimpleRNN(4, activation="relu", return_sequences=True, use_bias=False)(x))),
    ("stacked_lstm", _stacked),
    ("two_readers", _two_readers),
    ("frozen_lstm", _frozen_lstm),
    ("gru_sequences_dense", _sequence_dense),
    ("l2_regularized", lambda x: layers.LSTM(5, kernel_regularizer="l2",
                                             recurrent_regularizer="l1")(x)),
]


@pytest.mark.parametrize("body", [b for _, b in SEQ_BODIES], ids=[n for n, _ in SEQ_BODIES])
@pytest.mark.parametrize("make_opt", [lambda: keras.optimizers.SGD(0.1),
                                      lambda: keras.optimizers.Adam(1e-2)], ids=["sgd", "adam"])
def test_recurrent_models_match_eager(body, make_opt):
    a, b = _pair(_seq_regressor(body), lambda: dict(optimizer=make_opt(), loss="mse"))
    rng = np.random.default_rng(3)
    x = rng.integers(0, VOCAB, (24, 7))
    y = rng.standard_normal((24, 3)).astype(np.float32)
    ha, hb = _fit_both(a, b, x, y, batch_size=8, epochs=2)
    _assert_same_history(ha, hb)
    _assert_same_state(a, b)
    np.testing.assert_allclose(a.predict(x, verbose=0), b.predict(x, verbose=0), rtol=RTOL,
                               atol=ATOL)
    assert a._plan_runner.last["predict"] == "plan"


def test_recurrent_forward_gives_the_eager_bits():
    """The plan calls the eager layers' own kernels: predictions are the same bits."""
    for cls in (layers.LSTM, layers.GRU, layers.SimpleRNN):
        for rs in (False, True):
            keras.utils.set_random_seed(4)
            inp = keras.Input(shape=(None,))
            m = keras.Model(inp, cls(6, return_sequences=rs)(layers.Embedding(VOCAB, 5)(inp)))
            x = np.random.default_rng(1).integers(0, VOCAB, (10, 4))
            p = m.predict(x, verbose=0)
            assert m._plan_runner.last["predict"] == "plan"
            np.testing.assert_array_equal(p, keras.ops.convert_to_numpy(m(x)))


def _stateful_lstm():
    inp = keras.Input(batch_shape=(8, 7))
    x = layers.Embedding(VOCAB, 6)(inp)
    return keras.Model(inp, layers.Dense(3)(layers.LSTM(4, stateful=True)(x)))


def _lstm_with_states():
    inp = keras.Input(shape=(None,))
    out, h, _ = layers.LSTM(4, return_state=True)(layers.Embedding(VOCAB, 6)(inp))
    return keras.Model(inp, layers.Dense(3)(layers.concatenate([out, h])))


SEQ_FALLBACKS = [
    (None, r"Embedding 'emb' with mask_zero=True", True),
    (_seq_regressor(lambda x: layers.LSTM(4, dropout=0.2)(x)), r"LSTM '\w+' with dropout=0.2",
     False),
    (_seq_regressor(lambda x: layers.GRU(4, recurrent_dropout=0.1)(x)),
     r"GRU '\w+' with recurrent_dropout=0.1", False),
    (_seq_regressor(lambda x: layers.LSTM(4, go_backwards=True)(x)),
     r"LSTM '\w+' with go_backwards=True", False),
    (_seq_regressor(lambda x: layers.LSTM(4, activation="relu")(x)),
     r"LSTM '\w+': activation/recurrent_activation", False),
    (_seq_regressor(lambda x: layers.GRU(4, recurrent_activation="hard_sigmoid")(x)),
     r"GRU '\w+': activation/recurrent_activation", False),
    (_seq_regressor(lambda x: layers.GRU(4, reset_after=False)(x)),
     r"GRU '\w+' with reset_after=False", False),
    (_seq_regressor(lambda x: layers.LSTM(4, kernel_constraint="non_neg")(x)),
     r"'\w+': weight 'kernel' has a constraint", False),
    (_seq_regressor(lambda x: layers.SimpleRNN(4, activation="elu")(x)),
     r"SimpleRNN '\w+': activation other than tanh", False),
    (_seq_regressor(lambda x: layers.Bidirectional(layers.LSTM(4))(x)),
     r"\(Bidirectional\) is not one the plan lowers", False),
    (_stateful_lstm, r"LSTM '\w+' with stateful=True", False),
    (_lstm_with_states, r"LSTM '\w+' with return_state=True", False),
]


@pytest.mark.parametrize("build,reason,mask_zero", SEQ_FALLBACKS,
                         ids=[f[1] for f in SEQ_FALLBACKS])
def test_sequence_fallbacks_name_the_layer_and_option(build, reason, mask_zero):
    """What the plan's Embedding / LSTM / GRU do not cover trains eagerly, saying why."""
    keras.utils.set_random_seed(0)
    if mask_zero:
        inp = keras.Input(shape=(None,))
        x = layers.Embedding(VOCAB, 6, mask_zero=True, name="emb")(inp)
        m = keras.Model(inp, layers.Dense(3)(layers.LSTM(4)(x)))
    else:
        m = build()
    m.compile(optimizer="sgd", loss="mse")
    rng = np.random.default_rng(0)
    x = rng.integers(0, VOCAB, (8, 7))
    y = rng.standard_normal((8, 3)).astype(np.float32)
    before = [w.copy() for w in m.get_weights()]
    m.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert re.search(reason, m._plan_status() or ""), m._plan_status()
    assert m._plan_runner.last.get("train") != "plan"
    assert any(not np.array_equal(u, v) for u, v in zip(before, m.get_weights()))


def test_embedding_constraint_runs_eagerly():
    inp = keras.Input(shape=(None,))
    x = layers.Embedding(VOCAB, 6, embeddings_constraint="unit_norm", name="emb")(inp)
    m = keras.Model(inp, layers.Dense(3)(layers.GRU(4)(x)))
    m.compile(optimizer="sgd", loss="mse")
    assert "'emb': weight 'embeddings' has a constraint" in m._plan_status()


def test_int32_input_read_by_another_layer_runs_eagerly():
    inp = keras.Input(shape=(4,), dtype="int32", name="ids")
    x = layers.concatenate([layers.Flatten()(layers.Embedding(VOCAB, 2)(inp)),
                            layers.Dense(2)(inp)])
    m = keras.Model(inp, layers.Dense(1)(x))
    m.compile(optimizer="sgd", loss="mse")
    assert "input 'ids' has dtype int32" in m._plan_status()


@pytest.mark.parametrize("dtype", ["float32", "int32"])
@pytest.mark.parametrize("bad", [VOCAB, -1, -0.5 - VOCAB, 1e6])
def test_bad_embedding_index_raises_the_eager_error(bad, dtype):
    """An index outside [0, input_dim) raises the eager Embedding's IndexError (naming the
    layer, the index and its position) from the plan, in fit, evaluate and predict;
    fractional float indices are truncated as the eager cast does."""
    a, b = _pair(ticket_model(dtype=dtype), _ticket_compile)
    x, y = _ticket_data(16)
    title = x[0].astype(np.float32)
    title[3, 2] = bad
    xb = [title] + x[1:]
    errors = []
    for m in (a, b):
        with pytest.raises(IndexError) as e:
            m.train_on_batch(xb, y)
        errors.append(str(e.value))
    assert a._plan_runner.last["train"] == "plan"
    assert errors[0] == errors[1]
    assert errors[0].startswith("Exception encountered when calling Functional 'ticket': "
                                "Embedding 'title_words' (input_dim=40): index ")
    assert "at position (3, 2) of the indices (16, 6)" in errors[0]
    for m in (a, b):
        with pytest.raises(IndexError, match="out of range"):
            m.predict(xb, verbose=0)
        with pytest.raises(IndexError, match="out of range"):
            m.evaluate(xb, y, verbose=0)
    assert a._plan_runner.last["predict"] == "plan"
    assert a._plan_runner.last["test"] == "plan"
    for wa, wb in zip(a.get_weights(), b.get_weights()):  # nothing was trained
        np.testing.assert_array_equal(wa, wb)
    title[3, 2] = 2.75  # -> index 2, as the eager cast to int32
    for pa, pb in zip(a.predict(xb, verbose=0), b.predict(xb, verbose=0)):
        np.testing.assert_allclose(pa, pb, rtol=RTOL, atol=ATOL)


def test_sequential_embedding_lstm_matches_eager():
    """A Sequential text classifier (Embedding, stacked LSTMs, softmax Dense)."""
    def build():
        return keras.Sequential([layers.Input((None,), dtype="int32"),
                                 layers.Embedding(VOCAB, 6),
                                 layers.LSTM(5, return_sequences=True), layers.LSTM(4),
                                 layers.Dense(3, activation="softmax")])

    a, b = _pair(build, lambda: dict(optimizer="adam", loss="sparse_categorical_crossentropy"))
    rng = np.random.default_rng(2)
    x = rng.integers(0, VOCAB, (32, 9))
    y = rng.integers(0, 3, 32)
    ha, hb = _fit_both(a, b, x, y, batch_size=8, epochs=2)
    _assert_same_history(ha, hb)
    _assert_same_state(a, b)
