"""fastnet on CPUs this machine is not: qemu-user emulates an AVX2-only Haswell
and a Nehalem without AVX, and a training run through every kernel family
(tools/isa_smoke.py) must neither die of SIGILL nor differ from the same ISA
level forced here.

Forcing a level natively cannot catch code of a higher level that runs anyway
(it did: every dispatcher built all three ISA tables, so the AVX-512 builder
ran on every CPU); only a CPU without the instructions can.

Tolerance: fastnet's own kernels give the same bits emulated and native at one
level; numpy picks its own SIMD path by cpuid (SSE on the emulated Nehalem,
AVX-512 here), so the native run is asked to match numpy's level too
(NPY_DISABLE_CPU_FEATURES, OPENBLAS_CORETYPE). Where numpy's names for its
levels differ on some machine, a residue of ~1e-5 relative remains from
numpy's float loops; the comparison allows rtol 1e-4.
"""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import fastnet

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMOKE = os.path.join(ROOT, "tools", "isa_smoke.py")
QEMU = shutil.which("qemu-x86_64")

# qemu CPU model -> (the fastnet level it supports, numpy features to switch off natively)
MODELS = {
    "Nehalem-v2": ("generic", "X86_V3 X86_V4 AVX512_ICL AVX512_SPR", "Nehalem"),
    "Haswell-v4": ("avx2", "X86_V4 AVX512_ICL AVX512_SPR", "Haswell"),
}

pytestmark = [
    pytest.mark.skipif(QEMU is None, reason="qemu-user not installed (apt-get install qemu-user)"),
    pytest.mark.skipif(os.uname().machine != "x86_64", reason="x86-64 ISA levels only"),
]


def _env(**extra):
    env = dict(os.environ)
    # The emulated interpreter must find fastnet and numpy exactly as this one does.
    pkg_parent = os.path.dirname(os.path.dirname(os.path.abspath(fastnet.__file__)))
    env["PYTHONPATH"] = os.pathsep.join([pkg_parent] + [p for p in sys.path if p])
    env.pop("FASTNET_ISA", None)
    env.update(extra)
    return env


def _run(cmd, env, timeout=600):
    # cwd: not the source tree, whose unbuilt fastnet/ would shadow the installed one.
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout,
                          cwd=os.path.dirname(SMOKE))
    err = "\n".join(line for line in proc.stderr.splitlines() if "TCG doesn't support" not in line)
    return proc.returncode, proc.stdout, err


def _native_levels():
    order = fastnet.config.ISA_LEVELS
    return order[: order.index(fastnet.config.cpu_features()["hardware_isa"]) + 1]


@pytest.mark.parametrize("model", sorted(MODELS))
def test_training_runs_on_a_cpu_without_the_instructions(model, tmp_path):
    level, npy_off, blas = MODELS[model]
    if level not in _native_levels():
        pytest.skip(f"this machine cannot run the {level} level natively to compare")
    emulated = tmp_path / "emulated.npz"
    rc, out, err = _run([QEMU, "-cpu", model, sys.executable, SMOKE, str(emulated)], _env())
    assert rc == 0, f"under qemu -cpu {model}: exit {rc}\n{out}\n{err[-3000:]}"
    assert f"isa={level}" in out

    native = tmp_path / "native.npz"
    env = _env(FASTNET_ISA=level, NPY_DISABLE_CPU_FEATURES=npy_off, OPENBLAS_CORETYPE=blas)
    rc, out, err = _run([sys.executable, SMOKE, str(native)], env)
    if rc != 0 and "NPY_DISABLE_CPU_FEATURES" in err:  # numpy names its levels differently
        rc, out, err = _run([sys.executable, SMOKE, str(native)], _env(FASTNET_ISA=level))
    assert rc == 0, f"native FASTNET_ISA={level}: exit {rc}\n{out}\n{err[-3000:]}"

    a, b = np.load(emulated), np.load(native)
    assert sorted(a.files) == sorted(b.files)
    for key in a.files:
        if key != "isa":
            np.testing.assert_allclose(a[key], b[key], rtol=1e-4, atol=1e-5, err_msg=key)


def test_asking_for_a_level_the_cpu_lacks_fails_at_import():
    rc, out, err = _run([QEMU, "-cpu", "Haswell-v4", sys.executable, "-c", "import fastnet"],
                        _env(FASTNET_ISA="avx512"), timeout=300)
    assert rc != 0
    assert "FASTNET_ISA='avx512'" in err and "supports only up to 'avx2'" in err


def test_unknown_level_fails_at_import():
    rc, out, err = _run([sys.executable, "-c", "import fastnet"], _env(FASTNET_ISA="bogus"))
    assert rc != 0
    assert "FASTNET_ISA='bogus'" in err and "generic, avx2, avx512" in err
