"""IMDB movie-review sentiment, as `keras.datasets.imdb`: Keras's cached ``imdb.npz``
and ``imdb_word_index.json`` (checksums verified), never downloaded."""

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

NPZ_SHA256 = "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"
WORD_INDEX_MD5 = "bfafd718b763782e994055a2d397834f"


def load_data(path="imdb.npz", num_words=None, skip_top=0, maxlen=None, seed=113, start_char=1,
              oov_char=2, index_from=3, cache_dir=None, verify_checksum=True, **kwargs):
    """Returns ``(x_train, y_train), (x_test, y_test)`` as Keras: x are object arrays of
    word-index lists (each shuffled with ``np.random.RandomState(seed)``, prefixed by
    ``start_char``, indices offset by ``index_from``), y int labels. ``maxlen`` drops the
    longer reviews; words outside ``[skip_top, num_words)`` become ``oov_char``."""
    if kwargs:
        raise TypeError(f"imdb.load_data: unrecognized keyword arguments: {sorted(kwargs)}")
    f, where = load_npz("imdb", "imdb.npz", NPZ_SHA256, path, cache_dir, verify_checksum)
    try:
        x_train, labels_train = f["x_train"], f["y_train"]
        x_test, labels_test = f["x_test"], f["y_test"]
    except KeyError as e:
        raise ValueError(f"{where}: not Keras's imdb.npz (no array {e})") from None
    rng = np.random.RandomState(seed)
    x_train, labels_train = shuffled(rng, x_train, labels_train)
    x_test, labels_test = shuffled(rng, x_test, labels_test)
    x_train = shift(x_train, start_char, index_from)
    x_test = shift(x_test, start_char, index_from)
    if maxlen:
        x_train, labels_train = remove_long_seq(maxlen, x_train, labels_train)
        x_test, labels_test = remove_long_seq(maxlen, x_test, labels_test)
        if not x_train or not x_test:
            raise ValueError(f"After filtering for sequences shorter than maxlen={maxlen}, no "
                             "sequence was kept. Increase maxlen.")
    xs = cut(x_train + x_test, num_words, skip_top, oov_char)
    labels = np.concatenate([np.asarray(labels_train), np.asarray(labels_test)])
    idx = len(x_train)
    return (as_object_array(xs[:idx]), labels[:idx]), (as_object_array(xs[idx:]), labels[idx:])


def get_word_index(path="imdb_word_index.json", cache_dir=None, verify_checksum=True):
    """The word -> index dict (index 1 = the most frequent word; load_data's indices are
    these plus ``index_from``)."""
    return word_index("imdb", "imdb_word_index.json", WORD_INDEX_MD5, path, cache_dir,
                      verify_checksum)
