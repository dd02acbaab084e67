"""Mean-of-per-sample metrics (MeanAbsolutePercentageError,
MeanSquaredLogarithmicError, CosineSimilarity, LogCoshError, Poisson,
KLDivergence, Hinge, SquaredHinge, CategoricalHinge) and R2Score, with Keras 3's
formulas, epsilons and default names. The per-sample functions are also public
(keras.metrics.mean_absolute_percentage_error, ...)."""

from __future__ import annotations

import warnings

import numpy as np

from fastnet.metrics.confusion_metrics import same_rank
from fastnet.metrics.metrics import MeanMetricWrapper, Metric

EPSILON = 1e-7


def _pair(y_true, y_pred):
    y_pred = np.asarray(y_pred, dtype=np.float32)
    y_true = np.asarray(y_true, dtype=np.float32)
    y_true, y_pred = same_rank(y_true, y_pred)
    return y_true, y_pred


def mean_absolute_percentage_error(y_true, y_pred):
    y_true, y_pred = _pair(y_true, y_pred)
    diff = np.abs((y_true - y_pred) / np.maximum(np.abs(y_true), EPSILON))
    return 100.0 * np.mean(diff, axis=-1)


def mean_squared_logarithmic_error(y_true, y_pred):
    y_true, y_pred = _pair(y_true, y_pred)
    first = np.log(np.maximum(y_pred, EPSILON) + 1.0)
    second = np.log(np.maximum(y_true, EPSILON) + 1.0)
    return np.mean(np.square(first - second), axis=-1)


def _l2_normalize(x, axis):
    return x / np.sqrt(np.maximum(np.sum(np.square(x), axis=axis, keepdims=True), 1e-12))


def cosine_similarity(y_true, y_pred, axis=-1):
    y_true, y_pred = _pair(y_true, y_pred)
    return np.sum(_l2_normalize(y_true, axis) * _l2_normalize(y_pred, axis), axis=axis)


def log_cosh(y_true, y_pred):
    y_true, y_pred = _pair(y_true, y_pred)
    x = (y_pred - y_true).astype(np.float64)
    return np.mean(x + np.logaddexp(0.0, -2.0 * x) - np.log(2.0), axis=-1)


def poisson(y_true, y_pred):
    y_true, y_pred = _pair(y_true, y_pred)
    return np.mean(y_pred - y_true * np.log(y_pred + EPSILON), axis=-1)


def kl_divergence(y_true, y_pred):
    y_true, y_pred = _pair(y_true, y_pred)
    y_true = np.clip(y_true, EPSILON, 1.0)
    y_pred = np.clip(y_pred, EPSILON, 1.0)
    return np.sum(y_true * np.log(y_true / y_pred), axis=-1)


def huber(y_true, y_pred, delta=1.0):
    y_true, y_pred = _pair(y_true, y_pred)
    err = np.abs(y_pred - y_true).astype(np.float64)
    quad = np.minimum(err, delta)
    return np.mean(0.5 * quad ** 2 + delta * (err - quad), axis=-1)


def _hinge_labels(y_true):
    # {0, 1} labels become {-1, 1}; any other labels are used as given.
    if np.all((y_true == 0) | (y_true == 1)):
        return 2.0 * y_true - 1.0
    return y_true


def hinge(y_true, y_pred):
    y_true, y_pred = _pair(y_true, y_pred)
    return np.mean(np.maximum(1.0 - _hinge_labels(y_true) * y_pred, 0.0), axis=-1)


def squared_hinge(y_true, y_pred):
    y_true, y_pred = _pair(y_true, y_pred)
    return np.mean(np.square(np.maximum(1.0 - _hinge_labels(y_true) * y_pred, 0.0)), axis=-1)


def categorical_hinge(y_true, y_pred):
    y_true, y_pred = _pair(y_true, y_pred)
    pos = np.sum(y_true * y_pred, axis=-1)
    neg = np.max((1.0 - y_true) * y_pred, axis=-1)
    return np.maximum(neg - pos + 1.0, 0.0)


class _Wrapper(MeanMetricWrapper):
    _fn = None
    _default_name = None

    def __init__(self, name=None, dtype=None):
        super().__init__(type(self)._fn, name or self._default_name, dtype)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


class MeanAbsolutePercentageError(_Wrapper):
    _direction = "down"  # which way callbacks' mode="auto" improves
    _fn = staticmethod(mean_absolute_percentage_error)
    _default_name = "mean_absolute_percentage_error"


class MeanSquaredLogarithmicError(_Wrapper):
    _direction = "down"  # which way callbacks' mode="auto" improves
    _fn = staticmethod(mean_squared_logarithmic_error)
    _default_name = "mean_squared_logarithmic_error"


class LogCoshError(_Wrapper):
    _direction = "down"  # which way callbacks' mode="auto" improves
    _fn = staticmethod(log_cosh)
    _default_name = "logcosh"


class Poisson(_Wrapper):
    _direction = "down"  # which way callbacks' mode="auto" improves
    _fn = staticmethod(poisson)
    _default_name = "poisson"


class KLDivergence(_Wrapper):
    _direction = "down"  # which way callbacks' mode="auto" improves
    _fn = staticmethod(kl_divergence)
    _default_name = "kl_divergence"


class Hinge(_Wrapper):
    _direction = "down"  # which way callbacks' mode="auto" improves
    _fn = staticmethod(hinge)
    _default_name = "hinge"


class SquaredHinge(_Wrapper):
    _direction = "down"  # which way callbacks' mode="auto" improves
    _fn = staticmethod(squared_hinge)
    _default_name = "squared_hinge"


class CategoricalHinge(_Wrapper):
    _direction = "down"  # which way callbacks' mode="auto" improves
    _fn = staticmethod(categorical_hinge)
    _default_name = "categorical_hinge"


class CosineSimilarity(MeanMetricWrapper):
    """Mean cosine similarity between y_true and y_pred along `axis`."""
    _direction = "up"  # which way callbacks' mode="auto" improves

    def __init__(self, name="cosine_similarity", dtype=None, axis=-1):
        super().__init__(cosine_similarity, name, dtype, axis=axis)
        self.axis = axis


class R2Score(Metric):
    """Coefficient of determination (per output, then aggregated); `num_regressors`
    > 0 gives the adjusted R2."""
    _direction = "up"  # which way callbacks' mode="auto" improves

    def __init__(self, class_aggregation="uniform_average", num_regressors=0, name="r2_score",
                 dtype=None):
        valid = (None, "uniform_average", "variance_weighted_average")
        if class_aggregation not in valid:
            raise ValueError(f"Invalid value for argument `class_aggregation`. Expected one of "
                             f"{valid}. Received: class_aggregation={class_aggregation}")
        if num_regressors < 0:
            raise ValueError("Invalid value for argument `num_regressors`. Expected a value "
                             f">= 0. Received: num_regressors={num_regressors}")
        super().__init__(name, dtype)
        self.class_aggregation = class_aggregation
        self.num_regressors = num_regressors
        self.reset_state()

    def reset_state(self):
        self.num_samples = 0
        self.sum = self.squared_sum = self.total_mse = self.count = None

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = _pair(y_true, y_pred)
        y_true, y_pred = y_true.astype(np.float64), y_pred.astype(np.float64)
        if y_pred.ndim != 2 or y_true.ndim != 2:
            raise ValueError("R2Score expects 2D inputs with shape (batch_size, output_dim). "
                             f"Received input shapes: y_pred.shape={y_pred.shape} and "
                             f"y_true.shape={y_true.shape}.")
        sw = np.asarray(1.0 if sample_weight is None else sample_weight, np.float64)
        if sw.ndim == 1:
            sw = sw[:, None]
        sw = np.broadcast_to(sw, y_true.shape)
        k = y_true.shape[-1]
        if self.sum is None:
            self.sum, self.squared_sum, self.total_mse, self.count = (np.zeros(k)
                                                                      for _ in range(4))
        elif k != len(self.sum):
            raise ValueError(f"R2Score: y_true has {k} outputs but earlier batches had "
                             f"{len(self.sum)}")
        wy = y_true * sw
        self.sum += wy.sum(axis=0)
        self.squared_sum += (y_true * wy).sum(axis=0)
        self.total_mse += ((y_true - y_pred) ** 2 * sw).sum(axis=0)
        self.count += sw.sum(axis=0)
        self.num_samples += y_true.size

    def result(self):
        if self.sum is None:
            return np.float32(0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = self.sum / self.count
            total = self.squared_sum - self.sum * mean
            raw = 1.0 - self.total_mse / total
        raw = np.where(np.isinf(raw), 0.0, raw)
        if self.class_aggregation == "uniform_average":
            r2 = np.mean(raw)
        elif self.class_aggregation == "variance_weighted_average":
            r2 = np.sum(total * raw) / np.sum(total)
        else:
            r2 = raw
        if self.num_regressors != 0:
            n, p = self.num_samples, self.num_regressors
            if p > n - 1:
                warnings.warn("More independent predictors than datapoints in adjusted R2 "
                              "score. Falling back to standard R2 score.", stacklevel=2)
            elif p == n - 1:
                warnings.warn("Division by zero in Adjusted R2 score. Falling back to standard "
                              "R2 score.", stacklevel=2)
            else:
                r2 = 1.0 - (1.0 - r2) * (n - 1.0) / (n - p - 1.0)
        return np.asarray(r2, dtype=np.float32)[()]

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype,
                "class_aggregation": self.class_aggregation,
                "num_regressors": self.num_regressors}
