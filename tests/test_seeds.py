"""The tutorials in ../shared/seeds, with only the imports changed, as tests.

Parameter counts are Keras's (measured with Keras 3 on the same code).
"""

import contextlib
import io

import numpy as np
import pytest

import fastnet as keras
import fastnet as tf  # the seeds' `tf.keras.X` → `fastnet.X`; tf.nn.relu → fastnet.ops.relu
from fastnet import Input, Model, Sequential, layers


@pytest.fixture(autouse=True)
def fresh_names():
    keras.backend.clear_session()
    yield


def summary_text(model):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        model.summary()
    return buf.getvalue()


# ---- seed 000: the three ways to build a model -------------------------------------------

def test_seed000_sequential_add_and_list():
    model = tf.Sequential()
    model.add(layers.Dense(64, activation="relu"))
    model.add(layers.Dense(64, activation="relu"))
    model.add(layers.Dense(10))
    model2 = tf.Sequential([
        layers.Dense(64, activation="relu", input_shape=(32,)),
        layers.Dense(64, activation="relu"),
        layers.Dense(10)])
    model2.compile(optimizer=tf.optimizers.Adam(0.01),
                   loss=tf.losses.CategoricalCrossentropy(from_logits=True),
                   metrics=["accuracy"])
    data = np.random.random((1000, 32))
    labels = np.random.random((1000, 10))
    hist = model2.fit(data, labels, epochs=2, batch_size=32, verbose=0)
    assert set(hist.history) == {"loss", "accuracy"} and len(hist.history["loss"]) == 2
    assert model2.count_params() == 64 * 33 + 64 * 65 + 10 * 65
    # the deferred model builds on first call
    out = model(np.zeros((3, 32), np.float32))
    assert out.shape == (3, 10) and model.count_params() == model2.count_params()


def test_seed000_functional_and_subclass_fit():
    inputs = tf.Input(shape=(32,))
    x = layers.Dense(64, activation="relu")(inputs)
    x = layers.Dense(64, activation="relu")(x)
    predictions = layers.Dense(10)(x)
    model = tf.Model(inputs=inputs, outputs=predictions)
    model.compile(optimizer=tf.optimizers.RMSprop(0.001),
                  loss=tf.losses.CategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    data = np.random.random((1000, 32))
    labels = np.random.random((1000, 10))
    model.fit(data, labels, batch_size=32, epochs=1, verbose=0)

    class MyModel(tf.Model):
        def __init__(self, num_classes=10):
            super().__init__(name="my_model")
            self.num_classes = num_classes
            self.dense_1 = layers.Dense(32, activation="relu")
            self.dense_2 = layers.Dense(num_classes)

        def call(self, inputs):
            x = self.dense_1(inputs)
            return self.dense_2(x)

    sub = MyModel(num_classes=10)
    sub.compile(optimizer=tf.optimizers.RMSprop(0.001),
                loss=tf.losses.CategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    hist = sub.fit(data, labels, batch_size=32, epochs=2, verbose=0)
    assert sub.name == "my_model" and len(sub.trainable_weights) == 4
    assert np.isfinite(hist.history["loss"]).all()


# ---- seed 003: summaries 3,466 ---------------------------------------------------------

def test_seed003_sequential_and_functional_summaries():
    seq_model = Sequential()
    seq_model.add(layers.Dense(32, activation="relu", input_shape=(64,)))
    seq_model.add(layers.Dense(32, activation="relu"))
    seq_model.add(layers.Dense(10, activation="softmax"))
    text = summary_text(seq_model)
    assert "Total params: 3,466" in text and "Trainable params: 3,466" in text
    assert "(None, 32)" in text and "2,080" in text and "1,056" in text and "330" in text

    input_tensor = Input(shape=(64,))
    x = layers.Dense(32, activation="relu")(input_tensor)
    x = layers.Dense(32, activation="relu")(x)
    output_tensor = layers.Dense(10, activation="softmax")(x)
    model = Model(input_tensor, output_tensor)
    text = summary_text(model)
    assert "InputLayer" in text and "Total params: 3,466" in text
    assert "Non-trainable params: 0" in text
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy")
    x_train = np.random.random((1000, 64))
    y_train = np.random.random((1000, 10))
    hist = model.fit(x_train, y_train, epochs=2, batch_size=128, verbose=0)
    assert len(hist.history["loss"]) == 2


# ---- seed 004: functional API guide ------------------------------------------------------

def test_seed004_mnist_model_summary_and_shapes():
    inputs = keras.Input(shape=(784,), name="img")
    assert inputs.shape == (None, 784) and inputs.dtype == "float32"
    x = layers.Dense(64, activation="relu")(inputs)
    x = layers.Dense(64, activation="relu")(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inputs=inputs, outputs=outputs, name="mnist_model")
    text = summary_text(model)
    assert 'Model: "mnist_model"' in text and "img (InputLayer)" in text
    assert "50,240" in text and "4,160" in text and "650" in text
    assert "Total params: 55,050" in text
    out = model(np.random.random((2, 784)).astype("float32"))
    np.testing.assert_allclose(out.numpy().sum(axis=1), 1.0, rtol=1e-5)


def build_encoder_decoder():
    encoder_input = keras.Input(shape=(28, 28, 1), name="img")
    x = layers.Conv2D(16, 3, activation="relu")(encoder_input)
    x = layers.Conv2D(32, 3, activation="relu")(x)
    x = layers.MaxPooling2D(3)(x)
    x = layers.Conv2D(32, 3, activation="relu")(x)
    x = layers.Conv2D(16, 3, activation="relu")(x)
    encoder_output = layers.GlobalMaxPooling2D()(x)
    encoder = keras.Model(encoder_input, encoder_output, name="encoder")
    x = layers.Reshape((4, 4, 1))(encoder_output)
    x = layers.Conv2DTranspose(16, 3, activation="relu")(x)
    x = layers.Conv2DTranspose(32, 3, activation="relu")(x)
    x = layers.UpSampling2D(3)(x)
    x = layers.Conv2DTranspose(16, 3, activation="relu")(x)
    decoder_output = layers.Conv2DTranspose(1, 3, activation="relu")(x)
    autoencoder = keras.Model(encoder_input, decoder_output, name="autoencoder")
    return encoder, autoencoder


def test_seed004_encoder_autoencoder():
    encoder, autoencoder = build_encoder_decoder()
    assert encoder.count_params() == 18672
    assert autoencoder.count_params() == 28241
    assert autoencoder.output.shape == (None, 28, 28, 1)
    assert "Total params: 18,672" in summary_text(encoder)
    y = autoencoder(np.random.random((2, 28, 28, 1)).astype("float32"))
    assert y.shape == (2, 28, 28, 1)


def test_seed004_models_called_like_layers_and_ensembles():
    encoder_input = keras.Input(shape=(28, 28, 1), name="original_img")
    x = layers.Conv2D(16, 3, activation="relu")(encoder_input)
    x = layers.Conv2D(32, 3, activation="relu")(x)
    x = layers.MaxPooling2D(3)(x)
    x = layers.Conv2D(32, 3, activation="relu")(x)
    x = layers.Conv2D(16, 3, activation="relu")(x)
    encoder_output = layers.GlobalMaxPooling2D()(x)
    encoder = keras.Model(encoder_input, encoder_output, name="encoder")
    decoder_input = keras.Input(shape=(16,), name="encoded_img")
    x = layers.Reshape((4, 4, 1))(decoder_input)
    x = layers.Conv2DTranspose(16, 3, activation="relu")(x)
    x = layers.Conv2DTranspose(32, 3, activation="relu")(x)
    x = layers.UpSampling2D(3)(x)
    x = layers.Conv2DTranspose(16, 3, activation="relu")(x)
    decoder_output = layers.Conv2DTranspose(1, 3, activation="relu")(x)
    decoder = keras.Model(decoder_input, decoder_output, name="decoder")
    autoencoder_input = keras.Input(shape=(28, 28, 1), name="img")
    encoded_img = encoder(autoencoder_input)
    decoded_img = decoder(encoded_img)
    autoencoder = keras.Model(autoencoder_input, decoded_img, name="autoencoder")
    assert autoencoder.count_params() == 28241
    text = summary_text(autoencoder)
    assert "encoder (Functional)" in text and "decoder (Functional)" in text
    assert autoencoder(np.random.random((1, 28, 28, 1)).astype("float32")).shape == (1, 28, 28, 1)

    def get_model():
        inputs = keras.Input(shape=(128,))
        outputs = layers.Dense(1, activation="sigmoid")(inputs)
        return keras.Model(inputs, outputs)

    model1, model2, model3 = get_model(), get_model(), get_model()
    inputs = keras.Input(shape=(128,))
    outputs = layers.average([model1(inputs), model2(inputs), model3(inputs)])
    ensemble_model = keras.Model(inputs=inputs, outputs=outputs)
    xin = np.random.random((4, 128)).astype("float32")
    want = (model1(xin).numpy() + model2(xin).numpy() + model3(xin).numpy()) / 3
    np.testing.assert_allclose(ensemble_model(xin).numpy(), want, rtol=1e-5)


def test_seed004_multi_input_multi_output():
    num_tags, num_words, num_departments = 12, 10000, 4
    title_input = keras.Input(shape=(None,), name="title")
    body_input = keras.Input(shape=(None,), name="body")
    tags_input = keras.Input(shape=(num_tags,), name="tags")
    title_features = layers.Embedding(num_words, 64)(title_input)
    body_features = layers.Embedding(num_words, 64)(body_input)
    title_features = layers.LSTM(128)(title_features)
    body_features = layers.LSTM(32)(body_features)
    x = layers.concatenate([title_features, body_features, tags_input])
    priority_pred = layers.Dense(1, activation="sigmoid", name="priority")(x)
    department_pred = layers.Dense(num_departments, activation="softmax", name="department")(x)
    model = keras.Model(inputs=[title_input, body_input, tags_input],
                        outputs=[priority_pred, department_pred])
    assert model.count_params() == 1392097
    text = summary_text(model)
    assert "Connected to" in text and "lstm (LSTM)" in text and "98,816" in text
    model.compile(optimizer=keras.optimizers.RMSprop(1e-3),
                  loss=["binary_crossentropy", "categorical_crossentropy"],
                  loss_weights=[1., 0.2])
    model.compile(optimizer=keras.optimizers.RMSprop(1e-3),
                  loss={"priority": "binary_crossentropy",
                        "department": "categorical_crossentropy"},
                  loss_weights=[1., 0.2])
    n = 64
    title_data = np.random.randint(num_words, size=(n, 10))
    body_data = np.random.randint(num_words, size=(n, 20))
    tags_data = np.random.randint(2, size=(n, num_tags)).astype("float32")
    priority_targets = np.random.random(size=(n, 1))
    dept_targets = np.random.randint(2, size=(n, num_departments))
    hist = model.fit({"title": title_data, "body": body_data, "tags": tags_data},
                     {"priority": priority_targets, "department": dept_targets},
                     epochs=1, batch_size=32, verbose=0)
    assert {"loss", "priority_loss", "department_loss"} <= set(hist.history)


def test_seed004_toy_resnet():
    inputs = keras.Input(shape=(32, 32, 3), name="img")
    x = layers.Conv2D(32, 3, activation="relu")(inputs)
    x = layers.Conv2D(64, 3, activation="relu")(x)
    block_1_output = layers.MaxPooling2D(3)(x)
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(block_1_output)
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(x)
    block_2_output = layers.add([x, block_1_output])
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(block_2_output)
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(x)
    block_3_output = layers.add([x, block_2_output])
    x = layers.Conv2D(64, 3, activation="relu")(block_3_output)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(256, activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inputs, outputs, name="toy_resnet")
    assert model.count_params() == 223242
    text = summary_text(model)
    assert "Total params: 223,242" in text and "add (Add)" in text
    x_train = np.random.random((16, 32, 32, 3)).astype("float32")
    y_train = keras.utils.to_categorical(np.random.randint(0, 10, (16, 1)), 10)
    model.compile(optimizer=keras.optimizers.RMSprop(1e-3), loss="categorical_crossentropy",
                  metrics=["acc"])
    hist = model.fit(x_train, y_train, batch_size=8, epochs=1, validation_split=0.25, verbose=0)
    assert {"loss", "acc", "val_loss", "val_acc"} == set(hist.history)


def test_seed004_shared_layers_and_custom_dense_config():
    shared_embedding = layers.Embedding(1000, 128)
    text_input_a = keras.Input(shape=(None,), dtype="int32")
    text_input_b = keras.Input(shape=(None,), dtype="int32")
    encoded_input_a = shared_embedding(text_input_a)
    encoded_input_b = shared_embedding(text_input_b)
    assert encoded_input_a.shape == (None, None, 128) and encoded_input_b.shape == (None, None, 128)
    assert len(shared_embedding._inbound_nodes) == 2

    class CustomDense(layers.Layer):
        def __init__(self, units=32):
            super().__init__()
            self.units = units

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], self.units),
                                     initializer="random_normal", trainable=True)
            self.b = self.add_weight(shape=(self.units,), initializer="random_normal",
                                     trainable=True)

        def call(self, inputs):
            return tf.ops.matmul(inputs, self.w) + self.b

        def get_config(self):
            return {"units": self.units}

    inputs = keras.Input((4,))
    outputs = CustomDense(10)(inputs)
    model = keras.Model(inputs, outputs)
    assert outputs.shape == (None, 10) and model.count_params() == 50
    config = model.get_config()
    new_model = keras.Model.from_config(config, custom_objects={"CustomDense": CustomDense})
    assert new_model.count_params() == 50
    assert new_model(np.ones((2, 4), np.float32)).shape == (2, 10)


def test_seed004_custom_rnn_mixing_styles():
    units, timesteps, input_dim = 32, 10, 5
    inputs = keras.Input((None, units))
    x = layers.GlobalAveragePooling1D()(inputs)
    outputs = layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs, outputs)

    class CustomRNN(layers.Layer):
        def __init__(self):
            super().__init__()
            self.units = units
            self.projection_1 = layers.Dense(units=units, activation="tanh")
            self.projection_2 = layers.Dense(units=units, activation="tanh")
            self.classifier = model

        def call(self, inputs):
            outputs = []
            state = tf.ops.zeros(shape=(inputs.shape[0], self.units))
            for t in range(inputs.shape[1]):
                x = inputs[:, t, :]
                h = self.projection_1(x)
                y = h + self.projection_2(state)
                state = y
                outputs.append(y)
            features = tf.ops.stack(outputs, axis=1)
            return self.classifier(features)

    rnn_model = CustomRNN()
    out = rnn_model(tf.ops.zeros((1, timesteps, input_dim)))
    assert out.shape == (1, 1)

    batch_size = 16

    class CustomRNN2(layers.Layer):
        def __init__(self):
            super().__init__()
            self.units = units
            self.projection_1 = layers.Dense(units=units, activation="tanh")
            self.projection_2 = layers.Dense(units=units, activation="tanh")
            self.classifier = layers.Dense(1, activation="sigmoid")

        def call(self, inputs):
            outputs = []
            state = tf.ops.zeros(shape=(inputs.shape[0], self.units))
            for t in range(inputs.shape[1]):
                x = inputs[:, t, :]
                h = self.projection_1(x)
                y = h + self.projection_2(state)
                state = y
                outputs.append(y)
            features = tf.ops.stack(outputs, axis=1)
            return self.classifier(features)

    inputs = keras.Input(batch_shape=(batch_size, timesteps, input_dim))
    x = layers.Conv1D(32, 3)(inputs)
    outputs = CustomRNN2()(x)
    model = keras.Model(inputs, outputs)
    assert model.output.shape == (batch_size, timesteps - 2, 1)
    y = model(np.random.random((batch_size, timesteps, input_dim)).astype("float32"))
    assert y.shape == (batch_size, timesteps - 2, 1)


def test_seed004_mlp_subclass():
    class MLP(keras.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense_1 = layers.Dense(64, activation="relu")
            self.dense_2 = layers.Dense(10)

        def call(self, inputs):
            x = self.dense_1(inputs)
            return self.dense_2(x)

    mlp = MLP()
    _ = mlp(tf.ops.zeros((1, 32)))
    assert mlp.count_params() == 32 * 64 + 64 + 650
    assert "Total params: 2,762" in summary_text(mlp)


# ---- seed 001: subclassed ResNet -----------------------------------------------------------

def conv3x3(channels, stride=1, kernel=(3, 3)):
    return keras.layers.Conv2D(channels, kernel, strides=stride, padding="same", use_bias=False,
                               kernel_initializer=tf.initializers.random_normal_initializer())


class ResnetBlock(keras.Model):
    def __init__(self, channels, strides=1, residual_path=False):
        super().__init__()
        self.channels = channels
        self.strides = strides
        self.residual_path = residual_path
        self.conv1 = conv3x3(channels, strides)
        self.bn1 = keras.layers.BatchNormalization()
        self.conv2 = conv3x3(channels)
        self.bn2 = keras.layers.BatchNormalization()
        if residual_path:
            self.down_conv = conv3x3(channels, strides, kernel=(1, 1))
            self.down_bn = tf.layers.BatchNormalization()

    def call(self, inputs, training=None):
        residual = inputs
        x = self.bn1(inputs, training=training)
        x = tf.ops.relu(x)
        x = self.conv1(x)
        x = self.bn2(x, training=training)
        x = tf.ops.relu(x)
        x = self.conv2(x)
        if self.residual_path:
            residual = self.down_bn(inputs, training=training)
            residual = tf.ops.relu(residual)
            residual = self.down_conv(residual)
        x = x + residual
        return x


class ResNet(keras.Model):
    def __init__(self, block_list, num_classes, initial_filters=16, **kwargs):
        super().__init__(**kwargs)
        self.num_blocks = len(block_list)
        self.block_list = block_list
        self.in_channels = initial_filters
        self.out_channels = initial_filters
        self.conv_initial = conv3x3(self.out_channels)
        self.blocks = keras.models.Sequential(name="dynamic-blocks")
        for block_id in range(len(block_list)):
            for layer_id in range(block_list[block_id]):
                if block_id != 0 and layer_id == 0:
                    block = ResnetBlock(self.out_channels, strides=2, residual_path=True)
                else:
                    if self.in_channels != self.out_channels:
                        residual_path = True
                    else:
                        residual_path = False
                    block = ResnetBlock(self.out_channels, residual_path=residual_path)
                self.in_channels = self.out_channels
                self.blocks.add(block)
            self.out_channels *= 2
        self.final_bn = keras.layers.BatchNormalization()
        self.avg_pool = keras.layers.GlobalAveragePooling2D()
        self.fc = keras.layers.Dense(num_classes)

    def call(self, inputs, training=None):
        out = self.conv_initial(inputs)
        out = self.blocks(out, training=training)
        out = self.final_bn(out, training=training)
        out = tf.ops.relu(out)
        out = self.avg_pool(out)
        out = self.fc(out)
        return out


def test_seed001_subclassed_resnet_build_summary_train():
    model = ResNet([2, 2, 2], 10)
    model.build(input_shape=(None, 28, 28, 1))
    text = summary_text(model)
    assert "Total params: 175,898" in text
    assert "Trainable params: 174,874" in text and "Non-trainable params: 1,024" in text
    assert "dynamic-blocks (Sequential)" in text
    x = np.random.random((4, 28, 28, 1)).astype("float32")
    y = np.random.randint(0, 10, 4)
    model.compile(optimizer="adam",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    before = model.final_bn.moving_mean.numpy().copy()
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    assert not np.allclose(before, model.final_bn.moving_mean.numpy())
    assert model.predict(x, verbose=0).shape == (4, 10)
