"""Resizing and the random image augmentation layers: the transform each applies (checked
against numpy formulas through a reference transform), training flags, seeds, configs,
errors, and (optional) Keras 3."""

import math
import os

import numpy as np
import pytest
from oracle import assert_close, rand
from test_image_ops import ref_resize, ref_transform

import fastnet
from fastnet import layers

IMG = rand((3, 8, 10, 2), seed=1, low=0, high=255)


def _shift(img, sy, sx):
    """img (H, W, C) moved down sy rows and right sx columns, zeros coming in."""
    out = np.zeros_like(img)
    h, w = img.shape[:2]
    out[max(sy, 0):h + min(sy, 0), max(sx, 0):w + min(sx, 0)] = \
        img[max(-sy, 0):h + min(-sy, 0), max(-sx, 0):w + min(-sx, 0)]
    return out


def test_resizing():
    for interp in ("bilinear", "nearest", "bicubic", "area"):
        layer = layers.Resizing(5, 13, interpolation=interp)
        assert_close(layer(IMG).numpy(), ref_resize(IMG, (5, 13), interp), atol=1e-3)
    layer = layers.Resizing(4, 4, crop_to_aspect_ratio=True)
    assert_close(layer(IMG).numpy(), ref_resize(IMG[:, :, 1:9], (4, 4), "bilinear"), atol=1e-3)
    layer = layers.Resizing(4, 4, pad_to_aspect_ratio=True, fill_value=7.0)
    padded = np.pad(IMG, [(0, 0), (1, 1), (0, 0), (0, 0)], constant_values=7.0)
    assert_close(layer(IMG).numpy(), ref_resize(padded, (4, 4), "bilinear"), atol=1e-3)
    cf = layers.Resizing(5, 6, data_format="channels_first")
    out = cf(np.transpose(IMG, (0, 3, 1, 2))).numpy()
    assert_close(np.transpose(out, (0, 2, 3, 1)), ref_resize(IMG, (5, 6), "bilinear"), atol=1e-3)
    assert layers.Resizing(5, 6)(fastnet.Input((8, 10, 2))).shape == (None, 5, 6, 2)
    assert layers.Resizing(5, 6)(IMG[0]).shape == (5, 6, 2)
    assert layers.Resizing(5, 6)(IMG.astype(np.uint8)).dtype == "float32"
    cfg = layers.Resizing(5, 6, interpolation="area", pad_to_aspect_ratio=True).get_config()
    assert layers.Resizing.from_config(cfg).get_config() == cfg
    with pytest.raises(ValueError, match="interpolation"):
        layers.Resizing(2, 2, interpolation="cubic")
    with pytest.raises(ValueError, match="only one of"):
        layers.Resizing(2, 2, crop_to_aspect_ratio=True, pad_to_aspect_ratio=True)
    # in a model, trained end to end: the gradient flows through the resize
    model = fastnet.Sequential([fastnet.Input((8, 10, 2)), layers.Resizing(4, 5),
                                layers.Flatten(), layers.Dense(1)])
    model.compile("sgd", "mse")
    hist = model.fit(IMG / 255, np.ones((3, 1)), epochs=2, verbose=0)
    assert np.isfinite(hist.history["loss"]).all()


def test_random_crop():
    crop = layers.RandomCrop(5, 4, seed=3)
    out = crop(IMG, training=True).numpy()
    assert out.shape == (3, 5, 4, 2)
    def window(out):
        return [(top, left) for top in range(4) for left in range(7)
                if np.array_equal(IMG[:, top:top + 5, left:left + 4], out)]

    assert len(window(out)) == 1  # one window of the input, the same for the whole batch
    offsets = {tuple(window(crop(IMG).numpy())) for _ in range(12)}
    assert len(offsets) > 1  # a direct call augments, and the offset varies
    # inference: the central box of aspect ratio 5/4 (8 x 6.4 -> 8x6 at column 2), resized
    infer = crop(IMG, training=False).numpy()
    assert_close(infer, ref_resize(IMG[:, :, 2:8], (5, 4), "bilinear"), atol=1e-3)
    assert crop(fastnet.Input((8, 10, 2))).shape == (None, 5, 4, 2)
    same = layers.RandomCrop(8, 10)(IMG, training=True).numpy()
    assert_close(same, IMG, atol=0)
    cfg = crop.get_config()
    assert layers.RandomCrop.from_config(cfg).get_config() == cfg


def _rotation(angle, h, w):
    th = math.radians(angle)
    cx, cy = (w - 1) / 2, (h - 1) / 2
    c, s = math.cos(th), math.sin(th)
    return np.array([c, -s, cx - cx * c + cy * s, s, c, cy - cx * s - cy * c, 0, 0])


def test_random_rotation_is_a_rotation_about_the_center():
    layer = layers.RandomRotation(0.1, seed=5, fill_mode="constant", fill_value=3.0)
    x = IMG[:1]
    out = layer(x, training=True).numpy()
    # recover the angle: out must equal the reference rotation for exactly one angle in range
    angles = np.linspace(-36, 36, 7201)
    errs = [np.abs(ref_transform(x, _rotation(a, 8, 10), "bilinear", "constant", 3.0) - out).max()
            for a in angles[::40]]
    best = angles[::40][int(np.argmin(errs))]
    fine = [a for a in np.linspace(best - 0.5, best + 0.5, 201)]
    errs = [np.abs(ref_transform(x, _rotation(a, 8, 10), "bilinear", "constant", 3.0) - out).max()
            for a in fine]
    assert min(errs) < 0.05
    assert -36 <= fine[int(np.argmin(errs))] <= 36
    assert_close(layer(x, training=False).numpy(), x, atol=0)
    # a 180-degree turn (factor pair (0.5, 0.5)) flips both axes exactly (nearest)
    half = layers.RandomRotation((0.5, 0.5), interpolation="nearest")
    assert_close(half(IMG).numpy(), IMG[:, ::-1, ::-1], atol=1e-4)
    quarter = layers.RandomRotation((0.25, 0.25), interpolation="nearest")
    sq = IMG[:, :8, :8]
    assert_close(quarter(sq).numpy(), np.rot90(sq, k=1, axes=(1, 2)), atol=1e-4)


def test_random_zoom_and_translation():
    x = IMG
    zoom = layers.RandomZoom((0.5, 0.5), interpolation="nearest", fill_mode="constant")
    w, h = 10, 8
    t = np.array([1.5, 0, (w - 1) / 2 * (1 - 1.5), 0, 1.5, (h - 1) / 2 * (1 - 1.5), 0, 0])
    assert_close(zoom(x).numpy(), ref_transform(x, t, "nearest", "constant", 0.0), atol=1e-3)
    both = layers.RandomZoom((-0.5, -0.5), width_factor=(0.2, 0.2), fill_mode="wrap")
    t = np.array([1.2, 0, 4.5 * (1 - 1.2), 0, 0.5, 3.5 * 0.5, 0, 0])
    assert_close(both(x).numpy(), ref_transform(x, t, "bilinear", "wrap", 0.0), atol=1e-3)
    tr = layers.RandomTranslation((0.25, 0.25), (-0.2, -0.2), fill_mode="constant",
                                  interpolation="nearest")
    out = tr(x).numpy()  # content moves down 2 rows and left 2 columns
    assert_close(out[:, 2:, :8], x[:, :6, 2:], atol=0)
    assert_close(out[:, :2], np.zeros_like(out[:, :2]), atol=0)
    rnd = layers.RandomTranslation(0.3, 0.3, seed=2, fill_mode="constant",
                                   interpolation="nearest")
    out = rnd(x, training=True).numpy()
    for i in range(3):  # each image: an integer shift within 0.3 of its height / width
        shifts = [(sy, sx) for sy in range(-2, 3) for sx in range(-3, 4)
                  if np.array_equal(out[i], _shift(x[i], sy, sx))]
        assert len(shifts) == 1, i
    assert_close(rnd(x, training=False).numpy(), x, atol=0)
    for cls, kw in ((layers.RandomZoom, {"height_factor": 0.2}),
                    (layers.RandomTranslation, {"height_factor": 0.2, "width_factor": 0.1}),
                    (layers.RandomRotation, {"factor": 0.2})):
        cfg = cls(**kw, seed=4, fill_mode="nearest").get_config()
        assert cls.from_config(cfg).get_config() == cfg
        assert cfg["fill_mode"] == "nearest" and cfg["interpolation"] == "bilinear"
    with pytest.raises(ValueError, match="height_factor"):
        layers.RandomZoom(-1.0)
    with pytest.raises(ValueError, match="width_factor"):
        layers.RandomTranslation(0.1, 1.5)
    with pytest.raises(NotImplementedError, match="fill_mode"):
        layers.RandomRotation(0.1, fill_mode="mirror")
    with pytest.raises(NotImplementedError, match="interpolation"):
        layers.RandomZoom(0.1, interpolation="bicubic")


def test_random_contrast_and_brightness():
    x = IMG
    c = layers.RandomContrast((0.5, 0.5), seed=1)
    out = c(x, training=True).numpy()
    mean = x.mean(axis=(1, 2), keepdims=True)
    f = (out - mean) / (x - mean)
    unclipped = (out > 0) & (out < 255)
    per_image = [np.median(f[i][unclipped[i]]) for i in range(3)]
    for i in range(3):
        assert 0.5 <= per_image[i] <= 1.5
        want = np.clip((x[i] - mean[i]) * per_image[i] + mean[i], 0, 255)
        assert_close(out[i], want, atol=1e-2)
    assert len(set(np.round(per_image, 5))) == 3  # one factor per image
    assert_close(c(x, training=False).numpy(), x, atol=0)

    b = layers.RandomBrightness(0.2, value_range=(0, 1), seed=3)
    xs = x / 255
    out = b(xs, training=True).numpy()
    for i in range(3):
        inside = (out[i] > 0) & (out[i] < 1)
        delta = np.median((out[i] - xs[i])[inside])
        assert -0.2 <= delta <= 0.2
        assert_close(out[i], np.clip(xs[i] + delta, 0, 1), atol=1e-5)
    assert_close(b(xs, training=False).numpy(), xs, atol=0)
    for layer in (c, b):
        cfg = layer.get_config()
        assert type(layer).from_config(cfg).get_config() == cfg
    with pytest.raises(ValueError, match="value_range"):
        layers.RandomBrightness(0.1, value_range=5)
    with pytest.raises(ValueError, match="factor"):
        layers.RandomBrightness(1.5)
    with pytest.raises(ValueError, match="factor"):
        layers.RandomContrast(-0.1)


@pytest.mark.parametrize("make", [
    lambda s: layers.RandomCrop(5, 6, seed=s),
    lambda s: layers.RandomRotation(0.2, seed=s),
    lambda s: layers.RandomZoom(0.3, seed=s),
    lambda s: layers.RandomTranslation(0.2, 0.2, seed=s),
    lambda s: layers.RandomContrast(0.3, seed=s),
    lambda s: layers.RandomBrightness(0.3, seed=s),
])
def test_seeds_reproduce_and_fit_augments(make):
    a, b = make(7), make(7)
    assert_close(a(IMG).numpy(), b(IMG).numpy(), atol=0)
    fastnet.utils.set_random_seed(11)
    u = make(None)(IMG).numpy()
    fastnet.utils.set_random_seed(11)
    v = make(None)(IMG).numpy()
    assert_close(u, v, atol=0)
    layer = make(None)
    first, second = layer(IMG).numpy(), layer(IMG).numpy()
    assert np.abs(first - second).max() > 0  # the stream advances
    # in a model: fit runs it with training=True, predict with training=False
    model = fastnet.Sequential([fastnet.Input((8, 10, 2)), layer, layers.Flatten(),
                                layers.Dense(1)])
    model.compile("sgd", "mse")
    model.fit(IMG / 255, np.ones((3, 1)), epochs=1, verbose=0)
    p1, p2 = model.predict(IMG, verbose=0), model.predict(IMG, verbose=0)
    assert_close(p1, p2, atol=0)


# ---- against Keras 3 (optional) ----------------------------------------------------------

@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    pytest.importorskip("torch")
    return pytest.importorskip("keras")


def _np(x):
    return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)


def test_matches_keras(keras):
    for kw in ({"interpolation": "bilinear"}, {"interpolation": "nearest"},
               {"interpolation": "bicubic"}, {"crop_to_aspect_ratio": True},
               {"pad_to_aspect_ratio": True, "fill_value": 2.0}):
        assert_close(layers.Resizing(5, 7, **kw)(IMG).numpy(),
                     _np(keras.layers.Resizing(5, 7, **kw)(IMG)), atol=1e-3, what=str(kw))
    # deterministic settings of the random layers (degenerate ranges): same pixels as Keras
    cases = [
        ("RandomRotation", {"factor": (0.125, 0.125), "fill_mode": "constant"}),
        ("RandomRotation", {"factor": (-0.3, -0.3), "fill_mode": "reflect"}),
        ("RandomZoom", {"height_factor": (0.3, 0.3), "fill_mode": "wrap"}),
        ("RandomZoom", {"height_factor": (-0.4, -0.4), "width_factor": (0.3, 0.3),
                        "fill_mode": "nearest", "interpolation": "nearest"}),
        ("RandomTranslation", {"height_factor": (0.2, 0.2), "width_factor": (-0.15, -0.15)}),
        ("RandomBrightness", {"factor": (0.1, 0.1)}),
    ]
    for name, kw in cases:
        assert_close(getattr(layers, name)(**kw)(IMG, training=True).numpy(),
                     _np(getattr(keras.layers, name)(**kw)(IMG, training=True)), atol=2e-3,
                     what=f"{name} {kw}")
    for name, kw in cases + [("RandomCrop", {"height": 4, "width": 4}),
                             ("RandomContrast", {"factor": 0.2})]:
        ours = getattr(layers, name)(**kw)
        theirs = getattr(keras.layers, name)(**kw)
        cfg, kcfg = ours.get_config(), theirs.get_config()
        assert set(kcfg) - {"seed"} <= set(cfg) | {"dtype"}, (name, set(kcfg) - set(cfg))


def test_model_with_every_image_layer_saves_and_loads(tmp_path):
    model = fastnet.Sequential([
        fastnet.Input((8, 10, 2)), layers.Resizing(6, 6, interpolation="bicubic"),
        layers.RandomRotation(0.1, seed=1), layers.RandomZoom(0.1), layers.RandomTranslation(
            0.1, 0.1), layers.RandomContrast(0.1), layers.RandomBrightness(0.1),
        layers.RandomCrop(4, 4), layers.Flatten(), layers.Dense(2)])
    path = str(tmp_path / "aug.keras")
    model.save(path)
    loaded = fastnet.models.load_model(path)
    assert_close(loaded.predict(IMG, verbose=0), model.predict(IMG, verbose=0), atol=1e-6)
    assert [type(layer).__name__ for layer in loaded.layers] == \
        [type(layer).__name__ for layer in model.layers]
