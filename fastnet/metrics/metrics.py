"""Metric classes and functions with Keras 3's names, defaults and formulas."""

from __future__ import annotations

import re

import numpy as np


def _np(x):
    return np.asarray(x)


def _camel_to_snake(name):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


# ---- functions: per-sample values -------------------------------------------------

def accuracy(y_true, y_pred):
    y_true, y_pred = _np(y_true), _np(y_pred)
    return (y_true == y_pred).astype(np.float32)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    y_true, y_pred = _np(y_true), _np(y_pred)
    return np.mean((y_true == (y_pred > threshold)).astype(np.float32), axis=-1)


def categorical_accuracy(y_true, y_pred):
    return (np.argmax(_np(y_true), -1) == np.argmax(_np(y_pred), -1)).astype(np.float32)


def sparse_categorical_accuracy(y_true, y_pred):
    y_true, y_pred = _np(y_true), _np(y_pred)
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    return (y_true.astype(np.int64) == np.argmax(y_pred, -1)).astype(np.float32)


def _in_top_k(y_pred, labels, k):
    # A label counts when fewer than k classes score strictly higher (TF's in_top_k).
    target = np.take_along_axis(y_pred, labels[..., None], -1)
    return (np.sum(y_pred > target, axis=-1) < k).astype(np.float32)


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    return _in_top_k(_np(y_pred), np.argmax(_np(y_true), -1), k)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5):
    y_true, y_pred = _np(y_true), _np(y_pred)
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    return _in_top_k(y_pred, y_true.astype(np.int64), k)


def mean_squared_error(y_true, y_pred):
    return np.mean(np.square(_np(y_pred) - _np(y_true)), axis=-1)


def mean_absolute_error(y_true, y_pred):
    return np.mean(np.abs(_np(y_pred) - _np(y_true)), axis=-1)


# ---- stateful metrics -------------------------------------------------------------

class Metric:
    """Base class: subclasses implement update_state, result and reset_state."""

    def __init__(self, name=None, dtype=None):
        self.name = name or _camel_to_snake(type(self).__name__)
        self.dtype = dtype or "float32"

    def update_state(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must implement update_state")

    def result(self):
        raise NotImplementedError(f"{type(self).__name__} must implement result")

    def reset_state(self):
        raise NotImplementedError(f"{type(self).__name__} must implement reset_state")

    def __call__(self, *args, **kwargs):
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


def _weighted(values, sample_weight):
    values = np.asarray(values, dtype=np.float64)
    if sample_weight is None:
        return float(values.sum()), float(values.size)
    w = np.asarray(sample_weight, dtype=np.float64)
    while w.ndim > values.ndim and w.shape[-1] == 1:
        w = w[..., 0]
    while w.ndim < values.ndim:
        w = w[..., None]
    w = np.broadcast_to(w, values.shape)
    return float((values * w).sum()), float(w.sum())


class Sum(Metric):
    def __init__(self, name="sum", dtype=None):
        super().__init__(name, dtype)
        self.reset_state()

    def reset_state(self):
        self.total = 0.0

    def update_state(self, values, sample_weight=None):
        self.total += _weighted(values, sample_weight)[0]

    def result(self):
        return np.float32(self.total)


class Mean(Metric):
    """Weighted mean of all values seen since the last reset."""

    def __init__(self, name="mean", dtype=None):
        super().__init__(name, dtype)
        self.reset_state()

    def reset_state(self):
        self.total = 0.0
        self.count = 0.0

    def update_state(self, values, sample_weight=None):
        t, c = _weighted(values, sample_weight)
        self.total += t
        self.count += c

    def result(self):
        return np.float32(self.total / self.count) if self.count else np.float32(0.0)


class MeanMetricWrapper(Mean):
    """Mean of fn(y_true, y_pred, **kwargs) over samples."""

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        super().__init__(name=name or fn.__name__, dtype=dtype)
        self.fn = fn
        self.fn_kwargs = kwargs

    def update_state(self, y_true, y_pred, sample_weight=None):
        super().update_state(self.fn(y_true, y_pred, **self.fn_kwargs), sample_weight)

    def get_config(self):
        return {**super().get_config(), **self.fn_kwargs}


class Accuracy(MeanMetricWrapper):
    def __init__(self, name="accuracy", dtype=None):
        super().__init__(accuracy, name, dtype)

    def get_config(self):
        return Metric.get_config(self)


class BinaryAccuracy(MeanMetricWrapper):
    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(binary_accuracy, name, dtype, threshold=threshold)


class CategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name, dtype)

    def get_config(self):
        return Metric.get_config(self)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name, dtype)

    def get_config(self):
        return Metric.get_config(self)


class TopKCategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(top_k_categorical_accuracy, name, dtype, k=k)


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None):
        super().__init__(sparse_top_k_categorical_accuracy, name, dtype, k=k)


class MeanSquaredError(MeanMetricWrapper):
    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, name, dtype)

    def get_config(self):
        return Metric.get_config(self)


class MeanAbsoluteError(MeanMetricWrapper):
    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, name, dtype)

    def get_config(self):
        return Metric.get_config(self)


class RootMeanSquaredError(Mean):
    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name, dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        super().update_state(np.square(_np(y_pred) - _np(y_true)), sample_weight)

    def result(self):
        return np.float32(np.sqrt(super().result()))


class _ConfusionMetric(Metric):
    """Counts at one or more thresholds (predictions > threshold are positive)."""

    def __init__(self, thresholds=None, name=None, dtype=None, default=0.5):
        super().__init__(name, dtype)
        self.init_thresholds = thresholds
        self.thresholds = np.atleast_1d(np.asarray(default if thresholds is None else thresholds,
                                                   dtype=np.float64))
        self.reset_state()

    def reset_state(self):
        n = len(self.thresholds)
        self.tp, self.fp, self.fn, self.tn = (np.zeros(n) for _ in range(4))

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = _np(y_true).astype(np.float64)
        y_pred = _np(y_pred).astype(np.float64)
        if y_true.size != y_pred.size:
            raise ValueError(f"{self.name}: y_true has shape {y_true.shape} but y_pred has "
                             f"shape {y_pred.shape}")
        y_true = y_true.reshape(y_pred.shape)
        if sample_weight is None:
            w = np.ones(y_pred.size)
        else:  # one weight per sample (first axis), spread over that sample's values
            sw = np.asarray(sample_weight, dtype=np.float64).reshape(-1)
            w = np.repeat(sw, y_pred.size // max(sw.size, 1)) if sw.size != y_pred.size else sw
        y_true, y_pred = y_true.reshape(-1), y_pred.reshape(-1)
        pos = y_true > 0.5
        pred = y_pred[None, :] > self.thresholds[:, None]
        self.tp += (pred & pos).astype(np.float64) @ w
        self.fp += (pred & ~pos).astype(np.float64) @ w
        self.fn += (~pred & pos).astype(np.float64) @ w
        self.tn += (~pred & ~pos).astype(np.float64) @ w

    def get_config(self):
        return {**super().get_config(), "thresholds": self.init_thresholds}


class Precision(_ConfusionMetric):
    def __init__(self, thresholds=None, top_k=None, class_id=None, name="precision", dtype=None):
        super().__init__(thresholds, name, dtype)

    def result(self):
        d = self.tp + self.fp
        r = np.where(d > 0, self.tp / np.where(d > 0, d, 1), 0.0)
        return np.float32(r[0]) if r.size == 1 else r.astype(np.float32)


class Recall(_ConfusionMetric):
    def __init__(self, thresholds=None, top_k=None, class_id=None, name="recall", dtype=None):
        super().__init__(thresholds, name, dtype)

    def result(self):
        d = self.tp + self.fn
        r = np.where(d > 0, self.tp / np.where(d > 0, d, 1), 0.0)
        return np.float32(r[0]) if r.size == 1 else r.astype(np.float32)


class AUC(_ConfusionMetric):
    """Area under the ROC (or PR) curve by Riemann sum over `num_thresholds`
    evenly spaced thresholds (Keras's interpolation 'interpolation')."""

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation",
                 name="auc", dtype=None, thresholds=None, multi_label=False, num_labels=None,
                 label_weights=None, from_logits=False):
        if num_thresholds <= 1:
            raise ValueError(f"AUC: num_thresholds must be > 1, got {num_thresholds}")
        self.num_thresholds = num_thresholds
        self.curve = curve.upper()
        self.summation_method = summation_method
        self.from_logits = from_logits
        eps = 1e-7
        ts = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        super().__init__([-eps] + ts + [1.0 + eps], name, dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = _np(y_pred)
        if self.from_logits:
            y_pred = 1.0 / (1.0 + np.exp(-y_pred))
        super().update_state(y_true, y_pred, sample_weight)

    def result(self):
        tp, fp, fn, tn = self.tp, self.fp, self.fn, self.tn
        if self.curve == "PR":
            x = tp / np.maximum(tp + fn, 1e-12)   # recall
            y = tp / np.maximum(tp + fp, 1e-12)   # precision
        else:
            x = fp / np.maximum(fp + tn, 1e-12)   # FPR
            y = tp / np.maximum(tp + fn, 1e-12)   # TPR
        if self.summation_method == "minoring":
            h = np.minimum(y[:-1], y[1:])
        elif self.summation_method == "majoring":
            h = np.maximum(y[:-1], y[1:])
        else:
            h = (y[:-1] + y[1:]) / 2.0
        return np.float32(np.sum((x[:-1] - x[1:]) * h))

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "num_thresholds": self.num_thresholds,
                "curve": self.curve, "summation_method": self.summation_method,
                "from_logits": self.from_logits}


_BY_NAME = {
    "accuracy": Accuracy, "acc": Accuracy,
    "binary_accuracy": BinaryAccuracy, "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "top_k_categorical_accuracy": TopKCategoricalAccuracy,
    "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy,
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "rmse": RootMeanSquaredError, "root_mean_squared_error": RootMeanSquaredError,
    "auc": AUC, "precision": Precision, "recall": Recall,
}
for _cls in set(_BY_NAME.values()):
    _BY_NAME[_cls.__name__] = _cls


def _registered(name):
    from fastnet.saving import object_registration

    return object_registration.lookup([name], fuzzy=True)


def get(identifier):
    """A Metric from a name, a Metric, a class or a function (wrapped in a Mean)."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier) or _registered(identifier)
        if cls is None:
            raise ValueError(f"Unknown metric: {identifier!r}. Known: {sorted(_BY_NAME)}")
        return cls()
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if callable(identifier):
        return MeanMetricWrapper(identifier, name=getattr(identifier, "__name__", None))
    raise ValueError(f"Could not interpret metric identifier: {identifier!r}")
