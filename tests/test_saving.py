import os
import zipfile

import numpy as np
import pytest

import fastnet as keras
from fastnet import layers


def make_model():
    inputs = keras.Input(shape=(8,), name="img")
    x = layers.Dense(16, activation="relu")(inputs)
    x = layers.BatchNormalization()(x)
    outputs = layers.Dense(3, activation="softmax")(x)
    model = keras.Model(inputs=inputs, outputs=outputs, name="small")
    model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.Adam(),
                  metrics=["accuracy"])
    return model


def data(n=32, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 8)).astype("float32"), rng.integers(0, 3, n)


@pytest.mark.parametrize("ext", [".keras", ".h5"])
def test_save_load_roundtrip_same_predictions(tmp_path, ext):
    model = make_model()
    x, y = data()
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    path = str(tmp_path / f"model{ext}")
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6)
    assert [w.name for w in loaded.weights] == [w.name for w in model.weights]
    assert loaded.optimizer is not None and isinstance(loaded.optimizer, keras.optimizers.Adam)


def test_keras_archive_resumes_training_exactly(tmp_path):
    x, y = data()
    model = make_model()
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    path = str(tmp_path / "m.keras")
    model.save(path)
    with zipfile.ZipFile(path) as zf:
        assert {"config.json", "metadata.json", "model.weights.h5"} <= set(zf.namelist())
    loaded = keras.models.load_model(path)
    assert int(loaded.optimizer.iterations.numpy()) == int(model.optimizer.iterations.numpy()) == 4
    model.fit(x, y, epochs=1, batch_size=8, verbose=0, shuffle=False)
    loaded.fit(x, y, epochs=1, batch_size=8, verbose=0, shuffle=False)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_weights_only_and_sequential(tmp_path):
    model = keras.Sequential([layers.Dense(4, input_shape=(3,)), layers.Dense(2)])
    path = str(tmp_path / "w.weights.h5")
    model.save_weights(path)
    other = keras.Sequential([layers.Dense(4, input_shape=(3,)), layers.Dense(2)])
    other.load_weights(path)
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)
    model.save(str(tmp_path / "seq.keras"))
    again = keras.models.load_model(str(tmp_path / "seq.keras"))
    assert isinstance(again, keras.Sequential) and again.count_params() == model.count_params()
    with pytest.raises(ValueError, match="weights.h5"):
        model.save_weights(str(tmp_path / "w.bin"))


def test_subclassed_model_keras_format_needs_custom_objects(tmp_path):
    class MLP(keras.Model):
        def __init__(self, units=4, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.d1 = layers.Dense(units, activation="relu")
            self.d2 = layers.Dense(2)

        def call(self, inputs):
            return self.d2(self.d1(inputs))

        def get_config(self):
            return {"units": self.units, "name": self.name}

    m = MLP()
    m.build((None, 5))
    x = np.random.rand(3, 5).astype("float32")
    path = str(tmp_path / "mlp.keras")
    m.save(path)
    with pytest.raises(ValueError, match="custom_objects"):
        keras.models.load_model(path)
    m2 = keras.models.load_model(path, custom_objects={"MLP": MLP})
    np.testing.assert_allclose(m2(x).numpy(), m(x).numpy(), rtol=1e-6)
    with pytest.raises(NotImplementedError, match="HDF5"):
        m.save(str(tmp_path / "mlp.h5"))


def test_failed_save_leaves_no_file(tmp_path):
    class Unserializable(layers.Layer):
        def get_config(self):
            return {"f": object()}

    inputs = keras.Input((2,))
    model = keras.Model(inputs, Unserializable()(inputs))
    path = tmp_path / "bad.keras"
    with pytest.raises(TypeError):
        model.save(str(path))
    assert not path.exists() and not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_bad_extension():
    with pytest.raises(ValueError, match="extension"):
        make_model().save("/tmp/model.pkl")


def test_seed_h5_roundtrip(tmp_path):
    # model.save('path_to_my_model.h5'); del model; model = keras.models.load_model(...)
    inputs = keras.Input(shape=(784,), name="img")
    x = layers.Dense(64, activation="relu")(inputs)
    x = layers.Dense(64, activation="relu")(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inputs=inputs, outputs=outputs, name="mnist_model")
    model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.RMSprop(),
                  metrics=["accuracy"])
    path = str(tmp_path / "path_to_my_model.h5")
    model.save(path)
    x = np.random.rand(2, 784).astype("float32")
    want = model.predict(x, verbose=0)
    del model
    model = keras.models.load_model(path)
    np.testing.assert_allclose(model.predict(x, verbose=0), want, rtol=1e-6)
