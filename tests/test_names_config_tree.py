"""keras.config / keras.backend / keras.dtype_policies / keras.mixed_precision / keras.tree
names added for Keras 3 parity, against their Keras 3 behaviour (and Keras itself when
installed)."""

import collections
import logging
import os
import warnings

import numpy as np
import pytest
from oracle import rand

import fastnet
from fastnet import backend, config, dtype_policies, layers, mixed_precision, tree


def _keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    pytest.importorskip("torch")
    return keras


# ---- backend / config ------------------------------------------------------------------------
def test_backend_names_itself_and_cannot_switch():
    assert backend.backend() == config.backend() == "fastnet"
    config.set_backend("fastnet")
    with pytest.raises(ValueError, match="'jax'"):
        config.set_backend("jax")


def test_switches_for_features_fastnet_lacks():
    assert config.is_flash_attention_enabled() is False
    assert config.is_traceback_filtering_enabled() is False
    assert config.is_nnx_enabled() is False
    config.disable_flash_attention()
    config.disable_traceback_filtering()
    with pytest.raises(NotImplementedError, match="flash"):
        config.enable_flash_attention()
    with pytest.raises(NotImplementedError, match="traceback"):
        config.enable_traceback_filtering()


def test_set_floatx_only_float32():
    config.set_floatx("float32")
    assert config.floatx() == "float32"
    for value in ("float64", "float16", "bfloat16"):
        with pytest.raises(NotImplementedError, match=value):
            backend.set_floatx(value)
    with pytest.raises(ValueError, match="Unknown `floatx`"):
        config.set_floatx("int32")
    assert config.floatx() == "float32"


def test_set_image_data_format_changes_the_layers_default():
    x = rand((2, 1, 6, 6), seed=1)
    try:
        config.set_image_data_format("channels_first")
        assert backend.image_data_format() == "channels_first"
        pool = layers.MaxPooling2D(2)
        assert pool.data_format == "channels_first"
        got = fastnet.ops.convert_to_numpy(pool(x))
    finally:
        config.set_image_data_format("channels_last")
    want = x.reshape(2, 1, 3, 2, 3, 2).max(axis=(3, 5))
    np.testing.assert_array_equal(got, want)
    assert layers.MaxPooling2D(2).data_format == "channels_last"
    with pytest.raises(ValueError, match="data_format"):
        config.set_image_data_format("channels_middle")


@pytest.mark.parametrize("dtypes,want", [
    (("int32", "float32"), "float32"), (("int8", "uint8"), "int16"),
    (("uint32", "int32"), "int64"), (("bool", "int8"), "int8"),
    (("float16", "bfloat16"), "float32"), (("int64", "float32"), "float32"),
    (("float64", "int32"), "float64"), (("int32", float), "float32"),
    (("int8", int), "int8"), (("float16", float), "float16"), ((int, float), "float32"),
    (("bool",), "bool"), ((None,), "float32"), ((), "float32")])
def test_result_type_follows_keras_lattice(dtypes, want):
    assert backend.result_type(*dtypes) == want


def test_result_type_matches_keras():
    keras = _keras()
    names = ["bool", "uint8", "int8", "int16", "int32", "uint16", "float16", "bfloat16",
             "float32", int, float]
    for a in names:
        for b in names:
            try:
                want = keras.backend.result_type(a, b)
            except ValueError:
                with pytest.raises(ValueError):
                    backend.result_type(a, b)
                continue
            assert backend.result_type(a, b) == want, (a, b)


def test_dtype_predicates_and_is_keras_tensor():
    assert backend.is_float_dtype("bfloat16") and backend.is_float_dtype(np.float64)
    assert not backend.is_float_dtype("int32")
    assert backend.is_int_dtype("uint8") and backend.is_int_dtype(int)
    assert not backend.is_int_dtype("float32") and not backend.is_int_dtype("bool")
    with pytest.raises(ValueError, match="dtype"):
        backend.is_int_dtype("complex_thing")
    x = fastnet.Input((3,))
    assert backend.is_keras_tensor(x) and fastnet.utils.is_keras_tensor(x)
    assert not backend.is_keras_tensor(fastnet.ops.ones((3,)))


def test_max_epochs_and_steps_are_honoured():
    x, y = rand((40, 3), seed=1), rand((40, 1), seed=2)
    model = fastnet.Sequential([fastnet.Input((3,)), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    try:
        config.set_max_epochs(2)
        config.set_max_steps_per_epoch(3)
        assert config.max_epochs() == 2 and config.max_steps_per_epoch() == 3
        with pytest.warns(UserWarning, match="Limiting"):
            history = model.fit(x, y, batch_size=4, epochs=10, verbose=0)
        with pytest.warns(UserWarning, match="Limiting steps_per_epoch to 3"):
            preds = model.predict(x, batch_size=4, verbose=0)
    finally:
        config.set_max_epochs(None)
        config.set_max_steps_per_epoch(None)
    assert len(history.history["loss"]) == 2
    assert int(model.optimizer.iterations.numpy()) == 6
    assert preds.shape == (12, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(x, y, batch_size=4, epochs=1, verbose=0)  # no cap: no warning
    with pytest.raises(ValueError, match="max_epochs"):
        config.set_max_epochs(0)


def test_interactive_logging_sends_progress_to_logging(capsys, caplog):
    x, y = rand((8, 3), seed=1), rand((8, 1), seed=2)
    model = fastnet.Sequential([fastnet.Input((3,)), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    assert config.is_interactive_logging_enabled()
    model.fit(x, y, epochs=1, verbose=2)
    assert "Epoch 1/1" in capsys.readouterr().out
    try:
        fastnet.utils.disable_interactive_logging()
        assert not fastnet.utils.is_interactive_logging_enabled()
        with caplog.at_level(logging.INFO, logger="fastnet"):
            model.fit(x, y, epochs=1, verbose=2)
    finally:
        config.enable_interactive_logging()
    assert capsys.readouterr().out == ""
    messages = [r.getMessage() for r in caplog.records]
    assert "Epoch 1/1" in messages and any("loss" in m for m in messages)


# ---- dtype policies --------------------------------------------------------------------------
def test_dtype_policy_float32_and_round_trip():
    p = dtype_policies.DTypePolicy("float32")
    assert (p.name, p.compute_dtype, p.variable_dtype, p.quantization_mode) == \
        ("float32", "float32", "float32", None)
    assert dtype_policies.get("float32") == p and dtype_policies.DTypePolicy() == p
    cfg = dtype_policies.serialize(p)
    assert cfg == {"module": "keras", "class_name": "DTypePolicy",
                   "config": {"name": "float32"}, "registered_name": None}
    assert dtype_policies.deserialize(cfg) == p
    assert config.dtype_policy() == mixed_precision.global_policy() == p
    layer = layers.Dense(2, dtype=dtype_policies.DTypePolicy("float64"))
    layer.build((1, 3))
    assert layer.kernel.dtype == "float64"
    mixed_precision.set_global_policy("float32")
    config.set_dtype_policy(p)
    assert fastnet.DTypePolicy is dtype_policies.DTypePolicy
    assert mixed_precision.Policy is dtype_policies.DTypePolicy


@pytest.mark.parametrize("name", ["mixed_float16", "mixed_bfloat16", "float16", "bfloat16"])
def test_policies_fastnet_cannot_compute_in_raise_naming_them(name):
    with pytest.raises(NotImplementedError, match=name):
        mixed_precision.set_global_policy(name)
    with pytest.raises(NotImplementedError, match=name):
        dtype_policies.DTypePolicy(name)
    with pytest.raises(NotImplementedError, match=name):
        config.set_dtype_policy(name)
    assert config.dtype_policy().name == "float32"  # unchanged


def test_other_policy_errors():
    with pytest.raises(NotImplementedError, match="float64"):
        mixed_precision.set_global_policy("float64")
    with pytest.raises(ValueError, match="Cannot convert"):
        dtype_policies.DTypePolicy("nonsense")
    with pytest.raises(NotImplementedError, match="quantiz"):
        dtype_policies.deserialize({"class_name": "QuantizedDTypePolicy", "config": {}})


def test_dtype_policy_reads_keras_config():
    keras = _keras()
    k = keras.dtype_policies.DTypePolicy("float32")
    f = dtype_policies.deserialize(keras.dtype_policies.serialize(k))
    assert f.name == k.name and f.get_config() == k.get_config()
    assert dtype_policies.serialize(f) == keras.dtype_policies.serialize(k)


# ---- tree ------------------------------------------------------------------------------------
Point = collections.namedtuple("Point", ["x", "y"])
STRUCTURES = [
    {"b": [1, 2], "a": (3, None)}, [1, (2, [3, 4]), {"z": 5, "y": 6}], Point(1, [2, 3]),
    collections.OrderedDict([("b", 1), ("a", 2)]), 7, None, [], ((),)]


@pytest.mark.parametrize("s", STRUCTURES)
def test_tree_round_trips(s):
    flat = tree.flatten(s)
    assert tree.pack_sequence_as(s, flat) == s
    doubled = tree.map_structure(lambda v: None if v is None else v * 2, s)
    assert tree.flatten(doubled) == [None if v is None else v * 2 for v in flat]
    tree.assert_same_structure(s, doubled)
    assert [p for p, _ in tree.flatten_with_path(s)] == \
        [p for p, _ in tree.flatten_with_path(doubled)]


def test_tree_semantics():
    assert tree.flatten({"b": 1, "a": 2}) == [2, 1]  # sorted keys
    assert tree.flatten(collections.OrderedDict([("b", 1), ("a", 2)])) == [1, 2]
    assert tree.flatten([None, [None]]) == [None, None]  # None is a leaf
    assert tree.flatten_with_path({"a": [5, 6]}) == [(("a", 0), 5), (("a", 1), 6)]
    assert tree.is_nested([1]) and tree.is_nested({}) and not tree.is_nested(np.ones(3))
    out = tree.map_structure(lambda a, b: a + b, {"x": [1, 2]}, {"x": [10, 20]})
    assert out == {"x": [11, 22]}
    with pytest.raises(ValueError, match="same nested structure"):
        tree.map_structure(lambda a, b: a, [1, 2], (1, 2))
    with pytest.raises(ValueError, match="same nested structure"):
        tree.assert_same_structure({"a": 1}, {"b": 1})
    tree.assert_same_paths([1, 2], (3, 4))
    with pytest.raises(ValueError, match="same paths"):
        tree.assert_same_paths([1, 2], [1])
    assert tree.map_structure_up_to({"a": 0, "b": 0}, len, {"a": [1, 2], "b": (3,)}) == \
        {"a": 2, "b": 1}
    assert tree.lists_to_tuples([1, [2, {"a": [3]}]]) == (1, (2, {"a": (3,)}))
    assert tree.map_shape_structure(lambda s: len(s), {"a": (None, 3), "b": [(1, 2, 3)]}) == \
        {"a": 2, "b": [3]}
    assert tree.traverse(lambda x: tree.MAP_TO_NONE if x == 2 else None, [1, [2]]) == \
        [1, [None]]
    assert tree.traverse(lambda x: sum(x) if isinstance(x, list) else None, [1, [2, 3]],
                         top_down=False) == 6
    assert tree.map_structure(lambda v: 1, [None, 2], none_is_leaf=False) == [None, 1]
    with pytest.raises(ValueError, match="leaves"):
        tree.pack_sequence_as([1, 2], [1])


def test_tree_matches_keras():
    keras = _keras()
    try:
        keras.tree.flatten([1])
    except Exception:
        pytest.skip("keras.tree needs a tree backend (optree) that is not installed")
    for s in STRUCTURES:
        assert tree.flatten(s) == keras.tree.flatten(s)
        assert tree.flatten_with_path(s) == keras.tree.flatten_with_path(s)
        assert tree.is_nested(s) == keras.tree.is_nested(s)
        assert tree.map_structure(str, s) == keras.tree.map_structure(str, s)
        assert tree.lists_to_tuples(s) == keras.tree.lists_to_tuples(s)
