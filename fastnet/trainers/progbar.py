"""Keras 3's progress bar:

    Epoch 1/5
    1875/1875 ━━━━━━━━━━━━━━━━━━━━ 3s 2ms/step - accuracy: 0.8234 - loss: 0.5012

On a terminal the line is redrawn at most every `interval` seconds; when
output is not a terminal (CI logs, files) only the finished line of each
epoch is written, so logs do not flood (keras#13716).
"""

from __future__ import annotations

import sys
import time

BAR_WIDTH = 20
FULL, EMPTY = "━", "━"


def format_value(v):
    if getattr(v, "ndim", 0) > 0:  # a per-class metric: its values, rounded
        return "[" + " ".join(format_value(x) for x in v.reshape(-1)) + "]"
    if isinstance(v, float) or hasattr(v, "__float__"):
        v = float(v)
        return f"{v:.4f}" if abs(v) >= 1e-3 or v == 0 else f"{v:.4e}"
    return str(v)


def format_time(seconds):
    if seconds >= 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds >= 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{int(round(seconds))}s"


def format_per_step(seconds):
    if seconds >= 1:
        return f"{seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/step"
    return f"{seconds * 1e6:.0f}us/step"


class Progbar:
    """Displays progress of `target` steps (None when unknown)."""

    def __init__(self, target, verbose=1, interval=0.05, stream=None, unit_name="step"):
        self.target = target
        self.verbose = verbose
        self.interval = interval
        self.stream = stream if stream is not None else sys.stdout
        self.unit_name = unit_name
        isatty = getattr(self.stream, "isatty", None)
        self.dynamic = bool(isatty and isatty())
        self.start = time.perf_counter()
        self.last_draw = 0.0
        self.seen = 0
        self.values = {}
        self.prev_len = 0

    def update(self, current, values=None, finalize=None):
        """Records progress; `values` maps metric names to current values."""
        if values:
            self.values.update(values)
        self.seen = current
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        if self.verbose == 0:
            return
        now = time.perf_counter()
        if not finalize and (not self.dynamic or self.verbose == 2
                             or now - self.last_draw < self.interval):
            return
        self.last_draw = now
        line = self._line(current, now - self.start, finalize)
        if self.dynamic and self.verbose == 1:
            pad = max(0, self.prev_len - len(line))
            self.stream.write("\r" + line + " " * pad)
            self.prev_len = len(line)
            if finalize:
                self.stream.write("\n")
        elif finalize:
            self.stream.write(line + "\n")
        self.stream.flush()

    def _metrics(self):
        return "".join(f" - {k}: {format_value(v)}" for k, v in sorted(self.values.items()))

    def _line(self, current, elapsed, finalize):
        per_step = elapsed / current if current else 0.0
        if self.target is not None:
            width = len(str(self.target))
            count = f"{current:>{width}}/{self.target}"
        else:
            count = f"{current}/Unknown"
        if self.verbose == 2:
            return f"{count} - {format_time(elapsed)} - {format_per_step(per_step)}{self._metrics()}"
        if self.target:
            filled = int(BAR_WIDTH * min(current, self.target) / self.target)
        else:
            filled = BAR_WIDTH if finalize else 0
        bar = FULL * filled + EMPTY * (BAR_WIDTH - filled) if self.dynamic else FULL * BAR_WIDTH
        if self.dynamic and filled < BAR_WIDTH:
            # dim the unfinished part, as Keras does on colour terminals
            bar = FULL * filled + "\x1b[2m" + EMPTY * (BAR_WIDTH - filled) + "\x1b[0m"
        if finalize or self.target is None:
            shown = format_time(elapsed)
        else:
            shown = format_time(per_step * (self.target - current))
        return f"{count} {bar} {shown} {format_per_step(per_step)}{self._metrics()}"
