"""utils.pad_sequences, normalize, timeseries_dataset_from_array, split_dataset and
get_file (offline: file:// origins and a refused local port)."""

import hashlib
import io
import os
import tarfile
import zipfile

import numpy as np
import pytest

import fastnet as keras
from fastnet import utils


def test_pad_sequences_padding_truncating_value_dtype():
    seqs = [[1, 2, 3], [4, 5], [6, 7, 8, 9, 10], []]
    out = utils.pad_sequences(seqs)
    assert out.dtype == np.int32 and out.shape == (4, 5)
    assert out.tolist() == [[0, 0, 1, 2, 3], [0, 0, 0, 4, 5], [6, 7, 8, 9, 10], [0] * 5]
    out = utils.pad_sequences(seqs, maxlen=3, padding="post", truncating="post", value=-1)
    assert out.tolist() == [[1, 2, 3], [4, 5, -1], [6, 7, 8], [-1, -1, -1]]
    out = utils.pad_sequences(seqs, maxlen=3)  # truncating="pre" keeps the end
    assert out[2].tolist() == [8, 9, 10]
    f = utils.pad_sequences([[0.5, 1.5]], maxlen=3, dtype="float32", value=0.25)
    assert f.dtype == np.float32 and f.tolist() == [[0.25, 0.5, 1.5]]
    vec = utils.pad_sequences([np.ones((2, 3)), np.ones((1, 3))], dtype="float32")
    assert vec.shape == (2, 2, 3) and vec[1, 0].tolist() == [0, 0, 0]
    s = utils.pad_sequences([["a", "b"], ["c"]], dtype=object, value="<pad>")
    assert s.tolist() == [["a", "b"], ["<pad>", "c"]]
    with pytest.raises(ValueError, match="dtype=object"):
        utils.pad_sequences([["a"]], value="x")
    with pytest.raises(ValueError, match="Padding type"):
        utils.pad_sequences(seqs, padding="middle")
    with pytest.raises(ValueError, match="non-iterable"):
        utils.pad_sequences([1, 2])
    with pytest.raises(ValueError, match="expected shape"):
        utils.pad_sequences([np.ones((2, 3)), np.ones((1, 4))])


def test_pad_sequences_matches_keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    k = pytest.importorskip("keras")
    rng = np.random.default_rng(0)
    seqs = [list(rng.integers(1, 9, rng.integers(0, 7))) for _ in range(10)]
    for kw in [{}, {"maxlen": 4}, {"maxlen": 4, "padding": "post"},
               {"maxlen": 3, "truncating": "post", "value": 7}, {"dtype": "float32"}]:
        np.testing.assert_array_equal(utils.pad_sequences(seqs, **kw),
                                      k.utils.pad_sequences(seqs, **kw))


def test_normalize():
    x = np.array([[3.0, 4.0], [0.0, 0.0]], "float32")
    np.testing.assert_allclose(utils.normalize(x), [[0.6, 0.8], [0, 0]], rtol=1e-6)
    np.testing.assert_allclose(utils.normalize(x, axis=0, order=1), [[1, 1], [0, 0]])


def test_timeseries_dataset_windows_and_targets():
    data = np.arange(100)[:, None].astype("float32")
    targets = np.arange(100) * 10
    ds = utils.timeseries_dataset_from_array(data, targets, sequence_length=5,
                                             sequence_stride=3, sampling_rate=2, batch_size=8,
                                             start_index=10, end_index=60)
    assert isinstance(ds, utils.PyDataset)
    starts = list(range(0, 50 - 4 * 2, 3))  # 42 usable starts in [10, 60), every 3rd
    assert len(ds) == -(-len(starts) // 8)
    xs, ys = zip(*[ds[i] for i in range(len(ds))])
    x, y = np.concatenate(xs), np.concatenate(ys)
    assert x.shape == (len(starts), 5, 1)
    for row, s in zip(x, starts):
        assert row[:, 0].tolist() == [10 + s + 2 * j for j in range(5)]
    assert y.tolist() == [(10 + s) * 10 for s in starts]
    noy = utils.timeseries_dataset_from_array(data, None, 10, batch_size=None)
    assert len(noy) == 91 and noy[0].shape == (10, 1)
    shuf = utils.timeseries_dataset_from_array(data, targets, 4, shuffle=True, seed=3,
                                               batch_size=200)
    bx, by = shuf[0]
    assert sorted(by.tolist()) == [10 * i for i in range(97)]
    assert np.array_equal(bx[:, 0, 0] * 10, by)  # each window still pairs with its target
    with pytest.raises(ValueError, match="sampling_rate"):
        utils.timeseries_dataset_from_array(data, None, 3, sampling_rate=0)
    with pytest.raises(ValueError, match="end_index"):
        utils.timeseries_dataset_from_array(data, None, 3, start_index=20, end_index=10)


def test_timeseries_dataset_trains_a_model():
    data = np.sin(np.arange(300) / 5.0).astype("float32")[:, None]
    ds = utils.timeseries_dataset_from_array(data[:-8], data[8:, 0], sequence_length=8,
                                             batch_size=32)
    model = keras.Sequential([keras.Input((8, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    hist = model.fit(ds, epochs=2, verbose=0)
    assert len(hist.history["loss"]) == 2


def test_timeseries_matches_keras_windows():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    k = pytest.importorskip("keras")
    pytest.importorskip("tensorflow")
    data, targets = np.arange(50), np.arange(50) * 2
    theirs = k.utils.timeseries_dataset_from_array(data, targets, 6, sequence_stride=2,
                                                   sampling_rate=3, batch_size=4)
    ours = utils.timeseries_dataset_from_array(data, targets, 6, sequence_stride=2,
                                               sampling_rate=3, batch_size=4)
    for (a, b), (c, d) in zip(ours, theirs):
        np.testing.assert_array_equal(a, np.asarray(c))
        np.testing.assert_array_equal(b, np.asarray(d))


def test_split_dataset():
    x = np.arange(20).reshape(10, 2)
    y = np.arange(10)
    (lx, ly), (rx, ry) = utils.split_dataset((x, y), left_size=0.7)
    assert len(lx) == len(ly) == 7 and len(rx) == 3
    assert np.array_equal(lx, x[:7]) and np.array_equal(ry, y[7:])
    a, b = utils.split_dataset(x, right_size=4, shuffle=True, seed=1)
    assert a.shape == (6, 2) and b.shape == (4, 2)
    assert sorted(np.concatenate([a, b])[:, 0].tolist()) == x[:, 0].tolist()
    left, right = utils.split_dataset({"a": y, "b": y * 2}, left_size=2, right_size=3)
    assert left["a"].tolist() == [0, 1] and right["b"].tolist() == [4, 6, 8]
    lst_l, lst_r = utils.split_dataset(list(range(5)))
    assert lst_l == [0, 1] and lst_r == [2, 3, 4]  # round(0.5 * 5) = 2, as Keras
    with pytest.raises(ValueError, match="left_size"):
        utils.split_dataset(x, left_size=1.5)
    with pytest.raises(ValueError, match="greater than 1"):
        utils.split_dataset(x, left_size=0.6, right_size=0.6)
    with pytest.raises(TypeError, match="left_size"):
        utils.split_dataset(x, left_size="half")


# ---- get_file ---------------------------------------------------------------------------

def _origin(path):
    return "file://" + str(path)


def _read(path, mode="rb"):
    with open(path, mode) as f:
        return f.read()


def test_get_file_copies_caches_and_checks_hash(tmp_path, monkeypatch):
    monkeypatch.setenv("FASTNET_HOME", str(tmp_path / "home"))
    src = tmp_path / "remote" / "data.csv"
    src.parent.mkdir()
    src.write_bytes(b"a,b\n1,2\n")
    sha = hashlib.sha256(src.read_bytes()).hexdigest()
    md5 = hashlib.md5(src.read_bytes()).hexdigest()
    path = utils.get_file(origin=_origin(src), file_hash=sha)
    assert path == str(tmp_path / "home" / "datasets" / "data.csv")
    assert _read(path) == src.read_bytes()
    src.write_bytes(b"changed")  # cached copy is used while its hash matches
    assert utils.get_file("data.csv", _origin(src), md5_hash=md5) == path
    assert _read(path) == b"a,b\n1,2\n"
    with pytest.raises(ValueError, match="hash does not match"):
        utils.get_file("data.csv", _origin(src), file_hash=sha, force_download=True)
    assert not os.path.exists(path)  # a corrupt download is not left in the cache
    other = utils.get_file("x.csv", _origin(src), cache_dir=str(tmp_path / "c"),
                           cache_subdir="sub")
    assert other == str(tmp_path / "c" / "sub" / "x.csv")
    with pytest.raises(ValueError, match="origin"):
        utils.get_file("a.txt")
    with pytest.raises(ValueError, match="cache_dir"):
        utils.get_file("a/b.txt", _origin(src))


def test_get_file_offline_error_names_url_and_path(tmp_path, monkeypatch):
    monkeypatch.setenv("FASTNET_HOME", str(tmp_path))
    url = "http://127.0.0.1:9/datasets/imdb.npz"
    with pytest.raises(OSError) as info:
        utils.get_file(origin=url)
    msg = str(info.value)
    assert url in msg and str(tmp_path / "datasets" / "imdb.npz") in msg
    assert not os.listdir(tmp_path / "datasets")
    # once the file is copied there, it is used without any network access
    (tmp_path / "datasets" / "imdb.npz").write_bytes(b"npz")
    assert utils.get_file(origin=url) == str(tmp_path / "datasets" / "imdb.npz")


@pytest.mark.parametrize("kind", ["tar.gz", "zip"])
def test_get_file_extracts_archives(tmp_path, monkeypatch, kind):
    monkeypatch.setenv("FASTNET_HOME", str(tmp_path / "home"))
    arc = tmp_path / f"pack.{kind}"
    if kind == "zip":
        with zipfile.ZipFile(arc, "w") as zf:
            zf.writestr("pack/a.txt", "hello")
    else:
        with tarfile.open(arc, "w:gz") as tf:
            payload = b"hello"
            info = tarfile.TarInfo("pack/a.txt")
            info.size = len(payload)
            tf.addfile(info, io.BytesIO(payload))
    out = utils.get_file(f"pack.{kind}", _origin(arc), extract=True)
    assert out == str(tmp_path / "home" / "datasets" / "pack_extracted")
    assert _read(os.path.join(out, "pack", "a.txt"), "r") == "hello"
    # Keras's layout without fname: the archive is <name>_archive, extracted into <name>
    unnamed = utils.get_file(origin=_origin(arc), extract=True, cache_dir=str(tmp_path / "c2"))
    assert unnamed == str(tmp_path / "c2" / "datasets" / f"pack.{kind}")
    assert os.path.isfile(str(tmp_path / "c2" / "datasets" / f"pack.{kind}_archive"))
    assert os.path.isfile(os.path.join(unnamed, "pack", "a.txt"))


def test_get_file_refuses_archive_escapes(tmp_path, monkeypatch):
    monkeypatch.setenv("FASTNET_HOME", str(tmp_path / "home"))
    arc = tmp_path / "evil.zip"
    with zipfile.ZipFile(arc, "w") as zf:
        zf.writestr("../../escape.txt", "x")
    with pytest.raises(ValueError, match="outside"):
        utils.get_file("evil.zip", _origin(arc), extract=True)
    assert not (tmp_path / "escape.txt").exists()


def test_progbar_averages_non_stateful_values(capsys):
    bar = utils.Progbar(4, verbose=2, stateful_metrics=["acc"])
    bar.update(1, [("loss", 4.0), ("acc", 0.5)])
    bar.update(3, [("loss", 1.0), ("acc", 0.75)], finalize=False)
    assert bar._values["loss"] == [6.0, 3]  # (4 * 1 + 1 * 2) over 3 steps: shown as 2.0
    # Keras 3: the finalizing update shows its values as given (epoch-end logs are
    # already averages)
    bar.add(1, [("loss", 6.0), ("acc", 1.0)])
    out = capsys.readouterr().out
    assert "4/4" in out and "loss: 6.0000" in out and "acc: 1.0000" in out


def test_pack_unpack_and_symbolic_helpers():
    x, y, w = np.zeros(2), np.ones(2), np.ones(2)
    assert utils.pack_x_y_sample_weight(x) is x
    assert utils.unpack_x_y_sample_weight(utils.pack_x_y_sample_weight(x, y, w))[2] is w
    assert utils.unpack_x_y_sample_weight([x, y]) == (x, y, None)
    assert utils.unpack_x_y_sample_weight(x)[0] is x
    with pytest.raises(ValueError, match="sample_weight"):
        utils.unpack_x_y_sample_weight((x, y, w, w))
    a, b = keras.Input((3,)), keras.Input((3,))
    out = keras.layers.Dense(2)(keras.layers.Add()([a, keras.layers.Dense(3)(b)]))
    assert utils.is_keras_tensor(out) and not utils.is_keras_tensor(x)
    src = utils.get_source_inputs(out)
    assert len(src) == 2 and src[0] is a and src[1] is b
    assert utils.Sequence is utils.PyDataset
