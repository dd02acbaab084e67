"""Preprocessing layers against numpy formulas, Keras's documented examples and (optionally)
Keras 3 itself where it runs without TensorFlow."""

import os

import numpy as np
import pytest
from oracle import assert_close

import fastnet
from fastnet import layers, ops


def test_rescaling_and_config():
    x = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)
    lay = layers.Rescaling(1.0 / 255, offset=-0.5)
    out = lay(x)
    assert out.dtype == "float32"
    assert_close(out.numpy(), x / 255.0 - 0.5, atol=1e-7)
    per_channel = layers.Rescaling([1.0, 2.0, 3.0])
    assert_close(per_channel(x).numpy(), x * np.array([1.0, 2.0, 3.0]), atol=1e-6)
    clone = layers.Rescaling.from_config(per_channel.get_config())
    assert clone.get_config() == per_channel.get_config()
    assert layers.Rescaling(2.0)(fastnet.Input((4,))).shape == (None, 4)


def test_normalization_adapt_arrays_and_batches_and_invert():
    rng = np.random.default_rng(0)
    data = rng.standard_normal((30, 4)) * np.array([1.0, 2.0, 3.0, 4.0]) + 5.0
    lay = layers.Normalization()
    lay.adapt(data)
    assert_close(lay.adapt_mean.numpy(), data.mean(0), atol=1e-5)
    assert_close(lay.adapt_variance.numpy(), data.var(0), atol=1e-4)
    out = lay(data.astype(np.float32)).numpy()
    assert_close(out, (data - data.mean(0)) / data.std(0), atol=1e-4)
    batched = layers.Normalization()
    batched.adapt(iter([data[:7], data[7:20], data[20:]]))  # uneven batches, a generator
    assert_close(batched.adapt_mean.numpy(), data.mean(0), atol=1e-5)
    assert_close(batched.adapt_variance.numpy(), data.var(0), atol=1e-4)
    inv = layers.Normalization(invert=True)
    inv.adapt(data)
    assert_close(inv(out).numpy(), data, atol=1e-4)
    whole = layers.Normalization(axis=None)
    whole.adapt(data)
    assert_close(whole(data).numpy(), (data - data.mean()) / data.std(), atol=1e-4)
    assert [w.name for w in lay.weights] == ["mean", "variance", "count"]
    assert lay.trainable_weights == []


def test_normalization_mean_variance_arguments_axis_and_errors():
    img = np.random.default_rng(1).random((2, 3, 3, 2)).astype(np.float32)
    lay = layers.Normalization(axis=-1, mean=[0.5, 1.0], variance=[4.0, 0.25])
    want = (img - np.array([0.5, 1.0])) / np.sqrt(np.array([4.0, 0.25]))
    assert_close(lay(img).numpy(), want, atol=1e-6)
    assert layers.Normalization.from_config(lay.get_config()).get_config() == lay.get_config()
    lay2 = layers.Normalization(axis=(1, 2))
    lay2.adapt(img)
    assert lay2.adapt_mean.shape == (3, 3)
    assert_close(lay2(img).numpy(), (img - img.mean((0, 3))[None, :, :, None])
                 / img.std((0, 3))[None, :, :, None], atol=1e-4)
    with pytest.raises(ValueError, match="both `mean` and `variance`"):
        layers.Normalization(mean=1.0)
    with pytest.raises(ValueError, match="same shape"):
        layers.Normalization(mean=[1.0, 2.0], variance=[1.0])
    with pytest.raises(ValueError, match="incompatible shape"):
        lay3 = layers.Normalization()
        lay3.adapt(np.ones((4, 3)))
        lay3.adapt(np.ones((4, 2)))
    with pytest.raises(ValueError, match="empty iterable"):
        layers.Normalization().adapt(iter([]))


def test_normalization_in_a_model_trains_and_saves(tmp_path):
    fastnet.backend.clear_session()
    data = np.random.default_rng(2).standard_normal((16, 3)).astype(np.float32) * 3 + 2
    norm = layers.Normalization()
    norm.adapt(data)
    inp = fastnet.Input((3,))
    model = fastnet.Model(inp, layers.Dense(1)(norm(inp)))
    model.compile(optimizer="sgd", loss="mse")
    model.fit(data, np.ones((16, 1), np.float32), epochs=1, verbose=0)
    assert_close(norm.adapt_mean.numpy(), data.mean(0), atol=1e-5)  # not trained
    path = str(tmp_path / "norm.keras")
    model.save(path)
    loaded = fastnet.models.load_model(path)
    assert_close(loaded.predict(data, verbose=0), model.predict(data, verbose=0), atol=1e-6)


def test_center_crop_and_random_flip():
    x = np.arange(2 * 5 * 6 * 1, dtype=np.float32).reshape(2, 5, 6, 1)
    crop = layers.CenterCrop(2, 3)
    assert_close(crop(x).numpy(), x[:, 1:3, 1:4], atol=0)
    assert crop(fastnet.Input((5, 6, 1))).shape == (None, 2, 3, 1)
    assert_close(layers.CenterCrop(3, 3, data_format="channels_first")(x.transpose(0, 3, 1, 2))
                 .numpy(), x.transpose(0, 3, 1, 2)[:, :, 1:4, 1:4], atol=0)
    # smaller than the target: the central 5x5 box (the aspect ratio 1) resized to 8x8
    assert_close(layers.CenterCrop(8, 8)(x).numpy(),
                 ops.image.resize(x[:, :, 0:5], (8, 8)).numpy(), atol=0)
    assert layers.CenterCrop.from_config(crop.get_config()).get_config() == crop.get_config()

    imgs = np.random.default_rng(3).random((64, 3, 4, 2)).astype(np.float32)
    flip = layers.RandomFlip("horizontal", seed=5)
    assert_close(flip(imgs, training=False).numpy(), imgs, atol=0)  # inference: identity
    fastnet.backend.clear_session()
    inp = fastnet.Input((3, 4, 2))
    model = fastnet.Model(inp, layers.RandomFlip("horizontal")(inp))
    assert_close(model.predict(imgs, verbose=0), imgs, atol=0)
    out = flip(imgs, training=True).numpy()
    flipped = np.array([np.array_equal(o, i[:, ::-1]) for o, i in zip(out, imgs)])
    kept = np.array([np.array_equal(o, i) for o, i in zip(out, imgs)])
    assert np.all(flipped ^ kept) and 10 < flipped.sum() < 54
    again = layers.RandomFlip("horizontal", seed=5)(imgs, training=True).numpy()
    assert_close(again, out, atol=0)  # seeded
    both = layers.RandomFlip(seed=1)(imgs, training=True).numpy()
    assert all(np.array_equal(o, i) or np.array_equal(o, i[::-1, ::-1])
               for o, i in zip(both, imgs))
    fastnet.utils.set_random_seed(7)
    a = layers.RandomFlip("vertical")(imgs, training=True).numpy()
    fastnet.utils.set_random_seed(7)
    b = layers.RandomFlip("vertical")(imgs, training=True).numpy()
    assert_close(a, b, atol=0)
    with pytest.raises(ValueError, match="mode"):
        layers.RandomFlip("diagonal")
    cfg = flip.get_config()
    assert cfg["mode"] == "horizontal" and cfg["seed"] == 5
    assert layers.RandomFlip.from_config(cfg).get_config() == cfg


def test_category_encoding_modes():
    x = np.array([[0, 1], [0, 0], [1, 2], [3, 1]])
    assert_close(layers.CategoryEncoding(4, "one_hot")(np.array([3, 2, 0, 1])).numpy(),
                 np.eye(4)[[3, 2, 0, 1]], atol=0)
    assert_close(layers.CategoryEncoding(4)(x).numpy(),
                 [[1, 1, 0, 0], [1, 0, 0, 0], [0, 1, 1, 0], [0, 1, 0, 1]], atol=0)
    count = layers.CategoryEncoding(4, "count")
    w = np.array([[0.1, 0.2], [0.1, 0.1], [0.2, 0.3], [0.4, 0.2]])
    assert_close(count(x, count_weights=w).numpy(),
                 [[0.1, 0.2, 0, 0], [0.2, 0, 0, 0], [0, 0.2, 0.3, 0], [0, 0.2, 0, 0.4]],
                 atol=1e-7)
    with pytest.raises(ValueError, match="num_tokens"):
        layers.CategoryEncoding()
    with pytest.raises(ValueError, match="output_mode"):
        layers.CategoryEncoding(3, "int")
    assert layers.CategoryEncoding(5)(fastnet.Input((3,), dtype="int32")).shape == (None, 5)


def test_discretization_boundaries_adapt_and_modes():
    lay = layers.Discretization(bin_boundaries=[0.0, 1.0, 2.0])
    x = np.array([[-1.5, 1.0, 3.4, 0.5], [0.0, 3.0, 1.3, 0.0]])
    out = lay(x)
    assert out.dtype == "int32"
    assert_close(out.numpy(), [[0, 2, 3, 1], [1, 3, 2, 1]], atol=0)
    data = np.random.default_rng(4).random(1000).astype(np.float32)
    ad = layers.Discretization(num_bins=4, epsilon=0.01)
    ad.adapt(data)
    assert len(ad.bin_boundaries) == 3
    assert_close(ad.bin_boundaries, np.quantile(data, [0.25, 0.5, 0.75]), atol=0.02)
    batched = layers.Discretization(num_bins=4, epsilon=0.01)
    batched.adapt([data[:300], data[300:]])
    assert_close(batched.bin_boundaries, ad.bin_boundaries, atol=0.02)
    oh = layers.Discretization(bin_boundaries=[0.0, 1.0], output_mode="one_hot")
    assert_close(oh(np.array([-1.0, 0.5, 2.0])).numpy(), np.eye(3), atol=0)
    with pytest.raises(ValueError, match="either"):
        layers.Discretization()
    with pytest.raises(ValueError, match="adapt"):
        layers.Discretization(num_bins=3)(x)
    cfg = ad.get_config()
    clone = layers.Discretization.from_config(cfg)
    assert clone.bin_boundaries == ad.bin_boundaries and clone.get_config() == cfg


def test_string_lookup_as_keras_documents():
    vocab = ["a", "b", "c", "d"]
    data = np.array([["a", "c", "d"], ["d", "z", "b"]])
    lay = layers.StringLookup(vocabulary=vocab)
    assert lay(data).numpy().tolist() == [[1, 3, 4], [4, 0, 2]]
    assert lay.get_vocabulary() == ["[UNK]", "a", "b", "c", "d"]
    assert lay.vocabulary_size() == 5
    adapted = layers.StringLookup()
    adapted.adapt(np.array([["a", "c", "d"], ["d", "z", "b"]]))
    assert adapted.get_vocabulary() == ["[UNK]", "d", "z", "c", "b", "a"]
    masked = layers.StringLookup(vocabulary=vocab, mask_token="")
    assert masked(np.array([["a", "c", ""], ["d", "z", "b"]])).numpy().tolist() == [
        [2, 4, 0], [5, 1, 3]]
    one_hot = layers.StringLookup(vocabulary=vocab, output_mode="one_hot")
    assert one_hot(np.array(["a", "b", "c", "d", "z"])).numpy().tolist() == np.eye(5)[
        [1, 2, 3, 4, 0]].tolist()
    mh = layers.StringLookup(vocabulary=vocab, output_mode="multi_hot")
    assert mh(data).numpy().tolist() == [[0, 1, 0, 1, 1], [1, 0, 1, 0, 1]]
    cnt = layers.StringLookup(vocabulary=vocab, output_mode="count")
    assert cnt(np.array([["a", "c", "d", "d"], ["d", "z", "b", "z"]])).numpy().tolist() == [
        [0, 1, 0, 1, 2], [2, 0, 1, 0, 1]]
    idf = [1.1, 1.2, 1.3, 1.4]
    tfidf = layers.StringLookup(output_mode="tf_idf", vocabulary=vocab, idf_weights=idf)
    assert_close(tfidf(np.array([["a", "c", "d", "d"], ["d", "z", "b", "z"]])).numpy(),
                 [[0, 1.1, 0, 1.3, 2.8], [2.5, 0, 1.2, 0, 1.4]], atol=1e-6)  # OOV: mean idf
    inv = layers.StringLookup(vocabulary=vocab, invert=True)
    assert inv(np.array([[1, 3, 4], [4, 0, 2]])).tolist() == [["a", "c", "d"], ["d", "[UNK]", "b"]]
    with pytest.raises(ValueError, match="repeated"):
        layers.StringLookup(vocabulary=["a", "a"])
    with pytest.raises(ValueError, match="num_oov_indices=0"):
        layers.StringLookup(vocabulary=vocab, num_oov_indices=0)(np.array(["zz"]))
    cfg = lay.get_config()
    assert layers.StringLookup.from_config(cfg).get_config() == cfg


def test_string_lookup_adapt_tf_idf_and_max_tokens():
    docs = np.array([["a", "b"], ["a", "c"], ["a", "a"]])
    lay = layers.StringLookup(output_mode="tf_idf")
    lay.adapt(docs)
    assert lay.get_vocabulary() == ["[UNK]", "a", "c", "b"]
    idf = np.log(1 + 3 / (1 + np.array([3.0, 1.0, 1.0])))
    assert_close(lay.idf_weights, np.concatenate([[idf.mean()], idf]), atol=1e-6)
    small = layers.StringLookup(max_tokens=3, pad_to_max_tokens=True, output_mode="multi_hot")
    small.adapt(docs)
    assert small.get_vocabulary() == ["[UNK]", "a", "c"]
    assert small(np.array([["b", "a"]])).numpy().tolist() == [[1, 1, 0]]


def test_integer_lookup_as_keras_documents():
    vocab = [12, 36, 1138, 42]
    data = np.array([[12, 1138, 42], [42, 1000, 36]])
    lay = layers.IntegerLookup(vocabulary=vocab)
    out = lay(data)
    assert out.dtype == "int64"
    assert out.numpy().tolist() == [[1, 3, 4], [4, 0, 2]]
    assert lay.get_vocabulary() == [-1, 12, 36, 1138, 42]
    adapted = layers.IntegerLookup()
    adapted.adapt(data)
    assert adapted.get_vocabulary() == [-1, 42, 1138, 1000, 36, 12]
    two = layers.IntegerLookup(vocabulary=vocab, num_oov_indices=2)
    assert two(data).numpy().tolist() == [[2, 4, 5], [5, 0, 3]]  # 1000 % 2 == 0
    masked = layers.IntegerLookup(vocabulary=vocab, mask_token=0)
    assert masked(np.array([[12, 1138, 0], [42, 1000, 36]])).numpy().tolist() == [
        [2, 4, 0], [5, 1, 3]]
    inv = layers.IntegerLookup(vocabulary=vocab, invert=True)
    assert inv(np.array([[1, 3, 4], [4, 0, 2]])).numpy().tolist() == [
        [12, 1138, 42], [42, -1, 36]]
    cfg = two.get_config()
    assert layers.IntegerLookup.from_config(cfg).get_config() == cfg
    emb = layers.Embedding(lay.vocabulary_size(), 2)
    assert emb(lay(data)).shape == (2, 3, 2)
    assert ops.convert_to_numpy(lay(np.array(12))) == 1


def test_every_new_layer_is_exported():
    for name in ("Rescaling", "Normalization", "CenterCrop", "RandomFlip", "CategoryEncoding",
                 "Discretization", "IntegerLookup", "StringLookup", "MultiHeadAttention",
                 "Attention", "AdditiveAttention"):
        assert name in layers.__all__ and hasattr(fastnet.layers, name)


# ---- against Keras 3 (optional; its adapt() and lookups need TensorFlow) ----------------

@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    pytest.importorskip("torch")
    return pytest.importorskip("keras")


def _np(x):
    return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)


def test_matches_keras_where_keras_runs_without_tensorflow(keras):
    rng = np.random.default_rng(9)
    img = rng.random((2, 7, 6, 3)).astype(np.float32) * 255
    cases = [
        ("Rescaling", {"scale": 1 / 127.5, "offset": -1}, img),
        ("Normalization", {"axis": -1, "mean": [1.0, 2.0, 3.0], "variance": [4.0, 5.0, 6.0]},
         img),
        ("Normalization", {"axis": (1, 2), "mean": 3.0, "variance": 2.0, "invert": True}, img),
        ("CenterCrop", {"height": 4, "width": 3}, img),
        ("CenterCrop", {"height": 3, "width": 6}, img),
        ("CategoryEncoding", {"num_tokens": 6, "output_mode": "count"},
         np.array([[1, 2, 2], [5, 0, 1]])),
        ("CategoryEncoding", {"num_tokens": 6, "output_mode": "one_hot"}, np.array([[1], [5]])),
        ("Discretization", {"bin_boundaries": [-0.5, 0.0, 0.5]}, rng.standard_normal((3, 4))),
        ("Discretization", {"bin_boundaries": [0.0, 0.5], "output_mode": "multi_hot"},
         rng.standard_normal((3, 4))),
    ]
    for name, kw, x in cases:
        got = getattr(layers, name)(**kw)(x).numpy()
        want = _np(getattr(keras.layers, name)(**kw)(x))
        assert_close(got, want, atol=1e-5, what=f"{name} {kw}")
    flip = keras.layers.RandomFlip(seed=1)
    assert_close(layers.RandomFlip(seed=1)(img, training=False).numpy(),
                 _np(flip(img, training=False)), atol=0)
