"""The tensor core: Tensor, Variable, GradientTape, floatx, naming."""

from fastnet.backend.naming import clear_session, get_uid
from fastnet.backend.tape import GradientTape
from fastnet.backend.tensor import Tensor, Variable, floatx, standardize_dtype

_EPSILON = 1e-7


def epsilon():
    return _EPSILON


# Modules whose `EPSILON` constant is the fuzz factor (cross-entropy clipping, the
# losses' divisions); set_epsilon rebinds it there so every use sees the new value.
_EPSILON_USERS = ("fastnet.ops.nn", "fastnet.losses.losses",
                  "fastnet.metrics.probabilistic_metrics", "fastnet.metrics.regression_metrics",
                  "fastnet.metrics.f_score_metrics", "fastnet.layers.preprocessing")


def set_epsilon(value):
    """As keras.config.set_epsilon: the fuzz factor of the losses, the cross-entropy
    clipping (ops, losses and metrics), the metrics that divide (MAPE, F-scores, IoU, AUC's
    end thresholds), Normalization's smallest std and the norm constraints."""
    import importlib

    global _EPSILON
    _EPSILON = float(value)
    for name in _EPSILON_USERS:
        importlib.import_module(name).EPSILON = _EPSILON


def is_tensor(x):
    return isinstance(x, Tensor)


def image_data_format():
    return "channels_last"


__all__ = ["Tensor", "Variable", "GradientTape", "floatx", "epsilon", "set_epsilon",
           "standardize_dtype", "clear_session", "get_uid", "is_tensor", "image_data_format"]
