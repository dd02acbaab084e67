"""pad_sequences, timeseries_dataset_from_array and split_dataset, as keras.utils."""

from __future__ import annotations

import numbers

import numpy as np

from fastnet.utils.dataset_ops import DatasetOps
from fastnet.utils.py_dataset import PyDataset


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre",
                  value=0.0):
    """A (num_samples, maxlen, ...) array of the sequences, padded with `value` and
    truncated to `maxlen`, at the start ('pre') or the end ('post'), as Keras."""
    if not hasattr(sequences, "__len__"):
        raise ValueError("`sequences` must be iterable.")
    if padding not in ("pre", "post"):
        raise ValueError(f'Padding type "{padding}" not understood')
    if truncating not in ("pre", "post"):
        raise ValueError(f'Truncating type "{truncating}" not understood')
    lengths = []
    sample_shape = ()
    found_shape = False
    for x in sequences:
        try:
            lengths.append(len(x))
        except TypeError as e:
            raise ValueError("`sequences` must be a list of iterables. Found non-iterable: "
                             f"{x!r}") from e
        if not found_shape and len(x):
            sample_shape = np.asarray(x).shape[1:]
            found_shape = True
    if maxlen is None:
        maxlen = max(lengths) if lengths else 0
    is_str = np.issubdtype(np.dtype(dtype), np.str_)
    if isinstance(value, str) and np.dtype(dtype) != object and not is_str:
        raise ValueError(f"`dtype` {dtype} is not compatible with `value`'s type: "
                         f"{type(value)}\nYou should set `dtype=object` for variable length "
                         "strings.")
    out = np.full((len(sequences), maxlen) + tuple(sample_shape), value, dtype=dtype)
    for i, s in enumerate(sequences):
        if not len(s) or maxlen == 0:
            continue
        trunc = s[-maxlen:] if truncating == "pre" else s[:maxlen]
        trunc = np.asarray(trunc, dtype=dtype)
        if trunc.shape[1:] != tuple(sample_shape):
            raise ValueError(f"Shape of sample {trunc.shape[1:]} of sequence at position {i} is "
                             f"different from expected shape {tuple(sample_shape)}")
        if padding == "post":
            out[i, :len(trunc)] = trunc
        else:
            out[i, -len(trunc):] = trunc
    return out


class TimeseriesDataset(DatasetOps, PyDataset):
    """Batches of sliding windows over an array (what timeseries_dataset_from_array
    returns): item i is ``inputs`` or ``(inputs, targets)`` for batch i."""

    def __init__(self, data, targets, starts, sequence_length, sampling_rate, batch_size):
        super().__init__()
        self.data, self.targets = data, targets
        self.starts = starts
        self.offsets = np.arange(sequence_length) * sampling_rate
        self.batch_size = batch_size

    def __len__(self):
        if self.batch_size is None:
            return len(self.starts)
        return -(-len(self.starts) // self.batch_size)

    def __getitem__(self, index):
        if not -len(self) <= index < len(self):
            raise IndexError(f"TimeseriesDataset: batch {index} out of range ({len(self)} "
                             "batches)")
        index %= len(self)
        if self.batch_size is None:
            pos = self.starts[index]
            x = self.data[pos + self.offsets]
            return x if self.targets is None else (x, self.targets[pos])
        pos = self.starts[index * self.batch_size:(index + 1) * self.batch_size]
        x = self.data[pos[:, None] + self.offsets[None, :]]
        return x if self.targets is None else (x, self.targets[pos])


def timeseries_dataset_from_array(data, targets, sequence_length, sequence_stride=1,
                                  sampling_rate=1, batch_size=128, shuffle=False, seed=None,
                                  start_index=None, end_index=None):
    """Sliding windows of `sequence_length` timesteps (every `sampling_rate`-th
    sample), one window every `sequence_stride` steps, with the target of each window
    ``targets[start]``; a PyDataset of batches, as Keras's (non-tf) dataset."""
    n = len(data)
    if start_index:
        if start_index < 0:
            raise ValueError(f"`start_index` must be 0 or greater. Received: "
                             f"start_index={start_index}")
        if start_index >= n:
            raise ValueError("`start_index` must be lower than the length of the data. "
                             f"Received: start_index={start_index}, for data of length {n}")
    if end_index:
        if start_index and end_index <= start_index:
            raise ValueError("`end_index` must be higher than `start_index`. Received: "
                             f"start_index={start_index}, and end_index={end_index} ")
        if end_index >= n:
            raise ValueError("`end_index` must be lower than the length of the data. "
                             f"Received: end_index={end_index}, for data of length {n}")
        if end_index <= 0:
            raise ValueError(f"`end_index` must be higher than 0. Received: "
                             f"end_index={end_index}")
    for arg, v in (("sampling_rate", sampling_rate), ("sequence_stride", sequence_stride)):
        if v <= 0:
            raise ValueError(f"`{arg}` must be higher than 0. Received: {arg}={v}")
        if v >= n:
            raise ValueError(f"`{arg}` must be lower than the length of the data. Received: "
                             f"{arg}={v}, for data of length {n}")
    if not isinstance(sequence_length, numbers.Integral) or sequence_length <= 0:
        raise ValueError(f"`sequence_length` must be a positive integer. Received: "
                         f"sequence_length={sequence_length}")
    if batch_size is not None and (not isinstance(batch_size, numbers.Integral)
                                   or batch_size <= 0):
        raise ValueError(f"`batch_size` must be a positive integer or None. Received: "
                         f"batch_size={batch_size}")
    start_index = start_index or 0
    end_index = n if end_index is None else end_index
    num_seqs = end_index - start_index - (sequence_length - 1) * sampling_rate
    if targets is not None:
        num_seqs = min(num_seqs, len(targets))
    starts = np.arange(0, max(num_seqs, 0), sequence_stride)
    if shuffle:
        if seed is None:
            seed = np.random.randint(1e6)
        np.random.RandomState(seed).shuffle(starts)
    data = np.asarray(data)[start_index:end_index]
    if targets is not None:
        targets = np.asarray(targets)[start_index:]
    return TimeseriesDataset(data, targets, starts, sequence_length, sampling_rate, batch_size)


def _split_sizes(left_size, right_size, total):
    lt, rt = type(left_size), type(right_size)
    if left_size is not None and lt not in (int, float):
        raise TypeError(f"Invalid `left_size` Type. Expected: int or float or None, Received: "
                        f"type(left_size)={lt}.")
    if right_size is not None and rt not in (int, float):
        raise TypeError(f"Invalid `right_size` Type. Expected: int or float or None, Received: "
                        f"type(right_size)={rt}.")
    if left_size == 0 and right_size == 0:
        raise ValueError("Both `left_size` and `right_size` are zero. At least one of the split "
                         "sizes must be non-zero.")
    for name, size, t in (("left_size", left_size, lt), ("right_size", right_size, rt)):
        if (t is int and (size <= 0 or size >= total)) or \
                (t is float and (size <= 0 or size >= 1)):
            raise ValueError(f"`{name}` should be either a positive integer smaller than "
                             f"{total}, or a float within the range `[0, 1]`. Received: "
                             f"{name}={size}")
    if lt is rt is float and left_size + right_size > 1:
        raise ValueError("The sum of `left_size` and `right_size` is greater than 1. It must be "
                         "less than or equal to 1.")
    left = round(left_size * total) if lt is float else left_size
    right = round(right_size * total) if rt is float else right_size
    if left is None:
        left = total - right
    elif right is None:
        right = total - left
    if left + right > total:
        raise ValueError(f"The sum of `left_size` and `right_size` should be smaller than the "
                         f"{total}. Received: left_size + right_size = {left + right} and "
                         f"total_length = {total}")
    for split, side in ((left, "left"), (right, "right")):
        if split == 0:
            raise ValueError(f"With `dataset` of length {total}, `left_size`={left_size} and "
                             f"`right_size`={right_size}. Resulting {side} side dataset split "
                             "will be empty. Adjust any of the aforementioned parameters")
    return int(left), int(right)


def split_dataset(dataset, left_size=None, right_size=None, shuffle=False, seed=None):
    """Splits an array, a tuple/list/dict of equal-length arrays, or a list of samples
    into (left, right) of the same structure, as Keras's split_dataset."""
    if left_size is None and right_size is None:
        left_size = 0.5
    if isinstance(dataset, dict):
        keys = list(dataset)
        arrays = [np.asarray(dataset[k]) for k in keys]
    elif isinstance(dataset, tuple):
        arrays = [np.asarray(a) for a in dataset]
    elif isinstance(dataset, np.ndarray):
        arrays = [dataset]
    elif isinstance(dataset, list):
        arrays = None
    else:
        raise TypeError("The `dataset` argument must be a NumPy array, a list, a tuple or a "
                        f"dict of arrays. Received: dataset={type(dataset).__name__}")
    total = len(dataset) if arrays is None else len(arrays[0])
    if arrays is not None and any(len(a) != total for a in arrays):
        raise ValueError(f"split_dataset: the arrays have different lengths "
                         f"{[len(a) for a in arrays]}")
    if total == 0:
        raise ValueError("split_dataset: `dataset` is empty")
    left, right = _split_sizes(left_size, right_size, total)
    order = np.arange(total)
    if shuffle:
        if seed is None:
            seed = np.random.randint(1e6)
        np.random.RandomState(seed).shuffle(order)
    li, ri = order[:left], order[left:left + right]
    if arrays is None:
        return [dataset[i] for i in li], [dataset[i] for i in ri]
    parts = ([a[li] for a in arrays], [a[ri] for a in arrays])
    if isinstance(dataset, dict):
        return tuple(dict(zip(keys, p)) for p in parts)
    if isinstance(dataset, tuple):
        return tuple(tuple(p) for p in parts)
    return parts[0][0], parts[1][0]


__all__ = ["pad_sequences", "timeseries_dataset_from_array", "split_dataset"]
