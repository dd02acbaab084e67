"""Smoke tests of bench/workloads.py: every workload runs in its own process in --quick
mode and prints its row, and the PyTorch peers are the same architectures as the
Keras-API models (parameter counts and output shapes). No timing is asserted."""

import os
import subprocess
import sys

import numpy as np
import pytest

import fastnet

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench")
sys.path.insert(0, BENCH)

import _common  # noqa: E402
import workloads  # noqa: E402

# The bench's worker processes import the checkout's fastnet (bench/ sits beside it): a
# clean clone whose extension was installed but not built in place cannot run them.
_ROOT = os.path.dirname(BENCH)
_BUILT = any(n.startswith("_C") and n.endswith(".so")
             for n in os.listdir(os.path.join(_ROOT, "fastnet")))


def _run(*args):
    if not _BUILT:
        pytest.skip("the checkout's fastnet has no in-place build (python setup.py "
                    "build_ext --inplace); the bench's workers import it")
    out = subprocess.run([sys.executable, os.path.join(BENCH, "workloads.py"), "--quick", *args],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def _rows(stdout, framework):
    return [line.split() for line in stdout.splitlines()
            if len(line.split()) > 2 and line.split()[1] == framework]


def test_fastnet_runs_every_workload():
    wls = ["w2", "w2i", "w3", "w4"]
    if _common.fashion_mnist_arrays() is not None:
        wls.insert(0, "w1")
    out = _run("--frameworks", "fastnet", "--only", ",".join(wls), "--threads", "1")
    rows = _rows(out, "fastnet")
    assert [r[0] for r in rows] == wls, out
    for r in rows:
        assert "failed" not in r, out
        first, steady, peak = float(r[2]), float(r[3]), float(r[4])
        assert first > 0 and steady > 0 and peak > 0


def test_torch_peer_runs_in_both_layouts():
    pytest.importorskip("torch")
    out = _run("--frameworks", "fastnet,torch", "--only", "w4")
    fw = [line.split()[1] for line in out.splitlines() if line.strip().startswith("w4")]
    assert fw[0] == "fastnet" and set(fw[1:]) == {"torch-nchw", "torch-cl"}, out
    assert "failed" not in out
    assert "Targets" in out  # fastnet against PyTorch's faster layout


def test_unknown_workload_is_rejected():
    out = subprocess.run([sys.executable, os.path.join(BENCH, "workloads.py"), "--only", "w9"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "w9" in out.stderr


def test_fashion_mnist_reader_matches_fastnet_loader():
    data = _common.fashion_mnist_arrays()
    if data is None:
        pytest.skip("Fashion-MNIST not installed")
    (x, y), (xt, yt) = data
    (fx, fy), (fxt, fyt) = fastnet.datasets.fashion_mnist.load_data()
    np.testing.assert_array_equal(x, fx)
    np.testing.assert_array_equal(y, fy)
    np.testing.assert_array_equal(xt, fxt)
    np.testing.assert_array_equal(yt, fyt)


@pytest.mark.parametrize("wl", ["w1", "w2", "w3", "w4"])
def test_torch_models_match_the_keras_models(wl):
    torch = pytest.importorskip("torch")
    m = workloads.keras_compiled(fastnet, wl, jit=False)
    net = workloads.torch_model(torch, wl)
    n_torch = sum(p.numel() for p in net.parameters())
    # PyTorch's LSTM has two bias vectors (input and recurrent) where Keras has one.
    extra = 4 * (128 + 32) if wl == "w3" else 0
    assert m.count_params() == n_torch - extra
    rng = np.random.default_rng(0)
    x, _ = workloads.batch_data(wl, 2, rng) if wl != "w1" else (
        rng.random((2, 784), dtype=np.float32), None)
    outs = m.predict(x, verbose=0)
    outs = outs if isinstance(outs, list) else [outs]
    with torch.no_grad():
        if wl == "w3":
            t = net(*(torch.from_numpy(a) for a in x))
        elif wl == "w1":
            t = (net(torch.from_numpy(x)),)
        else:
            t = (net(torch.from_numpy(x).permute(0, 3, 1, 2)),)
    for a, b in zip(outs, t):
        shape = tuple(b.shape) if b.ndim != 4 else (b.shape[0], *b.shape[2:], b.shape[1])
        assert a.shape == shape
