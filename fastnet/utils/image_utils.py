"""keras.utils image helpers: img_to_array, array_to_img, load_img, save_img (PIL images,
as Keras; PIL is needed only by the functions that read, write or build one)."""

import io
import pathlib
import warnings

import numpy as np


def _pil():
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("Could not import PIL.Image: fastnet's image loading and saving "
                          "(load_img, save_img, array_to_img, image_dataset_from_directory) "
                          "need Pillow (`pip install pillow`), as Keras's do.") from None
    return Image


def _data_format(data_format):
    from fastnet.backend import image_data_format

    value = image_data_format() if data_format is None else str(data_format).lower()
    if value not in ("channels_first", "channels_last"):
        raise ValueError("The `data_format` argument must be one of 'channels_first', "
                         f"'channels_last'. Received: data_format={data_format!r}")
    return value


def _floatx(dtype):
    from fastnet.backend import floatx

    return floatx() if dtype is None else dtype


def img_to_array(img, data_format=None, dtype=None):
    """A PIL image (or array) as a 3-D numpy array, (height, width, channels) for
    channels_last; a grayscale image gets a channel axis of 1."""
    data_format = _data_format(data_format)
    x = np.asarray(img, dtype=_floatx(dtype))
    if x.ndim == 3:
        if data_format == "channels_first":
            x = x.transpose(2, 0, 1)
    elif x.ndim == 2:
        x = x.reshape((1,) + x.shape if data_format == "channels_first" else x.shape + (1,))
    else:
        raise ValueError(f"img_to_array: unsupported image shape: {x.shape}")
    return x


def array_to_img(x, data_format=None, scale=True, dtype=None):
    """A 3-D array as a PIL image (4 channels RGBA, 3 RGB, 1 L, or I above 255);
    ``scale`` maps the array's range to [0, 255]."""
    data_format = _data_format(data_format)
    image = _pil()
    x = np.array(x, dtype=_floatx(dtype))
    if x.ndim != 3:
        raise ValueError("Expected image array to have rank 3 (single image). Got array with "
                         f"shape: {x.shape}")
    if data_format == "channels_first":
        x = x.transpose(1, 2, 0)
    if scale:
        x = x - np.min(x)
        top = np.max(x)
        if top != 0:
            x /= top
        x *= 255
    channels = x.shape[2]
    if channels == 4:
        return image.fromarray(x.astype("uint8"), "RGBA")
    if channels == 3:
        return image.fromarray(x.astype("uint8"), "RGB")
    if channels == 1:
        if np.max(x) > 255:
            return image.fromarray(x[:, :, 0].astype("int32"), "I")
        return image.fromarray(x[:, :, 0].astype("uint8"), "L")
    raise ValueError(f"array_to_img: unsupported channel number: {channels}")


def save_img(path, x, data_format=None, file_format=None, scale=True, **kwargs):
    """Writes the array `x` as an image file (format from the suffix unless given)."""
    data_format = _data_format(data_format)
    if file_format is None and isinstance(path, (str, pathlib.Path)):
        file_format = pathlib.Path(path).suffix[1:].lower()
    if file_format and file_format.lower() == "jpg":
        file_format = "jpeg"
    img = array_to_img(x, data_format=data_format, scale=scale)
    if img.mode == "RGBA" and file_format == "jpeg":
        warnings.warn("The JPEG format does not support RGBA images, converting to RGB.",
                      stacklevel=2)
        img = img.convert("RGB")
    img.save(path, format=file_format, **kwargs)


_INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "hamming", "box", "lanczos")


def load_img(path, color_mode="rgb", target_size=None, interpolation="nearest",
             keep_aspect_ratio=False):
    """A PIL image read from `path` (or a BytesIO), converted to `color_mode`
    ("grayscale", "rgb", "rgba") and resized to `target_size` = (height, width)."""
    image = _pil()
    if isinstance(path, io.BytesIO):
        img = image.open(path)
    elif isinstance(path, (pathlib.Path, bytes, str)):
        with open(path, "rb") as f:
            img = image.open(io.BytesIO(f.read()))
    else:
        raise TypeError(f"path should be path-like or io.BytesIO, not {type(path)}")
    if color_mode == "grayscale":
        if img.mode not in ("L", "I;16", "I"):
            img = img.convert("L")
    elif color_mode == "rgba":
        if img.mode != "RGBA":
            img = img.convert("RGBA")
    elif color_mode == "rgb":
        if img.mode != "RGB":
            img = img.convert("RGB")
    else:
        raise ValueError('color_mode must be "grayscale", "rgb", or "rgba". Received: '
                         f"color_mode={color_mode!r}")
    if target_size is not None:
        size = (int(target_size[1]), int(target_size[0]))
        if img.size != size:
            if interpolation not in _INTERPOLATIONS:
                raise ValueError(f"Invalid interpolation method {interpolation!r} specified. "
                                 f"Supported methods are {', '.join(_INTERPOLATIONS)}")
            resample = getattr(image.Resampling, interpolation.upper())
            if keep_aspect_ratio:
                width, height = img.size
                crop_h = min(height, (width * size[1]) // size[0])
                crop_w = min(width, (height * size[0]) // size[1])
                top, left = (height - crop_h) // 2, (width - crop_w) // 2
                img = img.resize(size, resample, box=[left, top, left + crop_w, top + crop_h])
            else:
                img = img.resize(size, resample)
    return img


def smart_resize(x, size, interpolation="bilinear", data_format="channels_last",
                 backend_module=None):
    """Resizes image(s) to `size` without distorting them: the largest centred crop of
    the target aspect ratio, then a resize (keras.preprocessing.image.smart_resize)."""
    from fastnet import ops

    if backend_module is not None:
        raise NotImplementedError("smart_resize: `backend_module` is not implemented in "
                                  "fastnet (it always resizes with fastnet.ops)")
    x = np.asarray(x)
    if x.ndim not in (3, 4):
        raise ValueError("smart_resize: expected an image array of rank 3 or 4. Received: "
                         f"x.shape={x.shape}")
    out = ops.image.resize(x.astype(np.float32, copy=False), tuple(size),
                           interpolation=interpolation, crop_to_aspect_ratio=True,
                           data_format=data_format)
    return ops.convert_to_numpy(out)
