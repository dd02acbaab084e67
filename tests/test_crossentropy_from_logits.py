"""Cross-entropy on a softmax/sigmoid output computes from that layer's logits (issue 12),
as Keras on TensorFlow and tf.keras 2 do: the output tensor of ops.softmax/ops.sigmoid
(every activation='softmax'/'sigmoid', Activation, Softmax, keras.activations) carries its
logits, and the cross-entropy losses, their functions and metrics given that very tensor
compute from them. Anything else (a numpy array, an op on the output) keeps Keras's
clipped-probability formula. The references are numpy formulas from the logits."""

import warnings

import numpy as np
import pytest

import fastnet as keras
from fastnet import layers, ops

EPS = 1e-7


@pytest.fixture(autouse=True)
def fresh_names():
    keras.backend.clear_session()


def log_softmax(z):
    z = np.asarray(z, np.float64)
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def softmax(z):
    return np.exp(log_softmax(z))


def cce_from_logits(y, z):
    return -(np.asarray(y, np.float64) * log_softmax(z)).sum(-1)


def cce_clipped(y, p):
    p = np.asarray(p, np.float64)
    p = np.clip(p / p.sum(-1, keepdims=True), EPS, 1 - EPS)
    return -(np.asarray(y, np.float64) * np.log(p)).sum(-1)


def bce_from_logits(y, z):
    z, y = np.asarray(z, np.float64), np.asarray(y, np.float64)
    return (np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))).mean(-1)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.asarray(z, np.float64)))


# Saturated logits: the first row puts probability 1 - 4.5e-14 on a class that is wrong.
LOGITS = np.array([[30.0, 0.0, -10.0], [0.0, 1.0, 2.0], [-5.0, 25.0, 0.0]], np.float32)
ONE_HOT = np.array([[0, 1, 0], [0, 0, 1], [1, 0, 0]], np.float32)
LABELS = ONE_HOT.argmax(-1)


def _dense_model(activation, units=3, bias=None):
    """x = identity rows -> Dense with kernel I, so the logits are `bias` + x."""
    model = keras.Sequential([keras.Input((units,)), layers.Dense(units, activation=activation)])
    model.layers[0].set_weights([np.eye(units, dtype=np.float32),
                                 np.zeros(units, np.float32) if bias is None else bias])
    return model


def test_reference_numbers_show_the_difference():
    # the two formulas really differ on these logits (so the tests below can fail)
    assert cce_from_logits(ONE_HOT, LOGITS)[0] == pytest.approx(30.0, abs=1e-5)
    assert cce_clipped(ONE_HOT, softmax(LOGITS))[0] == pytest.approx(-np.log(EPS), rel=1e-4)


def test_fit_evaluate_and_train_on_batch_use_the_dense_logits():
    model = _dense_model("softmax")
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="categorical_crossentropy",
                  metrics=["categorical_crossentropy"])
    want = cce_from_logits(ONE_HOT, LOGITS).mean()
    logs = model.evaluate(LOGITS, ONE_HOT, batch_size=3, verbose=0, return_dict=True)
    assert logs["loss"] == pytest.approx(want, rel=1e-5)
    assert logs["categorical_crossentropy"] == pytest.approx(want, rel=1e-5)
    assert want > cce_clipped(ONE_HOT, softmax(LOGITS)).mean() + 4  # not the clipped value

    # the gradient is (softmax(z) - y) / n on the bias and x^T (softmax(z) - y) / n on the
    # kernel; the clipped formula would give zero for the saturated first row's class 0
    loss = model.train_on_batch(LOGITS, ONE_HOT)
    assert float(np.ravel(loss)[0]) == pytest.approx(want, rel=1e-5)
    d = (softmax(LOGITS) - ONE_HOT) / 3
    kernel, bias = model.layers[0].get_weights()
    np.testing.assert_allclose(bias, -0.5 * d.sum(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(kernel, np.eye(3) - 0.5 * LOGITS.T.astype(np.float64) @ d,
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("producer", ["dense", "activation_layer", "softmax_layer", "conv1d",
                                      "ops", "activations"])
def test_every_softmax_producer_carries_its_logits(producer):
    z = LOGITS
    if producer == "dense":
        p = _dense_model("softmax")(z)
    elif producer == "activation_layer":
        p = layers.Activation("softmax")(z)
    elif producer == "softmax_layer":
        p = layers.Softmax()(z)
    elif producer == "conv1d":
        conv = layers.Conv1D(3, 1, activation="softmax")
        conv.build((None, 3, 3))
        conv.set_weights([np.eye(3, dtype=np.float32)[None], np.zeros(3, np.float32)])
        p = conv(z[None])  # (1, 3, 3): the class axis is last
        want = cce_from_logits(ONE_HOT, z)[None]
        np.testing.assert_allclose(
            keras.losses.categorical_crossentropy(ONE_HOT[None], p).numpy(), want, rtol=1e-5)
        np.testing.assert_allclose(
            keras.losses.sparse_categorical_crossentropy(LABELS[None], p).numpy(), want,
            rtol=1e-5)
        return
    elif producer == "ops":
        p = ops.softmax(z)
    else:
        p = keras.activations.softmax(ops.convert_to_tensor(z))
    want = cce_from_logits(ONE_HOT, z)
    np.testing.assert_allclose(keras.losses.categorical_crossentropy(ONE_HOT, p).numpy(), want,
                               rtol=1e-5)
    np.testing.assert_allclose(
        keras.losses.sparse_categorical_crossentropy(LABELS, p).numpy(), want, rtol=1e-5)
    np.testing.assert_allclose(ops.categorical_crossentropy(ONE_HOT, p).numpy(), want,
                               rtol=1e-5)


def test_the_clipped_formula_stays_for_probabilities_not_straight_from_softmax():
    p = ops.softmax(LOGITS)
    want = cce_clipped(ONE_HOT, softmax(LOGITS))
    for q in (p.numpy(), p * 1.0, ops.cast(p, "float64"), ops.convert_to_tensor(p.numpy())):
        np.testing.assert_allclose(keras.losses.categorical_crossentropy(ONE_HOT, q).numpy(),
                                   want, rtol=1e-4)
    # a slice of the output is another tensor: no logits either
    np.testing.assert_allclose(
        keras.losses.categorical_crossentropy(ONE_HOT[:1], p[:1]).numpy(), want[:1], rtol=1e-4)


def test_float_sparse_labels_and_integer_column_labels_with_logits():
    p = ops.softmax(LOGITS)
    want = cce_from_logits(ONE_HOT, LOGITS).mean()
    for labels in (LABELS.astype(np.float32), LABELS[:, None]):
        got = keras.losses.SparseCategoricalCrossentropy()(labels, p)
        assert float(got) == pytest.approx(want, rel=1e-5)


def test_sparse_ignore_class_keeps_the_clipped_formula_as_keras():
    # Keras masks y_pred with ops.where before the cross-entropy: a new tensor, no logits
    p = ops.softmax(LOGITS)
    labels = np.array([1, 2, 9])
    got = keras.losses.sparse_categorical_crossentropy(labels, p, ignore_class=9).numpy()
    probs = softmax(LOGITS)
    want = -np.log(np.clip(probs[[0, 1], [1, 2]], EPS, 1 - EPS))
    np.testing.assert_allclose(got, [want[0], want[1], 0.0], rtol=1e-4)


def test_gradient_flows_into_the_logits_on_both_kernel_paths():
    # small (numpy path) and 6000x3 (the fused C++ cross-entropy kernel)
    for reps in (1, 2000):
        z = np.tile(LOGITS, (reps, 1))
        y = np.tile(ONE_HOT, (reps, 1))
        zv = keras.Variable(z)
        with keras.GradientTape(persistent=True) as tape:
            cce = ops.sum(keras.losses.categorical_crossentropy(y, ops.softmax(zv)))
            scce = ops.sum(keras.losses.sparse_categorical_crossentropy(y.argmax(-1),
                                                                        ops.softmax(zv)))
        for loss in (cce, scce):
            assert float(loss) == pytest.approx(cce_from_logits(y, z).sum(), rel=1e-5)
            np.testing.assert_allclose(tape.gradient(loss, zv).numpy(), softmax(z) - y,
                                       atol=1e-6)


def test_binary_crossentropy_uses_the_sigmoid_logits():
    z = np.array([[30.0, -2.0], [-25.0, 0.5], [3.0, 40.0]], np.float32)
    y = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 0.0]], np.float32)
    model = _dense_model("sigmoid", units=2)
    model.compile(optimizer=keras.optimizers.SGD(1.0), loss="binary_crossentropy",
                  metrics=["binary_crossentropy"])
    want = bce_from_logits(y, z).mean()
    logs = model.evaluate(z, y, verbose=0, return_dict=True)
    assert logs["loss"] == pytest.approx(want, rel=1e-5)
    assert logs["binary_crossentropy"] == pytest.approx(want, rel=1e-5)
    clipped = np.clip(sigmoid(z), EPS, 1 - EPS)
    assert want > -(y * np.log(clipped) + (1 - y) * np.log(1 - clipped)).mean() + 4

    zv = keras.Variable(z)
    with keras.GradientTape() as tape:
        loss = keras.losses.BinaryCrossentropy()(y, ops.sigmoid(zv))
    assert float(loss) == pytest.approx(want, rel=1e-5)
    np.testing.assert_allclose(tape.gradient(loss, zv).numpy(), (sigmoid(z) - y) / z.size,
                               atol=1e-7)

    # one sigmoid unit against (n,) labels: the loss class reconciles the ranks (expands
    # the labels), the output tensor is untouched and its logits are used
    zc = z[:, :1]
    got = keras.losses.BinaryCrossentropy(reduction=None)(y[:, 0], ops.sigmoid(zc))
    np.testing.assert_allclose(got.numpy(), bce_from_logits(y[:, :1], zc), rtol=1e-5)


def test_binary_focal_crossentropy_takes_the_cross_entropy_from_the_logits():
    z = np.array([[30.0, -2.0, 0.3]], np.float32)
    y = np.array([[0.0, 1.0, 1.0]], np.float32)
    p = sigmoid(z)
    bce = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
    p_t = y * p + (1 - y) * (1 - p)
    want = ((1 - p_t) ** 2 * bce).mean(-1)
    got = keras.losses.binary_focal_crossentropy(y, ops.sigmoid(z)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4)


def test_from_logits_true_on_a_softmax_output_warns_and_uses_its_logits():
    p = ops.softmax(LOGITS)
    with pytest.warns(UserWarning, match="from_logits=True.*Softmax"):
        got = keras.losses.categorical_crossentropy(ONE_HOT, p, from_logits=True)
    np.testing.assert_allclose(got.numpy(), cce_from_logits(ONE_HOT, LOGITS), rtol=1e-5)
    with pytest.warns(UserWarning, match="from_logits=True.*Sigmoid"):
        keras.losses.binary_crossentropy(ONE_HOT, ops.sigmoid(LOGITS), from_logits=True)
    m = keras.metrics.CategoricalCrossentropy(from_logits=True)
    with pytest.warns(UserWarning, match="from_logits=True"):
        m.update_state(ONE_HOT, p)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # real logits: no warning
        keras.losses.categorical_crossentropy(ONE_HOT, LOGITS, from_logits=True)


def test_crossentropy_metrics_read_the_logits():
    p = ops.softmax(LOGITS)
    want = cce_from_logits(ONE_HOT, LOGITS).mean()
    for m, y in ((keras.metrics.CategoricalCrossentropy(), ONE_HOT),
                 (keras.metrics.SparseCategoricalCrossentropy(), LABELS)):
        m.update_state(y, p)
        assert float(m.result()) == pytest.approx(want, rel=1e-5)
    m = keras.metrics.CategoricalCrossentropy()
    m.update_state(ONE_HOT, p.numpy())  # an array: the clipped formula
    assert float(m.result()) == pytest.approx(cce_clipped(ONE_HOT, p.numpy()).mean(), rel=1e-4)
    m = keras.metrics.BinaryCrossentropy()
    m.update_state(ONE_HOT, ops.sigmoid(LOGITS))
    assert float(m.result()) == pytest.approx(bce_from_logits(ONE_HOT, LOGITS).mean(), rel=1e-5)


def test_functional_multi_output_model_uses_each_heads_logits():
    inp = keras.Input((3,))
    cls = layers.Dense(3, activation="softmax", name="cls")(inp)
    bin_ = layers.Dense(3, activation="sigmoid", name="bin")(inp)
    model = keras.Model(inp, [cls, bin_])
    for lay in model.layers[1:]:
        lay.set_weights([np.eye(3, dtype=np.float32), np.zeros(3, np.float32)])
    model.compile(loss=["categorical_crossentropy", "binary_crossentropy"])
    logs = model.evaluate(LOGITS, [ONE_HOT, ONE_HOT], verbose=0, return_dict=True)
    assert logs["cls_loss"] == pytest.approx(cce_from_logits(ONE_HOT, LOGITS).mean(), rel=1e-5)
    assert logs["bin_loss"] == pytest.approx(bce_from_logits(ONE_HOT, LOGITS).mean(), rel=1e-5)


def test_the_logits_are_a_reference_and_not_pickled():
    import copy

    z = ops.convert_to_tensor(LOGITS)
    p = ops.softmax(z)
    assert p._keras_logits is z
    assert getattr(copy.deepcopy(p), "_keras_logits", None) is None
