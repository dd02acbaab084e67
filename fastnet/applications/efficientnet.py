"""EfficientNetB0 (Tan & Le, 2019), Keras's layer names and layout: the input scaling
(Rescaling 1/255 + Normalization) is part of the model, so preprocess_input is the
identity, as Keras."""

from __future__ import annotations

import math

from fastnet.applications._common import check_args, classifier_top, load_weights, make_input

# (kernel, repeats, filters_in, filters_out, expand_ratio, strides, se_ratio)
BLOCKS_B0 = [
    (3, 1, 32, 16, 1, 1, 0.25),
    (3, 2, 16, 24, 6, 2, 0.25),
    (5, 2, 24, 40, 6, 2, 0.25),
    (3, 3, 40, 80, 6, 2, 0.25),
    (5, 3, 80, 112, 6, 1, 0.25),
    (5, 4, 112, 192, 6, 2, 0.25),
    (3, 1, 192, 320, 6, 1, 0.25),
]
IMAGENET_STDDEV_RGB = [0.229, 0.224, 0.225]


def _conv_init():
    from fastnet import initializers

    return initializers.VarianceScaling(scale=2.0, mode="fan_out",
                                        distribution="truncated_normal")


def _correct_pad(shape, kernel_size):
    h, w = shape[1], shape[2]
    adjust = (1, 1) if h is None else (1 - h % 2, 1 - w % 2)
    correct = (kernel_size // 2, kernel_size // 2)
    return ((correct[0] - adjust[0], correct[0]), (correct[1] - adjust[1], correct[1]))


def _block(inputs, drop_rate, name, filters_in, filters_out, kernel_size, strides,
           expand_ratio, se_ratio, activation="swish"):
    from fastnet import layers

    filters = filters_in * expand_ratio
    if expand_ratio != 1:
        x = layers.Conv2D(filters, 1, padding="same", use_bias=False,
                          kernel_initializer=_conv_init(), name=f"{name}expand_conv")(inputs)
        x = layers.BatchNormalization(axis=3, name=f"{name}expand_bn")(x)
        x = layers.Activation(activation, name=f"{name}expand_activation")(x)
    else:
        x = inputs
    if strides == 2:
        x = layers.ZeroPadding2D(padding=_correct_pad(x.shape, kernel_size),
                                 name=f"{name}dwconv_pad")(x)
        conv_pad = "valid"
    else:
        conv_pad = "same"
    x = layers.DepthwiseConv2D(kernel_size, strides=strides, padding=conv_pad, use_bias=False,
                               depthwise_initializer=_conv_init(), name=f"{name}dwconv")(x)
    x = layers.BatchNormalization(axis=3, name=f"{name}bn")(x)
    x = layers.Activation(activation, name=f"{name}activation")(x)
    if 0 < se_ratio <= 1:
        filters_se = max(1, int(filters_in * se_ratio))
        se = layers.GlobalAveragePooling2D(name=f"{name}se_squeeze")(x)
        se = layers.Reshape((1, 1, filters), name=f"{name}se_reshape")(se)
        se = layers.Conv2D(filters_se, 1, padding="same", activation=activation,
                           kernel_initializer=_conv_init(), name=f"{name}se_reduce")(se)
        se = layers.Conv2D(filters, 1, padding="same", activation="sigmoid",
                           kernel_initializer=_conv_init(), name=f"{name}se_expand")(se)
        x = layers.multiply([x, se], name=f"{name}se_excite")
    x = layers.Conv2D(filters_out, 1, padding="same", use_bias=False,
                      kernel_initializer=_conv_init(), name=f"{name}project_conv")(x)
    x = layers.BatchNormalization(axis=3, name=f"{name}project_bn")(x)
    if strides == 1 and filters_in == filters_out:
        if drop_rate > 0:
            x = layers.Dropout(drop_rate, noise_shape=(None, 1, 1, 1), name=f"{name}drop")(x)
        x = layers.add([x, inputs], name=f"{name}add")
    return x


def EfficientNetB0(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                   pooling=None, classes=1000, classifier_activation="softmax",
                   name="efficientnetb0"):
    """EfficientNetB0: 5,330,571 parameters with the top (224×224×3 input; the count
    includes the input Normalization's mean, variance and count, as Keras's)."""
    from fastnet import initializers, layers
    from fastnet.models import Model

    input_shape = check_args("EfficientNetB0", weights, include_top, classes, input_shape, 224)
    img_input, _ = make_input(input_tensor, input_shape)
    drop_connect_rate, dropout_rate = 0.2, 0.2
    x = layers.Rescaling(1.0 / 255.0)(img_input)
    x = layers.Normalization(axis=3)(x)
    if weights == "imagenet":
        # as Keras (the released weights expect it): 1/sqrt(std) per channel
        x = layers.Rescaling([1.0 / math.sqrt(s) for s in IMAGENET_STDDEV_RGB])(x)
    x = layers.ZeroPadding2D(padding=_correct_pad(x.shape, 3), name="stem_conv_pad")(x)
    x = layers.Conv2D(32, 3, strides=2, padding="valid", use_bias=False,
                      kernel_initializer=_conv_init(), name="stem_conv")(x)
    x = layers.BatchNormalization(axis=3, name="stem_bn")(x)
    x = layers.Activation("swish", name="stem_activation")(x)
    total = float(sum(r for _, r, *_ in BLOCKS_B0))
    b = 0
    for i, (k, repeats, f_in, f_out, expand, strides, se) in enumerate(BLOCKS_B0):
        for j in range(repeats):
            x = _block(x, drop_connect_rate * b / total, f"block{i + 1}{chr(j + 97)}_",
                       f_in if j == 0 else f_out, f_out, k, strides if j == 0 else 1,
                       expand, se)
            b += 1
    x = layers.Conv2D(1280, 1, padding="same", use_bias=False, kernel_initializer=_conv_init(),
                      name="top_conv")(x)
    x = layers.BatchNormalization(axis=3, name="top_bn")(x)
    x = layers.Activation("swish", name="top_activation")(x)
    x = classifier_top(
        x, "EfficientNetB0", include_top, pooling, classes, classifier_activation,
        features=lambda t: layers.Dropout(dropout_rate, name="top_dropout")(
            layers.GlobalAveragePooling2D(name="avg_pool")(t)),
        dense_kwargs={"kernel_initializer": initializers.VarianceScaling(
            scale=1.0 / 3.0, mode="fan_out", distribution="uniform")})
    model = Model(img_input, x, name=name)
    return load_weights(model, "EfficientNetB0", weights,
                        "efficientnetb0.h5" if include_top else "efficientnetb0_notop.h5")


def preprocess_input(x, data_format=None):
    """The identity: EfficientNet models scale their inputs themselves (as Keras)."""
    return x


def decode_predictions(preds, top=5):
    from fastnet.applications.imagenet_utils import decode_predictions as _decode

    return _decode(preds, top=top)
