"""Fashion-MNIST (Zalando), as `keras.datasets.fashion_mnist`."""

from __future__ import annotations

import os

from fastnet.datasets._files import find_file, read_idx

FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")

# sha256 of each file's decompressed payload.
PAYLOAD_SHA256 = {
    "train-images-idx3-ubyte.gz": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte.gz": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte.gz": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte.gz": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}


def load_data(cache_dir=None, verify_checksum=True):
    """Returns ``(x_train, y_train), (x_test, y_test)``: uint8 arrays of shapes
    (60000, 28, 28), (60000,), (10000, 28, 28), (10000,).

    Looks in ``~/.keras/datasets/fashion-mnist`` (Keras's cache) and
    ``/usr/share/datasets/fashion-mnist`` (Debian's dataset-fashion-mnist).
    """
    d = find_file("fashion-mnist", FILES, cache_dir)
    arrays = [read_idx(os.path.join(d, f), PAYLOAD_SHA256[f] if verify_checksum else None)
              for f in FILES]
    x_train, y_train, x_test, y_test = arrays
    return (x_train, y_train), (x_test, y_test)
