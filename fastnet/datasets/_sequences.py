"""The word-index sequence data sets (imdb, reuters): Keras's reading of its .npz and
of the *_word_index.json files, shared."""

from __future__ import annotations

import json

import numpy as np

from fastnet.datasets._files import file_digest, load_npz_safe, locate, verify


def load_npz(name, filename, sha256, path, cache_dir, verify_checksum):
    where = locate(name, filename, path, cache_dir)
    if verify_checksum:
        verify(where, file_digest(where, sha256), sha256)
    return load_npz_safe(where), where


def word_index(name, filename, md5, path, cache_dir, verify_checksum):
    where = locate(name, filename, path, cache_dir)
    if verify_checksum:
        verify(where, file_digest(where, md5), md5)
    with open(where, encoding="utf-8") as f:
        return json.load(f)


def remove_long_seq(maxlen, seqs, labels):
    kept = [(x, y) for x, y in zip(seqs, labels) if len(x) < maxlen]
    return [x for x, _ in kept], [y for _, y in kept]


def shift(xs, start_char, index_from):
    """Keras's start_char prefix and index_from offset."""
    if start_char is not None:
        xs = [[start_char] + [int(w) + index_from for w in x] for x in xs]
    elif index_from:
        xs = [[int(w) + index_from for w in x] for x in xs]
    else:
        xs = [[int(w) for w in x] for x in xs]
    return xs


def cut(xs, num_words, skip_top, oov_char):
    """Words outside [skip_top, num_words) become oov_char (dropped when it is None);
    num_words defaults to the largest index (as Keras, which then also cuts that one)."""
    if not num_words:
        num_words = max(max(x) for x in xs if x) if any(xs) else 0
    if oov_char is not None:
        return [[w if skip_top <= w < num_words else oov_char for w in x] for x in xs]
    return [[w for w in x if skip_top <= w < num_words] for x in xs]


def as_object_array(xs):
    out = np.empty(len(xs), dtype=object)
    for i, x in enumerate(xs):
        out[i] = x
    return out


def shuffled(rng, xs, labels):
    """``xs`` and ``labels`` in one random order drawn from ``rng`` (a RandomState), as
    Keras shuffles imdb's and reuters' arrays (one ``rng.shuffle`` of the indices each)."""
    indices = np.arange(len(xs))
    rng.shuffle(indices)
    return xs[indices], labels[indices]
