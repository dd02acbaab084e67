"""Confusion-count metrics, as keras.metrics: TruePositives, FalsePositives,
TrueNegatives, FalseNegatives (at one or more thresholds) and the
operating-point metrics PrecisionAtRecall, RecallAtPrecision,
SensitivityAtSpecificity, SpecificityAtSensitivity.

Counting follows Keras 3's ``update_confusion_matrix_variables``: a label is
positive when non-zero, a prediction when strictly above the threshold; when
the thresholds are evenly spaced over [0, 1] predictions are clipped to [0, 1]
and bucketed (``ceil(p * (n - 1)) - 1``) in float32, so ties land where Keras's
land.
"""

from __future__ import annotations

import numpy as np

from fastnet.metrics.metrics import Metric


def same_rank(x1, x2, expand_rank_1=True):
    """Keras's squeeze_or_expand_to_same_rank for numpy arrays."""
    r1, r2 = x1.ndim, x2.ndim
    if r1 == r2:
        return x1, x2
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = x2[..., None]
        else:
            x1 = x1[..., 0]
    if r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = x1[..., None]
        else:
            x2 = x2[..., 0]
    return x1, x2


def _check_thresholds(thresholds, owner):
    ts = np.atleast_1d(np.asarray(thresholds, dtype=np.float64)).reshape(-1)
    bad = [float(t) for t in ts if not 0.0 <= t <= 1.0]
    if bad:
        raise ValueError(f"{owner}: threshold values must be in [0, 1]. Received: {bad}")
    return ts


def _evenly_spaced(ts):
    n = len(ts)
    return n >= 3 and np.allclose(ts, np.arange(n, dtype=np.float32) / (n - 1), atol=1e-7)


def confusion_counts(y_true, y_pred, thresholds, sample_weight=None, class_id=None,
                     evenly=False, owner="metric"):
    """(tp, fp, tn, fn), each of shape (len(thresholds),), for one batch."""
    y_true = np.asarray(y_true, dtype=np.float32)
    y_pred = np.asarray(y_pred, dtype=np.float32)
    y_pred, y_true = same_rank(y_pred, y_true)
    if sample_weight is not None:
        sw = np.asarray(sample_weight, dtype=np.float32)[..., None]
        _, sw = same_rank(y_true, sw, expand_rank_1=False)
    if class_id is not None:
        if y_pred.ndim == 1:
            raise ValueError(f"{owner}: when class_id is provided, y_pred must be a 2D array "
                             f"with shape (num_samples, num_classes), found shape: "
                             f"{y_pred.shape}")
        y_true = y_true[..., class_id, None]
        y_pred = y_pred[..., class_id, None]
    try:
        y_true = np.broadcast_to(y_true, y_pred.shape)
        w = np.ones(y_pred.shape, np.float64) if sample_weight is None else \
            np.broadcast_to(sw, y_pred.shape).astype(np.float64)
    except ValueError:
        raise ValueError(f"{owner}: y_true {y_true.shape}, y_pred {y_pred.shape} and "
                         f"sample_weight {None if sample_weight is None else sw.shape} do not "
                         "broadcast together") from None
    pos = (y_true != 0).reshape(-1)
    p = y_pred.reshape(-1)
    w = w.reshape(-1)
    n = len(thresholds)
    if evenly:
        bucket = np.ceil(np.clip(p, 0.0, 1.0) * np.float32(n - 1)) - np.float32(1.0)
        pred = bucket[None, :] >= np.arange(n, dtype=np.float32)[:, None]
    else:
        pred = p[None, :] > np.asarray(thresholds, np.float32)[:, None]
    tp = (pred & pos).astype(np.float64) @ w
    fp = (pred & ~pos).astype(np.float64) @ w
    fn = (~pred & pos).astype(np.float64) @ w
    tn = (~pred & ~pos).astype(np.float64) @ w
    return tp, fp, tn, fn


class _ConditionCount(Metric):
    _which = None  # "tp" | "fp" | "tn" | "fn"

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(name, dtype)
        self.init_thresholds = thresholds
        self.thresholds = _check_thresholds(0.5 if thresholds is None else thresholds,
                                            type(self).__name__)
        self._evenly = _evenly_spaced(self.thresholds)
        self.reset_state()

    def reset_state(self):
        self.accumulator = np.zeros(len(self.thresholds))

    def update_state(self, y_true, y_pred, sample_weight=None):
        counts = dict(zip(("tp", "fp", "tn", "fn"), confusion_counts(
            y_true, y_pred, self.thresholds, sample_weight, evenly=self._evenly,
            owner=self.name)))
        self.accumulator += counts[self._which]

    def result(self):
        acc = self.accumulator.astype(np.float32)
        return acc[0] if len(acc) == 1 else acc

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "thresholds": self.init_thresholds}


class TruePositives(_ConditionCount):
    """Weighted count of positives predicted above the threshold(s)."""
    _which = "tp"


class FalsePositives(_ConditionCount):
    """Weighted count of negatives predicted above the threshold(s)."""
    _which = "fp"


class TrueNegatives(_ConditionCount):
    """Weighted count of negatives predicted at or below the threshold(s)."""
    _which = "tn"


class FalseNegatives(_ConditionCount):
    """Weighted count of positives predicted at or below the threshold(s)."""
    _which = "fn"


def _divide_no_nan(a, b):
    return np.where(b != 0, a / np.where(b != 0, b, 1.0), 0.0)


class _SensitivitySpecificityBase(Metric):
    _direction = "up"  # which way callbacks' mode="auto" improves
    _arg = "value"

    def __init__(self, value, num_thresholds=200, class_id=None, name=None, dtype=None):
        if not 0 <= value <= 1:
            raise ValueError(f"Argument `{self._arg}` must be in the range [0, 1]. "
                             f"Received: {self._arg}={value}")
        if num_thresholds <= 0:
            raise ValueError("Argument `num_thresholds` must be an integer > 0. "
                             f"Received: num_thresholds={num_thresholds}")
        super().__init__(name, dtype)
        self.value = value
        self.class_id = class_id
        self.num_thresholds = num_thresholds
        if num_thresholds == 1:
            self.thresholds = np.array([0.5])
            self._evenly = False
        else:
            inner = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            self.thresholds = np.array([0.0] + inner + [1.0])
            self._evenly = True
        self.reset_state()

    def reset_state(self):
        n = len(self.thresholds)
        self.true_positives, self.false_positives, self.true_negatives, \
            self.false_negatives = (np.zeros(n) for _ in range(4))

    def update_state(self, y_true, y_pred, sample_weight=None):
        tp, fp, tn, fn = confusion_counts(y_true, y_pred, self.thresholds, sample_weight,
                                          self.class_id, self._evenly, self.name)
        self.true_positives += tp
        self.false_positives += fp
        self.true_negatives += tn
        self.false_negatives += fn

    def _max_under_constraint(self, constrained, dependent):
        feasible = constrained.astype(np.float32) >= np.float32(self.value)
        return np.float32(max(0.0, float(np.max(np.where(feasible, dependent, 0.0)))))

    def _rates(self):
        tp, fp, tn, fn = (self.true_positives, self.false_positives, self.true_negatives,
                          self.false_negatives)
        return {"recall": _divide_no_nan(tp, tp + fn), "precision": _divide_no_nan(tp, tp + fp),
                "specificity": _divide_no_nan(tn, tn + fp)}

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, self._arg: self.value,
                "num_thresholds": self.num_thresholds, "class_id": self.class_id}


class SensitivityAtSpecificity(_SensitivitySpecificityBase):
    """Best sensitivity (recall) over thresholds where specificity >= `specificity`."""
    _arg = "specificity"

    def __init__(self, specificity, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(specificity, num_thresholds, class_id, name, dtype)

    def result(self):
        r = self._rates()
        return self._max_under_constraint(r["specificity"], r["recall"])


class SpecificityAtSensitivity(_SensitivitySpecificityBase):
    """Best specificity over thresholds where sensitivity (recall) >= `sensitivity`."""
    _arg = "sensitivity"

    def __init__(self, sensitivity, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(sensitivity, num_thresholds, class_id, name, dtype)

    def result(self):
        r = self._rates()
        return self._max_under_constraint(r["recall"], r["specificity"])


class PrecisionAtRecall(_SensitivitySpecificityBase):
    """Best precision over thresholds where recall >= `recall`."""
    _arg = "recall"

    def __init__(self, recall, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(recall, num_thresholds, class_id, name, dtype)

    def result(self):
        r = self._rates()
        return self._max_under_constraint(r["recall"], r["precision"])


class RecallAtPrecision(_SensitivitySpecificityBase):
    """Best recall over thresholds where precision >= `precision`."""
    _arg = "precision"

    def __init__(self, precision, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(precision, num_thresholds, class_id, name, dtype)

    def result(self):
        r = self._rates()
        return self._max_under_constraint(r["precision"], r["recall"])
