"""keras.utils.FeatureSpace: each feature type against a numpy formula, the layout of the
concatenated vector, the functional model, configs and `.keras` files, the keras.io
example's flow; Keras 3's own outputs from fixture files it wrote
(tools/make_feature_space_fixture.py), and Keras live where it can run FeatureSpace."""

import collections
import os
import subprocess
import sys

import numpy as np
import pytest
from keras_peer import keras_or_skip, to_numpy

import fastnet as keras
from fastnet import layers
from fastnet.utils import FeatureSpace
from fastnet.utils import dataset_ops as tf_data

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures", "keras")
sys.path.insert(0, os.path.join(HERE, os.pardir, "tools"))
from make_feature_space_fixture import spaces  # noqa: E402


def _np(x):
    return np.asarray(x.numpy() if hasattr(x, "numpy") else x)


def _columns(n=60, seed=0, keys=("num", "color", "size")):
    rng = np.random.default_rng(seed)
    cols = {
        "num": rng.normal(5.0, 3.0, n).astype("float32"),
        "color": rng.choice(["red", "green", "blue", "plum"], n, p=[.4, .3, .2, .1]),
        "size": rng.integers(0, 4, n),
    }
    return {k: cols[k] for k in keys}


def _vocab(values):
    """Keras's lookup order: most frequent first, ties the larger token first."""
    counts = collections.Counter(values.tolist())
    return sorted(counts, key=lambda t: (counts[t], t), reverse=True)


# ---- each feature type against numpy -----------------------------------------------

def test_float_normalized_is_the_columns_standard_score():
    data = _columns(keys=("num",))
    fs = FeatureSpace({"num": "float_normalized"})
    fs.adapt(data)
    x = data["num"].astype(np.float64)
    want = (x - x.mean()) / np.sqrt(x.var())
    out = _np(fs(data))
    assert out.shape == (60, 1) and out.dtype == np.float32
    np.testing.assert_allclose(out[:, 0], want, rtol=1e-5, atol=1e-5)
    norm = fs.preprocessors["num"]
    np.testing.assert_allclose(_np(norm.mean).ravel(), [x.mean()], rtol=1e-6)
    np.testing.assert_allclose(_np(norm.variance).ravel(), [x.var()], rtol=1e-5)


def test_float_and_float_rescaled():
    data = _columns()
    fs = FeatureSpace({"a": "float", "b": FeatureSpace.float_rescaled(scale=0.5, offset=2.0),
                       "c": "float_rescaled"})
    cols = {"a": data["num"], "b": data["num"] * 2, "c": data["num"] - 1}
    out = _np(fs(cols))  # nothing to adapt: usable right away
    np.testing.assert_allclose(out, np.stack([cols["a"], cols["b"] * 0.5 + 2.0, cols["c"]], 1),
                               rtol=1e-6)
    # integer and float64 columns come out float32, as Keras
    ints = fs({"a": np.arange(3), "b": np.ones(3), "c": np.arange(3.0)})
    assert ints.dtype == "float32"
    np.testing.assert_array_equal(_np(ints), [[0, 2.5, 0], [1, 2.5, 1], [2, 2.5, 2]])
    with pytest.raises(ValueError, match="same number of rows"):
        fs({"a": np.arange(3), "b": np.ones(4), "c": np.arange(3.0)})


def test_categorical_features_are_one_hot_at_their_vocabulary_index():
    data = _columns(keys=("color", "size"))
    fs = FeatureSpace({"color": "string_categorical", "size": "integer_categorical"},
                      output_mode="dict")
    fs.adapt(data)
    out = fs(data)
    for name in ("color", "size"):
        vocab = _vocab(data[name])
        index = {t: 1 + i for i, t in enumerate(vocab)}  # 0: the OOV slot
        want = np.zeros((60, len(vocab) + 1), np.float32)
        want[np.arange(60), [index[t] for t in data[name].tolist()]] = 1
        np.testing.assert_array_equal(_np(out[name]), want, err_msg=name)
    # a value adapt never saw goes to the OOV slot 0
    unseen = fs({"color": np.array(["mauve"]), "size": np.array([17])})
    assert _np(unseen["color"])[0, 0] == 1 and _np(unseen["size"])[0, 0] == 1


def test_categorical_options_num_oov_indices_and_max_tokens():
    data = _columns(keys=("color", "size"))
    fs = FeatureSpace({"color": FeatureSpace.string_categorical(num_oov_indices=0),
                       "size": FeatureSpace.integer_categorical(max_tokens=3)},
                      output_mode="dict")
    fs.adapt(data)
    out = fs(data)
    vocab = _vocab(data["color"])
    np.testing.assert_array_equal(np.argmax(_np(out["color"]), 1),
                                  [vocab.index(t) for t in data["color"].tolist()])
    size_vocab = _vocab(data["size"])[:2]  # max_tokens=3: OOV + the 2 most frequent
    want = [1 + size_vocab.index(v) if v in size_vocab else 0 for v in data["size"].tolist()]
    assert _np(out["size"]).shape == (60, 3)
    np.testing.assert_array_equal(np.argmax(_np(out["size"]), 1), want)


def test_float_discretized_one_hot_of_the_bin():
    data = _columns(200, keys=("num",))
    fs = FeatureSpace({"num": FeatureSpace.float_discretized(num_bins=4)}, output_mode="dict")
    fs.adapt(data)
    bounds = np.asarray(fs.preprocessors["num"].bin_boundaries)
    assert len(bounds) == 3
    # quartile boundaries (Keras's approximate quantiles: within a few ranks)
    ranks = np.searchsorted(np.sort(data["num"]), bounds)
    np.testing.assert_allclose(ranks, [50, 100, 150], atol=4)
    out = _np(fs(data)["num"])
    assert out.shape == (200, 4)
    np.testing.assert_array_equal(np.argmax(out, 1), np.digitize(data["num"], bounds))
    # "float_discretized" by name takes num_discretization_bins
    named = FeatureSpace({"num": "float_discretized"}, num_discretization_bins=7)
    assert named.preprocessors["num"].num_bins == 7


def test_hashed_features_are_the_hashing_layers_bins():
    data = _columns(keys=("color", "size"))
    fs = FeatureSpace({"color": "string_hashed", "size": FeatureSpace.integer_hashed(5)},
                      hashing_dim=16, output_mode="dict")
    out = fs(data)  # hashing needs no adapt
    for name, bins in (("color", 16), ("size", 5)):
        idx = _np(layers.Hashing(bins)(data[name][:, None])).ravel()
        want = np.eye(bins, dtype=np.float32)[idx]
        np.testing.assert_array_equal(_np(out[name]), want, err_msg=name)


def test_crosses_hash_the_preprocessed_values():
    data = _columns(keys=("color", "size"))
    fs = FeatureSpace({"color": "string_categorical", "size": "integer_categorical"},
                      crosses=[("color", "size"),
                               FeatureSpace.cross(("size", "color"), 7, output_mode="int")],
                      crossing_dim=12, output_mode="dict")
    fs.adapt(data)
    out = fs(data)
    assert sorted(out) == ["color", "color_X_size", "size", "size_X_color"]
    ci = fs.preprocessors["color"](data["color"][:, None])
    si = fs.preprocessors["size"](data["size"][:, None])
    want = _np(layers.HashedCrossing(12)([ci, si])).ravel()
    np.testing.assert_array_equal(_np(out["color_X_size"]), np.eye(12, dtype=np.float32)[want])
    want_int = _np(layers.HashedCrossing(7)([si, ci]))
    np.testing.assert_array_equal(_np(out["size_X_color"]), want_int)
    assert fs.crossers["color_X_size"].num_bins == 12


# ---- layout and calling ------------------------------------------------------------------

def test_concat_is_sorted_features_then_sorted_crosses():
    data = _columns()
    fs = FeatureSpace({"size": "integer_categorical", "num": "float_normalized",
                       "color": "string_categorical"},
                      crosses=[("size", "color"), ("color", "size")], crossing_dim=4)
    fs.adapt(data)
    cat = _np(fs(data))
    parts = FeatureSpace.from_config(fs.get_config())
    parts.output_mode = "dict"
    d = {**fs.get_config(), "output_mode": "dict"}
    dict_fs = FeatureSpace.from_config(d)
    dict_fs.adapt(data)
    pieces = dict_fs(data)
    order = ["color", "num", "size", "color_X_size", "size_X_color"]
    np.testing.assert_allclose(cat, np.concatenate([_np(pieces[k]) for k in order], 1),
                               rtol=1e-6)
    assert cat.shape == (60, 5 + 1 + 5 + 4 + 4)


def test_one_row_and_a_batch_of_rows():
    data = _columns(keys=("num", "color"))
    fs = FeatureSpace({"num": "float_normalized", "color": "string_categorical"})
    fs.adapt(data)
    batch = _np(fs(data))
    row = fs({"num": data["num"][3], "color": data["color"][3]})  # scalars: one vector
    assert tuple(row.shape) == (batch.shape[1],)
    np.testing.assert_allclose(_np(row), batch[3], rtol=1e-6)
    plain = fs({"num": float(data["num"][3]), "color": str(data["color"][3])})
    np.testing.assert_allclose(_np(plain), batch[3], rtol=1e-6)
    lists = fs({"num": data["num"][:4].tolist(), "color": data["color"][:4].tolist()})
    np.testing.assert_allclose(_np(lists), batch[:4], rtol=1e-6)
    column = fs({"num": data["num"][:4, None], "color": data["color"][:4, None]})
    np.testing.assert_allclose(_np(column), batch[:4], rtol=1e-6)
    dict_fs = FeatureSpace({"num": "float_normalized", "color": "string_categorical"},
                           output_mode="dict")
    dict_fs.adapt(data)
    one = dict_fs({"num": data["num"][0], "color": data["color"][0]})
    assert tuple(one["num"].shape) == (1,) and tuple(one["color"].shape) == (5,)


def test_functional_model_from_inputs_and_encoded_features():
    data = _columns()
    fs = FeatureSpace({"num": "float_normalized", "color": "string_categorical",
                       "size": "integer_categorical"}, crosses=[("color", "size")],
                      crossing_dim=8)
    fs.adapt(data)
    inputs = fs.get_inputs()
    assert sorted(inputs) == ["color", "num", "size"]
    assert inputs["color"].dtype == "string" and inputs["size"].dtype == "int32"
    assert tuple(inputs["num"].shape) == (None, 1)
    encoded = fs.get_encoded_features()
    assert tuple(encoded.shape) == (None, 5 + 1 + 5 + 8)
    model = keras.Model(inputs, encoded)
    np.testing.assert_allclose(model.predict({k: v[:, None] for k, v in data.items()},
                                             verbose=0), _np(fs(data)), rtol=1e-6)


def test_datasets_map_the_feature_space():
    data = _columns(50)
    labels = np.arange(50) % 2
    ds = tf_data.Dataset.from_tensor_slices((data, labels)).batch(16)
    fs = FeatureSpace({"num": "float_normalized", "color": "string_categorical",
                       "size": "integer_categorical"})
    fs.adapt(ds.map(lambda x, y: x))
    ref = FeatureSpace({"num": "float_normalized", "color": "string_categorical",
                        "size": "integer_categorical"})
    ref.adapt(data)
    np.testing.assert_allclose(_np(fs(data)), _np(ref(data)), rtol=1e-5, atol=1e-6)
    unlabeled = ds.map(lambda x, y: x).map(fs)  # the callable itself, as Keras's docs
    assert [tuple(b.shape) for b in unlabeled] == [(16, 11)] * 3 + [(2, 11)]
    for x, y in ds.map(lambda x, y: (fs(x), y)).take(1):
        assert tuple(x.shape) == (16, 11) and y.tolist() == labels[:16].tolist()
    unbatched = FeatureSpace({"num": "float_normalized", "size": "integer_categorical"})
    unbatched.adapt(tf_data.Dataset.from_tensor_slices({"num": data["num"],
                                                         "size": data["size"]}))
    np.testing.assert_allclose(
        _np(unbatched({"num": data["num"], "size": data["size"]})),
        _np(ref(data))[:, 5:], rtol=1e-5, atol=1e-6)


# ---- errors ---------------------------------------------------------------------------

def test_errors_name_the_problem():
    data = _columns()
    fs = FeatureSpace({"num": "float_normalized", "color": "string_categorical"})
    with pytest.raises(ValueError, match=r"call `\.adapt\(dataset\)`"):
        fs(data)
    with pytest.raises(ValueError, match="adapt"):
        fs.get_encoded_features()
    fs.adapt({"num": data["num"], "color": data["color"]})
    with pytest.raises(ValueError, match=r"missing \['color'\]"):
        fs({"num": data["num"]})
    with pytest.raises(ValueError, match=r"unknown \['size'\]"):
        fs({"num": data["num"], "color": data["color"], "size": data["size"]})
    with pytest.raises(ValueError, match="can only be called with a dict"):
        fs(data["num"])
    with pytest.raises(ValueError, match="Invalid feature type: floaty"):
        FeatureSpace({"num": "floaty"})
    with pytest.raises(ValueError, match="output_mode=vector"):
        FeatureSpace({"num": "float"}, output_mode="vector")
    with pytest.raises(ValueError, match="output_mode=dense"):
        FeatureSpace.string_categorical(output_mode="dense")
    with pytest.raises(ValueError, match="output_mode=multi_hot"):
        FeatureSpace.cross(("a", "b"), 4, output_mode="multi_hot")
    with pytest.raises(ValueError, match="unknown features"):
        FeatureSpace({"num": "float"}, crosses=[("num", "nope")])
    with pytest.raises(ValueError, match="cannot be None or empty"):
        FeatureSpace({})
    with pytest.raises(TypeError, match="foo"):
        FeatureSpace({"num": "float"}, foo=1)
    with pytest.raises(ValueError, match="should return an integer dtype"):
        FeatureSpace({"num": FeatureSpace.feature("float32", layers.Rescaling(1.0),
                                                  "one_hot")})({"num": data["num"]})
    with pytest.raises(ValueError, match="Cannot concatenate features because feature 'c'"):
        FeatureSpace({"c": FeatureSpace.string_hashed(4, output_mode="int")})(
            {"c": data["color"]})
    labeled = tf_data.Dataset.from_tensor_slices((data, np.zeros(60))).batch(8)
    fresh = FeatureSpace({"num": "float_normalized"})
    with pytest.raises(ValueError, match=r"map\(lambda x, y: x\)"):
        fresh.adapt(labeled)
    with pytest.raises(ValueError, match="feature 'num' is missing"):
        fresh.adapt({"other": data["num"]})
    with pytest.raises(ValueError, match="can only be called on a dataset or a dict"):
        fresh.adapt(3.0)


# ---- configs and files ------------------------------------------------------------------

def test_config_round_trip_and_custom_feature():
    data = _columns()
    data["shade"] = data["color"][::-1].copy()
    fs = FeatureSpace({"num": "float_normalized", "color": "string_categorical",
                       "shade": "string_hashed",
                       "size": FeatureSpace.feature(
                           "int32", layers.IntegerLookup(output_mode="one_hot"), "float")},
                      crosses=[FeatureSpace.cross(("color", "shade"), 6)], output_mode="dict")
    cfg = fs.get_config()
    assert set(cfg) == {"features", "output_mode", "crosses", "crossing_dim", "hashing_dim",
                        "num_discretization_bins"}
    assert cfg["features"]["num"]["class_name"] == "Feature"
    assert cfg["features"]["num"]["config"]["preprocessor"]["class_name"] == "Normalization"
    assert cfg["crosses"][0]["config"] == {"feature_names": ("color", "shade"),
                                           "crossing_dim": 6, "output_mode": "one_hot"}
    again = FeatureSpace.from_config(cfg)
    assert again.get_config() == cfg
    fs.adapt(data)
    again.adapt(data)
    a, b = fs(data), again(data)
    for k in a:
        np.testing.assert_array_equal(_np(a[k]), _np(b[k]), err_msg=k)
    # the custom preprocessor's own one-hot output, as a float feature
    vocab = _vocab(data["size"])
    np.testing.assert_array_equal(np.argmax(_np(a["size"]), 1),
                                  [1 + vocab.index(v) for v in data["size"].tolist()])


def test_save_and_load_keras_file(tmp_path):
    data = _columns()
    fs = FeatureSpace({"num": "float_normalized", "color": "string_categorical",
                       "size": "integer_categorical", "d": FeatureSpace.float_discretized(3)},
                      crosses=[("color", "size")], crossing_dim=8)
    fs.adapt({**data, "d": data["num"]})
    path = str(tmp_path / "fs.keras")
    fs.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, FeatureSpace)
    cols = {**data, "d": data["num"]}
    np.testing.assert_array_equal(_np(loaded(cols)), _np(fs(cols)))
    assert loaded.preprocessors["color"].get_vocabulary() == \
        fs.preprocessors["color"].get_vocabulary()
    with pytest.raises(ValueError, match="must end in `.keras`"):
        fs.save(str(tmp_path / "fs.h5"))


def test_adapted_lookups_keep_their_vocabulary_in_a_model_file(tmp_path):
    words = np.array([["b"], ["a"], ["b"], ["c"]])
    lookup = layers.StringLookup(output_mode="one_hot")
    lookup.adapt(words)
    inputs = keras.Input(shape=(1,), dtype="string")
    model = keras.Model(inputs, lookup(inputs))
    for zipped, name in ((True, "m.keras"), (False, "m_dir")):
        path = str(tmp_path / name)
        keras.saving.save_model(model, path, zipped=zipped)
        again = keras.models.load_model(path)
        np.testing.assert_array_equal(again.predict(words, verbose=0),
                                      model.predict(words, verbose=0))
        assert again.layers[1].get_vocabulary() == ["[UNK]", "b", "c", "a"]


# ---- Keras 3 itself ----------------------------------------------------------------------

def _fixture(name):
    with np.load(os.path.join(FIXTURES, f"k3_feature_space_{name}.npz")) as f:
        z = dict(f)
    names = [k[len("train_"):] for k in z if k.startswith("train_")]
    return z, {k: z["train_" + k] for k in names}, {k: z["test_" + k] for k in names}


def test_keras_written_feature_spaces_load_and_match():
    z, _, test = _fixture("concat")
    fs = keras.models.load_model(os.path.join(FIXTURES, "k3_feature_space_concat.keras"))
    np.testing.assert_allclose(_np(fs(test)), z["concat"], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(_np(fs({k: v[0] for k, v in test.items()})), z["row0"],
                               rtol=1e-6, atol=1e-6)
    z, _, test = _fixture("dict")
    fs = keras.models.load_model(os.path.join(FIXTURES, "k3_feature_space_dict.keras"))
    out = fs({k: test[k] for k in fs.features})
    assert sorted(out) == sorted(k[4:] for k in z if k.startswith("out_"))
    for k, v in out.items():
        assert str(v.dtype) == str(z["out_" + k].dtype), k
        np.testing.assert_allclose(_np(v), z["out_" + k], rtol=1e-6, atol=1e-6, err_msg=k)


def test_adapting_like_keras_gives_keras_state_and_vectors():
    concat, dict_space = spaces(FeatureSpace)
    z, train, test = _fixture("concat")
    concat.adapt(train)
    np.testing.assert_allclose(concat.preprocessors["fd"].bin_boundaries, z["boundaries"],
                               rtol=1e-6)
    assert concat.preprocessors["sc"].get_vocabulary()[2:] == z["vocab_sc"].tolist()
    assert concat.preprocessors["ic"].get_vocabulary()[1:] == z["vocab_ic"].tolist()
    np.testing.assert_allclose(_np(concat.preprocessors["fn"].mean).ravel(), z["mean_fn"],
                               rtol=1e-6)
    np.testing.assert_allclose(_np(concat.preprocessors["fn"].variance).ravel(), z["var_fn"],
                               rtol=1e-5)
    np.testing.assert_allclose(_np(concat(test)), z["concat"], rtol=1e-5, atol=1e-5)
    z, train, test = _fixture("dict")
    dict_space.adapt({k: train[k] for k in dict_space.features})
    out = dict_space({k: test[k] for k in dict_space.features})
    for k, v in out.items():
        np.testing.assert_allclose(_np(v), z["out_" + k], rtol=1e-5, atol=1e-5, err_msg=k)


def test_against_keras_live():
    k = keras_or_skip()
    pytest.importorskip("tensorflow", reason="Keras's FeatureSpace runs on tf.data")
    z, train, test = _fixture("concat")
    theirs, _ = spaces(k.utils.FeatureSpace)
    ours, _ = spaces(FeatureSpace)
    theirs.adapt(train)
    ours.adapt(train)
    np.testing.assert_allclose(_np(ours(test)), to_numpy(theirs(test)), rtol=1e-5, atol=1e-5)


KERAS_LOADS = r"""
import os, sys
os.environ["KERAS_BACKEND"] = "tensorflow"
import numpy as np, keras
d = sys.argv[1]
fs = keras.models.load_model(os.path.join(d, "fs.keras"))
z = dict(np.load(os.path.join(d, "fs.npz")))
test = {k[5:]: v for k, v in z.items() if k.startswith("test_")}
np.testing.assert_allclose(keras.ops.convert_to_numpy(fs(test)), z["out"], rtol=1e-5,
                           atol=1e-5)
print("keras ok")
"""


@pytest.mark.skipif(not os.environ.get("FASTNET_TF_KERAS_PYTHON"),
                    reason="set FASTNET_TF_KERAS_PYTHON to a Python with tensorflow and "
                           "Keras 3 (never installed beside fastnet's own environment)")
def test_fastnet_file_loads_in_keras(tmp_path):
    _, train, test = _fixture("concat")
    fs, _ = spaces(FeatureSpace)
    fs.adapt(train)
    fs.save(str(tmp_path / "fs.keras"))
    np.savez(tmp_path / "fs.npz", out=_np(fs(test)), **{f"test_{k}": v for k, v in test.items()})
    proc = subprocess.run([os.environ["FASTNET_TF_KERAS_PYTHON"], "-c", KERAS_LOADS,
                           str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0 and "keras ok" in proc.stdout, proc.stderr[-3000:]


# ---- the keras.io example: "Structured data classification with FeatureSpace" ----------

def test_keras_io_structured_data_example_flow():
    rng = np.random.default_rng(7)
    n = 96
    frame = {"age": rng.integers(29, 77, n), "sex": rng.integers(0, 2, n),
             "cp": rng.integers(0, 5, n), "trestbps": rng.integers(94, 200, n),
             "chol": rng.integers(126, 564, n), "oldpeak": rng.uniform(0, 6, n).round(1),
             "ca": rng.integers(0, 4, n),
             "thal": rng.choice(["fixed", "normal", "reversible"], n)}
    labels = (frame["chol"] > 300).astype("int64")

    def dataframe_to_dataset(frame, labels):
        ds = tf_data.Dataset.from_tensor_slices((dict(frame), labels))
        return ds.shuffle(buffer_size=len(labels), seed=1)

    train_ds = dataframe_to_dataset(frame, labels)
    for x, y in train_ds.take(1):
        assert sorted(x) == sorted(frame) and np.ndim(y) == 0
    train_ds = train_ds.batch(32)
    feature_space = FeatureSpace(
        features={"sex": FeatureSpace.integer_categorical(num_oov_indices=0),
                  "cp": "integer_categorical", "ca": "integer_categorical",
                  "thal": FeatureSpace.string_categorical(num_oov_indices=0),
                  "age": FeatureSpace.float_discretized(num_bins=10),
                  "trestbps": "float_normalized", "chol": "float_normalized",
                  "oldpeak": "float_normalized"},
        crosses=[FeatureSpace.cross(feature_names=("sex", "age"), crossing_dim=16),
                 FeatureSpace.cross(feature_names=("thal", "ca"), crossing_dim=8)],
        output_mode="concat")
    feature_space.adapt(train_ds.map(lambda x, _: x))
    width = 2 + 6 + 5 + 3 + 10 + 3 + 16 + 8
    for x, _ in train_ds.take(1):
        preprocessed_x = feature_space(x)
        assert tuple(preprocessed_x.shape) == (32, width)
        assert preprocessed_x.dtype == "float32"
    preprocessed_train_ds = train_ds.map(lambda x, y: (feature_space(x), y),
                                         num_parallel_calls=tf_data.AUTOTUNE)
    preprocessed_train_ds = preprocessed_train_ds.prefetch(tf_data.AUTOTUNE)
    dict_inputs = feature_space.get_inputs()
    encoded_features = feature_space.get_encoded_features()
    x = layers.Dense(8, activation="relu")(encoded_features)
    predictions = layers.Dense(1, activation="sigmoid")(x)
    training_model = keras.Model(inputs=encoded_features, outputs=predictions)
    training_model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    inference_model = keras.Model(inputs=dict_inputs, outputs=predictions)
    history = training_model.fit(preprocessed_train_ds, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    sample = {"age": 60, "sex": 1, "cp": 1, "trestbps": 145, "chol": 233, "oldpeak": 2.3,
              "ca": 0, "thal": "fixed"}
    input_dict = {name: np.asarray([value]) for name, value in sample.items()}
    p = inference_model.predict(input_dict, verbose=0)
    assert p.shape == (1, 1)
    want = training_model.predict(_np(feature_space(sample))[None], verbose=0)
    np.testing.assert_allclose(p, want, rtol=1e-6)
