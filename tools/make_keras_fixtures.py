"""Write the Keras interop fixtures under tests/fixtures/keras/ with real Keras.

Run once, with the Keras that should write the files (the files are committed, so CI
tests interop without Keras installed):

    KERAS_BACKEND=torch python tools/make_keras_fixtures.py            # Keras 3 -> k3_*
    /tmp/tfvenv/bin/python tools/make_keras_fixtures.py --tf-keras     # tf.keras 2 -> k2_*

(the tf.keras 2 run needs a separate venv with ``tensorflow`` and ``tf_keras``; never
install TensorFlow into the shared environment).

For every model family it writes ``<prefix>_<name>.keras``, ``.h5`` (legacy HDF5) and
``.weights.h5`` and ``<prefix>_<name>.npz`` holding the input(s) ``x_<i>``, Keras's
prediction(s) ``out_<i>``, and for compiled models (Adam, a few train steps before the
save) the targets ``y_<i>`` and the weights after one more ``train_on_batch``
(``next_<j>``, in ``model.get_weights()`` order).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, os.pardir, "tests", "fixtures", "keras")


def _import_keras(tf_keras):
    if tf_keras:
        os.environ["TF_USE_LEGACY_KERAS"] = "1"
        import tf_keras as keras  # the Keras 2 that tf.keras is with TF_USE_LEGACY_KERAS

        return keras
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    return keras


def families(keras, k2):
    """name -> (build() -> model, inputs(rng) -> list of arrays, targets or None)."""
    L = keras.layers
    reg = keras.saving.register_keras_serializable if hasattr(keras, "saving") else \
        keras.utils.register_keras_serializable

    @reg(package="fixtures")
    class Scale(L.Layer):
        """A registered custom layer with one weight and a config argument."""

        def __init__(self, offset=0.5, **kwargs):
            super().__init__(**kwargs)
            self.offset = offset

        def build(self, input_shape):
            self.scale = self.add_weight(name="scale", shape=(input_shape[-1],),
                                         initializer="ones")

        def call(self, x):
            return x * self.scale + self.offset

        def get_config(self):
            return {**super().get_config(), "offset": self.offset}

    def f(*shape):
        return lambda rng: rng.standard_normal(shape).astype("float32")

    def ints(high, *shape):
        return lambda rng: rng.integers(0, high, shape).astype("int32")

    def mlp():
        m = keras.Sequential([L.Input((6,)), L.Dense(8, activation="relu"),
                              L.Dense(8, activation="relu"), L.Dense(3, activation="softmax")],
                             name="mlp")
        m.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
        return m

    def ticket():
        title = keras.Input((5,), name="title", dtype="int32")
        body = keras.Input((7,), name="body", dtype="int32")
        tags = keras.Input((4,), name="tags")
        t = L.LSTM(4)(L.Embedding(20, 3)(title))
        b = L.LSTM(3)(L.Embedding(20, 3)(body))
        x = L.concatenate([t, b, tags])
        priority = L.Dense(1, name="priority")(x)
        department = L.Dense(3, name="department")(x)
        m = keras.Model([title, body, tags], [priority, department], name="ticket")
        m.compile(optimizer=keras.optimizers.Adam(1e-2),
                  loss=[keras.losses.BinaryCrossentropy(from_logits=True),
                        keras.losses.CategoricalCrossentropy(from_logits=True)],
                  loss_weights=[1.0, 0.2])
        return m

    def resnet():
        inputs = keras.Input((8, 8, 3), name="img")
        x = L.Conv2D(4, 3, activation="relu")(inputs)
        block_1 = L.MaxPooling2D(2)(x)
        x = L.Conv2D(4, 3, activation="relu", padding="same")(block_1)
        x = L.Conv2D(4, 3, activation="relu", padding="same")(x)
        block_2 = L.add([x, block_1])
        x = L.Conv2D(4, 3, activation="relu")(block_2)
        x = L.GlobalAveragePooling2D()(x)
        outputs = L.Dense(3)(x)
        m = keras.Model(inputs, outputs, name="toy_resnet")
        m.compile(optimizer=keras.optimizers.Adam(1e-2),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        return m

    def autoencoder():
        inp = keras.Input((8, 8, 1))
        x = L.Conv2D(4, 3, activation="relu", padding="same")(inp)
        x = L.MaxPooling2D(2)(x)
        x = L.Conv2DTranspose(4, 3, strides=2, activation="relu", padding="same")(x)
        out = L.Conv2D(1, 3, padding="same")(x)
        m = keras.Model(inp, out, name="autoencoder")
        m.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
        return m

    def conv():
        inp = keras.Input((9, 3))
        a = L.Conv1D(4, 3, padding="same")(inp)
        a = L.Conv1DTranspose(3, 3, strides=2)(a)
        a = L.MaxPooling1D(2)(a)
        a = L.AveragePooling1D(2)(a)
        a = L.GlobalMaxPooling1D()(a)
        m = keras.Model(inp, a, name="conv1d")
        m.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
        return m

    def conv2d():
        inp = keras.Input((8, 8, 2))
        x = L.DepthwiseConv2D(3, depth_multiplier=2, padding="same")(inp)
        x = L.SeparableConv2D(3, 3, activation="relu")(x)
        x = L.AveragePooling2D(2)(x)
        x = L.ZeroPadding2D(1)(x)
        x = L.UpSampling2D(2)(x)
        x = L.Cropping2D(1)(x)
        x = L.Flatten()(x)
        m = keras.Model(inp, L.Dense(2)(x), name="conv2d")
        m.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
        return m

    def conv3d():
        inp = keras.Input((4, 4, 4, 2))
        x = L.Conv3D(3, 2, padding="same", activation="relu")(inp)
        x = L.Conv3DTranspose(2, 2, strides=2)(x)
        x = L.MaxPooling3D(2)(x)
        x = L.GlobalAveragePooling3D()(x)
        m = keras.Model(inp, x, name="conv3d")
        m.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
        return m

    def norm():
        # no bias before BatchNormalization: its gradient is zero up to rounding, and
        # Adam turns rounding noise into steps of lr size that no two libraries share
        m = keras.Sequential([L.Input((5,)), L.Dense(6, use_bias=False), L.BatchNormalization(),
                              L.LayerNormalization(), L.Activation("tanh"), L.Dense(2)],
                             name="norm")
        m.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
        return m

    def rnn():
        inp = keras.Input((5,), dtype="int32")
        x = L.Embedding(12, 4)(inp)
        x = L.SimpleRNN(4, return_sequences=True)(x)
        x = L.GRU(3, return_sequences=True)(x)
        x = L.Bidirectional(L.LSTM(2, return_sequences=True))(x)
        x = L.TimeDistributed(L.Dense(2))(x)
        x = L.LSTM(3)(x)
        m = keras.Model(inp, x, name="rnn")
        m.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
        return m

    def reshape():
        inp = keras.Input((4, 3))
        x = L.Flatten()(inp)
        x = L.Dropout(0.5)(x)
        x = L.Reshape((6, 2))(x)
        y = L.Permute((2, 1))(x)
        y = L.Reshape((12,))(y)
        z = L.Concatenate()([y, L.Flatten()(inp)])
        z = L.RepeatVector(2)(z)
        m = keras.Model(inp, z, name="reshape")  # not compiled: Dropout is random in training
        return m

    def shared_nested():
        inner = keras.Sequential([L.Input((4,)), L.Dense(5, activation="relu"), L.Dense(3)],
                                 name="inner")
        a = keras.Input((4,), name="a")
        b = keras.Input((4,), name="b")
        shared = L.Dense(4, activation="tanh", name="shared")
        x = L.subtract([inner(shared(a)), inner(shared(b))])
        m = keras.Model([a, b], L.Dense(1)(x), name="shared_nested")
        m.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
        return m

    def custom():
        inp = keras.Input((3,))
        x = Scale(offset=0.25)(L.Dense(4)(inp))
        m = keras.Model(inp, L.Dense(2)(x), name="custom")
        m.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
        return m

    def lambda_model():
        # a Python lambda: its bytecode is stored in the file (loads with safe_mode=False)
        inp = keras.Input((4,))
        x = L.Lambda(lambda t: t * 2.0 + 1.0)(L.Dense(3)(inp))
        return keras.Model(inp, x, name="lambda_model")

    out = {
        "lambda": (lambda_model, [f(2, 4)], None),
        "mlp": (mlp, [f(4, 6)], [ints(3, 4)]),
        "ticket": (ticket, [ints(20, 4, 5), ints(20, 4, 7), f(4, 4)],
                   [lambda r: (r.random((4, 1)) > 0.5).astype("float32"),
                    lambda r: np.eye(3, dtype="float32")[r.integers(0, 3, 4)]]),
        "resnet": (resnet, [f(4, 8, 8, 3)], [ints(3, 4)]),
        "autoencoder": (autoencoder, [f(2, 8, 8, 1)], [f(2, 8, 8, 1)]),
        "conv1d": (conv, [f(3, 9, 3)], [f(3, 3)]),
        "conv2d": (conv2d, [f(2, 8, 8, 2)], [f(2, 2)]),
        "conv3d": (conv3d, [f(2, 4, 4, 4, 2)], [f(2, 2)]),
        "norm": (norm, [f(6, 5)], [f(6, 2)]),
        "rnn": (rnn, [ints(12, 3, 5)], [f(3, 3)]),
        "reshape": (reshape, [f(2, 4, 3)], None),
        "shared_nested": (shared_nested, [f(4, 4), f(4, 4)], [f(4, 1)]),
        "custom": (custom, [f(3, 3)], [f(3, 2)]),
    }
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tf-keras", action="store_true", help="write k2_* files with tf.keras 2")
    p.add_argument("--out", default=OUT)
    p.add_argument("--only", nargs="*", help="family names to write")
    args = p.parse_args()
    keras = _import_keras(args.tf_keras)
    prefix = "k2" if args.tf_keras else "k3"
    os.makedirs(args.out, exist_ok=True)
    k2 = args.tf_keras
    for name, (build, xs, ys) in families(keras, k2).items():
        if args.only and name not in args.only:
            continue
        rng = np.random.default_rng(len(name))
        keras.utils.set_random_seed(len(name))
        model = build()
        x = [g(rng) for g in xs]
        xin = x[0] if len(x) == 1 else x
        arrays = {f"x_{i}": v for i, v in enumerate(x)}
        if ys is not None:
            y = [g(rng) for g in ys]
            yin = y[0] if len(y) == 1 else y
            for _ in range(3):
                model.train_on_batch(xin, yin)
            arrays.update({f"y_{i}": v for i, v in enumerate(y)})
        base = os.path.join(args.out, f"{prefix}_{name}")
        model.save(base + ".keras")
        model.save(base + ".h5")
        model.save_weights(base + ".weights.h5")
        if k2:  # tf.keras 2's own weight-only layout (TF checkpoint-free HDF5)
            model.save_weights(base + ".legacy.h5", save_format="h5")
        pred = model.predict(xin, verbose=0)
        pred = pred if isinstance(pred, list) else [pred]
        arrays.update({f"out_{i}": np.asarray(v) for i, v in enumerate(pred)})
        if ys is not None:
            model.train_on_batch(xin, yin)
            arrays.update({f"next_{j}": w for j, w in enumerate(model.get_weights())})
        np.savez(base + ".npz", **arrays)
        print(name, "ok", file=sys.stderr)
    with open(os.path.join(args.out, f"{prefix}_versions.json"), "w") as fh:
        json.dump({"keras": keras.__version__, "python": sys.version.split()[0],
                   "numpy": np.__version__}, fh)


if __name__ == "__main__":
    main()
