"""GEMM: fastnet beside numpy (OpenBLAS) and PyTorch, GFLOP/s and ratios, one run.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/gemm.py [--quick]

Ratios are fastnet / peer (> 1 means fastnet is faster). numpy's thread count
follows OpenBLAS's (all cores); the 1-thread rows pin fastnet and PyTorch to 1
thread and numpy through threadpoolctl when it is installed. The libraries are
sampled in turn (one sample each, repeated), so load that comes and goes on a
shared machine hits them alike; 1-thread rows time the calling thread's CPU
time. All-thread rows time wall time, each library in its own block (worker
threads that spin after a call would otherwise steal the next library's cores).
"""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
from _common import base_parser, numpy_openblas_note, paired_times, print_table, try_import_torch  # noqa: E402

import fastnet  # noqa: E402
from fastnet.kernels import gemm as G  # noqa: E402

SHAPES = [(64, 784, 64), (64, 64, 64), (64, 64, 784), (784, 64, 64), (256, 256, 256),
          (512, 512, 512), (1024, 1024, 1024), (2048, 2048, 2048), (4096, 1152, 64),
          (64, 4096, 1152)]


def numpy_threads(n):
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    return threadpool_limits(limits=n, user_api="blas")


def main():
    args = base_parser(__doc__).parse_args()
    torch = try_import_torch()
    repeats = 3 if args.quick else args.repeats
    shapes = SHAPES[:6] if args.quick else SHAPES
    print(numpy_openblas_note())
    print(f"fastnet ISA: {fastnet.config.get_isa()}, torch: "
          f"{torch.__version__ if torch else 'not installed'}")
    for threads in (1, os.cpu_count() or 1):
        fastnet.config.set_num_threads(threads)
        if torch:
            torch.set_num_threads(threads)
        limiter = numpy_threads(threads)
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
                mt = 0.05 if flops < 1e8 else 0.0
                fns = [lambda a=a, b=b, c=c, ta=ta, tb=tb: G.gemm(a, b, c, trans_a=ta, trans_b=tb),
                       lambda an=an, bn=bn, c=c: np.matmul(an, bn, out=c)]
                if torch:
                    at, bt = torch.from_numpy(a), torch.from_numpy(b)
                    at = at.t() if ta else at
                    bt = bt.t() if tb else bt
                    ct = torch.from_numpy(c)
                    fns.append(lambda at=at, bt=bt, ct=ct: torch.matmul(at, bt, out=ct))
                clock = time.thread_time if threads == 1 else time.perf_counter
                ts = paired_times(fns, repeats, min_time=mt, clock=clock, interleave=threads == 1)
                t_fast, t_np = ts[0], ts[1]
                row = [layout, f"{m}x{k}x{n}", flops / t_fast / 1e9, flops / t_np / 1e9,
                       t_np / t_fast]
                if torch:
                    row += [flops / ts[2] / 1e9, ts[2] / t_fast]
                rows.append(row)
        if limiter is not None:
            limiter.unregister() if hasattr(limiter, "unregister") else None
        header = ["op", "MxKxN", "fastnet GF/s", "numpy GF/s", "vs numpy"]
        if torch:
            header += ["torch GF/s", "vs torch"]
        print_table(f"GEMM, {threads} thread(s) (numpy: "
                    f"{'pinned' if limiter is not None else 'OpenBLAS default threads'})",
                    header, rows)


if __name__ == "__main__":
    main()
