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


def is_keras_tensor(x):
    """Whether x is a symbolic tensor (``fastnet.Input`` and the layer outputs on it)."""
    from fastnet.backend.symbolic import KerasTensor

    return isinstance(x, KerasTensor)


_IMAGE_DATA_FORMAT = "channels_last"


def image_data_format():
    return _IMAGE_DATA_FORMAT


def set_image_data_format(data_format):
    """The default ``data_format`` of the image layers and ops made afterwards
    (``"channels_last"``, the default, or ``"channels_first"``)."""
    global _IMAGE_DATA_FORMAT
    value = str(data_format).lower()
    if value not in ("channels_first", "channels_last"):
        raise ValueError("The `data_format` argument must be one of {'channels_first', "
                         f"'channels_last'}}. Received: data_format={data_format!r}")
    _IMAGE_DATA_FORMAT = value


def set_floatx(value):
    """The default float dtype. fastnet's kernels compute in float32, so float32 is the
    one accepted value; float64 is available per layer (``dtype="float64"``)."""
    accepted = {"bfloat16", "float16", "float32", "float64"}
    if value not in accepted:
        raise ValueError(f"Unknown `floatx` value: {value!r}. Expected one of {accepted}")
    if value != "float32":
        raise NotImplementedError(f"set_floatx({value!r}) is not implemented in fastnet: its "
                                  "kernels compute in float32 (give `dtype='float64'` to a "
                                  "layer to compute that layer in float64)")


def backend():
    """The name of the backend: ``"fastnet"``.

    fastnet is its own backend, not TensorFlow, JAX or PyTorch, so it names itself: a
    program's ``if keras.backend.backend() == "tensorflow":`` branch would call TensorFlow
    (``tf.GradientTape``, ``tf.data``) on fastnet tensors, and a "torch" or "jax" branch
    would call those libraries, none of which fastnet provides or needs. Code written for
    every backend (keras.ops, ``fastnet.GradientTape`` in a custom ``train_step``) runs
    unchanged; a program that refuses unknown backends says so plainly.
    """
    return "fastnet"


from fastnet.backend.dtypes import is_float_dtype, is_int_dtype, result_type  # noqa: E402

__all__ = ["Tensor", "Variable", "GradientTape", "floatx", "epsilon", "set_epsilon",
           "standardize_dtype", "clear_session", "get_uid", "is_tensor", "image_data_format",
           "set_image_data_format", "set_floatx", "backend", "is_keras_tensor",
           "is_float_dtype", "is_int_dtype", "result_type"]
