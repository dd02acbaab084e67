"""Seed 002 ("keras overviewer"): a Sequential MLP, the common layer arguments
(activation, initializers, regularizers), then compile and fit.

    python examples/seed002_keras_overview.py [--fast]

Only the imports changed: `tf.keras.X` → `fastnet.X`, `tf.nn.relu` →
`fastnet.ops.relu`. `--fast` (or FASTNET_EXAMPLES_FAST=1) uses less data.
"""

from __future__ import annotations

import os
import sys

import numpy as np

import fastnet as keras
import fastnet as tf
from fastnet import layers


def configured_layers():
    """The tutorial's "configure layers" examples, built on a (None, 32) input."""
    return {
        "relu_by_name": layers.Dense(64, activation="relu"),
        "relu_by_function": layers.Dense(64, activation=tf.ops.relu),
        "l1_kernel": layers.Dense(64, kernel_regularizer=tf.regularizers.l1(0.01)),
        "l2_bias": layers.Dense(64, bias_regularizer=tf.regularizers.l2(0.01)),
        "orthogonal_kernel": layers.Dense(64, kernel_initializer="orthogonal"),
        "bias_two": layers.Dense(64, bias_initializer=tf.initializers.Constant(2.0)),
    }


def main(fast=False):
    keras.utils.set_random_seed(0)
    x = np.random.random((8, 32)).astype("float32")
    shown = {}
    for name, layer in configured_layers().items():
        y = layer(x)
        shown[name] = {"output_shape": tuple(y.shape), "losses": len(layer.losses)}
        print(f"{name:18s} output {tuple(y.shape)}  regularization losses: {len(layer.losses)}")
    kernel = configured_layers()["orthogonal_kernel"]
    kernel(x)
    w = kernel.kernel.numpy()  # (32, 64): orthonormal rows
    shown["orthogonality_error"] = float(np.abs(w @ w.T - np.eye(32)).max())
    print(f"orthogonal kernel: max |W W^T - I| = {shown['orthogonality_error']:.2e}")

    model = tf.Sequential([
        layers.Dense(64, activation="relu", input_shape=(32,)),
        layers.Dense(64, activation="relu"),
        layers.Dense(10)])
    model.compile(optimizer=tf.optimizers.Adam(0.01),
                  loss=tf.losses.CategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.summary()
    n, epochs = (256, 3) if fast else (1000, 5)
    data = np.random.random((n, 32))
    labels = np.random.random((n, 10))
    history = model.fit(data, labels, batch_size=32, epochs=epochs, verbose=2 if fast else 1)
    return {"layers": shown, "params": model.count_params(), "loss": history.history["loss"],
            "output_shape": tuple(model.predict(data[:4], verbose=0).shape)}


if __name__ == "__main__":
    main(fast="--fast" in sys.argv[1:] or os.environ.get("FASTNET_EXAMPLES_FAST") == "1")
