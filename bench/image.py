"""Image-kernel benchmarks (csrc/image) beside PyTorch, one run, medians and ratios
(> 1 means fastnet is faster): resize (F.interpolate, NCHW and channels_last, the faster
counts) and a rotation with bilinear sampling (F.affine_grid + F.grid_sample, the usual
PyTorch way; fastnet's reflect fill vs grid_sample's 'reflection' padding).

    python bench/image.py [--quick] [--threads N]
"""

from __future__ import annotations

import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
from _common import base_parser, paired_times, print_table, set_threads, try_import_torch  # noqa: E402

from fastnet import ops  # noqa: E402


def main():
    p = base_parser(__doc__)
    p.add_argument("--threads", type=int, default=0)
    args = p.parse_args()
    if args.threads > 0:
        set_threads(args.threads)
    repeats = 5 if args.quick else args.repeats
    torch = try_import_torch()
    rng = np.random.default_rng(0)
    x = rng.random((32, 128, 128, 3), dtype=np.float32)
    rows = []
    for method, size in (("bilinear", (224, 224)), ("bilinear", (64, 64)),
                         ("bicubic", (224, 224)), ("nearest", (224, 224))):
        fns = [lambda m=method, s=size: ops.image.resize(x, s, interpolation=m)]
        if torch is not None:
            import torch.nn.functional as F

            mode = {"nearest": "nearest-exact"}.get(method, method)
            kw = {} if method == "nearest" else {"align_corners": False}
            for fmt in (torch.contiguous_format, torch.channels_last):
                xt = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(memory_format=fmt)
                fns.append(lambda xt=xt, s=size, mode=mode, kw=kw:
                           F.interpolate(xt, size=s, mode=mode, **kw))
        times = paired_times(fns, repeats, min_time=0.05)
        best = min(times[1:]) if len(times) > 1 else float("nan")
        rows.append([f"resize {method} 128->{size[0]}", times[0] * 1e3, best * 1e3,
                     best / times[0]])
    angle = math.radians(17.0)
    c, s = math.cos(angle), math.sin(angle)
    cx = cy = 63.5
    t = np.array([c, -s, cx - cx * c + cy * s, s, c, cy - cx * s - cy * c, 0, 0], np.float32)
    fns = [lambda: ops.image.affine_transform(x, t, "bilinear", "reflect")]
    if torch is not None:
        import torch.nn.functional as F

        theta = torch.tensor([[c, -s, 0.0], [s, c, 0.0]], dtype=torch.float32).expand(32, 2, 3)
        for fmt in (torch.contiguous_format, torch.channels_last):
            xt = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(memory_format=fmt)

            def run(xt=xt):
                grid = F.affine_grid(theta, list(xt.shape), align_corners=False)
                return F.grid_sample(xt, grid, mode="bilinear", padding_mode="reflection",
                                     align_corners=False)
            fns.append(run)
    times = paired_times(fns, repeats, min_time=0.05)
    best = min(times[1:]) if len(times) > 1 else float("nan")
    rows.append(["rotate bilinear reflect 128x128", times[0] * 1e3, best * 1e3, best / times[0]])
    print_table("image kernels, batch 32 x 128 x 128 x 3 float32 (ms, median)",
                ["case", "fastnet", "torch", "ratio"], rows)


if __name__ == "__main__":
    main()
