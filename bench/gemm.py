"""GEMM: fastnet beside numpy (OpenBLAS) and PyTorch, GFLOP/s and ratios, one run.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/gemm.py [--quick] [--rounds N]

Ratios are fastnet / peer (> 1 means fastnet is faster). Every library runs on the
same thread count: fastnet and PyTorch through their own settings, numpy through
threadpoolctl when installed, else OpenBLAS's own set_num_threads (ctypes).

Method (the machine is shared, and load from other tenants comes and goes): the
libraries are sampled in turn, A B C A B C ..., for `--rounds` rounds; a sample is
a few calls each timed alone. 1-thread samples time the calling thread's CPU time.
Multi-threaded samples start after a pause and one untimed call, so the previous
library's worker threads (OpenBLAS's spin for ~0.1 s after a call) have gone to
sleep and its own are awake; a multi-threaded call during which the process got
less CPU time than 0.95 x threads x wall time (another tenant took a core) is left
out. Each cell prints the best call (min: what the library does when nothing else
runs; load only ever adds time) and the ratio of the medians ("med"), which a
noisy run moves more.
"""

from __future__ import annotations

import ctypes
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
from _common import base_parser, numpy_openblas_note, print_table, try_import_torch  # noqa: E402

import fastnet  # noqa: E402
from fastnet.kernels import gemm as G  # noqa: E402

SHAPES = [(64, 784, 64), (64, 64, 64), (64, 64, 784), (784, 64, 64), (256, 256, 256),
          (512, 512, 512), (1024, 1024, 1024), (2048, 2048, 2048), (4096, 1152, 64),
          (64, 4096, 1152)]


def numpy_threads(n):
    """Pins numpy's BLAS to n threads; returns how ("threadpoolctl", "openblas") or None."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        pass
    else:
        threadpool_limits(limits=n, user_api="blas")
        return "threadpoolctl"
    # Without threadpoolctl: the OpenBLAS numpy loaded, found in this process's maps.
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "openblas" in line.lower() and "/" in line}
    except OSError:
        return None
    for path in paths:
        lib = ctypes.CDLL(path)
        for name in ("scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_",
                     "openblas_set_num_threads"):
            fn = getattr(lib, name, None)
            if fn is not None:
                fn(ctypes.c_int(n))
                return "openblas"
    return None


def interleaved(fns, rounds, per, gap, clock, min_time, threads=1):
    """Per-call times of each fn, sampled in turn for `rounds` rounds (see the module
    docstring): one list per fn. With threads > 1, a sample during which this
    process got less than 0.95 x threads cores of CPU time (a thread was preempted by
    another tenant) is left out, unless that would leave fewer than 3 (a library that
    ran the call on fewer threads)."""
    for fn in fns:
        fn()
    out = []
    for _ in fns:
        out.append(([], []))  # (all samples, undisturbed samples)
    for _ in range(rounds):
        for fn, (every, kept) in zip(fns, out):
            if gap:
                time.sleep(gap)
                fn()
            for _ in range(per):
                n, c0, t0 = 0, time.process_time(), clock()
                while True:  # tiny calls: loop for min_time, report the mean
                    fn()
                    n += 1
                    dt = clock() - t0
                    if dt >= min_time:
                        break
                every.append(dt / n)
                if threads > 1 and time.process_time() - c0 >= 0.95 * threads * dt:
                    kept.append(dt / n)
    return [kept if len(kept) >= 3 else every for every, kept in out]


def main():
    p = base_parser(__doc__)
    p.add_argument("--rounds", type=int, default=0, help="samples per library (default 7, 3 with --quick)")
    args = p.parse_args()
    torch = try_import_torch()
    rounds = args.rounds or (3 if args.quick else 7)
    shapes = SHAPES[:6] if args.quick else SHAPES
    print(numpy_openblas_note())
    print(f"fastnet ISA: {fastnet.config.get_isa()}, torch: "
          f"{torch.__version__ if torch else 'not installed'}")
    for threads in (1, os.cpu_count() or 1):
        fastnet.config.set_num_threads(threads)
        if torch:
            torch.set_num_threads(threads)
        pinned = numpy_threads(threads)
        clock = time.thread_time if threads == 1 else time.perf_counter
        gap = 0.0 if threads == 1 else 0.12
        rows = []
        for layout in ("NN", "NT", "TN"):
            for m, k, n in shapes:
                rng = np.random.default_rng(0)
                a = rng.random((k, m) if layout == "TN" else (m, k), dtype=np.float32)
                b = rng.random((n, k) if layout == "NT" else (k, n), dtype=np.float32)
                c = np.empty((m, n), np.float32)
                ta, tb = layout == "TN", layout == "NT"
                an = a.T if ta else a
                bn = b.T if tb else b
                flops = 2.0 * m * n * k
                fns = [lambda a=a, b=b, c=c, ta=ta, tb=tb: G.gemm(a, b, c, trans_a=ta, trans_b=tb),
                       lambda an=an, bn=bn, c=c: np.matmul(an, bn, out=c)]
                if torch:
                    at, bt = torch.from_numpy(a), torch.from_numpy(b)
                    at = at.t() if ta else at
                    bt = bt.t() if tb else bt
                    ct = torch.from_numpy(c)
                    fns.append(lambda at=at, bt=bt, ct=ct: torch.matmul(at, bt, out=ct))
                # A sample's calls take about 20 ms in all; calls under 2 ms are looped.
                est = flops / (50e9 * threads)
                per = int(min(8, max(1, 0.02 // max(est, 2e-3))))
                ts = interleaved(fns, rounds, per, gap, clock, min_time=0.002, threads=threads)
                best = [min(t) for t in ts]
                med = [statistics.median(t) for t in ts]
                row = [layout, f"{m}x{k}x{n}", flops / best[0] / 1e9, flops / best[1] / 1e9,
                       best[1] / best[0], med[1] / med[0]]
                if torch:
                    row += [flops / best[2] / 1e9, best[2] / best[0], med[2] / med[0]]
                rows.append(row)
        header = ["op", "MxKxN", "fastnet GF/s", "numpy GF/s", "vs numpy", "med"]
        if torch:
            header += ["torch GF/s", "vs torch", "med"]
        how = {"threadpoolctl": "pinned", "openblas": "pinned via openblas_set_num_threads"}
        print_table(f"GEMM, {threads} thread(s), best of {rounds} rounds (numpy: "
                    f"{how.get(pinned, 'OpenBLAS default threads')})", header, rows)


if __name__ == "__main__":
    main()
