"""LossScaleOptimizer: Keras 3's dynamic loss scaling around another optimizer.

The trainer multiplies the loss by ``scale_loss`` before differentiating; ``apply``
divides the gradients by the same scale and hands them to the inner optimizer. The
scale is a power of two, so on float32 (fastnet's only compute dtype) scaling and
unscaling are exact and training equals the inner optimizer's, step for step, unless
the scaled gradients overflow: then, as in Keras, the step is skipped and the scale
halved. After ``dynamic_growth_steps`` finite steps in a row the scale doubles.

The wrapper owns no slots: its ``iterations``, learning rate, slots and moving averages
are the inner optimizer's, so a saved model stores the inner optimizer's state (Keras's
layout for it) and the scale and its step counter as extra state.
"""

import numpy as np

from fastnet.optimizers.optimizer import Optimizer, _arr

_BASE_DEFAULTS = {"weight_decay": None, "clipnorm": None, "global_clipnorm": None,
                  "clipvalue": None, "use_ema": False, "ema_momentum": 0.99,
                  "ema_overwrite_frequency": None, "loss_scale_factor": None,
                  "gradient_accumulation_steps": None}


class LossScaleOptimizer(Optimizer):
    def __init__(self, inner_optimizer, initial_scale=2.0 ** 15, dynamic_growth_steps=2000,
                 name=None, **kwargs):
        if not kwargs.pop("dynamic", True):
            raise ValueError("LossScaleOptimizer no longer supports `dynamic=False`. Instead, "
                             "simply set `loss_scale_factor` directly on the "
                             "`inner_optimizer`.")
        for arg, default in _BASE_DEFAULTS.items():
            if arg in kwargs and kwargs.pop(arg) != default:
                raise ValueError(f"LossScaleOptimizer does not support `{arg}`. Instead, set "
                                 f"`{arg}` on the `inner_optimizer`.")
        if kwargs:
            raise ValueError("LossScaleOptimizer does not support arguments: "
                             f"`{'`, `'.join(kwargs)}`.")
        if not isinstance(inner_optimizer, Optimizer):
            raise TypeError("LossScaleOptimizer: `inner_optimizer` must be an Optimizer "
                            f"instance. Received: inner_optimizer={inner_optimizer!r}")
        if not initial_scale > 0:
            raise ValueError("LossScaleOptimizer: `initial_scale` must be > 0. Received: "
                             f"initial_scale={initial_scale}")
        if not (isinstance(dynamic_growth_steps, int) and dynamic_growth_steps >= 1):
            raise ValueError("LossScaleOptimizer: `dynamic_growth_steps` must be an integer "
                             f">= 1. Received: dynamic_growth_steps={dynamic_growth_steps!r}")
        self.inner_optimizer = inner_optimizer
        self.name = name or "loss_scale_optimizer"
        self.initial_scale = initial_scale
        self.dynamic_growth_steps = dynamic_growth_steps
        self.step_counter = 0
        self.dynamic_scale = float(initial_scale)

    # ---- the inner optimizer's state, seen through the wrapper -------------------------
    @property
    def iterations(self):
        return self.inner_optimizer.iterations

    @property
    def _iterations(self):
        return self.inner_optimizer._iterations

    @property
    def learning_rate(self):
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        self.inner_optimizer.learning_rate = value

    lr = learning_rate

    @property
    def _learning_rate(self):
        return self.inner_optimizer._learning_rate

    @property
    def _slots(self):
        return self.inner_optimizer._slots

    @property
    def _ema(self):
        return self.inner_optimizer._ema

    @property
    def _accumulators(self):
        return self.inner_optimizer._accumulators

    @property
    def use_ema(self):
        return self.inner_optimizer.use_ema

    @property
    def built(self):
        return self.inner_optimizer.built

    @property
    def variables(self):
        return self.inner_optimizer.variables

    def build(self, var_list):
        self.inner_optimizer.build(var_list)

    def swap_moving_averages(self, var_list=None):
        self.inner_optimizer.swap_moving_averages(var_list)

    def finalize_variable_values(self, var_list):
        self.inner_optimizer.finalize_variable_values(var_list)

    def get_extra_state(self):
        inner = self.inner_optimizer
        extra = inner.get_extra_state() if hasattr(inner, "get_extra_state") else {}
        return {**extra, "loss_scale_step_counter": int(self.step_counter),
                "loss_scale_dynamic_scale": float(self.dynamic_scale)}

    def set_extra_state(self, state):
        state = dict(state)
        if "loss_scale_step_counter" in state:
            self.step_counter = int(state.pop("loss_scale_step_counter"))
        if "loss_scale_dynamic_scale" in state:
            self.dynamic_scale = float(state.pop("loss_scale_dynamic_scale"))
        if state and hasattr(self.inner_optimizer, "set_extra_state"):
            self.inner_optimizer.set_extra_state(state)

    # ---- scaling ------------------------------------------------------------------------
    def scale_loss(self, loss):
        return loss * self.dynamic_scale

    def apply(self, grads, trainable_variables=None):
        grads = [None if g is None else _arr(g) for g in grads]
        if not all(np.all(np.isfinite(g)) for g in grads if g is not None):
            self.step_counter = 0  # skip the step, halve the scale
            self.dynamic_scale *= 0.5
            return self.iterations
        scale = self.dynamic_scale
        self.inner_optimizer.apply([None if g is None else g / np.asarray(scale, g.dtype)
                                    for g in grads], trainable_variables)
        if self.step_counter == self.dynamic_growth_steps - 1:
            self.step_counter = 0
            self.dynamic_scale *= 2.0
        else:
            self.step_counter += 1
        return self.iterations

    # ---- config -------------------------------------------------------------------------
    def get_config(self):
        from fastnet.optimizers import serialize

        return {"name": self.name, "inner_optimizer": serialize(self.inner_optimizer),
                "initial_scale": self.initial_scale,
                "dynamic_growth_steps": self.dynamic_growth_steps}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from fastnet.optimizers import deserialize

        config = dict(config)
        inner = config.pop("inner_optimizer")
        inner = deserialize(inner, custom_objects) if isinstance(inner, dict) else inner
        return cls(inner, **config)


__all__ = ["LossScaleOptimizer"]
