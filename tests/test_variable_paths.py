"""Variable paths as Keras 3 fixes them: at creation, from the name scopes open then.

The expected strings are what Keras 3.15 (torch backend) prints for the same programs in
a fresh session (clear_session resets the auto-name counters, as a new process would);
the oracle test at the end builds the same models with explicit names in both libraries
and compares the path lists.
"""

import numpy as np
import pytest
from keras_peer import keras_or_skip

import fastnet
from fastnet import Input, layers, optimizers


def _paths(obj):
    return [w.path for w in obj.weights]


@pytest.fixture
def fresh():
    fastnet.backend.clear_session()
    yield
    fastnet.backend.clear_session()


def test_the_five_reference_cases_in_one_session(fresh):
    # the same program, in order, as run under Keras 3.15: the names count up across it
    seq = fastnet.Sequential([Input((4,)), layers.Dense(3, name="enc")])
    assert _paths(seq) == ["sequential/enc/kernel", "sequential/enc/bias"]
    i = Input((4,))
    func = fastnet.Model(i, layers.Dense(2)(i))  # built outside the model: no prefix
    assert _paths(func) == ["dense/kernel", "dense/bias"]
    d = layers.Dense(2)
    d.build((None, 4))
    assert _paths(d) == ["dense_1/kernel", "dense_1/bias"]

    class M(fastnet.Model):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.d = layers.Dense(2)

        def call(self, x):
            return self.d(x)

    m = M()
    m(np.ones((1, 4), np.float32))
    assert _paths(m) == ["m/dense_2/kernel", "m/dense_2/bias"]
    s = fastnet.Sequential([layers.Dense(3)])
    s.build((None, 4))
    assert _paths(s) == ["sequential_1/dense_3/kernel", "sequential_1/dense_3/bias"]
    # the layer's own path (Keras's Layer.path): its scopes when it was built
    assert seq.layers[0].path == "sequential/enc" and m.d.path == "m/dense_2"
    assert layers.Dense(1).path is None  # not built yet


class _Outer(fastnet.Model):
    def __init__(self, inner, **kw):
        super().__init__(**kw)
        self.inner = inner

    def call(self, x):
        return self.inner(x)


def test_nested_models(fresh):
    # a Sequential without an Input, built by the subclassed model's first call
    inner = fastnet.Sequential([layers.Dense(3, name="a"), layers.Dense(2, name="b")],
                               name="inner")
    outer = _Outer(inner, name="outer")
    outer(np.ones((1, 4), np.float32))
    assert _paths(outer) == ["outer/inner/a/kernel", "outer/inner/a/bias",
                             "outer/inner/b/kernel", "outer/inner/b/bias"]
    # a Sequential with an Input builds when it is made, outside the outer model
    built = fastnet.Sequential([Input((4,)), layers.Dense(3, name="a2")], name="inner2")
    outer2 = _Outer(built, name="outer2")
    outer2(np.ones((1, 4), np.float32))
    assert _paths(outer2) == ["inner2/a2/kernel", "inner2/a2/bias"]
    # a functional model inside a Sequential keeps its own (unprefixed) paths
    i = Input((4,), name="x")
    f = fastnet.Model(i, layers.Dense(2, name="fd")(i), name="func")
    top = fastnet.Sequential([Input((4,)), f, layers.Dense(1, name="head")], name="top")
    assert _paths(top) == ["fd/kernel", "fd/bias", "top/head/kernel", "top/head/bias"]


def test_a_reused_layer_keeps_the_path_of_its_first_build(fresh):
    shared = layers.Dense(2, name="shared")
    a = fastnet.Sequential([Input((4,)), shared], name="sa")
    b = fastnet.Sequential([Input((4,)), shared], name="sb")
    assert _paths(a) == _paths(b) == ["sa/shared/kernel", "sa/shared/bias"]
    # built on its own first: no model prefix, whatever model it joins
    alone = layers.Dense(2, name="alone")
    alone.build((None, 4))
    model = fastnet.Sequential([Input((4,)), alone], name="later")
    assert _paths(model) == ["alone/kernel", "alone/bias"]


def test_custom_layers_sublayers_and_weights_made_in_init(fresh):
    class Block(layers.Layer):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.inner = layers.Dense(2, name="inn")
            self.w = self.add_weight(shape=(2,), name="w_init")  # no scope open yet

        def build(self, shape):
            self.w2 = self.add_weight(shape=(2,), name="w_build")
            self.inner.build(shape)  # a sub-layer built from build: under this layer

        def call(self, x):
            return self.inner(x) + self.w + self.w2

    model = fastnet.Sequential([Input((4,)), Block(name="cust")], name="cs")
    assert _paths(model) == ["cust/w_init", "cs/cust/w_build", "cs/cust/inn/kernel",
                             "cs/cust/inn/bias"]
    block = Block(name="solo")
    block.build((None, 4))  # a direct build runs in the layer's own scope too
    assert _paths(block) == ["solo/w_init", "solo/w_build", "solo/inn/kernel",
                             "solo/inn/bias"]


def test_recurrent_wrappers_and_normalization(fresh):
    lstm = fastnet.Sequential([Input((5, 4)), layers.LSTM(3, name="lstm")], name="rs")
    assert _paths(lstm) == ["rs/lstm/lstm_cell/kernel", "rs/lstm/lstm_cell/recurrent_kernel",
                            "rs/lstm/lstm_cell/bias"]
    bi = fastnet.Sequential([Input((5, 4)), layers.Bidirectional(
        layers.LSTM(3, name="l2"), name="bi")], name="bs")
    assert _paths(bi) == [f"bs/bi/{d}_l2/lstm_cell/{n}" for d in ("forward", "backward")
                          for n in ("kernel", "recurrent_kernel", "bias")]
    stacked = fastnet.Sequential([Input((5, 4)), layers.RNN(layers.StackedRNNCells(
        [layers.GRUCell(3, name="g1"), layers.SimpleRNNCell(2, name="s2")], name="stk"),
        name="r")], name="st")
    assert _paths(stacked) == [f"st/r/stk/{c}/{n}" for c in ("g1", "s2")
                               for n in ("kernel", "recurrent_kernel", "bias")]
    conv = fastnet.Sequential([Input((3, 5, 5, 2)), layers.ConvLSTM2D(2, 3, name="cl")],
                              name="cls")
    assert _paths(conv) == [f"cls/cl/conv_lstm_cell/{n}"
                            for n in ("kernel", "recurrent_kernel", "bias")]
    td = fastnet.Sequential([Input((5, 4)), layers.TimeDistributed(
        layers.Dense(2, name="tdd"), name="td")], name="tds")
    assert _paths(td) == ["tds/td/tdd/kernel", "tds/td/tdd/bias"]
    bn = fastnet.Sequential([Input((4,)), layers.BatchNormalization(name="bn")], name="bns")
    assert _paths(bn) == [f"bns/bn/{n}" for n in ("gamma", "beta", "moving_mean",
                                                  "moving_variance")]
    i = Input((5, 4))
    mha = fastnet.Model(i, layers.MultiHeadAttention(2, 3, name="mha")(i, i))
    assert _paths(mha) == [f"mha/{p}/{n}" for p in ("query", "key", "value",
                                                    "attention_output")
                           for n in ("kernel", "bias")]


def test_name_scope(fresh):
    with fastnet.name_scope("top"):
        seq = fastnet.Sequential([Input((4,)), layers.Dense(2, name="w1")], name="sqq")
        with fastnet.name_scope("deeper"):
            v = fastnet.Variable(1.0, name="vv")
        d = layers.Dense(2, name="dd")
        d.build((None, 3))
    assert _paths(seq) == ["top/sqq/w1/kernel", "top/sqq/w1/bias"]
    assert v.path == "top/deeper/vv"
    assert _paths(d) == ["top/dd/kernel", "top/dd/bias"]
    assert fastnet.Variable(1.0, name="free").path == "free"  # the scopes are closed
    # override_parent: an absolute parent in place of the open scopes
    with fastnet.name_scope("ignored"), fastnet.name_scope("leaf", override_parent="a/b"):
        assert fastnet.Variable(0.0, name="v").path == "a/b/leaf/v"
    # deduplicate: the same caller reopening its innermost scope adds no level
    owner = object()
    with fastnet.name_scope("o", caller=owner), fastnet.name_scope("o", caller=owner):
        assert fastnet.Variable(0.0, name="v").path == "o/v"
    with fastnet.name_scope("o"), fastnet.name_scope("o"):  # no caller: two levels
        assert fastnet.Variable(0.0, name="v").path == "o/o/v"
    with pytest.raises(ValueError, match="cannot contain character `/`"):
        fastnet.name_scope("a/b")
    with pytest.raises(ValueError, match="must be a string"):
        fastnet.name_scope(3)


def test_a_failing_call_closes_its_scopes(fresh):
    class Bad(layers.Layer):
        def call(self, x):
            raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        Bad(name="bad")(np.ones((1, 2), np.float32))
    assert fastnet.Variable(1.0, name="after").path == "after"


def test_metric_variables(fresh):
    class Total(fastnet.metrics.Metric):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.total = self.add_variable(shape=(), initializer="zeros", name="tot")

        def update_state(self, *args, **kwargs):
            pass

        def result(self):
            return self.total

    assert Total(name="mt").total.path == "mt/tot"


def test_seed_generator_state(fresh):
    # made in the layer's __init__, outside any scope: the generator's own scope only
    drop = layers.Dropout(0.5, seed=1, name="dr")
    fastnet.Sequential([Input((4,)), drop], name="ds")
    assert [v.path for v in drop.variables] == ["seed_generator/seed_generator_state"]
    assert fastnet.random.SeedGenerator(3, name="sg").state.path == "sg/seed_generator_state"
    with fastnet.name_scope("outer"):
        assert fastnet.random.SeedGenerator(3, name="sg2").state.path == \
            "outer/sg2/seed_generator_state"


def test_optimizer_variable_paths(fresh):
    model = fastnet.Sequential([Input((4,)), layers.Dense(3, name="enc")], name="s")
    adam = optimizers.Adam()
    adam.build(model.trainable_weights)
    assert [v.path for v in adam.variables] == [
        "adam/iteration", "adam/learning_rate", "adam/s_enc_kernel_momentum",
        "adam/s_enc_kernel_velocity", "adam/s_enc_bias_momentum", "adam/s_enc_bias_velocity"]
    assert optimizers.Adam().name == "adam_1"  # auto-named as Keras
    rms = optimizers.RMSprop(momentum=0.9, centered=True)
    rms.build(model.trainable_weights)
    assert rms.name == "rm_sprop"  # Keras's snake case of the class name
    assert [v.path for v in rms.variables][2:] == [  # one Keras add_optimizer_variables each
        f"rm_sprop/s_enc_{w}_{kind}" for kind in ("velocity", "momentum", "average_gradient")
        for w in ("kernel", "bias")]
    ema = optimizers.Adam(use_ema=True, gradient_accumulation_steps=2, amsgrad=True,
                          name="ao")
    ema.build(model.trainable_weights)
    assert [v.path for v in ema.variables] == ["ao/iteration", "ao/learning_rate"] + [
        f"ao/s_enc_{w}_{k}" for k in ("average", "gradient_accumulator") for w in
        ("kernel", "bias")] + [f"ao/s_enc_{w}_{k}" for w in ("kernel", "bias")
                               for k in ("momentum", "velocity")] + [
        "ao/s_enc_kernel_velocity_hat", "ao/s_enc_bias_velocity_hat"]
    # the slot variables are the optimizer's state, not copies of it
    x = np.ones((2, 4), np.float32)
    model.compile(optimizers.SGD(0.1, momentum=0.9, name="sgd_m"), "mse")
    model.fit(x, np.zeros((2, 3), np.float32), epochs=1, verbose=0)
    slot = model.optimizer.variables[2]
    assert slot.path == "sgd_m/s_enc_kernel_momentum"
    assert np.any(slot.numpy() != 0)
    slot.assign(np.zeros(slot.shape, np.float32))
    assert not np.any(model.optimizer.variables[2].numpy())


def test_optimizer_map_routes_by_the_scoped_path(fresh):
    model = fastnet.Sequential([Input((3,)), layers.Dense(4, name="enc"),
                                layers.Dense(1, name="dec")], name="net")
    adam, sgd = optimizers.Adam(0.01), optimizers.SGD(0.1)
    multi = optimizers.MultiOptimizer(optimizers.OptimizerMap(sgd, {"net/enc/.*": adam}),
                                      name="mo")
    multi.build(model.trainable_weights)
    assert [multi._optimizer_for(w) for w in model.trainable_weights] == [adam, adam, sgd, sgd]
    assert [v.path for v in multi.variables][:2] == ["mo/iteration", "mo/learning_rate"]
    assert "adam/net_enc_kernel_momentum" in [v.path for v in adam.variables]


def test_paths_match_keras():
    k = keras_or_skip()

    def build(lib):
        L, In = lib.layers, lib.Input
        out = {}
        out["seq"] = lib.Sequential([In((4,)), L.Dense(3, name="enc")], name="sq")
        i = In((4,))
        out["func"] = lib.Model(i, L.Dense(2, name="fd2")(i), name="fm")
        d = L.Dense(2, name="alone2")
        d.build((None, 4))
        out["alone"] = d

        class Sub(lib.Model):
            def __init__(self, **kw):
                super().__init__(**kw)
                self.d = L.Dense(2, name="sd")
                self.s = lib.Sequential([L.Dense(3, name="q1"), L.Dense(2, name="q2")],
                                        name="qs")
                self.rnn = L.GRU(2, name="gru")

            def call(self, x):
                return self.d(self.s(x)) + self.rnn(lib.ops.stack([x, x], axis=1))

        sub = Sub(name="sub")
        sub(np.ones((2, 4), np.float32))
        out["sub"] = sub
        s = lib.Sequential([L.Dense(3, name="late")], name="lateseq")
        s.build((None, 4))
        out["late"] = s
        with lib.name_scope("ns"):
            i = In((4,))
            out["scoped"] = lib.Model(i, L.Dense(2, name="nsd")(i), name="nsm")
        bi = lib.Sequential([In((5, 4)), L.Bidirectional(L.LSTM(3, name="bl"), name="bd")],
                            name="bs")
        out["bi"] = bi
        opt = lib.optimizers.Adam(name="oa")
        opt.build(out["seq"].trainable_weights)
        return {key: _paths(m) for key, m in out.items()} | {
            "opt": [v.path for v in opt.variables]}

    ours, theirs = build(fastnet), build(k)
    assert ours == theirs


def test_loaded_models_have_the_paths_keras_gives_them(tmp_path):
    k = keras_or_skip()

    def make(lib):
        L = lib.layers
        return lib.Sequential([lib.Input((5, 4)), L.LSTM(3, return_sequences=True, name="l"),
                               L.Bidirectional(L.GRU(2, name="g"), name="bi"),
                               L.Dense(2, name="o")], name="net")

    ours, theirs = make(fastnet), make(k)
    assert _paths(ours) == _paths(theirs)
    ours.save(tmp_path / "ours.keras")
    theirs.save(tmp_path / "theirs.keras")
    # Keras builds each layer of a loaded Sequential from its own build config, before
    # the model: no model prefix. Both ways, and fastnet reading its own file, agree.
    k_of_ours = k.models.load_model(tmp_path / "ours.keras")
    ours_of_k = fastnet.models.load_model(tmp_path / "theirs.keras")
    ours_of_ours = fastnet.models.load_model(tmp_path / "ours.keras")
    assert _paths(ours_of_k) == _paths(k_of_ours) == _paths(ours_of_ours)
    assert _paths(ours_of_ours)[:3] == ["l/lstm_cell/kernel", "l/lstm_cell/recurrent_kernel",
                                        "l/lstm_cell/bias"]
    for a, b in zip(ours_of_k.get_weights(), theirs.get_weights()):
        np.testing.assert_array_equal(a, np.asarray(b))
    for a, b in zip(ours.get_weights(), k_of_ours.get_weights()):
        np.testing.assert_array_equal(a, np.asarray(b))
    # and from a config, as Keras
    assert _paths(fastnet.Sequential.from_config(ours.get_config())) == \
        _paths(k.Sequential.from_config(theirs.get_config()))
