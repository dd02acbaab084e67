"""keras.utils.Progbar: Keras 3's progress bar.

    Epoch 1/5
    1875/1875 ━━━━━━━━━━━━━━━━━━━━ 3s 2ms/step - accuracy: 0.8234 - loss: 0.5012

On a terminal (or in a notebook) the line is redrawn at most every `interval`
seconds, with Keras's colours (bold counts and times, the done part of the bar
green). When output is not a terminal (CI logs, files, a pipe) only the
finished line is written, in plain text, so logs get one line per epoch and do
not flood (keras#13716).
"""

from __future__ import annotations

import sys
import time

import numpy as np

BOLD, GREEN, GREY, RESET = "\x1b[1m", "\x1b[32m", "\x1b[37m", "\x1b[0m"
BAR_CHAR = "━"


def format_value(v):
    """A metric as Keras prints it: 4 decimals, or scientific below 1e-3."""
    v = float(np.mean(v))
    return f"{v:.4f}" if abs(v) > 1e-3 else f"{v:.4e}"


def format_eta(seconds):
    if seconds > 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds > 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{int(seconds)}s"


def format_per_unit(seconds, unit_name="step"):
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.0f}s/{unit_name}"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/{unit_name}"
    return f"{seconds * 1e6:.0f}us/{unit_name}"


class Progbar:
    """Displays a progress bar, as ``keras.utils.Progbar``.

    Args:
        target: total number of steps expected, None if unknown.
        width: the bar's width in characters.
        verbose: 0 (silent), 1 (the bar), 2 (one line when finished).
        interval: minimum seconds between redraws on a terminal.
        stateful_metrics: names shown as given; every other metric is averaged over the
            steps (Keras's default). Give this or `stateless_metrics`, not both.
        stateless_metrics: names that are averaged; every other metric is shown as given.
        unit_name: the unit of the per-step time (``"step"``, ``"sample"``, ...).
        stream: where to write (default ``sys.stdout``); fastnet's addition.
    """

    def __init__(self, target, width=20, verbose=1, interval=0.05, stateful_metrics=None,
                 stateless_metrics=None, unit_name="step", stream=None):
        if stateful_metrics is not None and stateless_metrics is not None:
            raise ValueError("Only one of `stateful_metrics` or `stateless_metrics` can be "
                             "provided.")
        if target is not None and (not isinstance(target, (int, np.integer)) or target < 0):
            raise ValueError(f"Progbar: `target` must be a non-negative integer or None. "
                             f"Received: target={target!r}")
        if verbose not in (0, 1, 2):
            raise ValueError(f"Progbar: `verbose` must be 0, 1 or 2. Received: verbose={verbose!r}")
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.unit_name = unit_name
        if stateful_metrics is not None:
            self.stateful_metrics, self.stateless_metrics = set(stateful_metrics), None
        elif stateless_metrics is not None:
            self.stateful_metrics, self.stateless_metrics = None, set(stateless_metrics)
        else:
            self.stateful_metrics, self.stateless_metrics = set(), None
        if stream is None:
            from fastnet.utils.io_utils import message_stream

            stream = message_stream()  # stdout, or logging when interactive logging is off
        self.stream = stream
        isatty = getattr(self.stream, "isatty", None)
        self.dynamic = bool(isatty and isatty()) or "ipykernel" in sys.modules
        self._values = {}  # name -> [sum, count]
        self._values_order = []
        self._start = time.perf_counter()
        self._last_update = 0.0
        self._time_after_first_step = None
        self._seen_so_far = 0
        self._prev_width = 0

    @property
    def seen(self):
        return self._seen_so_far

    def _stateless(self, name):
        if self.stateful_metrics is not None:
            return name not in self.stateful_metrics
        return name in self.stateless_metrics

    def update(self, current, values=None, finalize=None):
        """Records progress to step `current`; `values` is a list of ``(name, value)``
        pairs (or a dict). Stateless values are averaged over the steps they cover."""
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        items = values.items() if isinstance(values, dict) else (values or [])
        for k, v in items:
            if k not in self._values_order:
                self._values_order.append(k)
            if self._stateless(k) and not finalize:
                base = max(current - self._seen_so_far, 1)
                if k in self._values:
                    self._values[k][0] += v * base
                    self._values[k][1] += base
                else:
                    self._values[k] = [v * base, base]
            else:
                self._values[k] = [v, 1]
        self._seen_so_far = current
        now = time.perf_counter()
        if current == 1 and self._time_after_first_step is None:
            self._time_after_first_step = now
        if self.verbose == 0:
            return
        if not finalize and (not self.dynamic or self.verbose == 2
                             or now - self._last_update < self.interval):
            return
        self._last_update = now
        if self.verbose == 2:
            self.stream.write(self._line_verbose2(current, now) + "\n")
        elif self.dynamic:
            line, width = self._line(current, now, finalize, colour=True)
            pad = " " * max(0, self._prev_width - width)
            self.stream.write("\r" + line + pad + ("\n" if finalize else ""))
            self._prev_width = width
        else:
            self.stream.write(self._line(current, now, finalize, colour=False)[0] + "\n")
        self.stream.flush()

    def add(self, n, values=None):
        """Advances by `n` steps."""
        self.update(self._seen_so_far + n, values)

    # ---- formatting -----------------------------------------------------------------
    def _per_unit(self, current, now):
        if not current:
            return 0.0
        if self._time_after_first_step is not None and current > 1:
            return (now - self._time_after_first_step) / (current - 1)
        return (now - self._start) / current

    def _metrics(self):
        return "".join(f" - {k}: {format_value(s / max(1, n))}"
                       for k in self._values_order for s, n in [self._values[k]])

    def _count(self, current):
        if self.target:
            return f"{current:>{len(str(self.target))}}/{self.target}"
        return f"{current:>7}/Unknown"

    def _line(self, current, now, finalize, colour):
        """The verbose-1 line and its printed width (without the colour codes)."""
        def paint(text, code):
            return f"{code}{text}{RESET}" if colour and text else text

        count = self._count(current)
        parts = [paint(count, BOLD)]
        plain = [count]
        if self.target:
            done = int(self.width * min(current, self.target) / self.target)
            bar = paint(BAR_CHAR * done, GREEN) + paint(BAR_CHAR * (self.width - done), GREY)
            parts.append(bar)
            plain.append(BAR_CHAR * self.width)
        per_unit = self._per_unit(current, now)
        if self.target and not finalize:
            shown = format_eta(per_unit * (self.target - current))
        else:
            shown = f"{now - self._start:.0f}s"
        tail = f"{format_per_unit(per_unit, self.unit_name)}{self._metrics()}"
        line = " ".join(parts) + " " + paint(shown, BOLD) + " " + tail
        width = len(" ".join(plain)) + 1 + len(shown) + 1 + len(tail)
        return line, width

    def _line_verbose2(self, current, now):
        return (f"{self._count(current)} - {now - self._start:.0f}s - "
                f"{format_per_unit(self._per_unit(current, now), self.unit_name)}"
                f"{self._metrics()}")
