"""fastnet.ops.image and the csrc/image kernels: numpy references (mandatory), Keras 3
under the PyTorch backend (optional), gradients w.r.t. the images."""

import math
import os

import numpy as np
import pytest
from oracle import assert_close, check_gradients, rand

import fastnet
from fastnet import ops
from fastnet.kernels import image as K
from fastnet.ops import image

# ---- numpy references --------------------------------------------------------------------


def _cubic(t, a=-0.75):
    t = abs(t)
    if t <= 1:
        return (a + 2) * t ** 3 - (a + 3) * t ** 2 + 1
    if t < 2:
        return a * t ** 3 - 5 * a * t ** 2 + 8 * a * t - 4 * a
    return 0.0


def resize_matrix(n_in, n_out, method):
    """Dense (n_out, n_in) interpolation matrix of one axis, float64, written from the
    definitions (half-pixel centers), independent of the kernel's tap tables."""
    m = np.zeros((n_out, n_in))
    scale = n_in / n_out
    for o in range(n_out):
        if method == "nearest":
            m[o, min(int(math.floor((o + 0.5) * scale)), n_in - 1)] = 1
        elif method == "bilinear":
            src = max((o + 0.5) * scale - 0.5, 0.0)
            i0 = int(math.floor(src))
            frac = src - i0
            m[o, min(i0, n_in - 1)] += 1 - frac
            m[o, min(i0 + 1, n_in - 1)] += frac
        elif method == "bicubic":
            src = (o + 0.5) * scale - 0.5
            base = math.floor(src)
            for i in range(base - 1, base + 3):
                m[o, min(max(i, 0), n_in - 1)] += _cubic(src - i)
        elif method == "area":
            lo, hi = o * scale, (o + 1) * scale
            for i in range(n_in):
                overlap = min(i + 1, hi) - max(i, lo)
                if overlap > 0:
                    m[o, i] += overlap / scale
    return m


def ref_resize(x, size, method):
    mh = resize_matrix(x.shape[1], size[0], method)
    mw = resize_matrix(x.shape[2], size[1], method)
    return np.einsum("oh,nhwc,pw->nopc", mh, x.astype(np.float64), mw)


def _fix(i, n, mode):
    """Keras's out-of-range index rules, one index at a time."""
    if mode in ("constant", "nearest"):
        return min(max(i, 0), n - 1)
    if mode == "wrap":
        return i % n
    if mode == "reflect":  # (d c b a | a b c d | d c b a)
        period = 2 * n
        j = i % period
        return j if j < n else period - 1 - j
    if mode == "mirror":  # (d c b | a b c d | c b a)
        if n == 1:
            return 0
        period = 2 * (n - 1)
        j = i % period
        return j if j < n else period - j
    raise ValueError(mode)


def ref_transform(x, t, interp, mode, fill):
    n, h, w, c = x.shape
    t = np.broadcast_to(np.asarray(t, np.float64).reshape(-1, 8), (n, 8))
    out = np.zeros(x.shape)
    for b in range(n):
        a0, a1, a2, b0, b1, b2, c0, c1 = t[b]
        for yy in range(h):
            for xx in range(w):
                k = c0 * xx + c1 * yy + 1
                sx, sy = (a0 * xx + a1 * yy + a2) / k, (b0 * xx + b1 * yy + b2) / k
                if interp == "nearest":
                    corners = [(round(sy), round(sx), 1.0)]  # Python rounds half to even
                else:
                    fy, fx = math.floor(sy), math.floor(sx)
                    dy, dx = sy - fy, sx - fx
                    corners = [(fy, fx, (1 - dy) * (1 - dx)), (fy, fx + 1, (1 - dy) * dx),
                               (fy + 1, fx, dy * (1 - dx)), (fy + 1, fx + 1, dy * dx)]
                for iy, ix, wt in corners:
                    if mode == "constant" and not (0 <= iy < h and 0 <= ix < w):
                        out[b, yy, xx] += wt * fill
                    else:
                        out[b, yy, xx] += wt * x[b, _fix(iy, h, mode), _fix(ix, w, mode)]
    return out


METHODS = ("nearest", "bilinear", "bicubic", "area")
SIZES = [(4, 5), (20, 31), (9, 6), (17, 13), (1, 1), (9, 13)]


@pytest.mark.parametrize("method", METHODS)
def test_resize_matches_numpy_reference(method, isa):
    x = rand((2, 9, 13, 3), seed=1)
    for size in SIZES:
        got = ops.image.resize(x, size, interpolation=method).numpy()
        assert got.shape == (2,) + size + (3,)
        assert_close(got, ref_resize(x, size, method), atol=5e-6, what=f"{method} {size}")


def test_resize_layouts_ranks_and_dtypes():
    x = rand((2, 7, 5, 3), seed=2)
    want = ref_resize(x, (4, 9), "bilinear")
    cf = ops.image.resize(np.transpose(x, (0, 3, 1, 2)), (4, 9), data_format="channels_first")
    assert_close(np.transpose(cf.numpy(), (0, 2, 3, 1)), want, atol=2e-6)
    single = ops.image.resize(x[1], (4, 9)).numpy()
    assert_close(single, want[1], atol=2e-6)
    img = (rand((1, 6, 6, 1), seed=3, low=0, high=255)).astype(np.uint8)
    got = ops.image.resize(img, (3, 3), interpolation="area")
    assert got.dtype == "uint8"
    assert_close(got.numpy(), np.clip(np.round(ref_resize(img, (3, 3), "area")), 0, 255), atol=0)
    # crop_to_aspect_ratio: the central 7x7 box of a 7x12 image, then resized
    wide = rand((1, 7, 12, 2), seed=4)
    got = ops.image.resize(wide, (5, 5), crop_to_aspect_ratio=True).numpy()
    assert_close(got, ref_resize(wide[:, :, 2:9], (5, 5), "bilinear"), atol=2e-6)
    got = ops.image.resize(wide, (6, 6), pad_to_aspect_ratio=True, fill_value=0.5).numpy()
    padded = np.pad(wide, [(0, 0), (2, 2), (0, 0), (0, 0)], constant_values=0.5)
    assert_close(got, ref_resize(padded, (6, 6), "bilinear"), atol=2e-6)


@pytest.mark.parametrize("method", METHODS)
def test_resize_gradient(method):
    x = rand((2, 5, 6, 2), seed=5)

    def grads(xx, dout):
        v = fastnet.Variable(xx.astype(np.float32))
        with fastnet.GradientTape() as tape:
            y = ops.image.resize(v, (7, 4), interpolation=method)
        return tape.gradient(y, v, output_gradients=dout.astype(np.float32)).numpy()

    check_gradients(grads, lambda xx: ref_resize(xx, (7, 4), method), [x],
                    rand((2, 7, 4, 2), seed=6), atol=1e-4, rtol=1e-3, eps=1e-3)


def test_resize_second_order_through_the_adjoint():
    x = rand((1, 4, 4, 1), seed=7)
    v = fastnet.Variable(x)
    with fastnet.GradientTape() as outer:
        with fastnet.GradientTape() as inner:
            y = ops.image.resize(v, (6, 3))
            loss = ops.sum(ops.multiply(y, y))
        g = inner.gradient(loss, v)
        gsum = ops.sum(ops.multiply(g, g))
    gg = outer.gradient(gsum, v).numpy()
    m = np.kron(resize_matrix(4, 6, "bilinear"), resize_matrix(4, 3, "bilinear"))  # (18, 16)
    a = 2 * m.T @ m  # g = a x, gsum = |a x|^2 -> 2 a^T a x
    assert_close(gg.reshape(-1), 2 * a.T @ a @ x.reshape(-1), atol=1e-4)


def test_resize_errors():
    x = rand((1, 4, 4, 1))
    with pytest.raises(ValueError, match="interpolation"):
        ops.image.resize(x, (2, 2), interpolation="cubic")
    with pytest.raises(ValueError, match="size"):
        ops.image.resize(x, (2,))
    with pytest.raises(ValueError, match="rank"):
        ops.image.resize(x[0, 0], (2, 2))
    with pytest.raises(ValueError, match="Only one of"):
        ops.image.resize(x, (2, 2), crop_to_aspect_ratio=True, pad_to_aspect_ratio=True)
    with pytest.raises(NotImplementedError, match="lanczos3"):
        ops.image.resize(x, (2, 2), interpolation="lanczos3")
    with pytest.raises(TypeError, match="float32"):
        K.resize_forward(x.astype(np.float64), 2, 2, "bilinear")
    with pytest.raises(ValueError, match="out_h"):
        K.resize_forward(x, 0, 2, "bilinear")


# No coordinate lands within float32 rounding of a half pixel (nearest's ties).
TRANSFORMS = np.array([[0.91, 0.29, -2.37, -0.23, 1.07, 1.71, 0, 0],
                       [1.31, 0.0, 4.13, 0.21, -0.83, 3.37, 0, 0]], np.float32)
PROJECTIVE = np.array([1.1, 0.1, -1.3, 0.05, 0.9, 0.7, 0.02, -0.03], np.float32)


@pytest.mark.parametrize("mode", ["constant", "nearest", "wrap", "mirror", "reflect"])
@pytest.mark.parametrize("interp", ["nearest", "bilinear"])
def test_affine_transform_matches_numpy_reference(mode, interp, isa):
    x = rand((2, 6, 7, 3), seed=8)
    got = ops.image.affine_transform(x, TRANSFORMS, interp, mode, 0.3).numpy()
    assert_close(got, ref_transform(x, TRANSFORMS, interp, mode, 0.3), atol=1e-5,
                 what=f"{interp} {mode}")
    got = ops.image.affine_transform(x, PROJECTIVE, interp, mode, -1.0).numpy()
    assert_close(got, ref_transform(x, PROJECTIVE, interp, mode, -1.0), atol=1e-5,
                 what=f"projective {interp} {mode}")


def test_affine_transform_identity_layouts_and_gradient():
    x = rand((2, 5, 4, 3), seed=9)
    ident = np.array([1, 0, 0, 0, 1, 0, 0, 0], np.float32)
    assert_close(ops.image.affine_transform(x, ident).numpy(), x, atol=0)
    cf = ops.image.affine_transform(np.transpose(x, (0, 3, 1, 2)), TRANSFORMS,
                                    data_format="channels_first").numpy()
    assert_close(np.transpose(cf, (0, 2, 3, 1)), ref_transform(x, TRANSFORMS, "bilinear",
                                                               "constant", 0), atol=1e-5)
    assert_close(ops.image.affine_transform(x[0], TRANSFORMS[0]).numpy(),
                 ref_transform(x[:1], TRANSFORMS[0], "bilinear", "constant", 0)[0], atol=1e-5)

    for mode in ("constant", "reflect"):
        def grads(xx, dout, mode=mode):
            v = fastnet.Variable(xx.astype(np.float32))
            with fastnet.GradientTape() as tape:
                y = ops.image.affine_transform(v, TRANSFORMS, "bilinear", mode, 0.25)
            return tape.gradient(y, v, output_gradients=dout.astype(np.float32)).numpy()

        check_gradients(grads, lambda xx, mode=mode: ref_transform(xx, TRANSFORMS, "bilinear",
                                                                   mode, 0.25),
                        [x], rand(x.shape, seed=10), atol=1e-4, rtol=1e-3, eps=1e-3)


def test_affine_transform_errors():
    x = rand((2, 5, 4, 3))
    with pytest.raises(ValueError, match="fill_mode"):
        ops.image.affine_transform(x, TRANSFORMS, fill_mode="edge")
    with pytest.raises(ValueError, match="interpolation"):
        ops.image.affine_transform(x, TRANSFORMS, interpolation="bicubic")
    with pytest.raises(ValueError, match="transform"):
        ops.image.affine_transform(x, np.zeros((2, 6)))
    with pytest.raises(ValueError, match="3 transforms for a batch of 2"):
        ops.image.affine_transform(x, np.zeros((3, 8)))


def test_extract_patches_crop_pad_grayscale():
    x = rand((2, 7, 8, 3), seed=11)
    got = ops.image.extract_patches(x, (3, 2)).numpy()
    assert got.shape == (2, 2, 4, 18)
    want = np.stack([np.stack([x[:, 3 * i:3 * i + 3, 2 * j:2 * j + 2].reshape(2, -1)
                               for j in range(4)], 1) for i in range(2)], 1)
    assert_close(got, want, atol=1e-6)
    got = ops.image.extract_patches(x[0], 3, strides=(2, 2), padding="same").numpy()
    assert got.shape == (4, 4, 27)
    xp = np.pad(x[0], [(1, 1), (0, 1), (0, 0)])  # 'same': 7 -> pad 2 total (1, 1), 8 -> (0, 1)
    assert_close(got[1, 2], xp[2:5, 4:7].reshape(-1), atol=1e-6)
    cf = ops.image.extract_patches(np.transpose(x, (0, 3, 1, 2)), (3, 2),
                                   data_format="channels_first").numpy()
    assert_close(np.transpose(cf, (0, 2, 3, 1)), want, atol=1e-6)
    vol = rand((1, 4, 4, 4, 2), seed=12)
    assert ops.image.extract_patches(vol, (2, 2, 2)).shape == (1, 2, 2, 2, 16)

    assert_close(ops.image.crop_images(x, 1, 2, target_height=4, target_width=5).numpy(),
                 x[:, 1:5, 2:7], atol=0)
    assert_close(ops.image.crop_images(x[0], top_cropping=1, bottom_cropping=2,
                                       left_cropping=0, right_cropping=3).numpy(),
                 x[0, 1:5, 0:5], atol=0)
    assert_close(ops.image.pad_images(x, 1, 2, target_height=10, target_width=12).numpy(),
                 np.pad(x, [(0, 0), (1, 2), (2, 2), (0, 0)]), atol=0)
    assert_close(ops.image.pad_images(np.transpose(x, (0, 3, 1, 2)), 0, 1, 2, 0,
                                      data_format="channels_first").numpy(),
                 np.pad(np.transpose(x, (0, 3, 1, 2)), [(0, 0), (0, 0), (0, 2), (1, 0)]), atol=0)
    with pytest.raises(ValueError, match="exactly two"):
        ops.image.crop_images(x, 1, 1)
    with pytest.raises(ValueError, match="top_padding must be >= 0"):
        ops.image.pad_images(x, bottom_padding=5, target_height=6, left_padding=0,
                             right_padding=0)

    gray = ops.image.rgb_to_grayscale(x).numpy()
    assert_close(gray, (x @ np.array([0.2989, 0.5870, 0.1140]))[..., None], atol=1e-6)
    assert ops.image.rgb_to_grayscale(gray).shape == gray.shape
    with pytest.raises(ValueError, match="channel size"):
        ops.image.rgb_to_grayscale(x[..., :2])


@pytest.mark.parametrize("mode", ["constant", "nearest", "wrap", "mirror", "reflect"])
def test_map_coordinates_matches_scipy(mode):
    ndimage = pytest.importorskip("scipy.ndimage")
    x = rand((6, 7), seed=13).astype(np.float64)
    coords = rand((2, 5, 4), seed=14, low=-4, high=10).astype(np.float64)
    scipy_mode = {"reflect": "reflect", "mirror": "mirror", "wrap": "grid-wrap",
                  "nearest": "nearest", "constant": "grid-constant"}[mode]
    for order in (0, 1):
        got = ops.image.map_coordinates(x.astype(np.float32), coords, order, mode, 0.5).numpy()
        if order == 0:  # scipy rounds halves away from zero; keep off the ties
            coords0 = np.floor(coords) + 0.3
            got = ops.image.map_coordinates(x.astype(np.float32), coords0, 0, mode, 0.5).numpy()
            want = ndimage.map_coordinates(x, coords0, order=0, mode=scipy_mode, cval=0.5)
        else:
            want = ndimage.map_coordinates(x, coords, order=1, mode=scipy_mode, cval=0.5)
        assert_close(got, want, atol=1e-5, what=f"{mode} order {order}")
    v = fastnet.Variable(x.astype(np.float32))
    with fastnet.GradientTape() as tape:
        y = ops.sum(ops.image.map_coordinates(v, coords, 1, mode, 0.5))
    g = tape.gradient(y, v).numpy()
    eps = 1e-3
    num = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        d = np.zeros_like(x)
        d[idx] = eps
        num[idx] = (ndimage.map_coordinates(x + d, coords, order=1, mode=scipy_mode,
                                            cval=0.5).sum() -
                    ndimage.map_coordinates(x - d, coords, order=1, mode=scipy_mode,
                                            cval=0.5).sum()) / (2 * eps)
    assert_close(g, num, atol=1e-4)


# ---- against Keras 3 (optional) ----------------------------------------------------------

@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    pytest.importorskip("torch")
    return pytest.importorskip("keras")


def _np(x):
    return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)


def test_matches_keras(keras):
    x = rand((2, 9, 13, 3), seed=15)
    for method in ("nearest", "bilinear", "bicubic"):
        for size in SIZES:
            assert_close(ops.image.resize(x, size, interpolation=method).numpy(),
                         _np(keras.ops.image.resize(x, size, interpolation=method)), atol=2e-6,
                         what=f"{method} {size}")
    for kw in ({"crop_to_aspect_ratio": True}, {"pad_to_aspect_ratio": True, "fill_value": 0.5}):
        assert_close(ops.image.resize(x, (8, 8), **kw).numpy(),
                     _np(keras.ops.image.resize(x, (8, 8), **kw)), atol=2e-6, what=str(kw))
    for mode in ("constant", "nearest", "wrap", "mirror", "reflect"):
        for interp in ("nearest", "bilinear"):
            assert_close(ops.image.affine_transform(x, TRANSFORMS, interp, mode, 0.3).numpy(),
                         _np(keras.ops.image.affine_transform(x, TRANSFORMS, interp, mode, 0.3)),
                         atol=1e-5, what=f"{interp} {mode}")
    assert_close(ops.image.extract_patches(x, (3, 4)).numpy(),
                 _np(keras.ops.image.extract_patches(x, (3, 4))), atol=1e-6)
    assert_close(ops.image.rgb_to_grayscale(x).numpy(),
                 _np(keras.ops.image.rgb_to_grayscale(x)), atol=1e-6)
    assert_close(ops.image.crop_images(x, 1, 2, 3, 4).numpy(),
                 _np(keras.ops.image.crop_images(x, 1, 2, 3, 4)), atol=0)
    assert_close(ops.image.pad_images(x, 1, 2, 3, 4).numpy(),
                 _np(keras.ops.image.pad_images(x, 1, 2, 3, 4)), atol=0)


def test_ops_image_in_a_functional_model():
    inputs = fastnet.Input((9, 13, 3))
    resized = ops.image.resize(inputs, (5, 6))
    moved = ops.image.affine_transform(resized, TRANSFORMS[0])
    gray = ops.image.rgb_to_grayscale(moved)
    patches = ops.image.extract_patches(inputs, (3, 3))
    cropped = ops.image.crop_images(inputs, 1, 1, target_height=4, target_width=4)
    padded = ops.image.pad_images(inputs, 1, 1, 1, 1)
    assert [t.shape for t in (resized, gray, patches, cropped, padded)] == [
        (None, 5, 6, 3), (None, 5, 6, 1), (None, 3, 4, 27), (None, 4, 4, 3), (None, 11, 15, 3)]
    model = fastnet.Model(inputs, [gray, cropped])
    x = rand((2, 9, 13, 3), seed=20)
    got_gray, got_crop = model.predict(x, verbose=0)
    want = ref_transform(ref_resize(x, (5, 6), "bilinear"), TRANSFORMS[0], "bilinear",
                         "constant", 0.0) @ np.array([0.2989, 0.5870, 0.1140])
    assert_close(got_gray[..., 0], want, atol=1e-5)
    assert_close(got_crop, x[:, 1:5, 1:5], atol=0)


_SYMBOLIC_CASES = [
    ("resize", lambda t: image.resize(t, (4, 5)), (2, 8, 10, 3)),
    ("resize_cf", lambda t: image.resize(t, (4, 5), data_format="channels_first"),
     (2, 3, 8, 10)),
    ("affine", lambda t: image.affine_transform(
        t, np.array([[1, 0, 0.5, 0, 1, 0, 0, 0]], "float32")), (1, 8, 10, 3)),
    ("grayscale", lambda t: image.rgb_to_grayscale(t), (2, 8, 10, 3)),
    ("crop_target", lambda t: image.crop_images(t, 1, 2, target_height=4, target_width=3),
     (2, 8, 10, 3)),
    ("crop_sides", lambda t: image.crop_images(t, 1, 2, bottom_cropping=1, right_cropping=3),
     (2, 8, 10, 3)),
    ("pad_sides", lambda t: image.pad_images(t, 1, 2, bottom_padding=1, right_padding=0),
     (2, 8, 10, 3)),
    ("pad_target", lambda t: image.pad_images(t, 1, 2, target_height=12, target_width=14),
     (2, 8, 10, 3)),
    ("patches", lambda t: image.extract_patches(t, 3), (2, 8, 10, 3)),
    ("patches_same", lambda t: image.extract_patches(t, (2, 3), strides=1, padding="same"),
     (2, 8, 10, 3)),
]


@pytest.mark.parametrize("name,fn,shape", _SYMBOLIC_CASES, ids=[c[0] for c in _SYMBOLIC_CASES])
def test_image_op_output_spec_is_the_eager_shape(name, fn, shape):
    """Each op's output-spec rule (fastnet/ops/_specs.py) gives the eager shape and dtype
    without running a kernel, and the functional model replays the op."""
    x = np.random.default_rng(0).random(shape).astype("float32")
    eager = fn(fastnet.ops.convert_to_tensor(x))
    inp = fastnet.Input(shape[1:], batch_size=shape[0])
    sym = fn(inp)
    assert tuple(sym.shape) == tuple(eager.shape) and str(sym.dtype) == str(eager.dtype)
    np.testing.assert_allclose(fastnet.Model(inp, sym).predict(x, verbose=0), np.asarray(eager),
                               rtol=1e-6)
