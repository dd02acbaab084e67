import numpy as np
import pytest

import fastnet
from fastnet import applications


@pytest.mark.parametrize("ctor,params", [
    (applications.VGG16, 138_357_544),
    (applications.VGG19, 143_667_240),
    (applications.ResNet50, 25_636_712),
    (applications.MobileNetV2, 3_538_984),
])
def test_architectures_have_keras_parameter_counts(ctor, params):
    model = ctor(weights=None)
    assert model.count_params() == params
    assert model.output.shape == (None, 1000)


def test_notop_pooling_shapes():
    m = applications.VGG19(weights=None, include_top=False, pooling="avg", input_shape=(64, 64, 3))
    assert m.output.shape == (None, 512)
    m = applications.MobileNetV2(weights=None, include_top=False, input_shape=(96, 96, 3))
    assert m.output.shape == (None, 3, 3, 1280)


def test_feature_extraction_from_intermediate_outputs():
    # The functional tutorial's VGG19 example, at a small input size.
    vgg19 = applications.VGG19(weights=None, include_top=False, input_shape=(32, 32, 3))
    features_list = [layer.output for layer in vgg19.layers]
    feat_extraction_model = fastnet.Model(inputs=vgg19.input, outputs=features_list)
    img = np.random.random((1, 32, 32, 3)).astype("float32")
    extracted = feat_extraction_model(img)
    assert len(extracted) == len(vgg19.layers)
    assert tuple(extracted[-1].shape) == (1, 1, 1, 512)


def test_imagenet_weights_missing_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="does not download weights"):
        applications.VGG16(input_shape=(224, 224, 3))


def test_bad_arguments():
    with pytest.raises(ValueError, match="classes"):
        applications.ResNet50(weights="imagenet", classes=10)
    with pytest.raises(ValueError, match="weights"):
        applications.VGG16(weights="nonsense")
