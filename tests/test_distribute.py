"""fastnet.distribute: MPIStrategy, allreduce/broadcast/barrier.

The multi-rank tests launch ``mpirun --oversubscribe -np 2`` on the jobs in
tests/mpi_jobs.py and compare what every rank wrote with one process training
the same code on the whole global batch (computed here)."""

from __future__ import annotations

import contextlib
import csv
import importlib.util
import math
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import fastnet
from fastnet.distribute import mpi as dmpi

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import mpi_jobs  # noqa: E402

MPIRUN = shutil.which("mpirun")
HAVE_MPI4PY = importlib.util.find_spec("mpi4py") is not None
needs_mpi = pytest.mark.skipif(
    MPIRUN is None or not HAVE_MPI4PY,
    reason="needs Open MPI's mpirun (apt-get install openmpi-bin libopenmpi-dev) and mpi4py "
           "(pip install \"fastnet-cpu[mpi]\")" + (": mpirun not found" if MPIRUN is None else
                                              ": mpi4py not installed"))


def run_job(job, out_dir, timeout=120, env_extra=None):
    env = dict(os.environ)
    env.pop("FASTNET_NUM_THREADS", None)
    for k in dmpi._SIZE_VARS:  # a test run itself started under mpirun must not leak its rank
        env.pop(k, None)
    root = os.path.dirname(os.path.dirname(os.path.abspath(fastnet.__file__)))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("OMPI_MCA_btl_vader_single_copy_mechanism", "none")  # containers: no CMA
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    env.update(env_extra or {})
    cmd = [MPIRUN, "--oversubscribe", "-np", "2", sys.executable,
           os.path.join(HERE, "mpi_jobs.py"), job, str(out_dir)]
    # The timeout only guards against a hang (the failure these tests are about).
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


def rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


# ---- one process ---------------------------------------------------------------------------

def test_single_process_is_a_noop(monkeypatch):
    for k in dmpi._SIZE_VARS:
        monkeypatch.delenv(k, raising=False)
    had_mpi = "mpi4py.MPI" in sys.modules
    strategy = fastnet.distribute.MPIStrategy()
    assert (strategy.rank, strategy.num_workers, strategy.is_chief) == (0, 1, True)
    if not had_mpi:
        assert "mpi4py.MPI" not in sys.modules  # a plain `python train.py` never loads MPI
    x = np.arange(6.0).reshape(2, 3)
    assert fastnet.distribute.allreduce(x) is x
    assert fastnet.distribute.broadcast({"a": 1}) == {"a": 1}
    fastnet.distribute.barrier()

    def train(scope):
        x, y = mpi_jobs._data("mlp", 50)
        with scope:
            model = mpi_jobs._mlp(3)
            model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                          metrics=["accuracy"])
        np.random.seed(0)
        h = model.fit(x, y, batch_size=16, epochs=2, verbose=0)
        return model, h.history

    m1, h1 = train(strategy.scope())
    m2, h2 = train(contextlib.nullcontext())
    assert m1.distribute_strategy is strategy
    assert m2.distribute_strategy is fastnet.distribute.get_strategy()
    for a, b in zip(m1.get_weights(), m2.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert h1 == h2


def test_scope_nesting_and_compile_capture():
    outer, inner = fastnet.distribute.MPIStrategy(), fastnet.distribute.Strategy()
    default = fastnet.distribute.get_strategy()
    with outer.scope():
        assert fastnet.distribute.get_strategy() is outer
        with inner.scope():
            assert fastnet.distribute.get_strategy() is inner
        model = mpi_jobs._mlp(0)
        model.compile(optimizer="sgd", loss="mse")
    assert fastnet.distribute.get_strategy() is default
    assert model.distribute_strategy is outer


def test_missing_mpi4py_under_a_launcher_names_the_extra(monkeypatch):
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "2")
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # import mpi4py -> ImportError
    monkeypatch.delitem(sys.modules, "mpi4py.MPI", raising=False)
    monkeypatch.setattr(dmpi.World, "_instance", None)
    with pytest.raises(ImportError, match=r'pip install "fastnet-cpu\[mpi\]"') as info:
        fastnet.distribute.MPIStrategy()
    assert "2 ranks" in str(info.value)
    with pytest.raises(ImportError, match="mpi4py is not installed"):
        fastnet.distribute.allreduce(np.ones(2))


@pytest.mark.parametrize("kwargs, match", [
    ({"bucket_bytes": 0}, "bucket_bytes"), ({"bucket_bytes": 1.5}, "bucket_bytes"),
    ({"timeout": 0}, "timeout"), ({"num_threads": 0}, "num_threads"),
    ({"num_threads": True}, "num_threads")])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        fastnet.distribute.MPIStrategy(**kwargs)


def test_allreduce_rejects_unknown_op():
    with pytest.raises(ValueError, match="op must be one of"):
        fastnet.distribute.allreduce(np.ones(2), op="prod")


def test_buckets_are_few_and_bounded():
    arrays = [np.zeros(100, np.float32), np.zeros(100, np.float32), np.zeros(5, np.float64),
              np.zeros(400, np.float32), np.zeros(10, np.float32)]
    buckets = dmpi._buckets(arrays, cap_bytes=1000)
    assert sorted(i for b in buckets for i in b) == list(range(5))
    for b in buckets:
        assert len({arrays[i].dtype for i in b}) == 1
        assert sum(arrays[i].nbytes for i in b) <= 1000 or len(b) == 1
    assert buckets == [[0, 1], [3], [4], [2]]
    assert dmpi._buckets(arrays, cap_bytes=1 << 20) == [[0, 1, 3, 4], [2]]


class _FakeWorld:
    """Two ranks in one process: allreduce_ sums the buffer with the other rank's."""

    def __init__(self, other):
        self.other = other
        self.calls = 0

    def allreduce_(self, buf, op, what):
        buf += self.other.pop(0)
        self.calls += 1


def test_weighted_mean_rule_matches_the_global_batch_gradient():
    """sum_r b_r g_r / sum_r b_r is the gradient of the mean over the global
    batch for an uneven split (here a linear model with squared error)."""
    rng = np.random.default_rng(0)
    x, y, w = rng.normal(size=(7, 3)), rng.normal(size=7), rng.normal(size=3)

    def grad(xs, ys):
        return (2.0 * (xs @ w - ys) @ xs / len(ys)).astype(np.float32)

    g_all = grad(x, y)
    g0, g1 = grad(x[:3], y[:3]), grad(x[3:], y[3:])
    other = np.concatenate([g1 * 4, [4]]).astype(np.float32)  # rank 1's packed buffer
    reducer = dmpi._Reducer(_FakeWorld([other]), 1 << 20)
    (out,) = reducer.weighted_mean([g0], 3.0)
    np.testing.assert_allclose(out, g_all, rtol=1e-5)
    assert reducer.world.calls == 1


class _Rank1World:
    rank, size = 1, 2

    def allgather_obj(self, obj, what):
        return [False, obj]


def test_chief_only_callbacks_are_dropped_on_other_ranks(tmp_path):
    cb = fastnet.callbacks

    class TensorBoard(cb.Callback):  # matched by class name, wherever it is defined
        pass

    class MyLogger(cb.Callback):
        chief_only = True

    class Flagged(cb.ModelCheckpoint):
        chief_only = False  # the attribute overrides the class rule

    strategy = fastnet.distribute.MPIStrategy()
    strategy._world = _Rank1World()
    keep = [cb.History(), cb.EarlyStopping(), cb.TerminateOnNaN(),
            Flagged(str(tmp_path / "m.keras"))]
    drop = [cb.ProgbarLogger(), cb.ModelCheckpoint(str(tmp_path / "m.keras")),
            cb.CSVLogger(str(tmp_path / "log.csv")), TensorBoard(), MyLogger()]
    kept, verbose = strategy.local_callbacks(keep[:2] + drop + keep[2:], 1)
    assert kept == keep and verbose == 0
    wrapped, _ = strategy.local_callbacks(cb.CallbackList(drop + keep), 2)
    assert isinstance(wrapped, cb.CallbackList) and wrapped.callbacks == keep
    assert strategy._batch_logs  # TerminateOnNaN reads every batch's logs


def test_which_callbacks_read_batch_logs():
    cb = fastnet.callbacks

    class OnTest(cb.Callback):
        def on_test_batch_end(self, batch, logs=None):
            pass

    wants = dmpi._wants_batch_logs
    assert not wants([cb.History(), cb.EarlyStopping(), cb.ProgbarLogger()], 2)
    assert not wants(None, 0)
    assert wants([cb.LambdaCallback(on_train_batch_end=lambda b, logs: None)], 0)
    assert not wants([cb.LambdaCallback(on_epoch_end=lambda e, logs: None)], 0)
    assert wants([OnTest()], 0) and wants([cb.TerminateOnNaN()], 0)


# ---- two ranks -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def equality(tmp_path_factory):
    if MPIRUN is None or not HAVE_MPI4PY:
        pytest.skip("needs mpirun and mpi4py")
    out = tmp_path_factory.mktemp("mpi_equality")
    proc = run_job("equality", out)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ranks = [dict(np.load(out / f"rank{r}.npz")) for r in range(2)]
    ref = {}
    for name in mpi_jobs.CASES:
        ref.update({f"{name}/{k}": v for k, v in mpi_jobs.train_case(name).items()})
    ref.update({f"loop/{k}": v for k, v in mpi_jobs.custom_loop().items()})
    ref.update({f"bn/{k}": v for k, v in mpi_jobs.batchnorm().items()})
    ref.update({f"pydataset/{k}": v for k, v in mpi_jobs.train_pydataset().items()})
    ref.update({f"multi/{k}": v for k, v in mpi_jobs.train_multi().items()})
    ref.update({f"tob/{k}": v for k, v in mpi_jobs.on_batch().items() if k.startswith("w")})
    return {"ranks": ranks, "ref": ref, "out": out, "stdout": proc.stdout}


@needs_mpi
def test_every_rank_ends_bit_identical(equality):
    r0, r1 = equality["ranks"]
    assert r0["workers"] == 2 and sorted(r0) == sorted(r1)
    for k in r0:
        if k not in ("threads",):
            np.testing.assert_array_equal(r0[k], r1[k], err_msg=k)


@needs_mpi
@pytest.mark.parametrize("case", list(mpi_jobs.CASES) + ["loop", "pydataset", "multi", "tob"])
def test_two_ranks_equal_one_process_on_the_global_batch(equality, case):
    r0, ref = equality["ranks"][0], equality["ref"]
    keys = [k for k in ref if k.startswith(case + "/w")]
    assert keys
    for k in keys:
        assert rel(r0[k], ref[k]) <= 1e-5, (k, rel(r0[k], ref[k]))
    for k in ref:
        if k.startswith((case + "/h_", case + "/pred")):  # History: reduced over the ranks
            np.testing.assert_allclose(r0[k], ref[k], rtol=1e-5, atol=1e-6, err_msg=k)
    if case == "multi":
        assert {"multi/h_loss", "multi/h_cls_loss", "multi/h_reg_loss",
                "multi/h_cls_accuracy"} <= set(r0)
        assert r0["multi/pred_cls"].shape == (101, 5) and r0["multi/pred_reg"].shape == (101, 1)


@needs_mpi
def test_allreduce_broadcast_barrier(equality):
    c = {k[5:]: v for k, v in equality["ranks"][1].items() if k.startswith("coll/")}
    np.testing.assert_allclose(c["mean"], [1.5, 15.0])
    np.testing.assert_allclose(c["sum"], [3.0, 30.0])
    np.testing.assert_allclose(c["max"], [2.0, 20.0])
    np.testing.assert_allclose(c["min"], [1.0, 10.0])
    np.testing.assert_allclose(c["struct_t"], [1.5, 15.0])
    assert float(c["struct_n"]) == 0.5
    assert c["struct_i"].tolist() == [1.5] and c["sum_int"].tolist() == [3]
    np.testing.assert_array_equal(c["bcast_root1"], np.arange(4.0) * 2)
    np.testing.assert_array_equal(c["bcast_list"], [0, 0, 0.5, 0.5, 0.5])
    assert int(c["bcast_obj"]) == 0
    np.testing.assert_array_equal(c["bcast_var"], np.zeros((2, 2)))


@needs_mpi
def test_evaluate_and_predict_are_reduced_and_gathered(equality):
    r0, ref = equality["ranks"][0], equality["ref"]
    for k in ("ev_loss", "ev_accuracy"):
        key = f"mlp_tail1_sw/{k}"
        np.testing.assert_allclose(r0[key], ref[key], rtol=1e-5, err_msg=key)
    pred = r0["mlp_tail1_sw/pred"]
    assert pred.shape == ref["mlp_tail1_sw/pred"].shape == (193, 5)
    np.testing.assert_allclose(pred, ref["mlp_tail1_sw/pred"], rtol=1e-4, atol=1e-6)


@needs_mpi
def test_batchnorm_moving_statistics_are_averaged(equality):
    r0, ref = equality["ranks"][0], equality["ref"]
    # weights (Keras 3's order): dense kernel, bias, gamma, beta, moving mean, moving
    # variance, dense kernel, bias
    assert rel(r0["bn/lr0_w4"], ref["bn/lr0_w4"]) <= 1e-5  # mean: exactly the global batch's
    x, _ = mpi_jobs._data("bn", 64)
    h = x[:32] @ r0["bn/lr0_w0"] + r0["bn/lr0_w1"]
    local_var = (h[:16].var(axis=0) + h[16:].var(axis=0)) / 2  # each rank's batch variance
    np.testing.assert_allclose(r0["bn/lr0_w5"], 0.99 + 0.01 * local_var, rtol=1e-5)


@needs_mpi
def test_chief_only_callbacks_and_progress_bar(equality):
    out, r0 = equality["out"], equality["ranks"][0]
    assert (out / "log_r0.csv").exists() and not (out / "log_r1.csv").exists()
    with open(out / "log_r0.csv") as f:
        rows = list(csv.DictReader(f))
    np.testing.assert_allclose([float(r["loss"]) for r in rows], r0["mlp/h_loss"], rtol=1e-6)
    assert equality["stdout"].count("Epoch 1/2") == 1


@needs_mpi
def test_threads_and_messages_per_step(equality):
    r0 = equality["ranks"][0]
    assert 1 <= int(r0["threads"]) <= max(1, (os.cpu_count() or 1) // 2)
    # One gradient message per step (one bucket); the metric states once per epoch, or
    # after every step when a callback reads per-batch logs (the cnn case).
    for name, metric_msgs in (("mlp", lambda steps: 1), ("cnn", lambda steps: steps)):
        _, _, n, batch, _, _ = mpi_jobs.CASES[name]
        steps = math.ceil(n / batch)
        assert int(r0[f"{name}/allreduce_calls"]) == (steps + metric_msgs(steps)) * \
            mpi_jobs.EPOCHS, name


@needs_mpi
def test_different_data_on_one_rank_raises_on_every_rank(tmp_path):
    proc = run_job("fault_mismatch", tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for r in range(2):
        assert f"rank {r} caught: MPIStrategy: rank 1 was given different train data" in \
            proc.stdout


@needs_mpi
def test_a_custom_train_step_that_skips_the_reduction_is_caught(tmp_path):
    proc = run_job("fault_custom_step", tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for r in range(2):
        assert f"rank {r} caught: MPIStrategy: the ranks' weights diverged" in proc.stdout
    assert "self.distribute_strategy.reduce_gradients(grads, self)" in proc.stdout


@needs_mpi
def test_a_rank_that_raises_stops_every_rank(tmp_path):
    proc = run_job("fault_raise", tmp_path, timeout=60)
    assert proc.returncode != 0
    err = proc.stdout + proc.stderr
    # the layer's error, with Keras's calling context naming the layer in front
    assert "rank 1/2: fit() raised ValueError: " in err
    assert "bad data: NaN in the input batch" in err
    assert "should not happen" not in err


@needs_mpi
def test_an_uncaught_exception_outside_fit_stops_every_rank(tmp_path):
    # The watchdog's timeout (JOB_TIMEOUT) is longer than this test's: the excepthook aborts.
    proc = run_job("fault_outside", tmp_path, timeout=60, env_extra={"JOB_TIMEOUT": "300"})
    assert proc.returncode != 0
    err = proc.stdout + proc.stderr
    assert "FileNotFoundError: data.npz" in err
    assert "rank 1/2: uncaught FileNotFoundError: data.npz" in err
    assert "should not happen" not in err


@needs_mpi
def test_a_rank_that_never_joins_times_out(tmp_path):
    proc = run_job("fault_hang", tmp_path, timeout=60, env_extra={"JOB_TIMEOUT": "2"})
    assert proc.returncode != 0
    assert "rank 0/2: no progress for 2 s in allreduce" in proc.stdout + proc.stderr


@needs_mpi
def test_checkpoint_from_rank_0_resumes_exactly(tmp_path):
    proc = run_job("resume_a", tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(p.name for p in tmp_path.glob("ckpt_*")) == ["ckpt_r0_1.keras",
                                                              "ckpt_r0_2.keras"]
    proc = run_job("resume_b", tmp_path)  # rank 0 loads epoch 1; rank 1 starts from scratch
    assert proc.returncode == 0, proc.stderr[-3000:]
    a = np.load(tmp_path / "a_rank0.npz")
    for r in range(2):
        b = np.load(tmp_path / f"b_rank{r}.npz")
        for k in a.files:
            np.testing.assert_array_equal(b[k], a[k], err_msg=f"rank {r} {k}")
