"""MultiHeadAttention beside PyTorch's nn.MultiheadAttention, one run, medians and ratios
(> 1 means fastnet is faster). Self-attention block: 4 heads, model dim 64 (key_dim 16),
128 tokens, batch 32 by default. fwd+bwd differentiates sum(output) wrt the input and
all weights. PyTorch runs twice: with its default ``need_weights=True`` (averaged
attention weights returned: the bmm + softmax path) and with ``need_weights=False``
(its fused scaled_dot_product_attention). ops.dot_product_attention alone is timed
against torch's F.scaled_dot_product_attention on the projected (B, T, N, H) tensors.

    python bench/attention.py [--quick] [--batch 32] [--tokens 128] [--threads N]
                              [--causal] [--best]
"""

from __future__ import annotations

import os
import statistics
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

HEADS, DIM = 4, 64


def main():
    p = base_parser(__doc__)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--tokens", type=int, default=128)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--causal", action="store_true", help="use_causal_mask / is_causal")
    p.add_argument("--best", action="store_true", help="fastest sample instead of the median")
    args = p.parse_args()
    stat = min if args.best else statistics.median
    set_threads(args.threads or fastnet.config.get_num_threads())
    repeats = 5 if args.quick else args.repeats
    torch = try_import_torch()
    rng = np.random.default_rng(0)
    B, T = args.batch, args.tokens
    x = rng.standard_normal((B, T, DIM), dtype=np.float32)
    mha = layers.MultiHeadAttention(HEADS, DIM // HEADS)
    mha(x, x)
    xv = fastnet.Variable(x)
    params = mha.trainable_weights
    causal = args.causal

    def fast_fwd():
        mha(x, x, use_causal_mask=causal)

    def fast_fwd_bwd():
        with fastnet.GradientTape() as tape:
            loss = ops.sum(mha(xv, xv, use_causal_mask=causal))
        tape.gradient(loss, [xv, *params])

    qkv = [rng.standard_normal((B, T, HEADS, DIM // HEADS), dtype=np.float32) for _ in range(3)]
    qkv_v = [fastnet.Variable(a) for a in qkv]

    def fast_sdpa_fwd_bwd():
        with fastnet.GradientTape() as tape:
            loss = ops.sum(ops.dot_product_attention(*qkv_v, is_causal=causal))
        tape.gradient(loss, qkv_v)

    fns = [fast_fwd, fast_fwd_bwd, fast_sdpa_fwd_bwd]
    names = [("MHA", "fwd"), ("MHA", "fwd+bwd"), ("dot_product_attention", "fwd+bwd")]
    peers = [None, None, None]
    if torch is not None:
        mod = torch.nn.MultiheadAttention(DIM, HEADS, batch_first=True)
        xt = torch.from_numpy(x).requires_grad_(True)
        mask = torch.nn.Transformer.generate_square_subsequent_mask(T) if causal else None

        def torch_fwd():
            with torch.no_grad():
                mod(xt, xt, xt, attn_mask=mask, is_causal=causal)

        def torch_fwd_bwd(need_weights):
            def run():
                out = mod(xt, xt, xt, attn_mask=mask, is_causal=causal,
                          need_weights=need_weights)[0]
                out.sum().backward()
            return run

        # torch's (B, N, T, H) layout for its fused kernel
        tq = [torch.from_numpy(np.ascontiguousarray(a.transpose(0, 2, 1, 3))).requires_grad_(True)
              for a in qkv]
        sdpa = torch.nn.functional.scaled_dot_product_attention

        def torch_sdpa_fwd_bwd():
            sdpa(*tq, is_causal=causal).sum().backward()

        fns += [torch_fwd, torch_fwd_bwd(True), torch_fwd_bwd(False), torch_sdpa_fwd_bwd]
    # Both libraries run worker threads that spin after a call: each function is timed
    # in its own block (interleaving would hand one library's spinning threads to the other).
    times = paired_times(fns, repeats, warmup=2, min_time=0.05, clock=time.perf_counter,
                         stat=stat, interleave=args.threads == 1)
    rows = []
    if torch is None:
        for (what, ps), t in zip(names, times):
            rows.append([what, ps, t * 1e3])
        header = ["op", "pass", "fastnet ms"]
    else:
        tf, tfb, tsd, ttf, ttfb_w, ttfb, ttsd = times
        peers = [(ttf, "no_grad, defaults"), (ttfb_w, "need_weights=True (default)"),
                 (ttfb, "need_weights=False"), (ttsd, "F.scaled_dot_product_attention")]
        rows = [["MHA", "fwd", tf * 1e3, ttf * 1e3, ttf / tf, peers[0][1]],
                ["MHA", "fwd+bwd", tfb * 1e3, ttfb_w * 1e3, ttfb_w / tfb, peers[1][1]],
                ["MHA", "fwd+bwd", tfb * 1e3, ttfb * 1e3, ttfb / tfb, peers[2][1]],
                ["dot_product_attention", "fwd+bwd", tsd * 1e3, ttsd * 1e3, ttsd / tsd,
                 peers[3][1]]]
        header = ["op", "pass", "fastnet ms", "torch ms", "vs torch", "torch call"]
    clock = "wall time, " + ("best" if args.best else "median")
    print_table(f"Self-attention, batch {B}, {T} tokens, {HEADS} heads, dim {DIM} (key_dim "
                f"{DIM // HEADS}){', causal' if causal else ''}; "
                f"{fastnet.config.get_num_threads()} thread(s), ISA {fastnet.config.get_isa()}, "
                f"{clock}", header, rows)


if __name__ == "__main__":
    main()
