"""A Keras 3 custom train_step (the "customizing fit" guide) calling compute_loss on its very
first step, with the optimizer and metrics handled by the user."""

import numpy as np

import fastnet as keras


class CustomModel(keras.Model):
    def train_step(self, data):
        x, y = data
        with keras.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x=x, y=y, y_pred=y_pred)
        grads = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply(grads, self.trainable_weights)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


def test_custom_train_step_calls_compute_loss_on_the_first_step():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 8)).astype("float32")
    y = (x @ rng.standard_normal((8, 1))).astype("float32")
    inputs = keras.Input((8,))
    model = CustomModel(inputs, keras.layers.Dense(1)(inputs))
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse", metrics=["mae"])
    before = [w.copy() for w in model.get_weights()]
    # One batch: the first step must already apply its update.
    model.fit(x[:32], y[:32], batch_size=32, epochs=1, verbose=0)
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    history = model.fit(x, y, batch_size=32, epochs=5, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.5 * losses[0]
    assert "mae" in history.history


class OwnMetricsModel(keras.Model):
    """The guide's lower-level pattern: compile() without a loss, the model keeps its own
    metrics and lists them in `metrics` so fit resets them every epoch."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.mae_metric = keras.metrics.MeanAbsoluteError(name="mae")

    def train_step(self, data):
        x, y = data
        with keras.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = keras.ops.mean(keras.ops.square(y_pred - y))
        grads = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply(grads, self.trainable_weights)
        self.loss_tracker.update_state(loss)
        self.mae_metric.update_state(y, y_pred)
        return {"loss": self.loss_tracker.result(), "mae": self.mae_metric.result()}

    def test_step(self, data):
        x, y = data
        y_pred = self(x, training=False)
        self.loss_tracker.update_state(keras.ops.mean(keras.ops.square(y_pred - y)))
        self.mae_metric.update_state(y, y_pred)
        return {"loss": self.loss_tracker.result(), "mae": self.mae_metric.result()}

    @property
    def metrics(self):
        return [self.loss_tracker, self.mae_metric]


def test_own_metrics_are_reset_each_epoch_and_named():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, 4)).astype("float32")
    y = rng.standard_normal((64, 1)).astype("float32")
    inputs = keras.Input((4,))
    model = OwnMetricsModel(inputs, keras.layers.Dense(1)(inputs))
    assert isinstance(model, OwnMetricsModel) and type(model).__name__ == "OwnMetricsModel"
    model.compile(optimizer=keras.optimizers.SGD(0.0))  # lr 0: every epoch sees equal losses
    history = model.fit(x, y, batch_size=16, epochs=3, verbose=0)
    first, *rest = history.history["loss"]
    assert all(abs(v - first) < 1e-6 for v in rest)  # reset per epoch, not accumulated
    # By hand, the epoch's mean of the 4 batch losses.
    pred = model.predict(x, verbose=0)
    batch = [float(np.mean((pred[i:i + 16] - y[i:i + 16]) ** 2)) for i in range(0, 64, 16)]
    assert abs(first - np.mean(batch)) < 1e-5
    assert model.metrics_names == ["loss", "mae"]
    result = model.evaluate(x, y, verbose=0, return_dict=True)
    assert set(result) == {"loss", "mae"}
    assert abs(result["mae"] - float(np.mean(np.abs(pred - y)))) < 1e-5


def test_compiled_model_metrics_as_keras3():
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    x, y = np.ones((8, 3), "float32"), np.zeros((8, 1), "float32")
    model.train_on_batch(x, y)
    assert model.metrics_names == ["loss", "compile_metrics"]
    assert model.metrics[1].result().keys() == {"mae"}
