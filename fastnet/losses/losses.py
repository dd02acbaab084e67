"""Loss functions and classes with Keras 3's names, defaults and formulas.

Functions return one value per sample (the mean over the last axis where
Keras takes it); classes apply sample weights and the reduction
(``"sum_over_batch_size"`` by default: the weighted sum divided by the number
of values, as Keras 3).
"""

from __future__ import annotations

import numpy as np

from fastnet import ops
from fastnet.ops.nn import _binary_crossentropy_mean

EPSILON = 1e-7
REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


def _prep(y_true, y_pred):
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = ops.convert_to_tensor(y_true)
    if y_true.dtype != y_pred.dtype:
        y_true = ops.cast(y_true, y_pred.dtype)
    return y_true, y_pred


def mean_squared_error(y_true, y_pred):
    y_true, y_pred = _prep(y_true, y_pred)
    return ops.mean(ops.square(y_pred - y_true), axis=-1)


def mean_absolute_error(y_true, y_pred):
    y_true, y_pred = _prep(y_true, y_pred)
    return ops.mean(ops.abs(y_pred - y_true), axis=-1)


def mean_absolute_percentage_error(y_true, y_pred):
    y_true, y_pred = _prep(y_true, y_pred)
    diff = ops.abs((y_true - y_pred) / ops.maximum(ops.abs(y_true), EPSILON))
    return 100.0 * ops.mean(diff, axis=-1)


def mean_squared_logarithmic_error(y_true, y_pred):
    y_true, y_pred = _prep(y_true, y_pred)
    a = ops.log(ops.maximum(y_pred, EPSILON) + 1.0)
    b = ops.log(ops.maximum(y_true, EPSILON) + 1.0)
    return ops.mean(ops.square(a - b), axis=-1)


def huber(y_true, y_pred, delta=1.0):
    y_true, y_pred = _prep(y_true, y_pred)
    err = ops.abs(y_pred - y_true)
    quad = ops.minimum(err, delta)
    return ops.mean(0.5 * ops.square(quad) + delta * (err - quad), axis=-1)


def log_cosh(y_true, y_pred):
    y_true, y_pred = _prep(y_true, y_pred)
    x = y_pred - y_true
    # log(cosh(x)) = x + softplus(-2x) - log(2), stable for large |x|
    return ops.mean(x + ops.softplus(-2.0 * x) - float(np.log(2.0)), axis=-1)


def kl_divergence(y_true, y_pred):
    y_true, y_pred = _prep(y_true, y_pred)
    y_true = ops.clip(y_true, EPSILON, 1.0)
    y_pred = ops.clip(y_pred, EPSILON, 1.0)
    return ops.sum(y_true * ops.log(y_true / y_pred), axis=-1)


def poisson(y_true, y_pred):
    y_true, y_pred = _prep(y_true, y_pred)
    return ops.mean(y_pred - y_true * ops.log(y_pred + EPSILON), axis=-1)


def _to_signed(y_true):
    # Keras maps {0, 1} labels to {-1, 1} for the hinge losses; other labels pass through.
    return 2.0 * y_true - 1.0 if _all_binary(y_true) else y_true


def _all_binary(y):
    a = np.asarray(y)
    return a.size > 0 and bool(np.all((a == 0) | (a == 1)))


def hinge(y_true, y_pred):
    y_true, y_pred = _prep(y_true, y_pred)
    y_true = _to_signed(y_true)
    return ops.mean(ops.maximum(1.0 - y_true * y_pred, 0.0), axis=-1)


def squared_hinge(y_true, y_pred):
    y_true, y_pred = _prep(y_true, y_pred)
    y_true = _to_signed(y_true)
    return ops.mean(ops.square(ops.maximum(1.0 - y_true * y_pred, 0.0)), axis=-1)


def categorical_hinge(y_true, y_pred):
    y_true, y_pred = _prep(y_true, y_pred)
    pos = ops.sum(y_true * y_pred, axis=-1)
    neg = ops.max((1.0 - y_true) * y_pred, axis=-1)
    return ops.maximum(neg - pos + 1.0, 0.0)


def cosine_similarity(y_true, y_pred, axis=-1):
    y_true, y_pred = _prep(y_true, y_pred)

    def l2n(x):
        return x / ops.sqrt(ops.maximum(ops.sum(ops.square(x), axis=axis, keepdims=True), 1e-12))

    return -ops.sum(l2n(y_true) * l2n(y_pred), axis=axis)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    y_true, y_pred = _prep(y_true, y_pred)
    if tuple(y_true.shape) != tuple(y_pred.shape):
        raise ValueError(
            "Arguments `target` and `output` must have the same shape. Received: "
            f"target.shape={tuple(y_true.shape)}, output.shape={tuple(y_pred.shape)}. If your "
            "targets are integer class indices, use sparse_categorical_crossentropy.")
    if label_smoothing:
        n = y_pred.shape[axis]
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / n
    return ops.categorical_crossentropy(y_true, y_pred, from_logits=from_logits, axis=axis)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None,
                                    axis=-1):
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = ops.convert_to_tensor(y_true)
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = ops.squeeze(y_true, axis=-1)
    if ignore_class is not None:
        keep = ops.not_equal(y_true, ignore_class)
        safe = ops.where(keep, y_true, 0)
        loss = ops.sparse_categorical_crossentropy(ops.cast(safe, "int32"), y_pred,
                                                   from_logits=from_logits, axis=axis)
        return loss * ops.cast(keep, loss.dtype)
    return ops.sparse_categorical_crossentropy(ops.cast(y_true, "int32"), y_pred,
                                               from_logits=from_logits, axis=axis)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    y_true, y_pred = _prep(y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    return _binary_crossentropy_mean(y_true, y_pred, from_logits=from_logits, axis=axis)


def binary_focal_crossentropy(y_true, y_pred, apply_class_balancing=False, alpha=0.25,
                              gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1):
    y_true, y_pred = _prep(y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    probs = ops.sigmoid(y_pred) if from_logits else y_pred
    bce = ops.binary_crossentropy(y_true, y_pred, from_logits=from_logits)
    p_t = y_true * probs + (1.0 - y_true) * (1.0 - probs)
    focal = ops.power(1.0 - p_t, gamma) * bce
    if apply_class_balancing:
        focal = (y_true * alpha + (1.0 - y_true) * (1.0 - alpha)) * focal
    return ops.mean(focal, axis=axis)


def _reduce(values, sample_weight, reduction):
    if sample_weight is not None:
        w = ops.convert_to_tensor(sample_weight)
        if w.dtype != values.dtype:
            w = ops.cast(w, values.dtype)
        # Align a per-sample weight vector with per-sample loss values.
        while w.ndim > values.ndim and w.shape[-1] == 1:
            w = ops.squeeze(w, axis=-1)
        while w.ndim < values.ndim:
            w = ops.expand_dims(w, -1)
        values = values * w
    if reduction in ("none", None):
        return values
    total = ops.sum(values)
    if reduction == "sum":
        return total
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        return total / ops.maximum(ops.sum(w * ops.ones_like(values)), EPSILON)
    n = int(np.prod(values.shape)) if values.ndim else 1
    return total / float(max(n, 1))


class Loss:
    """Base class: subclasses implement ``call(y_true, y_pred)`` returning per-sample values."""

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        if reduction not in REDUCTIONS:
            raise ValueError(f"Invalid value for argument `reduction`. Expected one of "
                             f"{REDUCTIONS[:-1]}. Received: reduction={reduction!r}")
        self.name = name or _snake(type(self).__name__)
        self.reduction = reduction
        self.dtype = dtype

    def call(self, y_true, y_pred):
        raise NotImplementedError(f"{type(self).__name__} must implement call")

    def __call__(self, y_true, y_pred, sample_weight=None):
        return _reduce(self.call(y_true, y_pred), sample_weight, self.reduction)

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _snake(name):
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i and (not name[i - 1].isupper() or
                                   (i + 1 < len(name) and name[i + 1].islower())):
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


class LossFunctionWrapper(Loss):
    def __init__(self, fn, reduction="sum_over_batch_size", name=None, **kwargs):
        super().__init__(name=name or fn.__name__, reduction=reduction)
        self.fn = fn
        self.fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred, **self.fn_kwargs)

    def get_config(self):
        return {**super().get_config(), **self.fn_kwargs}


def _wrapper(fn, default_name, params=()):
    class _Cls(LossFunctionWrapper):
        def __init__(self, *args, reduction="sum_over_batch_size", name=default_name, **kwargs):
            for pname, arg in zip(params, args):
                kwargs[pname] = arg
            super().__init__(fn, reduction=reduction, name=name, **kwargs)

    return _Cls


class MeanSquaredError(_wrapper(mean_squared_error, "mean_squared_error")):
    pass


class MeanAbsoluteError(_wrapper(mean_absolute_error, "mean_absolute_error")):
    pass


class MeanAbsolutePercentageError(_wrapper(mean_absolute_percentage_error,
                                           "mean_absolute_percentage_error")):
    pass


class MeanSquaredLogarithmicError(_wrapper(mean_squared_logarithmic_error,
                                           "mean_squared_logarithmic_error")):
    pass


class Huber(_wrapper(huber, "huber_loss", ("delta",))):
    pass


class LogCosh(_wrapper(log_cosh, "log_cosh")):
    pass


class KLDivergence(_wrapper(kl_divergence, "kl_divergence")):
    pass


class Poisson(_wrapper(poisson, "poisson")):
    pass


class Hinge(_wrapper(hinge, "hinge")):
    pass


class SquaredHinge(_wrapper(squared_hinge, "squared_hinge")):
    pass


class CategoricalHinge(_wrapper(categorical_hinge, "categorical_hinge")):
    pass


class CosineSimilarity(_wrapper(cosine_similarity, "cosine_similarity", ("axis",))):
    pass


class CategoricalCrossentropy(_wrapper(categorical_crossentropy, "categorical_crossentropy",
                                       ("from_logits", "label_smoothing", "axis"))):
    pass


class SparseCategoricalCrossentropy(_wrapper(sparse_categorical_crossentropy,
                                             "sparse_categorical_crossentropy",
                                             ("from_logits", "ignore_class"))):
    pass


class BinaryCrossentropy(_wrapper(binary_crossentropy, "binary_crossentropy",
                                  ("from_logits", "label_smoothing", "axis"))):
    pass


class BinaryFocalCrossentropy(_wrapper(binary_focal_crossentropy, "binary_focal_crossentropy",
                                       ("apply_class_balancing", "alpha", "gamma",
                                        "from_logits"))):
    pass


_FUNCTIONS = {f.__name__: f for f in (
    mean_squared_error, mean_absolute_error, mean_absolute_percentage_error,
    mean_squared_logarithmic_error, huber, log_cosh, kl_divergence, poisson, hinge,
    squared_hinge, categorical_hinge, cosine_similarity, categorical_crossentropy,
    sparse_categorical_crossentropy, binary_crossentropy, binary_focal_crossentropy)}
_FUNCTIONS.update(mse=mean_squared_error, mae=mean_absolute_error,
                  mape=mean_absolute_percentage_error, msle=mean_squared_logarithmic_error,
                  kld=kl_divergence, kullback_leibler_divergence=kl_divergence,
                  huber_loss=huber, logcosh=log_cosh)
_CLASSES = {c.__name__: c for c in (
    MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError, Huber, LogCosh, KLDivergence, Poisson, Hinge, SquaredHinge,
    CategoricalHinge, CosineSimilarity, CategoricalCrossentropy, SparseCategoricalCrossentropy,
    BinaryCrossentropy, BinaryFocalCrossentropy)}


def get(identifier):
    """A loss callable from a name ('mse', 'categorical_crossentropy', 'Huber', ...),
    a Loss, a Loss class or a function."""
    if identifier is None or isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        if identifier in _FUNCTIONS:
            return _FUNCTIONS[identifier]
        if identifier in _CLASSES:
            return _CLASSES[identifier]()
        from fastnet.saving import object_registration

        obj = object_registration.lookup([identifier], fuzzy=True)
        if obj is not None:
            return obj() if isinstance(obj, type) else obj
        raise ValueError(f"Unknown loss: {identifier!r}. Known: {sorted(_FUNCTIONS)}")
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret loss identifier: {identifier!r}")


def serialize(loss):
    from fastnet.saving import object_registration

    if isinstance(loss, Loss):
        out = {"class_name": type(loss).__name__, "config": loss.get_config()}
        if type(loss).__name__ not in _CLASSES:
            out["registered_name"] = object_registration.get_registered_name(type(loss))
        return out
    if hasattr(loss, "__name__") and loss not in _FUNCTIONS.values():
        return object_registration.get_registered_name(loss)
    return getattr(loss, "__name__", str(loss))


def deserialize(config, custom_objects=None):
    if isinstance(config, str):
        if custom_objects and config in custom_objects:
            return custom_objects[config]
        return get(config)
    from fastnet.saving import object_registration

    name = config["class_name"]
    cls = object_registration.lookup([config.get("registered_name"), name], custom_objects) or \
        _CLASSES.get(name)
    if cls is None:
        raise ValueError(f"Unknown loss class {name!r}; pass it in custom_objects")
    return cls.from_config(config.get("config", {}))
