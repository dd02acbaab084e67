"""CIFAR-100 small images, as `keras.datasets.cifar100`."""

from __future__ import annotations

import os
import tarfile

import numpy as np

from fastnet.datasets._files import load_array_pickle, search_dirs, sha256_file, verify

# Keras's download (cifar-100-python.tar.gz), its published hash.
TAR_SHA256 = "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7"
# Keras 3 caches the archive as <fname>_archive and extracts into <fname>; Keras 2 kept
# cifar-100-python.tar.gz and extracted cifar-100-python/ beside it.
EXTRACTED = ("cifar-100-python-target", "")
ARCHIVES = ("cifar-100-python-target_archive", "cifar-100-python.tar.gz")
PY_DIR = "cifar-100-python"


def _batch(d, where, label_key):
    data = d.get(b"data")
    labels = d.get(label_key.encode())
    if data is None or labels is None:
        raise ValueError(f"{where}: not a CIFAR-100 batch (no data/{label_key})")
    data = np.asarray(data, dtype=np.uint8)
    if data.ndim != 2 or data.shape[1] != 3072 or data.shape[0] != len(labels):
        raise ValueError(f"{where}: unexpected data shape {data.shape} for {len(labels)} labels")
    x = np.ascontiguousarray(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    return x, np.asarray(labels, dtype=np.int64).reshape(-1, 1)


def load_data(label_mode="fine", cache_dir=None, verify_checksum=True):
    """Returns ``(x_train, y_train), (x_test, y_test)``: uint8 images (50000 / 10000, 32,
    32, 3) and int64 labels (n, 1), the 100 fine classes or (``label_mode='coarse'``) the 20
    superclasses. Reads Keras's extracted ``cifar-100-python`` directory or its archive
    (checksum verified), with an unpickler that only rebuilds arrays."""
    if label_mode not in ("fine", "coarse"):
        raise ValueError('`label_mode` must be one of `"fine"`, `"coarse"`. Received: '
                         f"label_mode={label_mode}.")
    key = f"{label_mode}_labels"
    tried = []
    for d in search_dirs("cifar-100", cache_dir):
        for sub in EXTRACTED:
            base = os.path.join(d, sub, PY_DIR)
            if os.path.isfile(os.path.join(base, "train")) and \
                    os.path.isfile(os.path.join(base, "test")):
                parts = []
                for name in ("train", "test"):
                    path = os.path.join(base, name)
                    with open(path, "rb") as f:
                        parts.append(_batch(load_array_pickle(f), path, key))
                return parts[0], parts[1]
            tried.append(base)
        for arch in ARCHIVES:
            path = os.path.join(d, arch)
            if not os.path.isfile(path):
                tried.append(path)
                continue
            if verify_checksum:
                verify(path, sha256_file(path), TAR_SHA256)
            parts = []
            with tarfile.open(path, "r:*") as tar:
                for name in ("train", "test"):
                    f = tar.extractfile(f"{PY_DIR}/{name}")
                    if f is None:
                        raise ValueError(f"{path}: {PY_DIR}/{name} missing")
                    parts.append(_batch(load_array_pickle(f), f"{path}:{name}", key))
            return parts[0], parts[1]
    raise FileNotFoundError(
        f"cifar100: could not find Keras's cached CIFAR-100 in any of: {', '.join(tried)}. "
        "fastnet does not download data: copy Keras's cache (~/.keras/datasets) there.")
