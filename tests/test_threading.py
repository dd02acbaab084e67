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
