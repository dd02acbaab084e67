# Adapted from keras-team/keras-io, examples/vision/knowledge_distillation.py (the Keras 3
# version, converted by Md Awsafur Rahman; Copyright the Keras authors, Apache License
# 2.0). Changes: the imports (no KERAS_BACKEND / tensorflow lines); MNIST replaced by
# small synthetic arrays of the same shapes/dtypes; 2 epochs instead of 5 and 3; RESULTS
# records what the example prints.
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _kio import keras_modules, mnist_load_data, summary_rows  # noqa: E402

keras, layers, ops = keras_modules()
RESULTS = {}


class Distiller(keras.Model):
    def __init__(self, student, teacher):
        super().__init__()
        self.teacher = teacher
        self.student = student

    def compile(
        self,
        optimizer,
        metrics,
        student_loss_fn,
        distillation_loss_fn,
        alpha=0.1,
        temperature=3,
    ):
        super().compile(optimizer=optimizer, metrics=metrics)
        self.student_loss_fn = student_loss_fn
        self.distillation_loss_fn = distillation_loss_fn
        self.alpha = alpha
        self.temperature = temperature

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, allow_empty=False
    ):
        teacher_pred = self.teacher(x, training=False)
        student_loss = self.student_loss_fn(y, y_pred)

        distillation_loss = self.distillation_loss_fn(
            ops.softmax(teacher_pred / self.temperature, axis=1),
            ops.softmax(y_pred / self.temperature, axis=1),
        ) * (self.temperature**2)

        loss = self.alpha * student_loss + (1 - self.alpha) * distillation_loss
        return loss

    def call(self, x):
        return self.student(x)


# Create the teacher
teacher = keras.Sequential(
    [
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(256, (3, 3), strides=(2, 2), padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.MaxPooling2D(pool_size=(2, 2), strides=(1, 1), padding="same"),
        layers.Conv2D(512, (3, 3), strides=(2, 2), padding="same"),
        layers.Flatten(),
        layers.Dense(10),
    ],
    name="teacher",
)

# Create the student
student = keras.Sequential(
    [
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(16, (3, 3), strides=(2, 2), padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.MaxPooling2D(pool_size=(2, 2), strides=(1, 1), padding="same"),
        layers.Conv2D(32, (3, 3), strides=(2, 2), padding="same"),
        layers.Flatten(),
        layers.Dense(10),
    ],
    name="student",
)
RESULTS["teacher_summary"] = summary_rows(teacher)
RESULTS["student_summary"] = summary_rows(student)

# Clone student for later comparison
student_scratch = keras.models.clone_model(student)
RESULTS["clone"] = (student_scratch.name, student_scratch.count_params(),
                    [lay.name for lay in student_scratch.layers] == [lay.name for lay in student.layers],
                    any(not np.array_equal(ops.convert_to_numpy(a), ops.convert_to_numpy(b))
                        for a, b in zip(student.weights, student_scratch.weights)))

# Prepare the train and test dataset.
batch_size = 64
(x_train, y_train), (x_test, y_test) = mnist_load_data(n_train=128, n_test=64)

# Normalize data
x_train = x_train.astype("float32") / 255.0
x_train = np.reshape(x_train, (-1, 28, 28, 1))

x_test = x_test.astype("float32") / 255.0
x_test = np.reshape(x_test, (-1, 28, 28, 1))

# Train teacher as usual
teacher.compile(
    optimizer=keras.optimizers.Adam(),
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=[keras.metrics.SparseCategoricalAccuracy()],
)

# Train and evaluate teacher on data.
h = teacher.fit(x_train, y_train, epochs=2)
RESULTS["teacher_history_keys"] = sorted(h.history)
r = teacher.evaluate(x_test, y_test)
RESULTS["teacher_evaluate_len"] = len(r)

# Initialize and compile distiller
distiller = Distiller(student=student, teacher=teacher)
distiller.compile(
    optimizer=keras.optimizers.Adam(),
    metrics=[keras.metrics.SparseCategoricalAccuracy()],
    student_loss_fn=keras.losses.SparseCategoricalCrossentropy(
        from_logits=True
    ),
    distillation_loss_fn=keras.losses.KLDivergence(),
    alpha=0.1,
    temperature=10,
)

teacher_before = [ops.convert_to_numpy(w).copy() for w in teacher.weights]
# Distill teacher to student
h = distiller.fit(x_train, y_train, epochs=2)
RESULTS["distiller_history_keys"] = sorted(h.history)
RESULTS["distiller_loss_falls"] = h.history["loss"][-1] < h.history["loss"][0]
RESULTS["teacher_frozen_by_distillation"] = all(
    np.array_equal(a, ops.convert_to_numpy(w)) for a, w in zip(teacher_before, teacher.weights))

# Evaluate student on test dataset
r = distiller.evaluate(x_test, y_test)
RESULTS["distiller_evaluate_len"] = len(r)
RESULTS["distiller_metrics"] = [m.name for m in distiller.metrics]

# Train student as doen usually
student_scratch.compile(
    optimizer=keras.optimizers.Adam(),
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=[keras.metrics.SparseCategoricalAccuracy()],
)

# Train and evaluate student trained from scratch.
h = student_scratch.fit(x_train, y_train, epochs=2)
RESULTS["scratch_history_keys"] = sorted(h.history)
student_scratch.evaluate(x_test, y_test)

print("RESULTS", RESULTS)
