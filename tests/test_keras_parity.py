"""Parity with Keras 3: the same layer, Keras's weights loaded with
set_weights(keras_layer.get_weights()), gives the same output and gradients.
Optional: skipped when Keras (with the torch backend) is not installed."""

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
torch = pytest.importorskip("torch")
if keras.backend.backend() != "torch":  # pragma: no cover
    pytest.skip("these parity tests drive Keras through its torch backend",
                allow_module_level=True)

import fastnet  # noqa: E402
from fastnet import ops  # noqa: E402

RNG = np.random.default_rng(0)

# name -> (factory(layers_module), input shape, input kind)
CASES = {
    "Dense": (lambda L: L.Dense(7, activation="tanh"), (3, 5), "f"),
    "Dense3D": (lambda L: L.Dense(4), (2, 3, 5), "f"),
    "Conv1D": (lambda L: L.Conv1D(4, 3, strides=2, padding="same"), (2, 9, 3), "f"),
    "Conv2D_valid": (lambda L: L.Conv2D(5, 3, activation="relu"), (2, 8, 7, 3), "f"),
    "Conv2D_same_s2": (lambda L: L.Conv2D(4, (3, 2), strides=2, padding="same"), (2, 7, 8, 3), "f"),
    "Conv2D_dilated": (lambda L: L.Conv2D(3, 3, dilation_rate=2, padding="same"), (1, 9, 9, 2), "f"),
    "Conv3D": (lambda L: L.Conv3D(2, 2, padding="same"), (1, 4, 5, 3, 2), "f"),
    "Conv2DTranspose": (lambda L: L.Conv2DTranspose(3, 3, strides=2, padding="same"), (2, 4, 5, 2), "f"),
    "Conv2DTranspose_valid": (lambda L: L.Conv2DTranspose(4, 3), (2, 4, 4, 1), "f"),
    "DepthwiseConv2D": (lambda L: L.DepthwiseConv2D(3, depth_multiplier=2, padding="same"), (2, 6, 6, 3), "f"),
    "SeparableConv2D": (lambda L: L.SeparableConv2D(4, 3), (2, 6, 6, 3), "f"),
    "MaxPooling2D_same": (lambda L: L.MaxPooling2D(3, strides=2, padding="same"), (2, 7, 6, 3), "f"),
    # Even total padding here: with an odd total, Keras's torch backend splits the pad
    # differently from TensorFlow (fastnet follows TF: the extra pad goes after; see
    # test_average_pool_same_follows_tensorflow).
    "AveragePooling2D_same": (lambda L: L.AveragePooling2D(3, strides=2, padding="same"), (2, 7, 7, 3), "f"),
    "AveragePooling1D": (lambda L: L.AveragePooling1D(2), (2, 7, 3), "f"),
    "GlobalAveragePooling2D": (lambda L: L.GlobalAveragePooling2D(), (2, 5, 4, 3), "f"),
    "GlobalMaxPooling1D": (lambda L: L.GlobalMaxPooling1D(), (2, 5, 3), "f"),
    "UpSampling2D": (lambda L: L.UpSampling2D((2, 3)), (2, 3, 2, 2), "f"),
    "ZeroPadding2D": (lambda L: L.ZeroPadding2D(((1, 2), (0, 1))), (2, 3, 2, 2), "f"),
    "Cropping2D": (lambda L: L.Cropping2D(((1, 0), (1, 1))), (2, 4, 5, 2), "f"),
    "LayerNormalization": (lambda L: L.LayerNormalization(), (3, 6), "f"),
    "SimpleRNN": (lambda L: L.SimpleRNN(4, return_sequences=True), (2, 5, 3), "f"),
    "LSTM": (lambda L: L.LSTM(4), (2, 5, 3), "f"),
    "LSTM_seq_back": (lambda L: L.LSTM(3, return_sequences=True, go_backwards=True), (2, 4, 3), "f"),
    "GRU": (lambda L: L.GRU(4, return_sequences=True), (2, 5, 3), "f"),
    "Bidirectional": (lambda L: L.Bidirectional(L.LSTM(3, return_sequences=True)), (2, 4, 3), "f"),
    "Embedding": (lambda L: L.Embedding(10, 4), (3, 5), "i"),
    "ConvLSTM2D": (lambda L: L.ConvLSTM2D(2, 3, return_sequences=True), (1, 3, 5, 5, 2), "f"),
    "LeakyReLU": (lambda L: L.LeakyReLU(), (3, 6), "f"),
    "ELU": (lambda L: L.ELU(), (3, 6), "f"),
    "PReLU": (lambda L: L.PReLU(alpha_initializer="random_uniform"), (3, 6), "f"),
    "ReLU6": (lambda L: L.ReLU(max_value=6.0), (3, 6), "f"),
    "Softmax": (lambda L: L.Softmax(), (3, 6), "f"),
    "Activation_gelu": (lambda L: L.Activation("gelu"), (3, 6), "f"),
    "Activation_leaky": (lambda L: L.Activation("leaky_relu"), (3, 6), "f"),
    "Flatten": (lambda L: L.Flatten(), (2, 3, 4), "f"),
    "Permute": (lambda L: L.Permute((2, 1)), (2, 3, 4), "f"),
    "RepeatVector": (lambda L: L.RepeatVector(3), (2, 4), "f"),
}


def tol(ref):
    return 1e-4 * max(1.0, float(np.max(np.abs(ref))) if ref.size else 1.0)


def make_input(shape, kind):
    if kind == "i":
        return RNG.integers(0, 10, shape).astype("int32")
    return RNG.standard_normal(shape).astype("float32") * 3


@pytest.mark.parametrize("name", sorted(CASES))
def test_forward_and_gradients_match_keras(name):
    factory, shape, kind = CASES[name]
    x = make_input(shape, kind)
    k_layer = factory(keras.layers)
    k_out = k_layer(x)
    f_layer = factory(fastnet.layers)
    f_layer(x)  # build
    kw = k_layer.get_weights()
    assert [w.shape for w in f_layer.get_weights()] == [w.shape for w in kw], "weight layout"
    f_layer.set_weights(kw)
    want = keras.ops.convert_to_numpy(k_out)
    got = f_layer(x).numpy()
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=tol(want), rtol=1e-4)
    if kind != "f":
        return
    # gradients of sum(out * dout) wrt the input and every weight
    dout = RNG.standard_normal(want.shape).astype("float32")
    xt = torch.tensor(x, requires_grad=True)
    k_vars = [v.value for v in k_layer.trainable_weights]
    k_y = k_layer(xt)
    k_loss = (k_y * torch.from_numpy(dout)).sum()
    k_grads = torch.autograd.grad(k_loss, [xt] + k_vars, allow_unused=True)
    xf = ops.convert_to_tensor(x)
    with fastnet.GradientTape() as tape:
        tape.watch(xf)
        loss = ops.sum(f_layer(xf) * dout)
    f_grads = tape.gradient(loss, [xf] + f_layer.trainable_weights)
    for i, (kg, fg) in enumerate(zip(k_grads, f_grads)):
        if kg is None:
            assert fg is None or np.allclose(fg.numpy(), 0)
            continue
        ref = kg.detach().numpy()
        np.testing.assert_allclose(fg.numpy(), ref, atol=tol(ref), rtol=1e-4,
                                   err_msg=f"gradient {i} of {name}")


def test_batch_normalization_training_call_and_moving_stats():
    x = make_input((8, 5, 3), "f")
    k_bn = keras.layers.BatchNormalization(momentum=0.9)
    f_bn = fastnet.layers.BatchNormalization(momentum=0.9)
    k_bn(x)
    f_bn(x)
    f_bn.set_weights(k_bn.get_weights())
    want = keras.ops.convert_to_numpy(k_bn(x, training=True))
    got = f_bn(x, training=True).numpy()
    np.testing.assert_allclose(got, want, atol=tol(want), rtol=1e-4)
    for fw, kw in zip(f_bn.get_weights(), k_bn.get_weights()):
        np.testing.assert_allclose(fw, kw, atol=1e-5, rtol=1e-4)
    want = keras.ops.convert_to_numpy(k_bn(x, training=False))
    np.testing.assert_allclose(f_bn(x, training=False).numpy(), want, atol=tol(want), rtol=1e-4)


def test_seed_model_summary_numbers_match_keras():
    def build(K):
        inputs = K.Input(shape=(784,), name="img")
        x = K.layers.Dense(64, activation="relu")(inputs)
        x = K.layers.Dense(64, activation="relu")(x)
        outputs = K.layers.Dense(10, activation="softmax")(x)
        return K.Model(inputs=inputs, outputs=outputs, name="mnist_model")

    km, fm = build(keras), build(fastnet)
    assert km.count_params() == fm.count_params() == 55050
    fm.set_weights(km.get_weights())
    x = make_input((4, 784), "f")
    np.testing.assert_allclose(fm.predict(x, verbose=0), km.predict(x, verbose=0), atol=1e-5)


def test_average_pool_same_follows_tensorflow():
    # 4x4 input, 3x3 window, stride 2: TF pads 0 before and 1 after, and divides by the
    # number of real elements in each window.
    x = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    got = fastnet.layers.AveragePooling2D(3, strides=2, padding="same")(x).numpy()[0, :, :, 0]
    v = x[0, :, :, 0]
    want = np.array([[v[0:3, 0:3].mean(), v[0:3, 2:4].mean()],
                     [v[2:4, 0:3].mean(), v[2:4, 2:4].mean()]])
    np.testing.assert_allclose(got, want, rtol=1e-6)


MASKED_RNN = {
    "SimpleRNN": lambda L, **kw: L.SimpleRNN(4, **kw),
    "LSTM": lambda L, **kw: L.LSTM(4, **kw),
    "GRU": lambda L, **kw: L.GRU(4, **kw),
    "Bidirectional_LSTM": lambda L, **kw: L.Bidirectional(L.LSTM(3, **kw)),
}


# Keras's Bidirectional rejects go_backwards inner layers, and initial states of
# Bidirectional are not part of this check: those combinations are not generated.
MASKED_RNN_CASES = [(name, rs, gb, st) for name in sorted(MASKED_RNN) for rs in (False, True)
                    for gb in (False, True) for st in (False, True)
                    if not (name.startswith("Bidirectional") and (gb or st))]


@pytest.mark.parametrize("name,return_sequences,go_backwards,initial_state", MASKED_RNN_CASES)
def test_masked_recurrent_layers_match_keras(name, return_sequences, go_backwards,
                                             initial_state):
    # Rows: right-padded, left-padded (masked steps before the first real one: Keras
    # outputs zeros there while the state stays the initial state), fully padded, random.
    n, t = 4, 6
    x = make_input((n, t, 3), "f")
    mask = np.ones((n, t), bool)
    mask[0, 4:] = False
    mask[1, :2] = False
    mask[2, :] = False
    mask[3] = RNG.random(t) < 0.5
    kw = dict(return_sequences=return_sequences, go_backwards=go_backwards)
    k_layer = MASKED_RNN[name](keras.layers, **kw)
    f_layer = MASKED_RNN[name](fastnet.layers, **kw)
    states = []
    if initial_state:
        states = [make_input((n, 4), "f") for _ in range(2 if name == "LSTM" else 1)]
    k_layer(x)
    f_layer(x)
    f_layer.set_weights(k_layer.get_weights())
    xt = torch.tensor(x, requires_grad=True)
    k_kw = {"mask": torch.from_numpy(mask)}
    f_kw = {"mask": mask}
    if states:
        k_kw["initial_state"] = [torch.from_numpy(s) for s in states]
        f_kw["initial_state"] = [ops.convert_to_tensor(s) for s in states]
    k_y = k_layer(xt, **k_kw)
    want = k_y.detach().numpy()
    xf = ops.convert_to_tensor(x)
    with fastnet.GradientTape() as tape:
        tape.watch(xf)
        f_y = f_layer(xf, **f_kw)
        dout = RNG.standard_normal(want.shape).astype("float32")
        loss = ops.sum(f_y * dout)
    np.testing.assert_allclose(f_y.numpy(), want, atol=tol(want), rtol=1e-4)
    k_vars = [v.value for v in k_layer.trainable_weights]
    k_grads = torch.autograd.grad((k_y * torch.from_numpy(dout)).sum(), [xt] + k_vars)
    f_grads = tape.gradient(loss, [xf] + f_layer.trainable_weights)
    for i, (kg, fg) in enumerate(zip(k_grads, f_grads)):
        ref = kg.detach().numpy()
        np.testing.assert_allclose(fg.numpy(), ref, atol=tol(ref), rtol=1e-4,
                                   err_msg=f"gradient {i} of masked {name}")
