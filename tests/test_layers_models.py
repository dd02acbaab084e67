"""Layer and model behaviour a Keras user relies on: names, specs and their error
messages, masks, training flags, weights API, config round-trips, graph checks."""

import inspect

import numpy as np
import pytest

import fastnet as keras
from fastnet import layers


@pytest.fixture(autouse=True)
def fresh_names():
    keras.backend.clear_session()


def test_automatic_unique_names_and_clear_session():
    assert [layers.Dense(1).name for _ in range(3)] == ["dense", "dense_1", "dense_2"]
    assert layers.Conv2D(1, 1).name == "conv2d"
    keras.backend.clear_session()
    assert layers.Dense(1).name == "dense"


def test_input_spec_error_names_layer_and_shapes():
    inputs = keras.Input(shape=(784,))
    x = layers.Dense(64)(inputs)
    dense_2 = layers.Dense(10)
    dense_2(x)
    with pytest.raises(ValueError) as e:
        dense_2(keras.Input(shape=(100,)))
    assert str(e.value) == (
        'Input 0 of layer "dense_1" is incompatible with the layer: expected axis -1 of input '
        "shape to have value 64, but received input with shape (None, 100)")
    with pytest.raises(ValueError, match="expected ndim=4, found ndim=2"):
        layers.Conv2D(2, 3)(np.zeros((2, 3), np.float32))


def test_constructor_argument_errors_quote_the_value():
    with pytest.raises(ValueError, match="units=0"):
        layers.Dense(0)
    with pytest.raises(ValueError, match="rate=1.5"):
        layers.Dropout(1.5)
    with pytest.raises(ValueError, match="filters"):
        layers.Conv2D(-1, 3)
    with pytest.raises(ValueError, match="unrecognized keyword"):
        layers.Dense(3, nonsense=True)


def test_graph_construction_errors():
    a = keras.Input((3,))
    b = keras.Input((3,))
    out = layers.Add()([a, b])
    with pytest.raises(ValueError, match="Graph disconnected"):
        keras.Model(a, out)
    x = layers.Dense(2, name="same")(a)
    y = layers.Dense(2, name="same")(x)
    with pytest.raises(ValueError, match="used 2 times"):
        keras.Model(a, y)


def test_weights_api_and_trainable_switch():
    model = keras.Sequential([layers.Dense(4, input_shape=(3,)), layers.BatchNormalization(),
                              layers.Dense(2)])
    assert len(model.weights) == 8 and len(model.trainable_weights) == 6
    assert len(model.non_trainable_weights) == 2
    w = model.get_weights()
    model.set_weights([np.ones_like(v) for v in w])
    assert all((v == 1).all() for v in model.get_weights())
    with pytest.raises(ValueError, match="expected 8 weights"):
        model.set_weights(w[:2])
    with pytest.raises(ValueError, match="not compatible"):
        model.layers[0].set_weights([np.zeros((5, 4)), np.zeros(4)])
    model.layers[0].trainable = False
    assert len(model.trainable_weights) == 4
    assert model.get_layer(index=2) is model.layers[2]
    assert model.get_layer(name=model.layers[1].name) is model.layers[1]
    with pytest.raises(ValueError, match="No such layer"):
        model.get_layer("nope")
    popped = model.pop()
    assert popped.name == "dense_1" and len(model.layers) == 2


def test_training_flag_reaches_dropout_and_bn():
    drop = layers.Dropout(0.5)
    x = np.ones((200, 10), np.float32)
    assert (drop(x).numpy() == 1).all()
    y = drop(x, training=True).numpy()
    assert set(np.unique(y)) <= {0.0, 2.0} and 0.3 < (y == 0).mean() < 0.7
    model = keras.Sequential([layers.Dense(3, input_shape=(2,)), layers.Dropout(0.9)])
    assert not (model(np.ones((50, 2), np.float32), training=True).numpy() ==
                model(np.ones((50, 2), np.float32)).numpy()).all()


def test_regularization_and_add_loss_reach_model_losses():
    reg = keras.regularizers.l2(0.1)
    model = keras.Sequential([layers.Dense(2, input_shape=(3,), kernel_regularizer=reg,
                                           kernel_initializer="ones")])
    losses = model.losses
    assert len(losses) == 1 and np.isclose(float(losses[0]), 0.1 * 6)

    class WithLoss(layers.Layer):
        def call(self, x):
            self.add_loss(keras.ops.sum(x) * 0.0 + 1.5)
            return x

    layer = WithLoss()
    layer(np.ones((1, 2), np.float32))
    assert float(layer.losses[0]) == 1.5


def test_masking_embedding_into_lstm_skips_padded_steps():
    emb = layers.Embedding(10, 3, mask_zero=True)
    lstm = layers.LSTM(4)
    inp = keras.Input((None,), dtype="int32")
    model = keras.Model(inp, lstm(emb(inp)))
    seq = np.array([[5, 2, 7, 0, 0]])
    short = np.array([[5, 2, 7]])
    np.testing.assert_allclose(model(seq).numpy(), model(short).numpy(), rtol=1e-5)
    assert emb.compute_mask(seq).numpy().tolist() == [[True, True, True, False, False]]


@pytest.mark.parametrize("name", [
    "Dense", "Conv1D", "Conv2D", "Conv2DTranspose", "DepthwiseConv2D", "MaxPooling2D",
    "AveragePooling1D", "GlobalAveragePooling2D", "BatchNormalization", "LayerNormalization",
    "LSTM", "GRU", "SimpleRNN", "Embedding", "Dropout", "Flatten", "Reshape", "Permute",
    "RepeatVector", "UpSampling2D", "ZeroPadding2D", "Cropping2D", "Concatenate", "LeakyReLU",
    "ReLU", "Softmax", "Activation", "MultiHeadAttention", "Attention", "AdditiveAttention",
    "Rescaling", "Normalization", "CenterCrop", "RandomFlip", "CategoryEncoding",
    "Discretization", "IntegerLookup", "StringLookup"])
def test_config_round_trip(name):
    args = {"Dense": (3,), "Conv1D": (2, 3), "Conv2D": (2, 3), "Conv2DTranspose": (2, 3),
            "DepthwiseConv2D": (3,), "LSTM": (2,), "GRU": (2,), "SimpleRNN": (2,),
            "Embedding": (5, 2), "Dropout": (0.2,), "Reshape": ((2, 2),), "Permute": ((2, 1),),
            "RepeatVector": (2,), "Activation": ("relu",), "MultiHeadAttention": (2, 4),
            "Rescaling": (0.5,), "CenterCrop": (2, 3), "CategoryEncoding": (4,),
            "Discretization": ([0.0, 1.0],)}.get(name, ())
    layer = getattr(layers, name)(*args)
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config


def test_every_mission_layer_exists():
    names = """InputLayer Dense Activation Dropout Flatten Reshape Permute RepeatVector Lambda
    Embedding Conv1D Conv2D Conv3D Conv2DTranspose SeparableConv2D DepthwiseConv2D MaxPooling1D
    MaxPooling2D MaxPooling3D AveragePooling1D AveragePooling2D AveragePooling3D
    GlobalMaxPooling1D GlobalMaxPooling2D GlobalAveragePooling1D GlobalAveragePooling2D
    UpSampling1D UpSampling2D ZeroPadding2D Cropping2D BatchNormalization LayerNormalization
    SimpleRNN LSTM GRU Bidirectional TimeDistributed ConvLSTM2D Add add Concatenate concatenate
    Average average Multiply multiply Subtract Maximum Minimum Dot Softmax ReLU LeakyReLU ELU
    PReLU MultiHeadAttention Attention AdditiveAttention Rescaling Normalization CenterCrop
    RandomFlip CategoryEncoding Discretization IntegerLookup StringLookup""".split()
    missing = [n for n in names if not hasattr(layers, n)]
    assert not missing
    for n in names:
        obj = getattr(layers, n)
        assert inspect.isclass(obj) or callable(obj)


def test_activation_names_resolve():
    for name in ["relu", "relu6", "elu", "selu", "gelu", "sigmoid", "hard_sigmoid", "tanh",
                 "softplus", "softsign", "swish", "silu", "mish", "exponential", "linear",
                 "softmax", "log_softmax", "leaky_relu", "hard_silu"]:
        out = keras.activations.get(name)(np.array([[-1.0, 0.5]], np.float32))
        assert np.asarray(out).shape == (1, 2)
    with pytest.raises(ValueError, match="Unknown activation"):
        keras.activations.get("nope")


def test_time_distributed_and_bidirectional_shapes():
    inp = keras.Input((5, 8))
    y = layers.TimeDistributed(layers.Dense(3))(inp)
    z = layers.Bidirectional(layers.LSTM(4))(inp)
    assert y.shape == (None, 5, 3) and z.shape == (None, 8)
    model = keras.Model(inp, [y, z])
    a, b = model(np.zeros((2, 5, 8), np.float32))
    assert a.shape == (2, 5, 3) and b.shape == (2, 8)


def test_subclassed_model_first_batch_updates_its_weights():
    # The weights are created in the first call; reading them before the forward pass
    # skipped the first batch's update (iterations stayed 0).
    class Linear(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(1, kernel_initializer="zeros")

        def call(self, x):
            return self.dense(x)

    model = Linear()
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    x = np.ones((4, 3), np.float32)
    y = np.ones((4, 1), np.float32)
    model.train_on_batch(x, y)
    assert int(np.asarray(model.optimizer.iterations)) == 1
    # mse gradient at zero weights: d/dw mean((xw + b - 1)^2) = -2 * mean(x) = -2 per weight
    np.testing.assert_allclose(model.dense.kernel.numpy(), np.full((3, 1), 0.2), rtol=1e-6)
    np.testing.assert_allclose(model.dense.bias.numpy(), [0.2], rtol=1e-6)
