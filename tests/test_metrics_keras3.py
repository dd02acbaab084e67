"""Keras 3 metrics added for issue 13: numpy reference formulas, Keras's documented
values, compile by name, and (optional) equality with installed Keras."""

import os

import numpy as np
import pytest

import fastnet as keras
from fastnet import metrics

RNG = np.random.default_rng(7)
YT_BIN = RNG.integers(0, 2, (40, 1)).astype("float32")
YP_BIN = RNG.random((40, 1)).astype("float32")
SW = RNG.random(40).astype("float32")


def _counts(y_true, y_pred, t, w):
    tp = fp = tn = fn = 0.0
    for yt, yp, wi in zip(y_true.ravel(), y_pred.ravel(), w):
        pos, pred = yt != 0, yp > t
        tp += wi * (pos and pred)
        fp += wi * (not pos and pred)
        tn += wi * (not pos and not pred)
        fn += wi * (pos and not pred)
    return tp, fp, tn, fn


def test_confusion_counts_against_loop():
    ths = [0.2, 0.5, 0.9]
    ms = [metrics.TruePositives(ths), metrics.FalsePositives(ths), metrics.TrueNegatives(ths),
          metrics.FalseNegatives(ths)]
    for m in ms:
        m.update_state(YT_BIN[:25], YP_BIN[:25], sample_weight=SW[:25])
        m.update_state(YT_BIN[25:, 0], YP_BIN[25:, 0], sample_weight=SW[25:])
    for i, t in enumerate(ths):
        ref = _counts(YT_BIN, YP_BIN, t, SW)
        for m, r in zip(ms, ref):
            np.testing.assert_allclose(m.result()[i], r, rtol=1e-5)
    m = metrics.TruePositives()  # Keras's documented example
    m.update_state([0, 1, 1, 1], [1, 0, 1, 1])
    assert m.result() == 2.0 and np.ndim(m.result()) == 0
    m.reset_state()
    m.update_state([0, 1, 1, 1], [1, 0, 1, 1], sample_weight=[0, 0, 1, 0])
    assert m.result() == 1.0
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        metrics.FalsePositives(thresholds=[0.5, 1.5])
    assert metrics.TrueNegatives(thresholds=0.3).get_config()["thresholds"] == 0.3


@pytest.mark.parametrize("cls,arg,y,p,w,plain,weighted", [
    ("SensitivityAtSpecificity", 0.5, [0, 0, 0, 1, 1], [0, 0.3, 0.8, 0.3, 0.8],
     [1, 1, 2, 2, 1], 0.5, 0.333333),
    ("SpecificityAtSensitivity", 0.5, [0, 0, 0, 1, 1], [0, 0.3, 0.8, 0.3, 0.8],
     [1, 1, 2, 2, 2], 0.66666667, 0.5),
    ("PrecisionAtRecall", 0.5, [0, 0, 0, 1, 1], [0, 0.3, 0.8, 0.3, 0.8],
     [2, 2, 2, 1, 1], 0.5, 0.33333333),
    ("RecallAtPrecision", 0.8, [0, 0, 1, 1], [0, 0.5, 0.3, 0.9], [1, 0, 0, 1], 0.5, 1.0),
])
def test_operating_point_metrics_documented_values(cls, arg, y, p, w, plain, weighted):
    m = getattr(metrics, cls)(arg)
    m.update_state(y, p)
    np.testing.assert_allclose(m.result(), plain, rtol=1e-5)
    m.reset_state()
    m.update_state(y, p, sample_weight=w)
    np.testing.assert_allclose(m.result(), weighted, rtol=1e-5)
    with pytest.raises(ValueError, match="range"):
        getattr(metrics, cls)(1.5)


def test_operating_point_reference_sweep():
    # brute force over every candidate threshold t in {0, 1/(n-1), ..., 1}
    n = 50
    ts = np.linspace(0, 1, n)
    best = 0.0
    for t in ts:
        tp, fp, tn, fn = _counts(YT_BIN, YP_BIN, t, np.ones(40))
        rec = tp / (tp + fn) if tp + fn else 0.0
        prec = tp / (tp + fp) if tp + fp else 0.0
        if rec >= 0.7:
            best = max(best, prec)
    m = metrics.PrecisionAtRecall(0.7, num_thresholds=n)
    m.update_state(YT_BIN, YP_BIN)
    np.testing.assert_allclose(m.result(), best, rtol=1e-5)
    # class_id picks one column of multi-class predictions
    y = np.eye(3)[RNG.integers(0, 3, 30)]
    p = RNG.random((30, 3))
    a, b = metrics.RecallAtPrecision(0.4, class_id=2), metrics.RecallAtPrecision(0.4)
    a.update_state(y, p)
    b.update_state(y[:, 2], p[:, 2])
    assert a.result() == b.result()


def _f_beta_ref(y, p, beta, average, threshold=None):
    pred = (p > threshold) if threshold is not None else (p == p.max(-1, keepdims=True))
    pred = pred.astype(float)
    axis = None if average == "micro" else 0
    tp = (pred * y).sum(axis)
    fp = (pred * (1 - y)).sum(axis)
    fn = ((1 - pred) * y).sum(axis)
    prec, rec = tp / (tp + fp + 1e-7), tp / (tp + fn + 1e-7)
    f = (1 + beta**2) * prec * rec / (beta**2 * prec + rec + 1e-7)
    if average == "weighted":
        return np.sum(f * y.sum(0) / (y.sum() + 1e-7))
    return f if average is None else np.mean(f)


@pytest.mark.parametrize("average", [None, "micro", "macro", "weighted"])
def test_fbeta_f1_against_formula(average):
    y = np.eye(4)[RNG.integers(0, 4, 50)]
    p = RNG.random((50, 4))
    m = metrics.FBetaScore(average=average, beta=2.0)
    m.update_state(y[:20], p[:20])
    m.update_state(y[20:], p[20:])
    np.testing.assert_allclose(m.result(), _f_beta_ref(y, p, 2.0, average), rtol=1e-5)
    f1 = metrics.F1Score(average=average, threshold=0.4)
    f1.update_state(y, p)
    np.testing.assert_allclose(f1.result(), _f_beta_ref(y, p, 1.0, average, 0.4), rtol=1e-5)
    assert "beta" not in f1.get_config()
    with pytest.raises(ValueError, match="average"):
        metrics.F1Score(average="samples")
    with pytest.raises(ValueError, match="beta"):
        metrics.FBetaScore(beta=2)
    with pytest.raises(ValueError, match="2D"):
        metrics.F1Score().update_state(y[:, 0], p[:, 0])


def test_mean_iou_against_confusion_matrix():
    yt = RNG.integers(0, 4, 60)
    yp = RNG.integers(0, 4, 60)
    cm = np.zeros((4, 4))
    for a, b in zip(yt, yp):
        cm[a, b] += 1
    inter = np.diag(cm)
    union = cm.sum(0) + cm.sum(1) - inter
    m = metrics.MeanIoU(num_classes=4)
    m.update_state(yt, yp)
    np.testing.assert_allclose(m.result(), np.mean(inter / union), rtol=1e-5)
    iou = metrics.IoU(num_classes=4, target_class_ids=[1, 3])
    iou.update_state(yt, yp)
    np.testing.assert_allclose(iou.result(), np.mean((inter / union)[[1, 3]]), rtol=1e-5)
    # ignore_class, one-hot inputs and Keras's documented example
    ign = metrics.MeanIoU(num_classes=4, ignore_class=0)
    ign.update_state(yt, yp)
    keep = yt != 0
    ref = metrics.MeanIoU(num_classes=4)
    ref.update_state(yt[keep], yp[keep])
    np.testing.assert_allclose(ign.result(), ref.result(), rtol=1e-6)
    oh = metrics.OneHotMeanIoU(num_classes=4)
    oh.update_state(np.eye(4)[yt], np.eye(4)[yp] * 0.9)
    np.testing.assert_allclose(oh.result(), m.result(), rtol=1e-6)
    doc = metrics.MeanIoU(num_classes=2)
    doc.update_state([0, 0, 1, 1], [0, 1, 0, 1])
    np.testing.assert_allclose(doc.result(), 0.33333334, rtol=1e-6)
    b = metrics.BinaryIoU(target_class_ids=[0, 1], threshold=0.3, dtype="float32")
    b.update_state([0, 1, 0, 1], [0.1, 0.2, 0.4, 0.7], sample_weight=[0.2, 0.3, 0.4, 0.1])
    # by hand: IoU0 = .2 / (.5 + .6 - .2), IoU1 = .1 / (.5 + .4 - .1) (what Keras 3 returns)
    np.testing.assert_allclose(b.result(), (0.2 / 0.9 + 0.1 / 0.8) / 2, rtol=1e-5)
    # the default dtype is "int", as in Keras 3: float weights are truncated
    b = metrics.BinaryIoU(target_class_ids=[0, 1], threshold=0.3)
    b.update_state([0, 1, 0, 1], [0.1, 0.2, 0.4, 0.7], sample_weight=[0.2, 0.3, 0.4, 0.1])
    assert b.result() == 0.0
    m = metrics.MeanIoU(2)
    m.update_state([0, 1, 0, 1], [0, 1, 1, 1], sample_weight=[0.2, 1.7, 2.4, 1])
    np.testing.assert_allclose(m.result(), 0.25, rtol=1e-6)
    with pytest.raises(ValueError, match="out of range"):
        metrics.IoU(num_classes=2, target_class_ids=[2])


def test_r2_score_against_formula():
    y = RNG.random((30, 3))
    p = y + 0.3 * RNG.standard_normal((30, 3))
    ss_res = ((y - p) ** 2).sum(0)
    ss_tot = ((y - y.mean(0)) ** 2).sum(0)
    raw = 1 - ss_res / ss_tot
    for agg, ref in [("uniform_average", raw.mean()), (None, raw),
                     ("variance_weighted_average", np.sum(ss_tot * raw) / ss_tot.sum())]:
        m = metrics.R2Score(class_aggregation=agg)
        m.update_state(y[:10], p[:10])
        m.update_state(y[10:], p[10:])
        np.testing.assert_allclose(m.result(), ref, rtol=1e-5)
    adj = metrics.R2Score(num_regressors=2)
    adj.update_state(y, p)
    n = y.size
    np.testing.assert_allclose(adj.result(), 1 - (1 - raw.mean()) * (n - 1) / (n - 3), rtol=1e-5)
    with pytest.raises(ValueError, match="class_aggregation"):
        metrics.R2Score(class_aggregation="mean")


def test_mean_wrappers_against_formulas():
    y = RNG.random((12, 5)).astype("float32") + 0.1
    p = RNG.random((12, 5)).astype("float32") + 0.1
    w = RNG.random(12)
    yb = (y > 0.6).astype("float32")
    cases = {
        "MeanAbsolutePercentageError": (y, p, 100 * np.mean(np.abs((y - p) / y), -1)),
        "MeanSquaredLogarithmicError": (y, p, np.mean((np.log1p(p) - np.log1p(y)) ** 2, -1)),
        "LogCoshError": (y, p, np.mean(np.log(np.cosh(p - y)), -1)),
        "Poisson": (y, p, np.mean(p - y * np.log(p + 1e-7), -1)),
        "KLDivergence": (y / y.sum(-1, keepdims=True), p / p.sum(-1, keepdims=True), None),
        "Hinge": (yb, p - 0.5, np.mean(np.maximum(1 - (2 * yb - 1) * (p - 0.5), 0), -1)),
        "SquaredHinge": (yb, p - 0.5,
                         np.mean(np.maximum(1 - (2 * yb - 1) * (p - 0.5), 0) ** 2, -1)),
        "CosineSimilarity": (y - 0.5, p - 0.5, np.sum((y - 0.5) * (p - 0.5), -1) /
                             np.linalg.norm(y - 0.5, axis=-1) / np.linalg.norm(p - 0.5, axis=-1)),
    }
    yt, yp = cases["KLDivergence"][:2]
    cases["KLDivergence"] = (yt, yp, np.sum(yt * np.log(yt / yp), -1))
    onehot = np.eye(5)[RNG.integers(0, 5, 12)]
    ch = np.maximum(np.max((1 - onehot) * p, -1) - np.sum(onehot * p, -1) + 1, 0)
    cases["CategoricalHinge"] = (onehot, p, ch)
    for name, (yt, yp, per_sample) in cases.items():
        m = getattr(metrics, name)()
        m.update_state(yt[:5], yp[:5], sample_weight=w[:5])
        m.update_state(yt[5:], yp[5:], sample_weight=w[5:])
        np.testing.assert_allclose(m.result(), np.sum(per_sample * w) / w.sum(), rtol=2e-5,
                                   err_msg=name)
        assert type(metrics.get(type(m).__name__)) is type(m)


def test_crossentropy_and_correlation_formulas():
    y = np.eye(3)[[0, 2, 1, 2]]
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.3, 0.4, 0.3], [0.5, 0.25, 0.25]])
    m = metrics.CategoricalCrossentropy()
    m.update_state(y, p)
    np.testing.assert_allclose(m.result(), np.mean(-np.log(np.sum(y * p, -1))), rtol=1e-6)
    s = metrics.SparseCategoricalCrossentropy(ignore_class=2)
    s.update_state(np.array([0, 2, 1, 2]), p)
    np.testing.assert_allclose(s.result(), np.mean(-np.log([0.7, 0.4])), rtol=1e-6)
    b = metrics.BinaryCrossentropy()
    b.update_state([[1.0], [0.0]], [[0.8], [0.3]])
    np.testing.assert_allclose(b.result(), -np.mean(np.log([0.8, 0.7])), rtol=1e-6)
    a, c = RNG.random((6, 8)), RNG.random((6, 8))
    r = metrics.PearsonCorrelation()
    r.update_state(a, c)
    ref = np.mean([np.corrcoef(a[i], c[i])[0, 1] for i in range(6)])
    np.testing.assert_allclose(r.result(), ref, rtol=1e-5)
    cfg = metrics.serialize(metrics.F1Score(average="macro"))
    again = metrics.deserialize(cfg)
    assert isinstance(again, metrics.F1Score) and again.average == "macro"


def test_compile_by_name_and_fit():
    x = RNG.random((64, 4)).astype("float32")
    y = (x.sum(-1, keepdims=True) > 2).astype("float32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy",
                  metrics=["true_positives", "FalseNegatives", "mape", "msle", "hinge",
                           metrics.PrecisionAtRecall(0.5),
                           metrics.F1Score(average="micro", threshold=0.5)])
    hist = model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    # as Keras's compile: a metric given by string is logged under that string
    for key in ("true_positives", "FalseNegatives", "mape", "msle", "hinge",
                "precision_at_recall", "f1_score"):
        assert key in hist.history, (key, sorted(hist.history))
    res = model.evaluate(x, y, verbose=0, return_dict=True)
    pred = model.predict(x, verbose=0)
    assert res["true_positives"] == float(np.sum((pred > 0.5) & (y == 1)))


# ---- optional: equality with installed Keras 3 ------------------------------------------

def _keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    return pytest.importorskip("keras")


KERAS_CASES = [
    ("TruePositives", {"thresholds": [0.0, 0.25, 0.5, 0.75, 1.0]}, "bin"),
    ("FalsePositives", {"thresholds": [0.1, 0.7]}, "bin"),
    ("TrueNegatives", {}, "bin"),
    ("FalseNegatives", {"thresholds": 0.3}, "bin"),
    ("PrecisionAtRecall", {"recall": 0.6}, "bin"),
    ("RecallAtPrecision", {"precision": 0.55, "num_thresholds": 37}, "bin"),
    ("SensitivityAtSpecificity", {"specificity": 0.4}, "bin"),
    ("SpecificityAtSensitivity", {"sensitivity": 0.8, "class_id": 1}, "multi"),
    ("F1Score", {}, "multi"),
    ("F1Score", {"average": "macro", "threshold": 0.3}, "multi"),
    ("FBetaScore", {"average": "weighted", "beta": 0.5}, "multi"),
    ("FBetaScore", {"average": "micro", "beta": 2.0, "threshold": 0.6}, "multi"),
    ("MeanAbsolutePercentageError", {}, "reg"),
    ("MeanSquaredLogarithmicError", {}, "reg"),
    ("R2Score", {}, "reg"),
    ("R2Score", {"class_aggregation": "variance_weighted_average", "num_regressors": 3}, "reg"),
    ("CosineSimilarity", {}, "reg"),
    ("LogCoshError", {}, "reg"),
    ("Poisson", {}, "pos"),
    ("KLDivergence", {}, "multi"),
    ("Hinge", {}, "bin"),
    ("SquaredHinge", {}, "bin"),
    ("CategoricalHinge", {}, "multi"),
    ("MeanIoU", {"num_classes": 3, "sparse_y_true": False, "sparse_y_pred": False}, "multi"),
    ("IoU", {"num_classes": 3, "target_class_ids": [0, 2], "sparse_y_true": False,
             "sparse_y_pred": False}, "multi"),
    ("BinaryIoU", {"threshold": 0.4}, "bin"),
    ("BinaryCrossentropy", {}, "bin"),
    ("BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.1}, "reg"),
    ("CategoricalCrossentropy", {"label_smoothing": 0.2}, "multi"),
    ("CategoricalCrossentropy", {"from_logits": True}, "multi"),
    ("SparseCategoricalCrossentropy", {}, "sparse"),
    ("SparseCategoricalCrossentropy", {"from_logits": True, "ignore_class": 1}, "sparse"),
    ("PearsonCorrelation", {}, "reg"),
    ("ConcordanceCorrelation", {}, "reg"),
]


def _data(kind):
    rng = np.random.default_rng(3)
    if kind == "bin":
        p = rng.random((48, 1)).astype("float32")
        p[:4] = [[0.0], [1.0], [0.5], [0.25]]
        return rng.integers(0, 2, (48, 1)).astype("float32"), p
    if kind == "sparse":
        return rng.integers(0, 3, (48, 1)), rng.random((48, 3)).astype("float32")
    if kind == "multi":
        return np.eye(3, dtype="float32")[rng.integers(0, 3, 48)], \
            rng.random((48, 3)).astype("float32")
    y = rng.random((48, 3)).astype("float32")
    p = (y + 0.2 * rng.standard_normal((48, 3))).astype("float32")
    return (y, np.abs(p) + 0.01) if kind == "pos" else (y, p)


@pytest.mark.parametrize("name,kwargs,kind", KERAS_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(KERAS_CASES)])
def test_equals_keras(name, kwargs, kind):
    k = _keras()
    y, p = _data(kind)
    w = np.random.default_rng(5).random(48).astype("float32")
    ours, theirs = getattr(metrics, name)(**kwargs), getattr(k.metrics, name)(**kwargs)
    for sl in (slice(0, 20), slice(20, 48)):
        sw = None if name in ("F1Score", "FBetaScore") and "threshold" in kwargs else w[sl]
        ours.update_state(y[sl], p[sl], sample_weight=sw)
        theirs.update_state(y[sl], p[sl], sample_weight=sw)
    np.testing.assert_allclose(ours.result(), np.asarray(theirs.result()), rtol=2e-5,
                               atol=1e-6)
    assert ours.name == theirs.name


def test_huber_function():
    y, p = np.array([[0.0, 1.0, 2.0]]), np.array([[0.5, 3.0, 2.0]])
    ref = np.mean([0.5 * 0.25, 1.0 * (2.0 - 0.5), 0.0])
    np.testing.assert_allclose(metrics.huber(y, p), [ref], rtol=1e-6)


def test_vector_metrics_in_fit_logs():
    # F1Score(average=None) and multi-threshold counts log one value per class/threshold
    x = RNG.random((16, 4)).astype("float32")
    y = np.eye(3, dtype="float32")[RNG.integers(0, 3, 16)]
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(loss="categorical_crossentropy",
                  metrics=[metrics.F1Score(), metrics.TruePositives([0.3, 0.6])])
    hist = model.fit(x, y, epochs=1, verbose=0, validation_data=(x, y))
    assert np.shape(hist.history["f1_score"][0]) == (3,)
    res = model.evaluate(x, y, verbose=0, return_dict=True)
    ref = metrics.TruePositives([0.3, 0.6])
    ref.update_state(y, model.predict(x, verbose=0))
    np.testing.assert_array_equal(res["true_positives"], ref.result())
