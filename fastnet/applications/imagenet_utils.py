"""ImageNet input preprocessing and prediction decoding, as
keras.applications.imagenet_utils: preprocess_input's 'caffe' / 'tf' / 'torch' modes and
decode_predictions over Keras's cached imagenet_class_index.json (never downloaded)."""

from __future__ import annotations

import json
import os

import numpy as np

from fastnet.applications._common import keras_models_dir

CLASS_INDEX_FILE = "imagenet_class_index.json"
_CLASS_INDEX = None


def preprocess_input(x, data_format=None, mode="caffe"):
    """'caffe': RGB -> BGR, minus the ImageNet BGR means (no scaling); 'tf': to [-1, 1];
    'torch': to [0, 1], minus the RGB means, over the RGB stds. Numpy in, numpy out (a
    float copy; Keras modifies float numpy arrays in place, fastnet never does)."""
    from fastnet.backend import image_data_format
    from fastnet.backend.tensor import Tensor

    if mode not in ("caffe", "tf", "torch"):
        raise ValueError("Expected mode to be one of `caffe`, `tf` or `torch`. Received: "
                         f"mode={mode}")
    data_format = data_format or image_data_format()
    if data_format not in ("channels_first", "channels_last"):
        raise ValueError("Expected data_format to be one of `channels_first` or "
                         f"`channels_last`. Received: data_format={data_format}")
    is_tensor = isinstance(x, Tensor)
    arr = np.asarray(x._value if is_tensor else x)
    arr = arr.astype(np.float32) if arr.dtype.kind != "f" else arr.copy()
    if mode == "tf":
        out = arr / 127.5 - 1.0
    else:
        if mode == "torch":
            arr = arr / 255.0
            mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
        else:
            arr = arr[..., ::-1] if data_format == "channels_last" else (
                arr[:, ::-1] if arr.ndim == 4 else arr[::-1])
            mean, std = [103.939, 116.779, 123.68], None
        shape = (3,) if data_format == "channels_last" else (3, 1, 1)
        out = arr - np.asarray(mean, arr.dtype).reshape(shape)
        if std is not None:
            out = out / np.asarray(std, arr.dtype).reshape(shape)
    out = np.ascontiguousarray(out)
    return Tensor(out) if is_tensor else out


def _class_index():
    global _CLASS_INDEX
    if _CLASS_INDEX is None:
        path = os.path.join(keras_models_dir(), CLASS_INDEX_FILE)
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"decode_predictions: {path} not found. fastnet does not download it: copy "
                "Keras's cached imagenet_class_index.json there (Keras keeps it in "
                "~/.keras/models/).")
        with open(path, encoding="utf-8") as f:
            _CLASS_INDEX = json.load(f)
    return _CLASS_INDEX


def decode_predictions(preds, top=5):
    """For each row of ImageNet class scores (n, 1000): the ``top`` (class_id, name,
    score) tuples, highest first."""
    from fastnet.backend.tensor import Tensor

    p = np.asarray(preds._value if isinstance(preds, Tensor) else preds)
    if p.ndim != 2 or p.shape[1] != 1000:
        raise ValueError("`decode_predictions` expects a batch of predictions (i.e. a 2D array "
                         f"of shape (samples, 1000)). Received array with shape: {p.shape}")
    index = _class_index()
    results = []
    for row in p:
        order = np.argsort(row)[-top:][::-1]
        results.append([tuple(index[str(i)]) + (row[i],) for i in order])
    return results
