import os
import subprocess
import sys

import numpy as np
import pytest

import fastnet

# Subprocesses must import the same fastnet as this process (installed or in-place build),
# whatever their working directory.
PKG_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(fastnet.__file__)))


def run_fastnet(code, **env_vars):
    env = dict(os.environ, PYTHONPATH=PKG_PARENT, **env_vars)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         cwd=os.path.dirname(PKG_PARENT) or "/", check=False)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_cpu_features_reports_active_isa():
    feats = fastnet.config.cpu_features()
    assert feats["isa"] in ("generic", "avx2", "avx512")
    assert feats["l1d_cache"] > 0 and feats["l2_cache"] > 0
    if feats["hardware_isa"] == "avx512":
        assert feats["avx512f"] and feats["avx2"] and feats["fma"]


def test_set_isa_clamps_and_restores(isa):
    assert fastnet.config.get_isa() == isa
    assert fastnet.config.cpu_features()["isa"] == isa


def test_set_isa_rejects_unknown():
    with pytest.raises(ValueError, match="unknown level"):
        fastnet.config.set_isa("sse9")


@pytest.mark.parametrize("level", ["generic", "avx2"])
def test_env_var_lowers_isa(level):
    got = run_fastnet("import fastnet; print(fastnet.config.get_isa())", FASTNET_ISA=level)
    hw = fastnet.config.cpu_features()["hardware_isa"]
    order = ["generic", "avx2", "avx512"]
    assert got == order[min(order.index(level), order.index(hw))]


def test_threads_default_and_set():
    default = fastnet.config.get_num_threads()
    assert default >= 1
    try:
        fastnet.config.set_num_threads(1)
        assert fastnet.config.get_num_threads() == 1
    finally:
        fastnet.config.set_num_threads(0)
    assert fastnet.config.get_num_threads() == default


def test_threads_env_var():
    got = run_fastnet("import fastnet; print(fastnet.config.get_num_threads())",
                      FASTNET_NUM_THREADS="3")
    assert got == "3"


def test_set_num_threads_rejects_bad_values():
    with pytest.raises(ValueError):
        fastnet.config.set_num_threads(-2)
    with pytest.raises(TypeError):
        fastnet.config.set_num_threads(2.5)


# Allocates and frees 400 MiB three times and prints the resident set before and after.
_RSS_PROGRAM = """
import os, numpy as np
{prelude}
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
before = rss()
for _ in range(3):
    a = np.ones(100 * 2**20, dtype=np.float32)  # 400 MiB
    del a
print(before, rss())
"""


def _rss_growth_mib(prelude, **env):
    before, after = map(int, run_fastnet(_RSS_PROGRAM.format(prelude=prelude), **env).split())
    return (after - before) / 2**20


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux /proc")
def test_import_leaves_the_process_allocator_alone():
    baseline = _rss_growth_mib("")
    with_fastnet = _rss_growth_mib("import fastnet")
    assert baseline < 50, baseline
    assert with_fastnet < baseline + 50, (baseline, with_fastnet)


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux /proc")
def test_allocator_tuning_is_opt_in():
    import platform

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("allocator tuning applies to glibc only")
    # The documented cost of the opt-in: freed memory stays resident for reuse.
    assert _rss_growth_mib("import fastnet; assert fastnet.config.tune_allocator()") > 300
    assert _rss_growth_mib("import fastnet", FASTNET_TUNE_ALLOCATOR="1") > 300


def test_kernel_outputs_reuse_the_buffer_cache():
    fastnet.config.release_memory()
    x = np.random.default_rng(0).standard_normal((64, 32, 32, 16)).astype(np.float32)  # 4 MiB
    want = np.maximum(x, 0)
    del fastnet.ops.relu(fastnet.ops.convert_to_tensor(x))._value  # warm: one block cached
    stats0 = fastnet.config.memory_stats()
    for _ in range(3):
        y = fastnet.ops.relu(fastnet.ops.convert_to_tensor(x))
        np.testing.assert_array_equal(np.asarray(y), want)
        del y
    stats1 = fastnet.config.memory_stats()
    assert stats1["hits"] >= stats0["hits"] + 2
    assert stats1["cached_bytes"] >= x.nbytes
    assert fastnet.config.release_memory() >= x.nbytes
    assert fastnet.config.memory_stats()["cached_bytes"] == 0


def test_memory_limit_bounds_the_cache():
    big = np.ones((1 << 20,), np.float32)  # 4 MiB
    old = fastnet.config.memory_stats()["limit_bytes"]
    try:
        fastnet.config.set_memory_limit(0)
        assert fastnet.config.memory_stats()["cached_bytes"] == 0
        out = fastnet._C.empty_f32([1 << 20])
        out[:] = big
        del out
        assert fastnet.config.memory_stats()["cached_bytes"] == 0
        with pytest.raises(TypeError):
            fastnet.config.set_memory_limit(1.5)
        with pytest.raises(ValueError):
            fastnet.config.set_memory_limit(-1)
    finally:
        fastnet.config.set_memory_limit(old)


def test_pooled_arrays_are_ordinary_numpy_arrays():
    a = fastnet._C.empty_f32([512, 1024])  # 2 MiB: from the cache
    assert a.dtype == np.float32 and a.shape == (512, 1024) and a.flags.c_contiguous
    assert a.ctypes.data % 64 == 0
    a[:] = 3.0
    view = a[::2]
    del a  # the view keeps the block alive
    assert float(view.sum()) == 3.0 * 256 * 1024
    with pytest.raises(ValueError, match="negative"):
        fastnet._C.empty_f32([-1, 4])


def test_pooled_blocks_start_half_a_page_in():
    # numpy's large arrays start 16 bytes into a page; a kernel output starting a few cache
    # lines after its input's page offset 4K-aliases every store (memory.cpp: kStagger).
    fastnet.config.release_memory()
    blocks = [fastnet._C.empty_f32([256, 1024 + 64 * i]) for i in range(3)]  # fresh system blocks
    blocks.append(fastnet._C.empty_f32([256, 1024]))
    for b in blocks:
        assert b.ctypes.data % 4096 == 2048
    del blocks
    reused = fastnet._C.empty_f32([256, 1024])  # from the cache: the same offset
    assert reused.ctypes.data % 4096 == 2048
    reused[:] = 1.0
    assert fastnet.config.release_memory() > 0
