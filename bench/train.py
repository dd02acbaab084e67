"""End-to-end training step of the seed models: fastnet beside PyTorch eager (and
Keras when installed), same architecture, batch and optimizer, medians and ratios.

    python bench/train.py [--quick] [--no-peers]

Models: the functional-API tutorial's MNIST MLP (784-64-64-10, RMSprop, batch 64),
and the encoder's conv stack (28x28x1 -> Conv16 -> Conv32 -> MaxPool3 -> Conv32 ->
Conv16 -> GlobalMaxPool -> Dense10, Adam, batch 64), each on fastnet's compiled
plan (the default) and, in the "(eager)" rows, compiled with jit_compile=False
(fastnet's eager path). fastnet and PyTorch are
sampled in turn; 1-thread rows time this thread's CPU time, others wall time.
PyTorch runs the CNN in its faster layout (NCHW or channels_last, the faster of
the two is the peer).

A second table runs each framework and model in its own process (so peak memory
is its own): time to the first step (build + compile), steady step time, and peak
RSS (whole process, and the workload's part: peak minus the RSS after imports):
fastnet, PyTorch eager, and when installed Keras 3 on JAX with
``jit_compile=True`` (XLA compiles the whole step) and Keras 3 on PyTorch.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
from _common import (  # noqa: E402
    base_parser,
    import_keras3,
    paired_times,
    print_table,
    status_mb,
    try_import_torch,
)

import fastnet as keras  # noqa: E402
from fastnet import layers  # noqa: E402


def fastnet_mlp(jit_compile="auto"):
    inputs = keras.Input(shape=(784,))
    x = layers.Dense(64, activation="relu")(inputs)
    x = layers.Dense(64, activation="relu")(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.RMSprop(),
                  jit_compile=jit_compile)
    return model


def fastnet_cnn(jit_compile="auto"):
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
                  optimizer="adam", jit_compile=jit_compile)
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


def _rss_mb():
    return status_mb("VmRSS")


def _keras_models(keras):
    L = keras.layers
    mlp = keras.Sequential([keras.Input((784,)), L.Dense(64, activation="relu"),
                            L.Dense(64, activation="relu"), L.Dense(10, activation="softmax")])
    mlp.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.RMSprop(),
                jit_compile=True)
    cnn = keras.Sequential([keras.Input((28, 28, 1)), L.Conv2D(16, 3, activation="relu"),
                            L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(3),
                            L.Conv2D(32, 3, activation="relu"), L.Conv2D(16, 3, activation="relu"),
                            L.GlobalMaxPooling2D(), L.Dense(10)])
    cnn.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), optimizer="adam",
                jit_compile=True)
    return mlp, cnn


def worker(framework, model, steps):
    """One framework and model in this process: prints JSON (first step, steady step, RSS)."""
    steps = int(steps)
    rng = np.random.default_rng(0)
    x = rng.random((64, 784), dtype=np.float32) if model == "mlp" else rng.random(
        (64, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, 64)
    if framework == "fastnet":
        keras.config.set_num_threads(int(os.environ.get("BENCH_THREADS", "0")))
        base = _rss_mb()
        t0 = time.perf_counter()
        m = fastnet_mlp() if model == "mlp" else fastnet_cnn()
        fn = lambda: m.train_on_batch(x, y)  # noqa: E731
    elif framework == "torch":
        import torch
        torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "0")) or os.cpu_count())
        base = _rss_mb()
        t0 = time.perf_counter()
        net = torch_models(torch)[0 if model == "mlp" else 1]
        xt = torch.from_numpy(x)
        if model == "cnn":
            net = net.to(memory_format=torch.channels_last)
            xt = xt.permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last)
        opt = (torch.optim.RMSprop(net.parameters(), lr=1e-3, alpha=0.9, eps=1e-7) if model == "mlp"
               else torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7))
        loss_fn, yt = torch.nn.CrossEntropyLoss(), torch.from_numpy(y)

        def fn():
            opt.zero_grad()
            loss_fn(net(xt), yt).backward()
            opt.step()
    else:  # keras-jax / keras-torch: Keras 3 on that backend
        k3 = import_keras3(framework.split("-")[1])
        base = _rss_mb()
        t0 = time.perf_counter()
        m = _keras_models(k3)[0 if model == "mlp" else 1]
        fn = lambda: m.train_on_batch(x, y)  # noqa: E731
    fn()
    first = time.perf_counter() - t0
    for _ in range(3):
        fn()
    ts = []
    for _ in range(steps):
        s0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - s0)
    ts.sort()
    peak = status_mb("VmHWM")
    print(json.dumps({"first_s": first, "step_ms": ts[len(ts) // 2] * 1e3, "peak_mb": peak,
                      "workload_mb": peak - base}))


def peer_table(repeats):
    frameworks = ["fastnet", "torch"]
    import importlib.util
    if importlib.util.find_spec("keras") is not None:
        if importlib.util.find_spec("jax") is not None:
            frameworks.append("keras-jax")
        if importlib.util.find_spec("torch") is not None:
            frameworks.append("keras-torch")
    if importlib.util.find_spec("torch") is None:
        frameworks.remove("torch")
    rows = []
    for model in ("mlp", "cnn"):
        ref = None
        for fw in frameworks:
            env = dict(os.environ, BENCH_THREADS=str(os.cpu_count() or 1))
            env.pop("KERAS_BACKEND", None)
            try:
                out = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", fw, model,
                                      str(max(10, 4 * repeats))], capture_output=True, text=True,
                                     env=env, timeout=600)
                r = json.loads(out.stdout.strip().splitlines()[-1])
            except Exception as e:  # a peer that fails to run is reported, not fatal
                rows.append([model, fw, "failed", type(e).__name__, "", "", "", ""])
                continue
            if ref is None:
                ref = r
            rows.append([model, fw, r["first_s"], r["step_ms"], ref["step_ms"] and r["step_ms"] /
                         ref["step_ms"], r["peak_mb"], r["workload_mb"],
                         r["workload_mb"] / max(ref["workload_mb"], 1e-9)])
    print_table(f"One process per framework and model, {os.cpu_count()} thread(s) (step: wall median; "
                "ratios > 1: fastnet is faster / smaller)",
                ["model", "framework", "first step s", "ms/step", "step vs fastnet", "peak RSS MB",
                 "workload MB", "workload vs fastnet"], rows)


def main():
    ap = base_parser(__doc__)
    ap.add_argument("--no-peers", action="store_true", help="skip the per-process peer table")
    ap.add_argument("--worker", nargs=3, metavar=("FRAMEWORK", "MODEL", "STEPS"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(*args.worker)
    repeats = 5 if args.quick else args.repeats
    torch = try_import_torch()
    rng = np.random.default_rng(0)
    batch = 64
    x_mlp = rng.random((batch, 784), dtype=np.float32)
    x_img = rng.random((batch, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, batch)
    m, c = fastnet_mlp(), fastnet_cnn()
    # the same models with jit_compile=False: fastnet's eager path (no compiled plan)
    me, ce = fastnet_mlp(jit_compile=False), fastnet_cnn(jit_compile=False)
    cases = {"mlp": [lambda: m.train_on_batch(x_mlp, y)],
             "cnn": [lambda: c.train_on_batch(x_img, y)],
             "mlp (eager)": [lambda: me.train_on_batch(x_mlp, y)],
             "cnn (eager)": [lambda: ce.train_on_batch(x_img, y)]}
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

        for name in ("mlp", "mlp (eager)"):
            cases[name].append(lambda: step(mlp, opt1, xt))
        for name in ("cnn", "cnn (eager)"):
            cases[name].append(lambda: step(cnn, opt2, it))
        # channels_last: the same model and data in NHWC memory order
        cnn_cl = torch_models(torch)[1].to(memory_format=torch.channels_last)
        opt3 = torch.optim.Adam(cnn_cl.parameters(), lr=1e-3, eps=1e-7)
        it_cl = it.contiguous(memory_format=torch.channels_last)
        for name in ("cnn", "cnn (eager)"):
            cases[name].append(lambda: step(cnn_cl, opt3, it_cl))
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
                best = min(ts[1:])
                row += [best * 1e3, "channels_last" if ts.index(best) == 2 else "NCHW" if
                        name.startswith("cnn") else "-", best / ts[0]]
            rows.append(row)
        header = ["model", "fastnet ms/step"] + (
            ["torch ms/step (best)", "torch layout", "vs torch"] if torch else [])
        print_table(f"Training step, batch {batch}, {threads} thread(s)", header, rows)
    if not args.no_peers:
        peer_table(repeats)


if __name__ == "__main__":
    main()
