"""fastnet's main job, end to end: the functional-API tutorial's MNIST model
(../shared/seeds: Input(784) → Dense(64, relu) → Dense(64, relu) →
Dense(10, softmax), RMSprop, sparse categorical cross-entropy, accuracy),
trained on real Fashion-MNIST with `validation_split=0.2`, then evaluated on
the 10,000 test images.

    fastnet-demo [--epochs 5] [--batch-size 64] [--peer auto|torch|none]

The tutorial's code, with only the import changed (`import fastnet as keras`).
When PyTorch is installed (``--peer auto``, the default) the same training — same
model, initial weights, batches, optimizer settings and validation pass per epoch — also
runs as a PyTorch eager loop on the same threads, and both times are printed side by side.
"""

from __future__ import annotations

import argparse
import sys
import time


def main(argv=None):
    parser = argparse.ArgumentParser(prog="fastnet-demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--peer", choices=("auto", "torch", "none"), default="auto",
                        help="also time the same training in PyTorch (auto: when installed)")
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
    initial_weights = model.get_weights()

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

    if args.peer != "none":
        try:
            import torch
        except ImportError:
            if args.peer == "torch":
                print("fastnet-demo: --peer torch needs PyTorch (pip install torch)",
                      file=sys.stderr)
                return 2
        else:
            torch_time, torch_acc = _torch_peer(torch, initial_weights, x_train, y_train,
                                                x_test, y_test, args.epochs, args.batch_size,
                                                keras.config.get_num_threads())
            print(f"PyTorch {torch.__version__} eager, same training: {torch_time:.1f}s, "
                  f"test accuracy {torch_acc:.4f}; fastnet takes "
                  f"{train_time / torch_time:.2f}x PyTorch's time")
    return 0


def _torch_peer(torch, weights, x_train, y_train, x_test, y_test, epochs, batch_size,
                threads):
    """The demo's training as a PyTorch eager loop: fastnet's initial weights, Keras's
    validation_split (last 20%, unshuffled), a shuffled pass per epoch, RMSprop with Keras's
    defaults (lr 1e-3, rho 0.9, epsilon 1e-7), then a validation pass; returns
    (seconds, test accuracy)."""
    import numpy as np

    torch.set_num_threads(threads)
    split = int(len(x_train) * 0.8)
    xt, yt = torch.from_numpy(x_train[:split]), torch.from_numpy(y_train[:split].astype(np.int64))
    xv, yv = torch.from_numpy(x_train[split:]), torch.from_numpy(y_train[split:].astype(np.int64))
    net = torch.nn.Sequential(torch.nn.Linear(784, 64), torch.nn.ReLU(),
                              torch.nn.Linear(64, 64), torch.nn.ReLU(),
                              torch.nn.Linear(64, 10))
    with torch.no_grad():  # Keras kernels are (in, out); torch's Linear weights are (out, in)
        for layer, (kernel, bias) in zip(net[::2], zip(weights[::2], weights[1::2])):
            layer.weight.copy_(torch.from_numpy(kernel.T.copy()))
            layer.bias.copy_(torch.from_numpy(bias))
    opt = torch.optim.RMSprop(net.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
    loss_fn = torch.nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(0)
    t0 = time.perf_counter()
    for _ in range(epochs):
        net.train()
        for idx in torch.randperm(split, generator=gen).split(batch_size):
            opt.zero_grad()
            loss = loss_fn(net(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
        with torch.no_grad():
            loss_fn(net(xv), yv).item()
    seconds = time.perf_counter() - t0
    with torch.no_grad():
        acc = (net(torch.from_numpy(x_test)).argmax(1).numpy() == y_test).mean()
    return seconds, float(acc)


if __name__ == "__main__":
    sys.exit(main())
