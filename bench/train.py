"""End-to-end training step of the seed models: fastnet beside PyTorch eager (and
Keras when installed), same architecture, batch and optimizer, medians and ratios.

    python bench/train.py [--quick]

Models: the functional-API tutorial's MNIST MLP (784-64-64-10, RMSprop, batch 64),
and the encoder's conv stack (28x28x1 -> Conv16 -> Conv32 -> MaxPool3 -> Conv32 ->
Conv16 -> GlobalMaxPool -> Dense10, Adam, batch 64). fastnet and PyTorch are
sampled in turn; 1-thread rows time this thread's CPU time, others wall time.
"""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
from _common import base_parser, paired_times, print_table, try_import_torch  # noqa: E402

import fastnet as keras  # noqa: E402
from fastnet import layers  # noqa: E402


def fastnet_mlp():
    inputs = keras.Input(shape=(784,))
    x = layers.Dense(64, activation="relu")(inputs)
    x = layers.Dense(64, activation="relu")(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.RMSprop())
    return model


def fastnet_cnn():
    inputs = keras.Input(shape=(28, 28, 1))
    x = layers.Conv2D(16, 3, activation="relu")(inputs)
    x = layers.Conv2D(32, 3, activation="relu")(x)
    x = layers.MaxPooling2D(3)(x)
    x = layers.Conv2D(32, 3, activation="relu")(x)
    x = layers.Conv2D(16, 3, activation="relu")(x)
    x = layers.GlobalMaxPooling2D()(x)
    outputs = layers.Dense(10)(x)
    model = keras.Model(inputs, outputs)
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  optimizer="adam")
    return model


def torch_models(torch):
    nn = torch.nn

    mlp = nn.Sequential(nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                        nn.Linear(64, 10))

    class CNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1, self.c2 = nn.Conv2d(1, 16, 3), nn.Conv2d(16, 32, 3)
            self.c3, self.c4 = nn.Conv2d(32, 32, 3), nn.Conv2d(32, 16, 3)
            self.fc = nn.Linear(16, 10)

        def forward(self, x):
            r = torch.relu
            x = torch.max_pool2d(r(self.c2(r(self.c1(x)))), 3)
            x = r(self.c4(r(self.c3(x))))
            return self.fc(torch.amax(x, dim=(2, 3)))

    return mlp, CNN()


def main():
    args = base_parser(__doc__).parse_args()
    repeats = 5 if args.quick else args.repeats
    torch = try_import_torch()
    rng = np.random.default_rng(0)
    batch = 64
    x_mlp = rng.random((batch, 784), dtype=np.float32)
    x_img = rng.random((batch, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, batch)
    m, c = fastnet_mlp(), fastnet_cnn()
    cases = {"mlp": [lambda: m.train_on_batch(x_mlp, y)],
             "cnn": [lambda: c.train_on_batch(x_img, y)]}
    if torch:
        mlp, cnn = torch_models(torch)
        loss_fn = torch.nn.CrossEntropyLoss()
        opt1 = torch.optim.RMSprop(mlp.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
        opt2 = torch.optim.Adam(cnn.parameters(), lr=1e-3, eps=1e-7)
        xt = torch.from_numpy(x_mlp)
        it = torch.from_numpy(x_img).permute(0, 3, 1, 2).contiguous()
        yt = torch.from_numpy(y)

        def step(model, opt, inp):
            opt.zero_grad()
            loss = loss_fn(model(inp), yt)
            loss.backward()
            opt.step()

        cases["mlp"].append(lambda: step(mlp, opt1, xt))
        cases["cnn"].append(lambda: step(cnn, opt2, it))
    for threads in sorted({1, os.cpu_count() or 1}):
        keras.config.set_num_threads(threads)
        if torch:
            torch.set_num_threads(threads)
        # One thread: CPU time of this thread (robust to other load); more: wall time.
        clock = time.thread_time if threads == 1 else time.perf_counter
        rows = []
        for name, fns in cases.items():
            ts = paired_times(fns, repeats, min_time=0.2, clock=clock, interleave=threads == 1)
            row = [name, ts[0] * 1e3]
            if len(ts) > 1:
                row += [ts[1] * 1e3, ts[1] / ts[0]]
            rows.append(row)
        header = ["model", "fastnet ms/step"] + (["torch ms/step", "vs torch"] if torch else [])
        print_table(f"Training step, batch {batch}, {threads} thread(s)", header, rows)


if __name__ == "__main__":
    main()
