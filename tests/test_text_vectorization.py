"""TextVectorization: the expectations of Keras 3's own text_vectorization_test.py (Keras's
layer needs TensorFlow, so they are the reference here), plus tf-idf from its formula."""

import numpy as np
import pytest
from oracle import assert_close

from fastnet import layers

TV = layers.TextVectorization


def test_adapt_and_int_output():
    layer = TV(max_tokens=5000, output_mode="int", output_sequence_length=4)
    layer.adapt(["foo bar", "bar baz", "baz bada boom"])
    out = layer([["foo qux bar"], ["qux baz"]])
    assert out.dtype == "int64"
    assert_close(out.numpy(), [[4, 1, 3, 0], [1, 2, 0, 0]], atol=0)
    # most frequent first, ties broken as Keras (the larger token first)
    assert layer.get_vocabulary() == ["", "[UNK]", "baz", "bar", "foo", "boom", "bada"]
    assert_close(TV()(["a b c"]).numpy(), [[1, 1, 1]], atol=0)  # no vocabulary: all OOV
    fixed = TV(vocabulary=["baz", "bar", "foo"], output_sequence_length=4)
    assert_close(fixed([["foo qux bar"], ["qux baz"]]).numpy(), [[4, 1, 3, 0], [1, 2, 0, 0]],
                 atol=0)
    unset = TV(output_sequence_length=2)
    unset.set_vocabulary(["baz", "bar", "foo"])
    assert_close(unset(["foo qux bar", "qux"]).numpy(), [[4, 1], [1, 0]], atol=0)
    assert unset.vocabulary_size() == 5
    assert unset.get_vocabulary(include_special_tokens=False) == ["baz", "bar", "foo"]
    ragged = TV(vocabulary=["a"])(["a a a", "a"]).numpy()  # padded to the longest string
    assert_close(ragged, [[2, 2, 2], [2, 0, 0]], atol=0)


def test_adapt_from_generators_and_steps():
    def gen():
        for _ in range(4):
            yield np.array(["one two", "two three"])

    layer = TV()
    layer.adapt(gen())
    assert layer.get_vocabulary()[2] == "two"

    def forever():
        while True:
            yield (np.array(["x y"]), np.array([0]))

    layer = TV()
    layer.adapt(forever(), steps=3)
    assert sorted(layer.get_vocabulary()[2:]) == ["x", "y"]


def test_standardize_split_and_ngrams():
    text = ["Hello, World!. This is just a nice test!"]
    assert_close(TV(vocabulary=["hello", "world", "this", "is", "nice", "test"])(text).numpy(),
                 [[2, 3, 4, 5, 1, 1, 6, 7]], atol=0)
    lower = TV(standardize="lower",
               vocabulary=["hello,", "hello", "world", "this", "is", "nice", "test"])
    assert_close(lower(text).numpy(), [[2, 1, 5, 6, 1, 1, 7, 1]], atol=0)
    strip = TV(standardize="strip_punctuation", vocabulary=["Hello", "World", "Test"])
    assert_close(strip(["Hello, World! Test."]).numpy(), [[2, 3, 4]], atol=0)
    assert_close(TV(standardize=None, vocabulary=["Hello", "world"])(["Hello hello"]).numpy(),
                 [[2, 1]], atol=0)
    assert_close(TV(split="character", vocabulary=list("abcde"))(["abcf"]).numpy(),
                 [[2, 3, 4, 1]], atol=0)
    assert_close(TV(split=None, vocabulary=["foo", "bar", "baz"])(
        [["foo"], ["bar"], ["unknown"]]).numpy(), [[2], [3], [1]], atol=0)

    seen = []

    def np_standardize(batch):  # Keras (non-TF backends) passes a numpy str array
        seen.append((type(batch).__name__, batch.dtype.kind))
        return np.char.replace(np.char.lower(batch), ",", "")

    layer = TV(standardize=np_standardize)
    layer.adapt(["Hello, world."])
    assert seen and all(s == ("ndarray", "U") for s in seen)
    assert "hello" in layer.get_vocabulary() and "world." in layer.get_vocabulary()
    dash = TV(standardize=lambda b: np.char.replace(b, "-", " "), vocabulary=["foo", "bar"])
    assert_close(dash(["foo-bar"]).numpy(), [[2, 3]], atol=0)
    pipe = TV(split=lambda s: s.split("|"), standardize=None, vocabulary=["foo", "bar"])
    assert_close(pipe(["foo|bar|baz"]).numpy(), [[2, 3, 1]], atol=0)

    bigrams = TV(ngrams=2)
    bigrams.adapt(["foo bar baz"])
    assert {"foo bar", "bar baz", "foo"} <= set(bigrams.get_vocabulary())
    tri = TV(ngrams=(1, 3))
    tri.adapt(["foo bar baz"])
    vocab = tri.get_vocabulary()
    assert "foo" in vocab and "foo bar baz" in vocab and "foo bar" not in vocab
    small = TV(max_tokens=5)
    small.adapt(["a b c d e f g h i j"])
    assert len(small.get_vocabulary()) == 5


def test_vector_output_modes():
    multi = TV(output_mode="multi_hot", vocabulary=["foo", "bar", "baz"])
    assert_close(multi([["foo bar"], ["baz foo foo"]]).numpy(), [[0, 1, 1, 0], [0, 1, 0, 1]],
                 atol=0)
    count = TV(output_mode="count", vocabulary=["foo", "bar", "baz"])
    assert_close(count(["foo bar", "baz foo foo"]).numpy(), [[0, 1, 1, 0], [0, 2, 0, 1]],
                 atol=0)
    tfidf = TV(output_mode="tf_idf", vocabulary=["foo", "bar", "baz"],
               idf_weights=[0.3, 0.5, 0.2])
    assert_close(tfidf(["foo bar", "baz foo foo"]).numpy(),
                 [[0.0, 0.3, 0.5, 0.0], [0.0, 0.6, 0.0, 0.2]], atol=1e-6)
    padded = TV(output_mode="multi_hot", vocabulary=["foo", "bar"], max_tokens=8,
                pad_to_max_tokens=True)
    assert padded(["foo bar"]).shape == (1, 8)
    # adapt in tf_idf: idf = log(1 + docs / (1 + docs containing the token)), OOV's the mean
    docs = np.array(["foo bar", "bar baz", "baz bada boom"])
    layer = TV(max_tokens=100, output_mode="tf_idf")
    layer.adapt(docs)
    vocab = layer.get_vocabulary()
    idf = {t: np.log(1 + 3 / (1 + sum(t in d.split() for d in docs))) for t in vocab[1:]}
    want = np.zeros((3, len(vocab)))
    for i, d in enumerate(docs):
        for t in d.split():
            want[i, vocab.index(t)] += idf[t]
    assert_close(layer(docs).numpy(), want, atol=1e-6)


def test_config_round_trip_and_errors():
    layer = TV(output_mode="int", vocabulary=["one", "two"], output_sequence_length=5)
    cfg = layer.get_config()
    again = TV.from_config(cfg)
    assert again.get_config() == cfg
    assert_close(again(["two one three"]).numpy(), layer(["two one three"]).numpy(), atol=0)
    docs = np.array(["foo bar", "bar baz"])
    tfidf = TV(output_mode="tf_idf")
    tfidf.adapt(docs)
    restored = layers.deserialize(layers.serialize(tfidf))
    assert_close(restored(docs).numpy(), tfidf(docs).numpy(), atol=1e-6)
    assert layer.compute_output_shape((None, 1)) == (None, 5)
    assert TV(output_mode="count", vocabulary=["a"]).compute_output_shape((None,)) == (None, 2)  # [UNK], a
    with pytest.raises(ValueError, match="output_mode"):
        TV(output_mode="one_hot")
    with pytest.raises(ValueError, match="output_sequence_length"):
        TV(output_mode="count", output_sequence_length=3)
    with pytest.raises(ValueError, match="ngrams"):
        TV(ngrams=0)
    with pytest.raises(ValueError, match="standardize"):
        TV(standardize="upper")
    with pytest.raises(ValueError, match="split"):
        TV(split="comma")
    with pytest.raises(ValueError, match="ragged"):
        TV(ragged=True)
    with pytest.raises(ValueError, match="idf_weights"):
        TV(output_mode="tf_idf", vocabulary=["a"])
    with pytest.raises(ValueError, match="Cannot adapt"):
        layer.adapt(["x"])
