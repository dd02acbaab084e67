"""Seed 000 ("常用模型层"): the same MLP built the three Keras ways — Sequential
(by `add` and from a list), the functional API, and subclassing `Model` — each
compiled and trained on the tutorial's random data.

    python examples/seed000_three_model_styles.py [--fast]

The tutorial's code with only the imports changed: `tf.keras.X` → `fastnet.X`.
`--fast` (or FASTNET_EXAMPLES_FAST=1) trains on fewer samples for fewer epochs.
"""

from __future__ import annotations

import os
import sys

import numpy as np

import fastnet as keras
from fastnet import layers


def sequential_by_add():
    model = keras.Sequential()
    model.add(layers.Dense(64, activation="relu"))  # 第一层
    model.add(layers.Dense(64, activation="relu"))  # 第二层
    model.add(layers.Dense(10))                     # 第三层
    return model


def sequential_from_list():
    return keras.Sequential([
        layers.Dense(64, activation="relu", input_shape=(32,)),
        layers.Dense(64, activation="relu"),
        layers.Dense(10)])


def functional():
    inputs = keras.Input(shape=(32,))
    x = layers.Dense(64, activation="relu")(inputs)
    x = layers.Dense(64, activation="relu")(x)
    predictions = layers.Dense(10)(x)
    return keras.Model(inputs=inputs, outputs=predictions)


class MyModel(keras.Model):
    def __init__(self, num_classes=10):
        super().__init__(name="my_model")
        self.num_classes = num_classes
        self.dense_1 = layers.Dense(32, activation="relu")
        self.dense_2 = layers.Dense(num_classes)

    def call(self, inputs):
        x = self.dense_1(inputs)
        return self.dense_2(x)


def main(fast=False):
    keras.utils.set_random_seed(0)
    n, epochs = (256, 3) if fast else (1000, 10)
    data = np.random.random((n, 32))
    labels = np.random.random((n, 10))
    results = {}

    model = sequential_by_add()
    out = model(np.zeros((3, 32), np.float32))  # a Sequential without input_shape builds on call
    print("Sequential (add) output:", out.shape, "params:", model.count_params())
    results["sequential_add"] = {"output_shape": tuple(out.shape),
                                 "params": model.count_params()}

    runs = [("sequential_list", sequential_from_list(), keras.optimizers.Adam(0.01), epochs),
            ("functional", functional(), keras.optimizers.RMSprop(0.001), max(2, epochs // 2)),
            ("subclassed", MyModel(num_classes=10), keras.optimizers.RMSprop(0.001),
             max(2, epochs // 2))]
    for name, model, optimizer, n_epochs in runs:
        print(f"\n== {name}")
        model.compile(optimizer=optimizer,
                      loss=keras.losses.CategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])
        history = model.fit(data, labels, epochs=n_epochs, batch_size=32,
                            verbose=2 if fast else 1)
        model.summary()
        results[name] = {"params": model.count_params(),
                         "output_shape": tuple(model.predict(data[:5], verbose=0).shape),
                         "loss": history.history["loss"]}
    return results


if __name__ == "__main__":
    main(fast="--fast" in sys.argv[1:] or os.environ.get("FASTNET_EXAMPLES_FAST") == "1")
