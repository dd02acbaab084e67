"""Hashing: FarmHash Fingerprint64 and SipHash-2-4 bit-exact with TensorFlow (published
vectors), and the layer's bins equal to Keras 3's own hashing_test.py expectations."""

import numpy as np
import pytest
from oracle import assert_close

import fastnet
from fastnet import layers
from fastnet.layers.hashing import fingerprint64, siphash64

# TensorFlow's fingerprint_test.cc, Guava's FarmHashFingerprint64Test and ports of it:
# every length class of farmhashna::Hash64 (0-16, 17-32, 33-64, > 64 bytes).
FINGERPRINTS = {
    "": 11160318154034397263,
    "Q": 13816109650407654260,
    "e#p8": 252499459662674074,
    "Hello": 15404698994557526151,
    "World": 18308117990299812472,
    "test": 8581389452482819506,
    "K6Pjv<>ad": 16506019169567922731,
    "bF&d$MYIhB.Ac=qC": 17582099205024456557,
    "M)(iJ1-nf>5XCc0L?": 9968500208262240300,
    "test" * 8: (-4196240717365766262) % 2 ** 64,
    "F7479877-4690-4A44-AFC9-8FE987EA512F:some_other_id": 6862335115798125349,
    "0376d8dc-a717-425a-9dd2-d4b36bcaddac:65d52a5d-4f88-4a78-97c9-08464d44bbb6":
        14340110469024474010,
    "test" * 64: 3500507768004279527,
}


def test_fingerprint64_known_values():
    for s, want in FINGERPRINTS.items():
        assert fingerprint64(s) == want, (len(s), s)
        assert fingerprint64(s.encode()) == want


def test_siphash_reference_vector():
    # The SipHash paper's test vector: key 00..0f, message 00..0e -> a129ca6149be45e5.
    key = (int.from_bytes(bytes(range(8)), "little"), int.from_bytes(bytes(range(8, 16)), "little"))
    assert siphash64(key, bytes(range(15))) == 0xA129CA6149BE45E5


def _bins(layer, x):
    return np.asarray(layer(np.asarray(x)).numpy()).ravel().tolist()


def test_hashing_matches_keras_expectations():
    # The expected bins of keras/src/layers/preprocessing/hashing_test.py.
    abc = [["A"], ["B"], ["C"], ["D"], ["E"]]
    names = [["omar"], ["stringer"], ["marlo"], ["wire"], ["skywalker"]]
    ints = [[0], [1], [2], [3], [4]]
    assert _bins(layers.Hashing(3), abc) == [1, 0, 1, 1, 2]
    assert _bins(layers.Hashing(3, mask_value=""), [["A"], ["B"], [""], ["C"], ["D"]]) == \
        [1, 1, 0, 2, 2]
    assert _bins(layers.Hashing(3, salt=[133, 137]), abc) == [1, 2, 1, 0, 2]
    assert _bins(layers.Hashing(3, salt=133), abc) == [0, 0, 2, 1, 0]
    assert _bins(layers.Hashing(1), abc) == [0] * 5
    assert _bins(layers.Hashing(2), names) == [0, 0, 1, 0, 0]
    assert _bins(layers.Hashing(3, mask_value=""), names) == [1, 1, 2, 1, 1]
    assert _bins(layers.Hashing(3, mask_value="omar"), names) == [0, 1, 2, 1, 1]
    assert _bins(layers.Hashing(2), [n[0] for n in names]) == [0, 0, 1, 0, 0]
    assert _bins(layers.Hashing(3), ints) == [1, 0, 1, 0, 2]
    assert _bins(layers.Hashing(3), np.asarray(ints, np.float32)) == [1, 0, 1, 0, 2]
    assert _bins(layers.Hashing(2, salt=[133, 137]), names) == [0, 1, 0, 1, 0]
    assert _bins(layers.Hashing(2, salt=[211, 137]), names) == [1, 0, 1, 0, 1]
    assert _bins(layers.Hashing(3, salt=[133, 137]), ints) == [1, 1, 2, 0, 1]
    out = layers.Hashing(3)(np.array([["A"]]))
    assert out.dtype == "int64"


def test_hashing_output_modes_in_a_model():
    inputs = fastnet.Input(shape=(1,), dtype="int32")
    outputs = layers.Hashing(num_bins=3, output_mode="one_hot")(inputs)
    assert outputs.shape == (None, 3)
    model = fastnet.Model(inputs, outputs)
    assert_close(model(np.array([0, 1, 2, 3, 4])).numpy(),
                 np.eye(3)[[1, 0, 1, 0, 2]], atol=0)
    assert_close(layers.Hashing(3, output_mode="multi_hot")(np.array([[0, 1, 2, 3, 4]])).numpy(),
                 [[1.0, 1.0, 1.0]], atol=0)
    assert_close(layers.Hashing(3, output_mode="count")(np.array([[0, 1, 2, 3, 4]])).numpy(),
                 [[2.0, 2.0, 1.0]], atol=0)
    for mode in ("int", "one_hot", "multi_hot", "count"):
        for shape in ((4,), (4, 1), (3, 4)):
            layer = layers.Hashing(num_bins=5, output_mode=mode)
            assert tuple(layer.compute_output_shape((None,) + shape)) == \
                tuple(layer(fastnet.Input(shape=shape)).shape)
    layer = layers.Hashing(7, salt=[1, 2], mask_value="x", output_mode="count")
    cfg = layer.get_config()
    assert layers.Hashing.from_config(cfg).get_config() == cfg
    assert layers.deserialize(layers.serialize(layer)).salt == [1, 2]


def test_hashing_errors():
    with pytest.raises(ValueError, match="num_bins"):
        layers.Hashing(None)
    with pytest.raises(ValueError, match="num_bins"):
        layers.Hashing(-1)
    with pytest.raises(ValueError, match="salt"):
        layers.Hashing(2, salt="string")
    with pytest.raises(ValueError, match="salt"):
        layers.Hashing(2, salt=[1])
    with pytest.raises(ValueError, match="salt"):
        layers.Hashing(1, salt=[133, 137, 177])
    with pytest.raises(ValueError, match="output_mode"):
        layers.Hashing(3, output_mode="tf_idf")
    with pytest.raises(ValueError, match="dtype"):
        layers.Hashing(3, dtype="float32")


def test_lookup_oov_buckets_hash_as_keras():
    # num_oov_indices > 1: strings go to TensorFlow's to_hash_bucket_fast (Fingerprint64), or
    # with a salt to_hash_bucket_strong (SipHash); integers floormod unless oov_method='farmhash'.
    oov = ["x", "y", "zz", "Hello", "w"]
    lookup = layers.StringLookup(vocabulary=["a", "b"], num_oov_indices=3)
    assert lookup(np.array(["a", "b"] + oov)).numpy().tolist() == \
        [3, 4] + [fingerprint64(s) % 3 for s in oov]
    salted = layers.StringLookup(vocabulary=["a"], num_oov_indices=4, salt=[137, 42])
    assert salted(np.array(oov)).numpy().tolist() == [siphash64([137, 42], s) % 4 for s in oov]
    ints = layers.IntegerLookup(vocabulary=[1, 2], num_oov_indices=3)
    assert ints(np.array([100, 7])).numpy().tolist() == [100 % 3, 7 % 3]
    farm = layers.IntegerLookup(vocabulary=[1, 2], num_oov_indices=3, oov_method="farmhash")
    assert farm(np.array([100, 7])).numpy().tolist() == [fingerprint64("100") % 3,
                                                         fingerprint64("7") % 3]
    cfg = salted.get_config()
    assert cfg["salt"] == [137, 42]
    assert layers.StringLookup.from_config(cfg)(np.array(oov)).numpy().tolist() == \
        salted(np.array(oov)).numpy().tolist()
    with pytest.raises(ValueError, match="salt"):
        layers.IntegerLookup(vocabulary=[1], num_oov_indices=2, salt=3)
    with pytest.raises(ValueError, match="oov_method"):
        layers.StringLookup(oov_method="md5")
