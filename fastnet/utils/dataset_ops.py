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
