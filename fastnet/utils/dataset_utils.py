"""image_dataset_from_directory / text_dataset_from_directory, as keras.utils.

The files are indexed as Keras indexes them (class sub-directories in sorted order, or
``class_names``' order; files by sorted ``os.walk``; shuffled with
``np.random.RandomState(seed)``; the validation split taken from the end), so
``dataset.file_paths`` and ``dataset.class_names`` equal Keras's. Keras returns a
``tf.data.Dataset``; fastnet returns a PyDataset of ``(inputs, labels)`` batches (inputs
only with ``labels=None``), which ``fit`` / ``evaluate`` / ``predict`` take and a
``for x, y in dataset`` loop iterates. With ``shuffle=True`` the sample order is drawn
again from the seed after every epoch (tf.data's reshuffle_each_iteration; the orders
themselves differ from TensorFlow's shuffle buffer).
"""

import os

import numpy as np

from fastnet.utils.dataset_ops import DatasetOps
from fastnet.utils.io_utils import print_msg
from fastnet.utils.py_dataset import PyDataset

IMAGE_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
TEXT_FORMATS = (".txt",)
_LABEL_MODES = ("int", "categorical", "binary", None)


def _iter_valid_files(directory, follow_links, formats):
    for root, _, files in sorted(os.walk(directory, followlinks=follow_links),
                                 key=lambda x: x[0]):
        for fname in sorted(files):
            if fname.lower().endswith(formats):
                yield root, fname


def index_directory(directory, labels, formats, class_names=None, shuffle=True, seed=None,
                    follow_links=False, verbose=True):
    """(file_paths, labels or None, class_names or None), as Keras's index_directory."""
    if not os.path.isdir(directory):
        raise ValueError(f"Directory {directory!r} does not exist or is not a directory")
    if labels == "inferred":
        subdirs = [d for d in sorted(os.listdir(directory))
                   if os.path.isdir(os.path.join(directory, d)) and not d.startswith(".")]
        if class_names is not None:
            if not set(class_names).issubset(set(subdirs)):
                raise ValueError("The `class_names` passed did not match the names of the "
                                 "subdirectories of the target directory. Expected: "
                                 f"{subdirs} (or a subset of it), but received: "
                                 f"class_names={class_names}")
            subdirs = list(class_names)
    else:
        subdirs = [""]
        if class_names is not None:
            if labels is None:
                raise ValueError("When `labels=None` (no labels), argument `class_names` "
                                 "cannot be specified.")
            raise ValueError("When argument `labels` is specified, argument `class_names` "
                             "cannot be specified (the `class_names` will be the sorted list "
                             "of labels).")
    filenames, inferred = [], []
    for index, subdir in enumerate(subdirs):
        dirpath = os.path.join(directory, subdir)
        dirname = os.path.basename(dirpath)
        for root, fname in _iter_valid_files(dirpath, follow_links, formats):
            filenames.append(os.path.join(dirname, os.path.relpath(os.path.join(root, fname),
                                                                   dirpath)))
            inferred.append(index)
    if labels == "inferred":
        labels = np.asarray(inferred, dtype="int32")
        class_names = subdirs
    elif labels is None:
        class_names = None
    else:
        if len(labels) != len(filenames):
            raise ValueError("Expected the lengths of `labels` to match the number of files "
                             f"in the target directory. len(labels) is {len(labels)} while we "
                             f"found {len(filenames)} files in directory {directory}.")
        class_names = [str(label) for label in sorted(set(labels))]
        labels = np.asarray(labels)
    if verbose:
        if labels is None:
            print_msg(f"Found {len(filenames)} files.")
        else:
            print_msg(f"Found {len(filenames)} files belonging to {len(class_names)} "
                      "classes.")
    file_paths = [os.path.join(directory, f) for f in filenames]
    if shuffle:
        if seed is None:
            seed = np.random.randint(1e6)
        np.random.RandomState(seed).shuffle(file_paths)
        if labels is not None:
            np.random.RandomState(seed).shuffle(labels)
    return file_paths, labels, class_names


def _check_split(validation_split, subset, shuffle, seed):
    if validation_split and not 0 < validation_split < 1:
        raise ValueError("`validation_split` must be between 0 and 1, received: "
                         f"{validation_split}")
    if (validation_split or subset) and not (validation_split and subset):
        raise ValueError("If `subset` is set, `validation_split` must be set, and inversely.")
    if subset not in ("training", "validation", "both", None):
        raise ValueError('`subset` must be either "training", "validation" or "both", '
                         f"received: {subset}")
    if validation_split and shuffle and seed is None:
        raise ValueError("If using `validation_split` and shuffling the data, you must "
                         "provide a `seed` argument, to make sure that there is no overlap "
                         "between the training and validation subset.")


def _split(paths, labels, validation_split, subset):
    if not validation_split:
        return paths, labels
    n_val = int(validation_split * len(paths))
    if subset == "training":
        print_msg(f"Using {len(paths) - n_val} files for training.")
        return paths[:len(paths) - n_val], None if labels is None else labels[:len(paths) - n_val]
    print_msg(f"Using {n_val} files for validation.")
    return paths[len(paths) - n_val:], None if labels is None else labels[len(labels) - n_val:]


def _check_label_mode(label_mode, labels, class_names, fn):
    if label_mode not in _LABEL_MODES:
        raise ValueError(f'{fn}: `label_mode` argument must be one of "int", "categorical", '
                         f'"binary", or None. Received: label_mode={label_mode!r}')
    if labels is None or label_mode is None:
        return None
    if label_mode == "binary" and len(class_names) != 2:
        raise ValueError(f'{fn}: when passing `label_mode="binary"`, there must be exactly 2 '
                         f"class_names. Received: class_names={class_names}")
    return label_mode


def _encode_labels(labels, label_mode, num_classes):
    if label_mode == "int":
        return np.asarray(labels, dtype="int32")
    if label_mode == "binary":
        return np.asarray(labels, dtype="float32").reshape(-1, 1)
    return np.eye(num_classes, dtype="float32")[np.asarray(labels, dtype=np.int64)]


class DirectoryDataset(DatasetOps, PyDataset):
    """Batches of the files of a directory: ``(inputs, labels)`` per batch (inputs only
    without labels); ``class_names`` and ``file_paths`` as Keras's dataset has them."""

    def __init__(self, file_paths, labels, label_mode, class_names, batch_size, shuffle, seed,
                 load):
        super().__init__()
        self.file_paths = list(file_paths)
        self.class_names = class_names
        self._labels = None if label_mode is None else _encode_labels(labels, label_mode,
                                                                      len(class_names))
        self.batch_size = batch_size
        self._shuffle = shuffle
        self._rng = np.random.RandomState(seed)
        self._order = np.arange(len(self.file_paths))
        self._load = load

    def __len__(self):
        if self.batch_size is None:
            return len(self.file_paths)
        return -(-len(self.file_paths) // self.batch_size)

    def _batch(self, index):
        if not -len(self) <= index < len(self):
            raise IndexError(f"batch index {index} out of range for {len(self)} batches")
        index %= len(self)
        if self.batch_size is None:
            return self._order[index:index + 1]
        return self._order[index * self.batch_size:(index + 1) * self.batch_size]

    def __getitem__(self, index):
        rows = self._batch(index)
        if self.batch_size is None:  # unbatched: one sample per item
            x = self._load([self.file_paths[rows[0]]])[0]
            return x if self._labels is None else (x, self._labels[rows[0]])
        x = self._load([self.file_paths[i] for i in rows])
        return x if self._labels is None else (x, self._labels[rows])

    def on_epoch_end(self):
        if self._shuffle:
            self._order = self._rng.permutation(len(self.file_paths))


def _load_images(paths, image_size, num_channels, interpolation, crop_to_aspect_ratio,
                 pad_to_aspect_ratio, data_format):
    from fastnet import ops
    from fastnet.utils.image_utils import _pil

    image = _pil()
    mode = {1: "L", 3: "RGB", 4: "RGBA"}[num_channels]
    out = []
    for path in paths:
        with image.open(path) as img:
            img.seek(0)  # the first frame of an animation (expand_animations=False)
            arr = np.asarray(img.convert(mode), dtype=np.float32)
        if arr.ndim == 2:
            arr = arr[:, :, None]
        resized = ops.image.resize(arr, tuple(image_size), interpolation=interpolation,
                                   crop_to_aspect_ratio=crop_to_aspect_ratio,
                                   pad_to_aspect_ratio=pad_to_aspect_ratio,
                                   data_format="channels_last")
        out.append(ops.convert_to_numpy(resized))
    batch = np.stack(out).astype(np.float32, copy=False) if out else \
        np.zeros((0, *image_size, num_channels), np.float32)
    if data_format == "channels_first":
        batch = batch.transpose(0, 3, 1, 2)
    return batch


def _indexed(directory, labels, formats, class_names, shuffle, seed, follow_links, verbose,
             validation_split, subset, label_mode, fn):
    """What every *_dataset_from_directory does first: the split arguments checked, a seed
    drawn when none is given, the directory indexed and label_mode checked against it."""
    _check_split(validation_split, subset, shuffle, seed)
    if seed is None:
        seed = np.random.randint(1e6)
    paths, found, names = index_directory(directory, labels, formats, class_names, shuffle,
                                          seed, follow_links, verbose)
    return paths, found, names, _check_label_mode(label_mode, found, names, fn), seed


def image_dataset_from_directory(directory, labels="inferred", label_mode="int",
                                 class_names=None, color_mode="rgb", batch_size=32,
                                 image_size=(256, 256), shuffle=True, seed=None,
                                 validation_split=None, subset=None, interpolation="bilinear",
                                 follow_links=False, crop_to_aspect_ratio=False,
                                 pad_to_aspect_ratio=False, data_format=None, format="tf",  # noqa: A002
                                 verbose=True):
    """Images of `directory` (one sub-directory per class) as batches of float32 arrays
    (batch, height, width, channels) in [0, 255] and their labels."""
    from fastnet.utils.image_utils import _data_format, _pil

    if format not in ("tf", "grain"):
        raise ValueError(f'`format` should be either "tf" or "grain". Received: format={format}')
    if labels not in ("inferred", None) and not isinstance(labels, (list, tuple)):
        raise ValueError("`labels` argument should be a list/tuple of integer labels, of the "
                         "same size as the number of image files in the target directory. If "
                         "you wish to infer the labels from the subdirectory names in the "
                         'target directory, pass `labels="inferred"`. If you wish to get a '
                         "dataset that only contains images (no labels), pass `labels=None`. "
                         f"Received: labels={labels!r}")
    channels = {"grayscale": 1, "rgb": 3, "rgba": 4}.get(color_mode)
    if channels is None:
        raise ValueError('`color_mode` must be one of {"rgb", "rgba", "grayscale"}. '
                         f"Received: color_mode={color_mode!r}")
    if interpolation not in ("bilinear", "nearest", "bicubic"):
        raise ValueError("image_dataset_from_directory: `interpolation` "
                         f"{interpolation!r} is not implemented in fastnet; use 'bilinear', "
                         "'nearest' or 'bicubic'")
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ValueError("Only one of `crop_to_aspect_ratio` and `pad_to_aspect_ratio` can be "
                         "set to `True`.")
    if batch_size is not None and (isinstance(batch_size, bool) or batch_size < 1):
        raise ValueError(f"`batch_size` must be a positive integer or None. Received: "
                         f"batch_size={batch_size!r}")
    image_size = tuple(int(s) for s in image_size)
    data_format = _data_format(data_format)
    _check_split(validation_split, subset, shuffle, seed)
    _pil()
    paths, found, names, label_mode, seed = _indexed(
        directory, labels, IMAGE_FORMATS, class_names, shuffle, seed, follow_links, verbose,
        validation_split, subset, label_mode, "image_dataset_from_directory")
    if not paths:
        raise ValueError(f"No images found in directory {directory}. Allowed formats: "
                         f"{IMAGE_FORMATS}")

    def load(batch_paths):
        return _load_images(batch_paths, image_size, channels, interpolation,
                            crop_to_aspect_ratio, pad_to_aspect_ratio, data_format)

    def make(which):
        p, lab = _split(paths, found, validation_split, which)
        if not p:
            raise ValueError(f"No images found in directory {directory} for the {which} "
                             "subset")
        return DirectoryDataset(p, lab, label_mode, names, batch_size, shuffle, seed, load)

    if subset == "both":
        return make("training"), make("validation")
    return make(subset)


def text_dataset_from_directory(directory, labels="inferred", label_mode="int",
                                class_names=None, batch_size=32, max_length=None, shuffle=True,
                                seed=None, validation_split=None, subset=None,
                                follow_links=False, format="tf", verbose=True):  # noqa: A002
    """The `.txt` files of `directory` (one sub-directory per class) as batches of
    strings (a numpy array of str; ``max_length`` truncates each file to that many
    bytes, as Keras's tf.strings.substr) and their labels."""
    if format not in ("tf", "grain"):
        raise ValueError(f'`format` should be either "tf" or "grain". Received: format={format}')
    if labels not in ("inferred", None) and not isinstance(labels, (list, tuple)):
        raise ValueError("`labels` argument should be a list/tuple of integer labels, of the "
                         "same size as the number of text files in the target directory, "
                         f'"inferred" or None. Received: labels={labels!r}')
    if max_length is not None and (isinstance(max_length, bool) or max_length < 1):
        raise ValueError(f"`max_length` must be a positive integer or None. Received: "
                         f"max_length={max_length!r}")
    paths, found, names, label_mode, seed = _indexed(
        directory, labels, TEXT_FORMATS, class_names, shuffle, seed, follow_links, verbose,
        validation_split, subset, label_mode, "text_dataset_from_directory")

    def load(batch_paths):
        texts = []
        for path in batch_paths:
            with open(path, "rb") as f:
                raw = f.read()
            if max_length is not None:
                raw = raw[:max_length]
            texts.append(raw.decode("utf-8", errors="ignore"))
        return np.asarray(texts, dtype=object)

    def make(which):
        p, lab = _split(paths, found, validation_split, which)
        return DirectoryDataset(p, lab, label_mode, names, batch_size, shuffle, seed, load)

    if subset == "both":
        return make("training"), make("validation")
    return make(subset)


AUDIO_FORMATS = (".wav",)


def read_wav(path, desired_samples=-1):
    """(samples, channels) float32 in [-1, 1) from a PCM `.wav` file, as
    tf.audio.decode_wav: integer samples divided by 2**(bits-1) (8-bit files are unsigned,
    centred on 128); `desired_samples` >= 0 truncates or zero-pads the time axis."""
    import wave

    try:
        with wave.open(os.fspath(path), "rb") as w:
            channels, width, frames = w.getnchannels(), w.getsampwidth(), w.getnframes()
            raw = w.readframes(frames)
            rate = w.getframerate()
    except (wave.Error, EOFError) as e:
        raise ValueError(f"audio_dataset_from_directory: {path} is not a PCM WAV file the "
                         f"reader understands ({e})") from None
    if width == 1:
        data = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 3:  # 24-bit little-endian: sign-extend into int32
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        data = (np.where(v >= 1 << 23, v - (1 << 24), v) / float(1 << 23)).astype(np.float32)
    elif width in (2, 4):
        dtype = np.dtype("<i2") if width == 2 else np.dtype("<i4")
        data = np.frombuffer(raw, dtype).astype(np.float32) / float(1 << (8 * width - 1))
    else:
        raise ValueError(f"audio_dataset_from_directory: {path} has {8 * width}-bit samples; "
                         "8, 16, 24 and 32-bit PCM are read")
    data = data.reshape(-1, channels)
    if desired_samples is not None and desired_samples >= 0:
        if len(data) >= desired_samples:
            data = data[:desired_samples]
        else:
            data = np.concatenate([data, np.zeros((desired_samples - len(data), channels),
                                                  np.float32)])
    return data, rate


def audio_dataset_from_directory(directory, labels="inferred", label_mode="int",
                                 class_names=None, batch_size=32, sampling_rate=None,
                                 output_sequence_length=None, ragged=False, shuffle=True,
                                 seed=None, validation_split=None, subset=None,
                                 follow_links=False, verbose=True):
    """The `.wav` files of `directory` (one sub-directory per class) as batches of float32
    audio (batch, time, channels) in [-1, 1) and their labels, as Keras's: every clip cut
    or zero-padded to `output_sequence_length`, or, without it, a batch zero-padded to its
    longest clip (tf.data's padded_batch). ``dataset.class_names`` lists the classes."""
    if labels not in ("inferred", None):
        if not isinstance(labels, (list, tuple)):
            raise ValueError("The `labels` argument should be a list/tuple of integer labels, "
                             "of the same size as the number of audio files in the target "
                             "directory. If you wish to infer the labels from the "
                             'subdirectory names in the target directory, pass `labels="'
                             'inferred"`. If you wish to get a dataset that only contains '
                             "audio samples (no labels), pass `labels=None`. Received: "
                             f"labels={labels}")
        if class_names:
            raise ValueError('You can only pass `class_names` if `labels="inferred"`. '
                             f"Received: labels={labels}, and class_names={class_names}")
    if label_mode not in _LABEL_MODES:
        raise ValueError('`label_mode` argument must be one of "int", "categorical", '
                         f'"binary", or None. Received: label_mode={label_mode}')
    if ragged and output_sequence_length is not None:
        raise ValueError("Cannot set both `ragged` and `output_sequence_length`")
    if ragged:
        raise NotImplementedError("audio_dataset_from_directory: `ragged=True` (ragged "
                                  "tensors) is not implemented in fastnet; batches are "
                                  "zero-padded to their longest clip instead")
    if sampling_rate is not None:
        if isinstance(sampling_rate, bool) or not isinstance(sampling_rate, int):
            raise ValueError("`sampling_rate` should have an integer value. Received: "
                             f"sampling_rate={sampling_rate}")
        if sampling_rate <= 0:
            raise ValueError("`sampling_rate` should be higher than 0. Received: "
                             f"sampling_rate={sampling_rate}")
        raise NotImplementedError("audio_dataset_from_directory: `sampling_rate` (resampling, "
                                  "which Keras does with tensorflow-io) is not implemented in "
                                  f"fastnet. Received: sampling_rate={sampling_rate}")
    if output_sequence_length is not None and (isinstance(output_sequence_length, bool) or
                                               output_sequence_length < 1):
        raise ValueError("`output_sequence_length` must be a positive integer or None. "
                         f"Received: output_sequence_length={output_sequence_length!r}")
    if batch_size is not None and (isinstance(batch_size, bool) or batch_size < 1):
        raise ValueError(f"`batch_size` must be a positive integer or None. Received: "
                         f"batch_size={batch_size!r}")
    if labels is None or label_mode is None:
        labels, label_mode = None, None
    paths, found, names, label_mode, seed = _indexed(
        directory, labels, AUDIO_FORMATS, class_names, shuffle, seed, follow_links, verbose,
        validation_split, subset, label_mode, "audio_dataset_from_directory")

    def load(batch_paths):
        clips = [read_wav(p, -1 if output_sequence_length is None
                          else output_sequence_length)[0] for p in batch_paths]
        longest = max(len(c) for c in clips)
        channels = {c.shape[1] for c in clips}
        if len(channels) > 1:
            raise ValueError("audio_dataset_from_directory: a batch mixes clips with "
                             f"{sorted(channels)} channels: {list(batch_paths)}")
        out = np.zeros((len(clips), longest, clips[0].shape[1]), np.float32)
        for i, c in enumerate(clips):
            out[i, :len(c)] = c
        return out

    def make(which):
        p, lab = _split(paths, found, validation_split, which)
        if not p:
            label = "" if which is None else f"{which} "
            raise ValueError(f"No {label}audio files found in directory {directory}. "
                             f"Allowed format(s): {AUDIO_FORMATS}")
        return DirectoryDataset(p, lab, label_mode, names, batch_size, shuffle, seed, load)

    if subset == "both":
        return make("training"), make("validation")
    return make(subset)


__all__ = ["image_dataset_from_directory", "text_dataset_from_directory",
           "audio_dataset_from_directory"]
