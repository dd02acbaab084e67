"""InceptionV3 (Szegedy et al., 2016), Keras's layer layout (unnamed conv/bn layers
get the usual automatic names, as in Keras)."""

from __future__ import annotations

from fastnet.applications import imagenet_utils
from fastnet.applications._common import check_args, classifier_top, load_weights, make_input


def _cbn(x, filters, rows, cols, padding="same", strides=(1, 1), name=None):
    """Conv (no bias) + BatchNormalization (no scale) + relu, Keras's conv2d_bn."""
    from fastnet import layers

    x = layers.Conv2D(filters, (rows, cols), strides=strides, padding=padding, use_bias=False,
                      name=None if name is None else f"{name}_conv")(x)
    x = layers.BatchNormalization(axis=3, scale=False,
                                  name=None if name is None else f"{name}_bn")(x)
    return layers.Activation("relu", name=name)(x)


def _avg_branch(x, filters):
    from fastnet import layers

    b = layers.AveragePooling2D((3, 3), strides=(1, 1), padding="same")(x)
    return _cbn(b, filters, 1, 1)


def InceptionV3(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                pooling=None, classes=1000, classifier_activation="softmax",
                name="inception_v3"):
    """InceptionV3: 23,851,784 parameters with the top (299×299×3 input, at least 75×75)."""
    from fastnet import layers
    from fastnet.models import Model

    input_shape = check_args("InceptionV3", weights, include_top, classes, input_shape, 299,
                             min_size=75)
    img_input, _ = make_input(input_tensor, input_shape)
    cat = layers.concatenate
    x = _cbn(img_input, 32, 3, 3, strides=(2, 2), padding="valid")
    x = _cbn(x, 32, 3, 3, padding="valid")
    x = _cbn(x, 64, 3, 3)
    x = layers.MaxPooling2D((3, 3), strides=(2, 2))(x)
    x = _cbn(x, 80, 1, 1, padding="valid")
    x = _cbn(x, 192, 3, 3, padding="valid")
    x = layers.MaxPooling2D((3, 3), strides=(2, 2))(x)
    # mixed 0-2: 35 x 35
    for i, pool_filters in enumerate((32, 64, 64)):
        b1 = _cbn(x, 64, 1, 1)
        b5 = _cbn(_cbn(x, 48, 1, 1), 64, 5, 5)
        b3 = _cbn(_cbn(_cbn(x, 64, 1, 1), 96, 3, 3), 96, 3, 3)
        bp = _avg_branch(x, pool_filters)
        x = cat([b1, b5, b3, bp], axis=3, name=f"mixed{i}")
    # mixed 3: 17 x 17
    b3 = _cbn(x, 384, 3, 3, strides=(2, 2), padding="valid")
    bd = _cbn(_cbn(_cbn(x, 64, 1, 1), 96, 3, 3), 96, 3, 3, strides=(2, 2), padding="valid")
    bp = layers.MaxPooling2D((3, 3), strides=(2, 2))(x)
    x = cat([b3, bd, bp], axis=3, name="mixed3")
    # mixed 4-7
    for i, f in enumerate((128, 160, 160, 192)):
        b1 = _cbn(x, 192, 1, 1)
        b7 = _cbn(_cbn(_cbn(x, f, 1, 1), f, 1, 7), 192, 7, 1)
        bd = _cbn(x, f, 1, 1)
        bd = _cbn(_cbn(_cbn(_cbn(bd, f, 7, 1), f, 1, 7), f, 7, 1), 192, 1, 7)
        bp = _avg_branch(x, 192)
        x = cat([b1, b7, bd, bp], axis=3, name=f"mixed{4 + i}")
    # mixed 8: 8 x 8
    b3 = _cbn(_cbn(x, 192, 1, 1), 320, 3, 3, strides=(2, 2), padding="valid")
    b7 = _cbn(_cbn(_cbn(x, 192, 1, 1), 192, 1, 7), 192, 7, 1)
    b7 = _cbn(b7, 192, 3, 3, strides=(2, 2), padding="valid")
    bp = layers.MaxPooling2D((3, 3), strides=(2, 2))(x)
    x = cat([b3, b7, bp], axis=3, name="mixed8")
    # mixed 9-10
    for i in range(2):
        b1 = _cbn(x, 320, 1, 1)
        b3 = _cbn(x, 384, 1, 1)
        b3 = cat([_cbn(b3, 384, 1, 3), _cbn(b3, 384, 3, 1)], axis=3, name=f"mixed9_{i}")
        bd = _cbn(_cbn(x, 448, 1, 1), 384, 3, 3)
        bd = cat([_cbn(bd, 384, 1, 3), _cbn(bd, 384, 3, 1)], axis=3)
        bp = _avg_branch(x, 192)
        x = cat([b1, b3, bd, bp], axis=3, name=f"mixed{9 + i}")
    x = classifier_top(x, "InceptionV3", include_top, pooling, classes, classifier_activation, pool_names=(None, None))
    model = Model(img_input, x, name=name)
    fname = ("inception_v3_weights_tf_dim_ordering_tf_kernels.h5" if include_top
             else "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5")
    return load_weights(model, "InceptionV3", weights, fname)


def preprocess_input(x, data_format=None):
    """Scales pixels to [-1, 1] ('tf' mode)."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


decode_predictions = imagenet_utils.decode_predictions
