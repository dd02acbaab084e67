# Adapted from keras-team/keras-io, examples/vision/autoencoder.py (Copyright the Keras
# authors, Apache License 2.0). Changes: the imports (`keras.models.Model`,
# `keras.layers.Conv2D`, ... from fastnet or Keras 3); MNIST replaced by small synthetic
# arrays of the same shapes/dtypes; display() records the shapes instead of plotting
# (matplotlib is not needed); 2 epochs instead of 50 and 100; RESULTS records what the
# example prints.
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _kio import keras_modules, mnist_load_data, summary_rows  # noqa: E402

keras, layers, ops = keras_modules()
Model = keras.models.Model
Conv2D, MaxPooling2D, Input, UpSampling2D = (
    layers.Conv2D, layers.MaxPooling2D, layers.Input, layers.UpSampling2D)
RESULTS = {"displayed": []}


def preprocess(dataset):
    """
    Normalizes the supplied dataset and reshapes it into the appropriate format.
    """

    dataset = dataset.astype("float32") / 255.0
    dataset = np.reshape(dataset, (len(dataset), 28, 28, 1))
    return dataset


def noise(dataset):
    """
    Adds random noise to each image in the supplied dataset.
    """

    noise_factor = 0.4
    noisy_dataset = dataset + noise_factor * np.random.normal(
        loc=0.0, scale=1.0, size=dataset.shape
    )

    return np.clip(noisy_dataset, 0.0, 1.0)


def display(dataset1, dataset2):
    """
    (The example plots ten random images from each dataset.)
    """

    n = 10

    indices = np.random.randint(len(dataset1), size=n)
    images1 = dataset1[indices, :]
    images2 = dataset2[indices, :]
    RESULTS["displayed"].append([list(images1.shape), list(images2.shape),
                                 [img.reshape(28, 28).shape == (28, 28) for img in images2][0]])


# We only need images from the dataset. We will never use the target values so
# we aren't going to load them.
(train_dataset, _), (test_dataset, _) = mnist_load_data(n_train=256, n_test=64)

# Normalize and reshape the data
train_dataset = preprocess(train_dataset)
test_dataset = preprocess(test_dataset)

# Create a copy of the datasets with added noise
noisy_train_dataset = noise(train_dataset)
noisy_test_dataset = noise(test_dataset)
RESULTS["noisy_dtype"] = str(noisy_train_dataset.dtype)

# Display the train dataset and the version with added noise
display(train_dataset, noisy_train_dataset)

input = Input(shape=(28, 28, 1))

# Encoder
x = Conv2D(32, (3, 3), activation="relu", padding="same")(input)
x = MaxPooling2D((2, 2), padding="same")(x)
x = Conv2D(32, (3, 3), activation="relu", padding="same")(x)
x = MaxPooling2D((2, 2), padding="same")(x)

# Decoder
x = Conv2D(32, (3, 3), activation="relu", padding="same")(x)
x = UpSampling2D((2, 2))(x)
x = Conv2D(32, (3, 3), activation="relu", padding="same")(x)
x = UpSampling2D((2, 2))(x)
x = Conv2D(1, (3, 3), activation="sigmoid", padding="same")(x)

# Autoencoder
autoencoder = Model(input, x)
autoencoder.compile(optimizer="adam", loss="binary_crossentropy")
autoencoder.summary()
RESULTS["summary"] = summary_rows(autoencoder)

h = autoencoder.fit(
    x=train_dataset,
    y=train_dataset,
    epochs=2,
    batch_size=128,
    shuffle=True,
    validation_data=(test_dataset, test_dataset),
)
RESULTS["history_keys"] = sorted(h.history)
RESULTS["loss_falls"] = h.history["loss"][-1] < h.history["loss"][0]

predictions = autoencoder.predict(test_dataset)
display(test_dataset, predictions)
RESULTS["predictions"] = (list(predictions.shape), str(predictions.dtype),
                          bool(np.all((predictions >= 0) & (predictions <= 1))))

# float64 noisy inputs (np.clip of float32 + float64 noise), as in the example
h = autoencoder.fit(
    x=noisy_train_dataset,
    y=train_dataset,
    epochs=2,
    batch_size=128,
    shuffle=True,
    validation_data=(noisy_test_dataset, test_dataset),
)
RESULTS["denoise_history_keys"] = sorted(h.history)

predictions = autoencoder.predict(noisy_test_dataset)
display(noisy_test_dataset, predictions)
RESULTS["denoise_predictions"] = (list(predictions.shape), str(predictions.dtype))

print("RESULTS", RESULTS)
