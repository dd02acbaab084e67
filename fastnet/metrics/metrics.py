"""Metric classes and functions with Keras 3's names, defaults and formulas."""

from __future__ import annotations

import re

import numpy as np

from fastnet.losses.losses import (
    call_reconciled,
    match_shapes,
    sparse_labels,
    squeeze_or_expand_to_same_rank,
)


def _np(x):
    return np.asarray(x)


def _camel_to_snake(name):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


# ---- functions: per-sample values -------------------------------------------------
# Shapes follow Keras 3: a target may differ from the prediction by a trailing axis of
# size 1 ((n,) against (n, 1)); sparse labels are (n,) or (n, 1) for (n, classes), as
# ints or floats. Anything else raises naming both shapes instead of broadcasting.

def accuracy(y_true, y_pred):
    y_pred = _np(y_pred)
    y_true = _np(y_true)
    y_true, y_pred = match_shapes(y_true, y_pred, "accuracy")
    return (y_true == y_pred).astype(np.float32)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    y_true, y_pred = match_shapes(_np(y_true), _np(y_pred), "binary_accuracy")
    return (y_true == (y_pred > threshold).astype(y_true.dtype)).astype(np.float32)


def categorical_accuracy(y_true, y_pred):
    y_true, y_pred = match_shapes(
        _np(y_true), _np(y_pred), "categorical_accuracy",
        hint=" For integer class labels use sparse_categorical_accuracy.")
    return (np.argmax(y_true, -1) == np.argmax(y_pred, -1)).astype(np.float32)


def sparse_categorical_accuracy(y_true, y_pred):
    y_true, y_pred = _np(y_true), _np(y_pred)
    y_true = sparse_labels(y_true, y_pred, "sparse_categorical_accuracy")
    # numpy compares int/float labels by value, as Keras's cast to the prediction's
    # float dtype does (1.0 matches class 1, 1.5 matches none)
    return (y_true == np.argmax(y_pred, -1)).astype(np.float32)


def _in_top_k(y_pred, labels, k, what):
    n = y_pred.shape[-1]
    if labels.size and (labels.min() < 0 or labels.max() >= n):
        raise ValueError(f"{what}: labels must be in [0, {n}) for y_pred of shape "
                         f"{y_pred.shape}; got values in [{labels.min()}, {labels.max()}]")
    # A label counts when fewer than k classes score strictly higher (ties count as in,
    # as Keras's in_top_k: target score >= the k-th largest score).
    target = np.take_along_axis(y_pred, labels[..., None], -1)
    return (np.sum(y_pred > target, axis=-1) < k).astype(np.float32)


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    y_true, y_pred = match_shapes(
        _np(y_true), _np(y_pred), "top_k_categorical_accuracy",
        hint=" For integer class labels use sparse_top_k_categorical_accuracy.")
    return _in_top_k(y_pred, np.argmax(y_true, -1), k, "top_k_categorical_accuracy")


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5, from_sorted_ids=False):
    """With `from_sorted_ids`, y_pred holds class ids sorted by decreasing score
    (shape (batch, N)) rather than one score per class."""
    y_true, y_pred = _np(y_true), _np(y_pred)
    y_true = sparse_labels(y_true, y_pred, "sparse_top_k_categorical_accuracy")
    if from_sorted_ids:
        return np.any(y_true[..., None] == y_pred[..., :k], axis=-1).astype(np.float32)
    return _in_top_k(y_pred, y_true.astype(np.int64), k, "sparse_top_k_categorical_accuracy")


def mean_squared_error(y_true, y_pred):
    y_true, y_pred = match_shapes(_np(y_true), _np(y_pred), "mean_squared_error")
    return np.mean(np.square(y_pred - y_true), axis=-1)


def mean_absolute_error(y_true, y_pred):
    y_true, y_pred = match_shapes(_np(y_true), _np(y_pred), "mean_absolute_error")
    return np.mean(np.abs(y_pred - y_true), axis=-1)


# ---- stateful metrics -------------------------------------------------------------

class Metric:
    """Base class: subclasses implement update_state, result and reset_state."""

    def __init__(self, name=None, dtype=None):
        self.name = name or _camel_to_snake(type(self).__name__)
        self.dtype = dtype or "float32"
        self._variables = []

    def update_state(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must implement update_state")

    def result(self):
        raise NotImplementedError(f"{type(self).__name__} must implement result")

    # State held in Variables, as a Keras 3 subclass writes it (`self.add_variable(...)`
    # in __init__, `assign_add` in update_state); the built-in metrics below keep numpy
    # state and override reset_state.
    def add_variable(self, shape, initializer, dtype=None, aggregation="sum", name=None):
        if not hasattr(self, "_variables"):
            raise RuntimeError(f"{type(self).__name__}: you forgot to call "
                               "`super().__init__()` in the `__init__()` method.")
        from fastnet import initializers
        from fastnet.backend.name_scope import name_scope
        from fastnet.backend.tensor import Variable

        with name_scope(self.name.replace("/", ">"), caller=self):  # Keras's path
            var = Variable(initializers.get(initializer), shape=tuple(shape),
                           dtype=dtype or self.dtype, trainable=False,
                           aggregation=aggregation, name=name)
        self._variables.append(var)
        return var

    def add_weight(self, shape=(), initializer=None, dtype=None, name=None):
        return self.add_variable(shape=shape, initializer=initializer or "zeros",
                                 dtype=dtype, name=name)

    @property
    def variables(self):
        out = list(getattr(self, "_variables", ()))
        for value in vars(self).values():
            if isinstance(value, Metric) and value is not self:
                out.extend(value.variables)
        return out

    def reset_state(self):
        """Zeroes every state variable (Keras's default); metrics with other state
        override it."""
        variables = self.variables
        if not variables:
            raise NotImplementedError(f"{type(self).__name__} must implement reset_state "
                                      "(it holds no variables made by add_variable)")
        for v in variables:
            v.assign(np.zeros(v.shape, dtype=v.dtype))

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


def _samplewise(values, sample_weight, reduce_fn, what):
    """Keras's reduce_to_samplewise_values: (one value per sample, its weight or None).

    Weights are reconciled with the values by squeeze_or_expand_to_same_rank; values
    of higher rank are first reduced to the weight's rank (so per-sample weights
    apply to per-timestep values); a weight that still does not broadcast to the
    values raises naming both shapes."""
    values = np.asarray(values, dtype=np.float64)
    w = None
    if sample_weight is not None:
        w = np.asarray(sample_weight, dtype=np.float64)
        v0, w0 = values.shape, w.shape
        values, w = squeeze_or_expand_to_same_rank(values, w)
        if values.ndim > w.ndim:
            values = reduce_fn(values, axis=tuple(range(w.ndim, values.ndim)))
        try:
            w = np.broadcast_to(w, values.shape)
        except ValueError:
            raise ValueError(f"{what}: sample_weight of shape {w0} does not match values of "
                             f"shape {v0}; give one weight per sample (shape (batch,) or "
                             "(batch, 1)) or one per value.") from None
        values = values * w
        if w.ndim > 1:
            w = reduce_fn(w, axis=tuple(range(1, w.ndim)))
    if values.ndim > 1:
        values = reduce_fn(values, axis=tuple(range(1, values.ndim)))
    return values, w


class Sum(Metric):
    def __init__(self, name="sum", dtype=None):
        super().__init__(name, dtype)
        self.reset_state()

    def reset_state(self):
        self.total = 0.0

    def update_state(self, values, sample_weight=None):
        self.total += float(np.sum(_samplewise(values, sample_weight, np.sum, self.name)[0]))

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
        values, w = _samplewise(values, sample_weight, np.mean, self.name)
        self.total += float(np.sum(values))
        if w is not None:
            self.count += float(np.sum(w))
        else:
            self.count += float(values.shape[0]) if values.ndim else 1.0

    def result(self):
        return np.float32(self.total / self.count) if self.count else np.float32(0.0)


def _is_builtin_loss(fn):
    from fastnet.losses import losses as losses_mod

    return any(fn is f for f in losses_mod._FUNCTIONS.values()) or \
        type(fn) in losses_mod._CLASSES.values()


class MeanMetricWrapper(Mean):
    """Mean of fn(y_true, y_pred, **kwargs) over samples."""

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        super().__init__(name=name or fn.__name__, dtype=dtype)
        self.fn = fn
        self.fn_kwargs = kwargs
        if getattr(type(self), "_direction", None) is None and _is_builtin_loss(fn):
            self._direction = "down"  # as Keras: a wrapped loss is minimized (callbacks' mode)

    def update_state(self, y_true, y_pred, sample_weight=None):
        # Ranks reconciled first (as Keras's LossFunctionWrapper), so a custom function
        # also sees a (n,) target against a (n, 1) output as two (n, 1) arrays.
        values = call_reconciled(self.fn, _np(y_true), _np(y_pred), self.name, self.fn_kwargs)
        super().update_state(values, sample_weight)

    def get_config(self):
        return {**super().get_config(), **self.fn_kwargs}


class Accuracy(MeanMetricWrapper):
    _direction = "up"  # which way callbacks' mode="auto" improves

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(accuracy, name, dtype)

    def get_config(self):
        return Metric.get_config(self)


class BinaryAccuracy(MeanMetricWrapper):
    _direction = "up"  # which way callbacks' mode="auto" improves

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(binary_accuracy, name, dtype, threshold=threshold)


class CategoricalAccuracy(MeanMetricWrapper):
    _direction = "up"  # which way callbacks' mode="auto" improves

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name, dtype)

    def get_config(self):
        return Metric.get_config(self)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    _direction = "up"  # which way callbacks' mode="auto" improves

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name, dtype)

    def get_config(self):
        return Metric.get_config(self)


class TopKCategoricalAccuracy(MeanMetricWrapper):
    _direction = "up"  # which way callbacks' mode="auto" improves

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(top_k_categorical_accuracy, name, dtype, k=k)


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    _direction = "up"  # which way callbacks' mode="auto" improves

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None,
                 from_sorted_ids=False):
        super().__init__(sparse_top_k_categorical_accuracy, name, dtype, k=k,
                         from_sorted_ids=from_sorted_ids)


class MeanSquaredError(MeanMetricWrapper):
    _direction = "down"  # which way callbacks' mode="auto" improves

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, name, dtype)

    def get_config(self):
        return Metric.get_config(self)


class MeanAbsoluteError(MeanMetricWrapper):
    _direction = "down"  # which way callbacks' mode="auto" improves

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, name, dtype)

    def get_config(self):
        return Metric.get_config(self)


class RootMeanSquaredError(Mean):
    _direction = "down"  # which way callbacks' mode="auto" improves

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name, dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = match_shapes(_np(y_true), _np(y_pred), self.name)
        super().update_state(np.square(y_pred - y_true), sample_weight)

    def result(self):
        return np.float32(np.sqrt(super().result()))


NEG_INF = -1e10


def _check_thresholds(thresholds, what):
    bad = [t for t in np.atleast_1d(np.asarray(thresholds, dtype=np.float64))
           if not 0.0 <= t <= 1.0]
    if bad:
        raise ValueError(f"{what}: threshold values must be in [0, 1]. Received: "
                         f"thresholds={thresholds!r}")


def _filter_top_k(x, k):
    """x with all but the k largest entries of the last axis set to NEG_INF (Keras)."""
    idx = np.argsort(-x, axis=-1, kind="stable")[..., :k]
    keep = np.zeros(x.shape, dtype=bool)
    np.put_along_axis(keep, idx, True, axis=-1)
    return np.where(keep, x, NEG_INF)


class _ConfusionMetric(Metric):
    """Weighted confusion counts at one or more thresholds (y_pred > threshold is a
    positive prediction; a nonzero y_true a positive label), as Keras's
    update_confusion_matrix_variables: y_true reconciled with y_pred by a trailing axis
    of size 1, sample weights per sample or per value, optional top_k / class_id."""

    def __init__(self, thresholds=None, name=None, dtype=None, default=0.5, top_k=None,
                 class_id=None):
        super().__init__(name, dtype)
        self.init_thresholds = thresholds
        self.top_k = top_k
        self.class_id = class_id
        self.thresholds = np.atleast_1d(np.asarray(default if thresholds is None else thresholds,
                                                   dtype=np.float64))
        self.reset_state()

    def reset_state(self):
        n = len(self.thresholds)
        self.tp, self.fp, self.fn, self.tn = (np.zeros(n) for _ in range(4))

    def _prepare(self, y_true, y_pred, sample_weight):
        """(y_true != 0, y_pred, weights), all of one shape, after Keras's shape handling."""
        y_true = _np(y_true)
        y_pred = _np(y_pred).astype(np.float64)
        y_true, y_pred = match_shapes(y_true, y_pred, self.name)
        if sample_weight is None:
            w = None
        else:
            sw = np.asarray(sample_weight, dtype=np.float64)
            _, w = squeeze_or_expand_to_same_rank(y_true, sw[..., None], expand_rank_1=False)
            try:
                w = np.broadcast_to(w, y_true.shape)
            except ValueError:
                raise ValueError(f"{self.name}: sample_weight of shape {sw.shape} does not "
                                 f"match y_true of shape {y_true.shape}; give one weight per "
                                 "sample or one per value.") from None
        if self.top_k is not None:
            y_pred = _filter_top_k(y_pred, self.top_k)
        if self.class_id is not None:
            if y_pred.ndim < 2 or not 0 <= self.class_id < y_pred.shape[-1]:
                raise ValueError(f"{self.name}: class_id={self.class_id} needs y_pred of shape "
                                 f"(num_samples, num_classes) with class_id < num_classes; "
                                 f"found shape {y_pred.shape}")
            y_true, y_pred = y_true[..., self.class_id], y_pred[..., self.class_id]
            w = None if w is None else w[..., self.class_id]
        w = np.ones(y_pred.shape) if w is None else w
        return y_true != 0, y_pred, w

    def update_state(self, y_true, y_pred, sample_weight=None):
        pos, y_pred, w = self._prepare(y_true, y_pred, sample_weight)
        pos, y_pred, w = pos.reshape(-1), y_pred.reshape(-1), w.reshape(-1)
        pred = y_pred[None, :] > self.thresholds[:, None]
        self.tp += (pred & pos).astype(np.float64) @ w
        self.fp += (pred & ~pos).astype(np.float64) @ w
        self.fn += (~pred & pos).astype(np.float64) @ w
        self.tn += (~pred & ~pos).astype(np.float64) @ w

    def get_config(self):
        return {**super().get_config(), "thresholds": self.init_thresholds,
                "top_k": self.top_k, "class_id": self.class_id}


class Precision(_ConfusionMetric):
    _direction = "up"  # which way callbacks' mode="auto" improves

    def __init__(self, thresholds=None, top_k=None, class_id=None, name="precision", dtype=None):
        if thresholds is not None:
            _check_thresholds(thresholds, name)
        super().__init__(thresholds, name, dtype, default=0.5 if top_k is None else NEG_INF,
                         top_k=top_k, class_id=class_id)

    def result(self):
        d = self.tp + self.fp
        r = np.where(d > 0, self.tp / np.where(d > 0, d, 1), 0.0)
        return np.float32(r[0]) if r.size == 1 else r.astype(np.float32)


class Recall(_ConfusionMetric):
    _direction = "up"  # which way callbacks' mode="auto" improves

    def __init__(self, thresholds=None, top_k=None, class_id=None, name="recall", dtype=None):
        if thresholds is not None:
            _check_thresholds(thresholds, name)
        super().__init__(thresholds, name, dtype, default=0.5 if top_k is None else NEG_INF,
                         top_k=top_k, class_id=class_id)

    def result(self):
        d = self.tp + self.fn
        r = np.where(d > 0, self.tp / np.where(d > 0, d, 1), 0.0)
        return np.float32(r[0]) if r.size == 1 else r.astype(np.float32)


def _div0(a, b):
    """a / b with 0 where b == 0 (Keras's divide_no_nan)."""
    return np.where(b != 0, a / np.where(b != 0, b, 1.0), 0.0)


class AUC(_ConfusionMetric):
    """Area under the ROC, PR or PR-gain curve from confusion counts at
    `num_thresholds` evenly spaced thresholds (or the given `thresholds`), summed
    as Keras: 'interpolation' (trapezoids; Davis & Goadrich interpolation for PR),
    'minoring' or 'majoring'. With `multi_label`, one curve per label (last axis of
    a rank-2 y_pred) and the mean area (weighted by `label_weights`); without it,
    `label_weights` weigh each label's values."""
    _direction = "up"  # which way callbacks' mode="auto" improves

    CURVES = ("ROC", "PR", "PRGAIN")
    SUMMATIONS = ("interpolation", "minoring", "majoring")

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation",
                 name="auc", dtype=None, thresholds=None, multi_label=False, num_labels=None,
                 label_weights=None, from_logits=False):
        if str(curve).upper() not in self.CURVES:
            raise ValueError(f'Invalid `curve` argument value "{curve}". Expected one of: '
                             f"{list(self.CURVES)}")
        if str(summation_method).lower() not in self.SUMMATIONS:
            raise ValueError(f'Invalid `summation_method` argument value "{summation_method}". '
                             f"Expected one of: {list(self.SUMMATIONS)}")
        if thresholds is not None:
            _check_thresholds(thresholds, name)
            inner = sorted(float(t) for t in np.atleast_1d(thresholds))
            num_thresholds = len(inner) + 2
        else:
            if num_thresholds <= 1:
                raise ValueError("Argument `num_thresholds` must be an integer > 1. "
                                 f"Received: num_thresholds={num_thresholds}")
            inner = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        if num_labels and not multi_label:
            raise ValueError("`num_labels` is needed only when `multi_label` is True.")
        self.num_thresholds = num_thresholds
        self.curve = str(curve).upper()
        self.summation_method = str(summation_method).lower()
        self.from_logits = from_logits
        self.multi_label = multi_label
        self.num_labels = num_labels
        self.label_weights = (None if label_weights is None else
                              np.asarray(label_weights, dtype=np.float64).reshape(-1))
        self._auc_init_thresholds = thresholds
        from fastnet.backend import epsilon

        eps = epsilon()  # Keras: the end thresholds are -epsilon() and 1 + epsilon()
        super().__init__([-eps] + inner + [1.0 + eps], name, dtype)

    def reset_state(self):
        n = len(self.thresholds)
        shape = (n, self.num_labels) if self.multi_label and self.num_labels else (n,)
        self.tp, self.fp, self.fn, self.tn = (np.zeros(shape) for _ in range(4))
        self._labels_known = not self.multi_label or bool(self.num_labels)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = _np(y_pred)
        if self.from_logits:
            y_pred = 1.0 / (1.0 + np.exp(-y_pred.astype(np.float64)))
        if not self.multi_label and self.label_weights is None:
            return super().update_state(y_true, y_pred, sample_weight)
        pos, y_pred, w = self._prepare(y_true, y_pred, sample_weight)
        if not self.multi_label:  # label_weights weigh each label's values
            w = w * self._labels(y_pred)
            return _ConfusionMetric.update_state(self, pos, y_pred, w)
        if y_pred.ndim != 2:
            raise ValueError("`y_pred` must have rank 2 when `multi_label=True`. Found rank "
                             f"{y_pred.ndim}. Full shape received for `y_pred`: {y_pred.shape}")
        if not self._labels_known:
            self.tp, self.fp, self.fn, self.tn = (np.zeros((len(self.thresholds),
                                                            y_pred.shape[1])) for _ in range(4))
            self._labels_known = True
        if y_pred.shape[1] != self.tp.shape[1]:
            raise ValueError(f"{self.name}: y_pred has {y_pred.shape[1]} labels, the metric was "
                             f"built for {self.tp.shape[1]} (shape {y_pred.shape})")
        pred = y_pred[None] > self.thresholds[:, None, None]  # (thresholds, batch, labels)
        self.tp += np.einsum("tnl,nl->tl", pred & pos, w)
        self.fp += np.einsum("tnl,nl->tl", pred & ~pos, w)
        self.fn += np.einsum("tnl,nl->tl", ~pred & pos, w)
        self.tn += np.einsum("tnl,nl->tl", ~pred & ~pos, w)

    def _labels(self, y_pred):
        lw = self.label_weights
        if y_pred.ndim == 0 or lw.size not in (1, y_pred.shape[-1]):
            raise ValueError(f"{self.name}: label_weights of length {lw.size} do not match "
                             f"y_pred of shape {y_pred.shape} (one weight per label, last axis)")
        return lw

    def _by_label(self, area):
        if not self.multi_label:
            return np.float32(np.sum(area))
        by_label = np.sum(area, axis=0)
        if self.label_weights is None:
            return np.float32(np.mean(by_label))
        return np.float32(_div0(np.sum(by_label * self.label_weights),
                                np.sum(self.label_weights)))

    def _interpolate_pr_auc(self):
        tp, fp, fn = self.tp, self.fp, self.fn
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        slope = _div0(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - slope * p[1:]
        ratio = np.where((p[:-1] > 0) & (p[1:] > 0), _div0(p[:-1], np.maximum(p[1:], 0)), 1.0)
        area = _div0(slope * (dtp + intercept * np.log(ratio)), np.maximum(tp[1:] + fn[1:], 0))
        return self._by_label(area)

    def result(self):
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._interpolate_pr_auc()
        tp, fp, fn, tn = self.tp, self.fp, self.fn, self.tn
        recall = _div0(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _div0(fp, fp + tn), recall
        elif self.curve == "PR":
            x, y = recall, _div0(tp, tp + fp)
        else:  # PRGAIN
            scale = _div0(tp + fn, tn + fp)
            x = np.maximum(np.where(tp == 0, 0.0, 1.0 - scale * _div0(fn, tp)), 0.0)
            y = np.where(tp == 0, 1.0, 1.0 - scale * _div0(fp, tp))
        if self.summation_method == "minoring":
            h = np.minimum(y[:-1], y[1:])
        elif self.summation_method == "majoring":
            h = np.maximum(y[:-1], y[1:])
        else:
            h = (y[:-1] + y[1:]) / 2.0
        return self._by_label((x[:-1] - x[1:]) * h)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "num_thresholds": self.num_thresholds,
                "curve": self.curve, "summation_method": self.summation_method,
                "thresholds": self._auc_init_thresholds, "multi_label": self.multi_label,
                "num_labels": self.num_labels,
                "label_weights": None if self.label_weights is None else
                self.label_weights.tolist(), "from_logits": self.from_logits}


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
