"""ResNet50 (He et al., 2015), Keras's layer names and layout (v1, bias in convs)."""

from __future__ import annotations

from fastnet.applications._common import check_args, classifier_top, load_weights, make_input

BN_EPS = 1.001e-5


def _block(x, filters, kernel_size=3, stride=1, conv_shortcut=True, name=None):
    from fastnet import layers

    if conv_shortcut:
        shortcut = layers.Conv2D(4 * filters, 1, strides=stride, name=name + "_0_conv")(x)
        shortcut = layers.BatchNormalization(axis=3, epsilon=BN_EPS, name=name + "_0_bn")(shortcut)
    else:
        shortcut = x
    x = layers.Conv2D(filters, 1, strides=stride, name=name + "_1_conv")(x)
    x = layers.BatchNormalization(axis=3, epsilon=BN_EPS, name=name + "_1_bn")(x)
    x = layers.Activation("relu", name=name + "_1_relu")(x)
    x = layers.Conv2D(filters, kernel_size, padding="same", name=name + "_2_conv")(x)
    x = layers.BatchNormalization(axis=3, epsilon=BN_EPS, name=name + "_2_bn")(x)
    x = layers.Activation("relu", name=name + "_2_relu")(x)
    x = layers.Conv2D(4 * filters, 1, name=name + "_3_conv")(x)
    x = layers.BatchNormalization(axis=3, epsilon=BN_EPS, name=name + "_3_bn")(x)
    x = layers.Add(name=name + "_add")([shortcut, x])
    return layers.Activation("relu", name=name + "_out")(x)


def _stack(x, filters, blocks, stride1=2, name=None):
    x = _block(x, filters, stride=stride1, name=name + "_block1")
    for i in range(2, blocks + 1):
        x = _block(x, filters, conv_shortcut=False, name=f"{name}_block{i}")
    return x


def ResNet50(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
             pooling=None, classes=1000, classifier_activation="softmax", name="resnet50"):
    """ResNet50: 25,636,712 parameters with the top (224×224×3 input)."""
    from fastnet import layers
    from fastnet.models import Model

    input_shape = check_args("ResNet50", weights, include_top, classes, input_shape, 224)
    img_input, _ = make_input(input_tensor, input_shape)
    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)), name="conv1_pad")(img_input)
    x = layers.Conv2D(64, 7, strides=2, use_bias=True, name="conv1_conv")(x)
    x = layers.BatchNormalization(axis=3, epsilon=BN_EPS, name="conv1_bn")(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name="pool1_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    x = _stack(x, 64, 3, stride1=1, name="conv2")
    x = _stack(x, 128, 4, name="conv3")
    x = _stack(x, 256, 6, name="conv4")
    x = _stack(x, 512, 3, name="conv5")
    x = classifier_top(x, "ResNet50", include_top, pooling, classes, classifier_activation)
    model = Model(img_input, x, name=name)
    suffix = "" if include_top else "_notop"
    return load_weights(model, "ResNet50", weights,
                        f"resnet50_weights_tf_dim_ordering_tf_kernels{suffix}.h5")
