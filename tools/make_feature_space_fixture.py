"""Write tests/fixtures/keras/k3_feature_space_{concat,dict}.keras and .npz with real Keras 3.

keras.utils.FeatureSpace needs TensorFlow (tf.data) whatever the backend, so this runs in
the separate TensorFlow venv (never install TensorFlow into the shared environment):

    KERAS_BACKEND=tensorflow /tmp/tfvenv/bin/python tools/make_feature_space_fixture.py

Each FeatureSpace is adapted on ``train`` (a dict of columns) and saved; the .npz holds
the columns (``train_<name>``, ``test_<name>``: test rows include values adapt never
saw) and Keras's outputs: ``concat`` / ``row0`` (the first test row alone) for the
concat space, ``out_<key>`` for each entry of the dict space, and the learned state
(``boundaries``, ``vocab_sc``, ``vocab_ic``, ``mean_fn``, ``var_fn``).
"""

from __future__ import annotations

import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, os.pardir, "tests", "fixtures", "keras")


def columns(rng, n, unseen=False):
    ic = rng.integers(0, 6, n)
    sc = rng.choice(["red", "green", "blue", "cyan", "plum"], n, p=[.4, .25, .15, .12, .08])
    if unseen:  # values the vocabularies never saw
        ic[:3] = [17, 99, -4]
        sc[:3] = ["mauve", "teal", ""]
    return {
        "f": rng.normal(size=n).astype("float32"),
        "fn": rng.normal(3.0, 2.0, n).astype("float32"),
        "fd": rng.uniform(0, 10, n).astype("float32"),
        "fr": rng.normal(size=n).astype("float32"),
        "ic": ic.astype("int64"),
        "sc": sc,
        "sh": rng.choice(["x", "y", "z", "w"], n),
        "ih": rng.integers(0, 1000, n).astype("int64"),
    }


def spaces(FeatureSpace):
    concat = FeatureSpace(
        features={
            "f": "float",
            "fn": "float_normalized",
            "fd": FeatureSpace.float_discretized(num_bins=5),
            "fr": FeatureSpace.float_rescaled(scale=0.5, offset=-1.0),
            "ic": FeatureSpace.integer_categorical(max_tokens=6),
            "sc": FeatureSpace.string_categorical(num_oov_indices=2),
            "sh": "string_hashed",
            "ih": "integer_hashed",
        },
        crosses=[("ic", "sc"), FeatureSpace.cross(("sh", "fd"), crossing_dim=8)],
        crossing_dim=16, hashing_dim=8, output_mode="concat")
    dict_space = FeatureSpace(
        features={
            "fn": "float_normalized",
            "fd": FeatureSpace.float_discretized(num_bins=4, output_mode="int"),
            "ic": FeatureSpace.integer_categorical(output_mode="int"),
            "sc": "string_categorical",
            "sh": FeatureSpace.string_hashed(num_bins=6, output_mode="int"),
        },
        crosses=[FeatureSpace.cross(("ic", "sc"), crossing_dim=10, output_mode="int"),
                 FeatureSpace.cross(("sh", "fd"), crossing_dim=5)],
        output_mode="dict")
    return concat, dict_space


def main():
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras
    from keras.utils import FeatureSpace

    rng = np.random.default_rng(2024)
    train, test = columns(rng, 80), columns(rng, 12, unseen=True)
    concat, dict_space = spaces(FeatureSpace)
    for fs in (concat, dict_space):
        fs.adapt({k: train[k] for k in fs.features})
    np_ = keras.ops.convert_to_numpy
    common = {**{f"train_{k}": v for k, v in train.items()},
              **{f"test_{k}": v for k, v in test.items()}}
    concat.save(os.path.join(OUT, "k3_feature_space_concat.keras"))
    norm = concat.preprocessors["fn"]
    np.savez(os.path.join(OUT, "k3_feature_space_concat.npz"), **common,
             concat=np_(concat(test)), row0=np_(concat({k: v[0] for k, v in test.items()})),
             boundaries=np.asarray(concat.preprocessors["fd"].bin_boundaries),
             vocab_sc=np.asarray(concat.preprocessors["sc"].get_vocabulary()[2:]),
             vocab_ic=np.asarray(concat.preprocessors["ic"].get_vocabulary()[1:]),
             mean_fn=np_(norm.mean).reshape(-1), var_fn=np_(norm.variance).reshape(-1))
    dict_space.save(os.path.join(OUT, "k3_feature_space_dict.keras"))
    out = dict_space({k: test[k] for k in dict_space.features})
    np.savez(os.path.join(OUT, "k3_feature_space_dict.npz"), **common,
             **{f"out_{k}": np_(v) for k, v in out.items()})
    print("wrote", sorted(out))


if __name__ == "__main__":
    main()
