"""fastnet.ops.image: Keras 3's ``keras.ops.image`` (resize, affine_transform,
extract_patches, crop_images, pad_images, rgb_to_grayscale, map_coordinates).

Resizing and affine transforms run the C++ image kernels (csrc/image, channels-last
float32; other layouts are transposed around them), differentiable w.r.t. the images.
The others are compositions of fastnet.ops (slices, pads, a convolution, arithmetic), so
they differentiate through those ops; map_coordinates is numpy (its gradient w.r.t. the
inputs is a scatter).
"""

from __future__ import annotations

import itertools

import numpy as np

from fastnet.backend import image_data_format
from fastnet.backend.tensor import Tensor
from fastnet.kernels import image as _imk
from fastnet.ops import math as _m
from fastnet.ops.core import _t, make, op

__all__ = ["resize", "affine_transform", "extract_patches", "crop_images", "pad_images",
           "rgb_to_grayscale", "map_coordinates", "rgb_to_hsv", "hsv_to_rgb", "gaussian_blur",
           "sobel_edges", "ssim", "perspective_transform", "extract_patches_3d",
           "scale_and_translate", "elastic_transform"]

RESIZE_INTERPOLATIONS = ("bilinear", "nearest", "bicubic", "area")
AFFINE_INTERPOLATIONS = ("nearest", "bilinear")
FILL_MODES = ("constant", "nearest", "wrap", "mirror", "reflect")


def _data_format(data_format):
    if data_format is None:
        return image_data_format()
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError("The `data_format` argument must be one of 'channels_first', "
                         f"'channels_last'. Received: data_format={data_format}")
    return data_format


def _check_rank(x, what):
    if x.ndim not in (3, 4):
        raise ValueError(f"{what}: invalid images rank: expected rank 3 (single image) or rank 4 "
                         f"(batch of images). Received input with shape: images.shape={x.shape}")


def _to_nhwc(x, data_format):
    """(4-D channels-last float tensor, restore(y) giving the caller's layout back)."""
    unbatched = x.ndim == 3
    if unbatched:
        x = _m.expand_dims(x, 0)
    if data_format == "channels_first":
        x = _m.transpose(x, (0, 2, 3, 1))

    def restore(y):
        if data_format == "channels_first":
            y = _m.transpose(y, (0, 3, 1, 2))
        if unbatched:
            y = _m.squeeze(y, 0)
        return y

    return x, restore


def _float_in(x):
    """The image as float32 (the kernels' dtype) and the dtype to give back."""
    dtype = x.dtype
    if dtype != "float32":
        x = _m.cast(x, "float32")
    return x, dtype


def _float_out(y, dtype):
    if dtype == "float32":
        return y
    if not np.issubdtype(np.dtype(dtype), np.floating):
        info = np.iinfo(np.dtype(dtype)) if np.dtype(dtype).kind in "iu" else None
        y = _m.round(y)
        if info is not None:
            y = _m.clip(y, float(info.min), float(info.max))
    return _m.cast(y, dtype)


# ---- resize ----------------------------------------------------------------------------

@op
def _resize_nhwc(x, out_h, out_w, method):
    x = _t(x)
    xv = np.ascontiguousarray(x._value, dtype=np.float32)
    h, w = xv.shape[1], xv.shape[2]
    y = _imk.resize_forward(xv, out_h, out_w, method)

    def backward(g):
        return (_resize_adjoint(g, h, w, method),)

    return make(y, (x,), backward)


@op
def _resize_adjoint(g, in_h, in_w, method):
    """The transposed resize (the gradient of _resize_nhwc), itself differentiable."""
    g = _t(g)
    gv = np.ascontiguousarray(g._value, dtype=np.float32)
    oh, ow = gv.shape[1], gv.shape[2]
    dx = _imk.resize_backward(gv, in_h, in_w, method)

    def backward(gg):
        return (_resize_nhwc(gg, oh, ow, method),)

    return make(dx, (g,), backward)


def _aspect_box(h, w, th, tw, pad):
    """Keras's crop/pad box for crop_to_aspect_ratio / pad_to_aspect_ratio."""
    if pad:
        ph = max(h, int(float(w * th) / tw))
        pw = max(w, int(float(h * tw) / th))
        return ph, pw, int(float(ph - h) / 2), int(float(pw - w) / 2)
    ch = max(min(h, int(float(w * th) / tw)), 1)
    cw = max(min(w, int(float(h * tw) / th)), 1)
    return ch, cw, int(float(h - ch) / 2), int(float(w - cw) / 2)


@op
def resize(images, size, interpolation="bilinear", antialias=False, crop_to_aspect_ratio=False,
           pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0, data_format=None):
    """Resizes images to ``size = (height, width)`` as keras.ops.image.resize.

    Half-pixel centers; 'bilinear', 'nearest', 'bicubic' as Keras's PyTorch backend
    (bicubic a = -0.75), 'area' as TensorFlow's box average. ``crop_to_aspect_ratio``
    first crops the central box of the target's aspect ratio, ``pad_to_aspect_ratio`` pads
    to it with ``fill_value``. Integer images are computed in float32 and rounded back.
    """
    data_format = _data_format(data_format)
    if interpolation in ("lanczos3", "lanczos5"):
        raise NotImplementedError(f"resize: interpolation={interpolation!r} is not implemented "
                                  f"in fastnet; use one of {RESIZE_INTERPOLATIONS}")
    if interpolation not in RESIZE_INTERPOLATIONS:
        raise ValueError("Invalid value for argument `interpolation`. Expected of one "
                         f"{RESIZE_INTERPOLATIONS}. Received: interpolation={interpolation}")
    if fill_mode != "constant":
        raise ValueError("Invalid value for argument `fill_mode`. Only `'constant'` is supported. "
                         f"Received: fill_mode={fill_mode}")
    if pad_to_aspect_ratio and crop_to_aspect_ratio:
        raise ValueError("Only one of `pad_to_aspect_ratio` & `crop_to_aspect_ratio` can be `True`.")
    try:
        size = tuple(int(s) for s in size)
    except TypeError:
        raise ValueError("Argument `size` must be a tuple of two elements (height, width). "
                         f"Received: size={size}") from None
    if len(size) != 2 or min(size) < 1:
        raise ValueError("Argument `size` must be a tuple of two positive elements "
                         f"(height, width). Received: size={size}")
    x = _t(images)
    _check_rank(x, "resize")
    x, restore = _to_nhwc(x, data_format)
    x, dtype = _float_in(x)
    h, w = x.shape[1], x.shape[2]
    if h < 1 or w < 1:
        raise ValueError(f"resize: images must have positive height and width, got shape {x.shape}")
    th, tw = size
    if crop_to_aspect_ratio:
        ch, cw, top, left = _aspect_box(h, w, th, tw, pad=False)
        if (ch, cw) != (h, w):
            x = x[:, top:top + ch, left:left + cw, :]
    elif pad_to_aspect_ratio:
        _, _, top, left = _aspect_box(h, w, th, tw, pad=True)
        if top or left:  # Keras pads the start offset on both sides
            x = _m.pad(x, [(0, 0), (top, top), (left, left), (0, 0)], constant_values=fill_value)
    h, w = x.shape[1], x.shape[2]
    if antialias and interpolation in ("bilinear", "bicubic") and (th < h or tw < w):
        raise NotImplementedError("resize: antialias=True when downscaling is not implemented in "
                                  "fastnet (upscaling ignores it, as Keras)")
    y = _resize_nhwc(x, th, tw, interpolation)
    return restore(_float_out(y, dtype))


# ---- affine / projective transform -----------------------------------------------------

@op
def _transform_nhwc(x, transform, interpolation, fill_mode, fill_value):
    x = _t(x)
    xv = np.ascontiguousarray(x._value, dtype=np.float32)
    y = _imk.transform_forward(xv, transform, interpolation, fill_mode, float(fill_value))

    def backward(g):
        return (_transform_adjoint(g, transform, interpolation, fill_mode, fill_value),)

    return make(y, (x,), backward)


@op
def _transform_adjoint(g, transform, interpolation, fill_mode, fill_value):
    g = _t(g)
    gv = np.ascontiguousarray(g._value, dtype=np.float32)
    dx = _imk.transform_backward(gv, transform, interpolation, fill_mode)

    def backward(gg):
        # The adjoint is linear in g without the fill term.
        return (_transform_nhwc(gg, transform, interpolation, fill_mode, 0.0),)

    return make(dx, (g,), backward)


@op
def affine_transform(images, transform, interpolation="bilinear", fill_mode="constant",
                     fill_value=0, data_format=None):
    """Applies projective transforms ``[a0, a1, a2, b0, b1, b2, c0, c1]`` (one of shape
    (8,) or one per image, (N, 8)) as keras.ops.image.affine_transform: output pixel
    (x, y) takes the input at ((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k) with
    k = c0 x + c1 y + 1 (Keras's TensorFlow semantics; its other backends ignore c0, c1).
    Differentiable w.r.t. the images."""
    data_format = _data_format(data_format)
    if interpolation not in AFFINE_INTERPOLATIONS:
        raise ValueError("Invalid value for argument `interpolation`. Expected of one "
                         f"{set(AFFINE_INTERPOLATIONS)}. Received: interpolation={interpolation}")
    if fill_mode not in FILL_MODES:
        raise ValueError("Invalid value for argument `fill_mode`. Expected of one "
                         f"{set(FILL_MODES)}. Received: fill_mode={fill_mode}")
    x = _t(images)
    _check_rank(x, "affine_transform")
    t = np.asarray(transform._value if isinstance(transform, Tensor) else transform,
                   dtype=np.float32)
    if t.ndim not in (1, 2) or t.shape[-1] != 8:
        raise ValueError("Invalid transform: expected shape (8,) (single transform) or (batch, 8) "
                         f"(batch of transforms). Received input with shape: transform.shape={t.shape}")
    x, restore = _to_nhwc(x, data_format)
    if t.ndim == 2 and t.shape[0] != x.shape[0]:
        raise ValueError(f"affine_transform: {t.shape[0]} transforms for a batch of {x.shape[0]} "
                         f"images (images shape {tuple(x.shape)}, transform shape {t.shape})")
    x, dtype = _float_in(x)
    y = _transform_nhwc(x, np.ascontiguousarray(t), interpolation, fill_mode, fill_value)
    return restore(_float_out(y, dtype))


# ---- patches, crops, pads, grayscale ------------------------------------------------------

@op
def extract_patches(images, size, strides=None, dilation_rate=1, padding="valid",
                    data_format=None):
    """Patches of ``size`` (2-D (ph, pw) or int, 3-D (pd, ph, pw)) flattened into the
    channel axis in (rows, columns, channels) order, as keras.ops.image.extract_patches
    (a convolution with an identity kernel)."""
    from fastnet.ops.spatial import conv

    data_format = _data_format(data_format)
    if isinstance(size, int):
        size = (size, size)
    size = tuple(int(s) for s in size)
    nd = len(size)
    if nd not in (2, 3):
        raise TypeError("Invalid `size` argument. Expected an int or a tuple of length 2 or 3. "
                        f"Received: size={size}")
    x = _t(images)
    if x.ndim not in (nd + 1, nd + 2):
        raise ValueError(f"extract_patches: {nd}-D patches need images of rank {nd + 1} or "
                         f"{nd + 2}, got shape {x.shape}")
    unbatched = x.ndim == nd + 1
    if unbatched:
        x = _m.expand_dims(x, 0)
    if data_format == "channels_first":
        x = _m.transpose(x, (0,) + tuple(range(2, nd + 2)) + (1,))
    x, dtype = _float_in(x)
    c = x.shape[-1]
    out_dim = int(np.prod(size)) * c
    kernel = np.eye(out_dim, dtype=np.float32).reshape(size + (c, out_dim))
    y = conv(x, kernel, strides=strides if strides else size, padding=padding,
             dilation_rate=dilation_rate)
    if data_format == "channels_first":
        y = _m.transpose(y, (0, nd + 1) + tuple(range(1, nd + 1)))
    if unbatched:
        y = _m.squeeze(y, 0)
    return _float_out(y, dtype)


def _hw(x, data_format):
    return (x.shape[-3], x.shape[-2]) if data_format == "channels_last" else \
        (x.shape[-2], x.shape[-1])


def _check_three(a, b, target, names):
    if [a, b, target].count(None) != 1:
        raise ValueError(f"Must specify exactly two of {names[0]}, {names[1]}, {names[2]}. "
                         f"Received: {names[0]}={a}, {names[1]}={b}, {names[2]}={target}")


def _slice_hw(x, data_format, hs, ws):
    key = [slice(None)] * x.ndim
    if data_format == "channels_last":
        key[-3], key[-2] = hs, ws
    else:
        key[-2], key[-1] = hs, ws
    return x[tuple(key)]


@op
def crop_images(images, top_cropping=None, left_cropping=None, bottom_cropping=None,
                right_cropping=None, target_height=None, target_width=None, data_format=None):
    """Crops images as keras.ops.image.crop_images (exactly two of top/bottom/target per axis)."""
    data_format = _data_format(data_format)
    x = _t(images)
    _check_rank(x, "crop_images")
    _check_three(top_cropping, bottom_cropping, target_height,
                 ("top_cropping", "bottom_cropping", "target_height"))
    _check_three(left_cropping, right_cropping, target_width,
                 ("left_cropping", "right_cropping", "target_width"))
    h, w = _hw(x, data_format)
    if top_cropping is None:
        top_cropping = h - target_height - bottom_cropping
    if target_height is None:
        target_height = h - bottom_cropping - top_cropping
    if left_cropping is None:
        left_cropping = w - target_width - right_cropping
    if target_width is None:
        target_width = w - right_cropping - left_cropping
    for name, v in (("top_cropping", top_cropping), ("target_height", target_height),
                    ("left_cropping", left_cropping), ("target_width", target_width)):
        if v < 0:
            raise ValueError(f"crop_images: {name} must be >= 0. Received: {name}={v} for images "
                             f"of shape {x.shape}")
    if top_cropping + target_height > h:
        raise ValueError(f"crop_images: height {h} of images {x.shape} is too small for "
                         f"top_cropping={top_cropping} + target_height={target_height}")
    if left_cropping + target_width > w:
        raise ValueError(f"crop_images: width {w} of images {x.shape} is too small for "
                         f"left_cropping={left_cropping} + target_width={target_width}")
    return _slice_hw(x, data_format, slice(top_cropping, top_cropping + target_height),
                     slice(left_cropping, left_cropping + target_width))


@op
def pad_images(images, top_padding=None, left_padding=None, bottom_padding=None,
               right_padding=None, target_height=None, target_width=None, data_format=None):
    """Zero-pads images as keras.ops.image.pad_images (exactly two of top/bottom/target per axis)."""
    data_format = _data_format(data_format)
    x = _t(images)
    _check_rank(x, "pad_images")
    _check_three(top_padding, bottom_padding, target_height,
                 ("top_padding", "bottom_padding", "target_height"))
    _check_three(left_padding, right_padding, target_width,
                 ("left_padding", "right_padding", "target_width"))
    h, w = _hw(x, data_format)
    if top_padding is None:
        top_padding = target_height - bottom_padding - h
    if bottom_padding is None:
        bottom_padding = target_height - top_padding - h
    if left_padding is None:
        left_padding = target_width - right_padding - w
    if right_padding is None:
        right_padding = target_width - left_padding - w
    for name, v in (("top_padding", top_padding), ("left_padding", left_padding),
                    ("bottom_padding", bottom_padding), ("right_padding", right_padding)):
        if v < 0:
            raise ValueError(f"pad_images: {name} must be >= 0. Received: {name}={v} for images "
                             f"of shape {x.shape}")
    pw = [(top_padding, bottom_padding), (left_padding, right_padding)]
    pw = pw + [(0, 0)] if data_format == "channels_last" else [(0, 0)] + pw
    if x.ndim == 4:
        pw = [(0, 0)] + pw
    return _m.pad(x, pw)


@op
def rgb_to_grayscale(images, data_format=None):
    """0.2989 R + 0.5870 G + 0.1140 B with the channel axis kept (size 1), as Keras; a
    one-channel image is returned as is."""
    data_format = _data_format(data_format)
    x = _t(images)
    _check_rank(x, "rgb_to_grayscale")
    axis = -1 if data_format == "channels_last" else -3
    if x.shape[axis] not in (1, 3):
        raise ValueError("Invalid channel size: expected 3 (RGB) or 1 (Grayscale). "
                         f"Received input with shape: images.shape={x.shape}")
    if x.shape[axis] == 1:
        return _m.multiply(x, np.asarray(1, x.dtype)) if x.dtype.startswith("float") else x
    dtype = x.dtype
    xf = x if dtype.startswith("float") else _m.cast(x, "float32")
    weights = np.asarray([0.2989, 0.5870, 0.1140], dtype=xf.dtype)
    if data_format == "channels_first":
        weights = weights.reshape(3, 1, 1)
    y = _m.sum(_m.multiply(xf, weights), axis=axis, keepdims=True)
    return y if dtype.startswith("float") else _m.cast(y, dtype)


# ---- map_coordinates ----------------------------------------------------------------------

def _fix_index(i, size, mode):
    if mode == "wrap":
        return np.mod(i, size)
    if mode in ("mirror", "reflect"):
        def mirror(j, n):
            s = n - 1
            if s <= 0:
                return np.zeros_like(j)
            return np.abs(np.mod(j + s, 2 * s) - s)
        if mode == "mirror":
            return mirror(i, size)
        return (mirror(2 * i + 1, 2 * size + 1) - 1) // 2
    return np.clip(i, 0, size - 1)


@op
def map_coordinates(inputs, coordinates, order, fill_mode="constant", fill_value=0):
    """Samples ``inputs`` at ``coordinates`` (one array per input axis) with spline order 0
    (nearest, round half to even) or 1 (linear), as keras.ops.image.map_coordinates.
    Differentiable w.r.t. ``inputs``."""
    x = _t(inputs)
    coords = [np.asarray(c._value if isinstance(c, Tensor) else c) for c in coordinates]
    if len(coords) != x.ndim:
        raise ValueError("First dim of `coordinates` must be the same as the rank of `inputs`. "
                         f"Received inputs with shape: {x.shape} and coordinate leading dim of "
                         f"{len(coords)}")
    if coords[0].ndim < 1:
        raise ValueError("Invalid coordinates rank: expected at least rank 2. Received input with "
                         f"shape: {(len(coords),) + coords[0].shape}")
    if fill_mode not in FILL_MODES:
        raise ValueError("Invalid value for argument `fill_mode`. Expected one of "
                         f"{set(FILL_MODES)}. Received: fill_mode={fill_mode}")
    if order not in (0, 1):
        raise NotImplementedError("map_coordinates currently requires order<=1")
    coords = np.broadcast_arrays(*coords)
    per_axis = []
    for c, size in zip(coords, x.shape):
        if c.dtype.kind in "iu":
            nodes = [(c.astype(np.int64), 1.0)]
        elif order == 0:
            nodes = [(np.round(c).astype(np.int64), 1.0)]
        else:
            lo = np.floor(c)
            up = (c - lo).astype(x._value.dtype if x.dtype.startswith("float") else np.float32)
            nodes = [(lo.astype(np.int64), 1 - up), (lo.astype(np.int64) + 1, up)]
        per_axis.append([(_fix_index(i, size, fill_mode),
                          (i >= 0) & (i < size) if fill_mode == "constant" else None, w)
                         for i, w in nodes])
    xv = x._value
    out = None
    terms = []
    for items in itertools.product(*per_axis):
        idx = tuple(it[0] for it in items)
        w = 1.0
        for it in items:
            w = w * it[2]
        valid = None
        for it in items:
            if it[1] is not None:
                valid = it[1] if valid is None else valid & it[1]
        val = xv[idx]
        if valid is not None:
            val = np.where(valid, val, fill_value)
        term = w * val
        out = term if out is None else out + term
        terms.append((idx, w, valid))
    if x.dtype.startswith("float"):
        out = np.asarray(out, dtype=xv.dtype)
    else:
        out = np.round(out).astype(xv.dtype)
    shape = x.shape

    def backward(g):
        gv = g._value
        dx = np.zeros(shape, dtype=gv.dtype)
        for idx, w, valid in terms:
            contrib = gv * w
            if valid is not None:
                contrib = np.where(valid, contrib, 0)
            np.add.at(dx, idx, contrib)
        return (Tensor(dx),)

    return make(out, (x,), backward)


# ---- colour spaces, filters, similarity, projective warps (the newer keras.ops.image) -------
def _split_channels(x, data_format, name):
    _check_rank(x, name)
    axis = -1 if data_format == "channels_last" else -3
    if x.shape[axis] != 3:
        raise ValueError(f"{name}: images must have 3 channels; received shape {x.shape}")
    return axis, [_m.squeeze(p, axis) for p in _m.split(x, 3, axis=axis)]


def _float_images(images, name):
    x = _t(images)
    if x._value.dtype.kind != "f":
        raise ValueError(f"{name}: invalid images dtype: expected float dtype. Received: "
                         f"images.dtype={x.dtype}")
    return x


@op
def rgb_to_hsv(images, data_format=None):
    """RGB in [0, 1] to HSV (hue in [0, 1)), the dm_pix formulas Keras uses;
    differentiable almost everywhere (the branch masks are constants)."""
    data_format = _data_format(data_format)
    x = _float_images(images, "rgb_to_hsv")
    v = x._value
    eps = np.finfo(v.dtype).eps
    x = _m.where(Tensor(np.abs(v) < eps), 0.0, x)
    axis, (r, g, b) = _split_channels(x, data_format, "rgb_to_hsv")
    value = _m.maximum(_m.maximum(r, g), b)
    rng = value - _m.minimum(_m.minimum(r, g), b)
    vv, rv = value._value, rng._value
    safe_value = _m.where(Tensor(vv > 0), value, 1.0)
    safe_range = _m.where(Tensor(rv > 0), rng, 1.0)
    saturation = _m.where(Tensor(vv > 0), rng / safe_value, 0.0)
    norm = 1.0 / (6.0 * safe_range)
    hue = _m.where(Tensor(vv == g._value), norm * (b - r) + 2.0 / 6.0,
                   norm * (r - g) + 4.0 / 6.0)
    hue = _m.where(Tensor(vv == r._value), norm * (g - b), hue)
    hue = _m.where(Tensor(rv > 0), hue, 0.0) + Tensor((hue._value < 0).astype(v.dtype))
    return _m.stack([hue, saturation, value], axis=axis)


@op
def hsv_to_rgb(images, data_format=None):
    """HSV (hue in [0, 1)) to RGB, the dm_pix formulas Keras uses; differentiable."""
    data_format = _data_format(data_format)
    x = _float_images(images, "hsv_to_rgb")
    axis, (h, s, v) = _split_channels(x, data_format, "hsv_to_rgb")
    dh = _m.mod(h, 1.0) * 6.0
    dr = _m.clip(_m.abs(dh - 3.0) - 1.0, 0.0, 1.0)
    dg = _m.clip(2.0 - _m.abs(dh - 2.0), 0.0, 1.0)
    db = _m.clip(2.0 - _m.abs(dh - 4.0), 0.0, 1.0)
    one_minus_s = 1.0 - s
    return _m.stack([v * (one_minus_s + s * dr), v * (one_minus_s + s * dg),
                     v * (one_minus_s + s * db)], axis=axis)


def _gaussian_1d(size, sigma, dtype=np.float64):
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2
    k = np.exp(-0.5 * (x / float(sigma)) ** 2)
    return (k / k.sum()).astype(dtype)


@op
def gaussian_blur(images, kernel_size=(3, 3), sigma=(1.0, 1.0), data_format=None):
    """Gaussian blur with zero padding ("same" size), as Keras: the 2-D kernel is
    outer(g(kernel_size[1], sigma[1]), g(kernel_size[0], sigma[0])) (rows, columns);
    a depthwise convolution (differentiable)."""
    from fastnet.ops.spatial import depthwise_conv

    data_format = _data_format(data_format)
    x = _t(images)
    _check_rank(x, "gaussian_blur")
    ks = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
    sg = (sigma, sigma) if isinstance(sigma, (int, float)) else tuple(sigma)
    if len(ks) != 2 or min(int(k) for k in ks) < 1 or len(sg) != 2 or min(sg) <= 0:
        raise ValueError(f"gaussian_blur: kernel_size must be 2 positive ints and sigma 2 "
                         f"positive floats. Received: kernel_size={kernel_size}, sigma={sigma}")
    x, restore = _to_nhwc(x, data_format)
    x, dtype = _float_in(x)
    kern = np.outer(_gaussian_1d(int(ks[1]), sg[1]), _gaussian_1d(int(ks[0]), sg[0]))
    kh, kw = kern.shape
    c = x.shape[-1]
    w = np.ascontiguousarray(np.tile(kern[:, :, None, None], (1, 1, c, 1)), np.float32)
    xp = _m.pad(x, ((0, 0), ((kh - 1) // 2, kh - 1 - (kh - 1) // 2),
                    ((kw - 1) // 2, kw - 1 - (kw - 1) // 2), (0, 0)))
    return _float_out(restore(depthwise_conv(xp, w, padding="valid")), dtype)


def _reflect_pad1(x, axis):
    """One-element half-sample-symmetric padding (scipy.ndimage's 'reflect') on both
    sides of `axis`, from slices (differentiable)."""
    n = x.shape[axis]

    def sl(a, b):
        return _m.get_item(x, (slice(None),) * axis + (slice(a, b),))

    return _m.concatenate([sl(0, 1), x, sl(n - 1, n)], axis=axis)


@op
def sobel_edges(images, data_format=None):
    """Sobel derivatives of every channel, (..., H, W, C, 2): [..., 0] along the rows
    (vertical), [..., 1] along the columns, scipy.ndimage.sobel with its 'reflect' border
    (what Keras computes); differentiable."""
    data_format = _data_format(data_format)
    x = _t(images)
    _check_rank(x, "sobel_edges")
    unbatched = x.ndim == 3
    x, _ = _to_nhwc(x, data_format)
    if x._value.dtype.kind != "f":
        x = _m.cast(x, "float32")
    p = _reflect_pad1(_reflect_pad1(x, 1), 2)
    h, w = x.shape[1], x.shape[2]

    def win(dy, dx):
        return p[:, dy:dy + h, dx:dx + w, :]

    gy = (win(2, 0) + 2.0 * win(2, 1) + win(2, 2)) - (win(0, 0) + 2.0 * win(0, 1) + win(0, 2))
    gx = (win(0, 2) + 2.0 * win(1, 2) + win(2, 2)) - (win(0, 0) + 2.0 * win(1, 0) + win(2, 0))
    out = _m.stack([gy, gx], axis=-1)  # (N, H, W, C, 2)
    if data_format == "channels_first":
        out = _m.transpose(out, (0, 3, 1, 2, 4))
    return _m.squeeze(out, 0) if unbatched else out


@op
def ssim(image1, image2, max_val=1.0, filter_size=11, filter_sigma=1.5, k1=0.01, k2=0.03,
         data_format=None):
    """Structural similarity (Wang et al., 2004) with a Gaussian window ("valid"
    positions), averaged over positions and channels: one value per image, as Keras."""
    from fastnet.ops.spatial import conv

    data_format = _data_format(data_format)
    a, b = _t(image1), _t(image2)
    for name, t in (("image1", a), ("image2", b)):
        if t.ndim not in (3, 4):
            raise ValueError(f"ssim: invalid {name} rank: expected rank 3 (single image) or "
                             f"rank 4 (batch of images). Received input with shape: "
                             f"{name}.shape={t.shape}")
    if tuple(a.shape) != tuple(b.shape):
        raise ValueError(f"ssim: image1 and image2 must have the same shape; received "
                         f"{a.shape} and {b.shape}")
    unbatched = a.ndim == 3
    a, _ = _to_nhwc(a, data_format)
    b, _ = _to_nhwc(b, data_format)
    a, dtype = _float_in(a)
    b, _ = _float_in(b)
    f = int(filter_size)
    n, h, w, c = a.shape
    if f < 1 or f > min(h, w):
        raise ValueError(f"ssim: filter_size must be in [1, {min(h, w)}] for images of size "
                         f"{h}x{w}. Received: filter_size={filter_size}")
    g = _gaussian_1d(f, filter_sigma)
    kern = np.ascontiguousarray(np.outer(g, g)[:, :, None, None], np.float32)

    def chans(t):  # (N, H, W, C) -> (N*C, H, W, 1)
        return _m.reshape(_m.transpose(t, (0, 3, 1, 2)), (n * c, h, w, 1))

    def blur(t):
        return conv(t, kern, padding="valid")

    x, y = chans(a), chans(b)
    mu1, mu2 = blur(x), blur(y)
    c1, c2 = (k1 * max_val) ** 2, (k2 * max_val) ** 2
    s11 = blur(x * x) - mu1 * mu1
    s22 = blur(y * y) - mu2 * mu2
    s12 = blur(x * y) - mu1 * mu2
    smap = ((2.0 * mu1 * mu2 + c1) * (2.0 * s12 + c2)) / \
        ((mu1 * mu1 + mu2 * mu2 + c1) * (s11 + s22 + c2))
    per = _m.mean(_m.reshape(_m.mean(smap, axis=(1, 2, 3)), (n, c)), axis=-1)
    out = _m.squeeze(per, 0) if unbatched else per
    return out if dtype == "float32" or np.dtype(dtype).kind != "f" else _m.cast(out, dtype)


def _homography(start_points, end_points):
    """The 8 projective coefficients mapping output (end) pixels to input (start) pixels,
    one row per image: x_in = (a0 x + a1 y + a2) / k, y_in = (a3 x + a4 y + a5) / k,
    k = a6 x + a7 y + 1."""
    s = np.asarray(_t(start_points)._value, np.float64)
    e = np.asarray(_t(end_points)._value, np.float64)
    for name, p in (("start_points", s), ("end_points", e)):
        if p.ndim not in (2, 3) or p.shape[-2:] != (4, 2):
            raise ValueError(f"perspective_transform: invalid {name} shape: expected (4, 2) "
                             f"for a single image or (N, 4, 2) for a batch. Received shape: "
                             f"{p.shape}")
    if s.shape != e.shape:
        raise ValueError(f"perspective_transform: start_points and end_points must have the "
                         f"same shape. Received {s.shape} and {e.shape}")
    s, e = s.reshape(-1, 4, 2), e.reshape(-1, 4, 2)
    rows = []
    for i in range(4):
        ex, ey, sx, sy = e[:, i, 0], e[:, i, 1], s[:, i, 0], s[:, i, 1]
        one, zero = np.ones_like(ex), np.zeros_like(ex)
        rows.append((np.stack([ex, ey, one, zero, zero, zero, -sx * ex, -sx * ey], -1), sx))
        rows.append((np.stack([zero, zero, zero, ex, ey, one, -sy * ex, -sy * ey], -1), sy))
    a = np.stack([r[0] for r in rows], axis=1)  # (N, 8, 8)
    rhs = np.stack([r[1] for r in rows], axis=1)  # (N, 8)
    try:
        return np.linalg.solve(a, rhs[..., None])[..., 0]
    except np.linalg.LinAlgError:
        raise ValueError("perspective_transform: the points do not define a projective "
                         "transform (three of them are collinear)") from None


@op
def perspective_transform(images, start_points, end_points, interpolation="bilinear",
                          fill_value=0, data_format=None):
    """Warps the quadrilateral start_points onto end_points (each (4, 2) or (N, 4, 2)
    (x, y) corners): an affine_transform with the homography's 8 coefficients, constant
    fill; differentiable in the images."""
    x = _t(images)
    _check_rank(x, "perspective_transform")
    if interpolation not in AFFINE_INTERPOLATIONS:
        raise ValueError(f"Invalid value for argument `interpolation`. Expected one of "
                         f"{AFFINE_INTERPOLATIONS}. Received: interpolation={interpolation}")
    t = _homography(start_points, end_points).astype(np.float32)
    n = x.shape[0] if x.ndim == 4 else 1
    if t.shape[0] == 1 and n > 1:
        t = np.tile(t, (n, 1))
    if x.ndim == 3:
        t = t[0]
    return affine_transform(x, t, interpolation=interpolation, fill_mode="constant",
                            fill_value=fill_value, data_format=data_format)


@op
def extract_patches_3d(volumes, size, strides=None, dilation_rate=1, padding="valid",
                       data_format=None):
    """3-D patches of volumes (N, D, H, W, C) flattened into the channel axis in
    (depth, rows, columns, channels) order (extract_patches with a 3-D size)."""
    if isinstance(size, int):
        size = (size, size, size)
    if len(tuple(size)) != 3:
        raise ValueError(f"extract_patches_3d: size must be an int or a tuple of 3 ints. "
                         f"Received: size={size}")
    return extract_patches(volumes, tuple(size), strides=strides, dilation_rate=dilation_rate,
                           padding=padding, data_format=data_format)


_SCALE_METHODS = {"linear": "linear", "bilinear": "linear", "trilinear": "linear",
                  "triangle": "linear", "cubic": "cubic", "bicubic": "cubic",
                  "tricubic": "cubic", "lanczos3": "lanczos3", "lanczos5": "lanczos5"}


def _resample_kernel(method, x):
    """The interpolation kernels of jax.image.scale_and_translate on distances x >= 0."""
    if method == "linear":
        return np.maximum(0.0, 1.0 - x)
    if method == "cubic":  # Keys' cubic, a = -0.5
        near = ((1.5 * x - 2.5) * x) * x + 1.0
        far = ((-0.5 * x + 2.5) * x - 4.0) * x + 2.0
        return np.where(x >= 2.0, 0.0, np.where(x >= 1.0, far, near))
    radius = 3.0 if method == "lanczos3" else 5.0
    with np.errstate(divide="ignore", invalid="ignore"):
        val = radius * np.sin(np.pi * x) * np.sin(np.pi * x / radius) / (np.pi * x) ** 2
    return np.where(x > radius, 0.0, np.where(x > 1e-3, val, 1.0))


def _resample_matrix(n_in, n_out, scale, translation, method, antialias):
    """(n_in, n_out) weights: output sample j reads input pixel i with weight w[i, j]."""
    inv = 1.0 / scale
    kscale = max(inv, 1.0) if antialias else 1.0
    centers = (np.arange(n_out) + 0.5) * inv - translation * inv - 0.5
    w = _resample_kernel(method, np.abs(centers[None, :] - np.arange(n_in)[:, None]) / kscale)
    total = w.sum(axis=0, keepdims=True)
    w = np.where(np.abs(total) > 1000.0 * np.finfo(np.float32).eps,
                 w / np.where(total != 0, total, 1.0), 0.0)
    inside = (centers >= -0.5) & (centers <= n_in - 0.5)
    return np.where(inside[None, :], w, 0.0)


@op
def scale_and_translate(images, output_shape, scale, translation, spatial_dims, method,
                        antialias=True):
    """jax.image.scale_and_translate (as Keras): along each of `spatial_dims`, output
    sample j is the kernel-weighted mean of the input around (j + 0.5 - translation) /
    scale - 0.5 (the kernel widened by 1/scale when downsampling with antialias); samples
    mapping outside the input are 0. A tensordot per axis (differentiable)."""
    if method not in _SCALE_METHODS:
        raise ValueError(f"Invalid value for argument `method`. Expected one of "
                         f"{sorted(_SCALE_METHODS)}. Received: method={method}")
    kind = _SCALE_METHODS[method]
    x = _t(images)
    dims = [int(d) % x.ndim for d in spatial_dims]
    scale = np.asarray(_t(scale)._value, np.float64).reshape(-1)
    translation = np.asarray(_t(translation)._value, np.float64).reshape(-1)
    output_shape = tuple(int(s) for s in output_shape)
    if len(output_shape) != x.ndim or len(scale) != len(dims) or len(translation) != len(dims):
        raise ValueError(f"scale_and_translate: output_shape needs one size per axis of the "
                         f"images ({x.ndim}) and scale/translation one value per spatial dim "
                         f"({len(dims)}). Received: output_shape={output_shape}, "
                         f"scale={scale.tolist()}, translation={translation.tolist()}")
    is_int = x._value.dtype.kind in "iub"
    y = _m.cast(x, "float32") if is_int else x
    dt = y._value.dtype
    for d, s, t in zip(dims, scale, translation):
        w = _resample_matrix(x.shape[d], output_shape[d], s, t, kind, antialias)
        y = _m.moveaxis(_m.tensordot(y, Tensor(w.astype(dt)), axes=([d], [0])), -1, d)
    if is_int:
        lo, hi = float(x._value.min()), float(x._value.max())
        y = _m.cast(_m.clip(_m.round(y), lo, hi), x.dtype)
    return y


@op
def elastic_transform(images, alpha=20.0, sigma=5.0, interpolation="bilinear",
                      fill_mode="reflect", fill_value=0.0, seed=None, data_format=None):
    """Elastic deformation (Simard et al., 2003), as Keras: per image a displacement field
    of N(0, 1) * sigma noise, Gaussian-blurred (kernel int(6 sigma) | 1, std sigma) and
    scaled by alpha, then resampled with map_coordinates; differentiable in the images
    (first order). ``seed`` an int or a SeedGenerator (fastnet's streams, not Keras's)."""
    from fastnet import random as _random

    data_format = _data_format(data_format)
    if interpolation not in AFFINE_INTERPOLATIONS:
        raise ValueError(f"Invalid value for argument `interpolation`. Expected one of "
                         f"{AFFINE_INTERPOLATIONS}. Received: interpolation={interpolation}")
    if fill_mode not in FILL_MODES:
        raise ValueError(f"Invalid value for argument `fill_mode`. Expected one of "
                         f"{FILL_MODES}. Received: fill_mode={fill_mode}")
    x = _t(images)
    _check_rank(x, "elastic_transform")
    x, restore = _to_nhwc(x, data_format)
    x, dtype = _float_in(x)
    n, h, w, c = x.shape
    sigma, alpha = float(sigma), float(alpha)
    k = int(6 * sigma) | 1
    noise = _random.normal((2, n, h, w, 1), seed=seed).numpy() * sigma
    fields = [gaussian_blur(noise[i], (k, k), (sigma, sigma),
                            data_format="channels_last").numpy()[..., 0] for i in range(2)]
    gy, gx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    order = 1 if interpolation == "bilinear" else 0
    outs = []
    for b in range(n):
        coords = np.stack([gy + alpha * fields[1][b], gx + alpha * fields[0][b]]).astype(
            np.float32)
        chans = [map_coordinates(x[b, :, :, ch], coords, order, fill_mode=fill_mode,
                                 fill_value=fill_value) for ch in range(c)]
        outs.append(_m.stack(chans, axis=-1))
    return _float_out(restore(_m.stack(outs, axis=0)), dtype)
