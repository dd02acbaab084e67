"""Per-instruction profile of one compiled-plan training step of a seed workload.

    python bench/plan_profile.py [--workload w2] [--steps 20] [--threads N]

Builds the workload's model (bench/workloads.py), warms up, turns the plan's
per-instruction timer on (fastnet.plan.set_profiling) and prints each instruction's
mean time per step, largest first, with its share of the step.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workload", default="w2", choices=("w2", "w3", "w4"))
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=0, help="0: the machine's cores")
    args = ap.parse_args()

    from workloads import batch_data, keras_compiled

    import fastnet as k
    from fastnet import plan as plan_mod

    k.config.set_num_threads(args.threads or os.cpu_count() or 1)
    m = keras_compiled(k, args.workload, jit=False)
    x, y = batch_data(args.workload, 32 if args.workload == "w3" else 64, np.random.default_rng(0))
    for _ in range(3):
        m.train_on_batch(x, y)
    if plan_mod.status(m, "train") is not None:
        raise SystemExit(f"not on the plan: {plan_mod.status(m, 'train')}")
    plan_mod.set_profiling(m, True)
    t0 = time.perf_counter()
    for _ in range(args.steps):
        m.train_on_batch(x, y)
    wall = (time.perf_counter() - t0) / args.steps
    rows = plan_mod.profile(m)
    plan_mod.set_profiling(m, False)
    total = sum(r[4] for r in rows) / args.steps
    print(f"{args.workload}: {args.steps} steps, {wall * 1e3:.2f} ms/step wall, "
          f"{total * 1e3:.2f} ms/step in plan instructions")
    print(f"{'list':9} {'layer':28} {'op':14} {'ms/step':>8} {'share':>6}")
    for _, lst, layer, op, sec, _calls in sorted(rows, key=lambda r: -r[4]):
        ms = sec / args.steps * 1e3
        if ms < 0.005:
            continue
        print(f"{lst:9} {layer[:28]:28} {op:14} {ms:8.3f} {100 * ms / (total * 1e3):5.1f}%")
    by_op = {}
    for _, lst, _layer, op, sec, _calls in rows:
        by_op[(lst, op)] = by_op.get((lst, op), 0.0) + sec / args.steps
    print("\nby list and op:")
    for (lst, op), sec in sorted(by_op.items(), key=lambda kv: -kv[1]):
        print(f"  {lst:9} {op:14} {sec * 1e3:8.3f} ms {100 * sec / total:5.1f}%")


if __name__ == "__main__":
    main()
