"""VGG16 and VGG19 (Simonyan & Zisserman, 2014), Keras's layer names and layout."""

from __future__ import annotations

from fastnet.applications._common import check_args, classifier_top, load_weights, make_input

_BLOCKS = {"vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4)}
_FILTERS = (64, 128, 256, 512, 512)


def _vgg(name, include_top, weights, input_tensor, input_shape, pooling, classes,
         classifier_activation):
    from fastnet import layers
    from fastnet.models import Model

    input_shape = check_args(name.upper(), weights, include_top, classes, input_shape, 224)
    img_input, given = make_input(input_tensor, input_shape)
    x = img_input
    for b, (convs, filters) in enumerate(zip(_BLOCKS[name], _FILTERS), start=1):
        for i in range(1, convs + 1):
            x = layers.Conv2D(filters, (3, 3), activation="relu", padding="same",
                              name=f"block{b}_conv{i}")(x)
        x = layers.MaxPooling2D((2, 2), strides=(2, 2), name=f"block{b}_pool")(x)
    x = classifier_top(
        x, name.upper(), include_top, pooling, classes, classifier_activation,
        features=lambda t: layers.Dense(4096, activation="relu", name="fc2")(
            layers.Dense(4096, activation="relu", name="fc1")(layers.Flatten(name="flatten")(t))),
        pool_names=(None, None))
    model = Model(img_input, x, name=name)
    suffix = "" if include_top else "_notop"
    return load_weights(model, name.upper(), weights,
                        f"{name}_weights_tf_dim_ordering_tf_kernels{suffix}.h5")


def VGG16(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
          pooling=None, classes=1000, classifier_activation="softmax", name="vgg16"):
    """VGG16: 138,357,544 parameters with the top (224×224×3 input)."""
    return _vgg("vgg16", include_top, weights, input_tensor, input_shape, pooling, classes,
                classifier_activation)


def VGG19(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
          pooling=None, classes=1000, classifier_activation="softmax", name="vgg19"):
    """VGG19: 143,667,240 parameters with the top (224×224×3 input)."""
    return _vgg("vgg19", include_top, weights, input_tensor, input_shape, pooling, classes,
                classifier_activation)
