import numpy as np
import pytest

from fastnet import metrics


def test_sparse_categorical_accuracy_weighted_and_reset():
    m = metrics.SparseCategoricalAccuracy()
    y_pred = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    m.update_state(np.array([1, 1, 1]), y_pred)
    assert m.result() == pytest.approx(2 / 3)
    m.update_state(np.array([[0]]), np.array([[0.9, 0.1]]), sample_weight=np.array([3.0]))
    assert m.result() == pytest.approx((2 + 3) / (3 + 3))
    m.reset_state()
    assert m.result() == 0.0


def test_categorical_and_binary_accuracy():
    y = np.eye(3)[[0, 2, 1]]
    p = np.array([[0.5, 0.2, 0.3], [0.1, 0.1, 0.8], [0.6, 0.3, 0.1]])
    assert metrics.CategoricalAccuracy()(y, p) == pytest.approx(2 / 3)
    b = metrics.BinaryAccuracy()
    assert b(np.array([[1], [0], [1], [0]]), np.array([[0.7], [0.4], [0.2], [0.6]])) == 0.5


def test_top_k():
    p = np.array([[0.1, 0.5, 0.4], [0.6, 0.3, 0.1]])
    assert metrics.SparseTopKCategoricalAccuracy(k=2)(np.array([2, 2]), p) == pytest.approx(0.5)
    assert metrics.TopKCategoricalAccuracy(k=1)(np.eye(3)[[1, 0]], p) == pytest.approx(1.0)


def test_mse_mae_rmse():
    y, p = np.array([[1.0, 2.0]]), np.array([[2.0, 4.0]])
    assert metrics.MeanSquaredError()(y, p) == pytest.approx(2.5)
    assert metrics.MeanAbsoluteError()(y, p) == pytest.approx(1.5)
    assert metrics.RootMeanSquaredError()(y, p) == pytest.approx(np.sqrt(2.5))


def test_precision_recall():
    y = np.array([1, 0, 1, 1, 0])
    p = np.array([0.9, 0.8, 0.3, 0.6, 0.1])
    assert metrics.Precision()(y, p) == pytest.approx(2 / 3)
    assert metrics.Recall()(y, p) == pytest.approx(2 / 3)


def test_auc_matches_rank_statistic():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 2000)
    p = np.clip(y * 0.3 + rng.uniform(0, 0.7, 2000), 0, 1)
    pos, neg = p[y == 1], p[y == 0]
    exact = np.mean(pos[:, None] > neg[None, :]) + 0.5 * np.mean(pos[:, None] == neg[None, :])
    assert metrics.AUC()(y, p) == pytest.approx(exact, abs=1e-2)


def test_get_by_name_and_errors():
    assert isinstance(metrics.get("acc"), metrics.Accuracy)
    assert isinstance(metrics.get("mae"), metrics.MeanAbsoluteError)
    with pytest.raises(ValueError, match="Unknown metric"):
        metrics.get("nope")
    with pytest.raises(ValueError, match="num_thresholds"):
        metrics.AUC(num_thresholds=1)
