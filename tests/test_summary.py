"""model.summary(): Keras 3's table at the width asked for (line_length / positions, the
terminal's width by default), `0 (unbuilt)`, wrapped cells, nested models, show_trainable,
layer_range, optimizer parameters — compared line for line with Keras when installed."""

import os

import numpy as np
import pytest

import fastnet


def lines(model, **kwargs):
    out = []
    model.summary(print_fn=out.append, **kwargs)
    return "\n".join(out).splitlines()


def keras_lines(model, **kwargs):
    out = []
    model.summary(print_fn=out.append, **kwargs)
    return "\n".join(out).splitlines()


def build(k, kind):
    """The same model in fastnet or Keras (`k` is the module), every name explicit."""
    L = k.layers
    if kind == "sequential":
        return k.Sequential([k.Input((4,), name="x"), L.Dense(3, name="d1"),
                             L.Dense(2, name="d2")], name="seq")
    if kind == "unbuilt":
        return k.Sequential([L.Dense(3, name="d1")], name="lazy")
    if kind == "branches":
        i = k.Input((4,), name="x")
        a, b = L.Dense(3, name="left")(i), L.Dense(3, name="right")(i)
        return k.Model(i, L.add([a, b], name="sum"), name="fork")
    if kind == "nested":
        inner = k.Sequential([L.Dense(3, name="d_in")], name="inner")
        return k.Sequential([k.Input((4,), name="x"), inner, L.Dense(2, name="d_out")],
                            name="outer")
    if kind == "frozen":
        m = k.Sequential([k.Input((4,), name="x"), L.Dense(3, name="d1"),
                          L.BatchNormalization(name="bn"), L.Dropout(0.1, name="drop")],
                         name="frozen")
        m.get_layer("d1").trainable = False
        return m
    if kind == "compiled":
        m = build(k, "sequential")
        m.compile(optimizer=k.optimizers.Adam(), loss="mse")
        m.fit(np.ones((4, 4), "float32"), np.ones((4, 2), "float32"), verbose=0)
        return m
    raise ValueError(kind)


CASES = [("sequential", {}), ("sequential", {"line_length": 60}),
         ("sequential", {"line_length": 120, "positions": [0.5, 0.7, 1.0]}),
         ("unbuilt", {"line_length": 88}), ("branches", {"line_length": 108}),
         ("branches", {"line_length": 70}), ("nested", {"expand_nested": True}),
         ("nested", {"layer_range": ["inner", "inner"]}),
         ("frozen", {"show_trainable": True, "line_length": 100}),
         ("compiled", {"line_length": 88})]


@pytest.mark.parametrize("kind,kwargs", CASES)
def test_summary_matches_keras_line_for_line(kind, kwargs, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    assert lines(build(fastnet, kind), **kwargs) == keras_lines(build(keras, kind), **kwargs)


def test_width_is_line_length_and_the_terminal_caps_the_default(monkeypatch):
    model = build(fastnet, "sequential")
    for n in (50, 70, 130):
        assert {len(ln) for ln in lines(model, line_length=n)[1:-3]} == {n}
    monkeypatch.setenv("COLUMNS", "70")  # a narrow terminal: 70 - 4
    assert len(lines(model)[1]) == 66
    monkeypatch.setenv("COLUMNS", "300")  # a wide one: Keras's 88
    assert len(lines(model)[1]) == 88
    # Keras 2's absolute positions
    header = lines(model, line_length=60, positions=[30, 50, 60])[2]
    assert header.index("┃", 1) == 30 and len(header) == 60


def test_unbuilt_layers_and_wrapping():
    text = lines(build(fastnet, "unbuilt"), line_length=80)
    assert any("0 (unbuilt)" in ln and "?" in ln for ln in text)
    model = build(fastnet, "branches")
    text = lines(model, line_length=70)
    add_row = [i for i, ln in enumerate(text) if "sum (Add)" in ln][0]
    assert "left[0][0]," in text[add_row] and "right[0][0]" in text[add_row + 1]
    assert {len(ln) for ln in text[1:-3]} == {70}


def test_subclassed_model_shows_the_shapes_of_its_first_call():
    class Net(fastnet.Model):
        def __init__(self):
            super().__init__(name="net")
            self.d1 = fastnet.layers.Dense(32, activation="relu")
            self.d2 = fastnet.layers.Dense(10)

        def call(self, x):
            return self.d2(self.d1(x))

    net = Net()
    before = "\n".join(lines(net, line_length=80))
    assert "?" in before
    net(np.zeros((2, 5), "float32"))
    text = "\n".join(lines(net, line_length=80))
    assert "(2, 32)" in text and "(2, 10)" in text and "192" in text


def test_bad_positions_and_layer_range():
    model = build(fastnet, "sequential")
    with pytest.raises(ValueError, match="positions"):
        model.summary(positions=[0.5, 1.0])
    with pytest.raises(ValueError, match="Insufficient console width"):
        model.summary(line_length=12)
    with pytest.raises(ValueError, match="do not match"):
        model.summary(layer_range=["nope", "d2"])
