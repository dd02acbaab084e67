"""The tf.data methods Keras programs call on the datasets keras.utils returns.

Keras's ``image_dataset_from_directory``, ``text_dataset_from_directory`` and
``timeseries_dataset_from_array`` return a ``tf.data.Dataset`` of batches, and the
programs written for them go on with ``ds.map(...)``, ``ds.take(1)``,
``ds.cache().prefetch(...)``. fastnet's datasets are PyDatasets of batches; these
methods give each a lazy view with the same meaning over whole batches:

- ``map(fn, num_parallel_calls=None, deterministic=None)``: ``fn(*batch)`` for a
  tuple batch, ``fn(batch)`` otherwise. ``num_parallel_calls`` (an int, or
  ``AUTOTUNE`` = -1 for every core) runs ``fn`` in that many threads when ``fit`` /
  ``evaluate`` / ``predict`` read the dataset (the PyDataset enqueuer); batches stay in
  order, which ``deterministic=False`` also allows.
- ``prefetch(buffer_size)``: batches are loaded by a background thread up to
  ``buffer_size`` ahead of the training step (``AUTOTUNE``: 10).
- ``take(n)`` / ``skip(n)``: the first ``n`` batches / all but them (``take(-1)``: all).
- ``cache()``: each batch is computed once, then served from memory.
- ``cardinality()``, ``as_numpy_iterator()``.
- ``batch(batch_size, drop_remainder=False)``: consecutive elements stacked into batches;
  ``shuffle(buffer_size, seed=None, reshuffle_each_iteration=True)``: elements in
  tf.data's buffered random order, a new one every epoch.

``Dataset.from_tensor_slices(structure)`` is tf.data's constructor of a dataset of rows
(a dict of columns, a tuple ``(features, labels)``, an array), so the keras.io programs
that start with ``tf_data.Dataset.from_tensor_slices((dict(dataframe), labels))`` run with
``from fastnet.utils import dataset_ops as tf_data``.

Iterating a view with ``for batch in ds`` ends an epoch of the underlying dataset,
which reshuffles when it shuffles, as tf.data does per iteration.
"""

from __future__ import annotations

import os

import numpy as np

from fastnet.utils.py_dataset import PyDataset

AUTOTUNE = -1


def _to_numpy(struct):
    if isinstance(struct, dict):
        return {k: _to_numpy(v) for k, v in struct.items()}
    if isinstance(struct, (list, tuple)):
        return type(struct)(_to_numpy(v) for v in struct)
    if hasattr(struct, "numpy") and not isinstance(struct, np.ndarray):
        return struct.numpy()
    return struct


def _count(value, what, owner):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{owner}.{what}: expected an integer, received {value!r}")
    return int(value)


class DatasetOps:
    """Mixed into a PyDataset of batches: map / prefetch / take / skip / cache."""

    def map(self, map_func, num_parallel_calls=None, deterministic=None, name=None):
        if not callable(map_func):
            raise TypeError(f"{type(self).__name__}.map: `map_func` must be callable, "
                            f"received {map_func!r}")
        workers = 1
        if num_parallel_calls is not None:
            n = _count(num_parallel_calls, "map(num_parallel_calls)", type(self).__name__)
            if n == AUTOTUNE:
                workers = os.cpu_count() or 1
            elif n >= 1:
                workers = n
            else:
                raise ValueError(f"{type(self).__name__}.map: `num_parallel_calls` must be "
                                 f"a positive integer or AUTOTUNE (-1), received {n}")
        return _Mapped(self, map_func, workers)

    def prefetch(self, buffer_size, name=None):
        n = _count(buffer_size, "prefetch(buffer_size)", type(self).__name__)
        if n == AUTOTUNE:
            n = 10
        if n < 0:
            raise ValueError(f"{type(self).__name__}.prefetch: `buffer_size` must be >= 0 or "
                             f"AUTOTUNE (-1), received {n}")
        return _Prefetched(self, n) if n > 0 else self

    def take(self, count, name=None):
        n = _count(count, "take(count)", type(self).__name__)
        total = len(self)
        return _Slice(self, 0, total if n < 0 else min(n, total))

    def skip(self, count, name=None):
        n = _count(count, "skip(count)", type(self).__name__)
        total = len(self)
        return _Slice(self, total if n < 0 else min(n, total), total)

    def cache(self, filename="", name=None):
        if filename:
            raise NotImplementedError(f"{type(self).__name__}.cache: caching to a file "
                                      f"({filename!r}) is not supported; cache() keeps the "
                                      "batches in memory")
        return _Cached(self)

    def batch(self, batch_size, drop_remainder=False, num_parallel_calls=None,
              deterministic=None, name=None):
        n = _count(batch_size, "batch(batch_size)", type(self).__name__)
        if n < 1:
            raise ValueError(f"{type(self).__name__}.batch: `batch_size` must be >= 1, "
                             f"received {n}")
        return _Batched(self, n, bool(drop_remainder))

    def shuffle(self, buffer_size, seed=None, reshuffle_each_iteration=True, name=None):
        n = _count(buffer_size, "shuffle(buffer_size)", type(self).__name__)
        if n == AUTOTUNE:
            n = len(self)
        if n < 1:
            raise ValueError(f"{type(self).__name__}.shuffle: `buffer_size` must be >= 1 or "
                             f"AUTOTUNE (-1), received {n}")
        if seed is not None:
            seed = _count(seed, "shuffle(seed)", type(self).__name__)
        return _Shuffled(self, n, seed, bool(reshuffle_each_iteration))

    def cardinality(self):
        return len(self)

    def as_numpy_iterator(self):
        for batch in self:
            yield _to_numpy(batch)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]
        self.on_epoch_end()


class _View(DatasetOps, PyDataset):
    """A lazy view of another dataset's batches; epochs end on the source."""

    def __init__(self, source, workers=1, max_queue_size=10):
        super().__init__(workers=workers, max_queue_size=max_queue_size)
        self._source = source
        if workers == 1:  # inherit the source's loading (a map after a prefetch...)
            self.workers = source.workers
            self._background = getattr(source, "_background", False)
            self.max_queue_size = source.max_queue_size

    def __len__(self):
        return len(self._source)

    def __getitem__(self, index):
        return self._source[index]

    def on_epoch_begin(self):
        if hasattr(self._source, "on_epoch_begin"):
            self._source.on_epoch_begin()

    def on_epoch_end(self):
        self._source.on_epoch_end()


class _Mapped(_View):
    def __init__(self, source, fn, workers):
        super().__init__(source, workers=workers)
        self._fn = fn

    def __getitem__(self, index):
        batch = self._source[index]
        return self._fn(*batch) if isinstance(batch, tuple) else self._fn(batch)


class _Prefetched(_View):
    def __init__(self, source, buffer_size):
        super().__init__(source, workers=max(source.workers, 1), max_queue_size=buffer_size)
        self._background = True  # a loading thread even with one worker
        self.max_queue_size = buffer_size


class _Slice(_View):
    def __init__(self, source, start, stop):
        super().__init__(source)
        self._start, self._stop = start, max(start, stop)

    def __len__(self):
        return self._stop - self._start

    def __getitem__(self, index):
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"batch index {index} out of range for {n} batches")
        return self._source[self._start + index % n]


class _Cached(_View):
    def __init__(self, source):
        super().__init__(source)
        self._batches = {}

    def __getitem__(self, index):
        index = int(index) % len(self) if len(self) else int(index)
        if index not in self._batches:
            self._batches[index] = self._source[index]
        return self._batches[index]


def _rows(struct, what):
    """The structure with every leaf a numpy array (its rows: axis 0), and the row count."""
    if isinstance(struct, dict):
        items = {k: _rows(v, what) for k, v in struct.items()}
        return {k: v[0] for k, v in items.items()}, _same_length([v[1] for v in
                                                                 items.values()], what)
    if isinstance(struct, tuple):  # a tuple is a structure, a list is one array (as tf)
        items = [_rows(v, what) for v in struct]
        return tuple(v[0] for v in items), _same_length([v[1] for v in items], what)
    arr = _to_numpy(struct)
    arr = np.asarray(arr)
    if arr.dtype == object and arr.size and all(isinstance(v, str) for v in arr.flat):
        arr = arr.astype(str)
    if arr.ndim == 0:
        raise ValueError(f"{what}: every component must have a leading dimension to slice; "
                         f"received a scalar {arr!r}")
    return arr, arr.shape[0]


def _same_length(lengths, what):
    if not lengths:
        raise ValueError(f"{what}: the structure has no components")
    if len(set(lengths)) > 1:
        raise ValueError(f"{what}: all components must have the same size in their first "
                         f"dimension; received sizes {lengths}")
    return lengths[0]


def _take_row(struct, i):
    if isinstance(struct, dict):
        return {k: _take_row(v, i) for k, v in struct.items()}
    if isinstance(struct, tuple):
        return tuple(_take_row(v, i) for v in struct)
    return struct[i]


def _stack(elements):
    first = elements[0]
    if isinstance(first, dict):
        return {k: _stack([e[k] for e in elements]) for k in first}
    if isinstance(first, tuple):
        return tuple(_stack([e[j] for e in elements]) for j in range(len(first)))
    return np.stack([np.asarray(e) for e in elements])


class TensorSliceDataset(DatasetOps, PyDataset):
    """The rows of a structure of arrays (a dict, a tuple, an array; pandas columns and
    lists are taken as arrays), one element per row, as tf.data's from_tensor_slices."""

    def __init__(self, tensors):
        super().__init__()
        self._data, self._n = _rows(tensors, "Dataset.from_tensor_slices")

    def __len__(self):
        return self._n

    def __getitem__(self, index):
        if not -self._n <= index < self._n:
            raise IndexError(f"element index {index} out of range for {self._n} elements")
        return _take_row(self._data, int(index) % self._n)


class Dataset:
    """tf.data.Dataset's constructor of a dataset from in-memory data."""

    @staticmethod
    def from_tensor_slices(tensors, name=None):
        return TensorSliceDataset(tensors)


class _Batched(_View):
    def __init__(self, source, batch_size, drop_remainder):
        super().__init__(source)
        self._batch_size, self._drop = batch_size, drop_remainder

    def __len__(self):
        n = len(self._source)
        return n // self._batch_size if self._drop else -(-n // self._batch_size)

    def __getitem__(self, index):
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"batch index {index} out of range for {n} batches")
        start = (index % n) * self._batch_size
        stop = min(start + self._batch_size, len(self._source))
        return _stack([self._source[i] for i in range(start, stop)])


class _Shuffled(_View):
    """tf.data's buffered shuffle: a buffer of `buffer_size` elements, from which a random
    one is emitted and replaced by the next element of the source."""

    def __init__(self, source, buffer_size, seed, reshuffle):
        super().__init__(source)
        self._buffer_size, self._reshuffle = buffer_size, reshuffle
        self._rng = np.random.default_rng(seed)
        self._order = self._new_order()

    def _new_order(self):
        n = len(self._source)
        buffer = list(range(min(self._buffer_size, n)))
        upcoming = iter(range(len(buffer), n))
        order = []
        while buffer:
            j = int(self._rng.integers(len(buffer)))
            order.append(buffer[j])
            nxt = next(upcoming, None)
            if nxt is None:
                buffer[j] = buffer[-1]
                buffer.pop()
            else:
                buffer[j] = nxt
        return order

    def __getitem__(self, index):
        return self._source[self._order[index]]

    def on_epoch_end(self):
        super().on_epoch_end()
        if self._reshuffle:
            self._order = self._new_order()
