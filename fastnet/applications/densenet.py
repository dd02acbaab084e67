"""DenseNet121 (Huang et al., 2017), Keras's layer names and layout."""

from __future__ import annotations

from fastnet.applications import imagenet_utils
from fastnet.applications._common import check_args, classifier_top, load_weights, make_input

BN_EPS = 1.001e-5


def _conv_block(x, growth_rate, name):
    from fastnet import layers

    x1 = layers.BatchNormalization(axis=3, epsilon=BN_EPS, name=f"{name}_0_bn")(x)
    x1 = layers.Activation("relu", name=f"{name}_0_relu")(x1)
    x1 = layers.Conv2D(4 * growth_rate, 1, use_bias=False, name=f"{name}_1_conv")(x1)
    x1 = layers.BatchNormalization(axis=3, epsilon=BN_EPS, name=f"{name}_1_bn")(x1)
    x1 = layers.Activation("relu", name=f"{name}_1_relu")(x1)
    x1 = layers.Conv2D(growth_rate, 3, padding="same", use_bias=False,
                       name=f"{name}_2_conv")(x1)
    return layers.Concatenate(axis=3, name=f"{name}_concat")([x, x1])


def _dense_block(x, blocks, name):
    for i in range(blocks):
        x = _conv_block(x, 32, name=f"{name}_block{i + 1}")
    return x


def _transition_block(x, reduction, name):
    from fastnet import layers

    x = layers.BatchNormalization(axis=3, epsilon=BN_EPS, name=f"{name}_bn")(x)
    x = layers.Activation("relu", name=f"{name}_relu")(x)
    x = layers.Conv2D(int(x.shape[3] * reduction), 1, use_bias=False, name=f"{name}_conv")(x)
    return layers.AveragePooling2D(2, strides=2, name=f"{name}_pool")(x)


def DenseNet121(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                pooling=None, classes=1000, classifier_activation="softmax",
                name="densenet121"):
    """DenseNet121: 8,062,504 parameters with the top (224×224×3 input)."""
    from fastnet import layers
    from fastnet.models import Model

    blocks = [6, 12, 24, 16]
    input_shape = check_args("DenseNet121", weights, include_top, classes, input_shape, 224)
    img_input, _ = make_input(input_tensor, input_shape)
    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)))(img_input)
    x = layers.Conv2D(64, 7, strides=2, use_bias=False, name="conv1_conv")(x)
    x = layers.BatchNormalization(axis=3, epsilon=BN_EPS, name="conv1_bn")(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)))(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    for i, n in enumerate(blocks):
        x = _dense_block(x, n, name=f"conv{i + 2}")
        if i < len(blocks) - 1:
            x = _transition_block(x, 0.5, name=f"pool{i + 2}")
    x = layers.BatchNormalization(axis=3, epsilon=BN_EPS, name="bn")(x)
    x = layers.Activation("relu", name="relu")(x)
    x = classifier_top(x, "DenseNet121", include_top, pooling, classes, classifier_activation)
    model = Model(img_input, x, name=name)
    suffix = "" if include_top else "_notop"
    return load_weights(model, "DenseNet121", weights,
                        f"densenet121_weights_tf_dim_ordering_tf_kernels{suffix}.h5")


def preprocess_input(x, data_format=None):
    """Scales to [0, 1], then normalizes by the ImageNet RGB mean and std ('torch')."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="torch")


decode_predictions = imagenet_utils.decode_predictions
