"""fastnet.callbacks.TensorBoard: the event files are read back with TensorBoard's own
EventAccumulator and compared with History (and numpy for histograms / images)."""

import glob
import io
import json
import os
import sys

import numpy as np
import pytest

import fastnet as keras

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import (  # noqa: E402
    TENSORS,
    EventAccumulator,
)
from tensorboard.util import tensor_util  # noqa: E402


def _read(run_dir):
    ea = EventAccumulator(run_dir, size_guidance={TENSORS: 0})
    ea.Reload()
    return ea


def _series(ea, tag):
    events = ea.Tensors(tag)
    return [e.step for e in events], [tensor_util.make_ndarray(e.tensor_proto) for e in events]


def _plugin(ea, tag):
    return ea.SummaryMetadata(tag).plugin_data.plugin_name


def _data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int64")
    return x, y


def _model():
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def test_epoch_scalars_match_history_and_layout(tmp_path):
    x, y = _data()
    model = _model()
    tb = keras.callbacks.TensorBoard(log_dir=tmp_path, histogram_freq=1, update_freq=2)
    hist = model.fit(x, y, batch_size=16, epochs=3, validation_data=(x[:32], y[:32]),
                     callbacks=[tb], verbose=0)
    assert sorted(os.listdir(tmp_path)) == ["train", "validation"]
    assert glob.glob(str(tmp_path / "train" / "events.out.tfevents.*"))

    train, val = _read(str(tmp_path / "train")), _read(str(tmp_path / "validation"))
    for name in ("loss", "accuracy"):
        steps, values = _series(train, f"epoch_{name}")
        assert steps == [0, 1, 2]
        np.testing.assert_allclose(values, hist.history[name], rtol=1e-6)
        assert _plugin(train, f"epoch_{name}") == "scalars"
        steps, values = _series(val, f"epoch_{name}")
        assert steps == [0, 1, 2]
        np.testing.assert_allclose(values, hist.history[f"val_{name}"], rtol=1e-6)
    steps, lr = _series(train, "epoch_learning_rate")
    np.testing.assert_allclose(lr, [0.05] * 3, rtol=1e-6)

    # update_freq=2: batch_* every second global batch (6 batches per epoch, 18 in all)
    steps, _ = _series(train, "batch_loss")
    assert steps == list(range(2, 19, 2))
    # the validation runs' evaluation against the optimizer's iterations
    steps, values = _series(val, "evaluation_loss_vs_iterations")
    assert steps == [6, 12, 18]
    np.testing.assert_allclose(values, hist.history["val_loss"], rtol=1e-6)

    # histogram of the last epoch equals numpy's equal-width buckets of the final kernel
    kernel = model.layers[0].kernel.numpy()
    tag = f"{model.layers[0].kernel.path}/histogram"
    assert _plugin(train, tag) == "histograms"
    steps, hists = _series(train, tag)
    assert steps == [0, 1, 2]
    counts, edges = np.histogram(kernel, bins=30)
    np.testing.assert_allclose(hists[-1][:, 0], edges[:-1], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(hists[-1][:, 1], edges[1:], rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(hists[-1][:, 2], counts)

    # the model graph: Keras's "keras" summary holding the model JSON
    assert _plugin(train, "keras") == "graph_keras_model"
    _, (blob,) = _series(train, "keras")
    config = json.loads(blob.item())
    assert config["class_name"] == "Sequential"
    assert [layer["class_name"] for layer in config["config"]["layers"]][-2:] == ["Dense", "Dense"]


def test_update_freq_epoch_writes_no_batch_scalars_and_write_graph_false(tmp_path):
    x, y = _data()
    model = _model()
    model.fit(x, y, batch_size=32, epochs=2, verbose=0,
              callbacks=[keras.callbacks.TensorBoard(tmp_path, write_graph=False)])
    train = _read(str(tmp_path / "train"))
    tags = train.Tags()["tensors"]
    assert "epoch_loss" in tags and "keras" not in tags
    assert not [t for t in tags if t.startswith("batch_")]
    assert not (tmp_path / "validation").exists()  # nothing to write, no run created


def test_write_images_are_pngs_of_the_weights(tmp_path):
    image_mod = pytest.importorskip("PIL.Image")
    x, y = _data()
    model = _model()
    model.fit(x, y, batch_size=32, epochs=1, verbose=0,
              callbacks=[keras.callbacks.TensorBoard(tmp_path, histogram_freq=1,
                                                     write_images=True)])
    train = _read(str(tmp_path / "train"))
    kernel = model.layers[0].kernel  # (6, 8): Keras shows it as one 6x8 image
    tag = f"{kernel.path}/image"
    assert _plugin(train, tag) == "images"
    _, (content,) = _series(train, tag)
    width, height, png = content
    assert (int(width), int(height)) == (8, 6)
    pixels = np.asarray(image_mod.open(io.BytesIO(png)))
    expected = np.clip(kernel.numpy() * 255.5, 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(pixels, expected)
    bias = model.layers[0].bias  # (8,): an 8-high, 1-wide image
    _, (content,) = _series(train, f"{bias.path}/image")
    assert (int(content[0]), int(content[1])) == (1, 8)


def test_subclassed_model_and_evaluate(tmp_path):
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.d = keras.layers.Dense(2, activation="softmax")

        def call(self, x):
            return self.d(x)

    x, y = _data()
    model = Net()
    model.compile("adam", "sparse_categorical_crossentropy")
    tb = keras.callbacks.TensorBoard(tmp_path)
    model.fit(x, y, epochs=1, verbose=0, callbacks=[tb])
    loss = model.evaluate(x, y, verbose=0, callbacks=[tb])
    train, val = _read(str(tmp_path / "train")), _read(str(tmp_path / "validation"))
    assert "keras" not in train.Tags()["tensors"]  # Keras writes no graph for subclasses
    steps, values = _series(val, "evaluation_loss_vs_iterations")
    assert steps == [int(model.optimizer.iterations.numpy())]
    np.testing.assert_allclose(values, [loss], rtol=1e-6)


def test_bad_arguments_name_themselves(tmp_path):
    with pytest.raises(ValueError, match="update_freq"):
        keras.callbacks.TensorBoard(tmp_path, update_freq="sometimes")
    with pytest.raises(ValueError, match="histogram_freq"):
        keras.callbacks.TensorBoard(tmp_path, histogram_freq=-1)
    with pytest.raises(ValueError, match="profile_batch"):
        keras.callbacks.TensorBoard(tmp_path, profile_batch=(5, 2))
    with pytest.raises(ValueError, match="profile_batch"):
        keras.callbacks.TensorBoard(tmp_path, profile_batch=3)
    keras.callbacks.TensorBoard(tmp_path, profile_batch=0)
    keras.callbacks.TensorBoard(tmp_path, profile_batch="0")


def test_missing_tensorboard_names_the_extra(monkeypatch, tmp_path):
    for name in list(sys.modules):
        if name == "tensorboard" or name.startswith("tensorboard."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # import raises ImportError
    with pytest.raises(ImportError, match=r"fastnet-cpu\[tensorboard\]"):
        keras.callbacks.TensorBoard(tmp_path)


def test_steps_per_second_and_embeddings_projector(tmp_path):
    from google.protobuf import text_format
    from tensorboard.plugins.projector import projector_config_pb2

    rng = np.random.default_rng(0)
    model = keras.Sequential([keras.Input((5,), dtype="int32"),
                              keras.layers.Embedding(20, 4, name="words"),
                              keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    tb = keras.callbacks.TensorBoard(tmp_path, write_steps_per_second=True, update_freq=1,
                                     embeddings_freq=1,
                                     embeddings_metadata={"words": "meta.tsv"})
    model.fit(rng.integers(0, 20, (32, 5)), rng.normal(size=(32, 1)), batch_size=8, epochs=2,
              verbose=0, callbacks=[tb])
    train = _read(str(tmp_path / "train"))
    for tag, n in (("epoch_steps_per_second", 2), ("batch_steps_per_second", 8)):
        steps, values = _series(train, tag)
        assert len(steps) == n and np.all(np.isfinite(values))
    config = text_format.Parse((tmp_path / "projector_config.pbtxt").read_text(),
                               projector_config_pb2.ProjectorConfig())
    assert [e.metadata_path for e in config.embeddings] == ["meta.tsv"]
    assert sorted(p.name for p in (tmp_path / "train").glob("keras_embedding*")) == [
        "keras_embedding.ckpt-0.weights.h5", "keras_embedding.ckpt-1.weights.h5"]
    with pytest.raises(ValueError, match="Unrecognized `Embedding` layer names"):
        bad = keras.callbacks.TensorBoard(tmp_path, embeddings_freq=1,
                                          embeddings_metadata={"nope": "m.tsv"})
        bad.set_model(model)
