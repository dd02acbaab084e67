"""Subclassed models on the compiled plan: one fit step, eager against planned, one run.

    python bench/subclassed.py [--quick] [--threads N]

Rows: a Keras-guide subclassed MLP (784 -> 256 relu -> Dropout(0.2) -> 128 relu -> 10
softmax, batch 128, Adam) and a subclassed CNN (28x28x1 -> Conv2D(32, 3) + BN + relu ->
MaxPool -> Conv2D(64, 3) relu -> MaxPool -> Flatten -> Dropout(0.3) -> Dense(10), batch
64, Adam), each timed as the time per step of ``fit`` over 8 batches: the eager path
(``jit_compile=False``: what a subclassed model ran before its call was traced) beside
the plan (the default), and the same layers as a functional model on the plan. Times are
medians of wall time, the three sampled in turn; ratios are eager / plan.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
from _common import base_parser, paired_times, print_table, set_threads  # noqa: E402

import fastnet as keras  # noqa: E402
from fastnet import layers  # noqa: E402

STEPS = 8


class MLP(keras.Model):
    def __init__(self):
        super().__init__()
        self.d1 = layers.Dense(256, activation="relu")
        self.dr = layers.Dropout(0.2)
        self.d2 = layers.Dense(128, activation="relu")
        self.out = layers.Dense(10, activation="softmax")

    def call(self, x, training=False):
        return self.out(self.d2(self.dr(self.d1(x), training=training)))


class CNN(keras.Model):
    def __init__(self):
        super().__init__()
        self.c1 = layers.Conv2D(32, 3)
        self.bn = layers.BatchNormalization()
        self.act = layers.ReLU()
        self.p1 = layers.MaxPooling2D()
        self.c2 = layers.Conv2D(64, 3, activation="relu")
        self.p2 = layers.MaxPooling2D()
        self.flat = layers.Flatten()
        self.dr = layers.Dropout(0.3)
        self.out = layers.Dense(10, activation="softmax")

    def call(self, x, training=False):
        x = self.p1(self.act(self.bn(self.c1(x), training=training)))
        x = self.flat(self.p2(self.c2(x)))
        return self.out(self.dr(x, training=training))


def functional(sub, shape):
    """The subclassed model's layers as a functional model (a fresh copy of each)."""
    inp = keras.Input(shape)
    x = inp
    for lay in sub.layers:
        x = type(lay).from_config(lay.get_config())(x)
    return keras.Model(inp, x)


def case(name, build, shape, batch):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch * STEPS,) + shape).astype(np.float32)
    y = rng.integers(0, 10, batch * STEPS)
    models = []
    for jit in (False, "auto", "functional"):
        keras.utils.set_random_seed(0)
        m = build()
        if jit == "functional":
            m(x[:1])
            m = functional(m, shape)
        m.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  jit_compile=False if jit is False else "auto")
        m.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=False)  # build, trace
        models.append(m)
    assert models[0]._plan_status() == "jit_compile=False"
    for m in models[1:]:
        assert m._plan_status() is None, m._plan_status()

    def fit(m):
        return lambda: m.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=False)

    times = paired_times([fit(m) for m in models], repeats=args.repeats, warmup=1)
    eager, plan, func = (t / STEPS * 1e3 for t in times)
    return [name, eager, plan, func, eager / plan, func / plan]


if __name__ == "__main__":
    p = base_parser(__doc__)
    p.add_argument("--threads", type=int, nargs="*", default=[2])
    args = p.parse_args()
    if args.quick:
        args.repeats = 5
    for n in args.threads:
        set_threads(n)
        rows = [case("subclassed MLP b128", MLP, (784,), 128),
                case("subclassed CNN b64", CNN, (28, 28, 1), 64)]
        print_table(f"fit step (ms), {n} thread(s)",
                    ["model", "eager", "plan", "functional plan", "eager/plan",
                     "functional/plan"], rows)
