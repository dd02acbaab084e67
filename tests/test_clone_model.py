"""keras.models.clone_model with Keras 3's arguments: clone_function, call_function,
recursive, input_tensors; a compiled model's clone is compiled."""

import os

import numpy as np
import pytest

import fastnet as keras
from fastnet import layers


def _functional():
    inp = keras.Input((4,), name="x")
    shared = layers.Dense(4, activation="relu", name="shared")
    h = shared(shared(inp))
    out = layers.Dense(1, name="head")(h + 1.0)
    return keras.Model(inp, out, name="net")


def test_default_clone_has_the_architecture_and_fresh_weights():
    m = _functional()
    m.compile("adam", "mse", metrics=["mae"])
    c = keras.models.clone_model(m)
    assert c is not m and c.name == "net" and [lay.name for lay in c.layers] == \
        [lay.name for lay in m.layers]
    assert [w.shape for w in c.weights] == [w.shape for w in m.weights]
    assert not any(np.array_equal(a, b) for a, b in zip(c.get_weights()[:1], m.get_weights()[:1]))
    assert c.compiled and type(c.optimizer) is type(m.optimizer) and c.optimizer is not m.optimizer
    x = np.ones((3, 4), "float32")
    c.set_weights(m.get_weights())
    np.testing.assert_allclose(c.predict(x, verbose=0), m.predict(x, verbose=0), rtol=1e-6)
    c.fit(x, np.ones((3, 1)), verbose=0)  # trains without touching the original
    assert not all(np.array_equal(a, b) for a, b in zip(c.get_weights(), m.get_weights()))


def test_a_shared_layer_is_cloned_once():
    m = _functional()
    made = []

    def clone_function(layer):
        made.append(layer.name)
        return type(layer).from_config(layer.get_config())

    c = keras.models.clone_model(m, clone_function=clone_function)
    assert made.count("shared") == 1
    assert len(c.get_layer("shared")._inbound_nodes) == 2


def test_clone_function_and_call_function_rewrite_the_graph():
    m = _functional()

    def to_tanh(layer):
        config = layer.get_config()
        if isinstance(layer, layers.Dense):
            config["activation"] = "tanh"
        return type(layer).from_config(config)

    seen = []

    def call_function(layer, *args, **kwargs):
        seen.append(layer.name)
        out = layer(*args, **kwargs)
        return layers.Dropout(0.0, name=f"after_{layer.name}_{len(seen)}")(out) \
            if isinstance(layer, layers.Dense) else out

    c = keras.models.clone_model(m, clone_function=to_tanh, call_function=call_function)
    assert c.get_layer("head").activation.__name__ == "tanh"
    assert seen[:2] == ["shared", "shared"] and "head" in seen
    assert sum(isinstance(lay, layers.Dropout) for lay in c.layers) == 3
    c.set_weights(m.get_weights())
    x = np.random.default_rng(0).normal(size=(2, 4)).astype("float32")
    w1, b1, w2, b2 = m.get_weights()
    h = np.tanh(np.tanh(x @ w1 + b1) @ w1 + b1)
    np.testing.assert_allclose(c.predict(x, verbose=0), np.tanh((h + 1) @ w2 + b2), rtol=1e-5)


def test_input_tensors_for_a_functional_model():
    m = _functional()
    new_in = keras.Input((4,), name="other")
    c = keras.models.clone_model(m, input_tensors=new_in)
    assert c.inputs[0] is new_in
    with pytest.raises(ValueError, match="same structure"):
        keras.models.clone_model(m, input_tensors=[new_in, keras.Input((4,))])
    with pytest.raises(ValueError, match="must be KerasTensors"):
        keras.models.clone_model(m, input_tensors=np.ones((1, 4)))


def test_recursive_clones_nested_models_layer_by_layer():
    inner = keras.Sequential([keras.Input((4,)), layers.Dense(3), layers.Dense(2)], name="inner")
    outer = keras.Sequential([keras.Input((4,)), inner, layers.Dense(1)])
    names = []

    def clone_function(layer):
        names.append(type(layer).__name__)
        return type(layer).from_config(layer.get_config())

    c = keras.models.clone_model(outer, clone_function=clone_function, recursive=True)
    assert names == ["Dense", "Dense", "Dense"]  # the inner model itself is not handed over
    assert isinstance(c.layers[0], keras.Sequential) and c.layers[0] is not inner
    names.clear()
    keras.models.clone_model(outer, clone_function=clone_function)
    assert names == ["Sequential", "Dense"]


def test_sequential_clone_keeps_the_input_and_trainable():
    s = keras.Sequential([keras.Input((5,), name="inp"), layers.Dense(2)], name="seq")
    s.trainable = False
    c = keras.models.clone_model(s)
    assert c.name == "seq" and c._input_layer.name == "inp" and not c.trainable
    assert c.input_shape == (None, 5) if hasattr(c, "input_shape") else True


def test_argument_errors():
    s = keras.Sequential([keras.Input((2,)), layers.Dense(1)])
    with pytest.raises(ValueError, match="`call_function` argument is not supported with "
                                         "Sequential"):
        keras.models.clone_model(s, call_function=lambda layer, *a, **k: layer(*a, **k))
    with pytest.raises(ValueError, match="Unexpected keyword argument"):
        keras.models.clone_model(s, foo=1)
    with pytest.raises(ValueError, match="`clone_function` argument to be a callable"):
        keras.models.clone_model(s, clone_function=3)
    with pytest.raises(NotImplementedError, match="input_tensors"):
        keras.models.clone_model(s, input_tensors=keras.Input((2,)))

    class Sub(keras.Model):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.d = layers.Dense(1)

        def call(self, x):
            return self.d(x)

    with pytest.raises(ValueError, match="only supported for Sequential models or Functional"):
        keras.models.clone_model(Sub(), clone_function=lambda layer: layer)


def test_clone_function_against_keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    k = pytest.importorskip("keras")
    if k.backend.backend() != "torch":
        pytest.skip("Keras oracle runs on the torch backend")
    results = []
    for lib in (keras, k):
        inp = lib.Input((4,), name="x")
        shared = lib.layers.Dense(4, activation="relu", name="shared")
        out = lib.layers.Dense(1, name="head")(shared(shared(inp)))
        m = lib.Model(inp, out)
        m.compile("sgd", "mse")

        def to_tanh(layer, lib=lib):
            config = layer.get_config()
            if isinstance(layer, lib.layers.Dense):
                config["activation"] = "tanh"
            return type(layer).from_config(config)

        c = lib.models.clone_model(m, clone_function=to_tanh)
        c.set_weights([np.full(w.shape, 0.1, "float32") for w in c.weights])
        x = np.linspace(-1, 1, 8, dtype="float32").reshape(2, 4)
        results.append(([lay.name for lay in c.layers], c.count_params(), c.compiled,
                         np.asarray(c.predict(x, verbose=0))))
    assert results[0][:3] == results[1][:3]
    np.testing.assert_allclose(results[0][3], results[1][3], rtol=1e-5)
