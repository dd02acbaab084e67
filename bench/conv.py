"""Convolution kernels: fastnet beside PyTorch's CPU convolution, one run.

PyTorch is timed in both NCHW and channels_last memory formats and the faster
is the peer; fastnet works channels-last (NHWC) as Keras. "fwd" is the forward
pass with bias; "fwd+bwd" adds the input, kernel and bias gradients; "fwd+relu" is
the forward with bias and ReLU (fastnet: fused in the kernel, as Conv2D(activation=
"relu") runs it; PyTorch: conv2d then an in-place relu).

    python bench/conv.py [--repeats 15] [--quick] [--threads N] [--only SUBSTRING]
"""

from __future__ import annotations

import time

import numpy as np
from _common import base_parser, paired_times, print_table, set_threads, try_import_torch

import fastnet
from fastnet.kernels import conv as K

# name, kind, x shape (NHWC), kernel spatial, filters, strides, padding
CASES = [
    ("conv2d 64x32x32x3->32 3x3 valid", "conv", (64, 32, 32, 3), (3, 3), 32, 1, "valid"),
    ("conv2d 64x28x28x1->16 3x3 valid", "conv", (64, 28, 28, 1), (3, 3), 16, 1, "valid"),
    ("conv2d 64x10x10x64->64 3x3 same", "conv", (64, 10, 10, 64), (3, 3), 64, 1, "same"),
    ("conv2d_transpose 64x4x4x1->16 3x3", "transpose", (64, 4, 4, 1), (3, 3), 16, 1, "valid"),
    # the rest of bench/train.py's CNN (= W4's encoder, bench/workloads.py)
    ("conv2d 64x26x26x16->32 3x3 valid", "conv", (64, 26, 26, 16), (3, 3), 32, 1, "valid"),
    ("conv2d 64x8x8x32->32 3x3 valid", "conv", (64, 8, 8, 32), (3, 3), 32, 1, "valid"),
    ("conv2d 64x6x6x32->16 3x3 valid", "conv", (64, 6, 6, 32), (3, 3), 16, 1, "valid"),
    # W2 (the toy ResNet): its second conv, the four 64-channel `same` convs, the last
    ("conv2d 64x30x30x32->64 3x3 valid", "conv", (64, 30, 30, 32), (3, 3), 64, 1, "valid"),
    ("conv2d 64x9x9x64->64 3x3 same", "conv", (64, 9, 9, 64), (3, 3), 64, 1, "same"),
    ("conv2d 64x9x9x64->64 3x3 valid", "conv", (64, 9, 9, 64), (3, 3), 64, 1, "valid"),
    # W4's decoder
    ("conv2d_transpose 64x6x6x16->32 3x3", "transpose", (64, 6, 6, 16), (3, 3), 32, 1, "valid"),
    ("conv2d_transpose 64x24x24x32->16 3x3", "transpose", (64, 24, 24, 32), (3, 3), 16, 1, "valid"),
    ("conv2d_transpose 64x26x26x16->1 3x3", "transpose", (64, 26, 26, 16), (3, 3), 1, 1, "valid"),
]


def fastnet_fns(kind, x, w, b, s, p):
    if kind == "conv":
        def fwd():
            return K.conv_forward(x, w, b, s, p)

        def fwd_relu():  # the fused conv + bias + ReLU of Conv2D(activation="relu")
            return K.conv_forward(x, w, b, s, p, activation="relu")

        y = fwd()
        dy = np.random.default_rng(1).standard_normal(y.shape).astype(np.float32)

        def fwd_bwd():
            K.conv_forward(x, w, b, s, p)
            K.conv_backward_input(dy, w, x.shape, s, p)
            K.conv_backward_kernel(x, dy, w.shape, s, p)
        return fwd, fwd_bwd, fwd_relu, dy
    else:
        def fwd():
            return K.conv_transpose_forward(x, w, b, s, p)

        y = fwd()
        dy = np.random.default_rng(1).standard_normal(y.shape).astype(np.float32)

        def fwd_bwd():
            K.conv_transpose_forward(x, w, b, s, p)
            K.conv_transpose_backward_input(dy, w, x.shape, s, p)
            K.conv_transpose_backward_kernel(x, dy, w.shape, s, p)
    return fwd, fwd_bwd, None, dy


def torch_fns(torch, kind, x, w, b, s, p, dy, channels_last):
    F = torch.nn.functional
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    tx = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(memory_format=fmt)
    # conv: (kh, kw, in, out) -> (out, in, kh, kw); transpose: (kh, kw, out, in) -> (in, out, kh, kw)
    tw = torch.from_numpy(w).permute(3, 2, 0, 1).contiguous(memory_format=fmt)
    tb = torch.from_numpy(b)
    tdy = torch.from_numpy(dy).permute(0, 3, 1, 2).contiguous(memory_format=fmt)
    pad = p if kind == "conv" else 0

    def op(a, ww, bb):
        if kind == "conv":
            return F.conv2d(a, ww, bb, stride=s, padding=pad)
        return F.conv_transpose2d(a, ww, bb, stride=s)

    def fwd():
        with torch.no_grad():
            return op(tx, tw, tb)

    gx = tx.clone().requires_grad_(True)
    gw = tw.clone().requires_grad_(True)
    gb = tb.clone().requires_grad_(True)

    def fwd_bwd():
        gx.grad = gw.grad = gb.grad = None
        op(gx, gw, gb).backward(tdy)

    def fwd_relu():
        with torch.no_grad():
            return torch.relu_(op(tx, tw, tb))

    return fwd, fwd_bwd, fwd_relu


def main():
    ap = base_parser(__doc__)
    ap.add_argument("--threads", type=int, default=0, help="0: the machine's cores")
    ap.add_argument("--only", default="", help="run the cases whose name contains this")
    args = ap.parse_args()
    repeats = 5 if args.quick else args.repeats
    set_threads(args.threads if args.threads > 0 else fastnet.config.get_num_threads())
    torch = try_import_torch()
    rows = []
    for name, kind, xs, ks, f, s, p in CASES:
        if args.only not in name:
            continue
        rng = np.random.default_rng(0)
        cin = xs[-1]
        x = rng.standard_normal(xs).astype(np.float32)
        wshape = (*ks, cin, f) if kind == "conv" else (*ks, f, cin)
        w = (rng.standard_normal(wshape) * 0.1).astype(np.float32)
        b = rng.standard_normal(f).astype(np.float32)
        fwd, fwd_bwd, fwd_relu, dy = fastnet_fns(kind, x, w, b, s, p)
        # 1 thread: CPU time of this thread (robust to other load); more: wall time.
        clock = time.thread_time if fastnet.config.get_num_threads() == 1 else time.perf_counter
        passes = [("fwd", fwd, 0), ("fwd+bwd", fwd_bwd, 1)]
        if fwd_relu is not None:
            passes.append(("fwd+relu", fwd_relu, 2))
        for label, fn, tidx in passes:
            fns = [fn]
            if torch is not None:
                fns += [torch_fns(torch, kind, x, w, b, s, p, dy, cl)[tidx] for cl in (False, True)]
            ts = paired_times(fns, repeats=repeats, min_time=0.02, clock=clock,
                              interleave=fastnet.config.get_num_threads() == 1)
            row = [name, label, ts[0] * 1e3]
            if torch is not None:
                row += [ts[1] * 1e3, ts[2] * 1e3, min(ts[1:]) / ts[0]]
            rows.append(row)
    header = ["case", "pass", "fastnet ms"]
    if torch is not None:
        header += ["torch NCHW ms", "torch NHWC ms", "speedup vs best"]
    print(f"threads: {fastnet.config.get_num_threads()}, isa: {fastnet.config.get_isa()}")
    print_table("convolution (medians, sampled in turn; speedup > 1 means fastnet is faster)", header, rows)


if __name__ == "__main__":
    main()
