"""Turns what users pass to fit/evaluate/predict into batches.

Accepted, as Keras: numpy arrays (or anything np.asarray takes), lists/tuples
and dicts of arrays (multi-input/-output models), a `fastnet.utils.PyDataset`,
or any Python iterable/generator yielding `x`, `(x,)`, `(x, y)` or
`(x, y, sample_weight)` batches. Array data is sliced in whole batches
(optionally shuffled per epoch); nothing is copied per sample.
"""

from __future__ import annotations

import itertools
import math

import numpy as np


def _map(fn, struct):
    if struct is None:
        return None
    if isinstance(struct, dict):
        return {k: _map(fn, v) for k, v in struct.items()}
    if isinstance(struct, (list, tuple)):
        return type(struct)(_map(fn, v) for v in struct)
    return fn(struct)


def _leaves(struct):
    if struct is None:
        return []
    if isinstance(struct, dict):
        return [leaf for v in struct.values() for leaf in _leaves(v)]
    if isinstance(struct, (list, tuple)):
        return [leaf for v in struct for leaf in _leaves(v)]
    return [struct]


def _as_array(x):
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "numpy") and not isinstance(x, (list, tuple, dict)):
        return np.asarray(x.numpy())
    return np.asarray(x)


def is_array_data(x):
    leaves = _leaves(x)
    return bool(leaves) and all(
        isinstance(v, (np.ndarray, list, float, int)) or hasattr(v, "__array__") for v in leaves)


def _is_structure(x):
    return isinstance(x, (dict, list, tuple))


def num_samples(x):
    sizes = {int(_as_array(v).shape[0]) if _as_array(v).ndim else 1 for v in _leaves(x)}
    if len(sizes) > 1:
        raise ValueError(f"Data cardinality is ambiguous: the arrays have different numbers of "
                         f"samples {sorted(sizes)}. Make sure all arrays contain the same number "
                         f"of samples.")
    return sizes.pop() if sizes else 0


class ArrayAdapter:
    """Batches numpy data; `shuffle` reorders every epoch (``"batch"``
    shuffles whole batches, as Keras)."""

    def __init__(self, x, y=None, sample_weight=None, batch_size=32, shuffle=False,
                 steps=None):
        if batch_size is None:
            batch_size = 32
        if isinstance(batch_size, bool) or int(batch_size) <= 0:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.x = _map(_as_array, x)
        self.y = _map(_as_array, y)
        self.sample_weight = _map(_as_array, sample_weight)
        self.n = num_samples([v for v in (self.x, self.y, self.sample_weight) if v is not None])
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.steps = steps if steps is not None else math.ceil(self.n / self.batch_size)

    def num_batches(self):
        return self.steps

    def __iter__(self):
        return self.iter_epoch(self.epoch_order())

    def epoch_order(self):
        """This epoch's sample order (an index array), or None for the stored order."""
        if self.shuffle == "batch":
            order = np.random.permutation(math.ceil(self.n / self.batch_size))
            return np.concatenate([np.arange(b * self.batch_size,
                                             min((b + 1) * self.batch_size, self.n))
                                   for b in order]) if self.n else None
        if self.shuffle:
            return np.random.permutation(self.n)
        return None

    def iter_epoch(self, idx):
        """One epoch of batches in the order `idx` (from `epoch_order`)."""
        produced = 0
        while produced < self.steps:
            for start in range(0, self.n, self.batch_size):
                if produced >= self.steps:
                    return
                stop = min(start + self.batch_size, self.n)
                if idx is None:
                    take = slice(start, stop)
                    sl = lambda a, t=take: a[t]  # noqa: E731
                else:
                    take = idx[start:stop]
                    sl = lambda a, t=take: a.take(t, axis=0)  # noqa: E731
                yield (_map(sl, self.x), _map(sl, self.y), _map(sl, self.sample_weight))
                produced += 1
            if self.n == 0:
                return


def _describe(struct):
    if isinstance(struct, dict):
        return "{" + ", ".join(f"{k!r}: {_describe(v)}" for k, v in struct.items()) + "}"
    if isinstance(struct, (list, tuple)):
        body = ", ".join(_describe(v) for v in struct)
        return f"[{body}]" if isinstance(struct, list) else f"({body})"
    shape = getattr(struct, "shape", None)
    return f"{type(struct).__name__}(shape={tuple(shape)})" if shape is not None else \
        type(struct).__name__


def _leaf_to_numpy(v):
    """Batches from other libraries (torch tensors from a DataLoader, ...) as numpy."""
    if v is None or isinstance(v, np.ndarray) or type(v).__module__.startswith("fastnet."):
        return v
    if hasattr(v, "detach") and hasattr(v, "cpu"):  # torch.Tensor
        return v.detach().cpu().numpy()
    if hasattr(v, "__array__") or isinstance(v, (int, float, bool)):
        return np.asarray(v)
    return v


def unpack(batch):
    """Splits a generator's batch into (x, y, sample_weight), as Keras's
    unpack_x_y_sample_weight: a list is read as a tuple; anything else is x."""
    if isinstance(batch, list):
        batch = tuple(batch)
    if isinstance(batch, tuple):
        batch = _map(_leaf_to_numpy, batch)
        if len(batch) == 1:
            return batch[0], None, None
        if len(batch) == 2:
            return batch[0], batch[1], None
        if len(batch) == 3:
            return batch
        raise ValueError(f"Data is expected to be in format `x`, `(x,)`, `(x, y)`, or "
                         f"`(x, y, sample_weight)`; a batch of the dataset is a "
                         f"{len(batch)}-element structure: {_describe(batch)}")
    return _map(_leaf_to_numpy, batch), None, None


class IterableAdapter:
    """Batches from a PyDataset, a generator or any iterable of batches."""

    def __init__(self, data, steps=None, shuffle=False):
        from fastnet.utils.py_dataset import PyDataset

        self.data = data
        self.steps = steps
        self.shuffle = shuffle
        self._iterator = None
        self.is_pydataset = isinstance(data, PyDataset) or (
            hasattr(data, "__getitem__") and hasattr(data, "__len__")
            and hasattr(data, "on_epoch_end"))
        if self.is_pydataset and self._dataset_batches() is None and steps is None:
            raise ValueError(f"{type(data).__name__} is endless (num_batches is None): pass "
                             "steps_per_epoch / steps to say how many batches an epoch has")

    def _dataset_batches(self):
        n = getattr(self.data, "num_batches", None)
        if n is None and not hasattr(type(self.data), "num_batches"):
            n = len(self.data)
        return None if n is None else int(n)

    def num_batches(self):
        if self.steps is not None:
            return self.steps
        if self.is_pydataset:
            return self._dataset_batches()
        if hasattr(self.data, "__len__"):
            return len(self.data)
        return None

    def __iter__(self):
        return self.iter_epoch(self.epoch_order())

    def epoch_order(self):
        """A PyDataset's batch order this epoch when shuffled, else None."""
        n = self._dataset_batches() if self.is_pydataset else None
        if self.shuffle and n is not None:
            return np.random.permutation(n)
        return None

    def iter_epoch(self, order):
        if self.is_pydataset:
            from fastnet.trainers.enqueuer import ordered_batches

            n = self._dataset_batches()
            if order is None:
                order = itertools.count() if n is None else range(n)
            if self.steps is not None:
                order = itertools.islice(order, self.steps)
            if hasattr(self.data, "on_epoch_begin"):
                self.data.on_epoch_begin()
            batches = ordered_batches(self.data, order)
            try:
                for batch in batches:
                    yield unpack(batch)
            finally:
                batches.close()  # stops the workers when the consumer stops early
            self.data.on_epoch_end()
            return
        # A generator is consumed across epochs when steps is given (as Keras).
        if self._iterator is None or self.steps is None:
            self._iterator = iter(self.data)
        count = 0
        while self.steps is None or count < self.steps:
            try:
                batch = next(self._iterator)
            except StopIteration:
                self._iterator = None
                return
            yield unpack(batch)
            count += 1


def adapter_for(x, y=None, sample_weight=None, batch_size=None, shuffle=False, steps=None):
    if x is None:
        raise ValueError("No input data: pass `x`.")
    if is_array_data(x) and not _is_generator_like(x):
        return ArrayAdapter(x, y, sample_weight, batch_size, shuffle, steps)
    if y is not None:
        raise ValueError("`y` must not be given when `x` is a dataset, generator or PyDataset "
                         "(the batches carry their targets).")
    if sample_weight is not None:
        raise ValueError("`sample_weight` must not be given when `x` is a dataset, generator or "
                         "PyDataset; yield (x, y, sample_weight) batches instead.")
    if not hasattr(x, "__iter__") and not hasattr(x, "__getitem__"):
        raise TypeError(f"Unrecognized data type: x={type(x).__name__}. Expected numpy arrays, "
                        "lists/dicts of arrays, a PyDataset or an iterable of batches.")
    return IterableAdapter(x, steps, shuffle)


def _is_generator_like(x):
    return hasattr(x, "on_epoch_end") or (hasattr(x, "__next__") and not isinstance(x, np.ndarray))


def split_validation(x, y, sample_weight, validation_split):
    """Keras's validation_split: the LAST fraction of the samples, before shuffling."""
    if not 0.0 < validation_split < 1.0:
        raise ValueError(f"validation_split must be in (0, 1), got {validation_split}")
    if not is_array_data(x):
        raise ValueError("validation_split is only supported for array inputs, not for "
                         "generators or datasets: pass validation_data instead.")
    n = num_samples([v for v in (x, y, sample_weight) if v is not None])
    split = int(n * (1.0 - validation_split))
    if split == 0 or split == n:
        raise ValueError(f"validation_split={validation_split} leaves an empty training or "
                         f"validation set for {n} samples")
    head = lambda a: _as_array(a)[:split]  # noqa: E731
    tail = lambda a: _as_array(a)[split:]  # noqa: E731
    return ((_map(head, x), _map(head, y), _map(head, sample_weight)),
            (_map(tail, x), _map(tail, y), _map(tail, sample_weight)))
