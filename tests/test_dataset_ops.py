"""map / prefetch / take / skip / cache on the datasets keras.utils returns, as the
tf.data methods Keras programs call on them (over whole batches)."""

import os
import threading

import numpy as np
import pytest

import fastnet as keras
from fastnet.utils.dataset_ops import AUTOTUNE


@pytest.fixture
def image_dir(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for cls in ("cat", "dog"):
        os.makedirs(tmp_path / cls)
        for i in range(5):
            Image.fromarray((rng.random((12, 10, 3)) * 255).astype("uint8")).save(
                tmp_path / cls / f"{i}.png")
    return str(tmp_path)


def _series(batch_size=4):
    data = np.arange(60, dtype="float32").reshape(30, 2)
    return keras.utils.timeseries_dataset_from_array(data, np.arange(30), sequence_length=3,
                                                     batch_size=batch_size)


def test_map_applies_the_function_to_each_batch_splatting_tuples():
    ds = _series()
    mapped = ds.map(lambda x, y: (x * 2.0, y + 1))
    assert len(mapped) == len(ds) == mapped.cardinality()
    for (x, y), (mx, my) in zip(ds, mapped):
        np.testing.assert_array_equal(mx, x * 2.0)
        np.testing.assert_array_equal(my, y + 1)
    only_x = ds.map(lambda x, y: x)
    np.testing.assert_array_equal(next(iter(only_x)), ds[0][0])


def test_take_skip_and_negative_counts():
    ds = _series()
    n = len(ds)
    assert len(ds.take(2)) == 2 and len(ds.skip(2)) == n - 2
    assert len(ds.take(-1)) == n and len(ds.skip(-1)) == 0 and len(ds.take(100)) == n
    np.testing.assert_array_equal(ds.skip(2)[0][0], ds[2][0])
    np.testing.assert_array_equal(ds.skip(1).take(1)[0][0], ds[1][0])
    with pytest.raises(IndexError):
        ds.take(2)[2]
    for x, y in ds.take(1):  # the keras.io idiom
        assert x.shape == (4, 3, 2) and y.shape == (4,)


def test_cache_computes_each_batch_once():
    calls = []

    def f(x, y):
        calls.append(1)
        return x, y

    ds = _series().map(f).cache()
    first = [b[0] for b in ds]
    again = [b[0] for b in ds]
    assert len(calls) == len(ds)
    for a, b in zip(first, again):
        assert a is b
    with pytest.raises(NotImplementedError, match="caching to a file"):
        _series().cache("/tmp/x")


def test_map_with_parallel_calls_runs_in_threads_during_fit_in_order():
    threads = set()

    def f(x, y):
        threads.add(threading.get_ident())
        return x.reshape(len(x), -1) / 60.0, y.astype("float32") / 30.0

    ds = _series().map(f, num_parallel_calls=2)
    m = keras.Sequential([keras.Input((6,)), keras.layers.Dense(1)])
    m.compile("sgd", "mse")
    keras.utils.set_random_seed(1)
    m.fit(ds, epochs=1, verbose=0)
    assert threading.get_ident() not in threads
    # same training as the sequential map
    m2 = keras.Sequential([keras.Input((6,)), keras.layers.Dense(1)])
    m2.compile("sgd", "mse")
    m2.set_weights(m.get_weights())
    m.fit(ds, epochs=1, verbose=0, shuffle=False)
    m2.fit(_series().map(f), epochs=1, verbose=0, shuffle=False)
    for a, b in zip(m.get_weights(), m2.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert ds.map(f, num_parallel_calls=AUTOTUNE).workers == (os.cpu_count() or 1)


def test_prefetch_loads_in_a_background_thread():
    threads = set()

    def f(x, y):
        threads.add(threading.get_ident())
        return x.reshape(len(x), -1), y.astype("float32")

    ds = _series().map(f).prefetch(AUTOTUNE)
    m = keras.Sequential([keras.Input((6,)), keras.layers.Dense(1)])
    m.compile("sgd", "mse")
    m.fit(ds, epochs=1, verbose=0)
    assert threads and threading.get_ident() not in threads
    assert _series().prefetch(0) is not None


def test_bad_arguments_name_the_method():
    ds = _series()
    with pytest.raises(TypeError, match="map: `map_func` must be callable"):
        ds.map(3)
    with pytest.raises(ValueError, match="num_parallel_calls"):
        ds.map(lambda x, y: x, num_parallel_calls=0)
    with pytest.raises(TypeError, match=r"take\(count\)"):
        ds.take(1.5)
    with pytest.raises(ValueError, match="buffer_size"):
        ds.prefetch(-3)


def test_the_image_classification_from_scratch_pipeline(image_dir):
    train_ds, val_ds = keras.utils.image_dataset_from_directory(
        image_dir, validation_split=0.2, subset="both", seed=1337, image_size=(8, 8),
        batch_size=4, verbose=False)
    augment = [keras.layers.RandomFlip("horizontal"), keras.layers.RandomRotation(0.1)]

    def data_augmentation(images):
        for layer in augment:
            images = layer(images)
        return images

    train_ds = train_ds.map(lambda img, label: (data_augmentation(img), label),
                            num_parallel_calls=AUTOTUNE)
    train_ds = train_ds.prefetch(AUTOTUNE)
    val_ds = val_ds.prefetch(AUTOTUNE)
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Rescaling(1.0 / 255)(inputs)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(1)(x))
    model.compile("adam", keras.losses.BinaryCrossentropy(from_logits=True),
                  metrics=[keras.metrics.BinaryAccuracy(name="acc")])
    h = model.fit(train_ds, epochs=2, validation_data=val_ds, verbose=0)
    assert len(h.history["val_acc"]) == 2
    for images, labels in train_ds.take(1):
        assert np.shape(images) == (4, 8, 8, 3) and labels.shape == (4,)


def test_text_pipeline_adapts_on_a_mapped_dataset(tmp_path):
    for cls, words in (("neg", "bad awful"), ("pos", "good great")):
        os.makedirs(tmp_path / cls)
        for i in range(4):
            (tmp_path / cls / f"{i}.txt").write_text(f"{words} {i}")
    raw = keras.utils.text_dataset_from_directory(str(tmp_path), batch_size=3, seed=1,
                                                  verbose=False)
    vectorize = keras.layers.TextVectorization(max_tokens=20, output_sequence_length=4)
    vectorize.adapt(raw.map(lambda x, y: x))
    train = raw.map(lambda x, y: (vectorize(x), y)).cache().prefetch(10)
    model = keras.Sequential([keras.Input((4,), dtype="int64"),
                              keras.layers.Embedding(20, 4),
                              keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(1)])
    model.compile("adam", "mse")
    model.fit(train, epochs=2, verbose=0)
    assert vectorize.vocabulary_size() > 4


# ---- Dataset.from_tensor_slices, batch, shuffle (tf.data's in-memory datasets) ---------

def test_from_tensor_slices_yields_rows_of_the_structure():
    from fastnet.utils.dataset_ops import Dataset

    cols = {"a": np.arange(5.0), "b": np.array(["p", "q", "r", "s", "t"])}
    ds = Dataset.from_tensor_slices((cols, np.arange(5) * 10))
    assert len(ds) == ds.cardinality() == 5
    x, y = ds[2]
    assert x == {"a": 2.0, "b": "r"} and y == 20
    assert [y for _, y in ds] == [0, 10, 20, 30, 40]
    assert Dataset.from_tensor_slices([[1, 2], [3, 4], [5, 6]])[1].tolist() == [3, 4]
    with pytest.raises(ValueError, match="same size in their first dimension"):
        Dataset.from_tensor_slices({"a": np.arange(3), "b": np.arange(4)})
    with pytest.raises(ValueError, match="leading dimension"):
        Dataset.from_tensor_slices(np.float32(1.0))


def test_batch_stacks_consecutive_elements():
    from fastnet.utils.dataset_ops import Dataset

    ds = Dataset.from_tensor_slices(({"a": np.arange(7.0)}, np.arange(7)))
    batches = list(ds.batch(3))
    assert [b[1].tolist() for b in batches] == [[0, 1, 2], [3, 4, 5], [6]]
    assert batches[0][0]["a"].tolist() == [0.0, 1.0, 2.0]
    assert len(ds.batch(3, drop_remainder=True)) == 2
    assert ds.batch(2).batch(2)[0][1].shape == (2, 2)  # a batch of batches, as tf.data
    with pytest.raises(ValueError, match="batch_size"):
        ds.batch(0)


def test_shuffle_is_a_permutation_reshuffled_each_epoch():
    from fastnet.utils.dataset_ops import Dataset

    ds = Dataset.from_tensor_slices(np.arange(50)).shuffle(50, seed=3)
    first = [int(v) for v in ds]
    second = [int(v) for v in ds]
    assert sorted(first) == sorted(second) == list(range(50))
    assert first != list(range(50)) and first != second
    fixed = Dataset.from_tensor_slices(np.arange(50)).shuffle(
        50, seed=3, reshuffle_each_iteration=False)
    assert [int(v) for v in fixed] == [int(v) for v in fixed]
    # a small buffer only moves elements forward by what it holds (tf.data's buffer)
    small = [int(v) for v in Dataset.from_tensor_slices(np.arange(50)).shuffle(4, seed=0)]
    assert sorted(small) == list(range(50))
    assert all(v <= i + 3 for i, v in enumerate(small))
    with pytest.raises(ValueError, match="buffer_size"):
        Dataset.from_tensor_slices(np.arange(3)).shuffle(0)
