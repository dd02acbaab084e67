"""Optimizers with Keras 3's names, defaults and update formulas.

Each weight is updated in place, once per step, by a fused C++ loop
(fastnet.kernels.optim) for float32 weights. ``_update_reference`` keeps each
formula as plain numpy: it serves float64 weights and is the tests' oracle.
"""

from __future__ import annotations

import math

import numpy as np

from fastnet.backend.name_scope import name_scope
from fastnet.backend.naming import to_snake_case, unique_name
from fastnet.backend.tensor import Tensor, Variable
from fastnet.kernels import optim as _K
from fastnet.optimizers import schedules
from fastnet.optimizers.schedules import LearningRateSchedule


def _arr(x):
    return x._value if isinstance(x, Tensor) else np.asarray(x)


class Optimizer:
    def __init__(self, learning_rate=0.001, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        if kwargs:
            raise ValueError(f"{type(self).__name__}: unrecognized keyword argument(s): "
                            f"{sorted(kwargs)}")
        if sum(c is not None for c in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError("Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be "
                             f"set. Received: clipnorm={clipnorm}, clipvalue={clipvalue}, "
                             f"global_clipnorm={global_clipnorm}")
        if use_ema:
            if not 0 <= ema_momentum <= 1:
                raise ValueError("`ema_momentum` must be in the range [0, 1]. "
                                 f"Received: ema_momentum={ema_momentum}")
            if ema_overwrite_frequency is not None and (
                    not isinstance(ema_overwrite_frequency, int)
                    or isinstance(ema_overwrite_frequency, bool) or ema_overwrite_frequency < 1):
                raise ValueError("`ema_overwrite_frequency` must be an integer >= 1 or None. "
                                 f"Received: ema_overwrite_frequency={ema_overwrite_frequency}")
        self.use_ema = bool(use_ema)
        self.ema_momentum = ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency
        if gradient_accumulation_steps is not None and (
                isinstance(gradient_accumulation_steps, bool)
                or not isinstance(gradient_accumulation_steps, (int, np.integer))
                or gradient_accumulation_steps < 2):
            raise ValueError("`gradient_accumulation_steps` must be an integer >= 2. Received: "
                             f"gradient_accumulation_steps={gradient_accumulation_steps}")
        if loss_scale_factor is not None and not (
                isinstance(loss_scale_factor, (int, float, np.number))
                and not isinstance(loss_scale_factor, bool) and loss_scale_factor > 0):
            raise ValueError("`loss_scale_factor` must be a positive number or None. "
                             f"Received: loss_scale_factor={loss_scale_factor!r}")
        self.gradient_accumulation_steps = None if gradient_accumulation_steps is None else \
            int(gradient_accumulation_steps)
        self.loss_scale_factor = loss_scale_factor
        # Keras's auto-name: the snake-cased class name made unique (adam, adam_1, ...)
        self.name = name or unique_name(to_snake_case(type(self).__name__))
        self._learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
        self.global_clipnorm = global_clipnorm
        # every apply() counts here; with gradient_accumulation_steps the weights move
        # every that many calls and `iterations` counts those updates (as Keras)
        with name_scope(self.name, caller=self):  # its path: <optimizer name>/iteration
            self._iterations = Variable(np.zeros((), np.int64), trainable=False,
                                        name="iteration")
        self._slots = {}  # id(var) -> list of numpy arrays
        self._slot_refs = {}  # id(var) -> var, in build order (the variables' names)
        self._accumulators = {}  # id(var) -> summed gradients (gradient_accumulation_steps)
        self._ema = {}  # id(var) -> (var, its moving average) when use_ema
        self._built = False

    @property
    def iterations(self):
        """The number of weight updates: every apply() call, or with
        ``gradient_accumulation_steps`` every that many calls."""
        if self.gradient_accumulation_steps:
            return Tensor(np.asarray(int(self._iterations._value) //
                                     self.gradient_accumulation_steps, np.int64))
        return self._iterations

    # ---- learning rate ------------------------------------------------------------
    @property
    def learning_rate(self):
        # Keras keeps the rate in a float32 variable: reading it back gives the float32
        # value (0.1 reads 0.10000000149011612), as Keras prints it
        lr = self._learning_rate
        if isinstance(lr, LearningRateSchedule):
            # of every apply() call so far, as Keras (not of the accumulated updates)
            return float(np.float32(lr(int(self._iterations._value))))
        if callable(lr):  # Keras also takes a function of no arguments
            return float(np.float32(np.asarray(lr())))
        return float(np.float32(lr))

    @learning_rate.setter
    def learning_rate(self, value):
        if isinstance(self._learning_rate, LearningRateSchedule) and \
                not isinstance(value, LearningRateSchedule):
            raise TypeError("This optimizer was created with a LearningRateSchedule; its "
                            "learning rate cannot be set to a number.")
        self._learning_rate = value

    lr = learning_rate

    # ---- state ----------------------------------------------------------------------
    def _slot_names(self):
        return []

    def build(self, var_list):
        for v in var_list:
            self._slot_refs.setdefault(id(v), v)
            if id(v) not in self._slots:
                self._slots[id(v)] = [self._init_slot(name, v) for name in self._slot_names()]
            if self.use_ema and id(v) not in self._ema:
                self._ema[id(v)] = (v, np.zeros(v.shape, dtype=v.dtype))
            if self.gradient_accumulation_steps and id(v) not in self._accumulators:
                self._accumulators[id(v)] = np.zeros(v.shape, dtype=v.dtype)
        self._built = True

    @property
    def built(self):
        return self._built

    # ---- exponential moving average of the weights (use_ema) -------------------------
    def _update_moving_averages(self, step):
        # Keras: the first step copies the weights, later steps blend with ema_momentum
        momentum = self.ema_momentum if step > 1 else 0.0
        for var, average in self._ema.values():
            average *= momentum
            average += (1 - momentum) * var._value
        if self.ema_overwrite_frequency and step % self.ema_overwrite_frequency == 0:
            for var, average in self._ema.values():
                var._value[...] = average

    def _moving_average_pairs(self, var_list=None):
        if not self.use_ema:
            raise ValueError(f"{type(self).__name__} has no moving averages: create it with "
                             f"`use_ema=True`. Received: use_ema={self.use_ema}")
        if var_list is None:
            return list(self._ema.values())
        return [self._ema[id(v)] for v in var_list if id(v) in self._ema]

    def swap_moving_averages(self, var_list=None):
        """Exchanges the weights' values with their moving averages (SwapEMAWeights)."""
        for var, average in self._moving_average_pairs(var_list):
            tmp = var._value.copy()
            var._value[...] = average
            average[...] = tmp

    def finalize_variable_values(self, var_list):
        """At the end of ``fit``: with ``use_ema``, the weights take their moving averages."""
        if self.use_ema:
            for var, average in self._moving_average_pairs(var_list):
                var._value[...] = average

    def _init_slot(self, name, var):
        return np.zeros(var.shape, dtype=var.dtype)

    @property
    def variables(self):
        """The optimizer's state as Keras 3 lists it, with its paths: ``<name>/iteration``,
        ``<name>/learning_rate`` (a float rate), then per weight (``<weight path with _>``)
        its moving average (``_average``, use_ema), its gradient accumulator
        (``_gradient_accumulator``) and its slots (``_momentum``, ``_velocity`` ...) in
        Keras's order. The slot, average and accumulator variables share the
        optimizer's arrays: assigning one changes the optimizer's state."""
        from fastnet.saving.weights_io import _slot_groups

        refs = [v for v in self._slot_refs.values()
                if id(v) in self._slots or id(v) in self._ema or id(v) in self._accumulators]
        out = [self._iterations]
        with name_scope(self.name, caller=self):
            lr = self._learning_rate
            if not isinstance(lr, LearningRateSchedule) and not callable(lr):
                out.append(Variable(np.float32(lr), trainable=False, name="learning_rate"))
            for v in refs:
                if id(v) in self._ema:
                    out.append(_state_variable(self._ema[id(v)][1], v, "average"))
            for v in refs:
                if id(v) in self._accumulators:
                    out.append(_state_variable(self._accumulators[id(v)], v,
                                               "gradient_accumulator"))
            slots = [self._slots.get(id(v), []) for v in refs]
            kinds = max((len(s) for s in slots), default=0)
            names = list(self._slot_names()) + [f"slot_{j}" for j in range(kinds)]
            for group in _slot_groups(self, kinds):
                for v, vslots in zip(refs, slots):
                    out += [_state_variable(vslots[j], v, names[j])
                            for j in group if j < len(vslots)]
        return out

    # ---- applying -------------------------------------------------------------------
    def apply_gradients(self, grads_and_vars):
        pairs = list(grads_and_vars)
        return self.apply([g for g, _ in pairs], [v for _, v in pairs])

    def apply(self, grads, trainable_variables=None):
        if trainable_variables is None:
            raise ValueError("apply: pass the variables the gradients belong to")
        grads = list(grads)
        variables = list(trainable_variables)
        if len(grads) != len(variables):
            raise ValueError(f"apply: got {len(grads)} gradients for {len(variables)} variables")
        pairs = [(None if g is None else _arr(g), v) for g, v in zip(grads, variables)]
        pairs = [(g, v) for g, v in pairs if g is not None]
        if not pairs:
            return self.iterations
        for g, v in pairs:
            if g.shape != tuple(v.shape):
                raise ValueError(f"Gradient for variable {v.name!r} has shape {g.shape} but the "
                                 f"variable has shape {tuple(v.shape)}")
        self.build([v for _, v in pairs])
        gs = [g.astype(v.dtype, copy=False) for g, v in pairs]
        if self.loss_scale_factor is not None:  # the trainer scaled the loss by it
            gs = [g / np.asarray(self.loss_scale_factor, g.dtype) for g in gs]
        calls = int(self._iterations.numpy()) + 1
        if self.gradient_accumulation_steps:
            n = self.gradient_accumulation_steps
            accs = [self._accumulators[id(v)] for _, v in pairs]
            if calls % n:  # not an update step: only sum the gradients
                for acc, g in zip(accs, gs):
                    acc += g
                if self.use_ema:  # Keras blends the averages on every call
                    self._update_moving_averages(calls // n + 1)
                self._iterations.assign(np.asarray(calls, np.int64))
                return self.iterations
            gs = [(g + acc) / np.asarray(n, g.dtype) for g, acc in zip(gs, accs)]
            for acc in accs:
                acc[...] = 0
            step = calls // n
        else:
            step = calls
        gs = self._clip(gs)
        lr = self.learning_rate
        self._before_step(step)
        for g, (_, v) in zip(gs, pairs):
            wd = self._weight_decay_for(v)
            if wd:
                v._value -= v._value * (wd * lr)
            if v._value.dtype == np.float32:
                # ascontiguousarray makes a 0-d gradient 1-D; the kernels want var's shape
                g32 = np.ascontiguousarray(g, dtype=np.float32).reshape(v._value.shape)
                self._update(v._value, g32, self._slots[id(v)], lr, step)
            else:
                self._update_reference(v._value, g, self._slots[id(v)], lr, step)
            if getattr(v, "constraint", None) is not None:
                v.assign(v.constraint(v._value))
        if self.use_ema:
            self._update_moving_averages(step)
        self._iterations.assign(np.asarray(calls, np.int64))
        return self.iterations

    def _before_step(self, step):
        pass

    def _weight_decay_for(self, var):
        """The decoupled weight decay applied to `var` before its update."""
        return self.weight_decay

    def scale_loss(self, loss):
        """The loss the trainer differentiates (Keras 3): times `loss_scale_factor` when
        set (apply() divides the gradients by it again)."""
        if self.loss_scale_factor is not None:
            return loss * self.loss_scale_factor
        return loss

    def _clip(self, grads):
        if self.clipvalue is not None:
            grads = [np.clip(g, -self.clipvalue, self.clipvalue) for g in grads]
        if self.clipnorm is not None:
            out = []
            for g in grads:
                n = float(np.sqrt(np.sum(np.square(g, dtype=np.float64))))
                out.append(g * (self.clipnorm / max(n, self.clipnorm)) if n > 0 else g)
            grads = out
        if self.global_clipnorm is not None:
            n = math.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for g in grads))
            if n > self.global_clipnorm:
                grads = [g * (self.global_clipnorm / n) for g in grads]
        return grads

    def _update(self, var, grad, slots, lr, step):
        raise NotImplementedError

    def _update_reference(self, var, grad, slots, lr, step):
        raise NotImplementedError

    # ---- config ---------------------------------------------------------------------
    def get_config(self):
        lr = self._learning_rate
        if isinstance(lr, LearningRateSchedule):
            lr = schedules.serialize(lr)
        elif callable(lr):  # as Keras: the function by its registered name
            from fastnet.saving.serialization_lib import serialize_keras_object

            lr = serialize_keras_object(lr)
        else:
            lr = float(lr)
        return {"name": self.name, "learning_rate": lr,
                "weight_decay": self.weight_decay, "clipnorm": self.clipnorm,
                "global_clipnorm": self.global_clipnorm, "clipvalue": self.clipvalue,
                "use_ema": self.use_ema, "ema_momentum": self.ema_momentum,
                "ema_overwrite_frequency": self.ema_overwrite_frequency,
                "loss_scale_factor": self.loss_scale_factor,
                "gradient_accumulation_steps": self.gradient_accumulation_steps}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        lr = config.get("learning_rate")
        if isinstance(lr, dict):
            config["learning_rate"] = schedules.deserialize(lr, custom_objects)
        # Keras 2 (tf.keras) writes these; neither changes the update: `jit_compile` is
        # XLA compilation, `is_legacy_optimizer` False names the optimizer generation whose
        # formulas these are (a legacy optimizer's config is refused below).
        config.pop("jit_compile", None)
        if config.pop("is_legacy_optimizer", False):
            raise NotImplementedError(f"{cls.__name__}: a tf.keras legacy optimizer config "
                                      "(is_legacy_optimizer=True) is not implemented in "
                                      "fastnet; recompile the model with a current optimizer")
        return cls(**config)


def _state_variable(array, ref, kind):
    """A Variable over one of the optimizer's arrays (no copy), named as Keras names the
    variable it makes from ``ref`` (add_variable_from_reference), in the open scope."""
    var = Variable(np.zeros((), array.dtype), trainable=False,
                   name=f"{ref.path.replace('/', '_')}_{kind}")
    var._value = array if isinstance(array, np.ndarray) and array.flags.c_contiguous \
        else np.ascontiguousarray(array)
    return var


class SGD(Optimizer):
    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        if not 0 <= momentum <= 1:
            raise ValueError(f"`momentum` must be a float between [0, 1]. Received: "
                             f"momentum={momentum}")
        self.momentum = momentum
        self.nesterov = nesterov

    def _slot_names(self):
        return ["momentum"] if self.momentum else []

    def _update(self, var, g, slots, lr, step):
        _K.sgd_update(var, g, slots[0] if self.momentum else None, lr, self.momentum,
                     self.nesterov)

    def _update_reference(self, var, g, slots, lr, step):
        if not self.momentum:
            var -= lr * g
            return
        m = slots[0]
        m *= self.momentum
        m -= lr * g
        if self.nesterov:
            var += self.momentum * m - lr * g
        else:
            var += m

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class RMSprop(Optimizer):
    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                 **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.rho, self.momentum, self.epsilon, self.centered = rho, momentum, epsilon, centered

    def _slot_names(self):
        return ["velocity"] + (["momentum"] if self.momentum else []) + \
            (["average_gradient"] if self.centered else [])

    def _update(self, var, g, slots, lr, step):
        _K.rmsprop_update(var, g, slots[0], slots[1] if self.momentum else None,
                         slots[-1] if self.centered else None, lr, self.rho, self.momentum,
                         self.epsilon)

    def _update_reference(self, var, g, slots, lr, step):
        vel = slots[0]
        vel *= self.rho
        vel += (1 - self.rho) * g * g
        if self.centered:
            avg = slots[-1]
            avg *= self.rho
            avg += (1 - self.rho) * g
            denom = vel - avg * avg + self.epsilon
        else:
            denom = vel + self.epsilon
        inc = lr * g / np.sqrt(denom)
        if self.momentum:
            mom = slots[1]
            mom *= self.momentum
            mom += inc
            var -= mom
        else:
            var -= inc

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon, "centered": self.centered}


class Adam(Optimizer):
    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon, self.amsgrad = beta_1, beta_2, epsilon, amsgrad

    def _slot_names(self):
        return ["momentum", "velocity"] + (["velocity_hat"] if self.amsgrad else [])

    def _update(self, var, g, slots, lr, step):
        alpha = lr * math.sqrt(1 - self.beta_2 ** step) / (1 - self.beta_1 ** step)
        _K.adam_update(var, g, slots[0], slots[1], slots[2] if self.amsgrad else None, alpha,
                      self.beta_1, self.beta_2, self.epsilon)

    def _update_reference(self, var, g, slots, lr, step):
        m, v = slots[0], slots[1]
        b1p, b2p = self.beta_1 ** step, self.beta_2 ** step
        alpha = lr * math.sqrt(1 - b2p) / (1 - b1p)
        m += (g - m) * (1 - self.beta_1)
        v += (g * g - v) * (1 - self.beta_2)
        if self.amsgrad:
            vhat = slots[2]
            np.maximum(vhat, v, out=vhat)
            v = vhat
        var -= m * alpha / (np.sqrt(v) + self.epsilon)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon, "amsgrad": self.amsgrad}


class AdamW(Adam):
    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, amsgrad=False, **kwargs):
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2,
                         epsilon=epsilon, amsgrad=amsgrad, weight_decay=weight_decay, **kwargs)
        if weight_decay is None:
            raise ValueError("Argument `weight_decay` must be a float. Received: "
                             "weight_decay=None")


class Adagrad(Optimizer):
    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
                 **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.initial_accumulator_value = initial_accumulator_value
        self.epsilon = epsilon

    def _slot_names(self):
        return ["accumulator"]

    def _init_slot(self, name, var):
        return np.full(var.shape, self.initial_accumulator_value, dtype=var.dtype)

    def _update(self, var, g, slots, lr, step):
        _K.adagrad_update(var, g, slots[0], lr, self.epsilon)

    def _update_reference(self, var, g, slots, lr, step):
        acc = slots[0]
        acc += g * g
        var -= lr * g / np.sqrt(acc + self.epsilon)

    def get_config(self):
        return {**super().get_config(), "initial_accumulator_value":
                self.initial_accumulator_value, "epsilon": self.epsilon}


class Adadelta(Optimizer):
    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.rho, self.epsilon = rho, epsilon

    def _slot_names(self):
        return ["accumulated_grad", "accumulated_delta_var"]

    def _update(self, var, g, slots, lr, step):
        _K.adadelta_update(var, g, slots[0], slots[1], lr, self.rho, self.epsilon)

    def _update_reference(self, var, g, slots, lr, step):
        acc_g, acc_d = slots
        acc_g *= self.rho
        acc_g += (1 - self.rho) * g * g
        delta = -np.sqrt(acc_d + self.epsilon) / np.sqrt(acc_g + self.epsilon) * g
        acc_d *= self.rho
        acc_d += (1 - self.rho) * delta * delta
        var += lr * delta

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}


class Nadam(Optimizer):
    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self._u_product = 1.0

    def _slot_names(self):
        return ["momentum", "velocity"]

    def get_extra_state(self):
        return {"u_product": float(self._u_product)}

    @property
    def variables(self):
        out = super().variables
        if self._slots:  # Keras's build adds the running product, auto-named, last
            with name_scope(self.name, caller=self):
                out.append(Variable(np.float32(self._u_product), trainable=False,
                                    name="variable"))
        return out

    def set_extra_state(self, state):
        if "u_product" in state:
            self._u_product = float(state["u_product"])

    def _before_step(self, step):
        self._u_t = self.beta_1 * (1.0 - 0.5 * 0.96 ** step)
        self._u_t_1 = self.beta_1 * (1.0 - 0.5 * 0.96 ** (step + 1))
        self._u_product *= self._u_t

    def _update(self, var, g, slots, lr, step):
        up_t = self._u_product
        _K.nadam_update(var, g, slots[0], slots[1], lr, self.beta_1, self.beta_2, self.epsilon,
                       self._u_t, self._u_t_1, up_t, up_t * self._u_t_1, self.beta_2 ** step)

    def _update_reference(self, var, g, slots, lr, step):
        m, v = slots
        u_t, u_t_1 = self._u_t, self._u_t_1
        u_prod_t = self._u_product
        u_prod_t_1 = u_prod_t * u_t_1
        b2p = self.beta_2 ** step
        m += (g - m) * (1 - self.beta_1)
        v += (g * g - v) * (1 - self.beta_2)
        m_hat = u_t_1 * m / (1 - u_prod_t_1) + (1 - u_t) * g / (1 - u_prod_t)
        v_hat = v / (1 - b2p)
        var -= lr * m_hat / (np.sqrt(v_hat) + self.epsilon)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}


_ALL = {"sgd": SGD, "rmsprop": RMSprop, "adam": Adam, "adamw": AdamW, "adagrad": Adagrad,
        "adadelta": Adadelta, "nadam": Nadam}
for _c in list(_ALL.values()):
    _ALL[_c.__name__] = _c


def get(identifier):
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        cls = _ALL.get(identifier) or _ALL.get(identifier.lower())
        if cls is None:
            raise ValueError(f"Could not interpret optimizer identifier: {identifier!r}")
        return cls()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Optimizer):
        return identifier()
    raise ValueError(f"Could not interpret optimizer identifier: {identifier!r}")


def serialize(opt):
    return {"module": "keras.optimizers", "class_name": type(opt).__name__,
            "config": opt.get_config(), "registered_name": None}


def deserialize(config, custom_objects=None):
    from fastnet.saving import object_registration

    name = config["class_name"]
    cls = object_registration.lookup([config.get("registered_name"), name], custom_objects) or \
        _ALL.get(name)
    if cls is None and name.startswith("Custom>"):
        cls = _ALL.get(name[len("Custom>"):])  # tf.keras 2's .h5 names built-ins "Custom>Adam"
    if cls is None:
        raise ValueError(f"Unknown optimizer: {name!r}")
    return cls.from_config(config.get("config", {}), custom_objects)


__all__ = ["Optimizer", "SGD", "RMSprop", "Adam", "AdamW", "Adagrad", "Adadelta", "Nadam",
           "get", "serialize", "deserialize"]
