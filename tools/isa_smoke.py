"""Trains one small model through every kernel family and saves what it learned.

Run natively with ``FASTNET_ISA=generic|avx2|avx512`` and under qemu-user on a
CPU model that lacks the instructions (``qemu-x86_64 -cpu Nehalem-v2`` has no
AVX, ``-cpu Haswell-v4`` no AVX-512): the emulated run must not die of SIGILL
and must give the forced-level run's numbers. tests/test_isa_qemu.py does both.

    python tools/isa_smoke.py OUT.npz
"""

import sys

import numpy as np

import fastnet
from fastnet import layers

# Every optimizer fastnet has (each has its own fused update kernel).
OPTIMIZERS = ["sgd", "rmsprop", "adam", "adamw", "adagrad", "adadelta", "nadam"]


def build():
    img = fastnet.Input((8, 8, 2), name="img")
    # the image family: resize both ways and a (fixed-angle) projective transform
    x = layers.Resizing(8, 8, interpolation="bicubic")(layers.Resizing(10, 9)(img))
    x = layers.RandomRotation((0.05, 0.05), fill_mode="reflect")(x)
    x = layers.Conv2D(4, 3, padding="same", activation="relu")(x)
    x = layers.BatchNormalization()(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.AveragePooling2D(2, padding="same")(x)
    x = layers.Flatten()(x)
    seq = fastnet.Input((5, 3), name="seq")
    s = layers.LSTM(4, return_sequences=True)(seq)
    s = layers.GRU(3, dropout=0.1, recurrent_dropout=0.2, seed=2)(s)  # the kernels' masks
    s = layers.LayerNormalization()(s)
    h = layers.Concatenate()([x, s])
    h = layers.Dense(8, activation="gelu")(h)
    out = layers.Dense(3, activation="softmax")(h)
    return fastnet.Model([img, seq], out)


def winograd_without_bias(rng):
    """Bias-free 3x3 convolutions on the Winograd paths (F(2,3) at 6x6, F(4,3) at 28x28
    outputs): their output transform once loaded a null bias under a zero mask, which
    real CPUs forgive and qemu does not."""
    out = {}
    for name, xs, ks in (("f2", (2, 8, 8, 32), (3, 3, 32, 32)), ("f4", (1, 30, 30, 16), (3, 3, 16, 16))):
        x = fastnet.Variable(rng.standard_normal(xs).astype("float32"))
        k = fastnet.Variable(rng.standard_normal(ks).astype("float32"))
        with fastnet.GradientTape() as tape:
            y = fastnet.ops.conv(x, k)
            loss = fastnet.ops.sum(y * y)
        dx, dk = tape.gradient(loss, [x, k])
        out.update({f"conv_{name}/y": np.asarray(y), f"conv_{name}/dx": np.asarray(dx),
                    f"conv_{name}/dk": np.asarray(dk)})
    return out


def main(path):
    fastnet.config.set_num_threads(1)
    rng = np.random.default_rng(0)
    xi = rng.standard_normal((16, 8, 8, 2)).astype("float32")
    xs = rng.standard_normal((16, 5, 3)).astype("float32")
    y = rng.integers(0, 3, 16)
    results = {"isa": np.array(fastnet.config.get_isa())}
    results.update(winograd_without_bias(rng))
    for name in OPTIMIZERS:
        fastnet.utils.set_random_seed(1)
        model = build()
        model.compile(optimizer=name, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        hist = model.fit([xi, xs], y, batch_size=8, epochs=2, shuffle=False, verbose=0)
        results[f"{name}/loss"] = np.array(hist.history["loss"], dtype="float64")
        for i, w in enumerate(model.get_weights()):
            results[f"{name}/w{i}"] = w
        results[f"{name}/pred"] = model.predict([xi, xs], verbose=0)
    np.savez(path, **results)
    print(f"isa={results['isa']} optimizers={len(OPTIMIZERS)} ok")


if __name__ == "__main__":
    main(sys.argv[1])
