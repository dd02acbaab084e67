"""Keras 3's further losses: categorical focal and generalized cross-entropy, Dice,
Tversky, Circle and CTC — function and class forms, formulas from
keras/src/losses/losses.py, built from differentiable fastnet.ops (CTC: a numpy
forward-backward recursion with its exact gradient)."""

from __future__ import annotations

import warnings

import numpy as np

from fastnet import ops
from fastnet.losses.losses import LossFunctionWrapper, _reduce


def _eps():
    from fastnet.backend import epsilon

    return epsilon()


def _pred_true(y_true, y_pred):
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = ops.convert_to_tensor(y_true)
    if y_true.dtype != y_pred.dtype:
        y_true = ops.cast(y_true, y_pred.dtype)
    return y_true, y_pred


def _check_same_shape(y_true, y_pred, what):
    if tuple(y_true.shape) != tuple(y_pred.shape):
        raise ValueError(f"{what}: y_true and y_pred must have the same shape. Received: "
                         f"y_true.shape={tuple(y_true.shape)}, "
                         f"y_pred.shape={tuple(y_pred.shape)}")


# ---- categorical focal cross-entropy -----------------------------------------------------------
def categorical_focal_crossentropy(y_true, y_pred, alpha=0.25, gamma=2.0, from_logits=False,
                                   label_smoothing=0.0, axis=-1):
    """sum over classes of ``-alpha * (1 - p)**gamma * y * log(p)``, p the predicted
    probabilities renormalised to sum to 1 and clipped to [eps, 1 - eps]."""
    if isinstance(axis, bool):
        raise ValueError(f"categorical_focal_crossentropy: `axis` must be of type `int`. "
                         f"Received: axis={axis} of type {type(axis)}")
    y_true, y_pred = _pred_true(y_true, y_pred)
    _check_same_shape(y_true, y_pred, "categorical_focal_crossentropy")
    if y_pred.shape[-1] == 1:
        warnings.warn("In loss categorical_focal_crossentropy, expected y_pred.shape to be "
                      "(batch_size, num_classes) with num_classes > 1. Received: "
                      f"y_pred.shape={tuple(y_pred.shape)}. Consider using "
                      "'binary_crossentropy' if you only have 2 classes.", SyntaxWarning,
                      stacklevel=2)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / float(y_true.shape[-1])
    if from_logits:
        y_pred = ops.softmax(y_pred, axis=axis)
    output = y_pred / ops.sum(y_pred, axis=axis, keepdims=True)
    output = ops.clip(output, _eps(), 1.0 - _eps())
    cce = -y_true * ops.log(output)
    focal = ops.power(1.0 - output, gamma) * alpha * cce
    return ops.sum(focal, axis=axis)


class CategoricalFocalCrossentropy(LossFunctionWrapper):
    def __init__(self, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="categorical_focal_crossentropy",
                 dtype=None):
        super().__init__(categorical_focal_crossentropy, reduction=reduction, name=name,
                         alpha=alpha, gamma=gamma, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)
        self.dtype = dtype
        self.alpha, self.gamma, self.from_logits = alpha, gamma, from_logits
        self.label_smoothing, self.axis = label_smoothing, axis


# ---- generalized cross-entropy (Zhang & Sabuncu, 2018) -----------------------------------------
def categorical_generalized_cross_entropy(y_true, y_pred, q):
    """``(1 - p_y**q) / q`` with p_y the predicted probability of the integer label y."""
    y_pred = ops.convert_to_tensor(y_pred)
    labels = np.asarray(ops.convert_to_numpy(y_true))
    if labels.shape != tuple(y_pred.shape[:-1]):
        if labels.shape == tuple(y_pred.shape[:-1]) + (1,):
            labels = labels[..., 0]
        else:
            raise ValueError("categorical_generalized_cross_entropy: y_true must hold one "
                             "integer label per sample, of shape y_pred.shape[:-1]. Received: "
                             f"y_true.shape={labels.shape}, y_pred.shape={tuple(y_pred.shape)}")
    labels = labels.astype(np.int64)
    one_hot = ops.one_hot(labels, int(y_pred.shape[-1]), dtype=y_pred.dtype)
    p = ops.sum(y_pred * one_hot, axis=-1)
    return (1 - ops.power(p, q)) / q


class CategoricalGeneralizedCrossEntropy(LossFunctionWrapper):
    def __init__(self, q=0.5, reduction="sum_over_batch_size",
                 name="categorical_generalized_cross_entropy", dtype=None):
        if not 0 < q < 1:
            raise ValueError(f"CategoricalGeneralizedCrossEntropy: q must be in the interval "
                             f"(0, 1). Received: q={q}")
        super().__init__(categorical_generalized_cross_entropy, reduction=reduction, name=name,
                         q=q)
        self.dtype = dtype
        self.q = q

    def call(self, y_true, y_pred):
        # the labels are integers (one per sample): no rank reconciliation with y_pred
        return categorical_generalized_cross_entropy(y_true, y_pred, self.q)


# ---- Dice and Tversky (segmentation overlap) ---------------------------------------------------
def dice(y_true, y_pred, axis=None):
    """``1 - 2 sum(y * p) / (sum(y) + sum(p) + eps)`` over `axis` (all axes: None)."""
    y_true, y_pred = _pred_true(y_true, y_pred)
    _check_same_shape(y_true, y_pred, "dice")
    intersection = ops.sum(y_true * y_pred, axis=axis)
    return 1 - 2.0 * intersection / (ops.sum(y_true, axis=axis) + ops.sum(y_pred, axis=axis)
                                     + _eps())


def tversky(y_true, y_pred, alpha=0.5, beta=0.5, axis=None):
    """``1 - TP / (TP + alpha FP + beta FN + eps)`` over `axis`; alpha = beta = 0.5 is
    Dice."""
    y_true, y_pred = _pred_true(y_true, y_pred)
    _check_same_shape(y_true, y_pred, "tversky")
    tp = ops.sum(y_true * y_pred, axis=axis)
    fp = ops.sum((1 - y_pred) * y_true, axis=axis)
    fn = ops.sum(y_pred * (1 - y_true), axis=axis)
    return 1 - tp / (tp + fp * alpha + fn * beta + _eps())


class _AxisLoss(LossFunctionWrapper):
    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred, **self.fn_kwargs)


class Dice(_AxisLoss):
    def __init__(self, reduction="sum_over_batch_size", name="dice", axis=None, dtype=None):
        super().__init__(dice, reduction=reduction, name=name, axis=axis)
        self.dtype = dtype
        self.axis = axis


class Tversky(_AxisLoss):
    def __init__(self, alpha=0.5, beta=0.5, reduction="sum_over_batch_size", name="tversky",
                 axis=None, dtype=None):
        super().__init__(tversky, reduction=reduction, name=name, alpha=alpha, beta=beta,
                         axis=axis)
        self.dtype = dtype
        self.alpha, self.beta, self.axis = alpha, beta, axis


# ---- Circle loss (Sun et al., 2020) -------------------------------------------------------------
_NEG = -1e30  # stands for -inf in the masked logsumexp: same value, zero (not nan) gradient


def _labels_1d(labels, what):
    labels = np.asarray(ops.convert_to_numpy(labels))
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1:
        raise ValueError(f"circle: {what} must hold one integer label per embedding, of shape "
                         f"(batch,) or (batch, 1). Received: {what}.shape={labels.shape}")
    return labels.astype(np.int64)


def circle(y_true, y_pred, ref_labels=None, ref_embeddings=None, remove_diagonal=True, gamma=80,
           margin=0.4):
    """Circle loss of L2-normalised embeddings ``y_pred`` (batch, dim) with integer labels
    ``y_true``, against ``ref_embeddings`` / ``ref_labels`` (default: the batch itself)."""
    y_pred = ops.convert_to_tensor(y_pred)
    if len(y_pred.shape) != 2:
        raise ValueError("circle: y_pred must be embeddings of shape (batch, dim). Received: "
                         f"y_pred.shape={tuple(y_pred.shape)}")
    labels = _labels_1d(y_true, "y_true")
    if labels.shape[0] != y_pred.shape[0]:
        raise ValueError(f"circle: y_true has {labels.shape[0]} labels for {y_pred.shape[0]} "
                         "embeddings")
    ref = y_pred if ref_embeddings is None else ops.convert_to_tensor(ref_embeddings)
    ref_lab = labels if ref_labels is None else _labels_1d(ref_labels, "ref_labels")
    distances = ops.maximum(1 - ops.matmul(y_pred, ops.transpose(ref)), 0.0)
    pos = labels[:, None] == ref_lab[None, :]
    neg = ~pos
    if remove_diagonal:
        pos = pos & ~np.eye(labels.size, ref_lab.size, dtype=bool)
    dtype = distances.dtype
    pos_f, neg_f = pos.astype(dtype), neg.astype(dtype)
    pos_weights = ops.maximum((margin + distances) * pos_f, 0.0)
    neg_weights = ops.maximum((1 + margin - distances) * neg_f, 0.0)
    pos_wdists = -1 * gamma * pos_weights * (margin - distances)
    neg_wdists = gamma * neg_weights * ((1 - margin) - distances)
    p_loss = ops.logsumexp(ops.where(pos, pos_wdists, _NEG), axis=1)
    n_loss = ops.logsumexp(ops.where(neg, neg_wdists, _NEG), axis=1)
    return ops.softplus(p_loss + n_loss)


class Circle(LossFunctionWrapper):
    """As Keras, the reduction counts only the embeddings with a positive loss (Keras
    masks the others: an embedding with no positive pair contributes nothing)."""

    def __init__(self, gamma=80.0, margin=0.4, remove_diagonal=True,
                 reduction="sum_over_batch_size", name="circle", dtype=None):
        super().__init__(circle, reduction=reduction, name=name, gamma=gamma, margin=margin,
                         remove_diagonal=remove_diagonal)
        self.dtype = dtype
        self.gamma, self.margin, self.remove_diagonal = gamma, margin, remove_diagonal

    def call(self, y_true, y_pred):
        return circle(y_true, y_pred, **self.fn_kwargs)

    def __call__(self, y_true, y_pred, sample_weight=None):
        values = self.call(y_true, y_pred)
        mask = ops.convert_to_numpy(values) > 0
        if self.reduction in ("mean", "sum_over_batch_size"):
            valid = int(mask.sum())
            mask_weight = mask.size / valid if valid else 0.0
            weight = np.where(mask, mask_weight, 0.0)
        else:
            weight = mask.astype(np.float64)
        weight = weight.astype(ops.convert_to_numpy(values).dtype)
        if sample_weight is not None:
            sw = np.asarray(ops.convert_to_numpy(sample_weight), weight.dtype)
            weight = weight * (sw.reshape(weight.shape) if sw.size == weight.size else sw)
        return _reduce(values, weight, self.reduction, self.name)


# ---- CTC (Graves et al., 2006) -----------------------------------------------------------------
def ctc(y_true, y_pred):
    """CTC loss per sample of logits ``y_pred`` (batch, time, classes) against integer
    labels ``y_true`` (batch, max_length) padded with 0, which is also the blank (Keras's
    mask_index=0); every sample uses all `time` steps. An impossible alignment gives
    inf."""
    y_pred = ops.convert_to_tensor(y_pred)
    labels = np.asarray(ops.convert_to_numpy(y_true))
    if labels.ndim != 2:
        raise ValueError("Targets `y_true` are expected to be a tensor of shape "
                         f"`(batch_size, max_length)` in integer format. Received: "
                         f"y_true.shape={labels.shape}")
    if len(y_pred.shape) != 3:
        raise ValueError("Logits `y_pred` are expected to be a tensor of shape "
                         "`(batch_size, max_length, num_classes)`. Received: "
                         f"y_pred.shape={tuple(y_pred.shape)}")
    if labels.shape[0] != y_pred.shape[0]:
        raise ValueError(f"ctc: y_true has {labels.shape[0]} rows for a batch of "
                         f"{y_pred.shape[0]} in y_pred")
    labels = labels.astype(np.int64)
    classes = int(y_pred.shape[-1])
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        raise ValueError(f"ctc: labels must be in [0, {classes}) (0 is the padding/blank). "
                         f"Received labels in [{labels.min()}, {labels.max()}]")
    label_length = np.sum(labels != 0, axis=-1)
    # the labels of a row are its non-zero entries, in order
    packed = np.zeros_like(labels)
    for i, row in enumerate(labels):
        nz = row[row != 0]
        packed[i, :nz.size] = nz
    steps = int(y_pred.shape[1])
    input_length = np.full(labels.shape[0], steps, np.int64)
    return ops.ctc_loss(packed, y_pred, label_length, input_length, mask_index=0)


class CTC(LossFunctionWrapper):
    def __init__(self, reduction="sum_over_batch_size", name="ctc", dtype=None):
        super().__init__(ctc, reduction=reduction, name=name)
        self.dtype = dtype

    def call(self, y_true, y_pred):
        return ctc(y_true, y_pred)


__all__ = ["CTC", "CategoricalFocalCrossentropy", "CategoricalGeneralizedCrossEntropy",
           "Circle", "Dice", "Tversky", "categorical_focal_crossentropy",
           "categorical_generalized_cross_entropy", "circle", "ctc", "dice", "tversky"]
