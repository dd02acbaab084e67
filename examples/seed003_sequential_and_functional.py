"""Seed 003 ("keras overviewer", the notebook part): the same 64 → 32 → 32 → 10
network as a Sequential model and as a functional `Model(input_tensor,
output_tensor)`, their summaries (3,466 parameters each), and training the
functional one with RMSprop and categorical cross-entropy.

    python examples/seed003_sequential_and_functional.py [--fast]

Only the imports changed. `--fast` (or FASTNET_EXAMPLES_FAST=1) uses less data.
"""

from __future__ import annotations

import os
import sys

import numpy as np

from fastnet import Input, Model, Sequential, layers
from fastnet.utils import set_random_seed


def main(fast=False):
    set_random_seed(0)
    input_tensor = Input(shape=(32,))
    dense = layers.Dense(32, activation="relu")
    output_tensor = dense(input_tensor)
    print("output_tensor.shape:", output_tensor.shape)

    seq_model = Sequential()
    seq_model.add(layers.Dense(32, activation="relu", input_shape=(64,)))
    seq_model.add(layers.Dense(32, activation="relu"))
    seq_model.add(layers.Dense(10, activation="softmax"))
    seq_model.summary()

    input_tensor = Input(shape=(64,))
    x = layers.Dense(32, activation="relu")(input_tensor)
    x = layers.Dense(32, activation="relu")(x)
    output_tensor = layers.Dense(10, activation="softmax")(x)
    model = Model(input_tensor, output_tensor)
    model.summary()

    model.compile(optimizer="rmsprop", loss="categorical_crossentropy")
    n, epochs = (256, 4) if fast else (1000, 10)
    x_train = np.random.random((n, 64))
    y_train = np.random.random((n, 10))
    history = model.fit(x_train, y_train, epochs=epochs, batch_size=128,
                        verbose=2 if fast else 1)
    return {"symbolic_shape": (None, 32), "seq_params": seq_model.count_params(),
            "params": model.count_params(), "loss": history.history["loss"],
            "output_shape": tuple(model.predict(x_train[:4], verbose=0).shape)}


if __name__ == "__main__":
    main(fast="--fast" in sys.argv[1:] or os.environ.get("FASTNET_EXAMPLES_FAST") == "1")
