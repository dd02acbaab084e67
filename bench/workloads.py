"""The seed workloads W1-W4: fastnet beside PyTorch eager, Keras 3 on JAX (jit) and
Keras 3 on PyTorch, each framework and workload in its own process.

    python bench/workloads.py [--quick] [--threads N] [--only w2,w4] [--frameworks fastnet,torch]
                              [--baseline PATH]

``--baseline PATH`` adds a row for the fastnet built in-place at PATH (another checkout, e.g.
``git archive main | tar -x -C /tmp/base && (cd /tmp/base && python setup.py build_ext
--inplace)``): before/after ratios from one run.

Workloads (the functional-API tutorial, /work/shared/seeds/004, issue 15):
  W1  the tutorial's MLP 784-64-64-10 (relu, relu, softmax), RMSprop, sparse categorical
      cross-entropy, one ``fit`` epoch on Fashion-MNIST's 60000 training images with
      ``batch_size=64, validation_split=0.2`` as the seed (48000 trained, 12000 evaluated);
      reported in seconds per epoch.
  W2  the toy ResNet of section 7.2 (CIFAR-10 shapes 32x32x3, random data), RMSprop(1e-3),
      categorical cross-entropy, one training step of batch 64.
  W2i W2's model in inference: ``predict`` of 1024 images in batches of 64, images/s.
  W3  the multi-input "ticket" model of section 7.1 (Embedding(10000, 64) + LSTM(128) over a
      10-word title, Embedding + LSTM(32) over a 100-word body, 12 tags; a sigmoid priority
      and a 4-way softmax department), RMSprop(1e-3), losses binary + categorical
      cross-entropy with loss_weights [1, 0.2], one training step of batch 32.
  W4  the conv autoencoder of section 5 (Conv2D 16/32, MaxPooling2D(3), Conv2D 32/16,
      GlobalMaxPooling2D, Reshape(4, 4, 1), Conv2DTranspose 16/32, UpSampling2D(3),
      Conv2DTranspose 16/1, all relu) on 28x28x1 images, Adam, MSE, one step of batch 64.

fastnet and the Keras peers build the models from the same Keras-API code (fastnet
mirrors it); PyTorch eager runs the same architectures, batches, optimizers and losses,
for the convolutional workloads in both memory layouts (NCHW and channels_last; the
faster is the peer). Keras on JAX compiles with ``jit_compile=True``.

Each process reports the time to the first step (model build + compile + one step; for
W1 the whole first epoch), the steady time (median after warm-up), and its peak RSS
(VmHWM) beside the workload's part of it (the peak since the imports and the data were
in memory, minus the RSS then).
Ratios are fastnet's time over the peer's (targets: <= 0.7 against PyTorch's best
layout, <= 1.0 against Keras-JAX's steady step) and, for W2i, fastnet's throughput over
the peer's (target >= 1.3 against PyTorch).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
from _common import (  # noqa: E402
    base_parser,
    fashion_mnist_arrays,
    import_keras3,
    peer_frameworks,
    print_table,
    reset_peak_rss,
    run_worker,
    status_mb,
)

WORKLOADS = ("w1", "w2", "w2i", "w3", "w4")
CONV = ("w2", "w2i", "w4")  # PyTorch runs these in both layouts
NUM_WORDS, NUM_TAGS, NUM_DEPTS = 10000, 12, 4


# ---- the models, in the Keras API (fastnet or Keras 3 as `k`) ----

def keras_mlp(k):
    inputs = k.Input(shape=(784,))
    x = k.layers.Dense(64, activation="relu")(inputs)
    x = k.layers.Dense(64, activation="relu")(x)
    outputs = k.layers.Dense(10, activation="softmax")(x)
    return k.Model(inputs, outputs)


def keras_resnet(k):
    L = k.layers
    inputs = k.Input(shape=(32, 32, 3), name="img")
    x = L.Conv2D(32, 3, activation="relu")(inputs)
    x = L.Conv2D(64, 3, activation="relu")(x)
    block_1_output = L.MaxPooling2D(3)(x)
    x = L.Conv2D(64, 3, activation="relu", padding="same")(block_1_output)
    x = L.Conv2D(64, 3, activation="relu", padding="same")(x)
    block_2_output = L.add([x, block_1_output])
    x = L.Conv2D(64, 3, activation="relu", padding="same")(block_2_output)
    x = L.Conv2D(64, 3, activation="relu", padding="same")(x)
    block_3_output = L.add([x, block_2_output])
    x = L.Conv2D(64, 3, activation="relu")(block_3_output)
    x = L.GlobalAveragePooling2D()(x)
    x = L.Dense(256, activation="relu")(x)
    x = L.Dropout(0.5)(x)
    outputs = L.Dense(10, activation="softmax")(x)
    return k.Model(inputs, outputs, name="toy_resnet")


def keras_ticket(k):
    L = k.layers
    title_input = k.Input(shape=(None,), name="title")
    body_input = k.Input(shape=(None,), name="body")
    tags_input = k.Input(shape=(NUM_TAGS,), name="tags")
    title_features = L.LSTM(128)(L.Embedding(NUM_WORDS, 64)(title_input))
    body_features = L.LSTM(32)(L.Embedding(NUM_WORDS, 64)(body_input))
    x = L.concatenate([title_features, body_features, tags_input])
    priority_pred = L.Dense(1, activation="sigmoid", name="priority")(x)
    department_pred = L.Dense(NUM_DEPTS, activation="softmax", name="department")(x)
    return k.Model(inputs=[title_input, body_input, tags_input],
                   outputs=[priority_pred, department_pred])


def keras_autoencoder(k):
    L = k.layers
    encoder_input = k.Input(shape=(28, 28, 1), name="img")
    x = L.Conv2D(16, 3, activation="relu")(encoder_input)
    x = L.Conv2D(32, 3, activation="relu")(x)
    x = L.MaxPooling2D(3)(x)
    x = L.Conv2D(32, 3, activation="relu")(x)
    x = L.Conv2D(16, 3, activation="relu")(x)
    encoder_output = L.GlobalMaxPooling2D()(x)
    x = L.Reshape((4, 4, 1))(encoder_output)
    x = L.Conv2DTranspose(16, 3, activation="relu")(x)
    x = L.Conv2DTranspose(32, 3, activation="relu")(x)
    x = L.UpSampling2D(3)(x)
    x = L.Conv2DTranspose(16, 3, activation="relu")(x)
    decoder_output = L.Conv2DTranspose(1, 3, activation="relu")(x)
    return k.Model(encoder_input, decoder_output, name="autoencoder")


def keras_compiled(k, wl, jit):
    kw = {"jit_compile": True} if jit else {}
    if wl == "w1":
        m = keras_mlp(k)
        m.compile(loss="sparse_categorical_crossentropy", optimizer=k.optimizers.RMSprop(), **kw)
    elif wl in ("w2", "w2i"):
        m = keras_resnet(k)
        m.compile(optimizer=k.optimizers.RMSprop(1e-3), loss="categorical_crossentropy", **kw)
    elif wl == "w3":
        m = keras_ticket(k)
        m.compile(optimizer=k.optimizers.RMSprop(1e-3),
                  loss=["binary_crossentropy", "categorical_crossentropy"], loss_weights=[1.0, 0.2],
                  **kw)
    else:
        m = keras_autoencoder(k)
        m.compile(optimizer=k.optimizers.Adam(), loss="mse", **kw)
    return m


# ---- the same models in PyTorch eager ----

def torch_model(torch, wl):
    nn, F = torch.nn, torch.nn.functional
    if wl == "w1":
        return nn.Sequential(nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                             nn.Linear(64, 10))
    if wl in ("w2", "w2i"):
        class ToyResNet(nn.Module):
            def __init__(self):
                super().__init__()
                self.c1, self.c2 = nn.Conv2d(3, 32, 3), nn.Conv2d(32, 64, 3)
                self.c3, self.c4, self.c5, self.c6 = (nn.Conv2d(64, 64, 3, padding=1)
                                                      for _ in range(4))
                self.c7 = nn.Conv2d(64, 64, 3)
                self.fc1, self.fc2 = nn.Linear(64, 256), nn.Linear(256, 10)
                self.drop = nn.Dropout(0.5)

            def forward(self, x):  # logits (the softmax is in the loss / applied by predict)
                r = F.relu
                b1 = F.max_pool2d(r(self.c2(r(self.c1(x)))), 3)
                b2 = r(self.c4(r(self.c3(b1)))) + b1
                b3 = r(self.c6(r(self.c5(b2)))) + b2
                x = r(self.c7(b3)).mean((2, 3))
                return self.fc2(self.drop(r(self.fc1(x))))

        return ToyResNet()
    if wl == "w3":
        class Ticket(nn.Module):
            def __init__(self):
                super().__init__()
                self.e1, self.e2 = nn.Embedding(NUM_WORDS, 64), nn.Embedding(NUM_WORDS, 64)
                self.l1 = nn.LSTM(64, 128, batch_first=True)
                self.l2 = nn.LSTM(64, 32, batch_first=True)
                self.p, self.d = nn.Linear(128 + 32 + NUM_TAGS, 1), nn.Linear(
                    128 + 32 + NUM_TAGS, NUM_DEPTS)

            def forward(self, title, body, tags):  # logits of both heads
                h1 = self.l1(self.e1(title))[1][0][-1]
                h2 = self.l2(self.e2(body))[1][0][-1]
                x = torch.cat([h1, h2, tags], 1)
                return self.p(x), self.d(x)

        return Ticket()

    class AutoEncoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = nn.ModuleList([nn.Conv2d(1, 16, 3), nn.Conv2d(16, 32, 3),
                                      nn.Conv2d(32, 32, 3), nn.Conv2d(32, 16, 3)])
            self.dec = nn.ModuleList([nn.ConvTranspose2d(1, 16, 3), nn.ConvTranspose2d(16, 32, 3),
                                      nn.ConvTranspose2d(32, 16, 3), nn.ConvTranspose2d(16, 1, 3)])

        def forward(self, x):
            r = F.relu
            x = F.max_pool2d(r(self.enc[1](r(self.enc[0](x)))), 3)
            x = r(self.enc[3](r(self.enc[2](x))))
            x = torch.amax(x, dim=(2, 3)).reshape(-1, 1, 4, 4)  # NHWC (4, 4, 1) == NCHW (1, 4, 4)
            x = r(self.dec[1](r(self.dec[0](x))))
            x = F.interpolate(x, scale_factor=3, mode="nearest")
            return r(self.dec[3](r(self.dec[2](x))))

    return AutoEncoder()


# ---- data ----

def batch_data(wl, n, rng):
    """Inputs and targets of one step, NHWC / Keras shapes."""
    if wl in ("w2", "w2i"):
        x = rng.random((n, 32, 32, 3), dtype=np.float32)
        y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, n)]
        return x, y
    if wl == "w3":
        x = [rng.integers(0, NUM_WORDS, (n, 10)), rng.integers(0, NUM_WORDS, (n, 100)),
             rng.integers(0, 2, (n, NUM_TAGS)).astype(np.float32)]
        y = [rng.random((n, 1), dtype=np.float32),
             rng.integers(0, 2, (n, NUM_DEPTS)).astype(np.float32)]
        return x, y
    x = rng.random((n, 28, 28, 1), dtype=np.float32)
    return x, x


def mnist_data(quick):
    data = fashion_mnist_arrays()
    if data is None:
        raise SystemExit("Fashion-MNIST not found (apt install dataset-fashion-mnist)")
    (x, y), _ = data
    n = 2560 if quick else len(x)
    x = x[:n].reshape(n, 784).astype(np.float32)
    x /= 255
    return x, y[:n].astype(np.int64)


# ---- one framework, one workload, in this process ----

def _timed(fn, reps):
    # BENCH_CLOCK=cpu: the process's CPU time (all its threads), which other processes on
    # a shared machine do not inflate; meant for --threads 1 runs.
    clock = time.process_time if os.environ.get("BENCH_CLOCK") == "cpu" else time.perf_counter
    ts = []
    for _ in range(reps):
        t0 = clock()
        fn()
        ts.append(clock() - t0)
    return statistics.median(ts)


def worker(fw, wl, quick):
    quick = quick == "1"
    threads = int(os.environ.get("BENCH_THREADS", "0")) or (os.cpu_count() or 1)
    rng = np.random.default_rng(0)
    steps, warm = (3, 1) if quick else (20, 3)
    epochs = 1 if quick else 2
    n_infer = 128 if quick else 1024
    batch = 32 if wl == "w3" else 64
    if wl == "w1":
        x, y = mnist_data(quick)
    elif wl == "w2i":
        x, _ = batch_data(wl, n_infer, rng)
    else:
        x, y = batch_data(wl, batch, rng)

    if fw.startswith("torch"):
        import torch

        torch.set_num_threads(threads)
        reset_peak_rss()
        base = status_mb("VmRSS")
        t0 = time.perf_counter()
        fn = torch_fn(torch, fw, wl, x, None if wl == "w2i" else y, batch)
    else:
        if fw in ("fastnet", "fastnet-baseline"):
            if fw == "fastnet-baseline":
                sys.path.insert(0, os.environ["BENCH_BASELINE"])
            import fastnet as k

            k.config.set_num_threads(threads)
        else:
            k = import_keras3(fw.split("-")[1])
        reset_peak_rss()
        base = status_mb("VmRSS")
        t0 = time.perf_counter()
        m = keras_compiled(k, wl, jit=fw == "keras-jax")
        if wl == "w1":
            fn = lambda: m.fit(x, y, batch_size=64, epochs=1, validation_split=0.2,  # noqa: E731
                               verbose=0)
        elif wl == "w2i":
            fn = lambda: m.predict(x, batch_size=64, verbose=0)  # noqa: E731
        else:
            fn = lambda: m.train_on_batch(x, y)  # noqa: E731
    fn()
    first = time.perf_counter() - t0
    if wl == "w1":
        steady = _timed(fn, epochs)
    elif wl == "w2i":
        fn()
        steady = _timed(fn, 1 if quick else 3)
    else:
        for _ in range(warm):
            fn()
        steady = _timed(fn, steps)
    peak = status_mb("VmHWM")
    origin = sys.modules["fastnet"].__file__ if "fastnet" in sys.modules else None
    print(json.dumps({"first_s": first, "steady_s": steady, "peak_mb": peak,
                      "workload_mb": peak - base, "images": n_infer if wl == "w2i" else None,
                      "fastnet": origin}))


def torch_fn(torch, fw, wl, x, y, batch):
    """One step (W1: one epoch, W2i: predict of all of x) of PyTorch eager."""
    F = torch.nn.functional
    net = torch_model(torch, wl)
    cl = fw == "torch-cl"
    fmt = torch.channels_last if cl else torch.contiguous_format
    if cl:
        net = net.to(memory_format=torch.channels_last)
    if wl in ("w2", "w2i", "w4"):
        xt = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(memory_format=fmt)
    if wl == "w2i":
        net.eval()

        def predict():
            with torch.no_grad():
                out = [torch.softmax(net(xt[i:i + batch]), -1) for i in range(0, len(xt), batch)]
            return torch.cat(out).numpy()

        return predict
    if wl in ("w1", "w2", "w3"):
        opt = torch.optim.RMSprop(net.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
    else:
        opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)

    def step(loss_of):
        opt.zero_grad()
        loss_of().backward()
        opt.step()

    if wl == "w1":
        n_train = int(len(x) * 0.8)  # Keras's validation_split: the last 20%, unshuffled
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        xtr, ytr, xva, yva = xt[:n_train], yt[:n_train], xt[n_train:], yt[n_train:]

        def epoch():
            net.train()
            perm = torch.randperm(n_train)
            for i in range(0, n_train, batch):
                idx = perm[i:i + batch]
                step(lambda idx=idx: F.cross_entropy(net(xtr[idx]), ytr[idx]))
            net.eval()
            with torch.no_grad():
                losses = [F.cross_entropy(net(xva[i:i + batch]), yva[i:i + batch], reduction="sum")
                          for i in range(0, len(xva), batch)]
            return float(sum(losses)) / len(xva)

        return epoch
    if wl == "w2":
        yt = torch.from_numpy(y)
        return lambda: step(lambda: F.cross_entropy(net(xt), yt))
    if wl == "w3":
        xs = [torch.from_numpy(a) for a in x]
        yp, yd = (torch.from_numpy(a) for a in y)

        def loss():
            p, d = net(*xs)
            return (F.binary_cross_entropy_with_logits(p, yp)
                    + 0.2 * -(yd * F.log_softmax(d, -1)).sum(-1).mean())

        return lambda: step(loss)
    return lambda: step(lambda: F.mse_loss(net(xt), xt))


# ---- the table ----

def frameworks_for(wl, available):
    out = []
    for fw in available:
        if fw == "torch":
            out += ["torch-nchw", "torch-cl"] if wl in CONV else ["torch"]
        else:
            out.append(fw)
    return out


def run(workloads, available, threads, quick):
    rows, summary = [], []
    for wl in workloads:
        res = {fw: run_worker(__file__, [fw, wl, int(quick)], threads)
               for fw in frameworks_for(wl, available)}
        infer = wl == "w2i"

        def value(r, infer=infer):  # seconds per step (per epoch for W1); images/s for W2i
            return r["images"] / r["steady_s"] if infer else r["steady_s"]

        ok = {fw: r for fw, r in res.items() if "error" not in r}
        torch_best = None
        torch_layouts = [fw for fw in ok if fw.startswith("torch")]
        if torch_layouts:
            pick = max if infer else min
            torch_best = pick(torch_layouts, key=lambda fw: value(ok[fw]))
        ref = ok.get("fastnet")
        for fw, r in res.items():
            label = fw + (" (best)" if fw == torch_best and len(torch_layouts) > 1 else "")
            if "error" in r:
                rows.append([wl, label, "failed", r["error"], "", "", "", ""])
                continue
            v = value(r)
            unit = v if infer else v * (1 if wl == "w1" else 1e3)
            ratio = "" if ref is None or fw == "fastnet" else value(ref) / v
            mem = "" if ref is None or fw == "fastnet" else ref["workload_mb"] / max(
                r["workload_mb"], 1e-9)
            rows.append([wl, label, r["first_s"], unit, ratio, r["peak_mb"], r["workload_mb"], mem])
        if ref is not None:
            for peer, target in ((torch_best, 1.3 if infer else 0.7),
                                 ("keras-jax", None if infer else 1.0)):
                if peer in ok and target is not None:
                    ratio = value(ref) / value(ok[peer])
                    met = ratio >= target if infer else ratio <= target
                    summary.append([wl, peer, ("throughput >= " if infer else "time <= ") + f"{target}",
                                    ratio, "yes" if met else "NO",
                                    ref["workload_mb"] / max(ok[peer]["workload_mb"], 1e-9)])
    clock = "process CPU time" if os.environ.get("BENCH_CLOCK") == "cpu" else "wall time"
    print_table(f"Seed workloads, one process each, {threads} thread(s), {clock}. steady: ms/step (W1: s/epoch, "
                "W2i: images/s); fastnet/peer: time ratio (W2i: throughput ratio); memory: fastnet's "
                "workload MB / the peer's",
                ["workload", "framework", "first step s", "steady", "fastnet/peer", "peak RSS MB",
                 "workload MB", "fastnet/peer MB"], rows)
    if summary:
        print_table("Targets", ["workload", "peer", "target", "fastnet/peer", "met",
                                "memory fastnet/peer"], summary)
    return rows, summary


def main():
    ap = base_parser(__doc__)
    ap.add_argument("--threads", type=int, default=0, help="0: the machine's cores")
    ap.add_argument("--only", default="", help="comma-separated workloads (w1,w2,w2i,w3,w4)")
    ap.add_argument("--frameworks", default="",
                    help="comma-separated subset of fastnet,torch,keras-jax,keras-torch")
    ap.add_argument("--cpu-time", action="store_true",
                    help="steady times in process CPU time (robust to other load; use with "
                    "--threads 1)")
    ap.add_argument("--baseline", default="", help="a checkout with an in-place built fastnet "
                    "to run beside this one (row fastnet-baseline)")
    ap.add_argument("--worker", nargs=3, metavar=("FRAMEWORK", "WORKLOAD", "QUICK"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(*args.worker)
    workloads = [w for w in args.only.split(",") if w] or list(WORKLOADS)
    bad = [w for w in workloads if w not in WORKLOADS]
    if bad:
        ap.error(f"unknown workload(s) {bad}; choose from {list(WORKLOADS)}")
    available = peer_frameworks()
    if args.frameworks:
        want = args.frameworks.split(",")
        available = [fw for fw in available if fw in want]
    if args.cpu_time:
        os.environ["BENCH_CLOCK"] = "cpu"
    if args.baseline:
        os.environ["BENCH_BASELINE"] = os.path.abspath(args.baseline)
        available.insert(1, "fastnet-baseline")
    threads = args.threads or os.cpu_count() or 1
    run(workloads, available, threads, args.quick)


if __name__ == "__main__":
    main()
