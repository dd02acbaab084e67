"""Cross-entropy metrics (BinaryCrossentropy, CategoricalCrossentropy,
SparseCategoricalCrossentropy) and correlation metrics (PearsonCorrelation,
ConcordanceCorrelation), with Keras 3's formulas (epsilon 1e-7 clipping,
label smoothing, from_logits).

As Keras's cross-entropy losses (fastnet/ops/nn.py: keras_logits), the three
cross-entropy metrics given the output tensor of a softmax/sigmoid compute from
the logits it carries."""

from __future__ import annotations

import warnings

import numpy as np

from fastnet.metrics.confusion_metrics import same_rank
from fastnet.metrics.metrics import Mean, MeanMetricWrapper, call_reconciled
from fastnet.ops.nn import keras_logits

EPSILON = 1e-7


def _log_softmax(x, axis):
    x = x - np.max(x, axis=axis, keepdims=True)
    return x - np.log(np.sum(np.exp(x), axis=axis, keepdims=True))


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    y_pred = np.asarray(y_pred, np.float64)
    y_true = np.asarray(y_true, np.float64)
    y_true, y_pred = same_rank(y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        bce = np.maximum(y_pred, 0) - y_pred * y_true + np.log1p(np.exp(-np.abs(y_pred)))
    else:
        p = np.clip(y_pred, EPSILON, 1.0 - EPSILON)
        bce = -(y_true * np.log(p) + (1.0 - y_true) * np.log(1.0 - p))
    return np.mean(bce, axis=axis)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    y_pred = np.asarray(y_pred, np.float64)
    y_true = np.asarray(y_true, np.float64)
    if y_true.shape != y_pred.shape:
        raise ValueError("categorical_crossentropy: y_true and y_pred must have the same shape; "
                         f"received {y_true.shape} and {y_pred.shape}")
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_pred.shape[axis]
    if from_logits:
        logp = _log_softmax(y_pred, axis)
    else:
        p = y_pred / np.sum(y_pred, axis=axis, keepdims=True)
        logp = np.log(np.clip(p, EPSILON, 1.0 - EPSILON))
    return -np.sum(y_true * logp, axis=axis)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None,
                                    axis=-1):
    y_pred = np.asarray(y_pred, np.float64)
    y_true = np.asarray(y_true)
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    labels = y_true.astype(np.int64)
    valid = np.ones(labels.shape, bool) if ignore_class is None else labels != ignore_class
    labels = np.where(valid, labels, 0)
    if from_logits:
        logp = _log_softmax(y_pred, axis)
    else:
        p = y_pred / np.sum(y_pred, axis=axis, keepdims=True)
        logp = np.log(np.clip(p, EPSILON, 1.0 - EPSILON))
    logp = np.moveaxis(logp, axis, -1)
    if labels.size and (labels.min() < 0 or labels.max() >= logp.shape[-1]):
        raise ValueError(f"sparse_categorical_crossentropy: labels must be in [0, "
                         f"{logp.shape[-1]}); received labels in [{labels.min()}, "
                         f"{labels.max()}]")
    out = -np.take_along_axis(logp, labels[..., None], -1)[..., 0]
    return np.where(valid, out, 0.0)


def pearson_correlation(y_true, y_pred, axis=-1):
    y_pred = np.asarray(y_pred, np.float64)
    y_true = np.asarray(y_true, np.float64)
    y_true, y_pred = same_rank(y_true, y_pred)
    t = y_true - np.mean(y_true, axis=axis, keepdims=True)
    p = y_pred - np.mean(y_pred, axis=axis, keepdims=True)
    t = t / np.std(t, axis=axis, keepdims=True)
    p = p / np.std(p, axis=axis, keepdims=True)
    return np.mean(t * p, axis=axis)


def concordance_correlation(y_true, y_pred, axis=-1):
    y_pred = np.asarray(y_pred, np.float64)
    y_true = np.asarray(y_true, np.float64)
    y_true, y_pred = same_rank(y_true, y_pred)
    tm = np.mean(y_true, axis=axis, keepdims=True)
    pm = np.mean(y_pred, axis=axis, keepdims=True)
    tv = np.var(y_true - tm, axis=axis, keepdims=True)
    pv = np.var(y_pred - pm, axis=axis, keepdims=True)
    covar = (y_true - pm) * (y_pred - pm)  # Keras 3 centres y_true on y_pred's mean here
    norm = tv + pv + np.square(tm - pm)
    return np.mean(2 * covar / (norm + EPSILON), axis=axis)


class _CrossentropyMetric(MeanMetricWrapper):
    """A cross-entropy metric: on a softmax/sigmoid output tensor it reads the logits."""
    _direction = "down"  # which way callbacks' mode="auto" improves

    _reads_keras_logits = True  # CompileMetrics hands it the output tensor, not an array
    _activation = "Softmax"

    def _uses_logits(self):
        return True

    def update_state(self, y_true, y_pred, sample_weight=None):
        logits = keras_logits(y_pred) if self._uses_logits() else None
        if logits is None:
            return super().update_state(y_true, y_pred, sample_weight)
        if self.fn_kwargs.get("from_logits"):
            warnings.warn(f"`{self.fn.__name__}` received `from_logits=True`, but the "
                          f"`output` argument was produced by a {self._activation} activation "
                          "and thus does not represent logits. Was this intended?",
                          stacklevel=2)
        values = call_reconciled(self.fn, np.asarray(y_true), np.asarray(logits), self.name,
                                 {**self.fn_kwargs, "from_logits": True})
        return Mean.update_state(self, values, sample_weight)


class BinaryCrossentropy(_CrossentropyMetric):
    _activation = "Sigmoid"

    def __init__(self, name="binary_crossentropy", dtype=None, from_logits=False,
                 label_smoothing=0):
        super().__init__(binary_crossentropy, name, dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing)


class CategoricalCrossentropy(_CrossentropyMetric):
    def __init__(self, name="categorical_crossentropy", dtype=None, from_logits=False,
                 label_smoothing=0, axis=-1):
        super().__init__(categorical_crossentropy, name, dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)


class SparseCategoricalCrossentropy(_CrossentropyMetric):
    """Mean sparse cross-entropy; with `ignore_class` those entries count as weight 0."""

    def _uses_logits(self):
        # As Keras: with ignore_class the loss masks y_pred first (ops.where), which
        # drops the cached logits.
        return self.fn_kwargs.get("ignore_class") is None

    def __init__(self, name="sparse_categorical_crossentropy", dtype=None, from_logits=False,
                 ignore_class=None, axis=-1):
        super().__init__(sparse_categorical_crossentropy, name, dtype, from_logits=from_logits,
                         ignore_class=ignore_class, axis=axis)

    def update_state(self, y_true, y_pred, sample_weight=None):
        ignore = self.fn_kwargs.get("ignore_class")
        if ignore is not None:
            labels = np.asarray(y_true)
            if labels.ndim == np.ndim(y_pred) and labels.shape[-1] == 1:
                labels = labels[..., 0]
            mask = (labels != ignore).astype(np.float64)
            if sample_weight is not None:
                sw = np.asarray(sample_weight, np.float64)
                while sw.ndim < mask.ndim:
                    sw = sw[..., None]
                mask = mask * sw
            sample_weight = mask
        super().update_state(y_true, y_pred, sample_weight)


class PearsonCorrelation(MeanMetricWrapper):
    _direction = "up"  # which way callbacks' mode="auto" improves

    def __init__(self, name="pearson_correlation", dtype=None, axis=-1):
        super().__init__(pearson_correlation, name, dtype, axis=axis)


class ConcordanceCorrelation(MeanMetricWrapper):
    _direction = "up"  # which way callbacks' mode="auto" improves

    def __init__(self, name="concordance_correlation", dtype=None, axis=-1):
        super().__init__(concordance_correlation, name, dtype, axis=axis)
