"""Per-op framework overhead: fastnet beside PyTorch eager, one run, medians.

    python bench/overhead.py [--quick]

Rows: a chain of small elementwise ops on a 1x10 tensor (add, mul, relu), the
same chain under a tape (forward + backward), a 32x64 Dense forward+backward
under a tape, and one ``train_on_batch`` of a tiny Dense(10) model (batch 32,
SGD, softmax cross-entropy) against PyTorch's zero_grad/forward/backward/step.
Times are per op (or per step), as CPU time of the calling thread, with fastnet
and PyTorch sampled in turn, so other load on a shared machine does not skew the
ratio; each table is printed for 1 and for 2 threads (``--threads`` for others):
none of these sizes should wake a worker thread.
"""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
from _common import base_parser, paired_times, print_table, try_import_torch  # noqa: E402

import fastnet  # noqa: E402
from fastnet import ops  # noqa: E402

CHAIN = 30  # ops per timed call


def fastnet_cases():
    x = ops.convert_to_tensor(np.random.rand(1, 10).astype(np.float32))
    y = ops.convert_to_tensor(np.random.rand(1, 10).astype(np.float32))

    def chain():
        z = x
        for _ in range(CHAIN // 3):
            z = ops.relu(ops.multiply(ops.add(z, y), y))
        return z

    def chain_taped():
        with fastnet.GradientTape() as tape:
            tape.watch(x)
            s = ops.sum(chain())
        return tape.gradient(s, x)

    w = fastnet.Variable(np.random.rand(64, 32).astype(np.float32))
    b = fastnet.Variable(np.zeros(32, np.float32))
    inp = ops.convert_to_tensor(np.random.rand(32, 64).astype(np.float32))

    def dense():
        with fastnet.GradientTape() as tape:
            loss = ops.sum(ops.relu(ops.matmul(inp, w) + b))
        return tape.gradient(loss, [w, b])

    model = fastnet.Sequential([fastnet.Input((64,)), fastnet.layers.Dense(10)])
    model.compile(optimizer=fastnet.optimizers.SGD(0.01),
                  loss=fastnet.losses.SparseCategoricalCrossentropy(from_logits=True))
    labels = np.random.default_rng(0).integers(0, 10, 32)
    xb = np.random.rand(32, 64).astype(np.float32)

    def tiny_step():
        model.train_on_batch(xb, labels)

    return [chain, chain_taped, dense, tiny_step], (x, y, w, b, inp, xb, labels)


def torch_cases(torch, data):
    x, y, w, b, inp = (torch.from_numpy(np.array(t.numpy())) for t in data[:5])
    xb, labels = torch.from_numpy(data[5]), torch.from_numpy(data[6])

    def chain(src=x):
        z = src
        for _ in range(CHAIN // 3):
            z = torch.relu((z + y) * y)
        return z

    def chain_nograd():
        with torch.no_grad():
            return chain()

    xg = x.clone().requires_grad_(True)
    wg, bg = w.clone().requires_grad_(True), b.clone().requires_grad_(True)

    def chain_taped():
        return torch.autograd.grad(chain(xg).sum(), [xg])

    def dense():
        loss = torch.relu(inp @ wg + bg).sum()
        return torch.autograd.grad(loss, [wg, bg])

    lin = torch.nn.Linear(64, 10)
    opt = torch.optim.SGD(lin.parameters(), lr=0.01)
    loss_fn = torch.nn.CrossEntropyLoss()

    def tiny_step():
        opt.zero_grad()
        loss_fn(lin(xb), labels).backward()
        opt.step()

    return [chain_nograd, chain_taped, dense, tiny_step]


def main():
    ap = base_parser(__doc__)
    ap.add_argument("--threads", type=int, nargs="*", default=[1, 2])
    args = ap.parse_args()
    repeats = 5 if args.quick else args.repeats
    torch = try_import_torch()
    names = ["1x10 add/mul/relu (per op)", "1x10 chain under a tape (per op)",
             "32x64 Dense fwd+bwd (per step)", "Dense(10) train_on_batch (per step)"]
    per = [CHAIN, CHAIN, 1, 1]
    fast, data = fastnet_cases()
    peers = torch_cases(torch, data) if torch else [None] * len(fast)
    for threads in args.threads:
        fastnet.config.set_num_threads(threads)
        if torch:
            torch.set_num_threads(threads)
        rows = []
        for name, k, f, p in zip(names, per, fast, peers):
            fns = [f] + ([p] if p else [])
            ts = paired_times(fns, repeats, min_time=0.1, clock=time.thread_time)
            row = [name, ts[0] / k * 1e6]
            if p:
                row += [ts[1] / k * 1e6, ts[1] / ts[0]]
            rows.append(row)
        header = ["case", "fastnet us", "torch us", "vs torch"] if torch else ["case", "fastnet us"]
        print_table(f"Framework overhead, {threads} thread(s) (lower is better; vs torch > 1 means "
                    "fastnet is faster)", header, rows)


if __name__ == "__main__":
    main()
