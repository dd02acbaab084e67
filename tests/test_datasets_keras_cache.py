"""cifar100, imdb, reuters, boston_housing, california_housing read from files laid out
as Keras's cache (generated here: no network), against Keras's loader semantics written
out in numpy."""

import io
import json
import os
import pickle
import tarfile

import numpy as np
import pytest

from fastnet.datasets import boston_housing, california_housing, cifar100, imdb, reuters


@pytest.fixture
def home(tmp_path, monkeypatch):
    """An empty Keras cache (and no system copies): only what a test writes is found."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.delenv("FASTNET_DATASETS", raising=False)
    monkeypatch.delenv("FASTNET_HOME", raising=False)
    monkeypatch.setattr("fastnet.datasets._files.SYSTEM_ROOT", str(tmp_path / "none"))
    cache = tmp_path / "keras" / "datasets"
    cache.mkdir(parents=True)
    return cache


def _cifar100_batch(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (n, 32, 32, 3)).astype(np.uint8)
    fine, coarse = rng.integers(0, 100, n), rng.integers(0, 20, n)
    d = {b"data": x.transpose(0, 3, 1, 2).reshape(n, 3072),
         b"fine_labels": [int(v) for v in fine], b"coarse_labels": [int(v) for v in coarse],
         b"filenames": [b"a.png"] * n}
    return x, fine, coarse, pickle.dumps(d, protocol=2)


def test_cifar100_extracted_and_archived(home):
    xtr, ftr, ctr, btr = _cifar100_batch(4, 0)
    xte, fte, cte, bte = _cifar100_batch(2, 1)
    ext = home / "cifar-100-python-target" / "cifar-100-python"
    ext.mkdir(parents=True)
    (ext / "train").write_bytes(btr)
    (ext / "test").write_bytes(bte)
    (x1, y1), (x2, y2) = cifar100.load_data()
    np.testing.assert_array_equal(x1, xtr)
    np.testing.assert_array_equal(x2, xte)
    np.testing.assert_array_equal(y1[:, 0], ftr)
    assert y1.shape == (4, 1) and x1.dtype == np.uint8
    (_, y1), (_, y2) = cifar100.load_data(label_mode="coarse")
    np.testing.assert_array_equal(y2[:, 0], cte)
    # the archive Keras keeps beside it (here alone): checksum first, then the same arrays
    for p in (ext / "train", ext / "test"):
        p.unlink()
    with tarfile.open(home / "cifar-100-python-target_archive", "w:gz") as tar:
        for name, blob in (("train", btr), ("test", bte)):
            info = tarfile.TarInfo(f"cifar-100-python/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    with pytest.raises(ValueError, match="checksum mismatch"):
        cifar100.load_data()
    (x1, y1), _ = cifar100.load_data(verify_checksum=False)
    np.testing.assert_array_equal(x1, xtr)
    with pytest.raises(ValueError, match="label_mode"):
        cifar100.load_data(label_mode="medium")


def _seqs(n, seed, vocab=30):
    rng = np.random.default_rng(seed)
    out = np.empty(n, dtype=object)
    for i in range(n):
        out[i] = [int(v) for v in rng.integers(1, vocab, rng.integers(2, 9))]
    return out


def _keras_sequences(xs, labels, rng, num_words, skip_top, maxlen, start_char, oov_char,
                     index_from):
    """Keras's imdb/reuters processing, step by step (reference)."""
    idx = np.arange(len(xs))
    rng.shuffle(idx)
    xs, labels = xs[idx], labels[idx]
    xs = [[start_char] + [w + index_from for w in x] for x in xs]
    if maxlen:
        keep = [i for i, x in enumerate(xs) if len(x) < maxlen]
        xs, labels = [xs[i] for i in keep], labels[keep]
    return xs, labels


def test_imdb(home):
    x_train, x_test = _seqs(9, 0), _seqs(5, 1)
    y_train, y_test = np.arange(9) % 2, np.arange(5) % 2
    np.savez(home / "imdb.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    (xtr, ytr), (xte, yte) = imdb.load_data(verify_checksum=False)
    rng = np.random.RandomState(113)
    ref_tr, ref_ytr = _keras_sequences(x_train, y_train, rng, None, 0, None, 1, 2, 3)
    ref_te, ref_yte = _keras_sequences(x_test, y_test, rng, None, 0, None, 1, 2, 3)
    top = max(max(x) for x in ref_tr + ref_te)  # num_words=None: the largest index (cut too)
    cut = [[w if w < top else 2 for w in x] for x in ref_tr]
    assert xtr.dtype == object and len(xtr) == 9
    assert [list(x) for x in xtr] == cut
    np.testing.assert_array_equal(ytr, ref_ytr)
    np.testing.assert_array_equal(yte, ref_yte)
    (xtr, _), _ = imdb.load_data(num_words=10, skip_top=5, start_char=1, oov_char=2,
                                 index_from=3, verify_checksum=False)
    flat = [w for x in xtr for w in x]
    assert all(5 <= w < 10 or w == 2 for w in flat)
    (xtr, _), _ = imdb.load_data(num_words=10, oov_char=None, verify_checksum=False)
    assert all(w < 10 for x in xtr for w in x)
    (xtr, ytr), (xte, _) = imdb.load_data(maxlen=8, verify_checksum=False)
    assert all(len(x) < 8 for x in xtr) and len(ytr) == len(xtr)
    with pytest.raises(ValueError, match="maxlen"):
        imdb.load_data(maxlen=1, verify_checksum=False)
    with pytest.raises(ValueError, match="checksum mismatch"):
        imdb.load_data()
    (home / "imdb_word_index.json").write_text(json.dumps({"the": 1, "a": 2}))
    assert imdb.get_word_index(verify_checksum=False) == {"the": 1, "a": 2}
    with pytest.raises(ValueError, match="checksum mismatch"):
        imdb.get_word_index()


def test_imdb_refuses_code_in_the_npz(home):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    evil = np.empty(1, dtype=object)
    evil[0] = Evil()
    np.savez(home / "imdb.npz", x_train=evil, y_train=np.zeros(1), x_test=evil,
             y_test=np.zeros(1))
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        imdb.load_data(verify_checksum=False)


def test_reuters(home):
    xs, ys = _seqs(10, 2), np.arange(10) % 46
    np.savez(home / "reuters.npz", x=xs, y=ys)
    (xtr, ytr), (xte, yte) = reuters.load_data(test_split=0.3, verify_checksum=False)
    ref, ref_y = _keras_sequences(xs, ys, np.random.RandomState(113), None, 0, None, 1, 2, 3)
    top = max(max(x) for x in ref)
    ref = [[w if w < top else 2 for w in x] for x in ref]
    assert len(xtr) == 7 and len(xte) == 3
    assert [list(x) for x in xtr] + [list(x) for x in xte] == ref
    np.testing.assert_array_equal(np.concatenate([ytr, yte]), ref_y)
    assert len(reuters.get_label_names()) == 46 and reuters.get_label_names()[3] == "earn"
    (home / "reuters_word_index.json").write_text(json.dumps({"said": 1}))
    assert reuters.get_word_index(verify_checksum=False) == {"said": 1}


@pytest.mark.parametrize("module,name,features", [
    (boston_housing, "boston_housing.npz", 13),
    (california_housing, "california_housing.npz", 8),
])
def test_housing(home, module, name, features):
    rng = np.random.default_rng(3)
    x = rng.random((700, features))
    y = rng.random(700)
    np.savez(home / name, x=x, y=y)
    (xtr, ytr), (xte, yte) = module.load_data(verify_checksum=False)
    idx = np.arange(700)
    np.random.RandomState(113).shuffle(idx)
    n = int(700 * 0.8)
    np.testing.assert_array_equal(xtr, x[idx][:n])
    np.testing.assert_array_equal(yte, y[idx][n:])
    (xtr, _), (xte, _) = module.load_data(test_split=0.5, seed=7, verify_checksum=False)
    assert len(xtr) == 350 and len(xte) == 350
    with pytest.raises(ValueError, match="test_split"):
        module.load_data(test_split=1.0, verify_checksum=False)
    with pytest.raises(ValueError, match="checksum mismatch"):
        module.load_data()
    if module is california_housing:
        (xtr, _), (xte, _) = module.load_data(version="small", verify_checksum=False)
        assert len(xtr) + len(xte) == 600
        with pytest.raises(ValueError, match="version"):
            module.load_data(version="medium")


def test_fastnet_home_and_missing_files(home, tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="does not download"):
        boston_housing.load_data()
    with pytest.raises(FileNotFoundError, match="cifar100"):
        cifar100.load_data()
    other = tmp_path / "fhome" / "datasets"
    other.mkdir(parents=True)
    np.savez(other / "boston_housing.npz", x=np.ones((5, 13)), y=np.ones(5))
    monkeypatch.setenv("FASTNET_HOME", str(tmp_path / "fhome"))
    (xtr, _), _ = boston_housing.load_data(verify_checksum=False)
    assert xtr.shape == (4, 13)
