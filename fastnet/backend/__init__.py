"""The tensor core: Tensor, Variable, GradientTape, floatx, naming."""

from fastnet.backend.naming import clear_session, get_uid
from fastnet.backend.tape import GradientTape
from fastnet.backend.tensor import Tensor, Variable, floatx, standardize_dtype

_EPSILON = 1e-7


def epsilon():
    return _EPSILON


def set_epsilon(value):
    global _EPSILON
    _EPSILON = float(value)


def is_tensor(x):
    return isinstance(x, Tensor)


def image_data_format():
    return "channels_last"


__all__ = ["Tensor", "Variable", "GradientTape", "floatx", "epsilon", "set_epsilon",
           "standardize_dtype", "clear_session", "get_uid", "is_tensor", "image_data_format"]
