"""keras.utils image helpers, image/text_dataset_from_directory, Config,
keras.preprocessing, keras.models.save_model and the top-level names: on files the tests
write, against numpy and (when installed) Keras 3."""

import os

import numpy as np
import pytest
from oracle import rand

import fastnet
from fastnet import layers, utils

Image = pytest.importorskip("PIL.Image")


def _keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    pytest.importorskip("torch")
    return keras


def _pixels(h, w, c, seed):
    return np.random.default_rng(seed).integers(0, 256, (h, w, c)).astype(np.uint8)


def test_img_to_array_and_array_to_img_round_trip(tmp_path):
    px = _pixels(5, 7, 3, 1)
    img = Image.fromarray(px, "RGB")
    arr = utils.img_to_array(img)
    assert arr.shape == (5, 7, 3) and arr.dtype == np.float32
    np.testing.assert_array_equal(arr, px)
    assert utils.img_to_array(img, data_format="channels_first").shape == (3, 5, 7)
    assert utils.img_to_array(Image.fromarray(px[:, :, 0], "L")).shape == (5, 7, 1)
    back = utils.array_to_img(arr, scale=False)
    assert back.mode == "RGB" and back.size == (7, 5)
    np.testing.assert_array_equal(np.asarray(back), px)
    scaled = np.asarray(utils.array_to_img(np.linspace(-1, 1, 10).reshape(2, 5, 1)))
    assert scaled.min() == 0 and scaled.max() == 255
    assert utils.array_to_img(np.zeros((2, 2, 4))).mode == "RGBA"
    with pytest.raises(ValueError, match="rank 3"):
        utils.array_to_img(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="channel"):
        utils.array_to_img(np.zeros((2, 2, 2)))


def test_save_img_and_load_img(tmp_path):
    px = _pixels(6, 8, 3, 2)
    path = str(tmp_path / "a.png")
    utils.save_img(path, px, scale=False)
    img = utils.load_img(path)
    assert img.mode == "RGB" and img.size == (8, 6)
    np.testing.assert_array_equal(np.asarray(img), px)  # png is lossless
    gray = utils.load_img(path, color_mode="grayscale")
    assert gray.mode == "L"
    assert np.asarray(utils.load_img(path, color_mode="rgba")).shape == (6, 8, 4)
    small = utils.load_img(path, target_size=(3, 4))
    assert small.size == (4, 3)
    np.testing.assert_array_equal(np.asarray(small), np.asarray(Image.fromarray(px).resize(
        (4, 3), Image.Resampling.NEAREST)))
    cropped = utils.load_img(path, target_size=(6, 6), keep_aspect_ratio=True)
    np.testing.assert_array_equal(np.asarray(cropped), px[:, 1:7])  # the centred square
    with pytest.raises(ValueError, match="color_mode"):
        utils.load_img(path, color_mode="cmyk")
    with pytest.raises(ValueError, match="interpolation"):
        utils.load_img(path, target_size=(2, 2), interpolation="magic")
    with pytest.raises(TypeError, match="path"):
        utils.load_img(3)
    with pytest.warns(UserWarning, match="RGBA"):
        utils.save_img(str(tmp_path / "b.jpg"), np.zeros((2, 2, 4)))


def _image_tree(root, counts, size=(6, 10)):
    paths = {}
    for k, (name, n) in enumerate(counts.items()):
        os.makedirs(os.path.join(root, name, "nested"), exist_ok=True)
        for i in range(n):
            sub = "nested" if i % 3 == 2 else ""
            p = os.path.join(root, name, sub, f"img_{i}.png")
            Image.fromarray(_pixels(*size, 3, 10 * k + i)).save(p)
            paths[p] = k
    with open(os.path.join(root, counts and next(iter(counts)), "notes.txt"), "w") as f:
        f.write("not an image")
    return paths


def test_image_dataset_from_directory_labels_batches_and_fit(tmp_path):
    root = str(tmp_path / "imgs")
    truth = _image_tree(root, {"cats": 5, "dogs": 4})
    ds = utils.image_dataset_from_directory(root, image_size=(6, 10), batch_size=4, seed=3,
                                            verbose=False)
    assert ds.class_names == ["cats", "dogs"]
    assert sorted(ds.file_paths) == sorted(truth) and len(ds) == 3
    seen = 0
    for (x, y), paths in zip(ds, [ds.file_paths[i:i + 4] for i in range(0, 9, 4)]):
        assert x.dtype == np.float32 and x.shape[1:] == (6, 10, 3) and y.dtype == np.int32
        for img, label, p in zip(x, y, paths):  # same size: no resize, exact pixels
            np.testing.assert_array_equal(img, np.asarray(Image.open(p), np.float32))
            assert label == truth[p]
        seen += len(y)
    assert seen == 9
    cat = utils.image_dataset_from_directory(root, label_mode="categorical", image_size=(3, 5),
                                             batch_size=None, shuffle=False, verbose=False,
                                             color_mode="grayscale")
    x0, y0 = cat[0]
    assert x0.shape == (3, 5, 1) and y0.shape == (2,) and y0.dtype == np.float32
    binary = utils.image_dataset_from_directory(root, label_mode="binary", image_size=(6, 10),
                                                shuffle=False, verbose=False)
    assert binary[0][1].shape == (9, 1)
    model = fastnet.Sequential([fastnet.Input((6, 10, 3)), layers.Rescaling(1 / 255.0),
                                layers.Flatten(), layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(ds, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    assert model.predict(utils.image_dataset_from_directory(
        root, labels=None, image_size=(6, 10), verbose=False), verbose=0).shape == (9, 2)


def test_image_dataset_validation_split_and_errors(tmp_path):
    root = str(tmp_path / "imgs")
    _image_tree(root, {"a": 6, "b": 4})
    train, val = utils.image_dataset_from_directory(root, validation_split=0.3, subset="both",
                                                    seed=7, image_size=(4, 4), verbose=False)
    assert len(train.file_paths) == 7 and len(val.file_paths) == 3
    assert not set(train.file_paths) & set(val.file_paths)
    again = utils.image_dataset_from_directory(root, validation_split=0.3, subset="validation",
                                               seed=7, image_size=(4, 4), verbose=False)
    assert again.file_paths == val.file_paths
    with pytest.raises(ValueError, match="seed"):
        utils.image_dataset_from_directory(root, validation_split=0.2, subset="training")
    with pytest.raises(ValueError, match="subset"):
        utils.image_dataset_from_directory(root, validation_split=0.2, seed=1)
    with pytest.raises(ValueError, match="label_mode"):
        utils.image_dataset_from_directory(root, label_mode="sparse", verbose=False)
    with pytest.raises(ValueError, match="class_names"):
        utils.image_dataset_from_directory(root, class_names=["a", "zebra"], verbose=False)
    with pytest.raises(ValueError, match="color_mode"):
        utils.image_dataset_from_directory(root, color_mode="cmyk")
    with pytest.raises(ValueError, match="does not exist"):
        utils.image_dataset_from_directory(str(tmp_path / "nowhere"))


def test_text_dataset_from_directory(tmp_path):
    root = tmp_path / "texts"
    docs = {"neg": ["bad movie", "awful"], "pos": ["great film", "loved it", "wonderful"]}
    for label, texts in docs.items():
        (root / label).mkdir(parents=True)
        for i, t in enumerate(texts):
            (root / label / f"{i}.txt").write_text(t)
    ds = utils.text_dataset_from_directory(str(root), batch_size=2, seed=1, verbose=False)
    assert ds.class_names == ["neg", "pos"] and len(ds) == 3
    got = {}
    for x, y in ds:
        for t, label in zip(x, y):
            got[str(t)] = int(label)
    assert got == {t: k for k, ts in enumerate(docs.values()) for t in ts}
    short = utils.text_dataset_from_directory(str(root), max_length=4, shuffle=False,
                                              verbose=False)
    assert list(short[0][0]) == ["bad ", "awfu", "grea", "love", "wond"]


def test_file_order_matches_keras(tmp_path):
    _keras()
    from keras.src.utils import dataset_utils as kdu

    root = str(tmp_path / "imgs")
    _image_tree(root, {"x": 5, "y": 3, "z": 2})
    from fastnet.utils.dataset_utils import IMAGE_FORMATS, index_directory

    for shuffle in (False, True):
        want = kdu.index_directory(root, "inferred", IMAGE_FORMATS, shuffle=shuffle, seed=11,
                                   verbose=False)
        got = index_directory(root, "inferred", IMAGE_FORMATS, shuffle=shuffle, seed=11,
                              verbose=False)
        assert got[0] == want[0] and list(got[1]) == list(want[1]) and got[2] == want[2]


def test_img_helpers_match_keras(tmp_path):
    keras = _keras()
    px = _pixels(4, 6, 3, 5)
    path = str(tmp_path / "k.png")
    Image.fromarray(px).save(path)
    for kwargs in ({}, {"target_size": (3, 3), "interpolation": "bilinear"},
                   {"target_size": (4, 4), "keep_aspect_ratio": True},
                   {"color_mode": "grayscale"}):
        np.testing.assert_array_equal(
            utils.img_to_array(utils.load_img(path, **kwargs)),
            keras.utils.img_to_array(keras.utils.load_img(path, **kwargs)))
    x = rand((4, 6, 3), seed=1)
    np.testing.assert_array_equal(np.asarray(utils.array_to_img(x)),
                                  np.asarray(keras.utils.array_to_img(x)))


def test_config_object():
    c = utils.Config(learning_rate=0.1, layers=[4, 2])
    assert c.learning_rate == 0.1 and c["layers"] == [4, 2] and len(c) == 2
    c.batch_size = 32
    c["epochs"] = 3
    assert sorted(c) == ["batch_size", "epochs", "layers", "learning_rate"]
    assert c.as_dict()["epochs"] == 3 and "epochs" in c
    assert c.to_json().startswith("{")
    c.freeze()
    assert c.frozen
    for mutate in (lambda: setattr(c, "x", 1), lambda: c.update(a=1), lambda: c.pop("epochs"),
                   lambda: c.__setitem__("y", 2), lambda: c.__delitem__("epochs")):
        with pytest.raises(ValueError, match="frozen"):
            mutate()
    c.unfreeze()
    c.pop("epochs")
    with pytest.raises(AttributeError, match="Did you mean 'learning_rate'"):
        c.learning_rat  # noqa: B018


def test_preprocessing_and_models_names(tmp_path):
    from fastnet import preprocessing

    assert preprocessing.image.load_img is utils.load_img
    assert preprocessing.sequence.pad_sequences is utils.pad_sequences
    assert preprocessing.image_dataset_from_directory is utils.image_dataset_from_directory
    x = np.arange(2 * 4 * 6 * 1, dtype=np.float32).reshape(2, 4, 6, 1)
    out = preprocessing.image.smart_resize(x, (4, 4), interpolation="nearest")
    assert out.shape == (2, 4, 4, 1)
    np.testing.assert_array_equal(out, x[:, :, 1:5])  # centred crop, same scale
    model = fastnet.Sequential([fastnet.Input((3,)), layers.Dense(2)])
    path = str(tmp_path / "m.keras")
    fastnet.models.save_model(model, path)
    back = fastnet.models.load_model(path)
    for a, b in zip(model.get_weights(), back.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="extension"):
        fastnet.models.save_model(model, str(tmp_path / "m.bin"))


def test_top_level_names():
    assert fastnet.export.export_onnx is not None  # reachable as an attribute
    assert fastnet.Optimizer is fastnet.optimizers.Optimizer
    assert fastnet.Loss is fastnet.losses.Loss and fastnet.Metric is fastnet.metrics.Metric
    assert fastnet.Initializer is fastnet.initializers.Initializer
    assert fastnet.Regularizer is fastnet.regularizers.Regularizer
    assert isinstance(fastnet.Input((2,)), fastnet.KerasTensor)
    assert isinstance(layers.Dense(1), fastnet.Operation)
    assert fastnet.version() == fastnet.__version__
    for name in ("tree", "dtype_policies", "mixed_precision", "preprocessing", "saving"):
        assert name in dir(fastnet)
