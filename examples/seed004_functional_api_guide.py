"""Seed 004 (the TensorFlow 2 functional-API guide, "不用Sequential模型"), end to end:

 3.  the MNIST-style model: summary, plot, training with validation_split, evaluation
     (on Fashion-MNIST, which Debian packages; the tutorial uses MNIST)
 4.  saving to .h5 and loading it back
 5.  encoder and autoencoder from one graph of layers
 6.  models called like layers: encoder + decoder, an ensemble of three models
 7.1 the ticket model: three inputs, two outputs, per-output losses and weights
 7.2 the toy ResNet (on CIFAR-10 when installed, else synthetic images)
 8.  a shared Embedding layer
 9.  feature extraction from VGG19's intermediate layers
 10. a custom Dense layer with get_config / from_config
 11. the MLP as a functional and as a subclassed model
 12. mixing styles: a functional model inside a custom RNN layer and back

    python examples/seed004_functional_api_guide.py [--fast] [--out DIR]

The guide's code with only the imports changed: `tf.keras.X` → `fastnet.X`,
`tf.matmul` / `tf.zeros` / `tf.stack` → `fastnet.ops.matmul` / `zeros` / `stack`.
`--fast` (or FASTNET_EXAMPLES_FAST=1) uses small data and a small VGG19 input.
A dataset that is not installed is replaced by synthetic images (fastnet downloads nothing).
VGG19 is built with `weights=None` (fastnet does not download ImageNet weights).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile

import numpy as np

import fastnet as keras
import fastnet as tf  # tf.matmul → fastnet.ops.matmul, tf.zeros → fastnet.ops.zeros, ...
from fastnet import layers


def synthetic(n, shape, classes=10, seed=0):
    """Stand-in images: a fixed random pattern per class plus noise, as uint8."""
    prototypes = np.random.default_rng(1234).random((classes, *shape))  # same for train/test
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    images = np.clip(prototypes[labels] + 0.3 * rng.normal(size=(n, *shape)), 0, 1)
    return (images * 255).astype("uint8"), labels.astype("uint8")


def load(dataset, shape, fast, n_train, n_test):
    try:
        (x_train, y_train), (x_test, y_test) = dataset.load_data()
    except FileNotFoundError as e:  # fastnet does not download data
        print(f"{e}\n-> training on synthetic images instead")
        n_train, n_test = min(n_train, 5000), min(n_test, 1000)
        (x_train, y_train), (x_test, y_test) = synthetic(n_train, shape), \
            synthetic(n_test, shape, seed=1)
    return (x_train[:n_train], y_train[:n_train]), (x_test[:n_test], y_test[:n_test])


def mnist_model(out_dir, fast, results):
    print("\n== 2-3. A model of layers; training, evaluation and inference")
    inputs = keras.Input(shape=(784,), name="img")
    print("inputs.shape:", inputs.shape, " inputs.dtype:", inputs.dtype)
    img_inputs = keras.Input(shape=(32, 32, 3))
    print("img_inputs.shape:", img_inputs.shape)
    x = layers.Dense(64, activation="relu")(inputs)
    x = layers.Dense(64, activation="relu")(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inputs=inputs, outputs=outputs, name="mnist_model")
    model.summary()
    for name, kwargs in (("my_first_model.png", {}),
                         ("my_first_model_with_shape_info.png", {"show_shapes": True})):
        path = os.path.join(out_dir, name)
        try:
            keras.utils.plot_model(model, path, **kwargs)
            print("wrote", path)
        except ImportError as e:  # Graphviz's `dot` is missing: write the DOT text instead
            keras.utils.plot_model(model, path[:-4] + ".dot", **kwargs)
            print(f"{e}\nwrote {path[:-4]}.dot")

    n_train, n_test, epochs = (3000, 1000, 3) if fast else (60000, 10000, 5)
    (x_train, y_train), (x_test, y_test) = load(keras.datasets.fashion_mnist, (28, 28), fast,
                                                n_train, n_test)
    x_train = x_train.reshape(len(x_train), 784).astype("float32") / 255
    x_test = x_test.reshape(len(x_test), 784).astype("float32") / 255
    model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.RMSprop(),
                  metrics=["accuracy"])
    history = model.fit(x_train, y_train, batch_size=64, epochs=epochs, validation_split=0.2,
                        verbose=2 if fast else 1)
    test_scores = model.evaluate(x_test, y_test, verbose=0)
    print("Test loss:", test_scores[0])
    print("Test accuracy:", test_scores[1])
    results["mnist"] = {"params": model.count_params(), "loss": history.history["loss"],
                        "val_loss": history.history["val_loss"],
                        "test_accuracy": float(test_scores[1])}

    print("\n== 4. Saving and serialization")
    path = os.path.join(out_dir, "path_to_my_model.h5")
    model.save(path)
    expected = model.predict(x_test[:8], verbose=0)
    del model
    model = keras.models.load_model(path)  # recreate the exact same model from the file
    results["reloaded_max_diff"] = float(np.abs(model.predict(x_test[:8], verbose=0)
                                                - expected).max())
    print("reloaded model's predictions differ by", results["reloaded_max_diff"])


def encoder_decoder(results):
    print("\n== 5. Several models from one graph of layers")
    encoder_input = keras.Input(shape=(28, 28, 1), name="img")
    x = layers.Conv2D(16, 3, activation="relu")(encoder_input)
    x = layers.Conv2D(32, 3, activation="relu")(x)
    x = layers.MaxPooling2D(3)(x)
    x = layers.Conv2D(32, 3, activation="relu")(x)
    x = layers.Conv2D(16, 3, activation="relu")(x)
    encoder_output = layers.GlobalMaxPooling2D()(x)
    encoder = keras.Model(encoder_input, encoder_output, name="encoder")
    encoder.summary()
    x = layers.Reshape((4, 4, 1))(encoder_output)
    x = layers.Conv2DTranspose(16, 3, activation="relu")(x)
    x = layers.Conv2DTranspose(32, 3, activation="relu")(x)
    x = layers.UpSampling2D(3)(x)
    x = layers.Conv2DTranspose(16, 3, activation="relu")(x)
    decoder_output = layers.Conv2DTranspose(1, 3, activation="relu")(x)
    autoencoder = keras.Model(encoder_input, decoder_output, name="autoencoder")
    autoencoder.summary()
    results["encoder"] = {"params": encoder.count_params(),
                          "output_shape": tuple(encoder.output.shape)}
    results["autoencoder"] = {"params": autoencoder.count_params(),
                              "output_shape": tuple(autoencoder.output.shape)}

    print("\n== 6. Models are callable, like layers")
    encoder_input = keras.Input(shape=(28, 28, 1), name="original_img")
    x = layers.Conv2D(16, 3, activation="relu")(encoder_input)
    x = layers.Conv2D(32, 3, activation="relu")(x)
    x = layers.MaxPooling2D(3)(x)
    x = layers.Conv2D(32, 3, activation="relu")(x)
    x = layers.Conv2D(16, 3, activation="relu")(x)
    encoder_output = layers.GlobalMaxPooling2D()(x)
    encoder = keras.Model(encoder_input, encoder_output, name="encoder")
    encoder.summary()
    decoder_input = keras.Input(shape=(16,), name="encoded_img")
    x = layers.Reshape((4, 4, 1))(decoder_input)
    x = layers.Conv2DTranspose(16, 3, activation="relu")(x)
    x = layers.Conv2DTranspose(32, 3, activation="relu")(x)
    x = layers.UpSampling2D(3)(x)
    x = layers.Conv2DTranspose(16, 3, activation="relu")(x)
    decoder_output = layers.Conv2DTranspose(1, 3, activation="relu")(x)
    decoder = keras.Model(decoder_input, decoder_output, name="decoder")
    decoder.summary()
    autoencoder_input = keras.Input(shape=(28, 28, 1), name="img")
    encoded_img = encoder(autoencoder_input)
    decoded_img = decoder(encoded_img)
    autoencoder = keras.Model(autoencoder_input, decoded_img, name="autoencoder")
    autoencoder.summary()
    images = np.random.random((2, 28, 28, 1)).astype("float32")
    results["nested_autoencoder"] = {"params": autoencoder.count_params(),
                                     "output_shape": tuple(autoencoder(images).shape)}

    def get_model():
        inputs = keras.Input(shape=(128,))
        outputs = layers.Dense(1, activation="sigmoid")(inputs)
        return keras.Model(inputs, outputs)

    model1, model2, model3 = get_model(), get_model(), get_model()
    inputs = keras.Input(shape=(128,))
    y1, y2, y3 = model1(inputs), model2(inputs), model3(inputs)
    outputs = layers.average([y1, y2, y3])
    ensemble_model = keras.Model(inputs=inputs, outputs=outputs)
    v = np.random.random((4, 128)).astype("float32")
    mean = (model1.predict(v, verbose=0) + model2.predict(v, verbose=0)
            + model3.predict(v, verbose=0)) / 3
    results["ensemble"] = {"params": ensemble_model.count_params(),
                           "max_diff": float(np.abs(ensemble_model.predict(v, verbose=0)
                                                    - mean).max())}
    print("ensemble params:", ensemble_model.count_params(),
          " ensemble == mean of the three:", results["ensemble"]["max_diff"] < 1e-6)


def ticket_model(fast, results):
    print("\n== 7.1 Models with multiple inputs and outputs")
    num_tags = 12
    num_words = 10000
    num_departments = 4
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
    model.summary()
    model.compile(optimizer=keras.optimizers.RMSprop(1e-3),
                  loss={"priority": "binary_crossentropy",
                        "department": "categorical_crossentropy"},
                  loss_weights=[1., 0.2])
    n, body_len = (128, 20) if fast else (1280, 100)
    title_data = np.random.randint(num_words, size=(n, 10))
    body_data = np.random.randint(num_words, size=(n, body_len))
    tags_data = np.random.randint(2, size=(n, num_tags)).astype("float32")
    priority_targets = np.random.random(size=(n, 1))
    dept_targets = np.random.randint(2, size=(n, num_departments))
    history = model.fit({"title": title_data, "body": body_data, "tags": tags_data},
                        {"priority": priority_targets, "department": dept_targets},
                        epochs=3 if fast else 2, batch_size=32, verbose=2 if fast else 1)
    results["ticket"] = {"params": model.count_params(), "loss": history.history["loss"],
                         "history_keys": sorted(history.history)}


def toy_resnet(fast, results):
    print("\n== 7.2 A toy ResNet model")
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
    model.summary()
    n_train, epochs = (160, 3) if fast else (50000, 1)
    (x_train, y_train), (x_test, y_test) = load(keras.datasets.cifar10, (32, 32, 3), fast,
                                                n_train, 100)
    x_train = x_train.astype("float32") / 255.
    y_train = keras.utils.to_categorical(y_train, 10)
    model.compile(optimizer=keras.optimizers.RMSprop(1e-3), loss="categorical_crossentropy",
                  metrics=["acc"])
    history = model.fit(x_train, y_train, batch_size=64 if not fast else 16, epochs=epochs,
                        validation_split=0.2, verbose=2 if fast else 1)
    results["toy_resnet"] = {"params": model.count_params(), "loss": history.history["loss"],
                             "history_keys": sorted(history.history)}


def shared_and_extracted(fast, results):
    print("\n== 8. Shared layers")
    shared_embedding = layers.Embedding(1000, 128)
    text_input_a = keras.Input(shape=(None,), dtype="int32")
    text_input_b = keras.Input(shape=(None,), dtype="int32")
    encoded_input_a = shared_embedding(text_input_a)
    encoded_input_b = shared_embedding(text_input_b)
    print("encoded shapes:", encoded_input_a.shape, encoded_input_b.shape)
    results["shared"] = {"shapes": [tuple(encoded_input_a.shape), tuple(encoded_input_b.shape)],
                         "weights": len(shared_embedding.weights)}

    print("\n== 9. Extracting and reusing nodes in the graph of layers")
    from fastnet.applications import VGG19

    if fast:  # the convolutional base at a small input: same layers, far less compute
        vgg19 = VGG19(weights=None, include_top=False, input_shape=(32, 32, 3))
        img = np.random.random((1, 32, 32, 3)).astype("float32")
    else:
        vgg19 = VGG19(weights=None)
        img = np.random.random((1, 224, 224, 3)).astype("float32")
    features_list = [layer.output for layer in vgg19.layers]
    feat_extraction_model = keras.Model(inputs=vgg19.input, outputs=features_list)
    extracted_features = feat_extraction_model(img)
    for layer, feature in list(zip(vgg19.layers, extracted_features))[:4]:
        print(f"{layer.name:14s} {tuple(feature.shape)}")
    print("...", len(extracted_features), "feature maps in all")
    results["vgg19"] = {"params": vgg19.count_params(), "n_features": len(extracted_features),
                        "n_layers": len(vgg19.layers),
                        "last_shape": tuple(extracted_features[-1].shape)}


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


class MLP(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense_1 = layers.Dense(64, activation="relu")
        self.dense_2 = layers.Dense(10)

    def call(self, inputs):
        x = self.dense_1(inputs)
        return self.dense_2(x)


def custom_layers(results):
    print("\n== 10. Extending the API with custom layers")
    inputs = keras.Input((4,))
    outputs = CustomDense(10)(inputs)
    model = keras.Model(inputs, outputs)
    config = model.get_config()
    new_model = keras.Model.from_config(config, custom_objects={"CustomDense": CustomDense})
    v = np.ones((2, 4), np.float32)
    results["custom_dense"] = {"params": model.count_params(),
                               "new_params": new_model.count_params(),
                               "output_shape": tuple(new_model(v).shape)}
    print("CustomDense model params:", model.count_params(), " rebuilt from config:",
          new_model.count_params())

    print("\n== 11. The functional MLP and the subclassed one")
    inputs = keras.Input(shape=(32,))
    x = layers.Dense(64, activation="relu")(inputs)
    outputs = layers.Dense(10)(x)
    mlp = keras.Model(inputs, outputs)
    sub = MLP()
    _ = sub(tf.ops.zeros((1, 32)))  # the subclassed model has no state until it is called
    results["mlp"] = {"functional_params": mlp.count_params(), "subclassed_params":
                      sub.count_params()}
    print("functional MLP params:", mlp.count_params(), " subclassed:", sub.count_params())


def mixing_styles(results):
    print("\n== 12. Mixing and matching API styles")
    units = 32
    timesteps = 10
    input_dim = 5
    inputs = keras.Input((None, units))
    x = layers.GlobalAveragePooling1D()(inputs)
    outputs = layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs, outputs)
    feature_shapes = []

    class CustomRNN(layers.Layer):
        def __init__(self):
            super().__init__()
            self.units = units
            self.projection_1 = layers.Dense(units=units, activation="tanh")
            self.projection_2 = layers.Dense(units=units, activation="tanh")
            self.classifier = model  # the functional model defined above

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
            print(features.shape)
            feature_shapes.append(tuple(features.shape))
            return self.classifier(features)

    rnn_model = CustomRNN()
    out1 = rnn_model(tf.ops.zeros((1, timesteps, input_dim)))

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

    # a static batch size (batch_shape): CustomRNN's state needs it
    inputs = keras.Input(batch_shape=(batch_size, timesteps, input_dim))
    x = layers.Conv1D(32, 3)(inputs)
    outputs = CustomRNN2()(x)
    model2 = keras.Model(inputs, outputs)
    rnn_model = CustomRNN2()
    out2 = rnn_model(tf.ops.zeros((1, 10, 5)))
    results["mixing"] = {"feature_shapes": feature_shapes, "out1": tuple(out1.shape),
                         "model_output": tuple(model2.output.shape), "out2": tuple(out2.shape)}


def main(fast=False, out_dir=None):
    keras.utils.set_random_seed(0)
    results = {}
    own_dir = out_dir is None
    out_dir = out_dir or tempfile.mkdtemp(prefix="fastnet-functional-")
    try:
        mnist_model(out_dir, fast, results)
        encoder_decoder(results)
        ticket_model(fast, results)
        toy_resnet(fast, results)
        shared_and_extracted(fast, results)
        custom_layers(results)
        mixing_styles(results)
    finally:
        if own_dir:
            shutil.rmtree(out_dir, ignore_errors=True)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fast", action="store_true",
                        default=os.environ.get("FASTNET_EXAMPLES_FAST") == "1")
    parser.add_argument("--out", default=None, help="where to write the plots and the .h5 file "
                        "(default: a temporary directory)")
    args = parser.parse_args()
    if args.out:
        os.makedirs(args.out, exist_ok=True)
    main(fast=args.fast, out_dir=args.out)
