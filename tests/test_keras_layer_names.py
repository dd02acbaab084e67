"""The Keras 3 layer names added beside the seed layers: their numbers against numpy
formulas (the harness rows in tests/test_layer_harness.py cover build, specs, configs,
gradients and arguments), their training-mode noise, saving, and the list of
keras.layers names fastnet still lacks (pinned here so the gap can only shrink)."""

import os

import numpy as np
import pytest

import fastnet
from fastnet import layers
from fastnet.layers.image_augmentation import homography


@pytest.fixture(autouse=True)
def fresh_session():
    fastnet.backend.clear_session()


def _np(t):
    return np.asarray(t)


def _keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("the Keras oracle runs on the torch backend")
    return keras


RNG = np.random.default_rng(0)


# ---- regularization layers ------------------------------------------------------------------

def test_activity_regularization_adds_l1_l2_over_the_batch():
    x = RNG.standard_normal((4, 5)).astype(np.float32)
    layer = layers.ActivityRegularization(l1=0.1, l2=0.3)
    np.testing.assert_array_equal(_np(layer(x)), x)
    want = (0.1 * np.abs(x).sum() + 0.3 * np.square(x).sum()) / 4
    assert len(layer.losses) == 1
    np.testing.assert_allclose(float(layer.losses[0]), want, rtol=1e-5)
    assert "activity_regularizer" not in layer.get_config()


def test_activity_regularization_loss_reaches_fit():
    model = fastnet.Sequential([fastnet.Input((3,)), layers.Dense(2),
                                layers.ActivityRegularization(l2=10.0)])
    model.compile("sgd", "mse")
    x = np.ones((4, 3), np.float32)
    y = np.zeros((4, 2), np.float32)
    out = _np(model.predict(x, verbose=0))
    plain = float(np.mean(out ** 2))
    got = model.evaluate(x, y, verbose=0)
    np.testing.assert_allclose(got, plain + 10.0 * np.square(out).sum() / 4, rtol=1e-4)


def test_gaussian_noise_statistics_and_identity_at_inference():
    x = np.full((200, 500), 3.0, np.float32)
    layer = layers.GaussianNoise(0.5, seed=1)
    np.testing.assert_array_equal(_np(layer(x)), x)  # no training flag: inference
    noisy = _np(layer(x, training=True)) - 3.0
    assert abs(noisy.mean()) < 0.01 and abs(noisy.std() - 0.5) < 0.01


def test_gaussian_dropout_multiplies_by_one_centred_noise():
    x = np.full((200, 500), 2.0, np.float32)
    layer = layers.GaussianDropout(0.2, seed=1)
    factor = _np(layer(x, training=True)) / 2.0
    assert abs(factor.mean() - 1.0) < 0.01
    assert abs(factor.std() - np.sqrt(0.2 / 0.8)) < 0.01
    np.testing.assert_array_equal(_np(layer(x, training=False)), x)


def test_alpha_dropout_formula_and_self_normalisation():
    rate = 0.3
    x = RNG.standard_normal((400, 300)).astype(np.float32)
    y = _np(layers.AlphaDropout(rate, seed=2)(x, training=True))
    alpha_p = -1.6732632423543772848170429916717 * 1.0507009873554804934193349852946
    a = ((1 - rate) * (1 + rate * alpha_p ** 2)) ** -0.5
    b = -a * alpha_p * rate
    dropped = np.isclose(y, a * alpha_p + b, atol=1e-6)
    np.testing.assert_allclose(y[~dropped], a * x[~dropped] + b, rtol=1e-5, atol=1e-6)
    assert abs(dropped.mean() - rate) < 0.01
    # zero mean, unit variance in, about the same out (the point of alpha dropout)
    assert abs(y.mean()) < 0.02 and abs(y.std() - 1.0) < 0.02


def test_alpha_dropout_noise_shape_shares_the_mask():
    x = RNG.standard_normal((4, 6, 5)).astype(np.float32)
    y = _np(layers.AlphaDropout(0.5, noise_shape=(None, 1, 5), seed=0)(x, training=True))
    a = ((0.5) * (1 + 0.5 * (1.6732632423543772 * 1.0507009873554805) ** 2)) ** -0.5
    const = -a * 1.6732632423543772 * 1.0507009873554805 * 0.5 + a * (
        -1.6732632423543772 * 1.0507009873554805)
    dropped = np.isclose(y, const, atol=1e-6)
    assert (dropped == dropped[:, :1, :]).all()  # the same draw along the noise axis of 1


@pytest.mark.parametrize("cls,shape,fmt,axes", [
    (layers.SpatialDropout1D, (8, 7, 16), None, (1,)),
    (layers.SpatialDropout2D, (8, 5, 4, 16), "channels_last", (1, 2)),
    (layers.SpatialDropout2D, (8, 16, 5, 4), "channels_first", (2, 3)),
    (layers.SpatialDropout3D, (8, 3, 4, 2, 16), "channels_last", (1, 2, 3)),
])
def test_spatial_dropout_drops_whole_feature_maps(cls, shape, fmt, axes):
    kw = {} if fmt is None else {"data_format": fmt}
    x = RNG.uniform(0.5, 1.5, size=shape).astype(np.float32)
    y = _np(cls(0.5, seed=4, **kw)(x, training=True))
    zero = y == 0
    per_map = zero.all(axis=axes)
    np.testing.assert_array_equal(zero.any(axis=axes), per_map)  # all or nothing per map
    assert 0 < per_map.mean() < 1
    np.testing.assert_allclose(y[~zero], 2.0 * x[~zero], rtol=1e-6)


def test_spatial_dropout_config_loads_in_keras_shape():
    config = layers.SpatialDropout2D(0.3, seed=1).get_config()
    assert set(config) == {"rate", "seed", "name", "dtype", "data_format"}


def test_seeded_noise_layers_replay_their_draws():
    x = np.ones((3, 4), np.float32)
    for make in (lambda: layers.GaussianNoise(0.3, seed=5),
                 lambda: layers.GaussianDropout(0.3, seed=5),
                 lambda: layers.AlphaDropout(0.3, seed=5),
                 lambda: layers.SpatialDropout1D(0.5, seed=5)):
        xs = x[:, :, None].repeat(3, axis=2) if "Spatial" in type(make()).__name__ else x
        a, b = make(), make()
        first = [_np(a(xs, training=True)) for _ in range(2)]
        second = [_np(b(xs, training=True)) for _ in range(2)]
        np.testing.assert_array_equal(first[0], second[0])
        np.testing.assert_array_equal(first[1], second[1])
        assert not np.array_equal(first[0], first[1])


@pytest.mark.parametrize("cls,kw,bad", [
    (layers.GaussianNoise, "stddev", -0.1), (layers.GaussianDropout, "rate", 1.5),
    (layers.AlphaDropout, "rate", -1), (layers.SpatialDropout1D, "rate", 2.0)])
def test_noise_layers_refuse_out_of_range_rates(cls, kw, bad):
    with pytest.raises(ValueError, match=kw):
        cls(**{kw: bad})


# ---- normalization ----------------------------------------------------------------------

def _group_norm_ref(x, groups, axis, eps, gamma, beta):
    x = np.moveaxis(x.astype(np.float64), axis, -1)
    shape = x.shape
    g = x.reshape(shape[0], -1, groups, shape[-1] // groups)
    mean = g.mean(axis=(1, 3), keepdims=True)
    var = g.var(axis=(1, 3), keepdims=True)
    y = ((g - mean) / np.sqrt(var + eps)).reshape(shape) * gamma + beta
    return np.moveaxis(y, -1, axis)


@pytest.mark.parametrize("shape,groups,axis", [((3, 5, 6), 3, -1), ((2, 4, 4, 8), 2, -1),
                                               ((2, 6, 5), -1, 1), ((2, 4, 3, 2), 4, 1)])
def test_group_normalization_against_numpy(shape, groups, axis):
    x = RNG.standard_normal(shape).astype(np.float32) * 3 + 1
    layer = layers.GroupNormalization(groups=groups, axis=axis, epsilon=1e-3)
    layer.build(shape)
    dim = shape[axis]
    gamma = RNG.standard_normal(dim).astype(np.float32)
    beta = RNG.standard_normal(dim).astype(np.float32)
    layer.set_weights([gamma, beta])
    ng = dim if groups == -1 else groups
    want = _group_norm_ref(x, ng, axis, 1e-3, gamma, beta)
    np.testing.assert_allclose(_np(layer(x)), want, rtol=1e-4, atol=1e-4)


def test_group_normalization_rejects_groups_that_do_not_divide():
    with pytest.raises(ValueError, match="groups"):
        layers.GroupNormalization(groups=4)(np.zeros((2, 6), np.float32))
    with pytest.raises(ValueError, match="groups"):
        layers.GroupNormalization(groups=0)


def test_rms_normalization_against_numpy():
    x = RNG.standard_normal((2, 3, 4)).astype(np.float32)
    layer = layers.RMSNormalization(axis=[1, 2], epsilon=1e-6)
    layer.build(x.shape)
    scale = RNG.standard_normal((3, 4)).astype(np.float32)
    layer.set_weights([scale])
    want = x / np.sqrt(np.mean(x.astype(np.float64) ** 2, axis=(1, 2), keepdims=True) + 1e-6)
    np.testing.assert_allclose(_np(layer(x)), want * scale, rtol=1e-5, atol=1e-6)
    assert layer.get_config()["axis"] == [1, 2]


def test_unit_normalization_against_numpy_and_zero_rows():
    x = RNG.standard_normal((3, 4, 5)).astype(np.float32)
    x[0] = 0.0
    got = _np(layers.UnitNormalization(axis=[1, 2])(x))
    norm = np.sqrt((x[1:].astype(np.float64) ** 2).sum(axis=(1, 2), keepdims=True))
    np.testing.assert_allclose(got[1:], x[1:] / norm, rtol=1e-5)
    np.testing.assert_array_equal(got[0], 0.0)
    with pytest.raises(TypeError, match="axis"):
        layers.UnitNormalization(axis="x")


# ---- EinsumDense ------------------------------------------------------------------------

@pytest.mark.parametrize("equation,out_shape,bias_axes,in_shape", [
    ("ab,bc->ac", 4, "c", (2, 3)),
    ("abc,cd->abd", (5, 4), "d", (2, 5, 3)),
    ("...b,bc->...c", 4, None, (2, 3, 5, 3)),
    ("ab...,bc->ac...", 4, "c", (2, 3, 5)),
    ("abc,cde->abde", (5, 2, 4), "de", (2, 5, 3)),
    ("abc,cd->adb", (4, 5), "d", (2, 5, 3)),
    ("abcd,cde->abe", (6, 4), "e", (2, 6, 3, 2)),
])
def test_einsum_dense_against_numpy(equation, out_shape, bias_axes, in_shape):
    x = RNG.standard_normal(in_shape).astype(np.float32)
    layer = layers.EinsumDense(equation, out_shape, bias_axes=bias_axes, activation="relu")
    y = _np(layer(x))
    w = [np.asarray(v) for v in layer.get_weights()]
    want = np.einsum(equation.replace(" ", ""), x, w[0])
    if bias_axes is not None:
        want = want + w[1]
    np.testing.assert_allclose(y, np.maximum(want, 0), rtol=1e-5, atol=1e-5)
    sym = layer(fastnet.Input(in_shape[1:]))
    assert tuple(sym.shape) == (None,) + y.shape[1:]


def test_einsum_dense_kernel_initializer_uses_the_kernel_fans():
    # glorot over (input axes c) and (output axes d, e), as Keras, not the trailing two dims
    fastnet.utils.set_random_seed(0)
    layer = layers.EinsumDense("abc,cde->abde", (5, 8, 16), kernel_initializer="glorot_uniform")
    layer.build((None, 5, 64))
    k = np.asarray(layer.get_weights()[0])
    limit = np.sqrt(6.0 / (64 + 8 * 16))
    assert np.abs(k).max() <= limit + 1e-6 and np.abs(k).max() > 0.9 * limit


def test_einsum_dense_errors_name_the_equation():
    with pytest.raises(ValueError, match="equation"):
        layers.EinsumDense("ab->b", 3)
    with pytest.raises(ValueError, match="'d'"):
        layers.EinsumDense("ab,bc->ad", 3)(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="Bias dimension 'z'"):
        layers.EinsumDense("ab,bc->ac", 3, bias_axes="z")(np.zeros((2, 3), np.float32))


def test_einsum_dense_matches_keras_with_the_same_weights():
    keras = _keras()
    x = RNG.standard_normal((2, 5, 3)).astype(np.float32)
    for eq, out, bias in (("abc,cde->abde", (5, 2, 4), "de"), ("...b,bc->...c", 4, "c"),
                          ("abc,cd->adb", (4, 5), "d")):
        ours = layers.EinsumDense(eq, out, bias_axes=bias)
        want = _np(ours(x))
        theirs = keras.layers.EinsumDense.from_config(ours.get_config())
        theirs(x)
        assert [tuple(w.shape) for w in theirs.get_weights()] == \
            [tuple(w.shape) for w in ours.get_weights()]
        theirs.set_weights(ours.get_weights())
        np.testing.assert_allclose(keras.ops.convert_to_numpy(theirs(x)), want, rtol=1e-5,
                                   atol=1e-5)


# ---- adaptive pooling -------------------------------------------------------------------

def _adaptive_ref(x, out_sizes, kind, axes):
    """Loops over the output cells: cell i pools [floor(i L / n), ceil((i + 1) L / n))."""
    red = np.max if kind == "max" else np.mean
    for axis, n in zip(axes, out_sizes):
        length = x.shape[axis]
        cells = []
        for i in range(n):
            s, e = (i * length) // n, -(-((i + 1) * length) // n)
            cells.append(red(np.take(x, range(s, e), axis=axis), axis=axis, keepdims=True))
        x = np.concatenate(cells, axis=axis)
    return x


@pytest.mark.parametrize("kind", ["average", "max"])
@pytest.mark.parametrize("rank,shape,out", [(1, (2, 10, 3), (4,)), (1, (2, 3, 3), (5,)),
                                            (2, (2, 7, 9, 3), (3, 4)),
                                            (3, (1, 5, 6, 7, 2), (2, 3, 4))])
def test_adaptive_pooling_against_loops(kind, rank, shape, out):
    cls = getattr(layers, f"Adaptive{'Average' if kind == 'average' else 'Max'}Pooling{rank}D")
    x = RNG.standard_normal(shape).astype(np.float32)
    got = _np(cls(out)(x))
    want = _adaptive_ref(x, out, kind, range(1, rank + 1))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    xt = np.moveaxis(x, -1, 1)  # channels_first
    got_cf = _np(cls(out, data_format="channels_first")(xt))
    np.testing.assert_allclose(got_cf, np.moveaxis(want, -1, 1), rtol=1e-5, atol=1e-6)


def test_adaptive_pooling_matches_torch():
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((2, 11, 13, 3)).astype(np.float32)
    xt = torch.from_numpy(np.moveaxis(x, -1, 1).copy())
    for ours, theirs in ((layers.AdaptiveAveragePooling2D((4, 5)),
                          torch.nn.functional.adaptive_avg_pool2d),
                         (layers.AdaptiveMaxPooling2D((4, 5)),
                          torch.nn.functional.adaptive_max_pool2d)):
        want = np.moveaxis(theirs(xt, (4, 5)).numpy(), 1, -1)
        np.testing.assert_allclose(_np(ours(x)), want, rtol=1e-5, atol=1e-6)


def test_adaptive_pooling_refuses_bad_output_sizes():
    with pytest.raises(TypeError, match="output_size"):
        layers.AdaptiveAveragePooling2D((2, 2, 2))
    with pytest.raises(ValueError, match="output_size"):
        layers.AdaptiveMaxPooling1D(0)


# ---- 1-D depthwise / separable convolutions ----------------------------------------------

def test_depthwise_and_separable_conv1d_against_numpy():
    x = RNG.standard_normal((2, 9, 4)).astype(np.float32)
    dw = layers.DepthwiseConv1D(3, depth_multiplier=2, use_bias=False)
    y = _np(dw(x))
    k = np.asarray(dw.get_weights()[0])  # (3, 4, 2)
    want = np.stack([np.einsum("nkc,kcm->ncm", x[:, t:t + 3], k) for t in range(7)], 1)
    np.testing.assert_allclose(y, want.reshape(2, 7, 8), rtol=1e-5, atol=1e-5)
    sep = layers.SeparableConv1D(5, 3, padding="same", depth_multiplier=2)
    out = _np(sep(x))
    dk, pk, b = (np.asarray(w) for w in sep.get_weights())
    xp = np.pad(x, ((0, 0), (1, 1), (0, 0)))
    depth = np.stack([np.einsum("nkc,kcm->ncm", xp[:, t:t + 3], dk) for t in range(9)], 1)
    np.testing.assert_allclose(out, depth.reshape(2, 9, 8) @ pk[0] + b, rtol=1e-4, atol=1e-5)
    assert layers.SeparableConvolution1D is layers.SeparableConv1D
    assert layers.Convolution1DTranspose is layers.Conv1DTranspose
    assert layers.GlobalAvgPool3D is layers.GlobalAveragePooling3D


# ---- colour and mixing augmentation ------------------------------------------------------

PIXELS = RNG.uniform(0, 255, size=(3, 6, 7, 3)).astype(np.float32)

# configurations whose training-mode output is deterministic in Keras too (degenerate
# factor ranges), so Keras itself is the oracle of the transform
DETERMINISTIC = [
    ("AutoContrast", {}), ("AutoContrast", {"value_range": (0, 100)}),
    ("RandomGrayscale", {"factor": 1.0}),
    ("RandomInvert", {"factor": (1, 1)}),
    ("Solarization", {"addition_factor": 0.0, "threshold_factor": 0.0}),
    ("RandomPosterization", {"factor": (3, 3)}),
    ("RandomColorDegeneration", {"factor": (0.4, 0.4)}),
    ("RandomSaturation", {"factor": (0.7, 0.7)}),
    ("RandomSaturation", {"factor": (0.3, 0.3), "data_format": "channels_first"}),
    ("RandomSharpness", {"factor": (0.9, 0.9)}),
    ("Equalization", {}), ("Equalization", {"value_range": (0, 100), "bins": 64}),
    ("RandomGaussianBlur", {"factor": (1, 1), "sigma": (0.7, 0.7), "kernel_size": 5}),
    ("RandomColorJitter", {"saturation_factor": (0.6, 0.6)}),
]


@pytest.mark.parametrize("name,kw", DETERMINISTIC, ids=[f"{n}-{i}" for i, (n, _) in
                                                         enumerate(DETERMINISTIC)])
def test_augmentation_training_output_matches_keras(name, kw):
    keras = _keras()
    x = PIXELS
    if kw.get("data_format") == "channels_first":
        x = np.ascontiguousarray(np.moveaxis(x, -1, 1))
    if kw.get("value_range") == (0, 100):
        x = x * (100 / 255)
    ours = getattr(layers, name)(**kw)
    got = _np(ours(x, training=True))
    theirs = getattr(keras.layers, name).from_config(ours.get_config())
    want = keras.ops.convert_to_numpy(theirs(x, training=True))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-3)


def test_random_hue_rotates_by_plus_or_minus_half_the_factor():
    keras = _keras()
    x = PIXELS
    layer = layers.RandomHue(factor=(0.6, 0.6))
    candidates = [_np(layer._images(layer._channels_last(x), np.float32(s * 0.3)))
                  for s in (1, -1)]
    theirs = keras.ops.convert_to_numpy(keras.layers.RandomHue(factor=(0.6, 0.6))(
        x, training=True))
    for i in range(len(x)):  # Keras draws the sign per image
        assert any(np.allclose(c[i], theirs[i], atol=1e-3) for c in candidates)
    # and the rotation is a hue rotation: an HSV round trip without it is the identity
    from fastnet.layers.image_augmentation import hsv_to_rgb, rgb_to_hsv
    np.testing.assert_allclose(_np(hsv_to_rgb(rgb_to_hsv(fastnet.ops.convert_to_tensor(x)))),
                               x, rtol=1e-5, atol=1e-3)


def test_rgb_to_hsv_against_colorsys():
    import colorsys

    x = RNG.uniform(0, 1, size=(40, 3)).astype(np.float32)
    got = _np(__import__("fastnet.layers.image_augmentation", fromlist=["rgb_to_hsv"])
              .rgb_to_hsv(fastnet.ops.convert_to_tensor(x)))
    want = np.array([colorsys.rgb_to_hsv(*p) for p in x.astype(np.float64)])
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_inference_leaves_images_alone_except_auto_contrast():
    for name in ("RandomGrayscale", "RandomInvert", "Solarization", "RandomSaturation",
                 "RandomHue", "RandomSharpness", "RandomGaussianBlur", "MixUp", "CutMix",
                 "Equalization"):
        cls = getattr(layers, name)
        kw = {"factor": 0.5} if name in ("RandomSaturation", "RandomHue",
                                          "RandomSharpness") else {}
        np.testing.assert_array_equal(_np(cls(**kw)(PIXELS, training=False)), PIXELS)
    assert not np.array_equal(_np(layers.AutoContrast()(PIXELS, training=False)), PIXELS)


def test_mixup_mixes_images_and_labels_with_the_same_weights():
    x = RNG.uniform(0, 1, size=(6, 4, 4, 3)).astype(np.float32)
    labels = np.eye(6, dtype=np.float32)
    out = layers.MixUp(alpha=0.5, seed=3)({"images": x, "labels": labels})
    y, lab = _np(out["images"]), _np(out["labels"])
    for i in range(6):
        j = [k for k in range(6) if lab[i, k] > 0 and k != i] or [i]
        w = lab[i, i] if j[0] != i else 1.0
        np.testing.assert_allclose(y[i], w * x[i] + (1 - w) * x[j[0]], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(lab.sum(axis=1), 1.0, rtol=1e-6)


def test_cutmix_pastes_a_box_and_weights_labels_by_area():
    x = np.stack([np.full((8, 10, 3), float(i), np.float32) for i in range(4)])
    labels = np.eye(4, dtype=np.float32)
    out = layers.CutMix(seed=5)({"images": x, "labels": labels})
    y, lab = _np(out["images"]), _np(out["labels"])
    for i in range(4):
        own = np.mean(y[i] == i)  # pixels kept from image i (the others come from one image)
        np.testing.assert_allclose(lab[i, i], own, atol=0.15)
        assert set(np.unique(y[i])) <= {float(i), float(np.argmax(lab[i] * (np.arange(4) != i)))}
    single = layers.CutMix(seed=5)(x[0])  # one image: nothing to mix with (as Keras)
    np.testing.assert_array_equal(_np(single), x[0])


# ---- wrappers, Pipeline, ReversibleEmbedding --------------------------------------------

def test_spectral_normalization_divides_by_the_top_singular_value():
    x = RNG.standard_normal((5, 6)).astype(np.float32)
    layer = layers.SpectralNormalization(layers.Dense(4), power_iterations=50)
    layer(x)
    w = np.asarray(layer.layer.kernel.numpy())
    layer(x, training=True)
    got = np.asarray(layer.layer.kernel.numpy())
    np.testing.assert_allclose(got, w / np.linalg.svd(w, compute_uv=False)[0], rtol=1e-4)
    np.testing.assert_allclose(np.linalg.svd(got, compute_uv=False)[0], 1.0, rtol=1e-4)
    before = np.asarray(layer.layer.kernel.numpy())
    layer(x, training=False)  # inference leaves the kernel alone
    np.testing.assert_array_equal(np.asarray(layer.layer.kernel.numpy()), before)


def test_spectral_normalization_one_power_iteration_matches_keras():
    keras = _keras()
    x = RNG.standard_normal((3, 2, 5, 5, 2)).astype(np.float32)[0]
    ours = layers.SpectralNormalization(layers.Conv2D(3, 2))
    ours(x)
    theirs = keras.layers.SpectralNormalization(keras.layers.Conv2D(3, 2))
    theirs(x)
    theirs.set_weights(ours.get_weights())
    for _ in range(2):
        want = keras.ops.convert_to_numpy(theirs(x, training=True))
        np.testing.assert_allclose(_np(ours(x, training=True)), want, rtol=1e-4, atol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, keras.ops.convert_to_numpy(b), rtol=1e-4, atol=1e-6)


def test_spectral_normalization_needs_a_kernel():
    with pytest.raises(ValueError, match="kernel"):
        layers.SpectralNormalization(layers.Activation("relu"))(np.ones((2, 3), np.float32))
    with pytest.raises(ValueError, match="Wrapper"):
        layers.SpectralNormalization("dense")


def test_a_wrapper_subclass_saves_its_layer(tmp_path):
    @fastnet.saving.register_keras_serializable("test_names")
    class Twice(layers.Wrapper):
        def call(self, inputs):
            return self.layer(self.layer(inputs))

        def compute_output_shape(self, input_shape):
            return input_shape

    inp = fastnet.Input((3,))
    model = fastnet.Model(inp, Twice(layers.Dense(3))(inp))
    x = RNG.standard_normal((2, 3)).astype(np.float32)
    path = str(tmp_path / "w.keras")
    model.save(path)
    loaded = fastnet.models.load_model(path)
    np.testing.assert_allclose(_np(loaded(x)), _np(model(x)), rtol=1e-6)


def test_reversible_embedding_reverse_logits_and_soft_cap():
    layer = layers.ReversibleEmbedding(10, 4, logit_soft_cap=2.0)
    ids = np.array([[1, 2, 0]], np.int32)
    emb = _np(layer(ids))
    table = np.asarray(layer.embeddings.numpy())
    np.testing.assert_array_equal(emb, table[ids])
    h = RNG.standard_normal((2, 3, 4)).astype(np.float32)
    logits = _np(layer(h, reverse=True))
    np.testing.assert_allclose(logits, np.tanh(h @ table.T / 2.0) * 2.0, rtol=1e-5, atol=1e-6)
    untied = layers.ReversibleEmbedding(10, 4, tie_weights=False)
    untied(ids)
    assert [tuple(w.shape) for w in untied.weights] == [(10, 4), (4, 10)]
    np.testing.assert_allclose(_np(untied(h, reverse=True)),
                               h @ np.asarray(untied.reverse_embeddings.numpy()), rtol=1e-5)
    with pytest.raises(ValueError, match="output_dim"):
        layer(np.ones((2, 5), np.float32), reverse=True)


def test_reversible_embedding_symbolic_reverse():
    layer = layers.ReversibleEmbedding(10, 4)
    ids = fastnet.Input((7,), dtype="int32")
    h = layer(ids)
    logits = layer(h, reverse=True)
    assert tuple(h.shape) == (None, 7, 4) and tuple(logits.shape) == (None, 7, 10)
    model = fastnet.Model(ids, logits)
    x = RNG.integers(0, 10, size=(2, 7)).astype(np.int32)
    table = np.asarray(layer.embeddings.numpy())
    np.testing.assert_allclose(_np(model(x)), table[x] @ table.T, rtol=1e-5, atol=1e-6)


def test_reversible_embedding_matches_keras():
    keras = _keras()
    ours = layers.ReversibleEmbedding(10, 4, tie_weights=False, logit_soft_cap=3.0)
    ids = np.array([[1, 2, 3]], np.int32)
    ours(ids)
    theirs = keras.layers.ReversibleEmbedding.from_config(ours.get_config())
    theirs(ids)
    theirs.set_weights(ours.get_weights())
    h = RNG.standard_normal((2, 4)).astype(np.float32)
    np.testing.assert_allclose(_np(ours(h, reverse=True)),
                               keras.ops.convert_to_numpy(theirs(h, reverse=True)), rtol=1e-5)


def test_pipeline_applies_its_layers_in_order_and_round_trips(tmp_path):
    pipe = layers.Pipeline([layers.Rescaling(2.0), layers.RandomFlip("horizontal", seed=1),
                            layers.AutoContrast(value_range=(0, 1))])
    x = RNG.uniform(0, 0.5, size=(2, 4, 5, 3)).astype(np.float32)
    want = _np(layers.AutoContrast(value_range=(0, 1))(x * 2.0))
    np.testing.assert_allclose(_np(pipe(x, training=False)), want, rtol=1e-5, atol=1e-6)
    assert [type(lay).__name__ for lay in pipe.layers] == ["Rescaling", "RandomFlip",
                                                            "AutoContrast"]
    config = pipe.get_config()
    assert set(config) == {"layers", "name"}
    clone = layers.Pipeline.from_config(config)
    np.testing.assert_allclose(_np(clone(x, training=False)), want, rtol=1e-5, atol=1e-6)


def test_pipeline_config_loads_in_keras():
    keras = _keras()
    pipe = layers.Pipeline([layers.Rescaling(2.0), layers.AutoContrast(value_range=(0, 1))])
    x = RNG.uniform(0, 0.5, size=(2, 4, 5, 3)).astype(np.float32)
    theirs = keras.layers.Pipeline.from_config(pipe.get_config())
    np.testing.assert_allclose(keras.ops.convert_to_numpy(theirs(x, training=False)),
                               _np(pipe(x, training=False)), rtol=1e-5, atol=1e-5)


# ---- GroupQueryAttention ------------------------------------------------------------------

def _gqa_reference(layer, q, v, mask=None):
    """numpy: project, repeat the key/value heads, masked softmax attention, project back."""
    w = [np.asarray(x, np.float64) for x in layer.get_weights()]
    (wq, bq, wk, bk, wv, bv, wo, bo) = w
    qh = np.einsum("bqm,muh->bquh", q, wq) + bq
    kh = np.repeat(np.einsum("bkm,mvh->bkvh", v, wk) + bk, layer.num_repeats, axis=2)
    vh = np.repeat(np.einsum("bkm,mvh->bkvh", v, wv) + bv, layer.num_repeats, axis=2)
    logits = np.einsum("bquh,bkuh->buqk", qh / np.sqrt(layer.head_dim), kh)
    if mask is not None:
        logits = np.where(mask[:, None], logits, -1e9)
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    out = np.einsum("buqk,bkuh->bquh", p, vh)
    return np.einsum("bquh,uhm->bqm", out, wo) + bo, p


def test_group_query_attention_against_numpy_with_masks():
    q = RNG.standard_normal((2, 4, 6)).astype(np.float32)
    v = RNG.standard_normal((2, 5, 6)).astype(np.float32)
    layer = layers.GroupQueryAttention(head_dim=3, num_query_heads=4, num_key_value_heads=2,
                                       bias_initializer="random_normal")
    out, scores = layer(q, v, return_attention_scores=True)
    want, p = _gqa_reference(layer, q, v)
    np.testing.assert_allclose(_np(out), want, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(_np(scores), p, rtol=1e-4, atol=1e-6)
    vmask = np.ones((2, 5), bool)
    vmask[0, 3:] = False
    mask = np.broadcast_to(vmask[:, None, :], (2, 4, 5)) & np.tril(np.ones((4, 5), bool))
    got = _np(layer(q, v, value_mask=vmask, use_causal_mask=True))
    np.testing.assert_allclose(got, _gqa_reference(layer, q, v, mask)[0], rtol=1e-4, atol=1e-5)
    window = _np(layers.GroupQueryAttention(3, 4, 2, sliding_window=2)(q, q))
    assert window.shape == q.shape


def test_group_query_attention_symbolic_and_keras_parity():
    inp_q, inp_v = fastnet.Input((4, 6)), fastnet.Input((5, 6))
    layer = layers.GroupQueryAttention(head_dim=3, num_query_heads=4, num_key_value_heads=1,
                                       use_gate=True)
    out, scores = layer(inp_q, inp_v, return_attention_scores=True)
    assert tuple(out.shape) == (None, 4, 6) and tuple(scores.shape) == (None, 4, 4, 5)
    keras = _keras()
    q = RNG.standard_normal((2, 4, 6)).astype(np.float32)
    v = RNG.standard_normal((2, 5, 6)).astype(np.float32)
    theirs = keras.layers.GroupQueryAttention.from_config(layer.get_config())
    theirs(q, v)
    theirs.set_weights(layer.get_weights())
    am = RNG.uniform(size=(2, 4, 5)) > 0.3
    am[:, :, 0] = True
    for kw in ({}, {"use_causal_mask": True}, {"attention_mask": am}):
        want = keras.ops.convert_to_numpy(theirs(q, v, **kw))
        np.testing.assert_allclose(_np(layer(q, v, **kw)), want, rtol=1e-4, atol=1e-5,
                                   err_msg=str(kw))


def test_random_shear_and_perspective_transforms_match_keras():
    keras = _keras()
    x = PIXELS
    shear = np.array([[0.3, -0.2], [0.1, 0.25], [-0.4, 0.0]])
    for mode in ("constant", "reflect", "nearest", "wrap"):
        ours = layers.RandomShear(x_factor=0.5, y_factor=0.5, fill_mode=mode, fill_value=3.0)
        theirs = keras.layers.RandomShear(x_factor=0.5, y_factor=0.5, fill_mode=mode,
                                          fill_value=3.0)
        got = _np(ours._images(fastnet.ops.convert_to_tensor(x), shear))
        want = keras.ops.convert_to_numpy(theirs.transform_images(
            keras.ops.convert_to_tensor(x), {"shear_factor": keras.ops.convert_to_tensor(
                shear.astype(np.float32)), "input_shape": x.shape}))
        np.testing.assert_allclose(got, want, atol=2e-3, err_msg=mode)
    persp = keras.layers.RandomPerspective(scale=0.6, seed=3)
    tr = persp.get_random_transformation(x, training=True)
    want = keras.ops.convert_to_numpy(persp.transform_images(keras.ops.convert_to_tensor(x), tr))
    h = homography(*(keras.ops.convert_to_numpy(tr[k]) for k in ("start_points", "end_points")))
    ours = layers.RandomPerspective(scale=0.6)
    got = _np(ours._images(fastnet.ops.convert_to_tensor(x),
                           (keras.ops.convert_to_numpy(tr["apply_perspective"]),
                            h.astype(np.float32))))
    np.testing.assert_allclose(got, want, atol=2e-3)


def test_homography_maps_the_end_corners_to_the_start_corners():
    start = np.array([[[0, 0], [9, 0], [0, 7], [9, 7]]], np.float64)
    end = start + RNG.uniform(-1, 1, size=start.shape)
    h = homography(start, end)[0]
    for (sx, sy), (ex, ey) in zip(start[0], end[0]):
        k = h[6] * ex + h[7] * ey + 1
        np.testing.assert_allclose([(h[0] * ex + h[1] * ey + h[2]) / k,
                                    (h[3] * ex + h[4] * ey + h[5]) / k], [sx, sy], atol=1e-9)


def test_random_shear_config_of_keras_loads():
    # Keras writes x_factor=(-f, f) for a number f (which its own constructor refuses)
    layer = layers.RandomShear.from_config({"x_factor": [-0.3, 0.3], "y_factor": [0.0, 0.0],
                                            "seed": 1})
    assert layer.x_factor == (-0.3, 0.3)


def test_random_erasing_fills_one_box_per_image():
    x = np.full((6, 10, 12, 3), 50.0, np.float32)
    y = _np(layers.RandomErasing(scale=(0.2, 0.3), fill_value=(1.0, 2.0, 3.0), seed=3)(
        x, training=True))
    for img in y:
        erased = img[..., 0] != 50.0
        rows, cols = np.nonzero(erased)
        if rows.size:  # a filled axis-aligned box with the per-channel fill value
            box = erased[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
            assert box.all()
            np.testing.assert_array_equal(img[erased], np.tile([1.0, 2.0, 3.0],
                                                               (erased.sum(), 1)))
            assert 0.1 <= erased.mean() <= 0.4
    noisy = _np(layers.RandomErasing(value_range=(0, 1), seed=1)(x / 50.0, training=True))
    assert noisy.min() >= 0.0 and noisy.max() <= 1.0


# ---- spectrograms -----------------------------------------------------------------------

def test_stft_spectrogram_against_numpy_rfft():
    x = RNG.standard_normal((2, 100, 1)).astype(np.float32)
    layer = layers.STFTSpectrogram(mode="magnitude", frame_length=32, frame_step=8,
                                   scaling=None, window="hann", periodic=True)
    got = _np(layer(x))
    win = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(32) / 32)
    frames = np.stack([x[:, t:t + 32, 0] * win for t in range(0, 100 - 32 + 1, 8)], axis=1)
    want = np.abs(np.fft.rfft(frames, axis=-1))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    density = layers.STFTSpectrogram(mode="magnitude", frame_length=32, frame_step=8,
                                     periodic=True)
    np.testing.assert_allclose(_np(density(x)), want / np.sqrt(np.sum(win ** 2)), rtol=1e-4,
                               atol=1e-5)
    with pytest.raises(ValueError, match="frame_step"):
        layers.STFTSpectrogram(frame_length=8, frame_step=9)
    with pytest.raises(ValueError, match="mode"):
        layers.STFTSpectrogram(mode="power")
    with pytest.raises(ValueError, match="fewer than one frame"):
        layers.STFTSpectrogram(frame_length=64)(x[:, :10])


@pytest.mark.parametrize("kw", [
    {}, {"mode": "magnitude", "frame_length": 64, "frame_step": 16, "padding": "same"},
    {"mode": "psd", "frame_length": 50, "fft_length": 64, "scaling": "spectrum",
     "periodic": True},
    {"mode": "stft", "frame_length": 32, "window": "hamming", "expand_dims": True},
    {"mode": "real", "frame_length": 32, "data_format": "channels_first"},
    {"mode": "imag", "frame_length": 32, "window": None},
], ids=lambda kw: kw.get("mode", "log"))
def test_stft_spectrogram_matches_keras(kw):
    pytest.importorskip("scipy")  # Keras's STFT windows come from scipy
    keras = _keras()
    x = RNG.standard_normal((2, 300, 2)).astype(np.float32)
    if kw.get("data_format") == "channels_first":
        x = np.ascontiguousarray(np.moveaxis(x, -1, 1))
    ours = layers.STFTSpectrogram(**kw)
    got = _np(ours(x))
    theirs = keras.layers.STFTSpectrogram(**kw)
    want = keras.ops.convert_to_numpy(theirs(x))
    for a, b in zip(ours.get_weights(), theirs.get_weights()):  # the DFT kernels themselves
        np.testing.assert_allclose(a, keras.ops.convert_to_numpy(b), atol=1e-5)
    theirs.set_weights(ours.get_weights())
    want = keras.ops.convert_to_numpy(theirs(x))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_stft_spectrogram_angle_mode():
    x = RNG.standard_normal((2, 64, 1)).astype(np.float32)
    layer = layers.STFTSpectrogram(mode="angle", frame_length=16)
    real = layers.STFTSpectrogram(mode="real", frame_length=16)
    imag = layers.STFTSpectrogram(mode="imag", frame_length=16)
    angle = _np(layer(x))
    np.testing.assert_allclose(np.cos(angle) * np.hypot(_np(real(x)), _np(imag(x))),
                               _np(real(x)), atol=1e-5)


def test_mel_spectrogram_matches_keras_and_librosa_style_shapes():
    keras = _keras()
    s = RNG.standard_normal((2, 4000)).astype(np.float32)
    for kw in ({"fft_length": 512, "sequence_stride": 128, "num_mel_bins": 40},
               {"fft_length": 256, "sequence_stride": 100, "num_mel_bins": 20,
                "power_to_db": False, "sampling_rate": 8000},
               {"fft_length": 400, "sequence_length": 300, "sequence_stride": 128,
                "window": "hamming", "mag_exp": 1.0, "top_db": 40.0, "ref_power": 2.0}):
        got = _np(layers.MelSpectrogram(**kw)(s))
        want = keras.ops.convert_to_numpy(keras.layers.MelSpectrogram(**kw)(s))
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-3 * np.abs(want).max())
    single = _np(layers.MelSpectrogram(fft_length=256, sequence_stride=64)(s[0]))
    assert single.shape == (128, 1 + 4000 // 64)
    sym = layers.MelSpectrogram(fft_length=256, sequence_stride=64)(fastnet.Input((4001,)))
    assert tuple(sym.shape) == (None, 128, 1 + 4001 // 64)


def test_mel_filter_bank_rows_are_triangles():
    from fastnet.layers.spectrogram import linear_to_mel_weight_matrix

    m = linear_to_mel_weight_matrix(10, 129, 8000, 125.0, 3800.0)
    assert m.shape == (129, 10) and (m >= 0).all() and (m[0] == 0).all()
    peaks = m.argmax(axis=0)
    assert (np.diff(peaks) > 0).all()  # the filters' centres increase
    assert np.all(m.max(axis=0) <= 1.0 + 1e-6)


def test_rand_augment_applies_the_drawn_operations_in_turn():
    from fastnet.layers.image_augmentation import _POLICY_OPS

    layer = layers.RandAugment(seed=0)
    x = fastnet.ops.convert_to_tensor(PIXELS)
    chosen = [_POLICY_OPS.index("auto_contrast"), _POLICY_OPS.index("equalization")]
    want = _np(layers.Equalization()(layers.AutoContrast()(PIXELS), training=True))
    np.testing.assert_allclose(_np(layer._images(x, chosen)), want, rtol=1e-5, atol=1e-4)
    seen = set()
    for _ in range(30):  # one draw of num_ops indices per batch, over all eleven operations
        seen.update(int(i) for i in layer._draw(x, layer._rng()))
    assert seen == set(range(len(_POLICY_OPS)))
    assert layer.get_config()["factor"] == [0, 0.5]


def test_aug_mix_blends_its_chains_with_the_image():
    layer = layers.AugMix(seed=0, value_range=(0, 255))
    x = fastnet.ops.convert_to_tensor(PIXELS)
    ac = layer._names.index("auto_contrast")
    weights, blend = np.array([0.25, 0.75]), 0.4
    got = _np(layer._images(x, (weights, blend, [[ac], []])))
    contrast = _np(layers.AutoContrast()(PIXELS))
    want = blend * PIXELS + (1 - blend) * (0.25 * contrast + 0.75 * PIXELS)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-3)
    out = _np(layers.AugMix(seed=3)(PIXELS, training=True))
    assert out.shape == PIXELS.shape and out.min() >= 0 and out.max() <= 255
    assert len(layers.AugMix(all_ops=False)._names) == 7


def test_policy_configs_load_in_keras():
    keras = _keras()
    for layer in (layers.RandAugment(num_ops=3, factor=0.2, seed=1),
                  layers.AugMix(num_chains=2, chain_depth=2, alpha=0.5, seed=1)):
        theirs = getattr(keras.layers, type(layer).__name__).from_config(layer.get_config())
        assert theirs.get_config()["seed"] == 1
        np.testing.assert_allclose(keras.ops.convert_to_numpy(theirs(PIXELS, training=False)),
                                   _np(layer(PIXELS, training=False)))


def test_random_elastic_transform_samples_along_a_smooth_field_as_keras():
    keras = _keras()
    x = RNG.uniform(0, 255, size=(2, 20, 24, 3)).astype(np.float32)
    layer = layers.RandomElasticTransform(seed=1)
    xt = fastnet.ops.convert_to_tensor(x)
    apply, cx, cy = layer._draw(xt, layer._rng())
    got = _np(layer._images(xt, (apply, cx, cy)))
    want = np.empty_like(x)
    for b in range(2):
        for c in range(3):
            want[b, ..., c] = keras.ops.convert_to_numpy(keras.ops.image.map_coordinates(
                x[b, ..., c], [cy[b], cx[b]], order=1, fill_mode="reflect"))
    want = np.where(apply[:, None, None, None], np.clip(want, 0, 255), x)
    np.testing.assert_allclose(got, want, atol=1e-3)
    # the field, recomputed from the same draws: Keras's alpha, sigma and blur kernel
    rng = np.random.default_rng(1)
    rng.uniform(1.0, 1.0, size=2), rng.uniform(size=2)
    scale = rng.uniform(0.0, 1.0)
    alpha, sigma = 24 * 0.1 * scale, 20 * 0.05 * scale
    size = int(6 * sigma) | 1
    t = np.arange(size) - (size - 1) / 2
    k1 = np.exp(-0.5 * (t / sigma) ** 2)
    k = np.outer(k1, k1) / k1.sum() ** 2
    noise = rng.standard_normal((2, 2, 20, 24, 1))[0, ..., 0] * sigma
    pad = np.pad(noise, ((0, 0), (size // 2, size // 2), (size // 2, size // 2)))
    blurred = sum(k[i, j] * pad[:, i:i + 20, j:j + 24] for i in range(size)
                  for j in range(size))
    np.testing.assert_allclose(cx, np.arange(24)[None, None, :] + alpha * blurred, atol=1e-4)
    np.testing.assert_array_equal(_np(layers.RandomElasticTransform(scale=0.0)(x)), x)


def test_clahe_matches_keras():
    keras = _keras()
    clahe = layers.ContrastLimitedAdaptiveHistogramEqualization
    kclahe = keras.layers.ContrastLimitedAdaptiveHistogramEqualization
    x = RNG.uniform(0, 255, size=(2, 32, 48, 3)).astype(np.float32)
    # integer clip limits (limit = clip_limit * tile pixels / 256 on 16x16 tiles): Keras's
    # torch backend counts in integers and would truncate a fractional one
    for kw in ({"tile_grid_size": (2, 3), "clip_limit": 3.0},
               {"tile_grid_size": (4, 6), "clip_limit": 0.0},
               {"tile_grid_size": (2, 3), "clip_limit": 2.0, "value_range": (0, 1)}):
        xi = x / 255.0 if kw.get("value_range") == (0, 1) else x
        np.testing.assert_allclose(_np(clahe(**kw)(xi)),
                                   keras.ops.convert_to_numpy(kclahe(**kw)(xi)), atol=1e-4)
    # sizes that are not whole tiles: padded symmetrically (numpy / TensorFlow semantics;
    # Keras's torch backend pads by edge replication), so Keras on the padded image agrees
    odd = x[:, :31, :46]  # 16x16 tiles once padded by (1, 2)
    padded = np.pad(odd, ((0, 0), (0, 1), (0, 2), (0, 0)), mode="symmetric")
    want = keras.ops.convert_to_numpy(kclahe(tile_grid_size=(2, 3), clip_limit=0.0)(padded))
    np.testing.assert_allclose(_np(clahe(tile_grid_size=(2, 3), clip_limit=0.0)(odd)),
                               want[:, :31, :46], atol=1e-4)
    cf = np.ascontiguousarray(np.moveaxis(x, -1, 1))
    np.testing.assert_allclose(_np(clahe(tile_grid_size=(2, 3), data_format="channels_first")(
        cf)), np.moveaxis(_np(clahe(tile_grid_size=(2, 3))(x)), -1, 1), atol=1e-5)


# ---- HashedCrossing ---------------------------------------------------------------------

def test_hashed_crossing_gives_keras_documented_bins():
    # keras.layers.HashedCrossing's docstring (TensorFlow's tf.sparse.cross_hashed values)
    a = np.array(["A", "B", "A", "B", "A"])
    b = np.array([101, 101, 101, 102, 102])
    got = _np(layers.HashedCrossing(num_bins=5)((a, b)))
    np.testing.assert_array_equal(got, [1, 4, 1, 1, 3])
    assert got.dtype == np.int64
    one_hot = _np(layers.HashedCrossing(num_bins=5, output_mode="one_hot")((a, b)))
    np.testing.assert_array_equal(one_hot, np.eye(5, dtype=np.float32)[[1, 4, 1, 1, 3]])
    as_bytes = np.array([s.encode() for s in a], dtype=object)
    np.testing.assert_array_equal(_np(layers.HashedCrossing(5)((as_bytes, b[:, None][:, 0]))),
                                  got)
    column = _np(layers.HashedCrossing(5)((a[:, None], b[:, None])))
    np.testing.assert_array_equal(column, np.array(got)[:, None])
    np.testing.assert_array_equal(_np(layers.HashedCrossing(5)((np.array("A"), np.array(101)))),
                                  1)


def test_hashed_crossing_in_a_functional_model_and_errors():
    x1, x2 = fastnet.Input((), dtype="int64"), fastnet.Input((), dtype="int64")
    out = layers.HashedCrossing(8, output_mode="one_hot")([x1, x2])
    assert tuple(out.shape) == (None, 8)
    model = fastnet.Model([x1, x2], out)
    a, b = np.array([1, 2, 3]), np.array([7, 7, 9])
    np.testing.assert_array_equal(_np(model([a, b])),
                                  _np(layers.HashedCrossing(8, output_mode="one_hot")((a, b))))
    with pytest.raises(ValueError, match="at least two"):
        layers.HashedCrossing(4)((a,))
    with pytest.raises(ValueError, match="equal shape"):
        layers.HashedCrossing(4)((a, b[:2]))
    with pytest.raises(ValueError, match="integer or string"):
        layers.HashedCrossing(4)((a, b.astype(np.float32)))
    with pytest.raises(ValueError, match="output_mode"):
        layers.HashedCrossing(4, output_mode="count")


# ---- saving ------------------------------------------------------------------------------

def test_a_model_of_the_new_layers_saves_and_loads(tmp_path):
    inp = fastnet.Input((8, 6))
    h = layers.EinsumDense("abc,cd->abd", (8, 4), bias_axes="d")(inp)
    h = layers.GroupNormalization(groups=2)(h)
    h = layers.RMSNormalization()(h)
    h = layers.GaussianNoise(0.1, seed=1)(h)
    h = layers.SpatialDropout1D(0.2)(h)
    h = layers.DepthwiseConv1D(3, padding="same")(h)
    h = layers.AdaptiveAveragePooling1D(4)(h)
    h = layers.UnitNormalization()(h)
    h = layers.Identity()(h)
    h = layers.ActivityRegularization(l2=0.01)(h)
    out = layers.AlphaDropout(0.1)(layers.Flatten()(h))
    model = fastnet.Model(inp, out)
    model.compile("adam", "mse")
    x = RNG.standard_normal((4, 8, 6)).astype(np.float32)
    model.fit(x, np.zeros((4, 16), np.float32), epochs=1, verbose=0)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = fastnet.models.load_model(path)
    np.testing.assert_allclose(_np(loaded.predict(x, verbose=0)),
                               _np(model.predict(x, verbose=0)), rtol=1e-6, atol=1e-6)


# ---- the remaining gap --------------------------------------------------------------------

# keras.layers names (Keras 3.15) fastnet does not export yet, and why. Adding one removes
# it here (the tests below fail until it is removed).
MISSING_KERAS_LAYER_NAMES = {
    "ConvLSTM1D": "belongs beside ConvLSTM2D in layers/rnn.py (the RNN family's owner)",
    "ConvLSTM3D": "belongs beside ConvLSTM2D in layers/rnn.py (the RNN family's owner)",
    "MaxNumBoundingBoxes": "bounding-box pipelines: fastnet's image layers take no boxes",
    "FlaxLayer": "backend-specific (wraps a JAX/Flax module)",
    "JaxLayer": "backend-specific (wraps a JAX function)",
    "TFSMLayer": "backend-specific (loads a TensorFlow SavedModel)",
    "TorchModuleWrapper": "backend-specific (wraps a torch.nn.Module)",
}


def _public(module):
    return {n for n in dir(module) if not n.startswith("_")}


def test_the_missing_keras_layer_names_are_the_pinned_list():
    missing = [n for n in MISSING_KERAS_LAYER_NAMES if hasattr(layers, n)]
    assert not missing, (f"now exported by fastnet.layers: {missing}; remove them from "
                         "MISSING_KERAS_LAYER_NAMES")


def test_the_pinned_list_is_what_keras_has_and_fastnet_lacks():
    keras = _keras()
    gap = sorted(_public(keras.layers) - _public(layers))
    assert gap == sorted(n for n in MISSING_KERAS_LAYER_NAMES if n in _public(keras.layers)), (
        f"keras.layers names missing from fastnet.layers: {gap}")
