"""The strategy seam the trainer consults, and the single-process default.

`Trainer` asks its `distribute_strategy` (captured by `compile`, from the
innermost `strategy.scope()`) five things, and nothing else about
distribution:

- `distribute_data(adapter, model, mode)`: the batches this process runs
  (mode ``"train"``, ``"test"`` or ``"predict"``);
- `reduce_gradients(grads, model)`: the gradients to apply;
- `reduce_logs(model, logs)`: the logs callbacks see after a step;
- `gather_predictions(outs)`: the per-batch outputs `predict` concatenates;
- `local_callbacks(callbacks, verbose)`: the callbacks and verbosity of this
  process;

and `guarded` wraps fit/evaluate/predict (`Strategy.guard`). The default
`Strategy` answers each with its input unchanged, so a model compiled outside
any scope trains exactly as before.
"""

from __future__ import annotations

import contextlib
import functools
import threading

_stack = threading.local()


class Strategy:
    """One process, no communication: every hook returns its input."""

    rank = 0
    num_workers = 1

    @property
    def is_chief(self):
        """True on the process that prints, logs and writes checkpoints (rank 0)."""
        return self.rank == 0

    # Keras / tf.distribute spelling.
    @property
    def num_replicas_in_sync(self):
        return self.num_workers

    @contextlib.contextmanager
    def scope(self):
        """Models compiled inside the block train with this strategy."""
        stack = _scopes()
        stack.append(self)
        try:
            yield self
        finally:
            stack.pop()

    # ---- the trainer's hooks ------------------------------------------------------
    def distribute_data(self, adapter, model, mode):
        return adapter

    def reduce_gradients(self, grads, model):
        return grads

    def reduce_logs(self, model, logs):
        return logs

    def gather_predictions(self, outs):
        return outs

    def local_callbacks(self, callbacks, verbose):
        return callbacks, verbose

    @contextlib.contextmanager
    def guard(self, what):
        yield

    def __repr__(self):
        return f"<{type(self).__name__} rank={self.rank} num_workers={self.num_workers}>"


def _scopes():
    stack = getattr(_stack, "scopes", None)
    if stack is None:
        stack = _stack.scopes = []
    return stack


DEFAULT = Strategy()


def get_strategy():
    """The strategy of the innermost `scope()`, or the single-process default."""
    stack = _scopes()
    return stack[-1] if stack else DEFAULT


def guarded(method):
    """Runs a Trainer method under its strategy's `guard` (a failing rank
    stops every rank instead of leaving them waiting in a collective)."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        strategy = self.distribute_strategy
        if strategy.num_workers == 1:
            return method(self, *args, **kwargs)
        with strategy.guard(method.__name__):
            return method(self, *args, **kwargs)

    return wrapper
