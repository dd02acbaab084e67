"""Loss functions and classes with Keras 3's names, defaults and formulas.

Functions return one value per sample (the mean over the last axis where
Keras takes it); classes apply sample weights and the reduction
(``"sum_over_batch_size"`` by default: the weighted sum divided by the number
of values, as Keras 3).
"""

from __future__ import annotations

import numpy as np

from fastnet import ops
from fastnet.ops.nn import _binary_crossentropy_mean, without_logits

EPSILON = 1e-7
REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


def _expand_last(x):
    return np.expand_dims(x, -1) if isinstance(x, np.ndarray) else ops.expand_dims(x, -1)


def _squeeze_last(x):
    return np.squeeze(x, -1) if isinstance(x, np.ndarray) else ops.squeeze(x, axis=-1)


def squeeze_or_expand_to_same_rank(x1, x2, expand_rank_1=True):
    """Keras 3's rank reconciliation: when the ranks differ by exactly one and the
    higher-rank operand ends in an axis of size 1, squeeze that axis — or, when the
    other operand has rank 1 (and `expand_rank_1`), expand that one instead, so
    ``(n,)`` against ``(n, 1)`` gives two ``(n, 1)`` operands. Anything else is
    returned unchanged. Works on Tensors and numpy arrays (views, no copies)."""
    r1, r2 = len(x1.shape), len(x2.shape)
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = _expand_last(x2)
        else:
            x1 = _squeeze_last(x1)
    elif r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = _expand_last(x1)
        else:
            x2 = _squeeze_last(x2)
    return x1, x2


def match_shapes(y_true, y_pred, what, reconcile=True, hint=""):
    """(y_true, y_pred) of one shape, or a ValueError naming both shapes.

    With `reconcile` the ranks are first reconciled as Keras does (a trailing axis
    of size 1 squeezed or added); shapes that still differ are refused, never
    broadcast against each other."""
    t0, p0 = tuple(y_true.shape), tuple(y_pred.shape)
    if t0 == p0:
        return y_true, y_pred
    if reconcile:
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        if tuple(y_true.shape) == tuple(y_pred.shape):
            return y_true, y_pred
    rule = ("the same shape, or shapes that differ only by a trailing axis of size 1 "
            "(e.g. (n,) and (n, 1))" if reconcile else "the same shape")
    raise ValueError(f"{what}: y_true and y_pred have incompatible shapes: "
                     f"y_true.shape={t0}, y_pred.shape={p0}. They must have {rule}; targets "
                     f"are never broadcast against predictions.{hint}")


def call_reconciled(fn, y_true, y_pred, what, kwargs):
    """fn(y_true, y_pred, **kwargs) on rank-reconciled operands (Keras's
    LossFunctionWrapper); an error the function raises on the reconciled shapes is
    re-raised naming the shapes the caller gave."""
    t0, p0 = tuple(y_true.shape), tuple(y_pred.shape)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    try:
        return fn(y_true, y_pred, **kwargs)
    except ValueError as e:
        if (tuple(y_true.shape), tuple(y_pred.shape)) == (t0, p0):
            raise
        raise ValueError(f"{what} (given y_true.shape={t0}, y_pred.shape={p0}): {e}") from e


def _prep(y_true, y_pred, what, reconcile=True, hint=""):
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = ops.convert_to_tensor(y_true)
    if y_true.dtype != y_pred.dtype:
        y_true = ops.cast(y_true, y_pred.dtype)
    return match_shapes(y_true, y_pred, what, reconcile, hint)


def mean_squared_error(y_true, y_pred):
    y_true, y_pred = _prep(y_true, y_pred, "mean_squared_error")
    return ops.mean(ops.square(y_pred - y_true), axis=-1)


def mean_absolute_error(y_true, y_pred):
    y_true, y_pred = _prep(y_true, y_pred, "mean_absolute_error")
    return ops.mean(ops.abs(y_pred - y_true), axis=-1)


def mean_absolute_percentage_error(y_true, y_pred):
    y_true, y_pred = _prep(y_true, y_pred, "mean_absolute_percentage_error")
    diff = ops.abs((y_true - y_pred) / ops.maximum(ops.abs(y_true), EPSILON))
    return 100.0 * ops.mean(diff, axis=-1)


def mean_squared_logarithmic_error(y_true, y_pred):
    y_true, y_pred = _prep(y_true, y_pred, "mean_squared_logarithmic_error")
    a = ops.log(ops.maximum(y_pred, EPSILON) + 1.0)
    b = ops.log(ops.maximum(y_true, EPSILON) + 1.0)
    return ops.mean(ops.square(a - b), axis=-1)


def huber(y_true, y_pred, delta=1.0):
    y_true, y_pred = _prep(y_true, y_pred, "huber")
    err = ops.abs(y_pred - y_true)
    quad = ops.minimum(err, delta)
    return ops.mean(0.5 * ops.square(quad) + delta * (err - quad), axis=-1)


def log_cosh(y_true, y_pred):
    y_true, y_pred = _prep(y_true, y_pred, "log_cosh")
    x = y_pred - y_true
    # log(cosh(x)) = x + softplus(-2x) - log(2), stable for large |x|
    return ops.mean(x + ops.softplus(-2.0 * x) - float(np.log(2.0)), axis=-1)


def kl_divergence(y_true, y_pred):
    y_true, y_pred = _prep(y_true, y_pred, "kl_divergence", reconcile=False)
    y_true = ops.clip(y_true, EPSILON, 1.0)
    y_pred = ops.clip(y_pred, EPSILON, 1.0)
    return ops.sum(y_true * ops.log(y_true / y_pred), axis=-1)


def poisson(y_true, y_pred):
    y_true, y_pred = _prep(y_true, y_pred, "poisson", reconcile=False)
    return ops.mean(y_pred - y_true * ops.log(y_pred + EPSILON), axis=-1)


def _to_signed(y_true):
    # Keras maps {0, 1} labels to {-1, 1} for the hinge losses; other labels pass through.
    return 2.0 * y_true - 1.0 if _all_binary(y_true) else y_true


def _all_binary(y):
    a = np.asarray(y)
    return a.size > 0 and bool(np.all((a == 0) | (a == 1)))


def hinge(y_true, y_pred):
    y_true, y_pred = _prep(y_true, y_pred, "hinge", reconcile=False)
    y_true = _to_signed(y_true)
    return ops.mean(ops.maximum(1.0 - y_true * y_pred, 0.0), axis=-1)


def squared_hinge(y_true, y_pred):
    y_true, y_pred = _prep(y_true, y_pred, "squared_hinge", reconcile=False)
    y_true = _to_signed(y_true)
    return ops.mean(ops.square(ops.maximum(1.0 - y_true * y_pred, 0.0)), axis=-1)


def categorical_hinge(y_true, y_pred):
    y_true, y_pred = _prep(y_true, y_pred, "categorical_hinge", reconcile=False)
    pos = ops.sum(y_true * y_pred, axis=-1)
    neg = ops.max((1.0 - y_true) * y_pred, axis=-1)
    return ops.maximum(neg - pos + 1.0, 0.0)


def cosine_similarity(y_true, y_pred, axis=-1):
    y_true, y_pred = _prep(y_true, y_pred, "cosine_similarity")

    def l2n(x):
        return x / ops.sqrt(ops.maximum(ops.sum(ops.square(x), axis=axis, keepdims=True), 1e-12))

    return -ops.sum(l2n(y_true) * l2n(y_pred), axis=axis)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    y_true, y_pred = _prep(y_true, y_pred, "categorical_crossentropy", reconcile=False,
                           hint=" If your targets are integer class indices, use "
                                "sparse_categorical_crossentropy.")
    if label_smoothing:
        n = y_pred.shape[axis]
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / n
    return ops.categorical_crossentropy(y_true, y_pred, from_logits=from_logits, axis=axis)


def sparse_labels(y_true, y_pred, what, axis=-1):
    """Integer class labels for `y_pred` (classes on `axis`): of shape y_pred's shape
    without `axis`, or that with a trailing axis of size 1 (squeezed, as Keras);
    any other shape raises naming both. Float labels are accepted (the caller casts)."""
    t0, p0 = tuple(y_true.shape), tuple(y_pred.shape)
    if not p0:
        raise ValueError(f"{what}: y_pred must have a class axis; received y_pred.shape={p0}")
    axis = axis % len(p0)
    expected = p0[:axis] + p0[axis + 1:]
    if t0 == expected:
        return y_true
    if len(t0) == len(p0) and t0[axis] == 1 and t0[:axis] + t0[axis + 1:] == expected:
        return np.squeeze(y_true, axis) if isinstance(y_true, np.ndarray) else \
            ops.squeeze(y_true, axis=axis)
    raise ValueError(
        f"{what}: y_true and y_pred have incompatible shapes: y_true.shape={t0}, "
        f"y_pred.shape={p0}. Sparse targets are class indices of shape {expected} (or with "
        "a size-1 axis in place of the class axis); for one-hot targets use the "
        "categorical (non-sparse) version.")


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None,
                                    axis=-1):
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = ops.convert_to_tensor(y_true)
    y_true = sparse_labels(y_true, y_pred, "sparse_categorical_crossentropy", axis)
    if ignore_class is not None:
        # As Keras, which masks y_pred (ops.where) first: no cached softmax logits here
        y_pred = without_logits(y_pred)
        keep = ops.not_equal(y_true, ignore_class)
        safe = ops.where(keep, y_true, 0)
        loss = ops.sparse_categorical_crossentropy(ops.cast(safe, "int32"), y_pred,
                                                   from_logits=from_logits, axis=axis)
        return loss * ops.cast(keep, loss.dtype)
    return ops.sparse_categorical_crossentropy(ops.cast(y_true, "int32"), y_pred,
                                               from_logits=from_logits, axis=axis)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    y_true, y_pred = _prep(y_true, y_pred, "binary_crossentropy", reconcile=False)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    return _binary_crossentropy_mean(y_true, y_pred, from_logits=from_logits, axis=axis)


def binary_focal_crossentropy(y_true, y_pred, apply_class_balancing=False, alpha=0.25,
                              gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1):
    y_true, y_pred = _prep(y_true, y_pred, "binary_focal_crossentropy", reconcile=False)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    probs = ops.sigmoid(y_pred) if from_logits else y_pred
    bce = ops.binary_crossentropy(y_true, y_pred, from_logits=from_logits)
    p_t = y_true * probs + (1.0 - y_true) * (1.0 - probs)
    focal = ops.power(1.0 - p_t, gamma) * bce
    if apply_class_balancing:
        focal = (y_true * alpha + (1.0 - y_true) * (1.0 - alpha)) * focal
    return ops.mean(focal, axis=axis)


def _weigh(values, sample_weight, what="loss"):
    """(values * w, w): sample weights reconciled with the loss values as Keras does
    (squeeze_or_expand_to_same_rank). A weight of lower rank still left (per-sample
    weights for per-timestep values) is aligned on the leading axes, as Keras's
    metrics do; any other mismatch raises naming both shapes."""
    w = ops.convert_to_tensor(sample_weight)
    if w.dtype != values.dtype:
        w = ops.cast(w, values.dtype)
    v0, w0 = tuple(values.shape), tuple(w.shape)
    if v0 != w0:
        values, w = squeeze_or_expand_to_same_rank(values, w)
        if w.ndim < values.ndim:
            w = ops.reshape(w, tuple(w.shape) + (1,) * (values.ndim - w.ndim))
        if w.ndim > values.ndim or any(b not in (a, 1) for a, b in zip(values.shape, w.shape)):
            raise ValueError(f"{what}: sample_weight of shape {w0} does not match the "
                             f"per-sample loss values of shape {v0}; give one weight per "
                             "sample (shape (batch,) or (batch, 1)) or one per loss value.")
    return values * w, w


def _reduce(values, sample_weight, reduction, what="loss"):
    """Keras's reduce_weighted_values: weight, then reduce ('sum_over_batch_size'
    divides by the number of loss values, 'mean_with_sample_weight' by the sum of
    the weights)."""
    w = None
    if sample_weight is not None:
        values, w = _weigh(values, sample_weight, what)
    if reduction in ("none", None) or values.ndim == 0:
        return values
    total = ops.sum(values)
    if reduction == "sum":
        return total
    if reduction == "mean_with_sample_weight" and w is not None:
        divisor = ops.sum(w)
        return total / divisor if float(divisor) != 0.0 else total * 0.0  # divide_no_nan
    n = int(np.prod(values.shape))
    return total / float(n) if n else total


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
        return _reduce(self.call(y_true, y_pred), sample_weight, self.reduction, self.name)

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
        # As Keras: ranks are reconciled here for every wrapped function (so a (n,)
        # target meets a (n, 1) output), then the function sees matching ranks.
        return call_reconciled(self.fn, ops.convert_to_tensor(y_true),
                               ops.convert_to_tensor(y_pred), self.name, self.fn_kwargs)

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
        # as Keras 3 writes it, so Keras finds its own class (module "keras.losses")
        builtin = _CLASSES.get(type(loss).__name__) is type(loss)
        return {"module": "keras.losses" if builtin else type(loss).__module__,
                "class_name": type(loss).__name__, "config": loss.get_config(),
                "registered_name": None if builtin else
                object_registration.get_registered_name(type(loss))}
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
    if name == "function" and isinstance(config.get("config"), str):  # Keras 3's function
        return deserialize(config["config"], custom_objects)  # form: its (registered) name
    cls = object_registration.lookup([config.get("registered_name"), name], custom_objects) or \
        _CLASSES.get(name)
    if cls is None:
        raise ValueError(f"Unknown loss class {name!r}; pass it in custom_objects")
    inner = dict(config.get("config") or {})
    if cls in _CLASSES.values():
        # tf.keras 2 writes its loss classes with the wrapped function's name ("fn") and
        # reduction "auto", which is sum_over_batch_size outside a distribution strategy
        if isinstance(inner.get("fn"), str) and cls is not LossFunctionWrapper:
            inner.pop("fn")
        if inner.get("reduction") == "auto":
            inner["reduction"] = "sum_over_batch_size"
    return cls.from_config(inner)
