"""keras.callbacks.LearningRateScheduler."""

from __future__ import annotations

import numpy as np

from fastnet.callbacks.callback import Callback


class LearningRateScheduler(Callback):
    """Sets the optimizer's learning rate at the start of each epoch to
    ``schedule(epoch, lr)`` (or ``schedule(epoch)``, the older one-argument form) and
    records it as ``logs["learning_rate"]`` at the end of the epoch.

    Args:
        schedule: a function of the epoch index (from 0) and the current learning rate
            returning the new learning rate as a float.
        verbose: 1 prints a line when the rate is set.
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise TypeError("LearningRateScheduler: `schedule` must be a function of the epoch "
                            f"(and the learning rate). Received: schedule={schedule!r}")
        self.schedule = schedule
        self.verbose = verbose

    def _set_rate(self, optimizer, epoch):
        if optimizer is None or not hasattr(optimizer, "learning_rate"):
            raise ValueError('Optimizer must have a "learning_rate" attribute.')
        try:  # the two-argument form
            learning_rate = self.schedule(epoch, float(optimizer.learning_rate))
        except TypeError:  # the one-argument form
            learning_rate = self.schedule(epoch)
        if isinstance(learning_rate, np.ndarray) and learning_rate.ndim == 0:
            learning_rate = learning_rate[()]
        if not isinstance(learning_rate, (float, np.floating)) and not (
                isinstance(learning_rate, (int, np.integer))
                and not isinstance(learning_rate, bool)):
            raise ValueError("The output of the `schedule` function should be a float. "
                             f"Got: {learning_rate!r}")
        optimizer.learning_rate = float(learning_rate)
        return float(learning_rate)

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = getattr(self.model, "optimizer", None)
        # a MultiOptimizer: each of its sub-optimizers (none yet, as in Keras, when a
        # callable picks them on the first step)
        subs = getattr(optimizer, "optimizers", None)
        for opt in subs if subs is not None else [optimizer]:
            learning_rate = self._set_rate(opt, epoch)
            if self.verbose > 0:
                label = f"{opt.name} " if subs is not None else ""
                print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting {label}learning "
                      f"rate to {learning_rate}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        optimizer = self.model.optimizer
        subs = getattr(optimizer, "optimizers", None)
        if subs is not None:
            for opt in subs:
                logs[f"learning_rate_{opt.name}"] = float(opt.learning_rate)
        else:
            logs["learning_rate"] = float(optimizer.learning_rate)
