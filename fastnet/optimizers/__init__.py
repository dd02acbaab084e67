"""keras.optimizers: the optimizers with Keras 3's names, defaults and update formulas.

The implementations live in optimizer.py (the base class and the optimizers with a
fused C++ update, fastnet.kernels.optim), adaptive.py (Adamax, Ftrl, Lion, Lamb,
Adafactor: numpy updates) and loss_scale_optimizer.py; this module only exports them.
"""

from fastnet.optimizers import schedules
from fastnet.optimizers.adaptive import (
    Adafactor,
    Adamax,
    Ftrl,
    Lamb,
    Lion,
    Muon,
    ScheduleFreeAdamW,
)
from fastnet.optimizers.loss_scale_optimizer import LossScaleOptimizer
from fastnet.optimizers.multi_optimizer import MultiOptimizer, OptimizerMap
from fastnet.optimizers.optimizer import _ALL as _REGISTRY
from fastnet.optimizers.optimizer import (
    SGD,
    Adadelta,
    Adagrad,
    Adam,
    AdamW,
    Nadam,
    Optimizer,
    RMSprop,
    deserialize,
    get,
    serialize,
)

for _cls in (Adamax, Ftrl, Lion, Lamb, Adafactor, ScheduleFreeAdamW, Muon, LossScaleOptimizer,
             MultiOptimizer):
    _REGISTRY[_cls.__name__] = _cls
    _REGISTRY[_cls.__name__.lower()] = _cls
del _cls

# the implementation modules stay importable (fastnet.optimizers.optimizer, ...) but are
# not names of the public namespace
for _name in ("adaptive", "loss_scale_optimizer", "multi_optimizer", "optimizer"):
    globals().pop(_name, None)
del _name

__all__ = ["Optimizer", "SGD", "RMSprop", "Adam", "AdamW", "Adagrad", "Adadelta", "Nadam",
           "Adamax", "Ftrl", "Lion", "Lamb", "Adafactor", "ScheduleFreeAdamW", "Muon",
           "LossScaleOptimizer", "MultiOptimizer", "OptimizerMap",
           "get", "serialize", "deserialize", "schedules"]
