"""save_model(zipped=False): an unzipped `.keras` directory (its name without `.keras`), as
Keras 3 writes it; and save_model's other keyword arguments, as Keras 3 takes them."""

import os

import numpy as np
import pytest

import fastnet as keras


def _model():
    m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="relu"),
                          keras.layers.Dense(1)])
    m.compile("adam", "mse")
    x = np.random.default_rng(0).normal(size=(8, 3)).astype("float32")
    m.fit(x, x[:, :1], verbose=0)
    return m, x


def test_directory_round_trip_with_optimizer_state(tmp_path):
    m, x = _model()
    path = tmp_path / "m_dir"
    m.save(path, zipped=False)
    assert sorted(os.listdir(path)) == ["config.json", "metadata.json", "model.weights.h5"]
    back = keras.models.load_model(path)
    np.testing.assert_allclose(back.predict(x, verbose=0), m.predict(x, verbose=0), rtol=1e-6)
    assert int(back.optimizer.iterations.numpy()) == int(m.optimizer.iterations.numpy())
    fresh = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="relu"),
                              keras.layers.Dense(1)])
    fresh.load_weights(path)
    np.testing.assert_allclose(fresh.predict(x, verbose=0), m.predict(x, verbose=0), rtol=1e-6)


def test_overwrite_replaces_the_directory_and_leaves_no_temporaries(tmp_path):
    m, x = _model()
    path = tmp_path / "m_dir"
    m.save(path, zipped=False)
    m.fit(x, x[:, :1], verbose=0)
    m.save(path, zipped=False)
    np.testing.assert_allclose(keras.models.load_model(path).predict(x, verbose=0),
                               m.predict(x, verbose=0), rtol=1e-6)
    assert os.listdir(tmp_path) == ["m_dir"]
    with pytest.raises(FileExistsError):
        m.save(path, zipped=False, overwrite=False)


def test_directory_readable_by_keras(tmp_path):
    os.environ.setdefault("KERAS_BACKEND", "torch")
    k = pytest.importorskip("keras")
    if k.backend.backend() != "torch":
        pytest.skip("Keras oracle runs on the torch backend")
    m, x = _model()
    m.save(tmp_path / "m_dir", zipped=False)
    theirs = k.models.load_model(tmp_path / "m_dir")
    np.testing.assert_allclose(np.asarray(theirs.predict(x, verbose=0)), m.predict(x, verbose=0),
                               rtol=1e-5)
    theirs.save(tmp_path / "t_dir", zipped=False)
    back = keras.models.load_model(tmp_path / "t_dir")
    np.testing.assert_allclose(back.predict(x, verbose=0), m.predict(x, verbose=0), rtol=1e-5)


def test_save_keyword_arguments_as_keras(tmp_path):
    m, _ = _model()
    with pytest.warns(UserWarning, match="save_format"):
        m.save(tmp_path / "a.keras", save_format="keras")
    with pytest.raises(ValueError, match="save_format"):
        m.save(tmp_path / "a.tf", save_format="tf")
    with pytest.raises(ValueError, match=r"not supported: \['options'\]"):
        m.save(tmp_path / "b.keras", options=None)
    with pytest.raises(ValueError, match="should not end in `.keras`"):
        m.save(tmp_path / "c.keras", zipped=False)
    (tmp_path / "f").write_text("x")
    with pytest.raises(ValueError, match="is a file, not a directory"):
        m.save(tmp_path / "f", zipped=False)


@pytest.mark.parametrize("name", ["m.keras", "m.h5"])
def test_include_optimizer_false_leaves_the_optimizer_state_out(tmp_path, name):
    m, x = _model()
    m.save(tmp_path / name, include_optimizer=False)
    back = keras.models.load_model(tmp_path / name)
    assert int(back.optimizer.iterations.numpy()) == 0  # a fresh optimizer, same weights
    np.testing.assert_allclose(back.predict(x, verbose=0), m.predict(x, verbose=0), rtol=1e-6)
    m.save(tmp_path / ("full_" + name))
    assert int(keras.models.load_model(tmp_path / ("full_" + name)).optimizer.iterations
               .numpy()) == int(m.optimizer.iterations.numpy())
