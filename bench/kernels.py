"""Kernel benchmarks beside PyTorch's CPU kernels, one run, medians and ratios
(> 1 means fastnet is faster). For pooling and batch norm PyTorch is timed in
both NCHW and channels_last and the faster counts. Convolution rows: bench/conv.py.
The elementwise rows (activations, cross-entropies, bias-add) are 64 x 4096 float32.

    python bench/kernels.py [--quick] [--threads N] [--only SUBSTRING]
"""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
from _common import (  # noqa: E402
    base_parser,
    paired_times,
    print_table,
    set_threads,
    try_import_torch,
)

import fastnet  # noqa: E402
from fastnet import layers, ops  # noqa: E402
from fastnet.ops import nn as ops_nn  # noqa: E402


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


def torch_pair(torch, f, *arrays):
    """(fwd, fwd+bwd) closures of f on torch tensors (the first one differentiated); the
    forward runs on tensors that do not require grad, as an inference call would."""
    plain = [torch.from_numpy(a) for a in arrays]
    grad = [torch.from_numpy(a.copy()) for a in arrays]
    grad[0].requires_grad_(True)
    return [(lambda: f(*plain), lambda: f(*grad).sum().backward())]


def main():
    ap = base_parser(__doc__)
    ap.add_argument("--threads", type=int, default=0, help="0: the machine's cores")
    ap.add_argument("--only", default="", help="run only the rows whose name contains this")
    args = ap.parse_args()
    repeats = 5 if args.quick else args.repeats
    torch = try_import_torch()
    set_threads(args.threads if args.threads > 0 else fastnet.config.get_num_threads())
    rng = np.random.default_rng(0)
    rows = []

    # fastnet and torch sampled in turn (load on a shared machine hits both alike); with
    # one thread, on this thread's CPU time, which other processes do not inflate
    clock = time.thread_time if fastnet.config.get_num_threads() == 1 else time.perf_counter

    def add(name, fast_f, fast_fb, torch_fs=None):
        if args.only not in name:
            return
        torch_fs = torch_fs or []
        tf, *tt = paired_times([fast_f] + [f for f, _ in torch_fs], repeats, min_time=0.05,
                               clock=clock)
        tfb, *ttb = paired_times([fast_fb] + [fb for _, fb in torch_fs], repeats,
                                 min_time=0.05, clock=clock)
        row_f = [name, "fwd", tf * 1e3]
        row_b = [name, "fwd+bwd", tfb * 1e3]
        if torch_fs:
            row_f += [min(tt) * 1e3, min(tt) / tf]
            row_b += [min(ttb) * 1e3, min(ttb) / tfb]
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

    # elementwise family at 64 x 4096 (one row per sample, 4096 features / classes)
    F = torch.nn.functional if torch else None
    x = rng.standard_normal((64, 4096), dtype=np.float32) * 3
    acts = [
        ("gelu tanh", lambda t: ops.gelu(t, approximate=True),
         lambda t: F.gelu(t, approximate="tanh")),
        ("gelu erf", lambda t: ops.gelu(t, approximate=False), lambda t: F.gelu(t)),
        ("softplus", ops.softplus, lambda t: F.softplus(t)),
        ("elu", ops.elu, lambda t: F.elu(t)),
        ("silu", ops.silu, lambda t: F.silu(t)),
    ]
    for name, fast, ref in acts:
        add(f"{name} 64x4096", lambda fast=fast: fast(x), fwd_bwd(fast, x),
            torch_pair(torch, ref, x) if torch else None)

    logits = x
    soft = rng.random((64, 4096), dtype=np.float32)
    soft /= soft.sum(-1, keepdims=True)
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    bin_t = (rng.random((64, 4096)) < 0.5).astype(np.float32)
    sig = (1 / (1 + np.exp(-logits))).astype(np.float32)

    def torch_cce_probs(p, t):  # Keras's formula in torch ops (torch has no fused one)
        q = torch.clamp(p / p.sum(-1, keepdim=True), 1e-7, 1 - 1e-7)
        return -(t * torch.log(q)).sum(-1)

    losses = [
        ("cce logits", lambda t: ops.categorical_crossentropy(soft, t, from_logits=True), logits,
         lambda o, t: F.cross_entropy(o, t, reduction="none"), soft),
        ("cce probs", lambda t: ops.categorical_crossentropy(soft, t), probs,
         torch_cce_probs, soft),
        ("bce logits", lambda t: ops.binary_crossentropy(bin_t, t, from_logits=True), logits,
         lambda o, t: F.binary_cross_entropy_with_logits(o, t, reduction="none"), bin_t),
        ("bce probs", lambda t: ops.binary_crossentropy(bin_t, t), sig,
         lambda o, t: F.binary_cross_entropy(o, t, reduction="none"), bin_t),
    ]
    for name, fast, out, ref, tgt in losses:
        add(f"{name} 64x4096", lambda fast=fast, out=out: fast(out), fwd_bwd(fast, out),
            torch_pair(torch, ref, out, tgt) if torch else None)

    bias = fastnet.Variable(rng.standard_normal(4096).astype(np.float32))
    bt = rng.standard_normal(4096).astype(np.float32)
    add("bias-add 64x4096 (d bias)", lambda: ops_nn.bias_add(x, bias),
        fwd_bwd(lambda t: ops_nn.bias_add(t, bias), x, [bias]),
        torch_pair(torch, lambda b, t: t + b, bt, x) if torch else None)

    header = ["kernel", "pass", "fastnet ms"] + (["torch ms (best)", "vs torch"] if torch else [])
    print_table(f"Kernels, {fastnet.config.get_num_threads()} thread(s), ISA "
                f"{fastnet.config.get_isa()}, {'thread CPU' if clock is time.thread_time else 'wall'}"
                " time", header, rows)


if __name__ == "__main__":
    main()
