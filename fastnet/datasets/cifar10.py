"""CIFAR-10 small images, as `keras.datasets.cifar10`."""

from __future__ import annotations

import os
import tarfile

import numpy as np

from fastnet.datasets._files import (
    find_file,
    load_array_pickle,
    search_dirs,
    sha256_file,
    verify,
)

# Keras's download (cifar-10-python.tar.gz), its published hash.
TAR_SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
TAR_NAMES = ("cifar-10-batches-py.tar.gz", "cifar-10-python.tar.gz")  # Keras 3 / 2 names
PY_DIR = "cifar-10-batches-py"
BIN_DIR = "cifar-10-batches-bin"
TRAIN_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]


def _batch_from_dict(d, where):
    data = d.get(b"data")
    labels = d.get(b"labels")
    if data is None or labels is None:
        raise ValueError(f"{where}: not a CIFAR-10 batch (no data/labels)")
    data = np.asarray(data, dtype=np.uint8)
    if data.ndim != 2 or data.shape[1] != 3072 or data.shape[0] != len(labels):
        raise ValueError(f"{where}: unexpected data shape {data.shape} for {len(labels)} labels")
    x = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(x), np.asarray(labels, dtype=np.uint8).reshape(-1, 1)


def _read_bin_batch(path):
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size % 3073:
        raise ValueError(f"{path}: size {raw.size} is not a whole number of 3073-byte records")
    rec = raw.reshape(-1, 3073)
    x = rec[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(x), rec[:, :1].copy()


def _tar_batch(tar, tar_path, name):
    f = tar.extractfile(f"{PY_DIR}/{name}")
    if f is None:
        raise ValueError(f"{tar_path}: {PY_DIR}/{name} missing")
    return _batch_from_dict(load_array_pickle(f), f"{tar_path}:{name}")


def _concat(parts):
    xs, ys = zip(*parts)
    return np.concatenate(xs), np.concatenate(ys)


def load_data(cache_dir=None, verify_checksum=True):
    """Returns ``(x_train, y_train), (x_test, y_test)``: uint8 arrays of shapes
    (50000, 32, 32, 3), (50000, 1), (10000, 32, 32, 3), (10000, 1).

    Reads, in order of preference: the extracted binary batches
    (``cifar-10-batches-bin``), Keras's ``cifar-10-python.tar.gz`` (checksum
    verified) or its extracted ``cifar-10-batches-py``. The python batches are
    pickles: they are read with an unpickler that only rebuilds arrays.
    """
    for d in search_dirs("cifar-10", cache_dir):
        bin_dir = os.path.join(d, BIN_DIR)
        if os.path.isfile(os.path.join(bin_dir, "test_batch.bin")):
            train = _concat([_read_bin_batch(os.path.join(bin_dir, b + ".bin"))
                             for b in TRAIN_BATCHES])
            return train, _read_bin_batch(os.path.join(bin_dir, "test_batch.bin"))
        tar_path = next((os.path.join(d, n) for n in TAR_NAMES
                         if os.path.isfile(os.path.join(d, n))), None)
        if tar_path is not None:
            if verify_checksum:
                verify(tar_path, sha256_file(tar_path), TAR_SHA256)
            with tarfile.open(tar_path, "r:gz") as tar:
                train = _concat([_tar_batch(tar, tar_path, b) for b in TRAIN_BATCHES])
                return train, _tar_batch(tar, tar_path, "test_batch")
    d = find_file("cifar-10", [os.path.join(PY_DIR, b) for b in TRAIN_BATCHES + ["test_batch"]],
                  cache_dir)

    def read(name):
        path = os.path.join(d, PY_DIR, name)
        with open(path, "rb") as f:
            return _batch_from_dict(load_array_pickle(f), path)

    return _concat([read(b) for b in TRAIN_BATCHES]), read("test_batch")
