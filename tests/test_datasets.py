import gzip
import io
import os
import pickle
import struct
import tarfile

import numpy as np
import pytest

import fastnet
from fastnet.datasets import cifar10, fashion_mnist, mnist


def write_idx(path, array):
    header = struct.pack(">HBB", 0, 8, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(data)


def make_idx_dataset(root, n_train=7, n_test=3, seed=0):
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (n_train, 28, 28)),
        "train-labels-idx1-ubyte.gz": rng.integers(0, 10, (n_train,)),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (n_test, 28, 28)),
        "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, (n_test,)),
    }
    os.makedirs(root, exist_ok=True)
    for name, arr in arrays.items():
        write_idx(os.path.join(root, name), arr)
    return arrays


def test_mnist_reads_idx_files(tmp_path):
    arrays = make_idx_dataset(str(tmp_path / "mnist"))
    (xtr, ytr), (xte, yte) = mnist.load_data(cache_dir=str(tmp_path))
    assert xtr.dtype == np.uint8 and xtr.shape == (7, 28, 28) and yte.shape == (3,)
    np.testing.assert_array_equal(xtr, arrays["train-images-idx3-ubyte.gz"])
    np.testing.assert_array_equal(yte, arrays["t10k-labels-idx1-ubyte.gz"])


def test_mnist_npz_checksum_is_verified(tmp_path):
    d = tmp_path / "mnist"
    d.mkdir()
    np.savez(d / "mnist.npz", x_train=np.zeros((2, 28, 28), np.uint8), y_train=np.zeros(2, np.uint8),
             x_test=np.zeros((1, 28, 28), np.uint8), y_test=np.zeros(1, np.uint8))
    with pytest.raises(ValueError, match="checksum mismatch"):
        mnist.load_data(cache_dir=str(tmp_path))
    (xtr, _), (xte, _) = mnist.load_data(cache_dir=str(tmp_path), verify_checksum=False)
    assert xtr.shape == (2, 28, 28) and xte.shape == (1, 28, 28)


def test_fashion_mnist_checksum_rejects_other_data(tmp_path):
    make_idx_dataset(str(tmp_path / "fashion-mnist"))
    with pytest.raises(ValueError, match="checksum mismatch"):
        fashion_mnist.load_data(cache_dir=str(tmp_path))
    (xtr, ytr), _ = fashion_mnist.load_data(cache_dir=str(tmp_path), verify_checksum=False)
    assert xtr.shape == (7, 28, 28) and ytr.shape == (7,)


def test_idx_truncated_file_is_a_clear_error(tmp_path):
    d = tmp_path / "mnist"
    make_idx_dataset(str(d))
    path = d / "t10k-labels-idx1-ubyte.gz"
    raw = gzip.open(path).read()
    with gzip.open(path, "wb") as f:
        f.write(raw[:-1])
    with pytest.raises(ValueError, match="bytes follow"):
        mnist.load_data(cache_dir=str(tmp_path))


def test_missing_dataset_names_the_places_searched(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "nothing"))
    monkeypatch.setattr("fastnet.datasets._files.SYSTEM_ROOT", str(tmp_path / "none"))
    with pytest.raises(FileNotFoundError, match="does not download"):
        cifar10.load_data(cache_dir=str(tmp_path))


def cifar_batch(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (n, 32, 32, 3)).astype(np.uint8)
    y = rng.integers(0, 10, n)
    data = x.transpose(0, 3, 1, 2).reshape(n, 3072)
    return x, y, {b"data": data, b"labels": [int(v) for v in y], b"batch_label": b"x"}


def test_cifar10_python_tarball(tmp_path):
    buf_parts = {}
    xs, ys = [], []
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        x, y, d = cifar_batch(2, i)
        buf_parts[name] = pickle.dumps(d, protocol=2)
        xs.append(x)
        ys.append(y)
    d = tmp_path / "cifar-10"
    d.mkdir()
    with tarfile.open(d / "cifar-10-python.tar.gz", "w:gz") as tar:
        for name, blob in buf_parts.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    with pytest.raises(ValueError, match="checksum mismatch"):
        cifar10.load_data(cache_dir=str(tmp_path))
    (xtr, ytr), (xte, yte) = cifar10.load_data(cache_dir=str(tmp_path), verify_checksum=False)
    assert xtr.shape == (10, 32, 32, 3) and ytr.shape == (10, 1) and xte.shape == (2, 32, 32, 3)
    np.testing.assert_array_equal(xtr, np.concatenate(xs[:5]))
    np.testing.assert_array_equal(yte[:, 0], ys[5])


def test_cifar10_binary_batches(tmp_path):
    d = tmp_path / "cifar-10" / "cifar-10-batches-bin"
    d.mkdir(parents=True)
    want = []
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        x, y, _ = cifar_batch(3, i)
        rec = np.concatenate([y[:, None].astype(np.uint8),
                              x.transpose(0, 3, 1, 2).reshape(3, 3072)], axis=1)
        rec.tofile(d / f"{name}.bin")
        want.append((x, y))
    (xtr, ytr), (xte, yte) = cifar10.load_data(cache_dir=str(tmp_path))
    np.testing.assert_array_equal(xte, want[5][0])
    np.testing.assert_array_equal(ytr[:3, 0], want[0][1])


def test_cifar10_refuses_code_in_pickles(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    d = tmp_path / "cifar-10" / "cifar-10-batches-py"
    d.mkdir(parents=True)
    for name in [f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]:
        (d / name).write_bytes(pickle.dumps({b"data": Evil(), b"labels": []}))
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        cifar10.load_data(cache_dir=str(tmp_path))


@pytest.mark.skipif(not os.path.isdir("/usr/share/datasets/fashion-mnist"),
                    reason="real Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
def test_real_fashion_mnist():
    (xtr, ytr), (xte, yte) = fastnet.datasets.fashion_mnist.load_data()
    assert xtr.shape == (60000, 28, 28) and ytr.shape == (60000,)
    assert xte.shape == (10000, 28, 28) and yte.shape == (10000,)
    assert set(np.unique(ytr)) == set(range(10))


def test_to_categorical():
    from fastnet.utils import to_categorical

    y = to_categorical(np.array([[0], [2], [1]]), 3)
    np.testing.assert_array_equal(y, np.eye(3)[[0, 2, 1]])
    assert y.dtype == np.float64  # Keras 3's NumPy path (np.zeros); a Tensor gives float32
    import fastnet

    assert to_categorical(fastnet.ops.convert_to_tensor(np.array([0, 1])), 2).dtype == np.float32
    assert to_categorical([1, 3]).shape == (2, 4)
    with pytest.raises(ValueError, match="out of range"):
        to_categorical([0, 5], num_classes=3)
    with pytest.raises(ValueError, match=">= 0"):
        to_categorical([-1, 0])
