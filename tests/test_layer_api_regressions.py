"""Regression tests for what the layer harness and the API fuzz found (issues 11 and 18)."""

import numpy as np
import pytest

import fastnet
from fastnet import layers


@pytest.fixture(autouse=True)
def fresh_names():
    fastnet.backend.clear_session()


def _x(*shape):
    return np.random.default_rng(0).uniform(-1, 1, shape).astype("float32")


# ---- absurd sizes are refused, not a MemoryError ----------------------------------------------

@pytest.mark.parametrize("make,shape", [
    (lambda: layers.Dense(2**40), (2, 3)),
    (lambda: layers.Embedding(2**40, 3), (2, 3)),
    (lambda: layers.Conv2D(2**40, 3), (1, 5, 5, 2)),
    (lambda: layers.LSTM(2**40), (1, 4, 3)),
    (lambda: layers.UpSampling1D(2**40), (1, 4, 3)),
    (lambda: layers.RepeatVector(2**40), (2, 3)),
    (lambda: layers.CategoryEncoding(2**40), (2, 3)),
])
def test_sizes_beyond_the_machine_are_a_value_error_naming_the_layer(make, shape):
    layer = make()
    x = np.zeros(shape, "int32" if isinstance(layer, (layers.Embedding,
                                                      layers.CategoryEncoding)) else "float32")
    with pytest.raises(ValueError, match=type(layer).__name__) as e:
        layer(x)
    assert "memory" in str(e.value)


def test_a_layer_of_a_normal_size_still_builds():
    assert layers.Dense(4)(_x(2, 3)).shape == (2, 4)


# ---- errors inside build/call name the layer (Keras's calling context) -----------------------

class _Fails(layers.Layer):
    def call(self, inputs):
        raise ValueError("bad data")

    def compute_output_shape(self, input_shape):
        return input_shape


def test_an_error_inside_call_names_the_layer_and_keeps_its_type_and_text():
    layer = _Fails(name="checker")
    with pytest.raises(ValueError, match=r"_Fails 'checker': bad data"):
        layer(_x(2, 3))


def test_the_innermost_layer_is_named_once():
    model = fastnet.Sequential([fastnet.Input((3,)), _Fails(name="inner")])
    with pytest.raises(ValueError) as e:
        model(_x(2, 3))
    assert str(e.value).count("Exception encountered") == 1 and "'inner'" in str(e.value)


def test_a_message_that_already_names_the_layer_is_left_alone():
    dense = layers.Dense(2, name="d")
    dense.build((None, 4))
    with pytest.raises(ValueError) as e:
        dense(_x(2, 3))
    assert str(e.value).startswith('Input 0 of layer "d"')


# ---- constructor arguments: clean errors naming the argument ---------------------------------

@pytest.mark.parametrize("make,arg", [
    (lambda: layers.Conv2D(2, kernel_size=2.5), "kernel_size"),
    (lambda: layers.Conv1D(2, 3, dilation_rate=(1, 2)), "dilation_rate"),
    (lambda: layers.MaxPooling2D(padding=0), "padding"),  # was AttributeError
    (lambda: layers.ConvLSTM2D(2, 3, padding=0), "padding"),
    (lambda: layers.Cropping2D(cropping=2.5), "cropping"),
    (lambda: layers.ZeroPadding2D(padding=(1, -1)), "padding"),
    (lambda: layers.Reshape(0), "target_shape"),
    (lambda: layers.Permute(0), "dims"),
    (lambda: layers.Dropout(None), "rate"),
    (lambda: layers.ReLU(max_value="x"), "max_value"),
    (lambda: layers.BatchNormalization(momentum=None), "momentum"),
    (lambda: layers.Embedding(None, 3), "input_dim"),
    (lambda: layers.CategoryEncoding(num_tokens="x"), "num_tokens"),
    (lambda: layers.CenterCrop(-1, 3), "height"),
    (lambda: layers.UpSampling1D(data_format="channels_first"), "data_format"),
    (lambda: layers.Cropping1D(data_format="channels_first"), "data_format"),
    (lambda: layers.UpSampling3D(interpolation="bilinear"), "interpolation"),
])
def test_bad_constructor_arguments_are_named(make, arg):
    with pytest.raises((ValueError, TypeError), match=arg):
        make()


def test_dot_with_mismatched_axes_names_the_axes():
    with pytest.raises(ValueError, match="axes"):
        layers.Dot(axes=(1, 1))([_x(2, 3, 4), _x(2, 5, 4)])


# ---- Keras defaults and forms of the 1-D/3-D reshaping layers ---------------------------------

def test_cropping_defaults_are_keras():
    x = _x(2, 6, 3)
    np.testing.assert_array_equal(layers.Cropping1D()(x), x[:, 1:-1])
    np.testing.assert_array_equal(layers.Cropping1D((2, 1))(x), x[:, 2:-1])
    v = _x(1, 4, 4, 4, 2)
    np.testing.assert_array_equal(layers.Cropping3D()(v), v[:, 1:-1, 1:-1, 1:-1])


def test_zero_padding_1d_takes_a_left_right_pair():
    x = _x(2, 3, 2)
    np.testing.assert_array_equal(layers.ZeroPadding1D((1, 2))(x),
                                  np.pad(x, ((0, 0), (1, 2), (0, 0))))
    assert layers.ZeroPadding1D((1, 2)).get_config()["padding"] == [1, 2]


# ---- configs keep their arguments ---------------------------------------------------------------

@pytest.mark.parametrize("layer,key,value", [
    (layers.ELU(alpha=0.5), "alpha", 0.5),
    (layers.Softmax(axis=1), "axis", 1),
    (layers.LayerNormalization(rms_scaling=True), "rms_scaling", True),
    (layers.ConvLSTM2D(2, 3, activation="relu"), "activation", "relu"),
])
def test_config_keeps_the_argument(layer, key, value):
    config = layer.get_config()
    assert config[key] == value
    assert type(layer).from_config(config).get_config()[key] == value


def test_batch_norm_config_keeps_its_regularizers():
    bn = layers.BatchNormalization(gamma_regularizer="l2")
    clone = layers.BatchNormalization.from_config(bn.get_config())
    clone(_x(4, 3), training=False)
    assert len(clone.losses) == 1


def test_a_saved_model_with_wrappers_loads(tmp_path):
    x = _x(2, 4, 3)
    model = fastnet.Sequential([fastnet.Input((4, 3)), layers.Bidirectional(layers.LSTM(3)),
                                layers.RepeatVector(2), layers.TimeDistributed(layers.Dense(2))])
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = fastnet.saving.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6)


# ---- gradients and shapes ------------------------------------------------------------------------

@pytest.mark.parametrize("layer", [layers.CenterCrop(2, 2), layers.RandomFlip(seed=1)])
def test_image_preprocessing_passes_the_input_gradient(layer):
    x = fastnet.ops.convert_to_tensor(_x(2, 4, 4, 1))
    with fastnet.GradientTape() as tape:
        tape.watch(x)
        y = fastnet.ops.sum(layer(x, training=False) * 2.0)
    g = tape.gradient(y, x)
    assert g is not None
    want = np.zeros((2, 4, 4, 1), "float32")
    if isinstance(layer, layers.CenterCrop):
        want[:, 1:3, 1:3] = 2.0
    else:
        want[:] = 2.0
    np.testing.assert_allclose(np.asarray(g), want)


def test_category_encoding_symbolic_shape_is_its_eager_shape():
    layer = layers.CategoryEncoding(num_tokens=5)
    x = np.array([[[1], [2], [3]], [[0], [1], [4]]])
    eager = layer(x).shape
    sym = layer(fastnet.Input((3, 1), dtype="int32")).shape
    assert tuple(sym) == (None,) + tuple(eager[1:])


# ---- fit / evaluate on malformed data ------------------------------------------------------------

def _model():
    model = fastnet.Sequential([fastnet.Input((3,)), layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    return model


@pytest.mark.parametrize("method", ["fit", "evaluate"])
def test_empty_data_is_a_value_error(method):
    model = _model()
    with pytest.raises(ValueError, match="no batches"):
        getattr(model, method)(np.zeros((0, 3), "float32"), np.zeros((0, 2), "float32"),
                               verbose=0)


def test_a_sequential_refuses_a_list_of_several_inputs():
    model = _model()
    with pytest.raises(ValueError, match="one input"):
        model.predict([_x(4, 3), _x(4, 3)], verbose=0)
    np.testing.assert_allclose(model.predict([_x(4, 3)], verbose=0),
                               model.predict(_x(4, 3), verbose=0))


def test_image_layers_name_bad_sizes():
    for cls in (fastnet.layers.RandomCrop, fastnet.layers.Resizing):
        for bad in ((), float("nan"), None, 0):
            with pytest.raises(ValueError, match="height"):
                cls(height=bad, width=4)


def test_text_vectorization_multi_hot_of_an_empty_batch():
    layer = fastnet.layers.TextVectorization(vocabulary=["a", "b", "c"], output_mode="multi_hot")
    assert layer(np.array([], dtype=str)).shape == (0, 4)


def test_hashing_symbolic_dtype_is_the_eager_one():
    layer = fastnet.layers.Hashing(num_bins=5)
    sym = layer(fastnet.Input((3,), dtype="int32"))
    assert str(sym.dtype) == str(layer(np.arange(6, dtype="int32").reshape(2, 3)).dtype)


def test_dot_over_the_batch_axis_names_axes():
    a, b = np.ones((3, 4), "float32"), np.ones((3, 4), "float32")
    with pytest.raises(ValueError, match="axes"):
        fastnet.layers.Dot(axes=0)([a, b])
    with pytest.raises(ValueError, match="axes"):
        fastnet.layers.Dot(axes=0)([fastnet.Input((4,)), fastnet.Input((4,))])
