"""FBetaScore / F1Score and the IoU family (IoU, MeanIoU, BinaryIoU, OneHotIoU,
OneHotMeanIoU), with Keras 3's arguments, thresholding and epsilons."""

from __future__ import annotations

import numpy as np

from fastnet.metrics.metrics import Metric

EPSILON = 1e-7


class FBetaScore(Metric):
    """F-beta score per class (average=None) or averaged ('micro', 'macro', 'weighted').
    Without `threshold` the top-scoring class(es) of each row count as predicted."""
    _direction = "up"  # which way callbacks' mode="auto" improves

    def __init__(self, average=None, beta=1.0, threshold=None, name="fbeta_score", dtype=None):
        if average not in (None, "micro", "macro", "weighted"):
            raise ValueError("Invalid `average` argument value. Expected one of: {None, 'micro', "
                             f"'macro', 'weighted'}}. Received: average={average}")
        if not isinstance(beta, float):
            raise ValueError("Invalid `beta` argument value. It should be a Python float. "
                             f"Received: beta={beta} of type '{type(beta)}'")
        if beta <= 0.0:
            raise ValueError(f"Invalid `beta` argument value. It should be > 0. Received: "
                             f"beta={beta}")
        if threshold is not None:
            if not isinstance(threshold, float):
                raise ValueError("Invalid `threshold` argument value. It should be a Python "
                                 f"float. Received: threshold={threshold} of type "
                                 f"'{type(threshold)}'")
            if threshold > 1.0 or threshold <= 0.0:
                raise ValueError("Invalid `threshold` argument value. It should verify "
                                 f"0 < threshold <= 1. Received: threshold={threshold}")
        super().__init__(name, dtype)
        self.average = average
        self.beta = beta
        self.threshold = threshold
        self.axis = None if average == "micro" else 0
        self.reset_state()

    def reset_state(self):
        self.true_positives = self.false_positives = self.false_negatives = None
        self.intermediate_weights = None

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = np.asarray(y_true, dtype=np.float32)
        y_pred = np.asarray(y_pred, dtype=np.float32)
        if y_pred.ndim != 2 or y_true.ndim != 2:
            raise ValueError(f"{type(self).__name__} expects 2D inputs with shape (batch_size, "
                             f"output_dim). Received input shapes: y_pred.shape={y_pred.shape} "
                             f"and y_true.shape={y_true.shape}.")
        if self.threshold is None:
            top = np.max(y_pred, axis=-1, keepdims=True)
            pred = (y_pred >= top) & (np.abs(y_pred) > 1e-9)
        else:
            pred = y_pred > self.threshold
        pred = pred.astype(np.float64)
        y_true = y_true.astype(np.float64)
        sw = None if sample_weight is None else \
            np.asarray(sample_weight, dtype=np.float64).reshape(-1)[:, None]

        def wsum(v):
            if sw is not None:
                v = v * sw
            return np.sum(v, axis=self.axis)

        parts = (wsum(pred * y_true), wsum(pred * (1 - y_true)), wsum((1 - pred) * y_true),
                 wsum(y_true))
        if self.true_positives is None:
            self.true_positives, self.false_positives, self.false_negatives, \
                self.intermediate_weights = (np.zeros_like(p) for p in parts)
        elif np.shape(parts[0]) != np.shape(self.true_positives):
            raise ValueError(f"{self.name}: y_pred has {y_pred.shape[-1]} classes but earlier "
                             f"batches had {np.shape(self.true_positives)[0]}")
        self.true_positives = self.true_positives + parts[0]
        self.false_positives = self.false_positives + parts[1]
        self.false_negatives = self.false_negatives + parts[2]
        self.intermediate_weights = self.intermediate_weights + parts[3]

    def result(self):
        if self.true_positives is None:
            return np.float32(0.0)
        tp, fp, fn = self.true_positives, self.false_positives, self.false_negatives
        precision = tp / (tp + fp + EPSILON)
        recall = tp / (tp + fn + EPSILON)
        b2 = self.beta ** 2
        f = precision * recall / (b2 * precision + recall + EPSILON) * (1 + b2)
        if self.average == "weighted":
            weights = self.intermediate_weights / (np.sum(self.intermediate_weights) + EPSILON)
            f = np.sum(f * weights)
        elif self.average is not None:
            f = np.mean(f)
        return np.asarray(f, dtype=np.float32)[()]

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "average": self.average,
                "beta": self.beta, "threshold": self.threshold}


class F1Score(FBetaScore):
    """FBetaScore with beta=1: the harmonic mean of precision and recall."""

    def __init__(self, average=None, threshold=None, name="f1_score", dtype=None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype)

    def get_config(self):
        config = super().get_config()
        del config["beta"]
        return config


# ---- IoU ----------------------------------------------------------------------------

class _IoUBase(Metric):
    _direction = "up"  # which way callbacks' mode="auto" improves

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None,
                 sparse_y_true=True, sparse_y_pred=True, axis=-1):
        if not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
            raise ValueError(f"{type(self).__name__}: num_classes must be a positive integer. "
                             f"Received: num_classes={num_classes!r}")
        super().__init__(name, dtype)
        self._dtype_arg = dtype
        self.num_classes = int(num_classes)
        self.ignore_class = ignore_class
        self.sparse_y_true = sparse_y_true
        self.sparse_y_pred = sparse_y_pred
        self.axis = axis
        self.reset_state()

    def reset_state(self):
        self.total_cm = np.zeros((self.num_classes, self.num_classes), np.float64)

    def _cast(self, x):
        # Keras's default dtype here is "int": class ids and weights are truncated.
        if self._dtype_arg is None or "int" in str(self._dtype_arg):
            return np.trunc(np.asarray(x, np.float64))
        return np.asarray(x, np.float64)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
        if not self.sparse_y_true:
            y_true = np.argmax(y_true, axis=self.axis)
        if not self.sparse_y_pred:
            y_pred = np.argmax(y_pred, axis=self.axis)
        y_true = self._cast(y_true).reshape(-1)
        y_pred = self._cast(y_pred).reshape(-1)
        if y_true.shape != y_pred.shape:
            raise ValueError(f"{self.name}: y_true has {y_true.size} class ids but y_pred has "
                             f"{y_pred.size}")
        sw = self._cast(1.0 if sample_weight is None else sample_weight)
        sw = np.broadcast_to(sw.reshape(-1) if sw.ndim > 1 else sw, y_true.shape)
        n = self.num_classes
        ok = (y_true >= 0) & (y_true < n) & (y_pred >= 0) & (y_pred < n)
        if self.ignore_class is not None:
            ok &= y_true != self.ignore_class
        np.add.at(self.total_cm, (y_true[ok].astype(np.int64), y_pred[ok].astype(np.int64)),
                  sw[ok])

    def _iou(self, target_class_ids):
        cm = self.total_cm
        tp = np.diag(cm)
        denominator = cm.sum(axis=0) + cm.sum(axis=1) - tp
        ids = np.asarray(target_class_ids, np.int64)
        tp, denominator = tp[ids].astype(np.float32), denominator[ids].astype(np.float32)
        valid = denominator > 1e-9
        iou = np.where(valid, tp / (denominator + np.float32(EPSILON)), 0.0)
        return np.float32(np.sum(iou) / (np.sum(valid) + EPSILON))

    def get_config(self):
        return {"name": self.name, "dtype": self._dtype_arg, "num_classes": self.num_classes,
                "ignore_class": self.ignore_class, "sparse_y_true": self.sparse_y_true,
                "sparse_y_pred": self.sparse_y_pred, "axis": self.axis}


class IoU(_IoUBase):
    """Mean intersection-over-union over `target_class_ids`."""

    def __init__(self, num_classes, target_class_ids, name=None, dtype=None, ignore_class=None,
                 sparse_y_true=True, sparse_y_pred=True, axis=-1):
        super().__init__(num_classes, name, dtype, ignore_class, sparse_y_true, sparse_y_pred,
                         axis)
        ids = list(target_class_ids)
        if ids and max(ids) >= num_classes:
            raise ValueError(f"Target class id {max(ids)} is out of range, which is "
                             f"[0, {num_classes}).")
        self.target_class_ids = ids

    def result(self):
        return self._iou(self.target_class_ids)

    def get_config(self):
        return {**super().get_config(), "target_class_ids": self.target_class_ids}


class MeanIoU(_IoUBase):
    """Intersection-over-union averaged over all `num_classes` classes (that occur)."""

    def result(self):
        return self._iou(range(self.num_classes))


class BinaryIoU(IoU):
    """IoU of classes 0/1 after thresholding y_pred at `threshold`."""

    def __init__(self, target_class_ids=(0, 1), threshold=0.5, name=None, dtype=None):
        super().__init__(2, target_class_ids, name=name, dtype=dtype)
        self.threshold = threshold

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = (np.asarray(y_pred, np.float32) >= self.threshold).astype(np.float32)
        super().update_state(np.asarray(y_true, np.float32), y_pred, sample_weight)

    def get_config(self):
        return {"target_class_ids": self.target_class_ids, "threshold": self.threshold,
                "name": self.name, "dtype": self._dtype_arg}


class OneHotIoU(IoU):
    """IoU for one-hot y_true and per-class scores y_pred."""

    def __init__(self, num_classes, target_class_ids, name=None, dtype=None, ignore_class=None,
                 sparse_y_pred=False, axis=-1):
        super().__init__(num_classes, target_class_ids, name, dtype, ignore_class,
                         sparse_y_true=False, sparse_y_pred=sparse_y_pred, axis=axis)


class OneHotMeanIoU(MeanIoU):
    """MeanIoU for one-hot y_true and per-class scores y_pred."""

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None,
                 sparse_y_pred=False, axis=-1):
        super().__init__(num_classes, name, dtype, ignore_class, sparse_y_true=False,
                         sparse_y_pred=sparse_y_pred, axis=axis)
