"""Xception (Chollet, 2017), Keras's layer names and layout."""

from __future__ import annotations

from fastnet.applications import imagenet_utils
from fastnet.applications._common import check_args, classifier_top, load_weights, make_input


def _sep_bn(x, filters, name, act_before=True, act_name=None):
    from fastnet import layers

    if act_before:
        x = layers.Activation("relu", name=act_name)(x)
    x = layers.SeparableConv2D(filters, (3, 3), padding="same", use_bias=False, name=name)(x)
    return layers.BatchNormalization(axis=-1, name=name + "_bn")(x)


def _entry_block(x, filters, prefix, first_act):
    """Two separable convs, a strided max-pool, plus a strided 1x1 projection."""
    from fastnet import layers

    residual = layers.Conv2D(filters[1], (1, 1), strides=(2, 2), padding="same",
                             use_bias=False)(x)
    residual = layers.BatchNormalization(axis=-1)(residual)
    x = _sep_bn(x, filters[0], f"{prefix}_sepconv1", act_before=first_act,
                act_name=f"{prefix}_sepconv1_act")
    x = _sep_bn(x, filters[1], f"{prefix}_sepconv2", act_name=f"{prefix}_sepconv2_act")
    x = layers.MaxPooling2D((3, 3), strides=(2, 2), padding="same", name=f"{prefix}_pool")(x)
    return layers.add([x, residual])


def Xception(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
             pooling=None, classes=1000, classifier_activation="softmax", name="xception"):
    """Xception: 22,910,480 parameters with the top (299×299×3 input, at least 71×71)."""
    from fastnet import layers
    from fastnet.models import Model

    input_shape = check_args("Xception", weights, include_top, classes, input_shape, 299,
                             min_size=71)
    img_input, _ = make_input(input_tensor, input_shape)
    x = layers.Conv2D(32, (3, 3), strides=(2, 2), use_bias=False, name="block1_conv1")(img_input)
    x = layers.BatchNormalization(axis=-1, name="block1_conv1_bn")(x)
    x = layers.Activation("relu", name="block1_conv1_act")(x)
    x = layers.Conv2D(64, (3, 3), use_bias=False, name="block1_conv2")(x)
    x = layers.BatchNormalization(axis=-1, name="block1_conv2_bn")(x)
    x = layers.Activation("relu", name="block1_conv2_act")(x)
    x = _entry_block(x, (128, 128), "block2", first_act=False)
    x = _entry_block(x, (256, 256), "block3", first_act=True)
    x = _entry_block(x, (728, 728), "block4", first_act=True)
    for i in range(8):
        residual = x
        prefix = f"block{i + 5}"
        for j in (1, 2, 3):
            x = _sep_bn(x, 728, f"{prefix}_sepconv{j}", act_name=f"{prefix}_sepconv{j}_act")
        x = layers.add([x, residual])
    x = _entry_block(x, (728, 1024), "block13", first_act=True)
    x = layers.SeparableConv2D(1536, (3, 3), padding="same", use_bias=False,
                               name="block14_sepconv1")(x)
    x = layers.BatchNormalization(axis=-1, name="block14_sepconv1_bn")(x)
    x = layers.Activation("relu", name="block14_sepconv1_act")(x)
    x = layers.SeparableConv2D(2048, (3, 3), padding="same", use_bias=False,
                               name="block14_sepconv2")(x)
    x = layers.BatchNormalization(axis=-1, name="block14_sepconv2_bn")(x)
    x = layers.Activation("relu", name="block14_sepconv2_act")(x)
    x = classifier_top(x, "Xception", include_top, pooling, classes, classifier_activation, pool_names=(None, None))
    model = Model(img_input, x, name=name)
    fname = ("xception_weights_tf_dim_ordering_tf_kernels.h5" if include_top
             else "xception_weights_tf_dim_ordering_tf_kernels_notop.h5")
    return load_weights(model, "Xception", weights, fname)


def preprocess_input(x, data_format=None):
    """Scales pixels to [-1, 1] ('tf' mode)."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


decode_predictions = imagenet_utils.decode_predictions
