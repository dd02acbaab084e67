"""Target/prediction shape handling of every loss and metric, as Keras 3.

Keras reconciles ranks with `squeeze_or_expand_to_same_rank` (a trailing axis of
size 1 is squeezed or added, so a (n,) target meets a (n, 1) output) and takes
sparse labels as (n,) or (n, 1), ints or floats. fastnet does the same and
refuses every other mismatch with a ValueError naming both shapes, where a plain
broadcast would silently compute the loss over an (n, n) grid. References are
Keras's formulas written out in float64 numpy; an optional test compares with
Keras itself when it imports.
"""

import os
import sys

import numpy as np
import pytest

import fastnet
from fastnet import layers, losses, metrics

N = 8
EPS = 1e-7


# ---- numpy references: Keras's per-sample formulas (reduce the last axis) ----------

def _clip(x, lo, hi):
    return np.minimum(np.maximum(x, lo), hi)


def _signed(t):
    return 2.0 * t - 1.0 if np.all((t == 0) | (t == 1)) else t


def _l2n(x):
    return x / np.sqrt(np.maximum(np.sum(x * x, -1, keepdims=True), 1e-12))


def _bce(t, p):
    p = _clip(p, EPS, 1 - EPS)
    return -(t * np.log(p) + (1 - t) * np.log(1 - p))


def _huber(t, p, d=1.0):
    e = np.abs(p - t)
    return np.mean(np.where(e <= d, 0.5 * e * e, d * e - 0.5 * d * d), -1)


def _focal(t, p, gamma=2.0):
    p_t = t * p + (1 - t) * (1 - p)
    return np.mean((1 - p_t) ** gamma * _bce(t, p), -1)


REF = {
    "mean_squared_error": lambda t, p: np.mean((p - t) ** 2, -1),
    "mean_absolute_error": lambda t, p: np.mean(np.abs(p - t), -1),
    "mean_absolute_percentage_error":
        lambda t, p: 100 * np.mean(np.abs(t - p) / np.maximum(np.abs(t), EPS), -1),
    "mean_squared_logarithmic_error": lambda t, p: np.mean(
        (np.log(np.maximum(p, EPS) + 1) - np.log(np.maximum(t, EPS) + 1)) ** 2, -1),
    "huber": _huber,
    "log_cosh": lambda t, p: np.mean(np.log(np.cosh(p - t)), -1),
    "kl_divergence": lambda t, p: np.sum(
        _clip(t, EPS, 1) * np.log(_clip(t, EPS, 1) / _clip(p, EPS, 1)), -1),
    "poisson": lambda t, p: np.mean(p - t * np.log(p + EPS), -1),
    "hinge": lambda t, p: np.mean(np.maximum(1 - _signed(t) * p, 0), -1),
    "squared_hinge": lambda t, p: np.mean(np.maximum(1 - _signed(t) * p, 0) ** 2, -1),
    "categorical_hinge": lambda t, p: np.maximum(
        np.max((1 - t) * p, -1) - np.sum(t * p, -1) + 1, 0),
    "cosine_similarity": lambda t, p: -np.sum(_l2n(t) * _l2n(p), -1),
    "categorical_crossentropy": lambda t, p: -np.sum(
        t * np.log(_clip(p / p.sum(-1, keepdims=True), EPS, 1 - EPS)), -1),
    "binary_crossentropy": lambda t, p: np.mean(_bce(t, p), -1),
    "binary_focal_crossentropy": _focal,
}

# (function, class, data kind, does the Keras *function* reconcile ranks itself?)
LOSSES = [
    (losses.mean_squared_error, losses.MeanSquaredError, "reg", True),
    (losses.mean_absolute_error, losses.MeanAbsoluteError, "reg", True),
    (losses.mean_absolute_percentage_error, losses.MeanAbsolutePercentageError, "reg", True),
    (losses.mean_squared_logarithmic_error, losses.MeanSquaredLogarithmicError, "reg", True),
    (losses.huber, losses.Huber, "reg", True),
    (losses.log_cosh, losses.LogCosh, "reg", True),
    (losses.cosine_similarity, losses.CosineSimilarity, "reg", True),
    (losses.kl_divergence, losses.KLDivergence, "prob", False),
    (losses.poisson, losses.Poisson, "prob", False),
    (losses.hinge, losses.Hinge, "binary", False),
    (losses.squared_hinge, losses.SquaredHinge, "binary", False),
    (losses.categorical_hinge, losses.CategoricalHinge, "binary", False),
    (losses.categorical_crossentropy, losses.CategoricalCrossentropy, "binary", False),
    (losses.binary_crossentropy, losses.BinaryCrossentropy, "binary", False),
    (losses.binary_focal_crossentropy, losses.BinaryFocalCrossentropy, "binary", False),
]
IDS = [fn.__name__ for fn, *_ in LOSSES]


def _data(kind, n=N, seed=0):
    """(y_true, y_pred) of shape (n, 1), float32, in the loss's natural domain."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.05, 0.95, size=(n, 1)).astype(np.float32)
    if kind == "binary":
        t = (rng.random((n, 1)) > 0.5).astype(np.float32)
    elif kind == "prob":
        t = rng.uniform(0.0, 1.0, size=(n, 1)).astype(np.float32)
    else:
        t = rng.normal(size=(n, 1)).astype(np.float32)
        p = (t + rng.normal(scale=0.7, size=(n, 1))).astype(np.float32)
        t, p = np.abs(t) + 0.1, np.abs(p)  # positive, for MAPE/MSLE's domain
    return t, p


def _f64(x):
    return np.asarray(x, dtype=np.float64)


def _val(x):
    return np.asarray(x, dtype=np.float64)


def _assert_names_shapes(excinfo, *shapes):
    msg = str(excinfo.value)
    for s in shapes:
        assert str(tuple(s)) in msg, f"{tuple(s)} not named in: {msg}"


# ---- losses: classes reconcile (n,) / (n, 1) either way, refuse the rest ------------

@pytest.mark.parametrize("fn,cls,kind,_", LOSSES, ids=IDS)
def test_loss_class_reconciles_ranks(fn, cls, kind, _):
    t, p = _data(kind)
    ref = float(np.mean(REF[fn.__name__](_f64(t), _f64(p))))
    loss = cls()
    cases = [(t, p), (t[:, 0], p), (t, p[:, 0])]
    if fn.__name__ not in ("cosine_similarity", "kl_divergence", "categorical_hinge",
                           "categorical_crossentropy"):
        # two (n,) operands: the last axis is the batch; an elementwise mean is unchanged
        cases.append((t[:, 0], p[:, 0]))
    for yt, yp in cases:
        np.testing.assert_allclose(_val(loss(yt, yp)), ref, rtol=2e-5, atol=1e-6,
                                   err_msg=f"y_true {yt.shape}, y_pred {yp.shape}")


@pytest.mark.parametrize("fn,cls,kind,_", LOSSES, ids=IDS)
def test_loss_class_refuses_mismatch(fn, cls, kind, _):
    t, p = _data(kind)
    for yt in [np.repeat(t, 3, axis=1), np.concatenate([t[:, 0], t[:1, 0]])]:
        with pytest.raises(ValueError) as e:
            cls()(yt, p)
        _assert_names_shapes(e, yt.shape, p.shape)


@pytest.mark.parametrize("fn,cls,kind,reconciles", LOSSES, ids=IDS)
def test_loss_function_shapes(fn, cls, kind, reconciles):
    t, p = _data(kind)
    ref = REF[fn.__name__](_f64(t), _f64(p))
    np.testing.assert_allclose(_val(fn(t, p)), ref, rtol=2e-5, atol=1e-6)
    if reconciles:  # Keras's function reconciles too: (n,) vs (n, 1) -> per-sample (n,)
        np.testing.assert_allclose(_val(fn(t[:, 0], p)), ref, rtol=2e-5, atol=1e-6)
    else:  # Keras's function expects equal shapes; never an (n, n) broadcast
        with pytest.raises(ValueError) as e:
            fn(t[:, 0], p)
        _assert_names_shapes(e, (N,), (N, 1))
    with pytest.raises(ValueError) as e:
        fn(np.repeat(t, 3, axis=1), p)
    _assert_names_shapes(e, (N, 3), (N, 1))


def test_loss_rank3_targets_squeeze_like_keras():
    rng = np.random.default_rng(1)
    t = rng.normal(size=(4, 5)).astype(np.float32)
    p = rng.normal(size=(4, 5, 1)).astype(np.float32)
    # Keras squeezes the (4, 5, 1) operand: per-sample values are (4,), the mean over 5
    np.testing.assert_allclose(_val(losses.mse(t, p)), np.mean((p[..., 0] - t) ** 2, -1),
                               rtol=1e-5)
    np.testing.assert_allclose(_val(losses.MeanSquaredError()(t, p)),
                               np.mean((p[..., 0] - t) ** 2), rtol=1e-5)
    with pytest.raises(ValueError) as e:
        losses.MeanSquaredError()(t[:, :4], p)
    _assert_names_shapes(e, (4, 4), (4, 5, 1))


def test_multiclass_losses_keep_working():
    rng = np.random.default_rng(2)
    p = rng.dirichlet(np.ones(4), size=N).astype(np.float32)
    t = np.eye(4, dtype=np.float32)[rng.integers(0, 4, N)]
    for fn in ("categorical_crossentropy", "kl_divergence", "categorical_hinge",
               "mean_squared_error", "cosine_similarity"):
        np.testing.assert_allclose(_val(losses.get(fn)(t, p)), REF[fn](_f64(t), _f64(p)),
                                   rtol=2e-5, atol=1e-6, err_msg=fn)
    # one-hot against a different class count, and integer labels, are refused
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy") as e:
        losses.CategoricalCrossentropy()(t.argmax(-1), p)
    _assert_names_shapes(e, (N,), (N, 4))


# ---- sparse labels ---------------------------------------------------------------

def _scce_ref(labels, p):
    p = _clip(p / p.sum(-1, keepdims=True), EPS, 1 - EPS)
    return -np.log(p[np.arange(len(labels)), labels])


@pytest.mark.parametrize("n", [N, 4096 // 4 + 3])  # numpy path, and the fused kernel's
def test_sparse_categorical_crossentropy_label_shapes(n):
    rng = np.random.default_rng(3)
    p = rng.dirichlet(np.ones(5), size=n).astype(np.float32)
    lab = rng.integers(0, 5, n)
    ref = _scce_ref(lab, _f64(p))
    for yt in [lab, lab[:, None], lab.astype(np.float32), lab[:, None].astype(np.float64),
               lab.astype(np.int32)]:
        np.testing.assert_allclose(_val(losses.sparse_categorical_crossentropy(yt, p)), ref,
                                   rtol=1e-5, err_msg=str((yt.shape, yt.dtype)))
        np.testing.assert_allclose(_val(losses.SparseCategoricalCrossentropy()(yt, p)),
                                   ref.mean(), rtol=1e-5)
    for bad in [lab[:, None].repeat(2, 1), lab[:-1], np.eye(5)[lab]]:
        with pytest.raises(ValueError) as e:
            losses.SparseCategoricalCrossentropy()(bad, p)
        _assert_names_shapes(e, bad.shape, p.shape)


def test_sparse_categorical_crossentropy_ignore_class_and_logits():
    rng = np.random.default_rng(4)
    logits = rng.normal(size=(N, 3)).astype(np.float32)
    lab = rng.integers(0, 3, N)
    lab[::3] = -1
    p = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    keep = lab != -1
    ref = np.where(keep, _scce_ref(np.where(keep, lab, 0), _f64(p)), 0.0)
    got = losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1,
                                               reduction="none")(lab[:, None].astype("f4"),
                                                                 logits)
    np.testing.assert_allclose(_val(got), ref, rtol=1e-5, atol=1e-6)


# ---- sample weights --------------------------------------------------------------

def test_sample_weight_shapes_and_reductions():
    t, p = _data("reg")
    per = REF["mean_squared_error"](_f64(t), _f64(p))  # (N,)
    w = np.linspace(0.5, 2.0, N)
    for red, ref in [("sum_over_batch_size", np.sum(per * w) / N), ("sum", np.sum(per * w)),
                     ("mean_with_sample_weight", np.sum(per * w) / np.sum(w))]:
        loss = losses.MeanSquaredError(reduction=red)
        for yt in (t, t[:, 0]):
            for sw in (w, w[:, None]):
                np.testing.assert_allclose(_val(loss(yt, p, sample_weight=sw)), ref,
                                           rtol=1e-5, err_msg=f"{red} {yt.shape} {sw.shape}")
    none = losses.MeanSquaredError(reduction="none")
    np.testing.assert_allclose(_val(none(t[:, 0], p, sample_weight=w)), per * w, rtol=1e-5)
    # a scalar weight scales every value (Keras broadcasts it)
    np.testing.assert_allclose(_val(losses.MeanSquaredError()(t, p, sample_weight=2.0)),
                               2 * per.mean(), rtol=1e-5)
    for bad in (np.ones(N + 1), np.ones((N, 2))):
        with pytest.raises(ValueError) as e:
            losses.MeanSquaredError()(t[:, 0], p, sample_weight=bad)
        _assert_names_shapes(e, bad.shape)


def test_sample_weight_per_sample_on_per_timestep_loss():
    rng = np.random.default_rng(5)
    t = rng.normal(size=(3, 4, 2)).astype(np.float32)
    p = rng.normal(size=(3, 4, 2)).astype(np.float32)
    per = np.mean((p - t) ** 2, -1)  # (3, 4)
    w = np.array([1.0, 0.0, 2.0])
    np.testing.assert_allclose(_val(losses.MeanSquaredError()(t, p, sample_weight=w)),
                               np.sum(per * w[:, None]) / per.size, rtol=1e-5)
    wt = rng.random((3, 4))
    np.testing.assert_allclose(_val(losses.MeanSquaredError()(t, p, sample_weight=wt)),
                               np.sum(per * wt) / per.size, rtol=1e-5)


# ---- metrics ---------------------------------------------------------------------

def _probs_labels(n=N, k=1, seed=6):
    rng = np.random.default_rng(seed)
    if k == 1:
        p = rng.uniform(0, 1, size=(n, 1)).astype(np.float32)
        return p, (rng.random(n) > 0.5).astype(np.float32)
    p = rng.dirichlet(np.ones(k), size=n).astype(np.float32)
    return p, rng.integers(0, k, n)


def _in_top_k_ref(p, lab, k):
    return np.array([np.sum(p[i] > p[i, lab[i]]) < k for i in range(len(lab))], float)


def test_regression_metrics_reconcile_and_refuse():
    t, p = _data("reg")
    err = _f64(p[:, 0]) - _f64(t[:, 0])
    refs = {metrics.MeanSquaredError: np.mean(err ** 2),
            metrics.MeanAbsoluteError: np.mean(np.abs(err)),
            metrics.RootMeanSquaredError: np.sqrt(np.mean(err ** 2))}
    w = np.linspace(0.0, 1.0, N)
    wrefs = {metrics.MeanSquaredError: np.sum(w * err ** 2) / w.sum(),
             metrics.MeanAbsoluteError: np.sum(w * np.abs(err)) / w.sum(),
             metrics.RootMeanSquaredError: np.sqrt(np.sum(w * err ** 2) / w.sum())}
    for cls, ref in refs.items():
        for yt, yp in [(t, p), (t[:, 0], p), (t, p[:, 0])]:
            m = cls()
            m.update_state(yt, yp)
            np.testing.assert_allclose(float(m.result()), ref, rtol=1e-5, err_msg=cls.__name__)
            m = cls()
            for sw in (w, w[:, None]):
                m.reset_state()
                m.update_state(yt, yp, sample_weight=sw)
                np.testing.assert_allclose(float(m.result()), wrefs[cls], rtol=1e-5)
        with pytest.raises(ValueError) as e:
            cls().update_state(np.repeat(t, 2, 1), p)
        _assert_names_shapes(e, (N, 2), (N, 1))
        with pytest.raises(ValueError) as e:
            cls().update_state(t[:, 0], p, sample_weight=np.ones(N + 2))
        _assert_names_shapes(e, (N + 2,))
    # the per-sample functions
    np.testing.assert_allclose(metrics.mean_squared_error(t[:, 0], p), err ** 2, rtol=1e-5)
    np.testing.assert_allclose(metrics.mean_absolute_error(t[:, 0], p), np.abs(err), rtol=1e-5)


def test_binary_accuracy_and_accuracy_reconcile():
    p, lab = _probs_labels()
    ref = np.mean(lab == (p[:, 0] > 0.5))
    for yt in (lab, lab[:, None], lab.astype(np.int64)):
        m = metrics.BinaryAccuracy()
        m.update_state(yt, p)
        np.testing.assert_allclose(float(m.result()), ref, rtol=1e-6)
        np.testing.assert_allclose(np.mean(metrics.binary_accuracy(yt, p)), ref, rtol=1e-6)
    m = metrics.BinaryAccuracy()
    m.update_state(lab, p[:, 0])
    np.testing.assert_allclose(float(m.result()), ref, rtol=1e-6)
    rounded = np.round(p)
    acc = metrics.Accuracy()
    acc.update_state(lab, rounded)
    np.testing.assert_allclose(float(acc.result()), np.mean(lab == rounded[:, 0]), rtol=1e-6)
    for cls in (metrics.BinaryAccuracy, metrics.Accuracy):
        with pytest.raises(ValueError) as e:
            cls().update_state(lab[:-1], p)
        _assert_names_shapes(e, (N - 1,), (N, 1))


def test_categorical_metrics_label_shapes():
    p, lab = _probs_labels(k=6)
    onehot = np.eye(6, dtype=np.float32)[lab]
    acc_ref = np.mean(p.argmax(-1) == lab)
    top_ref = np.mean(_in_top_k_ref(p, lab, 3))
    for yt in (lab, lab[:, None], lab.astype(np.float32), lab[:, None].astype(np.float32)):
        m = metrics.SparseCategoricalAccuracy()
        m.update_state(yt, p)
        np.testing.assert_allclose(float(m.result()), acc_ref, rtol=1e-6)
        m = metrics.SparseTopKCategoricalAccuracy(k=3)
        m.update_state(yt, p)
        np.testing.assert_allclose(float(m.result()), top_ref, rtol=1e-6)
    m = metrics.CategoricalAccuracy()
    m.update_state(onehot, p)
    np.testing.assert_allclose(float(m.result()), acc_ref, rtol=1e-6)
    m = metrics.TopKCategoricalAccuracy(k=3)
    m.update_state(onehot, p)
    np.testing.assert_allclose(float(m.result()), top_ref, rtol=1e-6)
    # sorted ids: the top-3 class ids per row
    ids = np.argsort(-p, axis=-1, kind="stable")
    m = metrics.SparseTopKCategoricalAccuracy(k=3, from_sorted_ids=True)
    m.update_state(lab, ids)
    np.testing.assert_allclose(float(m.result()),
                               np.mean([lab[i] in ids[i, :3] for i in range(N)]), rtol=1e-6)
    for cls, bad in [(metrics.SparseCategoricalAccuracy, lab[:, None].repeat(2, 1)),
                     (metrics.SparseTopKCategoricalAccuracy, lab[:-1]),
                     (metrics.CategoricalAccuracy, lab),
                     (metrics.TopKCategoricalAccuracy, lab[:, None])]:
        with pytest.raises(ValueError) as e:
            cls().update_state(bad, p)
        _assert_names_shapes(e, bad.shape, p.shape)
    with pytest.raises(ValueError, match=r"\[0, 6\)"):
        metrics.SparseTopKCategoricalAccuracy().update_state(lab + 6, p)


def test_confusion_metrics_reconcile():
    p, lab = _probs_labels(n=40)
    pred = p[:, 0] > 0.5
    tp, fp, fn = np.sum(pred & (lab == 1)), np.sum(pred & (lab == 0)), np.sum(~pred & (lab == 1))
    pos, neg = p[lab == 1, 0], p[lab == 0, 0]
    auc_ref = np.mean((pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :]))
    for yt, yp in [(lab, p), (lab[:, None], p), (lab, p[:, 0])]:
        m = metrics.Precision()
        m.update_state(yt, yp)
        np.testing.assert_allclose(float(m.result()), tp / (tp + fp), rtol=1e-6)
        m = metrics.Recall()
        m.update_state(yt, yp)
        np.testing.assert_allclose(float(m.result()), tp / (tp + fn), rtol=1e-6)
        m = metrics.AUC(num_thresholds=1000)
        m.update_state(yt, yp)
        np.testing.assert_allclose(float(m.result()), auc_ref, atol=5e-3)
    w = np.linspace(0, 1, 40)
    m = metrics.Precision()
    m.update_state(lab, p, sample_weight=w[:, None])
    np.testing.assert_allclose(float(m.result()),
                               np.sum(w * (pred & (lab == 1))) / np.sum(w * pred), rtol=1e-6)
    for cls in (metrics.Precision, metrics.Recall, metrics.AUC):
        with pytest.raises(ValueError) as e:
            cls().update_state(lab[:-1], p)
        _assert_names_shapes(e, (39,), (40, 1))
        with pytest.raises(ValueError) as e:
            cls().update_state(np.repeat(lab[:, None], 2, 1).T, p)
        _assert_names_shapes(e, (2, 40), (40, 1))
        with pytest.raises(ValueError) as e:
            cls().update_state(lab, p, sample_weight=np.ones(41))
        _assert_names_shapes(e, (41,))


def test_precision_recall_top_k_and_class_id():
    p, lab = _probs_labels(n=30, k=4, seed=7)
    onehot = np.eye(4)[lab]
    # class_id: the binary problem of one column
    c = 2
    pred, true = p[:, c] > 0.5, onehot[:, c] == 1
    m = metrics.Precision(class_id=c)
    m.update_state(onehot, p)
    np.testing.assert_allclose(float(m.result()),
                               np.sum(pred & true) / max(np.sum(pred), 1), rtol=1e-6)
    m = metrics.Recall(class_id=c)
    m.update_state(onehot, p)
    np.testing.assert_allclose(float(m.result()), np.sum(pred & true) / np.sum(true), rtol=1e-6)
    # top_k: the k highest scores of each row are the positive predictions
    k = 2
    top = np.zeros_like(onehot, dtype=bool)
    np.put_along_axis(top, np.argsort(-p, -1)[:, :k], True, -1)
    m = metrics.Precision(top_k=k)
    m.update_state(onehot, p)
    np.testing.assert_allclose(float(m.result()), np.sum(top & (onehot == 1)) / np.sum(top),
                               rtol=1e-6)
    m = metrics.Recall(top_k=k)
    m.update_state(onehot, p)
    np.testing.assert_allclose(float(m.result()), np.sum(top & (onehot == 1)) / np.sum(onehot),
                               rtol=1e-6)
    with pytest.raises(ValueError, match="class_id"):
        metrics.Precision(class_id=7).update_state(onehot, p)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        metrics.Recall(thresholds=[0.2, 1.5])


def _rank_auc(pos, neg):
    return np.mean((pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :]))


def test_auc_multi_label_and_label_weights():
    rng = np.random.default_rng(8)
    y = (rng.random((60, 3)) > 0.5).astype(np.float32)
    p = np.clip(0.3 * y + rng.random((60, 3)) * 0.7, 0, 1).astype(np.float32)
    per = np.array([_rank_auc(p[y[:, j] == 1, j], p[y[:, j] == 0, j]) for j in range(3)])
    m = metrics.AUC(num_thresholds=2000, multi_label=True)
    m.update_state(y, p)
    np.testing.assert_allclose(float(m.result()), per.mean(), atol=3e-3)
    lw = np.array([1.0, 0.0, 3.0])
    m = metrics.AUC(num_thresholds=2000, multi_label=True, label_weights=lw)
    m.update_state(y, p)
    np.testing.assert_allclose(float(m.result()), np.sum(per * lw) / lw.sum(), atol=3e-3)
    with pytest.raises(ValueError, match="rank 2"):
        metrics.AUC(multi_label=True).update_state(y[:, 0], p[:, 0])
    with pytest.raises(ValueError, match="num_labels"):
        metrics.AUC(num_labels=3)


# ---- through compile / fit / evaluate --------------------------------------------

def _regression_data(n=256, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5, 3.0]) + 0.25).astype(np.float32)
    return x, y


def _dense_model(units=1, activation=None, inputs=4):
    return fastnet.Sequential([layers.Input((inputs,)),
                               layers.Dense(units, activation=activation)])


@pytest.mark.parametrize("loss", ["mse", "mae", "huber", "log_cosh",
                                  losses.MeanSquaredError(), losses.mean_squared_error])
def test_dense1_regression_on_1d_targets_fits(loss):
    x, y = _regression_data()
    fastnet.utils.set_random_seed(0)
    model = _dense_model()
    model.compile(fastnet.optimizers.Adam(0.05), loss, metrics=["mae", "mse", "rmse"])
    hist = model.fit(x, y, epochs=40, batch_size=32, verbose=0)
    pred = model.predict(x, verbose=0)[:, 0]
    r2 = 1 - np.sum((pred - y) ** 2) / np.sum((y - y.mean()) ** 2)
    assert r2 > 0.99, r2
    assert {"loss", "mae", "mse", "rmse"} <= set(hist.history)
    logs = model.evaluate(x, y, batch_size=len(x), verbose=0, return_dict=True)
    err = pred.astype(np.float64) - y
    np.testing.assert_allclose(logs["mae"], np.mean(np.abs(err)), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(logs["mse"], np.mean(err ** 2), rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(logs["rmse"], np.sqrt(np.mean(err ** 2)), rtol=1e-4, atol=1e-6)


def test_binary_crossentropy_with_1d_targets_trains():
    x, _ = _regression_data(seed=1)
    y = (x[:, 0] - x[:, 1] > 0).astype(np.float32)
    fastnet.utils.set_random_seed(0)
    model = _dense_model(activation="sigmoid")
    model.compile(fastnet.optimizers.Adam(0.05), "binary_crossentropy",
                  metrics=["accuracy", "binary_accuracy", "auc", "precision", "recall"])
    model.fit(x, y, epochs=30, batch_size=32, verbose=0)
    logs = model.evaluate(x, y, batch_size=len(x), verbose=0, return_dict=True)
    p = model.predict(x, verbose=0)[:, 0].astype(np.float64)
    assert logs["accuracy"] > 0.95, logs
    np.testing.assert_allclose(logs["loss"], np.mean(_bce(y, p)), rtol=1e-4)
    np.testing.assert_allclose(logs["accuracy"], np.mean((p > 0.5) == y), rtol=1e-6)
    np.testing.assert_allclose(logs["binary_accuracy"], logs["accuracy"], rtol=1e-6)
    np.testing.assert_allclose(logs["precision"],
                               np.sum((p > 0.5) & (y == 1)) / np.sum(p > 0.5), rtol=1e-5)
    np.testing.assert_allclose(logs["recall"],
                               np.sum((p > 0.5) & (y == 1)) / np.sum(y == 1), rtol=1e-5)
    assert logs["auc"] > 0.98


def test_sparse_targets_through_compile():
    rng = np.random.default_rng(9)
    x = rng.normal(size=(120, 5)).astype(np.float32)
    lab = np.argmax(x[:, :3], axis=-1)
    fastnet.utils.set_random_seed(0)
    model = _dense_model(3, inputs=5)
    model.compile(fastnet.optimizers.Adam(0.05),
                  fastnet.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy", "sparse_categorical_accuracy",
                           "sparse_top_k_categorical_accuracy"])
    for yt in (lab, lab[:, None], lab.astype(np.float32)):
        model.fit(x, yt, epochs=3, batch_size=30, verbose=0)
        logs = model.evaluate(x, yt, batch_size=120, verbose=0, return_dict=True)
        logits = model.predict(x, verbose=0).astype(np.float64)
        lp = logits - np.log(np.sum(np.exp(logits), -1, keepdims=True))
        np.testing.assert_allclose(logs["loss"], -np.mean(lp[np.arange(120), lab]), rtol=1e-4)
        acc = np.mean(logits.argmax(-1) == lab)
        np.testing.assert_allclose(logs["accuracy"], acc, rtol=1e-6)
        np.testing.assert_allclose(logs["sparse_categorical_accuracy"], acc, rtol=1e-6)
        assert logs["sparse_top_k_categorical_accuracy"] == 1.0  # k=5 > 3 classes


def test_crossentropy_identifier_picks_the_loss_from_shapes():
    rng = np.random.default_rng(10)
    x = rng.normal(size=(64, 4)).astype(np.float32)
    for units, act, y in [(1, "sigmoid", (x[:, 0] > 0).astype(np.float32)),
                          (3, "softmax", np.argmax(x[:, :3], -1)),
                          (3, "softmax", np.eye(3, dtype=np.float32)[np.argmax(x[:, :3], -1)])]:
        model = _dense_model(units, act)
        model.compile("sgd", "crossentropy")
        loss = model.evaluate(x, y, batch_size=64, verbose=0)
        p = model.predict(x, verbose=0).astype(np.float64)
        if units == 1:
            ref = np.mean(_bce(y, p[:, 0]))
        elif y.ndim == 1:
            ref = np.mean(_scce_ref(y, p))
        else:
            ref = np.mean(REF["categorical_crossentropy"](_f64(y), p))
        np.testing.assert_allclose(loss, ref, rtol=1e-4)


def test_mismatched_targets_raise_in_fit_and_evaluate():
    x, y = _regression_data(n=32)
    model = _dense_model()
    model.compile("sgd", "mse", metrics=["mae"])
    bad = np.stack([y, y], axis=1)
    for call in (lambda: model.fit(x, bad, batch_size=32, verbose=0),
                 lambda: model.evaluate(x, bad, batch_size=32, verbose=0)):
        with pytest.raises(ValueError) as e:
            call()
        _assert_names_shapes(e, (32, 2), (32, 1))
    model.compile("sgd", "binary_crossentropy")
    with pytest.raises(ValueError) as e:
        model.fit(x, np.zeros((32, 3), np.float32), batch_size=32, verbose=0)
    _assert_names_shapes(e, (32, 3), (32, 1))


def test_weighted_fit_with_1d_targets_and_weights():
    x, y = _regression_data(n=64)
    w = np.linspace(0.0, 2.0, 64).astype(np.float32)
    model = _dense_model()
    model.compile("sgd", "mse", weighted_metrics=["mae"])
    for sw in (w, w[:, None]):
        logs = model.evaluate(x, y, sample_weight=sw, batch_size=64, verbose=0,
                              return_dict=True)
        err = model.predict(x, verbose=0)[:, 0].astype(np.float64) - y
        np.testing.assert_allclose(logs["loss"], np.sum(w * err ** 2) / 64, rtol=1e-4)
        np.testing.assert_allclose(logs["mae"], np.sum(w * np.abs(err)) / w.sum(), rtol=1e-4)


def test_custom_loss_and_metric_functions_see_reconciled_ranks():
    x, y = _regression_data(n=32)
    seen = []

    def my_loss(y_true, y_pred):
        seen.append((tuple(y_true.shape), tuple(y_pred.shape)))
        return fastnet.ops.mean(fastnet.ops.abs(y_true - y_pred), axis=-1)

    def my_metric(y_true, y_pred):
        return np.abs(np.asarray(y_true) - np.asarray(y_pred))

    model = _dense_model()
    model.compile("sgd", my_loss, metrics=[my_metric])
    logs = model.evaluate(x, y, batch_size=32, verbose=0, return_dict=True)
    err = np.abs(model.predict(x, verbose=0)[:, 0].astype(np.float64) - y)
    assert seen[-1] == ((32, 1), (32, 1))
    np.testing.assert_allclose(logs["loss"], err.mean(), rtol=1e-5)
    np.testing.assert_allclose(logs["my_metric"], err.mean(), rtol=1e-5)


# ---- optional: Keras itself on the same arrays ------------------------------------

@pytest.fixture(scope="module")
def keras():
    if "keras" not in sys.modules:
        os.environ.setdefault("KERAS_BACKEND", "torch")
    try:
        import keras as k
        k.losses.MeanSquaredError()(np.zeros((2, 1)), np.zeros((2, 1)))
    except Exception as e:  # absent, or no usable backend
        pytest.skip(f"keras unavailable: {e}")
    return k


def _np_of(x):
    return np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x, np.float64)


@pytest.mark.filterwarnings("ignore")  # Keras warns about CCE on one class, as intended here
def test_losses_match_keras(keras):
    w = np.linspace(0.2, 1.5, N).astype(np.float32)
    for _fn, cls, kind, _ in LOSSES:
        t, p = _data(kind)
        name = cls.__name__
        for yt, yp in [(t[:, 0], p), (t, p), (t, p[:, 0])]:
            for sw in (None, w, w[:, None]):
                ours = _val(cls()(yt, yp, sample_weight=sw))
                theirs = _np_of(getattr(keras.losses, name)()(yt, yp, sample_weight=sw))
                np.testing.assert_allclose(ours, theirs, rtol=2e-4, atol=1e-5,
                                           err_msg=f"{name} {yt.shape} {yp.shape}")
        for red in ("sum", "mean_with_sample_weight", "none"):
            for sw in (w, w[:, None], 2.0):
                ours = _val(cls(reduction=red)(t[:, 0], p, sample_weight=sw))
                theirs = _np_of(getattr(keras.losses, name)(reduction=red)(t[:, 0], p,
                                                                           sample_weight=sw))
                assert ours.shape == theirs.shape, (name, red, np.shape(sw))
                np.testing.assert_allclose(ours, theirs, rtol=2e-4, atol=1e-5,
                                           err_msg=f"{name} {red} {np.shape(sw)}")
    rng = np.random.default_rng(11)
    pk = rng.dirichlet(np.ones(5), size=N).astype(np.float32)
    lab = rng.integers(0, 5, N)
    for yt in (lab, lab[:, None], lab.astype(np.float32)):
        np.testing.assert_allclose(
            _val(losses.SparseCategoricalCrossentropy()(yt, pk)),
            _np_of(keras.losses.SparseCategoricalCrossentropy()(yt, pk)), rtol=1e-5)


@pytest.mark.filterwarnings("ignore")
def test_metrics_match_keras(keras):
    rng = np.random.default_rng(12)
    p1 = rng.uniform(0, 1, size=(40, 1)).astype(np.float32)
    y1 = (rng.random(40) > 0.5).astype(np.float32)
    reg_t, reg_p = _data("reg", n=40)
    pk = rng.dirichlet(np.ones(6), size=40).astype(np.float32)
    lab = rng.integers(0, 6, 40)
    w = np.linspace(0.1, 1.0, 40).astype(np.float32)
    cases = [
        ("MeanSquaredError", {}, reg_t[:, 0], reg_p),
        ("MeanAbsoluteError", {}, reg_t[:, 0], reg_p),
        ("RootMeanSquaredError", {}, reg_t[:, 0], reg_p),
        ("BinaryAccuracy", {}, y1, p1),
        ("Accuracy", {}, y1, np.round(p1)),
        ("Precision", {}, y1, p1),
        ("Recall", {}, y1, p1),
        ("AUC", {}, y1, p1),
        ("AUC", {"curve": "PR"}, y1, p1),
        ("AUC", {"curve": "PR", "summation_method": "minoring"}, y1, p1),
        ("AUC", {"thresholds": [0.2, 0.4, 0.6]}, y1, p1),
        ("SparseCategoricalAccuracy", {}, lab, pk),
        ("SparseCategoricalAccuracy", {}, lab[:, None].astype(np.float32), pk),
        ("SparseTopKCategoricalAccuracy", {"k": 2}, lab, pk),
        ("SparseTopKCategoricalAccuracy", {"k": 2}, lab[:, None], pk),
        ("CategoricalAccuracy", {}, np.eye(6, dtype=np.float32)[lab], pk),
        ("TopKCategoricalAccuracy", {"k": 2}, np.eye(6, dtype=np.float32)[lab], pk),
        ("Precision", {"top_k": 2}, np.eye(6, dtype=np.float32)[lab], pk),
        ("Recall", {"class_id": 3}, np.eye(6, dtype=np.float32)[lab], pk),
    ]
    for name, kw, yt, yp in cases:
        for sw in (None, w, w[:, None]):
            ours = getattr(metrics, name)(**kw)
            theirs = getattr(keras.metrics, name)(**kw)
            ours.update_state(yt, yp, sample_weight=sw)
            theirs.update_state(yt, yp, sample_weight=sw)
            np.testing.assert_allclose(float(ours.result()), float(_np_of(theirs.result())),
                                       rtol=1e-4, atol=1e-5,
                                       err_msg=f"{name}{kw} {yt.shape} {yp.shape}")
    y3 = (rng.random((40, 3)) > 0.5).astype(np.float32)
    p3 = rng.random((40, 3)).astype(np.float32)
    for kw in ({"multi_label": True}, {"multi_label": True, "label_weights": [1.0, 0.5, 2.0]},
               {"multi_label": True, "curve": "PR"}, {"label_weights": [1.0, 0.5, 2.0]}):
        ours, theirs = metrics.AUC(**kw), keras.metrics.AUC(**kw)
        ours.update_state(y3, p3)
        theirs.update_state(y3, p3)
        np.testing.assert_allclose(float(ours.result()), float(_np_of(theirs.result())),
                                   rtol=1e-4, atol=1e-5, err_msg=str(kw))
