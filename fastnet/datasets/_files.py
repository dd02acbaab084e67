"""Finding, verifying and parsing dataset files (no downloads, no pickle code)."""

from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import struct

import numpy as np

# Where Keras caches its downloads, then system-wide copies (Debian's
# dataset-* packages install under /usr/share/datasets/<name>).
SYSTEM_ROOT = "/usr/share/datasets"


def keras_cache_dir():
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(home, "datasets")


def search_dirs(name, cache_dir=None):
    """Directories that may hold dataset `name`, most specific first."""
    dirs = []
    if cache_dir is not None:
        dirs += [os.path.join(cache_dir, name), cache_dir]
    env = os.environ.get("FASTNET_DATASETS")
    if env:
        dirs += [os.path.join(env, name), env]
    home = os.environ.get("FASTNET_HOME")
    if home:
        dirs += [os.path.join(home, "datasets", name), os.path.join(home, "datasets")]
    cache = keras_cache_dir()
    dirs += [os.path.join(cache, name), cache, os.path.join(SYSTEM_ROOT, name)]
    return dirs


def find_file(name, filenames, cache_dir=None):
    """First directory holding every file in `filenames`; raises FileNotFoundError."""
    tried = []
    for d in search_dirs(name, cache_dir):
        if all(os.path.isfile(os.path.join(d, f)) for f in filenames):
            return d
        tried.append(d)
    raise FileNotFoundError(
        f"{name}: could not find {', '.join(filenames)} in any of: {', '.join(tried)}. "
        "fastnet does not download data: copy Keras's cached files there (e.g. "
        "~/.keras/datasets) or install the system package (Debian: dataset-fashion-mnist)."
    )


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify(what, actual, expected):
    if expected is not None and actual != expected:
        raise ValueError(
            f"{what}: checksum mismatch (sha256 {actual}, expected {expected}); "
            "the file is corrupt or not the expected dataset"
        )


def read_idx(path, expected_sha256=None):
    """Parses an IDX file (MNIST format), gzip-compressed or not.

    The checksum is taken over the decompressed payload, so re-compressed
    copies of the same data verify too.
    """
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    verify(path, sha256_bytes(data), expected_sha256)
    if len(data) < 4:
        raise ValueError(f"{path}: not an IDX file (only {len(data)} bytes)")
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file (magic {data[:4].hex()})")
    header = 4 + 4 * ndim
    dims = struct.unpack(f">{ndim}I", data[4:header])
    count = int(np.prod(dims)) if dims else 1
    if len(data) - header != count:
        raise ValueError(f"{path}: header says shape {dims} ({count} bytes) but "
                         f"{len(data) - header} bytes follow")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims).copy()


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """Unpickles CIFAR's batch dicts while refusing every class but numpy's
    array reconstruction: a crafted file cannot run code."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("_codecs", "encode"),
    }

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a dataset file")


def load_array_pickle(fileobj, encoding="bytes"):
    return _ArrayOnlyUnpickler(fileobj, encoding=encoding).load()


def file_digest(path, expected):
    """The file's md5 or sha256 hex digest, by the length of the expected one (Keras's
    get_file takes either)."""
    if expected is not None and len(expected) == 32:
        h = hashlib.md5()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        return h.hexdigest()
    return sha256_file(path)


def locate(name, filename, path=None, cache_dir=None):
    """The path of one cached file: ``path`` itself when absolute, else ``filename`` (or
    ``path``) in the first search directory holding it."""
    fname = path or filename
    if os.path.isabs(fname):
        if not os.path.isfile(fname):
            raise FileNotFoundError(f"{name}: {fname} does not exist")
        return fname
    return os.path.join(find_file(name, [fname], cache_dir), fname)


def load_npz_safe(path):
    """The arrays of an .npz, object arrays (sequence data sets) included, without
    running pickled code: object payloads go through the array-only unpickler."""
    import zipfile

    from numpy.lib import format as npformat

    out = {}
    with zipfile.ZipFile(path) as z:
        for entry in z.namelist():
            if not entry.endswith(".npy"):
                continue
            with z.open(entry) as f:
                version = npformat.read_magic(f)
                if version == (1, 0):
                    shape, fortran, dtype = npformat.read_array_header_1_0(f)
                else:
                    shape, fortran, dtype = npformat.read_array_header_2_0(f)
                if dtype.hasobject:
                    arr = load_array_pickle(f, encoding="latin1")
                    if not isinstance(arr, np.ndarray):
                        raise ValueError(f"{path}:{entry}: the pickled payload is not an array")
                else:
                    data = f.read()
                    count = int(np.prod(shape)) if shape else 1
                    if len(data) != count * dtype.itemsize:
                        raise ValueError(f"{path}:{entry}: {len(data)} bytes for shape {shape} "
                                         f"of {dtype}")
                    arr = np.frombuffer(data, dtype=dtype, count=count)
                    arr = arr.reshape(shape[::-1]).T if fortran else arr.reshape(shape)
                    arr = arr.copy()
            out[entry[:-4]] = arr
    return out
