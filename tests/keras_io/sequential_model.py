# Adapted from keras-team/keras-io, guides/sequential_model.py (Keras 3 version;
# Copyright the Keras authors, Apache License 2.0). Changes: the imports; RESULTS records
# what the guide prints (summary tables as rows of cells).
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _kio import keras_modules, summary_rows  # noqa: E402

keras, layers, ops = keras_modules()
RESULTS = {}

# Define Sequential model with 3 layers
model = keras.Sequential(
    [
        layers.Dense(2, activation="relu", name="layer1"),
        layers.Dense(3, activation="relu", name="layer2"),
        layers.Dense(4, name="layer3"),
    ]
)
# Call model on a test input
x = ops.ones((3, 3))
y = model(x)
RESULTS["y_shape"] = list(y.shape)

# Create 3 layers
layer1 = layers.Dense(2, activation="relu", name="layer1")
layer2 = layers.Dense(3, activation="relu", name="layer2")
layer3 = layers.Dense(4, name="layer3")

# Call layers on a test input
x = ops.ones((3, 3))
y = layer3(layer2(layer1(x)))

model = keras.Sequential(
    [
        layers.Dense(2, activation="relu"),
        layers.Dense(3, activation="relu"),
        layers.Dense(4),
    ]
)
RESULTS["layers_len"] = len(model.layers)

model = keras.Sequential()
model.add(layers.Dense(2, activation="relu"))
model.add(layers.Dense(3, activation="relu"))
model.add(layers.Dense(4))

model.pop()
print(len(model.layers))  # 2
RESULTS["after_pop"] = len(model.layers)

model = keras.Sequential(name="my_sequential")
model.add(layers.Dense(2, activation="relu", name="layer1"))
model.add(layers.Dense(3, activation="relu", name="layer2"))
model.add(layers.Dense(4, name="layer3"))

layer = layers.Dense(3)
RESULTS["unbuilt_weights"] = len(layer.weights)  # Empty

# Call layer on a test input
x = ops.ones((1, 4))
y = layer(x)
RESULTS["built_weight_shapes"] = [list(w.shape) for w in layer.weights]

model = keras.Sequential(
    [
        layers.Dense(2, activation="relu"),
        layers.Dense(3, activation="relu"),
        layers.Dense(4),
    ]
)  # No weights at this stage!

# At this point, you can't do this:
# model.weights
try:
    model.weights
    RESULTS["unbuilt_model_weights"] = "no error"
except Exception as e:  # Keras 3 returns [] here (the guide's comment predates it)
    RESULTS["unbuilt_model_weights"] = type(e).__name__
try:
    model.summary()
    RESULTS["unbuilt_summary"] = "no error"
except Exception as e:
    RESULTS["unbuilt_summary"] = type(e).__name__

# Call the model on a test input
x = ops.ones((1, 4))
y = model(x)
print("Number of weights after calling the model:", len(model.weights))  # 6
RESULTS["weights_after_call"] = len(model.weights)

model.summary()
RESULTS["summary_called"] = summary_rows(model)

model = keras.Sequential()
model.add(keras.Input(shape=(4,)))
model.add(layers.Dense(2, activation="relu"))

model.summary()
RESULTS["summary_input"] = summary_rows(model)
RESULTS["layers_with_input"] = [type(lay).__name__ for lay in model.layers]

model = keras.Sequential()
model.add(keras.Input(shape=(250, 250, 3)))  # 250x250 RGB images
model.add(layers.Conv2D(32, 5, strides=2, activation="relu"))
model.add(layers.Conv2D(32, 3, activation="relu"))
model.add(layers.MaxPooling2D(3))

# Can you guess what the current output shape is at this point? Probably not.
# Let's just print it:
model.summary()
RESULTS["summary_conv_1"] = summary_rows(model)

# The answer was: (40, 40, 32), so we can keep downsampling...

model.add(layers.Conv2D(32, 3, activation="relu"))
model.add(layers.Conv2D(32, 3, activation="relu"))
model.add(layers.MaxPooling2D(3))
model.add(layers.Conv2D(32, 3, activation="relu"))
model.add(layers.Conv2D(32, 3, activation="relu"))
model.add(layers.MaxPooling2D(2))

# And now?
model.summary()
RESULTS["summary_conv_2"] = summary_rows(model)

# Now that we have 4x4 feature maps, time to apply global max pooling.
model.add(layers.GlobalMaxPooling2D())

# Finally, we add a classification layer.
model.add(layers.Dense(10))
RESULTS["final_output_shape"] = list(model.output_shape)
RESULTS["final_params"] = model.count_params()

initial_model = keras.Sequential(
    [
        keras.Input(shape=(250, 250, 3)),
        layers.Conv2D(32, 5, strides=2, activation="relu"),
        layers.Conv2D(32, 3, activation="relu"),
        layers.Conv2D(32, 3, activation="relu"),
    ]
)
feature_extractor = keras.Model(
    inputs=initial_model.inputs,
    outputs=[layer.output for layer in initial_model.layers],
)

# Call feature extractor on test input.
x = ops.ones((1, 250, 250, 3))
features = feature_extractor(x)
RESULTS["features"] = [list(f.shape) for f in features]

initial_model = keras.Sequential(
    [
        keras.Input(shape=(250, 250, 3)),
        layers.Conv2D(32, 5, strides=2, activation="relu"),
        layers.Conv2D(32, 3, activation="relu", name="my_intermediate_layer"),
        layers.Conv2D(32, 3, activation="relu"),
    ]
)
feature_extractor = keras.Model(
    inputs=initial_model.inputs,
    outputs=initial_model.get_layer(name="my_intermediate_layer").output,
)
# Call feature extractor on test input.
x = ops.ones((1, 250, 250, 3))
features = feature_extractor(x)
RESULTS["one_feature"] = list(features.shape)

# The transfer-learning blueprint (in the guide as text), with weights=None
model = keras.Sequential([
    keras.Input(shape=(784,)),
    layers.Dense(32, activation='relu'),
    layers.Dense(32, activation='relu'),
    layers.Dense(32, activation='relu'),
    layers.Dense(10),
])
for layer in model.layers[:-1]:
    layer.trainable = False
RESULTS["frozen_trainable_weights"] = len(model.trainable_weights)
RESULTS["frozen_non_trainable_weights"] = len(model.non_trainable_weights)

print("RESULTS", RESULTS)
