"""Shared pieces of the application models: inputs, top, weight files."""

from __future__ import annotations

import os

WEIGHTS_HELP = ("fastnet does not download weights: copy Keras's cached file to {path} "
                "(Keras keeps it in ~/.keras/models/), or pass weights=None for random "
                "initialization, or a path to an .h5 weights file.")


def keras_models_dir():
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(home, "models")


def check_args(name, weights, include_top, classes, input_shape, default_size, min_size=32):
    if not (weights in (None, "imagenet") or (isinstance(weights, str) and os.path.exists(weights))):
        raise ValueError(f"{name}: the `weights` argument should be either None (random "
                         "initialization), 'imagenet' (pre-training on ImageNet), or the path to "
                         f"the weights file to be loaded. Received: weights={weights!r}")
    if weights == "imagenet" and include_top and classes != 1000:
        raise ValueError(f"{name}: if using `weights='imagenet'` with `include_top=True`, "
                         f"`classes` should be 1000. Received: classes={classes}")
    if input_shape is None:
        return (default_size, default_size, 3)
    input_shape = tuple(input_shape)
    if len(input_shape) != 3:
        raise ValueError(f"{name}: input_shape must be (height, width, channels), got "
                         f"{input_shape}")
    if include_top and weights == "imagenet" and input_shape != (default_size, default_size, 3):
        raise ValueError(f"{name}: with include_top=True and weights='imagenet', input_shape "
                         f"must be {(default_size, default_size, 3)}, got {input_shape}")
    h, w, _ = input_shape
    if (h is not None and h < min_size) or (w is not None and w < min_size):
        raise ValueError(f"{name}: input size must be at least {min_size}x{min_size}; got "
                         f"input_shape={input_shape}")
    return input_shape


def make_input(input_tensor, input_shape):
    from fastnet import layers

    if input_tensor is None:
        return layers.Input(shape=input_shape), None
    return input_tensor, input_tensor


def load_weights(model, name, weights, filename):
    if weights is None:
        return model
    path = weights
    if weights == "imagenet":
        path = os.path.join(keras_models_dir(), filename)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{name}: ImageNet weights not found at {path}. "
                                    + WEIGHTS_HELP.format(path=path))
    model.load_weights(path)
    return model


def classifier_top(x, name, include_top, pooling, classes, classifier_activation,
                   features=None, pool_names=("avg_pool", "max_pool"), dense_kwargs=None):
    """The part every application model ends with, as Keras builds it.

    With the top: `features(x)` (default: global average pooling named "avg_pool"), then the
    `predictions` Dense of `classes` units. Without it: `pooling` None (the 4-D feature map),
    "avg" or "max" (named `pool_names`, as each Keras model names them).
    """
    from fastnet import layers

    if pooling not in (None, "avg", "max"):
        raise ValueError(f"{name}: pooling must be None, 'avg' or 'max'; got {pooling!r}")
    if include_top:
        x = features(x) if features is not None else \
            layers.GlobalAveragePooling2D(name="avg_pool")(x)
        return layers.Dense(classes, activation=classifier_activation, name="predictions",
                            **(dense_kwargs or {}))(x)
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name=pool_names[0])(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(name=pool_names[1])(x)
    return x
