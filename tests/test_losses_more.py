"""Keras 3's categorical focal / generalized cross-entropy, Dice, Tversky, Circle and CTC:
forward against numpy formulas (CTC: a brute-force sum over every alignment), gradients
against finite differences, classes through compile/fit/save, and Keras 3 when
installed."""

import itertools
import os

import numpy as np
import pytest
from oracle import check_gradients, rand

import fastnet
from fastnet import layers, losses, ops

EPS = 1e-7


def _keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    pytest.importorskip("torch")
    return keras


def _probs(shape, seed):
    x = rand(shape, seed=seed, low=0.05, high=1.0)
    return (x / x.sum(-1, keepdims=True)).astype(np.float32)


def _onehot(labels, n):
    return np.eye(n, dtype=np.float32)[labels]


# ---- numpy references ----------------------------------------------------------------------
def ref_cfce(y, p, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0):
    y = np.asarray(y, np.float64)
    p = np.asarray(p, np.float64)
    if label_smoothing:
        y = y * (1 - label_smoothing) + label_smoothing / y.shape[-1]
    if from_logits:
        e = np.exp(p - p.max(-1, keepdims=True))
        p = e / e.sum(-1, keepdims=True)
    p = np.clip(p / p.sum(-1, keepdims=True), EPS, 1 - EPS)
    return np.sum(-alpha * (1 - p) ** gamma * y * np.log(p), axis=-1)


def ref_gce(labels, p, q):
    p = np.asarray(p, np.float64)
    py = np.take_along_axis(p, labels[..., None], -1)[..., 0]
    return (1 - py ** q) / q


def ref_dice(y, p, axis=None):
    y, p = np.asarray(y, np.float64), np.asarray(p, np.float64)
    return 1 - 2 * np.sum(y * p, axis=axis) / (np.sum(y, axis=axis) + np.sum(p, axis=axis) + EPS)


def ref_tversky(y, p, alpha=0.5, beta=0.5, axis=None):
    y, p = np.asarray(y, np.float64), np.asarray(p, np.float64)
    tp = np.sum(y * p, axis=axis)
    fp = np.sum(y * (1 - p), axis=axis)
    fn = np.sum((1 - y) * p, axis=axis)
    return 1 - tp / (tp + alpha * fp + beta * fn + EPS)


def ref_circle(labels, emb, gamma=80.0, margin=0.4, remove_diagonal=True):
    """Sun et al.'s circle loss written per anchor, with explicit loops."""
    emb = np.asarray(emb, np.float64)
    out = []
    for i in range(len(labels)):
        sp, sn = [], []
        for j in range(len(labels)):
            d = max(1 - emb[i] @ emb[j], 0.0)
            if labels[i] == labels[j]:
                if remove_diagonal and i == j:
                    continue
                sp.append(-gamma * max(margin + d, 0) * (margin - d))
            else:
                sn.append(gamma * max(1 + margin - d, 0) * ((1 - margin) - d))
        lse = [np.log(np.sum(np.exp(v))) if v else -np.inf for v in (sp, sn)]
        out.append(np.logaddexp(0.0, lse[0] + lse[1]))
    return np.array(out)


def ref_ctc(labels, logits):
    """-log of the summed probability of every length-T path that collapses (merge
    repeats, drop blanks = 0) to the row's non-zero labels."""
    logits = np.asarray(logits, np.float64)
    out = []
    for row, x in zip(labels, logits):
        target = tuple(int(v) for v in row if v != 0)
        p = np.exp(x - x.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        total = 0.0
        for path in itertools.product(range(x.shape[1]), repeat=x.shape[0]):
            merged = [c for k, c in enumerate(path) if k == 0 or c != path[k - 1]]
            if tuple(c for c in merged if c != 0) == target:
                total += np.prod([p[t, c] for t, c in enumerate(path)])
        out.append(-np.log(total) if total > 0 else np.inf)
    return np.array(out)


def _grad_of(fn, *consts):
    def grads(x, dout):
        t = ops.convert_to_tensor(x)
        with fastnet.GradientTape() as tape:
            tape.watch(t)
            loss = ops.sum(fn(t, *consts) * ops.convert_to_tensor(np.asarray(dout, np.float32)))
        return [ops.convert_to_numpy(tape.gradient(loss, t))]
    return grads


# ---- forward and gradients -------------------------------------------------------------------
@pytest.mark.parametrize("kwargs", [{}, {"alpha": 0.5, "gamma": 1.0}, {"label_smoothing": 0.1},
                                    {"from_logits": True}])
def test_categorical_focal_crossentropy(kwargs):
    y = _onehot(np.array([0, 2, 1, 2]), 3)
    p = rand((4, 3), seed=1) if kwargs.get("from_logits") else _probs((4, 3), 1)
    got = ops.convert_to_numpy(losses.categorical_focal_crossentropy(y, p, **kwargs))
    np.testing.assert_allclose(got, ref_cfce(y, p, **kwargs), rtol=1e-5, atol=1e-6)
    check_gradients(_grad_of(lambda t: losses.categorical_focal_crossentropy(y, t, **kwargs)),
                    lambda t: ref_cfce(y, t, **kwargs), [p], rand((4,), seed=2), atol=2e-4,
                    rtol=2e-3)
    loss = losses.CategoricalFocalCrossentropy(**kwargs)
    np.testing.assert_allclose(float(loss(y, p)), ref_cfce(y, p, **kwargs).mean(), rtol=1e-5)
    sw = np.array([1.0, 0.0, 2.0, 0.5], np.float32)
    np.testing.assert_allclose(float(loss(y, p, sample_weight=sw)),
                               (ref_cfce(y, p, **kwargs) * sw).sum() / 4, rtol=1e-5)


def test_categorical_generalized_cross_entropy():
    labels = np.array([0, 2, 1, 1, 3])
    p = _probs((5, 4), 3)
    got = ops.convert_to_numpy(losses.categorical_generalized_cross_entropy(labels, p, q=0.7))
    np.testing.assert_allclose(got, ref_gce(labels, p, 0.7), rtol=1e-5)
    check_gradients(_grad_of(lambda t: losses.categorical_generalized_cross_entropy(labels, t,
                                                                                   0.7)),
                    lambda t: ref_gce(labels, t, 0.7), [p], rand((5,), seed=4), atol=1e-4)
    loss = losses.CategoricalGeneralizedCrossEntropy(q=0.3)
    np.testing.assert_allclose(float(loss(labels[:, None], p)), ref_gce(labels, p, 0.3).mean(),
                               rtol=1e-5)
    with pytest.raises(ValueError, match="q must be in the interval"):
        losses.CategoricalGeneralizedCrossEntropy(q=1.0)
    with pytest.raises(ValueError, match="one integer label per sample"):
        losses.categorical_generalized_cross_entropy(np.zeros((5, 4)), p, 0.5)


@pytest.mark.parametrize("axis", [None, (1, 2), -1])
def test_dice_and_tversky(axis):
    y = (rand((3, 4, 5), seed=5) > 0).astype(np.float32)
    p = rand((3, 4, 5), seed=6, low=0.0, high=1.0)
    np.testing.assert_allclose(ops.convert_to_numpy(losses.dice(y, p, axis=axis)),
                               ref_dice(y, p, axis), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ops.convert_to_numpy(losses.tversky(y, p, 0.7, 0.3, axis=axis)),
                               ref_tversky(y, p, 0.7, 0.3, axis), rtol=1e-5, atol=1e-6)
    # alpha = beta = 0.5 is Dice
    np.testing.assert_allclose(ops.convert_to_numpy(losses.tversky(y, p, axis=axis)),
                               ref_dice(y, p, axis), rtol=1e-5, atol=1e-6)
    dout = np.asarray(rand(np.shape(ref_dice(y, p, axis)), seed=7))
    check_gradients(_grad_of(lambda t: losses.dice(y, t, axis=axis)),
                    lambda t: ref_dice(y, t, axis), [p], dout, atol=1e-4)
    check_gradients(_grad_of(lambda t: losses.tversky(y, t, 0.7, 0.3, axis=axis)),
                    lambda t: ref_tversky(y, t, 0.7, 0.3, axis), [p], dout, atol=1e-4)
    np.testing.assert_allclose(float(losses.Dice(axis=axis)(y, p)),
                               np.mean(ref_dice(y, p, axis)), rtol=1e-5)
    np.testing.assert_allclose(float(losses.Tversky(0.2, 0.8, axis=axis)(y, p)),
                               np.mean(ref_tversky(y, p, 0.2, 0.8, axis)), rtol=1e-5)
    with pytest.raises(ValueError, match="same shape"):
        losses.dice(y, p[:, :, :3])


def _embeddings(n, d, seed):
    e = rand((n, d), seed=seed).astype(np.float64)
    return (e / np.linalg.norm(e, axis=1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize("remove_diagonal", [True, False])
def test_circle(remove_diagonal):
    labels = np.array([0, 1, 0, 2, 1, 3])  # label 2 and 3 have no positive pair
    emb = _embeddings(6, 4, 8)
    kw = {"gamma": 10.0, "margin": 0.3, "remove_diagonal": remove_diagonal}
    got = ops.convert_to_numpy(losses.circle(labels, emb, **kw))
    want = ref_circle(labels, emb, **kw)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
    check_gradients(_grad_of(lambda t: losses.circle(labels, t, **kw)),
                    lambda t: ref_circle(labels, t, **kw), [emb], rand((6,), seed=9),
                    atol=1e-3, rtol=1e-3)
    # the class averages over the anchors with a positive loss only (Keras's mask)
    loss = losses.Circle(**kw)
    np.testing.assert_allclose(float(loss(labels, emb)), want.sum() / np.count_nonzero(want),
                               rtol=1e-4)
    assert float(losses.Circle(reduction="sum", **kw)(labels, emb)) == pytest.approx(
        want.sum(), rel=1e-4)
    with pytest.raises(ValueError, match="embeddings of shape"):
        losses.circle(labels, emb[None])


@pytest.mark.parametrize("labels", [np.array([[1, 2, 0], [2, 2, 0], [0, 0, 0]]),
                                    np.array([[2, 1, 1], [1, 0, 0], [2, 0, 0]])])
def test_ctc_against_every_alignment(labels):
    logits = rand((3, 5, 3), seed=10, low=-2, high=2)
    got = ops.convert_to_numpy(losses.ctc(labels, logits))
    want = ref_ctc(labels, logits)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    check_gradients(_grad_of(lambda t: losses.ctc(labels, t)), lambda t: ref_ctc(labels, t),
                    [logits], rand((3,), seed=11), atol=1e-4, rtol=1e-3)
    np.testing.assert_allclose(float(losses.CTC()(labels, logits)), want.mean(), rtol=1e-5)


def test_ctc_impossible_alignment_errors_and_second_order():
    # "1 1" needs a blank between the repeats: 3 steps at least; 2 steps cannot
    got = ops.convert_to_numpy(losses.ctc(np.array([[1, 1]]), rand((1, 2, 3), seed=1)))
    assert np.isinf(got).all()
    with pytest.raises(ValueError, match=r"\(batch_size, max_length\)"):
        losses.ctc(np.array([1, 2]), rand((1, 4, 3), seed=1))
    with pytest.raises(ValueError, match="num_classes"):
        losses.ctc(np.array([[1, 2]]), rand((4, 3), seed=1))
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\)"):
        losses.ctc(np.array([[1, 5]]), rand((1, 4, 3), seed=1))
    x = ops.convert_to_tensor(rand((1, 4, 3), seed=2))
    with fastnet.GradientTape() as outer:
        outer.watch(x)
        with fastnet.GradientTape() as inner:
            inner.watch(x)
            loss = ops.sum(losses.ctc(np.array([[1, 2]]), x))
        with pytest.raises(NotImplementedError, match="second-order gradient of ctc"):
            inner.gradient(loss, x)


# ---- through get / compile / fit / save ----------------------------------------------------
@pytest.mark.parametrize("name", ["dice", "tversky", "categorical_focal_crossentropy"])
def test_by_name_in_compile_and_saved(name, tmp_path):
    cls = {"dice": losses.Dice, "tversky": losses.Tversky,
           "categorical_focal_crossentropy": losses.CategoricalFocalCrossentropy}[name]
    assert losses.get(name) is getattr(losses, name)
    assert type(losses.get(cls.__name__)) is cls
    x = rand((16, 4), seed=1)
    y = _onehot(np.arange(16) % 3, 3)
    fastnet.utils.set_random_seed(0)
    model = fastnet.Sequential([fastnet.Input((4,)), layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss=cls())
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=3, batch_size=8, verbose=0)
    assert model.evaluate(x, y, verbose=0) < before
    path = str(tmp_path / "m.keras")
    model.save(path)
    back = fastnet.models.load_model(path)
    assert type(back.loss) is cls
    assert back.loss.get_config() == model.loss.get_config()
    np.testing.assert_allclose(back.evaluate(x, y, verbose=0), model.evaluate(x, y, verbose=0),
                               rtol=1e-6)


@pytest.mark.parametrize("loss", [losses.Dice(axis=(1,)), losses.Tversky(0.3, 0.7),
                                  losses.CategoricalFocalCrossentropy(0.5, 1.5, True, 0.1),
                                  losses.CategoricalGeneralizedCrossEntropy(0.4),
                                  losses.Circle(20.0, 0.2, False), losses.CTC()])
def test_config_round_trip(loss):
    again = losses.deserialize(losses.serialize(loss))
    assert type(again) is type(loss) and again.get_config() == loss.get_config()


# ---- Keras 3 itself ---------------------------------------------------------------------------
def test_match_keras():
    keras = _keras()
    k = keras.losses
    y = _onehot(np.array([0, 2, 1, 2]), 3)
    p = _probs((4, 3), 12)
    labels = np.array([0, 2, 1, 2])
    seg_y = (rand((2, 3, 4), seed=13) > 0).astype(np.float32)
    seg_p = rand((2, 3, 4), seed=14, low=0, high=1)
    emb = _embeddings(6, 4, 15)
    emb_labels = np.array([0, 1, 0, 2, 1, 3])
    ctc_labels = np.array([[1, 2, 0], [2, 2, 1]])
    ctc_logits = rand((2, 6, 3), seed=16)
    cases = [
        (k.CategoricalFocalCrossentropy(), losses.CategoricalFocalCrossentropy(), y, p),
        (k.CategoricalFocalCrossentropy(0.4, 1.0, True, 0.2),
         losses.CategoricalFocalCrossentropy(0.4, 1.0, True, 0.2), y, p),
        (k.CategoricalGeneralizedCrossEntropy(0.6),
         losses.CategoricalGeneralizedCrossEntropy(0.6), labels, p),
        (k.Dice(), losses.Dice(), seg_y, seg_p),
        (k.Dice(axis=(1, 2)), losses.Dice(axis=(1, 2)), seg_y, seg_p),
        (k.Tversky(0.3, 0.7, axis=-1), losses.Tversky(0.3, 0.7, axis=-1), seg_y, seg_p),
        (k.Circle(), losses.Circle(), emb_labels, emb),
        (k.Circle(gamma=5.0, remove_diagonal=False), losses.Circle(gamma=5.0,
                                                                   remove_diagonal=False),
         emb_labels, emb),
        (k.CTC(), losses.CTC(), ctc_labels, ctc_logits),
    ]
    for kl, fl, yt, yp in cases:
        want = float(keras.ops.convert_to_numpy(kl(yt, yp)))
        assert float(fl(yt, yp)) == pytest.approx(want, rel=1e-4, abs=1e-6), type(fl).__name__
        kc = kl.get_config()
        kc.pop("dtype", None)
        assert kc == fl.get_config(), type(fl).__name__
    # the function forms, per sample
    for kf, ff, yt, yp in [(k.categorical_focal_crossentropy, losses.categorical_focal_crossentropy,
                            y, p), (k.dice, losses.dice, seg_y, seg_p),
                           (k.tversky, losses.tversky, seg_y, seg_p),
                           (k.circle, losses.circle, emb_labels, emb),
                           (k.ctc, losses.ctc, ctc_labels, ctc_logits)]:
        np.testing.assert_allclose(ops.convert_to_numpy(ff(yt, yp)),
                                   keras.ops.convert_to_numpy(kf(yt, yp)), rtol=1e-4, atol=1e-6)


def test_focal_functions_are_metrics_too():
    assert fastnet.metrics.binary_focal_crossentropy is losses.binary_focal_crossentropy
    assert fastnet.metrics.categorical_focal_crossentropy is \
        losses.categorical_focal_crossentropy
    x = rand((12, 4), seed=1)
    y = _onehot(np.arange(12) % 3, 3)
    model = fastnet.Sequential([fastnet.Input((4,)), layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="categorical_crossentropy",
                  metrics=[fastnet.metrics.categorical_focal_crossentropy])
    logs = model.evaluate(x, y, verbose=0, return_dict=True, batch_size=12)
    want = ref_cfce(y, model.predict(x, verbose=0)).mean()
    assert logs["categorical_focal_crossentropy"] == pytest.approx(want, rel=1e-5)
