import re
import shutil
import sys

import numpy as np
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
    keras.utils.plot_model(model, str(path), show_shapes=True, show_dtype=True,
                           show_layer_names=True)
    text = path.read_text()
    for layer in model.layers:
        assert f"<b>{layer.name}</b> ({type(layer).__name__})" in text
    assert text.count("->") == 4  # img->dense, dense->dense_1, dense->add, dense_1->add
    assert "Output shape: <b>(None, 64)</b>" in text and "Output dtype: <b>float32</b>" in text
    assert "Input shape: <b>[(None, 64), (None, 64)]</b>" in text  # the Add layer


def test_layer_names_hidden_by_default_as_in_keras3(tmp_path):
    path = tmp_path / "m.dot"
    keras.utils.plot_model(functional(), str(path))
    text = path.read_text()
    assert "<b>Dense</b>" in text and "dense_1" not in text


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
    with pytest.raises(ValueError, match="not yet been built"):
        keras.utils.plot_model(keras.Sequential([layers.Dense(2)]), str(tmp_path / "u.dot"))
    with pytest.raises(ValueError, match="show_shape"):  # a typo is not silently ignored
        keras.utils.plot_model(seq, str(tmp_path / "s.dot"), show_shape=True)
    text = (tmp_path / "s.dot").read_text()
    assert "InputLayer" not in text and text.count("->") == 1  # Keras draws no Sequential input


def nested():
    enc_in = keras.Input((8,), name="enc_in")
    enc = keras.Model(enc_in, layers.Dense(4, name="code")(enc_in), name="encoder")
    head = keras.Sequential([keras.Input((4,)), layers.Dense(3, name="s1"),
                             layers.Dense(2, name="s2")], name="head")
    x = keras.Input((8,), name="x")
    return keras.Model(x, head(enc(x)), name="outer")


def edges(text):
    names = dict(re.findall(r'(n\d+) \[label=<.*?<b>(\w+)</b>', text))
    return {(names[a], names[b]) for a, b in re.findall(r"(n\d+) -> (n\d+);", text)}


def test_expand_nested_draws_clusters_and_edges_into_them(tmp_path):
    path = tmp_path / "n.dot"
    keras.utils.plot_model(nested(), str(path), expand_nested=True, show_layer_names=True)
    text = path.read_text()
    assert text.count("subgraph cluster_") == 2 and 'label="encoder"' in text
    assert edges(text) == {("x", "enc_in"), ("enc_in", "code"), ("code", "s1"), ("s1", "s2")}
    keras.utils.plot_model(nested(), str(path), show_layer_names=True)  # collapsed
    text = path.read_text()
    assert "cluster" not in text
    assert edges(text) == {("x", "encoder"), ("encoder", "head")}


def test_model_to_dot_returns_pydot_graph_or_dot_text(monkeypatch):
    pydot = pytest.importorskip("pydot")
    dot = keras.utils.model_to_dot(nested(), expand_nested=True)
    assert isinstance(dot, pydot.Dot)
    assert len(dot.get_subgraphs()) == 2
    monkeypatch.setitem(sys.modules, "pydot", None)  # as if pydot were not installed
    text = keras.utils.model_to_dot(nested())
    assert isinstance(text, str) and text.startswith('digraph "outer"')


def test_subclassed_model_is_one_box(tmp_path):
    class Net(keras.Model):
        def __init__(self):
            super().__init__(name="net")
            self.d = layers.Dense(2)

        def call(self, x):
            return self.d(x)

    net = Net()
    net(np.zeros((1, 3), "float32"))
    text = keras.utils.model_to_dot(net, show_layer_names=True)
    text = text if isinstance(text, str) else text.to_string()
    assert "<b>net</b> (Net)" in text and "->" not in text
