"""The tabular regression data sets (boston_housing, california_housing): an .npz of x
and y, one seeded shuffle, a train/test split, as Keras's loaders."""

from __future__ import annotations

import numpy as np

from fastnet.datasets._files import file_digest, locate, verify


def load(name, filename, sha256, path, cache_dir, verify_checksum, test_split, seed,
         limit=None):
    if not (0 <= test_split < 1):
        raise ValueError(f"Invalid `test_split` argument: {test_split}. It must be between 0 "
                         "and 1 (exclusive of 1).")
    where = locate(name, filename, path, cache_dir)
    if verify_checksum:
        verify(where, file_digest(where, sha256), sha256)
    with np.load(where, allow_pickle=False) as f:
        try:
            x, y = f["x"], f["y"]
        except KeyError as e:
            raise ValueError(f"{where}: not Keras's {filename} (no array {e})") from None
    if limit is not None:
        x, y = x[:limit], y[:limit]
    rng = np.random.RandomState(seed)
    indices = np.arange(len(x))
    rng.shuffle(indices)
    x, y = x[indices], y[indices]
    n = int(len(x) * (1 - test_split))
    return (np.array(x[:n]), np.array(y[:n])), (np.array(x[n:]), np.array(y[n:]))
