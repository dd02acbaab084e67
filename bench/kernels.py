"""Kernel benchmarks beside PyTorch's CPU kernels, one run, medians and ratios
(> 1 means fastnet is faster). For pooling and batch norm PyTorch is timed in
both NCHW and channels_last and the faster counts. Convolution rows: bench/conv.py.

    python bench/kernels.py [--quick]
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
from _common import base_parser, median_time, print_table, try_import_torch  # noqa: E402

import fastnet  # noqa: E402
from fastnet import layers, ops  # noqa: E402


def fwd_bwd(fn, x, params=()):
    xv = fastnet.Variable(x)

    def step():
        with fastnet.GradientTape() as tape:
            y = fn(xv)
            loss = ops.sum(y)
        tape.gradient(loss, [xv, *params])

    return step


def torch_best(torch, make, x_nhwc):
    """Times make(x) fwd and fwd+bwd in NCHW and channels_last; returns the faster each."""
    out = []
    for fmt in (torch.contiguous_format, torch.channels_last):
        xt = torch.from_numpy(x_nhwc).permute(0, 3, 1, 2).contiguous(memory_format=fmt)
        xt.requires_grad_(True)
        mod = make()
        f = lambda mod=mod, xt=xt: mod(xt)  # noqa: E731
        fb = lambda mod=mod, xt=xt: mod(xt).sum().backward()  # noqa: E731
        out.append((f, fb))
    return out


def main():
    args = base_parser(__doc__).parse_args()
    repeats = 5 if args.quick else args.repeats
    torch = try_import_torch()
    rng = np.random.default_rng(0)
    rows = []

    def add(name, fast_f, fast_fb, torch_fs=None):
        tf = median_time(fast_f, repeats, min_time=0.05)
        tfb = median_time(fast_fb, repeats, min_time=0.05)
        row_f = [name, "fwd", tf * 1e3]
        row_b = [name, "fwd+bwd", tfb * 1e3]
        if torch_fs:
            tt = min(median_time(f, repeats, min_time=0.05) for f, _ in torch_fs)
            ttb = min(median_time(fb, repeats, min_time=0.05) for _, fb in torch_fs)
            row_f += [tt * 1e3, tt / tf]
            row_b += [ttb * 1e3, ttb / tfb]
        rows.extend([row_f, row_b])

    x = rng.random((64, 28, 28, 64), dtype=np.float32)
    add("max-pool 3x3/3 64x28x28x64", lambda: ops.max_pool(x, 3, 3),
        fwd_bwd(lambda t: ops.max_pool(t, 3, 3), x),
        torch_best(torch, lambda: torch.nn.MaxPool2d(3, 3), x) if torch else None)

    x = rng.random((64, 16, 16, 64), dtype=np.float32)
    bn = layers.BatchNormalization()
    bn(x)
    add("batch-norm train 64x16x16x64", lambda: bn(x, training=True),
        fwd_bwd(lambda t: bn(t, training=True), x, bn.trainable_weights),
        torch_best(torch, lambda: torch.nn.BatchNorm2d(64).train(), x) if torch else None)

    for kind in ("LSTM", "GRU"):
        for units in (32, 128):
            x = rng.random((32, 100, 64), dtype=np.float32)
            layer = getattr(layers, kind)(units)
            layer(x)
            tfs = None
            if torch:
                mod = getattr(torch.nn, kind)(64, units, batch_first=True)
                xt = torch.from_numpy(x).requires_grad_(True)
                tfs = [(lambda mod=mod, xt=xt: mod(xt),
                        lambda mod=mod, xt=xt: mod(xt)[0][:, -1].sum().backward())]
            add(f"{kind} b32 t100 in64 u{units}", lambda layer=layer, x=x: layer(x),
                fwd_bwd(lambda t, layer=layer: layer(t), x, layer.trainable_weights), tfs)

    header = ["kernel", "pass", "fastnet ms"] + (["torch ms (best)", "vs torch"] if torch else [])
    print_table(f"Kernels, {fastnet.config.get_num_threads()} thread(s), ISA "
                f"{fastnet.config.get_isa()}", header, rows)


if __name__ == "__main__":
    main()
