"""MobileNetV2 (Sandler et al., 2018), Keras's layer names and layout."""

from __future__ import annotations

from fastnet.applications._common import check_args, classifier_top, load_weights, make_input

# (filters, stride, expansion) for blocks 0..16
_BLOCKS = [(16, 1, 1), (24, 2, 6), (24, 1, 6), (32, 2, 6), (32, 1, 6), (32, 1, 6),
           (64, 2, 6), (64, 1, 6), (64, 1, 6), (64, 1, 6), (96, 1, 6), (96, 1, 6), (96, 1, 6),
           (160, 2, 6), (160, 1, 6), (160, 1, 6), (320, 1, 6)]


def _make_divisible(v, divisor, min_value=None):
    min_value = min_value or divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:  # never round down by more than 10%
        new_v += divisor
    return new_v


def _correct_pad(shape, kernel_size=3):
    """Padding for a stride-2 'valid' convolution to mimic TF's 'same'."""
    h, w = shape[1], shape[2]
    adjust = (1, 1) if h is None else (1 - h % 2, 1 - w % 2)
    c = kernel_size // 2
    return ((c - adjust[0], c), (c - adjust[1], c))


def _inverted_res_block(inputs, expansion, stride, alpha, filters, block_id):
    from fastnet import layers

    in_channels = inputs.shape[-1]
    pointwise_filters = _make_divisible(int(filters * alpha), 8)
    x = inputs
    prefix = f"block_{block_id}_"
    if block_id:
        x = layers.Conv2D(expansion * in_channels, 1, padding="same", use_bias=False,
                          activation=None, name=prefix + "expand")(x)
        x = layers.BatchNormalization(epsilon=1e-3, momentum=0.999, name=prefix + "expand_BN")(x)
        x = layers.ReLU(6.0, name=prefix + "expand_relu")(x)
    else:
        prefix = "expanded_conv_"
    if stride == 2:
        x = layers.ZeroPadding2D(padding=_correct_pad(x.shape), name=prefix + "pad")(x)
    x = layers.DepthwiseConv2D(3, strides=stride, activation=None, use_bias=False,
                               padding="same" if stride == 1 else "valid",
                               name=prefix + "depthwise")(x)
    x = layers.BatchNormalization(epsilon=1e-3, momentum=0.999, name=prefix + "depthwise_BN")(x)
    x = layers.ReLU(6.0, name=prefix + "depthwise_relu")(x)
    x = layers.Conv2D(pointwise_filters, 1, padding="same", use_bias=False, activation=None,
                      name=prefix + "project")(x)
    x = layers.BatchNormalization(epsilon=1e-3, momentum=0.999, name=prefix + "project_BN")(x)
    if in_channels == pointwise_filters and stride == 1:
        return layers.Add(name=prefix + "add")([inputs, x])
    return x


def MobileNetV2(input_shape=None, alpha=1.0, include_top=True, weights="imagenet",
                input_tensor=None, pooling=None, classes=1000, classifier_activation="softmax",
                name=None):
    """MobileNetV2: 3,538,984 parameters with the top (alpha 1.0, 224×224×3 input)."""
    from fastnet import layers
    from fastnet.models import Model

    if weights == "imagenet" and alpha not in (0.35, 0.50, 0.75, 1.0, 1.3, 1.4):
        raise ValueError("MobileNetV2: with weights='imagenet', alpha must be one of 0.35, "
                         f"0.50, 0.75, 1.0, 1.3 or 1.4. Received: alpha={alpha}")
    input_shape = check_args("MobileNetV2", weights, include_top, classes, input_shape, 224)
    rows = input_shape[0]
    img_input, _ = make_input(input_tensor, input_shape)
    x = layers.Conv2D(_make_divisible(32 * alpha, 8), 3, strides=(2, 2), padding="same",
                      use_bias=False, name="Conv1")(img_input)
    x = layers.BatchNormalization(epsilon=1e-3, momentum=0.999, name="bn_Conv1")(x)
    x = layers.ReLU(6.0, name="Conv1_relu")(x)
    for block_id, (filters, stride, expansion) in enumerate(_BLOCKS):
        x = _inverted_res_block(x, expansion, stride, alpha, filters, block_id)
    last = _make_divisible(1280 * alpha, 8) if alpha > 1.0 else 1280
    x = layers.Conv2D(last, 1, use_bias=False, name="Conv_1")(x)
    x = layers.BatchNormalization(epsilon=1e-3, momentum=0.999, name="Conv_1_bn")(x)
    x = layers.ReLU(6.0, name="out_relu")(x)
    x = classifier_top(x, "MobileNetV2", include_top, pooling, classes, classifier_activation,
                       features=lambda t: layers.GlobalAveragePooling2D()(t), pool_names=(None, None))
    model = Model(img_input, x, name=name or f"mobilenetv2_{alpha:0.2f}_{rows}")
    top = "" if include_top else "_no_top"
    return load_weights(model, "MobileNetV2", weights,
                        f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_"
                        f"{rows}{top}.h5")
