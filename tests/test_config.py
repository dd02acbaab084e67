import os
import subprocess
import sys

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


def test_allocator_tuning_can_be_disabled():
    import platform

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("allocator tuning applies to glibc only")
    assert run_fastnet("import fastnet; print(fastnet._C.allocator_tuned)") == "True"
    assert run_fastnet("import fastnet; print(fastnet._C.allocator_tuned)",
                       FASTNET_KEEP_MALLOC="1") == "False"
