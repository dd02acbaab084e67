"""Shared benchmark plumbing: timing medians, peer detection, table printing.

Every benchmark prints fastnet beside its peers measured in the same run and
reports medians and fastnet/peer ratios (>1 means fastnet is faster).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

# Benchmarks import the installed (or in-place built) fastnet, not bench/.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def try_import_torch():
    try:
        import torch  # noqa: F401
    except Exception:
        return None
    return torch


def median_time(fn, repeats=15, warmup=3, min_time=0.0, clock=time.perf_counter):
    """Median time of fn() in seconds over `repeats` runs after `warmup` runs.

    Each sample loops fn until at least `min_time` seconds pass (for very fast
    calls) and reports the per-call time. `clock` is wall time by default;
    single-threaded cases can pass ``time.thread_time`` (CPU time of this
    thread), which other processes on a shared machine do not inflate.
    """
    return paired_times([fn], repeats, warmup, min_time, clock)[0]


def paired_times(fns, repeats=15, warmup=3, min_time=0.0, clock=time.perf_counter,
                 interleave=True, stat=statistics.median):
    """Median per-call times of several functions sampled round-robin.

    One sample of each function is taken in turn, so load that comes and goes
    on a shared machine hits all of them alike and their ratio stays fair.
    Multi-threaded libraries should pass ``interleave=False``: their worker
    threads spin for a while after a call (OpenBLAS's, ours), stealing the cores
    from whichever library runs next, so each is then timed in its own block
    after a pause that lets the previous one's threads go to sleep. `stat`
    reduces each function's samples (the median; ``min`` for the fastest).
    """
    if not interleave:
        out = []
        for fn in fns:
            time.sleep(0.05)
            out.append(paired_times([fn], repeats, warmup, min_time, clock, stat=stat)[0])
        return out
    for fn in fns:
        for _ in range(warmup):
            fn()
    samples = [[] for _ in fns]
    for _ in range(repeats):
        for fn, out in zip(fns, samples):
            n = 0
            t0 = clock()
            while True:
                fn()
                n += 1
                dt = clock() - t0
                if dt >= min_time:
                    break
            out.append(dt / n)
    return [stat(s) for s in samples]


def set_threads(n):
    """Applies one thread count to fastnet and (when present) PyTorch."""
    import fastnet

    fastnet.config.set_num_threads(n)
    torch = try_import_torch()
    if torch is not None:
        torch.set_num_threads(n)


def numpy_openblas_note():
    tuned = [v for v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if v in os.environ]
    if tuned:
        return ("note: " + ", ".join(tuned) + " set; numpy is not at its best. Run with "
                "`env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE`.")
    return "numpy: OpenBLAS at its default (best) settings"


def print_table(title, header, rows):
    """Prints a fixed-width table; rows are lists of str/float."""
    def fmt(v):
        if isinstance(v, float):
            return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"
        return str(v)

    cells = [[fmt(v) for v in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h)
              for i, h in enumerate(header)]
    print(f"\n{title}")
    print("  ".join(h.rjust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for r in cells:
        print("  ".join(c.rjust(w) for c, w in zip(r, widths)))


def base_parser(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--quick", action="store_true", help="fewer repeats, for smoke runs")
    return p


# ---- per-process peers (bench/train.py, bench/workloads.py) ----

def status_mb(field):
    """A field of /proc/self/status (VmRSS, VmHWM) in MB. Per address space: unlike
    getrusage's ru_maxrss, a child's VmHWM does not start from the parent's peak."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def reset_peak_rss():
    """Resets VmHWM to the current RSS (Linux: /proc/self/clear_refs "5"), so a later
    VmHWM is the peak of what ran since (not of, say, loading the data). False when the
    kernel does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peer_frameworks():
    """fastnet, then each installed peer: PyTorch eager, Keras 3 on JAX, Keras 3 on torch."""
    import importlib.util

    have = lambda m: importlib.util.find_spec(m) is not None  # noqa: E731
    out = ["fastnet"]
    if have("torch"):
        out.append("torch")
    if have("keras"):
        if have("jax"):
            out.append("keras-jax")
        if have("torch"):
            out.append("keras-torch")
    return out


def import_keras3(backend):
    """Keras 3 itself on `backend`, with the repo root off sys.path (so nothing of
    fastnet's can shadow it); call in a worker process before anything imports keras."""
    import importlib

    os.environ["KERAS_BACKEND"] = backend
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != ROOT]
    return importlib.import_module("keras")


def run_worker(script, args, threads, timeout=900):
    """Runs ``python script --worker *args`` in a fresh process (so its peak memory and
    its thread pools are its own) and returns the JSON dict its last stdout line holds,
    or ``{"error": ...}`` when it failed (a peer that fails is reported, not fatal)."""
    import json
    import subprocess

    env = dict(os.environ, BENCH_THREADS=str(threads))
    env.pop("KERAS_BACKEND", None)
    try:
        out = subprocess.run([sys.executable, os.path.abspath(script), "--worker", *map(str, args)],
                             capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": "timeout"}
    lines = out.stdout.strip().splitlines()
    try:
        return json.loads(lines[-1])
    except (IndexError, ValueError):
        tail = (out.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit {out.returncode}: {tail[:120]}"}


def fashion_mnist_arrays():
    """Fashion-MNIST as uint8 arrays ((x_train, y_train), (x_test, y_test)), read from
    the idx files directly (Debian's dataset-fashion-mnist or Keras's cache), so the
    peer processes do not import fastnet. None when the files are absent."""
    import gzip

    import numpy as np

    names = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
             "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    for d in ("/usr/share/datasets/fashion-mnist",
              os.path.expanduser("~/.keras/datasets/fashion-mnist")):
        if all(os.path.exists(os.path.join(d, n)) for n in names):
            break
    else:
        return None
    arrays = []
    for n in names:
        with gzip.open(os.path.join(d, n), "rb") as f:
            raw = f.read()
        ndim = raw[3]
        dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
        arrays.append(np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims))
    return (arrays[0], arrays[1]), (arrays[2], arrays[3])
