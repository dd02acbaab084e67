"""get_file, as keras.utils.get_file: a cached file (fetched from `origin` when it
is missing), verified against a sha256/md5 hash, optionally extracted.

The cache is ``$FASTNET_HOME`` (else ``$KERAS_HOME``, else ``~/.keras``) plus
``cache_subdir`` ("datasets"), laid out as Keras's, so files Keras downloaded
are found. Without network access the error names the URL and the path to copy
the file to. Archives are extracted without following links or leaving the
target directory.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile


def fastnet_home():
    home = os.environ.get("FASTNET_HOME") or os.environ.get("KERAS_HOME")
    return home or os.path.join(os.path.expanduser("~"), ".keras")


def resolve_hasher(algorithm, file_hash=None):
    if algorithm == "sha256":
        return hashlib.sha256()
    if algorithm == "auto" and file_hash is not None and len(file_hash) == 64:
        return hashlib.sha256()
    if algorithm in ("auto", "md5"):
        return hashlib.md5()
    raise ValueError(f"get_file: unknown hash_algorithm {algorithm!r}; use 'auto', 'sha256' "
                     "or 'md5'")


def hash_file(fpath, algorithm="sha256", chunk_size=65535):
    hasher = resolve_hasher(algorithm) if isinstance(algorithm, str) else algorithm
    with open(fpath, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def validate_file(fpath, file_hash, algorithm="auto", chunk_size=65535):
    hasher = resolve_hasher(algorithm, file_hash)
    return str(hash_file(fpath, hasher, chunk_size)) == str(file_hash)


def _safe_members_tar(tf, target):
    root = os.path.realpath(target)
    for member in tf.getmembers():
        dest = os.path.realpath(os.path.join(target, member.name))
        if not (dest == root or dest.startswith(root + os.sep)):
            raise ValueError(f"get_file: archive member {member.name!r} would be written "
                             f"outside {target}")
        if member.issym() or member.islnk() or member.isdev():
            continue
        yield member


def extract_archive(file_path, path=".", archive_format="auto"):
    """Extracts a tar or zip archive into `path`; True when it was one of those."""
    if archive_format is None:
        return False
    formats = ["tar", "zip"] if archive_format == "auto" else (
        [archive_format] if isinstance(archive_format, str) else list(archive_format))
    for fmt in formats:
        if fmt == "tar" and tarfile.is_tarfile(file_path):
            with tarfile.open(file_path) as tf:
                os.makedirs(path, exist_ok=True)
                members = list(_safe_members_tar(tf, path))
                if hasattr(tarfile, "data_filter"):
                    tf.extractall(path, members=members, filter="data")
                else:  # Python < 3.11.4: members were checked above
                    tf.extractall(path, members=members)
            return True
        if fmt == "zip" and zipfile.is_zipfile(file_path):
            with zipfile.ZipFile(file_path) as zf:
                root = os.path.realpath(path)
                for name in zf.namelist():
                    dest = os.path.realpath(os.path.join(path, name))
                    if not (dest == root or dest.startswith(root + os.sep)):
                        raise ValueError(f"get_file: archive member {name!r} would be written "
                                         f"outside {path}")
                zf.extractall(path)
            return True
    return False


def get_file(fname=None, origin=None, untar=False, md5_hash=None, file_hash=None,
             cache_subdir="datasets", hash_algorithm="auto", extract=False,
             archive_format="auto", cache_dir=None, force_download=False):
    """The local path of `origin`'s file (the extraction directory with `extract`)."""
    if origin is None:
        raise ValueError('Please specify the "origin" argument (URL of the file to download).')
    if cache_dir is None:
        cache_dir = fastnet_home()
    if md5_hash is not None and file_hash is None:
        file_hash, hash_algorithm = md5_hash, "md5"
    base = os.path.expanduser(cache_dir)
    if os.path.isdir(base) and not os.access(base, os.W_OK):
        base = os.path.join(tempfile.gettempdir(), ".keras")
    datadir = os.path.join(base, cache_subdir)
    provided = fname
    fname = os.fspath(fname) if fname is not None else None
    if not fname:
        fname = os.path.basename(urllib.parse.urlsplit(origin).path)
        if not fname:
            raise ValueError(f"Can't parse the file name from the origin provided: '{origin}'."
                             "Please specify the `fname` argument.")
    elif os.sep in fname:
        raise ValueError("Paths are no longer accepted as the `fname` argument. To specify "
                         "the file's parent directory, use the `cache_dir` argument. Received: "
                         f"fname={fname}")
    if extract or untar:
        if provided and "." in fname:
            target = os.path.join(datadir, fname)
            extraction_dir = os.path.join(datadir, f"{fname[:fname.find('.')]}_extracted")
        else:
            extraction_dir = os.path.join(datadir, fname)
            target = os.path.join(datadir, f"{fname}_archive")
    else:
        target = os.path.join(datadir, fname)

    download = force_download or not os.path.exists(target)
    if not download and file_hash is not None and not validate_file(target, file_hash,
                                                                    hash_algorithm):
        print(f"A local file was found, but it seems to be incomplete or outdated because the "
              f"{hash_algorithm} file hash does not match the original value of {file_hash} "
              "so we will re-download the data.")
        download = True
    if download:
        os.makedirs(datadir, exist_ok=True)
        _fetch(origin, target)
        if file_hash is not None and not validate_file(target, file_hash, hash_algorithm):
            os.remove(target)
            raise ValueError(f"Incomplete or corrupted file detected. The {hash_algorithm} file "
                             f"hash does not match the provided value of {file_hash} "
                             f"(origin {origin}).")
    if extract or untar:
        fmt = "tar" if untar else archive_format
        if download or not os.path.isdir(extraction_dir):
            tmp = tempfile.mkdtemp(dir=datadir, prefix=".extract-")
            try:
                if not extract_archive(target, tmp, fmt):
                    raise ValueError(f"get_file: {target} is not a {fmt} archive "
                                     "(archive_format=" + repr(archive_format) + ")")
                if os.path.isdir(extraction_dir):
                    shutil.rmtree(extraction_dir)
                os.replace(tmp, extraction_dir)
            finally:
                if os.path.isdir(tmp):
                    shutil.rmtree(tmp)
        return extraction_dir
    return target


def _fetch(origin, target):
    print(f"Downloading data from {origin}")
    part = target + ".part"
    try:
        with urllib.request.urlopen(origin, timeout=30) as resp, open(part, "wb") as out:
            shutil.copyfileobj(resp, out)
        os.replace(part, target)
    except (urllib.error.URLError, OSError, ValueError) as e:
        if os.path.exists(part):
            os.remove(part)
        reason = getattr(e, "reason", e)
        raise OSError(f"get_file: could not download {origin} ({reason}). Without network "
                      f"access, copy the file to {target} (the cache is $FASTNET_HOME, "
                      "$KERAS_HOME or ~/.keras, plus cache_subdir) and call get_file again."
                      ) from None


__all__ = ["get_file", "extract_archive", "validate_file", "hash_file"]
