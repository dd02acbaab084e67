"""ResNet50V2 (He et al., 2016: pre-activation), Keras's layer names and layout."""

from __future__ import annotations

from fastnet.applications import imagenet_utils
from fastnet.applications._common import check_args, classifier_top, load_weights, make_input

BN_EPS = 1.001e-5


def _block_v2(x, filters, kernel_size=3, stride=1, conv_shortcut=False, name=None):
    from fastnet import layers

    preact = layers.BatchNormalization(axis=3, epsilon=BN_EPS, name=name + "_preact_bn")(x)
    preact = layers.Activation("relu", name=name + "_preact_relu")(preact)
    if conv_shortcut:
        shortcut = layers.Conv2D(4 * filters, 1, strides=stride, name=name + "_0_conv")(preact)
    else:
        shortcut = layers.MaxPooling2D(1, strides=stride)(x) if stride > 1 else x
    x = layers.Conv2D(filters, 1, strides=1, use_bias=False, name=name + "_1_conv")(preact)
    x = layers.BatchNormalization(axis=3, epsilon=BN_EPS, name=name + "_1_bn")(x)
    x = layers.Activation("relu", name=name + "_1_relu")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name=name + "_2_pad")(x)
    x = layers.Conv2D(filters, kernel_size, strides=stride, use_bias=False,
                      name=name + "_2_conv")(x)
    x = layers.BatchNormalization(axis=3, epsilon=BN_EPS, name=name + "_2_bn")(x)
    x = layers.Activation("relu", name=name + "_2_relu")(x)
    x = layers.Conv2D(4 * filters, 1, name=name + "_3_conv")(x)
    return layers.Add(name=name + "_out")([shortcut, x])


def _stack_v2(x, filters, blocks, stride1=2, name=None):
    x = _block_v2(x, filters, conv_shortcut=True, name=name + "_block1")
    for i in range(2, blocks):
        x = _block_v2(x, filters, name=f"{name}_block{i}")
    return _block_v2(x, filters, stride=stride1, name=f"{name}_block{blocks}")


def ResNet50V2(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
               pooling=None, classes=1000, classifier_activation="softmax", name="resnet50v2"):
    """ResNet50V2: 25,613,800 parameters with the top (224×224×3 input)."""
    from fastnet import layers
    from fastnet.models import Model

    input_shape = check_args("ResNet50V2", weights, include_top, classes, input_shape, 224)
    img_input, _ = make_input(input_tensor, input_shape)
    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)), name="conv1_pad")(img_input)
    x = layers.Conv2D(64, 7, strides=2, use_bias=True, name="conv1_conv")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name="pool1_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    x = _stack_v2(x, 64, 3, name="conv2")
    x = _stack_v2(x, 128, 4, name="conv3")
    x = _stack_v2(x, 256, 6, name="conv4")
    x = _stack_v2(x, 512, 3, stride1=1, name="conv5")
    x = layers.BatchNormalization(axis=3, epsilon=BN_EPS, name="post_bn")(x)
    x = layers.Activation("relu", name="post_relu")(x)
    x = classifier_top(x, "ResNet50V2", include_top, pooling, classes, classifier_activation)
    model = Model(img_input, x, name=name)
    suffix = "" if include_top else "_notop"
    return load_weights(model, "ResNet50V2", weights,
                        f"resnet50v2_weights_tf_dim_ordering_tf_kernels{suffix}.h5")


def preprocess_input(x, data_format=None):
    """Scales pixels to [-1, 1] ('tf' mode)."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


decode_predictions = imagenet_utils.decode_predictions
