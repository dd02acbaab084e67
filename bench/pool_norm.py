"""Pooling / normalization benchmarks beside PyTorch, one run, medians and ratios
(> 1 means fastnet is faster). PyTorch is timed in both NCHW and channels_last and
the faster counts. Forward and forward+backward (through fastnet's tape).

    python bench/pool_norm.py [--quick]
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
from _common import base_parser, median_time, print_table, try_import_torch  # noqa: E402
from kernels import fwd_bwd, torch_best  # noqa: E402

import fastnet  # noqa: E402
from fastnet import layers, ops  # noqa: E402


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

    x = rng.random((64, 16, 16, 64), dtype=np.float32)
    gap = layers.GlobalAveragePooling2D()
    add("global-avg-pool 64x16x16x64", lambda: gap(x), fwd_bwd(gap, x),
        torch_best(torch, lambda: torch.nn.AdaptiveAvgPool2d(1), x) if torch else None)

    x = rng.random((32, 16, 16, 64), dtype=np.float32)
    up = layers.UpSampling2D(2)
    add("upsample 2x 32x16x16x64", lambda: up(x), fwd_bwd(up, x),
        torch_best(torch, lambda: torch.nn.Upsample(scale_factor=2, mode="nearest"), x)
        if torch else None)

    header = ["kernel", "pass", "fastnet ms"] + (["torch ms (best)", "vs torch"] if torch else [])
    print_table(f"Pool/norm, {fastnet.config.get_num_threads()} thread(s), ISA "
                f"{fastnet.config.get_isa()}", header, rows)


if __name__ == "__main__":
    main()
