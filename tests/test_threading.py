"""Kernels called from several Python threads at once (inference on a shared model) give
the same results as one thread, and never oversubscribe or deadlock the pool."""

import threading

import numpy as np

import fastnet as keras
from fastnet import layers
from fastnet.kernels import gemm as G


def test_concurrent_gemm_is_correct():
    rng = np.random.default_rng(0)
    pairs = [(rng.random((150, 90), dtype=np.float32), rng.random((90, 120), dtype=np.float32))
             for _ in range(8)]
    want = [a.astype(np.float64) @ b for a, b in pairs]
    errors = []

    def work(idx):
        for _ in range(20):
            a, b = pairs[idx]
            got = G.matmul(a, b)
            if not np.allclose(got, want[idx], atol=1e-3):
                errors.append(idx)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    assert not errors


def test_shared_model_inference_from_threads():
    inputs = keras.Input(shape=(12, 12, 3))
    x = layers.Conv2D(8, 3, activation="relu")(inputs)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    outputs = layers.Dense(5, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    data = [np.random.default_rng(i).random((16, 12, 12, 3), dtype=np.float32) for i in range(6)]
    want = [model.predict(d, verbose=0) for d in data]
    results = {}

    def work(i):
        results[i] = [model.predict(data[i], verbose=0) for _ in range(5)]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    for i in range(6):
        for got in results[i]:
            np.testing.assert_allclose(got, want[i], rtol=1e-5, atol=1e-6)


# ---- the pool's grain size and counters (fastnet.config.thread_stats) ----------------------

def _with_threads(n, fn):
    prev = keras.config.get_num_threads()
    keras.config.set_num_threads(n)
    try:
        return fn()
    finally:
        keras.config.set_num_threads(prev)


def test_thread_stats_counts_parallel_regions_of_large_kernels():
    a = np.random.default_rng(0).random((256, 256), dtype=np.float32)

    def run():
        keras.config.thread_stats(reset=True)
        got = G.matmul(a, a)
        return got, keras.config.thread_stats()

    got, stats = _with_threads(2, run)
    np.testing.assert_allclose(got, a.astype(np.float64) @ a, rtol=1e-4)
    assert set(stats) == {"parallel_regions", "serial_regions", "wakeups"}
    assert stats["parallel_regions"] >= 1
    assert keras.config.thread_stats(reset=True)["parallel_regions"] >= 1  # read, then zeroed
    assert keras.config.thread_stats()["parallel_regions"] == 0


def test_tiny_ops_and_a_tiny_training_step_never_wake_a_worker():
    x = keras.ops.convert_to_tensor(np.random.default_rng(1).random((1, 10), dtype=np.float32))
    model = keras.Sequential([keras.Input((10,)), layers.Dense(10, activation="relu"), layers.Dense(10)])
    model.compile(optimizer="adam", loss="mse")
    xb = np.random.default_rng(2).random((1, 10), dtype=np.float32)
    conv = keras.Sequential([keras.Input((4, 4, 1)), layers.Conv2D(2, 3, padding="same"),
                             layers.MaxPooling2D(2), layers.Flatten(), layers.Dense(3)])
    conv.compile(optimizer="sgd", loss="mse")
    img = np.random.default_rng(3).random((2, 4, 4, 1), dtype=np.float32)

    def run():
        model.train_on_batch(xb, xb)  # build and warm up outside the count
        conv.train_on_batch(img, np.zeros((2, 3), np.float32))
        keras.config.thread_stats(reset=True)
        with keras.GradientTape() as tape:
            tape.watch(x)
            z = x
            for _ in range(5):
                z = keras.ops.relu(keras.ops.multiply(keras.ops.add(z, x), x))
            s = keras.ops.sum(keras.ops.softmax(z))
        tape.gradient(s, x)
        for _ in range(3):
            model.train_on_batch(xb, xb)
            conv.train_on_batch(img, np.zeros((2, 3), np.float32))
        model.predict(xb, verbose=0)
        return keras.config.thread_stats()

    stats = _with_threads(2, run)
    assert stats["parallel_regions"] == 0, stats
    assert stats["wakeups"] == 0, stats


def test_pool_results_equal_one_thread_for_every_split():
    # Sizes around the chunking boundaries: every element written exactly once.
    rng = np.random.default_rng(4)
    for n in (4097, 32768, 32769, 100003, 262147):
        x = rng.standard_normal(n).astype(np.float32)
        one = _with_threads(1, lambda x=x: keras.ops.relu(x).numpy())
        for t in (2, 3, 5):
            got = _with_threads(t, lambda x=x: keras.ops.relu(x).numpy())
            np.testing.assert_array_equal(got, one)
        np.testing.assert_array_equal(one, np.maximum(x, 0))

