"""Issue 4's 'done when': a TF2-style custom training loop, written only with
fastnet.ops and a GradientTape, trains a two-layer network on real data."""

import os

import numpy as np
import pytest

import fastnet
from fastnet import ops

FASHION = "/usr/share/datasets/fashion-mnist"


@pytest.mark.skipif(not os.path.isdir(FASHION),
                    reason="real Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
def test_gradient_tape_loop_learns_fashion_mnist():
    (x_train, y_train), (x_test, y_test) = fastnet.datasets.fashion_mnist.load_data()
    x_train = x_train[:6000].reshape(-1, 784).astype("float32") / 255
    y_train = y_train[:6000].astype("int32")
    x_test = x_test[:2000].reshape(-1, 784).astype("float32") / 255
    y_test = y_test[:2000]
    rng = np.random.default_rng(0)
    w1 = fastnet.Variable(rng.normal(0, 0.05, (784, 64)).astype("float32"), name="w1")
    b1 = fastnet.Variable(np.zeros(64, "float32"), name="b1")
    w2 = fastnet.Variable(rng.normal(0, 0.05, (64, 10)).astype("float32"), name="w2")
    b2 = fastnet.Variable(np.zeros(10, "float32"), name="b2")
    weights = [w1, b1, w2, b2]

    def forward(x):
        h = ops.relu(ops.matmul(x, w1) + b1)
        return ops.matmul(h, w2) + b2

    lr = 0.1
    for _ in range(300):
        idx = rng.integers(0, len(x_train), 64)
        xb, yb = x_train[idx], y_train[idx]
        with fastnet.GradientTape() as tape:
            logits = forward(xb)
            loss = ops.mean(ops.sparse_categorical_crossentropy(yb, logits, from_logits=True))
        grads = tape.gradient(loss, weights)
        for w, g in zip(weights, grads):
            w.assign_sub(lr * g)
    pred = np.argmax(forward(x_test).numpy(), axis=1)
    accuracy = float(np.mean(pred == y_test))
    assert accuracy > 0.7, accuracy  # chance is 0.1
