"""MNIST handwritten digits, as `keras.datasets.mnist`."""

from __future__ import annotations

import os

import numpy as np

from fastnet.datasets._files import find_file, read_idx, search_dirs, sha256_file, verify

# Keras's mnist.npz (its download's published hash).
NPZ_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"

IDX_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
             "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


def load_data(path="mnist.npz", cache_dir=None, verify_checksum=True):
    """Returns ``(x_train, y_train), (x_test, y_test)``: uint8 arrays of shapes
    (60000, 28, 28), (60000,), (10000, 28, 28), (10000,).

    Reads Keras's cached ``mnist.npz`` (checksum-verified), or the four IDX
    files of the original distribution from the same directories.
    """
    for d in search_dirs("mnist", cache_dir):
        npz = path if os.path.isabs(path) else os.path.join(d, path)
        if os.path.isfile(npz):
            if verify_checksum:
                verify(npz, sha256_file(npz), NPZ_SHA256)
            with np.load(npz, allow_pickle=False) as f:
                return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])
    d = find_file("mnist", IDX_FILES, cache_dir)
    x_train, y_train, x_test, y_test = (read_idx(os.path.join(d, f)) for f in IDX_FILES)
    return (x_train, y_train), (x_test, y_test)
