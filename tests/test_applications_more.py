"""ResNet50V2, DenseNet121, Xception, InceptionV3, EfficientNetB0: Keras's parameter counts,
a forward pass on a small input, preprocess_input / decode_predictions, and (optional)
Keras 3's layer names."""

import json
import os

import numpy as np
import pytest
from oracle import assert_close

from fastnet import applications

# keras.applications' documented parameter counts (with the top, default input size).
COUNTS = [
    (applications.ResNet50V2, 25_613_800),
    (applications.DenseNet121, 8_062_504),
    (applications.Xception, 22_910_480),
    (applications.InceptionV3, 23_851_784),
    (applications.EfficientNetB0, 5_330_571),
]


@pytest.mark.parametrize("ctor,params", COUNTS)
def test_keras_parameter_counts(ctor, params):
    model = ctor(weights=None)
    assert model.count_params() == params
    assert model.output.shape == (None, 1000)


@pytest.mark.parametrize("ctor,size,features", [
    (applications.ResNet50V2, 64, 2048),
    (applications.DenseNet121, 64, 1024),
    (applications.Xception, 71, 2048),
    (applications.InceptionV3, 75, 2048),
    (applications.EfficientNetB0, 64, 1280),
])
def test_notop_forward(ctor, size, features):
    model = ctor(weights=None, include_top=False, pooling="avg", input_shape=(size, size, 3))
    assert model.output.shape == (None, features)
    out = model.predict(np.random.default_rng(0).random((2, size, size, 3)) * 255, verbose=0)
    assert out.shape == (2, features) and np.isfinite(out).all()
    with pytest.raises(ValueError, match="input"):
        ctor(weights=None, include_top=False, input_shape=(16, 16, 3))


def test_preprocess_input_modes():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (2, 4, 4, 3)).astype(np.float32)
    assert_close(applications.xception.preprocess_input(x), x / 127.5 - 1, atol=1e-6)
    assert_close(applications.inception_v3.preprocess_input(x), x / 127.5 - 1, atol=1e-6)
    assert_close(applications.resnet_v2.preprocess_input(x), x / 127.5 - 1, atol=1e-6)
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    assert_close(applications.densenet.preprocess_input(x), (x / 255 - mean) / std, atol=1e-5)
    assert applications.efficientnet.preprocess_input(x) is x
    caffe = applications.imagenet_utils.preprocess_input(x, mode="caffe")
    assert_close(caffe, x[..., ::-1] - np.array([103.939, 116.779, 123.68]), atol=1e-4)
    cf = applications.imagenet_utils.preprocess_input(np.transpose(x, (0, 3, 1, 2)),
                                                      data_format="channels_first",
                                                      mode="torch")
    assert_close(np.transpose(cf, (0, 2, 3, 1)), (x / 255 - mean) / std, atol=1e-5)
    with pytest.raises(ValueError, match="mode"):
        applications.imagenet_utils.preprocess_input(x, mode="keras")


def test_decode_predictions_reads_keras_cached_index(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(applications.imagenet_utils, "_CLASS_INDEX", None)
    preds = np.zeros((2, 1000), np.float32)
    preds[0, [3, 7, 1]] = [0.5, 0.3, 0.2]
    preds[1, 999] = 1.0
    with pytest.raises(FileNotFoundError, match="imagenet_class_index.json"):
        applications.xception.decode_predictions(preds)
    (tmp_path / "models").mkdir()
    index = {str(i): [f"n{i:08d}", f"class_{i}"] for i in range(1000)}
    (tmp_path / "models" / "imagenet_class_index.json").write_text(json.dumps(index))
    out = applications.densenet.decode_predictions(preds, top=3)
    assert [(c, n) for c, n, _ in out[0]] == [("n00000003", "class_3"), ("n00000007", "class_7"),
                                             ("n00000001", "class_1")]
    assert out[0][0][2] == pytest.approx(0.5)
    assert out[1][0][:2] == ("n00000999", "class_999")
    with pytest.raises(ValueError, match="1000"):
        applications.imagenet_utils.decode_predictions(preds[:, :10])
    monkeypatch.setattr(applications.imagenet_utils, "_CLASS_INDEX", None)


@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    pytest.importorskip("torch")
    return pytest.importorskip("keras")


# One model (building Keras's takes seconds each); the others' counts are checked above.
@pytest.mark.parametrize("name,size", [("Xception", 71)])
def test_layer_names_match_keras(keras, name, size):
    kw = {"weights": None, "include_top": False, "input_shape": (size, size, 3)}
    ours = getattr(applications, name)(**kw)
    theirs = getattr(keras.applications, name)(**kw)
    named = [layer.name for layer in theirs.layers
             if not any(layer.name.startswith(p) for p in ("input_layer", "batch_normalization",
                                                           "conv2d", "add", "max_pooling2d",
                                                           "zero_padding2d", "rescaling",
                                                           "normalization"))]
    ours_names = {layer.name for layer in ours.layers}
    assert [n for n in named if n not in ours_names] == []
    assert ours.count_params() == theirs.count_params()


@pytest.mark.parametrize("fn", [applications.ResNet50, applications.VGG16,
                                applications.MobileNetV2])
def test_unknown_pooling_is_refused_naming_the_model(fn):
    with pytest.raises(ValueError, match="pooling must be None, 'avg' or 'max'"):
        fn(weights=None, include_top=False, input_shape=(32, 32, 3), pooling="mean")
