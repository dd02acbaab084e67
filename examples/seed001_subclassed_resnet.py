"""Seed 001 ("Keras Model--模型层"): the subclassed ResNet — `ResnetBlock` and
`ResNet` written by subclassing `Model`, a `Sequential` of blocks built
dynamically, `model.build(input_shape=(None, 28, 28, 1))` and `model.summary()`;
then a short training run on Fashion-MNIST (28x28x1, like the tutorial's input).

    python examples/seed001_subclassed_resnet.py [--fast]

Only the imports changed: `tf.keras.X` → `fastnet.X`, `tf.nn.relu` →
`fastnet.ops.relu`, `tf.random_normal_initializer` →
`fastnet.initializers.random_normal_initializer`.
`--fast` (or FASTNET_EXAMPLES_FAST=1) trains on a few hundred images; when
Fashion-MNIST is not installed it uses synthetic images instead.
"""

from __future__ import annotations

import os
import sys

import numpy as np

import fastnet as keras
import fastnet as tf  # tf.nn.relu → fastnet.ops.relu


def conv3x3(channels, stride=1, kernel=(3, 3)):
    return keras.layers.Conv2D(channels, kernel, strides=stride, padding="same",
                               use_bias=False,
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
                    residual_path = self.in_channels != self.out_channels
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


def synthetic_images(n, seed=0):
    """Stand-in for Fashion-MNIST: ten fixed random 28x28 patterns plus noise."""
    prototypes = np.random.default_rng(1234).random((10, 28, 28))  # same for train and test
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    images = np.clip(prototypes[labels] + 0.3 * rng.normal(size=(n, 28, 28)), 0, 1)
    return (images * 255).astype("uint8"), labels.astype("uint8")


def load_images(n_train, n_test, fast):
    try:
        (x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
    except FileNotFoundError as e:  # fastnet does not download data
        print(f"{e}\n-> training on synthetic images instead")
        (x_train, y_train), (x_test, y_test) = synthetic_images(n_train), \
            synthetic_images(n_test, seed=1)
    prep = lambda x: x[..., None].astype("float32") / 255  # noqa: E731
    return (prep(x_train[:n_train]), y_train[:n_train]), (prep(x_test[:n_test]), y_test[:n_test])


def main(fast=False):
    keras.utils.set_random_seed(0)
    model = ResNet([2, 2, 2], 10)
    model.build(input_shape=(None, 28, 28, 1))
    model.summary()

    n_train, n_test, epochs = (256, 64, 3) if fast else (10000, 2000, 3)
    (x_train, y_train), (x_test, y_test) = load_images(n_train, n_test, fast)
    model.compile(optimizer="adam",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    history = model.fit(x_train, y_train, batch_size=32, epochs=epochs,
                        validation_data=(x_test, y_test), verbose=2 if fast else 1)
    test_loss, test_acc = model.evaluate(x_test, y_test, verbose=0)
    print("Test loss:", round(float(test_loss), 4), "Test accuracy:", round(float(test_acc), 4))
    return {"params": model.count_params(),
            "trainable_params": sum(int(np.prod(w.shape)) for w in model.trainable_weights),
            "output_shape": tuple(model.predict(x_test[:3], verbose=0).shape),
            "loss": history.history["loss"], "test_accuracy": float(test_acc)}


if __name__ == "__main__":
    main(fast="--fast" in sys.argv[1:] or os.environ.get("FASTNET_EXAMPLES_FAST") == "1")
