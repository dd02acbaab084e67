import shutil

import pytest

import fastnet as keras
from fastnet import layers


def functional():
    inputs = keras.Input(shape=(784,), name="img")
    x = layers.Dense(64, activation="relu")(inputs)
    y = layers.Dense(64, activation="relu")(x)
    outputs = layers.add([x, y])
    return keras.Model(inputs=inputs, outputs=outputs, name="mnist_model")


def test_dot_text_has_every_layer_and_edge(tmp_path):
    model = functional()
    path = tmp_path / "m.dot"
    keras.utils.plot_model(model, str(path), show_shapes=True, show_dtype=True)
    text = path.read_text()
    for layer in model.layers:
        assert f"{layer.name} ({type(layer).__name__})" in text
    assert text.count("->") == 4  # img->dense, dense->dense_1, dense->add, dense_1->add
    assert "output: (None, 64)" in text and "dtype: float32" in text


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz not installed")
@pytest.mark.parametrize("ext,magic", [("png", b"\x89PNG"), ("svg", b"<?xml"), ("pdf", b"%PDF")])
def test_renders_with_graphviz(tmp_path, ext, magic):
    path = tmp_path / f"model.{ext}"
    keras.utils.plot_model(functional(), str(path), show_shapes=True, rankdir="LR")
    assert path.read_bytes().startswith(magic)


def test_missing_graphviz_names_the_missing_piece(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(ImportError, match="Graphviz"):
        keras.utils.plot_model(functional(), str(tmp_path / "m.png"))


def test_sequential_and_errors(tmp_path):
    seq = keras.Sequential([layers.Dense(4, input_shape=(3,)), layers.Dense(2)])
    keras.utils.plot_model(seq, str(tmp_path / "s.dot"))
    with pytest.raises(ValueError, match="rankdir"):
        keras.utils.plot_model(seq, str(tmp_path / "s.dot"), rankdir="XY")
    with pytest.raises(ValueError, match="not been built"):
        keras.utils.plot_model(keras.Sequential([layers.Dense(2)]), str(tmp_path / "u.dot"))
