"""`model.weights` / `get_weights()` / `set_weights()` in Keras 3's order (issue 12).

Keras 3 walks `model.layers` (a functional model: its operations in graph order), and for
each layer gives its own trainable weights, its own non-trainable weights, then its
sub-layers' weights the same way (keras/src/layers/layer.py: `weights`). So a
BatchNormalization's moving statistics sit right after its gamma/beta, not at the end
(tf.keras 2's order), and weights taken from Keras by position land in the right layers.
The same builders run on Keras 3 (torch backend) in the optional tests; the expected
orders below were read from Keras 3.15 so the check runs without it."""

import os

import numpy as np
import pytest

import fastnet


def _two_inputs(k, swapped=False):
    L = k.layers
    a, b = k.Input((4,), name="a"), k.Input((3,), name="b")
    db, da = L.Dense(2, name="db"), L.Dense(2, name="da")  # created in the other order
    hb, ha = db(b), da(a)
    c = L.BatchNormalization(name="bn")(L.Concatenate(name="cat")([ha, hb]))
    out = L.Dense(1, name="out")(c)
    return k.Model([b, a] if swapped else [a, b], out)


def _shared(k):
    L = k.layers
    a, b = k.Input((3,), name="a"), k.Input((3,), name="b")
    shared, pre = L.Dense(3, name="shared"), L.Dense(3, name="pre")
    y = L.Add(name="add")([shared(pre(a)), shared(b)])
    return k.Model([a, b], L.Dense(1, name="head")(y))


def _sequential(k):
    L = k.layers
    return k.Sequential([k.Input((3,)), L.Dense(4, name="d1"), L.BatchNormalization(name="bn1"),
                         L.Dense(2, name="d2"), L.BatchNormalization(name="bn2")])


def _nested(k):
    L = k.layers
    ii = k.Input((3,), name="ii")
    inner = k.Model(ii, L.BatchNormalization(name="ibn")(L.Dense(3, name="id")(ii)),
                    name="inner")
    seq = k.Sequential([L.Dense(3, name="sd"), L.BatchNormalization(name="sbn")], name="seq")
    x = k.Input((3,), name="x")
    y = L.Dense(3, name="first")(x)
    return k.Model(x, L.Dense(1, name="last")(L.Add(name="add2")([seq(y), inner(y)])))


def _frozen(k):
    L = k.layers
    x = k.Input((3,), name="x")
    frozen = L.Dense(3, name="frozen")
    frozen.trainable = False
    return k.Model(x, L.Dense(1, name="top")(frozen(L.Dense(3, name="bottom")(x))))


def _subclassed(k):
    L = k.layers

    class Sub(k.Model):
        def __init__(self):
            super().__init__()
            self.head = L.Dense(1, name="shead")  # attribute order, not call order
            self.body = L.Dense(3, name="sbody")
            self.norm = L.BatchNormalization(name="snorm")
            self.blocks = [L.Dense(3, name="blk0"), L.Dense(3, name="blk1")]

        def call(self, x):
            x = self.norm(self.body(x))
            for block in self.blocks:
                x = block(x)
            return self.head(x)

    model = Sub()
    model(np.zeros((2, 3), np.float32))
    return model


def _bidirectional(k):
    L = k.layers
    x = k.Input((5,), name="tok")
    r = L.Bidirectional(L.GRU(3, name="gru"), name="bi")(L.Embedding(10, 4, name="emb")(x))
    return k.Model(x, L.Dense(2, name="o")(r))


MODELS = {"two_inputs": _two_inputs, "two_inputs_swapped": lambda k: _two_inputs(k, True),
          "shared": _shared, "sequential": _sequential, "nested": _nested, "frozen": _frozen,
          "subclassed": _subclassed, "bidirectional": _bidirectional}


def describe(model):
    """(layer name, weight name, shape) of every weight, in order."""
    out = []
    for w in model.weights:
        parts = w.path.split("/")
        out.append((parts[-2] if len(parts) > 1 else "", parts[-1], tuple(w.shape)))
    return out


_BN4 = [("bn", "gamma", (4,)), ("bn", "beta", (4,)), ("bn", "moving_mean", (4,)),
        ("bn", "moving_variance", (4,))]
_TWO = [("da", "kernel", (4, 2)), ("da", "bias", (2,)), ("db", "kernel", (3, 2)),
        ("db", "bias", (2,))] + _BN4 + [("out", "kernel", (4, 1)), ("out", "bias", (1,))]


def _bn(name, n):
    return [(name, v, (n,)) for v in ("gamma", "beta", "moving_mean", "moving_variance")]


def _dense(name, i, o):
    return [(name, "kernel", (i, o)), (name, "bias", (o,))]


# Keras 3.15's model.weights for each builder (names and shapes).
EXPECTED = {
    "two_inputs": _TWO,
    "two_inputs_swapped": _TWO,
    "shared": _dense("pre", 3, 3) + _dense("shared", 3, 3) + _dense("head", 3, 1),
    "sequential": _dense("d1", 3, 4) + _bn("bn1", 4) + _dense("d2", 4, 2) + _bn("bn2", 2),
    "nested": (_dense("first", 3, 3) + _dense("sd", 3, 3) + _bn("sbn", 3) + _dense("id", 3, 3)
               + _bn("ibn", 3) + _dense("last", 3, 1)),
    "frozen": _dense("bottom", 3, 3) + _dense("frozen", 3, 3) + _dense("top", 3, 1),
    "subclassed": (_dense("shead", 3, 1) + _dense("sbody", 3, 3) + _bn("snorm", 3)
                   + _dense("blk0", 3, 3) + _dense("blk1", 3, 3)),
    "bidirectional": ([("emb", "embeddings", (10, 4))]
                      + [("forward_gru", n, s) for n, s in (("kernel", (4, 9)),
                                                             ("recurrent_kernel", (3, 9)),
                                                             ("bias", (2, 9)))]
                      + [("backward_gru", n, s) for n, s in (("kernel", (4, 9)),
                                                              ("recurrent_kernel", (3, 9)),
                                                              ("bias", (2, 9)))]
                      + _dense("o", 6, 2)),
}


@pytest.fixture(autouse=True)
def fresh_names():
    fastnet.backend.clear_session()


@pytest.mark.parametrize("name", sorted(MODELS))
def test_weights_follow_keras3_order(name):
    model = MODELS[name](fastnet)
    got = describe(model)
    want = EXPECTED[name]
    assert [(n, s) for _, n, s in got] == [(n, s) for _, n, s in want], name
    if name != "bidirectional":  # a cell's weights: "<layer>/<cell>/<weight>" paths
        assert got == want
    # trainable / non-trainable keep that order; weights is every weight once
    ids = [id(w) for w in model.weights]
    assert len(set(ids)) == len(ids)
    assert [id(w) for w in model.trainable_weights] == [
        i for i, w in zip(ids, model.weights) if id(w) in {id(v) for v in
                                                            model.trainable_weights}]
    assert [id(w) for w in model.non_trainable_weights] == [
        id(w) for w in model.weights if id(w) not in {id(v) for v in model.trainable_weights}]


def test_batchnorm_moving_statistics_sit_beside_their_layer_in_get_weights():
    model = _sequential(fastnet)
    shapes = [w.shape for w in model.get_weights()]
    assert shapes == [(3, 4), (4,), (4,), (4,), (4,), (4,), (4, 2), (2,), (2,), (2,), (2,), (2,)]
    # set_weights by position: each array lands in the weight of the same place
    values = [np.full(s, i, np.float32) for i, s in enumerate(shapes)]
    model.set_weights(values)
    bn1 = model.layers[1]
    assert float(bn1.moving_mean.numpy()[0]) == 4.0 and float(bn1.gamma.numpy()[0]) == 2.0
    assert float(model.layers[2].kernel.numpy()[0, 0]) == 6.0


def test_frozen_layers_keep_their_place_and_leave_the_trainable_list():
    model = _frozen(fastnet)
    assert [w.path for w in model.trainable_weights] == [
        "bottom/kernel", "bottom/bias", "top/kernel", "top/bias"]
    assert [w.path for w in model.non_trainable_weights] == ["frozen/kernel", "frozen/bias"]


def _keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    k = pytest.importorskip("keras")
    if k.backend.backend() != "torch":
        pytest.skip("the Keras oracle runs on the torch backend")
    return k


def _inputs(name, model, rng):
    if name == "subclassed":
        return rng.standard_normal((4, 3)).astype(np.float32)
    if name == "bidirectional":
        return rng.integers(0, 10, (4, 5))
    out = [rng.standard_normal((4,) + tuple(t.shape[1:])).astype(np.float32)
           for t in model.inputs]
    return out if len(out) > 1 else out[0]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_keras_weights_loaded_by_position_give_keras_outputs(name):
    k = _keras()
    theirs = MODELS[name](k)
    ours = MODELS[name](fastnet)
    want = EXPECTED[name]
    assert [(n, tuple(s)) for _, n, s in describe(theirs)] == [(n, s) for _, n, s in want]
    rng = np.random.default_rng(3)
    weights = [rng.uniform(0.5, 1.5, w.shape).astype(np.float32) if "variance" in w.path
               else rng.standard_normal(w.shape).astype(np.float32) * 0.5
               for w in theirs.weights]
    theirs.set_weights(weights)
    ours.set_weights(theirs.get_weights())  # by position
    x = _inputs(name, ours, rng)
    want_y = k.ops.convert_to_numpy(theirs(x, training=False))
    np.testing.assert_allclose(ours(x, training=False).numpy(), want_y, rtol=1e-4, atol=1e-5)
    # and back: fastnet's get_weights feed Keras's set_weights
    theirs2 = MODELS[name](k)
    theirs2.set_weights(ours.get_weights())
    np.testing.assert_allclose(k.ops.convert_to_numpy(theirs2(x, training=False)), want_y,
                               rtol=1e-4, atol=1e-5)
