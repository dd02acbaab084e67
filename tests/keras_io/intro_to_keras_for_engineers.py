# Adapted from keras-team/keras-io, guides/intro_to_keras_for_engineers.py (Copyright the
# Keras authors, Apache License 2.0). Changes: the imports (no KERAS_BACKEND line: fastnet
# has one backend); MNIST replaced by small synthetic arrays of the same shapes/dtypes;
# 3 epochs instead of 20; the tf.data section dropped (TensorFlow is not installed); the
# torch DataLoader section runs when torch is installed; files go to a temporary folder;
# RESULTS records what the guide prints.
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _kio import keras_modules, mnist_load_data, summary_rows  # noqa: E402

keras, layers, ops = keras_modules()
RESULTS = {}
os.chdir(tempfile.mkdtemp(prefix="kio_intro_"))

# Load the data and split it between train and test sets
(x_train, y_train), (x_test, y_test) = mnist_load_data(n_train=256, n_test=64)

# Scale images to the [0, 1] range
x_train = x_train.astype("float32") / 255
x_test = x_test.astype("float32") / 255
# Make sure images have shape (28, 28, 1)
x_train = np.expand_dims(x_train, -1)
x_test = np.expand_dims(x_test, -1)
print("x_train shape:", x_train.shape)
print("y_train shape:", y_train.shape)
print(x_train.shape[0], "train samples")
print(x_test.shape[0], "test samples")

# Model parameters
num_classes = 10
input_shape = (28, 28, 1)

model = keras.Sequential(
    [
        keras.layers.Input(shape=input_shape),
        keras.layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        keras.layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        keras.layers.MaxPooling2D(pool_size=(2, 2)),
        keras.layers.Conv2D(128, kernel_size=(3, 3), activation="relu"),
        keras.layers.Conv2D(128, kernel_size=(3, 3), activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(num_classes, activation="softmax"),
    ]
)

model.summary()
RESULTS["summary"] = summary_rows(model)

model.compile(
    loss=keras.losses.SparseCategoricalCrossentropy(),
    optimizer=keras.optimizers.Adam(learning_rate=1e-3),
    metrics=[
        keras.metrics.SparseCategoricalAccuracy(name="acc"),
    ],
)

batch_size = 128
epochs = 3

callbacks = [
    keras.callbacks.ModelCheckpoint(filepath="model_at_epoch_{epoch}.keras"),
    keras.callbacks.EarlyStopping(monitor="val_loss", patience=2),
]

h = model.fit(
    x_train,
    y_train,
    batch_size=batch_size,
    epochs=epochs,
    validation_split=0.15,
    callbacks=callbacks,
)
RESULTS["history_keys"] = sorted(h.history)
RESULTS["checkpoints"] = sorted(n for n in os.listdir(".") if n.startswith("model_at_epoch_"))
score = model.evaluate(x_test, y_test, verbose=0)
RESULTS["score_len"] = len(score)

model.save("final_model.keras")

model = keras.saving.load_model("final_model.keras")
RESULTS["reloaded_summary"] = summary_rows(model)

predictions = model.predict(x_test)
RESULTS["predictions"] = list(predictions.shape)
RESULTS["predictions_sum_to_1"] = bool(np.allclose(predictions.sum(-1), 1, atol=1e-5))


class MyDense(keras.layers.Layer):
    def __init__(self, units, activation=None, name=None):
        super().__init__(name=name)
        self.units = units
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        input_dim = input_shape[-1]
        self.w = self.add_weight(
            shape=(input_dim, self.units),
            initializer=keras.initializers.GlorotNormal(),
            name="kernel",
            trainable=True,
        )

        self.b = self.add_weight(
            shape=(self.units,),
            initializer=keras.initializers.Zeros(),
            name="bias",
            trainable=True,
        )

    def call(self, inputs):
        # Use Keras ops to create backend-agnostic layers/metrics/etc.
        x = keras.ops.matmul(inputs, self.w) + self.b
        return self.activation(x)


class MyDropout(keras.layers.Layer):
    def __init__(self, rate, name=None):
        super().__init__(name=name)
        self.rate = rate
        # Use seed_generator for managing RNG state.
        # It is a state element and its seed variable is
        # tracked as part of `layer.variables`.
        self.seed_generator = keras.random.SeedGenerator(1337)

    def call(self, inputs):
        # Use `keras.random` for random ops.
        return keras.random.dropout(inputs, self.rate, seed=self.seed_generator)


class MyModel(keras.Model):
    def __init__(self, num_classes):
        super().__init__()
        self.conv_base = keras.Sequential(
            [
                keras.layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
                keras.layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
                keras.layers.MaxPooling2D(pool_size=(2, 2)),
                keras.layers.Conv2D(128, kernel_size=(3, 3), activation="relu"),
                keras.layers.Conv2D(128, kernel_size=(3, 3), activation="relu"),
                keras.layers.GlobalAveragePooling2D(),
            ]
        )
        self.dp = MyDropout(0.5)
        self.dense = MyDense(num_classes, activation="softmax")

    def call(self, x):
        x = self.conv_base(x)
        x = self.dp(x)
        return self.dense(x)


RESULTS["my_dropout_variables"] = len(MyDropout(0.5).variables)

model = MyModel(num_classes=10)
model.compile(
    loss=keras.losses.SparseCategoricalCrossentropy(),
    optimizer=keras.optimizers.Adam(learning_rate=1e-3),
    metrics=[
        keras.metrics.SparseCategoricalAccuracy(name="acc"),
    ],
)

h = model.fit(
    x_train,
    y_train,
    batch_size=batch_size,
    epochs=1,  # For speed
    validation_split=0.15,
)
RESULTS["my_model_history_keys"] = sorted(h.history)
RESULTS["my_model_weights"] = (len(model.weights), len(model.trainable_weights),
                               model.count_params())
RESULTS["my_model_summary"] = summary_rows(model)

try:
    import torch
except ImportError:
    torch = None
if torch is not None:
    # Create a TensorDataset
    train_torch_dataset = torch.utils.data.TensorDataset(
        torch.from_numpy(x_train), torch.from_numpy(y_train)
    )
    val_torch_dataset = torch.utils.data.TensorDataset(
        torch.from_numpy(x_test), torch.from_numpy(y_test)
    )

    # Create a DataLoader
    train_dataloader = torch.utils.data.DataLoader(
        train_torch_dataset, batch_size=batch_size, shuffle=True
    )
    val_dataloader = torch.utils.data.DataLoader(
        val_torch_dataset, batch_size=batch_size, shuffle=False
    )

    model = MyModel(num_classes=10)
    model.compile(
        loss=keras.losses.SparseCategoricalCrossentropy(),
        optimizer=keras.optimizers.Adam(learning_rate=1e-3),
        metrics=[
            keras.metrics.SparseCategoricalAccuracy(name="acc"),
        ],
    )
    h = model.fit(train_dataloader, epochs=1, validation_data=val_dataloader)
    RESULTS["dataloader_history_keys"] = sorted(h.history)

print("RESULTS", RESULTS)
