"""California housing prices, as `keras.datasets.california_housing` (Keras's cached
``california_housing.npz``, checksum verified)."""

from fastnet.datasets._regression import load

NPZ_SHA256 = "1a2e3a52e0398de6463aebe6f4a8da34fb21fbb6b934cf88c3425e766f2a1a6f"


def load_data(version="large", path="california_housing.npz", test_split=0.2, seed=113,
              cache_dir=None, verify_checksum=True):
    """Returns ``(x_train, y_train), (x_test, y_test)``: 8 features per district, the
    median value; ``version='small'`` keeps the first 600 rows (before the shuffle)."""
    if version not in ("small", "large"):
        raise ValueError(f"Argument `version` must be one of 'small', 'large'. Received: "
                         f"version={version}")
    return load("california_housing", "california_housing.npz", NPZ_SHA256, path, cache_dir,
                verify_checksum, test_split, seed, limit=600 if version == "small" else None)
