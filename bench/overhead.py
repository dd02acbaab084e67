"""Per-op framework overhead: fastnet beside PyTorch eager, one run, medians.

    python bench/overhead.py [--quick]

Rows: a chain of small elementwise ops on a 1x10 tensor (add, mul, relu), and a
32x64 Dense forward+backward under a tape. Times are per op (or per step).
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
from _common import base_parser, median_time, print_table, try_import_torch  # noqa: E402

import fastnet  # noqa: E402
from fastnet import ops  # noqa: E402

CHAIN = 30  # ops per timed call


def main():
    args = base_parser(__doc__).parse_args()
    repeats = 5 if args.quick else args.repeats
    torch = try_import_torch()
    rows = []
    x = ops.convert_to_tensor(np.random.rand(1, 10).astype(np.float32))
    y = ops.convert_to_tensor(np.random.rand(1, 10).astype(np.float32))

    def chain_fast():
        z = x
        for _ in range(CHAIN // 3):
            z = ops.relu(ops.multiply(ops.add(z, y), y))
        return z

    w = fastnet.Variable(np.random.rand(64, 32).astype(np.float32))
    b = fastnet.Variable(np.zeros(32, np.float32))
    inp = ops.convert_to_tensor(np.random.rand(32, 64).astype(np.float32))

    def dense_fast():
        with fastnet.GradientTape() as tape:
            loss = ops.sum(ops.relu(ops.matmul(inp, w) + b))
        return tape.gradient(loss, [w, b])

    results = {
        "1x10 add/mul/relu (per op)": [median_time(chain_fast, repeats, min_time=0.1) / CHAIN],
        "1x10 chain under a tape (per op)": [median_time(
            lambda: _taped(chain_fast, x), repeats, min_time=0.1) / CHAIN],
        "32x64 Dense fwd+bwd (per step)": [median_time(dense_fast, repeats, min_time=0.1)],
    }
    if torch:
        torch.set_num_threads(fastnet.config.get_num_threads())
        tx = torch.from_numpy(x.numpy().copy())
        ty = torch.from_numpy(y.numpy().copy())

        def chain_torch(src=tx):
            z = src
            for _ in range(CHAIN // 3):
                z = torch.relu((z + ty) * ty)
            return z

        txg = tx.clone().requires_grad_(True)
        tw = torch.from_numpy(w.numpy().copy()).requires_grad_(True)
        tb = torch.from_numpy(b.numpy().copy()).requires_grad_(True)
        tin = torch.from_numpy(inp.numpy().copy())

        def dense_torch():
            loss = torch.relu(tin @ tw + tb).sum()
            return torch.autograd.grad(loss, [tw, tb])

        with torch.no_grad():
            results["1x10 add/mul/relu (per op)"].append(
                median_time(chain_torch, repeats, min_time=0.1) / CHAIN)
        results["1x10 chain under a tape (per op)"].append(
            median_time(lambda: chain_torch(txg).sum().backward(), repeats, min_time=0.1) / CHAIN)
        results["32x64 Dense fwd+bwd (per step)"].append(median_time(dense_torch, repeats,
                                                                     min_time=0.1))
    for name, ts in results.items():
        row = [name, ts[0] * 1e6]
        if len(ts) > 1:
            row += [ts[1] * 1e6, ts[1] / ts[0]]
        rows.append(row)
    header = ["case", "fastnet us"] + (["torch us", "vs torch"] if torch else [])
    print_table("Framework overhead (lower is better; vs torch > 1 means fastnet is faster)",
                header, rows)


def _taped(fn, x):
    with fastnet.GradientTape() as tape:
        tape.watch(x)
        z = fn()
        s = ops.sum(z)
    return tape.gradient(s, x)


if __name__ == "__main__":
    main()
