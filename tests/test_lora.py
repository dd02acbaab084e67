"""LoRA on Dense and Embedding (Keras 3's lora_rank / enable_lora): the merged weight
against a numpy formula, what trains, files holding the merged weight (exchanged with
Keras 3 itself in the `_against_keras` tests), errors."""

import numpy as np
import pytest
from keras_peer import keras_or_skip as _keras
from keras_peer import to_numpy as _np

import fastnet
from fastnet import layers


def test_dense_lora_output_is_the_merged_kernel():
    rng = np.random.default_rng(0)
    d = layers.Dense(4, activation="tanh")
    d.build((None, 3))
    d.enable_lora(2, lora_alpha=6.0)
    a, b = rng.normal(size=(3, 2)), rng.normal(size=(2, 4))
    d.lora_kernel_a.assign(a.astype("float32"))
    d.lora_kernel_b.assign(b.astype("float32"))
    x = rng.normal(size=(5, 3)).astype("float32")
    w = d._kernel.numpy() + 3.0 * a @ b
    want = np.tanh(x @ w + d.bias.numpy())
    np.testing.assert_allclose(d(x).numpy(), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(d.kernel.numpy(), w, rtol=1e-6)
    assert [v.path.split("/")[-1] for v in d.weights] == ["kernel", "bias", "lora_kernel_a",
                                                          "lora_kernel_b"]
    assert [v.path.split("/")[-1] for v in d.non_trainable_weights] == ["kernel"]


def test_training_moves_the_factors_not_the_kernel():
    rng = np.random.default_rng(1)
    m = fastnet.Sequential([fastnet.Input((3,)), layers.Dense(8, activation="relu"),
                            layers.Dense(1, lora_rank=2)])
    frozen = m.layers[1]._kernel.numpy().copy()
    m.compile("adam", "mse")
    assert "LoRA enabled" in m._plan_status("train")
    x = rng.normal(size=(32, 3)).astype("float32")
    m.fit(x, x[:, :1], epochs=2, verbose=0)
    np.testing.assert_array_equal(m.layers[1]._kernel.numpy(), frozen)
    assert np.abs(m.layers[1].lora_kernel_b.numpy()).sum() > 0  # B started at zero
    assert len(m.trainable_weights) == 2 + 3


def test_embedding_lora_table():
    rng = np.random.default_rng(2)
    e = layers.Embedding(10, 4, lora_rank=3, lora_alpha=1.5)
    ids = np.array([[1, 2, 9]])
    e(ids)
    a, b = rng.normal(size=(10, 3)), rng.normal(size=(3, 4))
    e.lora_embeddings_a.assign(a.astype("float32"))
    e.lora_embeddings_b.assign(b.astype("float32"))
    table = e._embeddings.numpy() + 0.5 * a @ b
    np.testing.assert_allclose(e(ids).numpy(), table[ids], rtol=1e-5, atol=1e-6)


def test_files_hold_the_merged_weight_and_loading_zeroes_the_factors(tmp_path):
    rng = np.random.default_rng(3)
    m = fastnet.Sequential([fastnet.Input((3,)), layers.Dense(4, lora_rank=2)])
    m.layers[0].lora_kernel_b.assign(rng.normal(size=(2, 4)).astype("float32"))
    x = rng.normal(size=(4, 3)).astype("float32")
    want = m.predict(x, verbose=0)
    m.save_weights(tmp_path / "m.weights.h5")
    import h5py

    with h5py.File(tmp_path / "m.weights.h5") as f:
        stored = next(f["layers"][k]["vars"] for k in f["layers"] if k.startswith("dense"))
        assert len(stored) == 2  # merged kernel, bias
        np.testing.assert_allclose(stored["0"][()], m.layers[0].kernel.numpy(), rtol=1e-6)
    m.save(tmp_path / "m.keras")
    back = fastnet.models.load_model(tmp_path / "m.keras")
    assert back.layers[0].lora_enabled and back.layers[0].get_config()["lora_rank"] == 2
    np.testing.assert_allclose(back.predict(x, verbose=0), want, rtol=1e-5, atol=1e-6)
    assert not back.layers[0].lora_kernel_b.numpy().any()


def test_enable_lora_errors():
    d = layers.Dense(3)
    with pytest.raises(ValueError, match="isn't yet built"):
        d.enable_lora(2)
    d.build((None, 2))
    d.enable_lora(2)
    with pytest.raises(ValueError, match="already enabled"):
        d.enable_lora(2)
    c = layers.Dense(3, kernel_constraint="non_neg")
    c.build((None, 2))
    with pytest.raises(ValueError, match="incompatible with kernel constraints"):
        c.enable_lora(2)
    with pytest.raises(ValueError, match="lora_rank"):
        layers.Dense(3, lora_rank=0)
    with pytest.raises(ValueError, match="lora_alpha.*needs `lora_rank`"):
        layers.Embedding(4, 2, lora_alpha=2.0)


def _pair(k, seed=0):
    """The same LoRA model in fastnet and Keras, with the same weights."""
    rng = np.random.default_rng(seed)
    models = []
    for lib in (fastnet, k):
        m = lib.Sequential([lib.Input((5,), dtype="int32"), lib.layers.Embedding(12, 4),
                            lib.layers.Flatten(), lib.layers.Dense(3, activation="relu"),
                            lib.layers.Dense(2)])
        m.layers[0].enable_lora(2)
        m.layers[2].enable_lora(2)
        models.append(m)
    values = [rng.uniform(-0.5, 0.5, tuple(w.shape)).astype("float32")
              for w in models[0].weights]
    for m in models:
        assert [tuple(w.shape) for w in m.weights] == [v.shape for v in values]
        m.set_weights(values)
    return models


def test_lora_matches_keras_and_trains_alike():
    k = _keras()
    ours, theirs = _pair(k)
    x = np.random.default_rng(4).integers(0, 12, (16, 5)).astype("int32")
    y = np.random.default_rng(5).normal(size=(16, 2)).astype("float32")
    np.testing.assert_allclose(ours.predict(x, verbose=0), _np(theirs.predict(x, verbose=0)),
                               rtol=1e-5, atol=1e-6)
    assert [w.path.split("/")[-1] for w in ours.weights] == \
        [w.path.split("/")[-1] for w in theirs.weights]
    for m, lib in ((ours, fastnet), (theirs, k)):
        m.compile(lib.optimizers.SGD(0.1), "mse")
        m.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, _np(b), rtol=1e-4, atol=1e-6)
    assert ours.layers[0].get_config()["lora_rank"] == theirs.layers[0].get_config()["lora_rank"]


def test_lora_files_move_between_keras_and_fastnet(tmp_path):
    k = _keras()
    ours, theirs = _pair(k, seed=7)
    x = np.random.default_rng(8).integers(0, 12, (4, 5)).astype("int32")
    ours.save(tmp_path / "ours.keras")
    loaded = k.models.load_model(tmp_path / "ours.keras")
    np.testing.assert_allclose(_np(loaded.predict(x, verbose=0)), ours.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)
    assert loaded.layers[2].lora_enabled
    theirs.save(tmp_path / "theirs.keras")
    back = fastnet.models.load_model(tmp_path / "theirs.keras")
    np.testing.assert_allclose(back.predict(x, verbose=0), _np(theirs.predict(x, verbose=0)),
                               rtol=1e-5, atol=1e-6)
    assert back.layers[0].lora_enabled and not back.layers[2].lora_kernel_b.numpy().any()


def test_einsum_dense_lora_kernel_of_any_rank():
    rng = np.random.default_rng(9)
    layer = layers.EinsumDense("abc,cde->abde", output_shape=(5, 2, 4), bias_axes="de",
                               lora_rank=3, lora_alpha=1.5)
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    layer(x)
    a, b = rng.normal(size=(3, 2, 3)), rng.normal(size=(3, 4))
    layer.lora_kernel_a.assign(a.astype("float32"))
    layer.lora_kernel_b.assign(b.astype("float32"))
    kernel = layer._kernel.numpy() + 0.5 * np.einsum("cdr,re->cde", a, b)
    want = np.einsum("abc,cde->abde", x, kernel) + layer.bias.numpy()
    np.testing.assert_allclose(layer(x).numpy(), want, rtol=1e-5, atol=1e-5)
    assert layer.get_config()["lora_rank"] == 3
