"""Keras 3's other optimizers: Adamax, Ftrl, Lion, Lamb and Adafactor.

None of them is among the fused C++ update loops the contract names (SGD, RMSprop,
Adam/AdamW, Adagrad): each update is a few whole-array numpy expressions, in the
weight's dtype, the same code for float32 and float64 (``_update`` is
``_update_reference``). Hyper-parameters, defaults, slot order and formulas follow
keras/src/optimizers/<name>.py.
"""

import math
import re

import numpy as np

from fastnet.optimizers.optimizer import Optimizer


class _NumpyUpdate(Optimizer):
    def _update(self, var, grad, slots, lr, step):
        self._update_reference(var, grad, slots, lr, step)


class Adamax(_NumpyUpdate):
    """Adam with the infinity norm: ``u = max(beta_2 * u, |g|)``."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def _slot_names(self):
        return ["momentum", "norm"]

    def _update_reference(self, var, g, slots, lr, step):
        m, u = slots
        m += (g - m) * (1 - self.beta_1)
        np.maximum(self.beta_2 * u, np.abs(g), out=u)
        var -= lr * m / ((1 - self.beta_1 ** step) * (u + self.epsilon))

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}


class Ftrl(_NumpyUpdate):
    """Follow The Regularized Leader (McMahan et al., 2013), with Keras's L1, L2,
    L2-shrinkage and ``beta`` terms."""

    def __init__(self, learning_rate=0.001, learning_rate_power=-0.5,
                 initial_accumulator_value=0.1, l1_regularization_strength=0.0,
                 l2_regularization_strength=0.0, l2_shrinkage_regularization_strength=0.0,
                 beta=0.0, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        checks = (("initial_accumulator_value", initial_accumulator_value, "positive or zero"),
                  ("l1_regularization_strength", l1_regularization_strength, "positive or zero"),
                  ("l2_regularization_strength", l2_regularization_strength, "positive or zero"),
                  ("l2_shrinkage_regularization_strength", l2_shrinkage_regularization_strength,
                   "positive or zero"))
        for arg, value, what in checks:
            if value < 0.0:
                raise ValueError(f"Ftrl: `{arg}` needs to be {what}. Received: {arg}={value}")
        if learning_rate_power > 0.0:
            raise ValueError("Ftrl: `learning_rate_power` needs to be negative or zero. "
                             f"Received: learning_rate_power={learning_rate_power}")
        self.learning_rate_power = learning_rate_power
        self.initial_accumulator_value = initial_accumulator_value
        self.l1_regularization_strength = l1_regularization_strength
        self.l2_regularization_strength = l2_regularization_strength
        self.l2_shrinkage_regularization_strength = l2_shrinkage_regularization_strength
        self.beta = beta

    def _slot_names(self):
        return ["accumulator", "linear"]

    def _init_slot(self, name, var):
        value = self.initial_accumulator_value if name == "accumulator" else 0.0
        return np.full(var.shape, value, dtype=var.dtype)

    def _update_reference(self, var, g, slots, lr, step):
        accum, linear = slots
        p = -self.learning_rate_power
        l2 = self.l2_regularization_strength + self.beta / (2.0 * lr)
        l1 = self.l1_regularization_strength
        grad_to_use = g + 2 * self.l2_shrinkage_regularization_strength * var
        new_accum = accum + g * g
        linear += grad_to_use - (new_accum ** p - accum ** p) / lr * var
        quadratic = new_accum ** p / lr + 2 * l2
        var[...] = (np.clip(linear, -l1, l1) - linear) / quadratic
        accum[...] = new_accum

    def get_config(self):
        return {**super().get_config(), "learning_rate_power": self.learning_rate_power,
                "initial_accumulator_value": self.initial_accumulator_value,
                "l1_regularization_strength": self.l1_regularization_strength,
                "l2_regularization_strength": self.l2_regularization_strength,
                "l2_shrinkage_regularization_strength":
                    self.l2_shrinkage_regularization_strength,
                "beta": self.beta}


class Lion(_NumpyUpdate):
    """EvoLved Sign Momentum (Chen et al., 2023): the step is the sign of an
    interpolation of the momentum and the gradient."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.99, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        if beta_1 <= 0 or beta_1 > 1:
            raise ValueError("Lion: argument `beta_1` must be in the [0, 1] range. Otherwise, "
                             f"the optimizer degenerates to SignSGD. Received: beta_1={beta_1}")
        self.beta_1, self.beta_2 = beta_1, beta_2

    def _slot_names(self):
        return ["momentum"]

    def _update_reference(self, var, g, slots, lr, step):
        (m,) = slots
        var -= lr * np.sign(m * self.beta_1 + g * (1.0 - self.beta_1))
        m *= self.beta_2
        m += g * (1.0 - self.beta_2)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2}


class Lamb(_NumpyUpdate):
    """Adam's direction scaled per weight by the trust ratio ||w|| / ||update||
    (You et al., 2019)."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def _slot_names(self):
        return ["momentum", "velocity"]

    def _update_reference(self, var, g, slots, lr, step):
        m, v = slots
        m += (g - m) * (1 - self.beta_1)
        v += (g * g - v) * (1 - self.beta_2)
        update = (m / (1.0 - self.beta_1 ** step)) / (
            np.sqrt(v / (1.0 - self.beta_2 ** step)) + self.epsilon)
        w_norm = math.sqrt(float(np.sum(np.square(var, dtype=np.float64))))
        g_norm = math.sqrt(float(np.sum(np.square(update, dtype=np.float64))))
        ratio = w_norm / g_norm if w_norm > 0 and g_norm > 0 else 1.0
        var -= (ratio * lr) * update

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}


class Adafactor(_NumpyUpdate):
    """Adafactor (Shazeer & Stern, 2018): the second moment of a weight of rank >= 2 is
    kept factored, as its row means ``r`` and column means ``c`` over the last two axes.
    Slots per weight, in Keras's order: r, c (scalars for rank < 2), velocity."""

    def __init__(self, learning_rate=0.001, beta_2_decay=-0.8, epsilon_1=1e-30, epsilon_2=1e-3,
                 clip_threshold=1.0, relative_step=True, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_2_decay = beta_2_decay
        self.epsilon_1 = epsilon_1
        self.epsilon_2 = epsilon_2
        self.clip_threshold = clip_threshold
        self.relative_step = relative_step

    def _slot_names(self):
        return ["r", "c", "velocity"]

    def _init_slot(self, name, var):
        shape = tuple(var.shape)
        if name == "velocity":
            return np.zeros(shape, dtype=var.dtype)
        if len(shape) < 2:
            return np.zeros((), dtype=var.dtype)
        return np.zeros(shape[:-1] if name == "r" else shape[:-2] + shape[-1:], dtype=var.dtype)

    @staticmethod
    def _rms(x):
        return math.sqrt(float(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0

    def _update_reference(self, var, g, slots, lr, step):
        from fastnet.optimizers.schedules import LearningRateSchedule

        r, c, v = slots
        inv_sqrt_step = 1 / math.sqrt(step)
        if not isinstance(self._learning_rate, LearningRateSchedule) and self.relative_step:
            lr = min(lr, inv_sqrt_step)
        rho_t = min(lr, inv_sqrt_step)
        alpha_t = max(self.epsilon_2, self._rms(var)) * rho_t
        grad_sq = g * g + self.epsilon_1
        beta_2_t = 1 - step ** self.beta_2_decay
        if var.ndim >= 2:
            r[...] = beta_2_t * r + (1 - beta_2_t) * np.mean(grad_sq, axis=-1)
            c[...] = beta_2_t * c + (1 - beta_2_t) * np.mean(grad_sq, axis=-2)
            v[...] = (r / np.mean(r, axis=-1, keepdims=True))[..., None] * c[..., None, :]
        else:
            v[...] = beta_2_t * v + (1 - beta_2_t) * grad_sq
        u = g / np.sqrt(v)
        u_hat = u / max(1.0, self._rms(u) / self.clip_threshold)
        var -= alpha_t * u_hat

    def get_config(self):
        return {**super().get_config(), "beta_2_decay": self.beta_2_decay,
                "epsilon_1": self.epsilon_1, "epsilon_2": self.epsilon_2,
                "clip_threshold": self.clip_threshold, "relative_step": self.relative_step}


class ScheduleFreeAdamW(_NumpyUpdate):
    """Schedule-Free AdamW (Defazio et al., 2024), as Keras 3 implements it: the
    ``momentum`` slot (started at the weight) takes the Adam steps, the averaged sequence
    ``x`` is recovered from the weight, and the weight becomes the interpolation
    ``(1 - beta_1) * momentum + beta_1 * x``. ``warmup_steps`` ramps the rate linearly."""

    def __init__(self, learning_rate=0.0025, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 warmup_steps=0, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self.warmup_steps = warmup_steps

    def _slot_names(self):
        return ["momentum", "velocity"]

    def _init_slot(self, name, var):
        if name == "momentum":
            return np.array(var._value, dtype=var.dtype, copy=True).reshape(var.shape)
        return np.zeros(var.shape, dtype=var.dtype)

    def _update_reference(self, var, g, slots, lr, step):
        momentum, velocity = slots
        if self.warmup_steps > 0:
            lr = lr * min(step / self.warmup_steps, 1.0)
        b1 = self.beta_1
        momentum_old = momentum.copy()
        velocity += (g * g - velocity) * (1 - self.beta_2)
        denom = np.sqrt(velocity / (1 - self.beta_2 ** step)) + self.epsilon
        momentum -= lr * g / denom
        weight = 1.0 / step
        x_old = (var - (1 - b1) * momentum_old) / b1
        x_new = (1 - weight) * x_old + weight * momentum
        var[...] = (1 - b1) * momentum + b1 * x_new

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon, "warmup_steps": self.warmup_steps}


class Muon(_NumpyUpdate):
    """Muon (Jordan et al., 2024), as Keras 3: a 2-D weight takes a momentum step
    orthogonalised by ``ns_steps`` Newton-Schulz iterations (coefficients muon_a/b/c),
    scaled by ``sqrt(max(rows, cols)) * rms_rate``; every other weight — not 2-D, an
    embedding (``exclude_embeddings``), or a path matching an ``exclude_layers`` regex —
    takes an AdamW step at ``learning_rate * adam_lr_ratio`` with ``adam_weight_decay``.
    Slots per weight: momentum, and velocity for the AdamW ones (Keras's order)."""

    def __init__(self, learning_rate=0.001, adam_beta_1=0.9, adam_beta_2=0.999,
                 adam_weight_decay=0.004, epsilon=1e-7, weight_decay=0.004, name=None,
                 exclude_layers=None, exclude_embeddings=True, muon_a=3.4445, muon_b=-4.7750,
                 muon_c=2.0315, adam_lr_ratio=1, momentum=0.95, ns_steps=5, nesterov=True,
                 rms_rate=0.2, **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, name=name,
                         **kwargs)
        self.adam_beta_1, self.adam_beta_2, self.epsilon = adam_beta_1, adam_beta_2, epsilon
        self.muon_a, self.muon_b, self.muon_c = muon_a, muon_b, muon_c
        self.adam_lr_ratio = adam_lr_ratio
        self.momentum = momentum
        self.ns_steps = ns_steps
        self.nesterov = nesterov
        self.exclude_embeddings = exclude_embeddings
        self.exclude_layers = list(exclude_layers or [])
        self.adam_weight_decay = adam_weight_decay
        self.rms_rate = rms_rate
        self._adamw_ids = set()

    def _slot_names(self):  # the slots build makes: momentum (+ velocity for AdamW's)
        return ["momentum", "velocity"]

    def _should_use_adamw(self, var):
        if len(var.shape) != 2:
            return True
        path = str(getattr(var, "path", var.name))
        if self.exclude_embeddings and "embedding" in path.lower():
            return True
        return any(re.search(keyword, path) for keyword in self.exclude_layers)

    def build(self, var_list):
        for v in var_list:
            if id(v) not in self._slots:
                adamw = self._should_use_adamw(v)
                if adamw:
                    self._adamw_ids.add(id(v))
                self._slots[id(v)] = [np.zeros(v.shape, dtype=v.dtype)
                                      for _ in range(2 if adamw else 1)]
        super().build(var_list)  # the moving averages (use_ema)

    def _weight_decay_for(self, var):
        return self.adam_weight_decay if id(var) in self._adamw_ids else self.weight_decay

    def _update_reference(self, var, g, slots, lr, step):
        if len(slots) == 2:  # the AdamW weights
            m, v = slots
            b1, b2 = self.adam_beta_1, self.adam_beta_2
            lr = lr * self.adam_lr_ratio
            alpha = lr * math.sqrt(1 - b2 ** step) / (1 - b1 ** step)
            m += (g - m) * (1 - b1)
            v += (g * g - v) * (1 - b2)
            var -= m * alpha / (np.sqrt(v) + self.epsilon)
            return
        (m,) = slots
        m += g + m * (self.momentum - 1)
        direction = g + self.momentum * m if self.nesterov else m
        update = lr * self._newton_schulz(direction)
        if self.rms_rate is not None:
            update = update * math.sqrt(max(update.shape[0], update.shape[1])) * self.rms_rate
        var -= update.astype(var.dtype, copy=False)

    def _newton_schulz(self, x):
        a, b, c = self.muon_a, self.muon_b, self.muon_c
        tall = x.shape[-2] > x.shape[-1]
        if tall:
            x = np.swapaxes(x, -1, -2)
        x = x / (np.linalg.norm(x, axis=(-2, -1), keepdims=True) + 1e-7)
        for _ in range(self.ns_steps):
            gram = x @ np.swapaxes(x, -1, -2)
            x = a * x + (b * gram + c * gram @ gram) @ x
        return np.swapaxes(x, -1, -2) if tall else x

    def get_config(self):
        return {**super().get_config(), "adam_beta_1": self.adam_beta_1,
                "adam_beta_2": self.adam_beta_2, "epsilon": self.epsilon,
                "exclude_layers": self.exclude_layers, "muon_a": self.muon_a,
                "muon_b": self.muon_b, "muon_c": self.muon_c,
                "adam_lr_ratio": self.adam_lr_ratio, "momentum": self.momentum,
                "ns_steps": self.ns_steps, "nesterov": self.nesterov,
                "exclude_embeddings": self.exclude_embeddings,
                "adam_weight_decay": self.adam_weight_decay, "rms_rate": self.rms_rate}


__all__ = ["Adamax", "Ftrl", "Lion", "Lamb", "Adafactor", "ScheduleFreeAdamW", "Muon"]
