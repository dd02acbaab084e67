"""keras.optimizers.MultiOptimizer / OptimizerMap (Keras 3.15): each trainable variable is
updated by the optimizer its path maps to (an exact key, else the one regular expression
that fully matches, else the default), or by what a callable returns for the variable.

The wrapper keeps its own iteration count and a learning rate of 0 that cannot be read
(the rates belong to the sub-optimizers, listed by ``.optimizers``); its state in a file
is its two variables followed by every sub-optimizer's own state, as Keras writes it.
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping

import numpy as np

from fastnet.optimizers.loss_scale_optimizer import LossScaleOptimizer
from fastnet.optimizers.optimizer import Optimizer


def _check_inner(optimizer, what):
    if not isinstance(optimizer, Optimizer):
        raise ValueError(f"{what} must be a Keras Optimizer instance. Received: {optimizer}")
    if isinstance(optimizer, LossScaleOptimizer):
        raise ValueError("optimizer cannot be LossScaleOptimizer.")
    if isinstance(optimizer, MultiOptimizer):
        raise ValueError("optimizer cannot be MultiOptimizer.")


class OptimizerMap(MutableMapping):
    """Variable path (or full-match regular expression) -> optimizer, with a default."""

    def __init__(self, default_optimizer, optimizer_map=None):
        if not isinstance(default_optimizer, Optimizer):
            raise TypeError("default_optimizer must be a Keras Optimizer instance. "
                            f"Received: {default_optimizer}")
        if optimizer_map is not None and not isinstance(optimizer_map, dict):
            raise TypeError(f"optimizer_map must be a dictionary. Received: {optimizer_map}")
        self._default_optimizer = default_optimizer
        self._optimizer_map = {}
        for key, opt in (optimizer_map or {}).items():
            self[key] = opt

    @property
    def default_optimizer(self):
        return self._default_optimizer

    def __getitem__(self, key):
        if key in self._optimizer_map:
            return self._optimizer_map[key]
        matching = [p for p in self._optimizer_map if re.fullmatch(p, key)]
        if len(matching) > 1:
            raise ValueError(f"Multiple optimizers assigned to variable {key}.")
        if matching:
            return self._optimizer_map[matching[0]]
        return self._default_optimizer

    def __setitem__(self, key, optimizer):
        if key in self._optimizer_map:
            raise ValueError(f"'{key}' already exists in the OptimizerMap with value "
                             f"{self._optimizer_map[key]}. Please make sure to not use "
                             "duplicated keys.")
        if not isinstance(key, str):
            raise ValueError(f"key must be a string. Received: {key}")
        _check_inner(optimizer, "optimizer")
        self._optimizer_map[key] = optimizer

    def __delitem__(self, key):
        del self._optimizer_map[key]

    def __len__(self):
        return len(self._optimizer_map)

    def __iter__(self):
        return iter(self._optimizer_map)

    def __call__(self, variable):
        return self[variable.path]

    def get_config(self):
        from fastnet.optimizers.optimizer import serialize

        return {"default_optimizer": serialize(self._default_optimizer),
                "optimizer_map": {k: serialize(v) for k, v in self._optimizer_map.items()}}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from fastnet.optimizers.optimizer import deserialize

        return cls(deserialize(config["default_optimizer"], custom_objects),
                   {k: deserialize(v, custom_objects)
                    for k, v in (config.get("optimizer_map") or {}).items()})


class MultiOptimizer(Optimizer):
    """Delegates each variable to an optimizer chosen by `optimizer_map` (an
    OptimizerMap, or a callable variable -> optimizer)."""

    def __init__(self, optimizer_map, loss_scale_factor=None, name=None):
        if not isinstance(optimizer_map, OptimizerMap) and not callable(optimizer_map):
            raise TypeError("MultiOptimizer: `optimizer_map` must be an OptimizerMap or a "
                            "callable returning an optimizer for a variable. Received: "
                            f"optimizer_map={optimizer_map!r}")
        self._inner_optimizers = []
        super().__init__(learning_rate=0.0, loss_scale_factor=loss_scale_factor, name=name)
        self._optimizer_map = optimizer_map
        inner = list(optimizer_map.values()) if isinstance(optimizer_map, OptimizerMap) else []
        default = getattr(optimizer_map, "default_optimizer", None)
        for opt in inner + ([default] if default is not None else []):
            if all(opt is not o for o in self._inner_optimizers):
                opt.loss_scale_factor = loss_scale_factor
                self._inner_optimizers.append(opt)
        self._assigned = {}  # id(var) -> index of its optimizer

    # the learning rate belongs to the sub-optimizers
    @property
    def learning_rate(self):
        raise AttributeError("Learning rate cannot be accessed on a MultiOptimizer. Access "
                             "the learning rate on the individual sub-optimizers instead.")

    @learning_rate.setter
    def learning_rate(self, value):
        raise AttributeError("Learning rate cannot be set on a MultiOptimizer. Set the "
                             "learning rate on the individual sub-optimizers instead.")

    @property
    def loss_scale_factor(self):
        return self.__dict__.get("_loss_scale_factor")

    @loss_scale_factor.setter
    def loss_scale_factor(self, value):
        self.__dict__["_loss_scale_factor"] = value
        for opt in self.__dict__.get("_inner_optimizers", ()):
            opt.loss_scale_factor = value

    @property
    def optimizers(self):
        return self._inner_optimizers

    @property
    def iterations(self):
        return self._iterations

    def _optimizer_for(self, var):
        if id(var) not in self._assigned:
            opt = self._optimizer_map(var)
            if not isinstance(opt, Optimizer):
                raise ValueError(f"Optimizer for variable {var.path} is not an Optimizer "
                                 "instance.")
            if isinstance(opt, LossScaleOptimizer):
                raise ValueError("LossScaleOptimizer cannot be used inside an MultiOptimizer.")
            if isinstance(opt, MultiOptimizer):
                raise ValueError("MultiOptimizer cannot be used inside an MultiOptimizer.")
            if all(opt is not o for o in self._inner_optimizers):
                opt.loss_scale_factor = self.loss_scale_factor
                self._inner_optimizers.append(opt)
            self._assigned[id(var)] = next(i for i, o in enumerate(self._inner_optimizers)
                                           if o is opt)
        return self._inner_optimizers[self._assigned[id(var)]]

    def _split(self, var_list):
        groups = [[] for _ in self._inner_optimizers]
        for v in var_list:
            self._optimizer_for(v)
            while len(groups) < len(self._inner_optimizers):
                groups.append([])
            groups[self._assigned[id(v)]].append(v)
        return list(zip(self._inner_optimizers, groups))

    def build(self, var_list):
        for opt, variables in self._split(var_list):
            opt.build(variables)
        self._built = True

    def _merged(self, attr):
        out = {}
        for opt in self.__dict__.get("_inner_optimizers", ()):
            out.update(getattr(opt, attr))
        return out

    # every sub-optimizer's state by variable; the setters take the base class's __init__
    _slots = property(lambda self: self._merged("_slots"), lambda self, value: None)
    _ema = property(lambda self: self._merged("_ema"), lambda self, value: None)
    _accumulators = property(lambda self: self._merged("_accumulators"),
                             lambda self, value: None)

    @property
    def variables(self):
        from fastnet.backend.name_scope import name_scope
        from fastnet.backend.tensor import Variable

        # as Keras: its iteration and its (unused, zero) learning rate, then each
        # sub-optimizer's variables
        with name_scope(self.name, caller=self):
            out = [self._iterations, Variable(np.float32(0.0), trainable=False,
                                              name="learning_rate")]
        for opt in self._inner_optimizers:
            out.extend(opt.variables)
        return out

    def apply(self, grads, trainable_variables=None):
        grads = list(grads)
        if not grads:
            return self._iterations
        if trainable_variables is None:
            raise ValueError("apply: pass the variables the gradients belong to")
        variables = list(trainable_variables)
        if len(grads) != len(variables):
            raise ValueError(f"Gradients must match trainable variables one-to-one. Received "
                             f"{len(grads)} gradients and {len(variables)} variables.")
        per_opt = {}
        for g, v in zip(grads, variables):
            opt = self._optimizer_for(v)
            per_opt.setdefault(id(opt), (opt, [], []))
            per_opt[id(opt)][1].append(g)
            per_opt[id(opt)][2].append(v)
        for opt in self._inner_optimizers:  # in the sub-optimizers' order, as Keras
            if id(opt) in per_opt:
                _, gs, vs = per_opt[id(opt)]
                opt.apply(gs, vs)
        self._built = True
        self._iterations.assign(np.asarray(int(self._iterations._value) + 1, np.int64))
        return self._iterations

    def finalize_variable_values(self, var_list):
        for opt, variables in self._split(var_list):
            if variables:
                opt.finalize_variable_values(variables)

    def swap_moving_averages(self, var_list=None):
        for opt, variables in self._split(var_list or []):
            if getattr(opt, "use_ema", False) and variables:
                opt.swap_moving_averages(variables)

    @property
    def use_ema(self):
        return any(getattr(o, "use_ema", False) for o in self.__dict__.get("_inner_optimizers", ()))

    @use_ema.setter
    def use_ema(self, value):  # the base class's __init__ (False)
        pass

    def get_config(self):
        if isinstance(self._optimizer_map, OptimizerMap):
            omap = {"module": "keras.optimizers", "class_name": "OptimizerMap",
                    "config": self._optimizer_map.get_config(), "registered_name": None}
        else:
            from fastnet.saving.serialization_lib import serialize_keras_object

            omap = serialize_keras_object(self._optimizer_map)
        return {"optimizer_map": omap, "loss_scale_factor": self.loss_scale_factor,
                "name": self.name}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        omap = config["optimizer_map"]
        if isinstance(omap, dict) and omap.get("class_name") == "OptimizerMap":
            config["optimizer_map"] = OptimizerMap.from_config(omap["config"], custom_objects)
        else:
            from fastnet.saving.serialization_lib import deserialize_keras_object

            config["optimizer_map"] = deserialize_keras_object(omap, custom_objects)
        return cls(**config)
