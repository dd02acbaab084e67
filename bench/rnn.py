"""Recurrent layers beside PyTorch's nn.LSTM / nn.GRU / nn.RNN, one run, medians and
ratios (> 1 means fastnet is faster). Batch 32, 100 steps, 64 inputs, the last output
(return_sequences=False); fwd+bwd differentiates sum(last output) wrt x and the weights.
The masked rows (fastnet only, no PyTorch peer) feed a mask with a quarter of the
steps padded, the Embedding(mask_zero=True) path. Samples of fastnet and PyTorch are
interleaved so that load from other processes hits both alike.

    python bench/rnn.py [--quick] [--kinds LSTM,GRU,SimpleRNN] [--units 32,128]
                        [--masked] [--threads N] [--cpu-time] [--best]
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

TORCH_NAMES = {"LSTM": "LSTM", "GRU": "GRU", "SimpleRNN": "RNN"}


def fwd_bwd(layer, x, mask=None):
    xv = fastnet.Variable(x)
    params = layer.trainable_weights
    kw = {} if mask is None else {"mask": mask}

    def step():
        with fastnet.GradientTape() as tape:
            loss = ops.sum(layer(xv, **kw))
        tape.gradient(loss, [xv, *params])

    return step


CLOCK = time.perf_counter
STAT = statistics.median


def paired(fns, repeats, min_time=0.05):
    """Seconds per call of each fn (STAT of the samples), interleaved round by round so a
    busy machine slows every contender alike."""
    return paired_times(fns, repeats, warmup=2, min_time=min_time, clock=CLOCK, stat=STAT)


def bench_layer(torch, kind, units, repeats, masked, rng):
    x = rng.random((32, 100, 64), dtype=np.float32)
    layer = getattr(layers, kind)(units)
    layer(x)
    name = f"{kind} b32 t100 in64 u{units}"
    fast = [lambda: layer(x), fwd_bwd(layer, x)]
    if torch is None:
        tf, tfb = paired(fast, repeats)
        rows = [[name, "fwd", tf * 1e3], [name, "fwd+bwd", tfb * 1e3]]
    else:
        mod = getattr(torch.nn, TORCH_NAMES[kind])(64, units, batch_first=True)
        xt = torch.from_numpy(x).requires_grad_(True)

        def torch_fwd():
            with torch.no_grad():
                mod(xt)

        def torch_fwd_bwd():
            mod(xt)[0][:, -1].sum().backward()

        tf, tt, tfb, ttb = paired([fast[0], torch_fwd, fast[1], torch_fwd_bwd], repeats)
        rows = [[name, "fwd", tf * 1e3, tt * 1e3, tt / tf],
                [name, "fwd+bwd", tfb * 1e3, ttb * 1e3, ttb / tfb]]
    if masked:
        mask = np.ones((32, 100), bool)
        mask[:, 75:] = False
        tm, tmb = paired([lambda: layer(x, mask=mask), fwd_bwd(layer, x, mask)], repeats)
        pad = ["", ""] if torch is not None else []
        rows += [[name + " masked", "fwd", tm * 1e3] + pad,
                 [name + " masked", "fwd+bwd", tmb * 1e3] + pad]
    return rows


def main():
    p = base_parser(__doc__)
    p.add_argument("--kinds", default="LSTM,GRU,SimpleRNN")
    p.add_argument("--units", default="32,128")
    p.add_argument("--masked", action="store_true", help="also time masked calls")
    p.add_argument("--threads", type=int, default=0, help="threads for fastnet and PyTorch "
                   "(default: fastnet's default)")
    p.add_argument("--cpu-time", action="store_true", help="time with the process CPU clock "
                   "(with --threads 1: robust to other load on the machine)")
    p.add_argument("--best", action="store_true", help="report the fastest sample instead of "
                   "the median (on a machine shared with other load)")
    args = p.parse_args()
    global CLOCK, STAT
    if args.cpu_time:
        CLOCK = time.process_time
    if args.best:
        STAT = min
    set_threads(args.threads or fastnet.config.get_num_threads())
    repeats = 5 if args.quick else args.repeats
    torch = try_import_torch()
    rng = np.random.default_rng(0)
    rows = []
    for kind in args.kinds.split(","):
        for units in (int(u) for u in args.units.split(",")):
            rows += bench_layer(torch, kind, units, repeats, args.masked, rng)
    header = ["layer", "pass", "fastnet ms"] + (["torch ms", "vs torch"] if torch else [])
    clock = ("CPU time" if args.cpu_time else "wall time") + (", best" if args.best else ", median")
    print_table(f"Recurrent layers, {fastnet.config.get_num_threads()} thread(s), ISA "
                f"{fastnet.config.get_isa()}, {clock}", header, rows)


if __name__ == "__main__":
    main()
