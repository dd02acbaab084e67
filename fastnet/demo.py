"""fastnet's main job, end to end: the functional-API tutorial's MNIST model
(../shared/seeds: Input(784) → Dense(64, relu) → Dense(64, relu) →
Dense(10, softmax), RMSprop, sparse categorical cross-entropy, accuracy),
trained on real Fashion-MNIST with `validation_split=0.2`, then evaluated on
the 10,000 test images.

    fastnet-demo [--epochs 5] [--batch-size 64]

The tutorial's code, with only the import changed (`import fastnet as keras`).
"""

from __future__ import annotations

import argparse
import sys
import time


def main(argv=None):
    parser = argparse.ArgumentParser(prog="fastnet-demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args(argv)

    import fastnet as keras
    from fastnet import layers

    try:
        (x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
    except FileNotFoundError as e:
        print(f"fastnet-demo: {e}", file=sys.stderr)
        return 2
    x_train = x_train.reshape(60000, 784).astype("float32") / 255
    x_test = x_test.reshape(10000, 784).astype("float32") / 255

    inputs = keras.Input(shape=(784,), name="img")
    x = layers.Dense(64, activation="relu")(inputs)
    x = layers.Dense(64, activation="relu")(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inputs=inputs, outputs=outputs, name="mnist_model")
    model.summary()

    model.compile(loss="sparse_categorical_crossentropy",
                  optimizer=keras.optimizers.RMSprop(),
                  metrics=["accuracy"])
    t0 = time.perf_counter()
    model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs,
              validation_split=0.2)
    train_time = time.perf_counter() - t0
    test_scores = model.evaluate(x_test, y_test, verbose=0)
    print("Test loss:", round(float(test_scores[0]), 4))
    print("Test accuracy:", round(float(test_scores[1]), 4))
    print(f"Training time: {train_time:.1f}s on {keras.config.get_num_threads()} thread(s), "
          f"ISA {keras.config.get_isa()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
