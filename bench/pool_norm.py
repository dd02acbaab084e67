"""Pooling / normalization benchmarks beside PyTorch, one run, medians and ratios
(> 1 means fastnet is faster). PyTorch is timed in both NCHW and channels_last and
the faster counts. Forward and forward+backward (through fastnet's tape).

    python bench/pool_norm.py [--quick] [--threads N] [--only SUBSTRING]
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
from _common import (  # noqa: E402
    base_parser,
    median_time,
    print_table,
    set_threads,
    try_import_torch,
)
from kernels import fwd_bwd, torch_best  # noqa: E402

import fastnet  # noqa: E402
from fastnet import layers, ops  # noqa: E402


def torch_best3d(torch, make, x_ndhwc):
    """torch_best for 5-D inputs: NCDHW and channels_last_3d."""
    out = []
    for fmt in (torch.contiguous_format, torch.channels_last_3d):
        xt = torch.from_numpy(x_ndhwc).permute(0, 4, 1, 2, 3).contiguous(memory_format=fmt)
        xt.requires_grad_(True)
        mod = make()
        out.append((lambda mod=mod, xt=xt: mod(xt),
                    lambda mod=mod, xt=xt: mod(xt).sum().backward()))
    return out


def main():
    p = base_parser(__doc__)
    p.add_argument("--threads", type=int, default=0, help="threads for fastnet and torch")
    p.add_argument("--only", default="", help="run the rows whose name contains this")
    args = p.parse_args()
    if args.threads > 0:
        set_threads(args.threads)
    repeats = 5 if args.quick else args.repeats
    torch = try_import_torch()
    rng = np.random.default_rng(0)
    rows = []

    def add(name, fast_f, fast_fb, torch_fs=None):
        if args.only not in name:
            return
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

    x = rng.random((8, 16, 32, 32, 32), dtype=np.float32)
    add("max-pool3d 2x2x2/2 8x16x32x32x32", lambda: ops.max_pool(x, 2, 2),
        fwd_bwd(lambda t: ops.max_pool(t, 2, 2), x),
        torch_best3d(torch, lambda: torch.nn.MaxPool3d(2, 2), x) if torch else None)
    add("avg-pool3d 2x2x2/2 8x16x32x32x32", lambda: ops.average_pool(x, 2, 2),
        fwd_bwd(lambda t: ops.average_pool(t, 2, 2), x),
        torch_best3d(torch, lambda: torch.nn.AvgPool3d(2, 2), x) if torch else None)

    x = rng.random((64, 16, 16, 64), dtype=np.float32)
    gmp = layers.GlobalMaxPooling2D()
    add("global-max-pool 64x16x16x64", lambda: gmp(x), fwd_bwd(gmp, x),
        torch_best(torch, lambda: torch.nn.AdaptiveMaxPool2d(1), x) if torch else None)

    x = rng.random((32, 128, 512), dtype=np.float32)
    ln = layers.LayerNormalization()
    ln(x)
    tfs = None
    if torch:
        mod = torch.nn.LayerNorm(512, eps=1e-3)
        xt = torch.from_numpy(x).requires_grad_(True)
        tfs = [(lambda: mod(xt), lambda: mod(xt).sum().backward())]
    add("layer-norm 32x128x512", lambda: ln(x),
        fwd_bwd(lambda t: ln(t), x, ln.trainable_weights), tfs)

    header = ["kernel", "pass", "fastnet ms"] + (["torch ms (best)", "vs torch"] if torch else [])
    print_table(f"Pool/norm, {fastnet.config.get_num_threads()} thread(s), ISA "
                f"{fastnet.config.get_isa()}", header, rows)


if __name__ == "__main__":
    main()
