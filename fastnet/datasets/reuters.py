"""Reuters newswire topics, as `keras.datasets.reuters`: Keras's cached ``reuters.npz``
and ``reuters_word_index.json`` (checksums verified), never downloaded."""

from __future__ import annotations

import numpy as np

from fastnet.datasets._sequences import (
    as_object_array,
    cut,
    load_npz,
    remove_long_seq,
    shift,
    shuffled,
    word_index,
)

NPZ_SHA256 = "d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916"
WORD_INDEX_MD5 = "4d44cc38712099c9e383dc6e5f11a921"

_LABELS = (
    "cocoa", "grain", "veg-oil", "earn", "acq", "wheat", "copper", "housing", "money-supply",
    "coffee", "sugar", "trade", "reserves", "ship", "cotton", "carcass", "crude", "nat-gas",
    "cpi", "money-fx", "interest", "gnp", "meal-feed", "alum", "oilseed", "gold", "tin",
    "strategic-metal", "livestock", "retail", "ipi", "iron-steel", "rubber", "heat", "jobs",
    "lei", "bop", "zinc", "orange", "pet-chem", "dlr", "gas", "silver", "wpi", "hog", "lead",
)


def load_data(path="reuters.npz", num_words=None, skip_top=0, maxlen=None, test_split=0.2,
              seed=113, start_char=1, oov_char=2, index_from=3, cache_dir=None,
              verify_checksum=True):
    """Returns ``(x_train, y_train), (x_test, y_test)`` as Keras: one shuffle
    (``np.random.RandomState(seed)``), then the first ``1 - test_split`` for training."""
    f, where = load_npz("reuters", "reuters.npz", NPZ_SHA256, path, cache_dir, verify_checksum)
    try:
        xs, labels = f["x"], f["y"]
    except KeyError as e:
        raise ValueError(f"{where}: not Keras's reuters.npz (no array {e})") from None
    rng = np.random.RandomState(seed)
    xs, labels = shuffled(rng, xs, labels)
    xs = shift(xs, start_char, index_from)
    if maxlen:
        xs, labels = remove_long_seq(maxlen, xs, labels)
    xs = cut(xs, num_words, skip_top, oov_char)
    idx = int(len(xs) * (1 - test_split))
    labels = np.asarray(labels)
    return (as_object_array(xs[:idx]), np.array(labels[:idx])), \
        (as_object_array(xs[idx:]), np.array(labels[idx:]))


def get_word_index(path="reuters_word_index.json", cache_dir=None, verify_checksum=True):
    return word_index("reuters", "reuters_word_index.json", WORD_INDEX_MD5, path, cache_dir,
                      verify_checksum)


def get_label_names():
    """The 46 topic names, in label order."""
    return _LABELS
