"""fastnet.config.enable_determinism(): the same bits on any number of threads.

Without it, the reductions the kernels split over threads (conv kernel gradients,
bias sums, norm statistics) combine per-thread partials, so 1 and 2 threads differ
in the last bits; with it, they must not differ at all.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

import fastnet
from fastnet import layers

PKG_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(fastnet.__file__)))


@pytest.fixture
def determinism():
    was = fastnet.config.is_determinism_enabled()
    threads = fastnet.config.get_num_threads()
    fastnet.config.enable_determinism()
    yield
    fastnet.config.set_num_threads(threads)
    if not was:
        fastnet.config.disable_determinism()


def test_switches():
    was = fastnet.config.is_determinism_enabled()
    try:
        fastnet.config.enable_determinism()
        assert fastnet.config.is_determinism_enabled()
        fastnet.config.disable_determinism()
        assert not fastnet.config.is_determinism_enabled()
    finally:
        (fastnet.config.enable_determinism if was else fastnet.config.disable_determinism)()


def _grads_on(nthreads, layer, x, dy):
    fastnet.config.set_num_threads(nthreads)
    xt = fastnet.ops.convert_to_tensor(x)
    with fastnet.GradientTape() as tape:
        tape.watch(xt)
        y = layer(xt, training=True)
        loss = fastnet.ops.sum(y * dy)
    grads = tape.gradient(loss, [xt] + layer.trainable_weights)
    return [np.asarray(y)] + [np.asarray(g) for g in grads]


# Shapes large enough that every kernel splits its work over threads.
LAYERS = [
    ("conv2d", lambda: layers.Conv2D(16, 3), (64, 28, 28, 8)),
    ("conv2d-wide", lambda: layers.Conv2D(96, 3, padding="same"), (16, 14, 14, 64)),
    ("conv2d-strided", lambda: layers.Conv2D(16, 3, strides=2), (64, 28, 28, 8)),
    ("conv1d", lambda: layers.Conv1D(16, 5), (64, 100, 8)),
    ("depthwise", lambda: layers.DepthwiseConv2D(3), (64, 28, 28, 8)),
    ("conv2d-transpose", lambda: layers.Conv2DTranspose(8, 3, strides=2), (32, 14, 14, 16)),
    ("dense", lambda: layers.Dense(200), (512, 700)),
    ("batch-norm", lambda: layers.BatchNormalization(), (64, 28, 28, 16)),
    ("layer-norm", lambda: layers.LayerNormalization(), (64, 28, 64)),
    ("avg-pool-overlap", lambda: layers.AveragePooling2D(3, 1), (64, 28, 28, 16)),
    ("lstm", lambda: layers.LSTM(32, return_sequences=True), (64, 20, 16)),
    ("gru", lambda: layers.GRU(32), (64, 20, 16)),
]


@pytest.mark.parametrize("name,make,shape", LAYERS, ids=[row[0] for row in LAYERS])
def test_layer_gradients_same_bits_on_1_2_3_threads(determinism, name, make, shape):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    fastnet.utils.set_random_seed(0)
    layer = make()
    y = layer(fastnet.ops.convert_to_tensor(x))
    dy = rng.standard_normal(tuple(y.shape)).astype(np.float32)
    ref = _grads_on(1, layer, x, dy)
    for nt in (2, 3):
        got = _grads_on(nt, layer, x, dy)
        for i, (a, b) in enumerate(zip(ref, got)):
            assert np.array_equal(a, b), f"{name}: output/gradient {i} differs on {nt} threads " \
                                         f"(max {np.max(np.abs(a - b)):.3g})"


_TRAIN = """
import sys, numpy as np, fastnet
from fastnet import layers
fastnet.utils.set_random_seed(7)
rng = np.random.default_rng(0)
img = rng.standard_normal((96, 16, 16, 3)).astype("float32")
seq = rng.standard_normal((96, 12, 8)).astype("float32")
y = rng.integers(0, 4, 96)
a = fastnet.Input((16, 16, 3)); b = fastnet.Input((12, 8))
h = layers.Conv2D(24, 3, padding="same", activation="relu")(a)
h = layers.BatchNormalization()(h)
h = layers.MaxPooling2D(2)(h)
h = layers.Conv2D(32, 3, activation="relu")(h)
h = layers.GlobalAveragePooling2D()(h)
s = layers.LayerNormalization()(layers.Conv1D(8, 3, padding="same")(b))
s = layers.LSTM(16)(s)
z = layers.Concatenate()([h, s])
z = layers.Dropout(0.3)(z)
out = layers.Dense(4, activation="softmax")(z)
model = fastnet.Model([a, b], out)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
model.fit([img, seq], y, batch_size=32, epochs=2, verbose=0)
np.savez(sys.argv[1], *model.get_weights())
print(fastnet.config.get_num_threads(), fastnet.config.is_determinism_enabled())
"""


def _train(tmp_path, threads, deterministic, isa=None):
    out = tmp_path / f"w{threads}{int(deterministic)}{isa}.npz"
    env = dict(os.environ, PYTHONPATH=PKG_PARENT, FASTNET_NUM_THREADS=str(threads))
    env.pop("FASTNET_DETERMINISTIC", None)
    env.pop("FASTNET_ISA", None)
    if isa:
        env["FASTNET_ISA"] = isa
    if deterministic:
        env["FASTNET_DETERMINISTIC"] = "1"
    proc = subprocess.run([sys.executable, "-c", _TRAIN, str(out)], env=env, capture_output=True,
                          text=True, timeout=600, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split() == [str(threads), str(deterministic)]
    data = np.load(out)
    return [data[k] for k in sorted(data.files, key=lambda k: int(k.split("_")[1]))]


def test_training_same_bits_on_1_and_2_threads(tmp_path):
    one = _train(tmp_path, 1, True)
    two = _train(tmp_path, 2, True)
    assert len(one) == len(two)
    for i, (a, b) in enumerate(zip(one, two)):
        assert np.array_equal(a, b), f"weight {i} differs: max {np.max(np.abs(a - b)):.3g}"


def _cpu_has_avx512():
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return all(f in flags.split() for f in ("avx512f", "avx512bw", "avx512dq", "avx512vl"))


@pytest.mark.skipif(not _cpu_has_avx512(), reason="needs a CPU with AVX-512 to run both levels")
def test_training_same_bits_on_avx2_and_avx512(tmp_path):
    """Across ISA levels: reductions sum in 32 logical lanes on every level (csrc/cpu/
    reduce_leaf.h) and the conv paths are chosen by the same widths, so AVX2 and AVX-512
    give the same bits. (The portable level has no FMA, so it differs in the last bits.)"""
    avx2 = _train(tmp_path, 2, True, "avx2")
    avx512 = _train(tmp_path, 1, True, "avx512")
    for i, (a, b) in enumerate(zip(avx2, avx512)):
        assert np.array_equal(a, b), f"weight {i} differs: max {np.max(np.abs(a - b)):.3g}"
