"""The serialization registry (register_keras_serializable, custom_object_scope, ...),
serialize/deserialize_keras_object, layers.serialize/deserialize, to_json/model_from_json."""

import json
import os
import zipfile

import numpy as np
import pytest

import fastnet as keras
from fastnet import layers, saving
from fastnet.saving import object_registration


@pytest.fixture(autouse=True)
def clean_registry():
    objs = dict(object_registration.GLOBAL_CUSTOM_OBJECTS)
    names = dict(object_registration.GLOBAL_CUSTOM_NAMES)
    yield
    object_registration.GLOBAL_CUSTOM_OBJECTS.clear()
    object_registration.GLOBAL_CUSTOM_OBJECTS.update(objs)
    object_registration.GLOBAL_CUSTOM_NAMES.clear()
    object_registration.GLOBAL_CUSTOM_NAMES.update(names)


def make_scale_class():
    class Scale(layers.Layer):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")

        def call(self, x):
            return x * self.w * self.factor

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    return Scale


def test_register_names_and_lookup():
    assert keras.utils.register_keras_serializable is saving.register_keras_serializable
    Scale = make_scale_class()
    saving.register_keras_serializable(package="my_pkg")(Scale)
    assert saving.get_registered_name(Scale) == "my_pkg>Scale"
    assert saving.get_registered_object("my_pkg>Scale") is Scale
    assert saving.get_custom_objects()["my_pkg>Scale"] is Scale

    @keras.utils.register_keras_serializable("fns", name="double")
    def twice(x):
        return x * 2

    assert saving.get_registered_name(twice) == "fns>double"
    assert saving.get_registered_object("fns>double") is twice
    # unregistered: __name__, and None on lookup; custom_objects / module_objects consulted
    assert saving.get_registered_name(np.mean) == "mean"
    assert saving.get_registered_object("nothing") is None
    assert saving.get_registered_object("a", custom_objects={"a": 1}) == 1
    assert saving.get_registered_object("b", module_objects={"b": 2}) == 2

    class NoConfig:
        pass

    with pytest.raises(ValueError, match="get_config"):
        saving.register_keras_serializable()(NoConfig)
    # get_custom_objects is the live registry
    saving.get_custom_objects()["x>Y"] = Scale
    assert saving.get_registered_object("x>Y") is Scale


def test_registered_layer_loads_from_keras_file_without_custom_objects(tmp_path):
    Scale = saving.register_keras_serializable(package="my_pkg")(make_scale_class())
    inputs = keras.Input(shape=(4,))
    outputs = layers.Dense(2)(Scale(factor=3.0)(inputs))
    model = keras.Model(inputs, outputs)
    model.layers[1].w.assign(np.array([1.0, 2.0, 3.0, 4.0], dtype="float32"))
    path = str(tmp_path / "m.keras")
    model.save(path)
    with zipfile.ZipFile(path) as zf:
        config = json.loads(zf.read("config.json"))
    entry = [e for e in config["config"]["layers"] if e["class_name"] == "Scale"][0]
    assert entry["registered_name"] == "my_pkg>Scale"
    loaded = keras.models.load_model(path)
    assert type(loaded.layers[1]) is Scale and loaded.layers[1].factor == 3.0
    x = np.random.default_rng(0).random((5, 4)).astype("float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6)


def test_registered_activation_and_loss_roundtrip(tmp_path):
    @saving.register_keras_serializable(package="acts")
    def cube(x):
        return x * x * x

    @saving.register_keras_serializable(package="losses")
    def half_mse(y_true, y_pred):
        return keras.ops.mean(keras.ops.square(y_pred - y_true), axis=-1) * 0.5

    model = keras.Sequential([keras.Input((3,)), layers.Dense(2, activation=cube)])
    model.compile(optimizer="sgd", loss=half_mse)
    path = str(tmp_path / "a.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.layers[0].activation is cube
    x = np.linspace(-1, 1, 9, dtype="float32").reshape(3, 3)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6)
    y = np.zeros((3, 2), "float32")
    assert np.isclose(loaded.evaluate(x, y, verbose=0), model.evaluate(x, y, verbose=0))


def test_custom_object_scope(tmp_path):
    Scale = make_scale_class()  # not registered
    model = keras.Sequential([keras.Input((2,)), Scale(factor=0.5)])
    path = str(tmp_path / "s.keras")
    model.save(path)
    with pytest.raises(ValueError, match="register_keras_serializable"):
        keras.models.load_model(path)
    with saving.custom_object_scope({"Scale": Scale}) as scope:
        assert isinstance(scope, saving.CustomObjectScope)
        assert saving.get_registered_object("Scale") is Scale
        loaded = keras.models.load_model(path)
        with keras.utils.custom_object_scope({"other": 1}):  # nested scopes accumulate
            assert saving.get_registered_object("Scale") is Scale
            assert saving.get_registered_object("other") == 1
        assert saving.get_registered_object("other") is None
    assert saving.get_registered_object("Scale") is None
    assert "Scale" not in saving.get_custom_objects()
    assert loaded.layers[0].factor == 0.5
    with pytest.raises(TypeError, match="dict"):
        saving.custom_object_scope(["Scale"])


def test_serialize_keras_object_builtins():
    ser, de = saving.serialize_keras_object, saving.deserialize_keras_object
    cfg = ser(layers.Dense(3, activation="relu", name="d"))
    assert cfg["module"] == "keras.layers" and cfg["class_name"] == "Dense"
    assert cfg["registered_name"] is None and cfg["config"]["units"] == 3
    d = de(cfg)
    assert isinstance(d, layers.Dense) and d.units == 3 and d.name == "d"
    assert ser(keras.activations.relu) == {"module": "builtins", "class_name": "function",
                                           "config": "relu", "registered_name": "function"}
    assert de(ser(keras.activations.relu)) is keras.activations.relu
    opt = de(ser(keras.optimizers.Adam(learning_rate=0.01)))
    assert isinstance(opt, keras.optimizers.Adam) and np.isclose(opt.get_config()["learning_rate"],
                                                                 0.01)
    loss = de(ser(keras.losses.Huber(delta=2.0)))
    assert isinstance(loss, keras.losses.Huber) and loss.get_config()["delta"] == 2.0
    init = de(ser(keras.initializers.RandomNormal(stddev=0.3)))
    assert isinstance(init, keras.initializers.RandomNormal)
    arr = np.arange(6, dtype="float32").reshape(2, 3)
    back = de(ser(arr))
    assert back.dtype == np.float32 and np.array_equal(back, arr)
    assert de(ser(slice(1, 5, 2))) == slice(1, 5, 2)
    assert de(ser(b"abc")) == b"abc" and de(ser(...)) is Ellipsis
    assert de(ser({"a": [1, 2.5, "x", None]})) == {"a": [1, 2.5, "x", None]}
    assert ser(np.float32(1.5)) == 1.5
    with pytest.raises(ValueError, match="lambda"):
        ser(lambda x: x)
    with pytest.raises(ValueError, match="lambda"):
        de({"class_name": "__lambda__", "config": {"value": "..."}})
    with pytest.raises(TypeError, match="Could not locate class 'Nope'"):
        de({"module": "my.mod", "class_name": "Nope", "config": {}, "registered_name": "p>Nope"})


def test_serialize_registered_custom_object():
    Scale = saving.register_keras_serializable("pk")(make_scale_class())
    cfg = saving.serialize_keras_object(Scale(factor=4.0, name="s"))
    assert cfg["registered_name"] == "pk>Scale" and cfg["config"]["factor"] == 4.0
    obj = saving.deserialize_keras_object(json.loads(json.dumps(cfg)))
    assert type(obj) is Scale and obj.factor == 4.0 and obj.name == "s"
    # a custom_objects entry under the class name works for an unregistered class too
    Other = make_scale_class()
    cfg = saving.serialize_keras_object(Other(factor=1.5))
    assert cfg["registered_name"] == "Scale"
    with pytest.raises(TypeError, match="Could not locate"):
        saving.deserialize_keras_object({**cfg, "registered_name": "zz>Scale", "class_name": "Zz"})
    assert saving.deserialize_keras_object(cfg, custom_objects={"Scale": Other}).factor == 1.5


def test_layers_serialize_deserialize():
    layer = layers.Conv2D(4, 3, strides=2, padding="same", activation="tanh", name="c")
    cfg = layers.serialize(layer)
    clone = layers.deserialize(cfg)
    assert isinstance(clone, layers.Conv2D)
    assert clone.get_config() == layer.get_config()
    built = layers.Dense(5)
    built(np.zeros((2, 7), "float32"))
    cfg = layers.serialize(built)
    assert list(cfg["build_config"]["input_shape"]) == [2, 7]
    again = layers.deserialize(cfg)
    assert again.built and again.kernel.shape == (7, 5)
    with pytest.raises(ValueError, match="not describe a layer"):
        layers.deserialize(keras.optimizers.serialize(keras.optimizers.SGD()))


@pytest.mark.parametrize("kind", ["functional", "sequential"])
def test_to_json_model_from_json(kind):
    if kind == "functional":
        inputs = keras.Input(shape=(6,), name="x")
        h = layers.Dense(8, activation="relu")(inputs)
        model = keras.Model(inputs, layers.Dense(2)(layers.Concatenate()([h, inputs])))
    else:
        model = keras.Sequential([keras.Input((6,)), layers.Dense(8, activation="relu"),
                                  layers.Dropout(0.1), layers.Dense(2)])
    text = model.to_json()
    assert isinstance(text, str) and json.loads(text)["class_name"] in ("Functional",
                                                                       "Sequential")
    clone = keras.models.model_from_json(text)
    assert type(clone) is type(model)
    assert [type(lay) for lay in clone.layers] == [type(lay) for lay in model.layers]
    assert clone.count_params() == model.count_params()
    clone.set_weights(model.get_weights())
    x = np.random.default_rng(1).random((4, 6)).astype("float32")
    np.testing.assert_allclose(clone.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6)
    assert keras.models.model_from_config(json.loads(text)).count_params() == \
        model.count_params()
    with pytest.raises(TypeError, match="model_from_json"):
        keras.models.model_from_config(text)


def test_to_json_keeps_compile_config():
    model = keras.Sequential([keras.Input((3,)), layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.RMSprop(0.005), loss="mse", metrics=["mae"])
    clone = keras.models.model_from_json(model.to_json())
    assert isinstance(clone.optimizer, keras.optimizers.RMSprop)
    assert np.isclose(clone.optimizer.get_config()["learning_rate"], 0.005)


def _keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    return pytest.importorskip("keras")


def test_reads_keras_serialized_layers_and_json():
    k = _keras()
    cfg = k.layers.serialize(k.layers.Dense(3, activation="relu", use_bias=False, name="kd"))
    d = layers.deserialize(json.loads(json.dumps(cfg)))
    assert isinstance(d, layers.Dense) and d.units == 3 and not d.use_bias and d.name == "kd"
    assert d.activation is keras.activations.relu
    ours = saving.serialize_keras_object(layers.Dense(3))
    assert set(ours) >= {"module", "class_name", "config", "registered_name"}
    assert ours["module"] == cfg["module"] and ours["class_name"] == cfg["class_name"]
    assert saving.serialize_keras_object(keras.activations.relu) == \
        k.saving.serialize_keras_object(k.activations.relu)
    km = k.Sequential([k.Input((4,)), k.layers.Dense(5, activation="tanh"), k.layers.Dense(2)])
    model = keras.models.model_from_json(km.to_json())
    model.set_weights([np.asarray(w) for w in km.get_weights()])
    x = np.random.default_rng(2).random((3, 4)).astype("float32")
    np.testing.assert_allclose(model.predict(x, verbose=0), km.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)


def test_keras_registered_names_match():
    k = _keras()

    @k.saving.register_keras_serializable(package="cmp")
    def k_fn(x):
        return x

    @saving.register_keras_serializable(package="cmp")
    def f_fn(x):
        return x

    assert k.saving.get_registered_name(k_fn) == "cmp>k_fn"
    assert saving.get_registered_name(f_fn) == "cmp>f_fn"
    ours = saving.serialize_keras_object(f_fn)
    theirs = k.saving.serialize_keras_object(k_fn)
    assert ours == {**theirs, "config": "cmp>f_fn"}
    assert saving.deserialize_keras_object({**theirs, "config": "cmp>f_fn"}) is f_fn
