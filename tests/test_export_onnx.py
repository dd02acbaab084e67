"""model.export(path, format="onnx"): ONNX Runtime (optional) gives fastnet's outputs."""

import sys

import numpy as np
import pytest

import fastnet as keras
from fastnet import layers as L


def _runtime():
    pytest.importorskip("onnx")
    return pytest.importorskip("onnxruntime")


def _check(model, inputs, tmp_path, atol=2e-5, **kwargs):
    ort = _runtime()
    path = tmp_path / "model.onnx"
    model.export(path, format="onnx", **kwargs)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = inputs if isinstance(inputs, list) else [inputs]
    got = sess.run(None, {i.name: x for i, x in zip(sess.get_inputs(), feeds)})
    want = model.predict(inputs, verbose=0)
    want = want if isinstance(want, list) else [want]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=atol)
    return sess


def _train_a_little(model, x, y, loss):
    model.compile("adam", loss)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)  # moves BatchNormalization's statistics


ACTIVATIONS = ["relu", "relu6", "sigmoid", "tanh", "softplus", "softsign", "elu", "selu",
               "gelu", "silu", "hard_sigmoid", "hard_silu", "mish", "leaky_relu", "exponential",
               "linear", "softmax", "log_softmax"]


def test_mlp_with_every_activation(tmp_path):
    rng = np.random.default_rng(0)
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6,), name="x")
    outs = [L.Dense(4, activation=a, name=f"d_{a}")(inputs) for a in ACTIVATIONS]
    model = keras.Model(inputs, L.concatenate(outs))
    x = rng.normal(size=(5, 6)).astype("float32")
    sess = _check(model, x, tmp_path)
    batch = sess.get_inputs()[0].shape[0]
    assert batch == "batch"  # the batch dimension stays dynamic
    assert sess.run(None, {"x": x[:2]})[0].shape == (2, 4 * len(ACTIVATIONS))


def test_cnn_conv_pool_batchnorm_after_training(tmp_path):
    rng = np.random.default_rng(1)
    keras.utils.set_random_seed(1)
    model = keras.Sequential([
        keras.Input((15, 15, 3)),
        L.Conv2D(8, 3, padding="same", activation="relu"),
        L.BatchNormalization(),
        L.MaxPooling2D(2, padding="same"),
        L.Conv2D(6, 3, strides=2, dilation_rate=1, use_bias=False),
        L.ReLU(max_value=4.0, negative_slope=0.1),
        L.DepthwiseConv2D(3, depth_multiplier=2, padding="same"),
        L.AveragePooling2D(2, strides=1, padding="same"),
        L.ZeroPadding2D(((1, 0), (0, 2))),
        L.UpSampling2D(2),
        L.Conv2D(4, 1, activation="swish"),
        L.Dropout(0.3),
        L.Flatten(),
        L.Dense(5, activation="softmax")])
    x = rng.random((16, 15, 15, 3)).astype("float32")
    _train_a_little(model, x, rng.integers(0, 5, 16), "sparse_categorical_crossentropy")
    assert not np.allclose(model.layers[1].moving_mean.numpy(), 0)
    _check(model, x[:4], tmp_path)


def test_functional_branches_nested_models_and_embeddings(tmp_path):
    rng = np.random.default_rng(2)
    keras.utils.set_random_seed(2)
    inner = keras.Sequential([keras.Input((8,)), L.Dense(8, activation="tanh"),
                              L.LayerNormalization()], name="inner")
    tokens = keras.Input((7,), dtype="int32", name="tokens")
    feats = keras.Input((8,), name="feats")
    e = L.Embedding(50, 8)(tokens)
    seq = L.Conv1D(8, 3, padding="causal", activation="elu")(e)
    seq = L.MaxPooling1D(2)(seq)
    pooled = L.GlobalAveragePooling1D()(seq)
    maxed = L.GlobalMaxPooling1D()(e)
    h = inner(feats)
    mixed = [L.add([pooled, h]), L.subtract([maxed, h]), L.multiply([pooled, maxed, h]),
             L.average([pooled, h]), L.maximum([pooled, h]), L.minimum([maxed, h])]
    z = L.concatenate(mixed, axis=-1)
    z = L.Reshape((6, 8))(z)
    z = L.Permute((2, 1))(z)
    z = L.Softmax(axis=1)(z)
    out1 = L.Dense(3, name="head")(L.Flatten()(z))
    out2 = L.PReLU(name="aux")(L.Dense(4)(h))
    model = keras.Model([tokens, feats], [out1, out2])
    inputs = [rng.integers(0, 50, (5, 7)).astype("int32"), rng.normal(size=(5, 8)).astype("float32")]
    sess = _check(model, inputs, tmp_path)
    assert [o.name for o in sess.get_outputs()] == ["head", "aux"]


def test_opset_18_reductions(tmp_path):
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((4, 4, 2)), L.GlobalAveragePooling2D(keepdims=True),
                              L.Flatten(), L.Dense(2)])
    _check(model, np.random.default_rng(3).random((3, 4, 4, 2)).astype("float32"), tmp_path,
           opset_version=18)


def test_unsupported_models_and_arguments(tmp_path):
    pytest.importorskip("onnx")
    model = keras.Sequential([keras.Input((5, 3)), L.LSTM(4)])
    with pytest.raises(NotImplementedError, match="lstm.*LSTM"):
        model.export(tmp_path / "m.onnx", format="onnx")
    assert not (tmp_path / "m.onnx").exists()

    class Sub(keras.Model):
        def call(self, x):
            return x

    with pytest.raises(ValueError, match="subclassed"):
        Sub().export(tmp_path / "s.onnx", format="onnx")
    dense = keras.Sequential([keras.Input((2,)), L.Dense(1)])
    with pytest.raises(ValueError, match="format='onnx' only"):
        dense.export(tmp_path / "d")
    with pytest.raises(ValueError, match="opset_version"):
        dense.export(tmp_path / "d.onnx", format="onnx", opset_version=13)
    with pytest.raises(TypeError, match="nonsense"):
        dense.export(tmp_path / "d.onnx", format="onnx", nonsense=1)


def test_missing_onnx_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnx", None)
    model = keras.Sequential([keras.Input((2,)), L.Dense(1)])
    with pytest.raises(ImportError, match=r"fastnet-cpu\[onnx\]"):
        model.export(tmp_path / "m.onnx", format="onnx")


NEWER_ACTIVATIONS = ["celu", "glu", "hard_shrink", "hard_tanh", "log_sigmoid", "soft_shrink",
                     "sparse_plus", "sparse_sigmoid", "sparsemax", "squareplus", "tanh_shrink",
                     "hard_swish", "swish"]


def test_every_keras_activation_exports_or_is_refused_by_name(tmp_path):
    # every name in keras.activations (fastnet.activations' table) but threshold, whose
    # arguments are required, runs in ONNX Runtime as in fastnet; inputs span the kinks
    from fastnet import activations

    assert set(ACTIVATIONS) | set(NEWER_ACTIVATIONS) | {"threshold", "hard_silu"} == \
        set(activations._ALL)
    rng = np.random.default_rng(4)
    keras.utils.set_random_seed(4)
    inputs = keras.Input((6,), name="x")
    outs = [L.Dense(8, activation=a, name=f"d_{a}")(inputs) for a in NEWER_ACTIVATIONS]
    outs.append(L.Activation("sparsemax", name="act_sparsemax")(inputs))
    outs.append(L.Conv1D(4, 1, activation="glu", name="conv_glu")(L.Reshape((6, 1))(inputs)))
    model = keras.Model(inputs, [L.Flatten()(o) if len(o.shape) == 3 else o for o in outs])
    x = (rng.normal(size=(7, 6)) * 2).astype("float32")
    _check(model, x, tmp_path)

    bad = keras.Sequential([keras.Input((4,)), L.Dense(4, activation="threshold", name="thr")])
    with pytest.raises(NotImplementedError, match="'threshold' of layer 'thr'.*required"):
        bad.export(tmp_path / "t.onnx", format="onnx")


def test_ops_functions_as_activations(tmp_path):
    # keras.ops.gelu is the tanh approximation by default (keras.activations.gelu is exact)
    from fastnet import ops

    keras.utils.set_random_seed(5)
    inputs = keras.Input((5,), name="x")
    outs = [L.Dense(3, activation=f)(inputs) for f in (ops.gelu, ops.relu, ops.leaky_relu,
                                                        ops.elu, ops.softmax, ops.log_softmax)]
    model = keras.Model(inputs, L.concatenate(outs))
    x = np.random.default_rng(5).normal(size=(4, 5)).astype("float32")
    _check(model, x, tmp_path)
    approx = 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))
    np.testing.assert_allclose(ops.gelu(x).numpy(), approx, rtol=1e-5, atol=1e-6)

    custom = keras.Sequential([keras.Input((2,)), L.Dense(2, activation=lambda t: t * 2,
                                                          name="lam")])
    with pytest.raises(NotImplementedError, match="layer 'lam' is not a built-in"):
        custom.export(tmp_path / "c.onnx", format="onnx")
