"""Boston housing prices, as `keras.datasets.boston_housing` (Keras's cached
``boston_housing.npz``, checksum verified)."""

from fastnet.datasets._regression import load

NPZ_SHA256 = "f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5"


def load_data(path="boston_housing.npz", test_split=0.2, seed=113, cache_dir=None,
              verify_checksum=True):
    """Returns ``(x_train, y_train), (x_test, y_test)``: 13 features per house, prices in
    k$; shuffled with ``np.random.RandomState(seed)``, the last ``test_split`` for test."""
    return load("boston_housing", "boston_housing.npz", NPZ_SHA256, path, cache_dir,
                verify_checksum, test_split, seed)
