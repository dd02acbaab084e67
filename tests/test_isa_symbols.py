"""A wheel built here must run on a CPU without AVX-512 (see tools/check_isa_symbols.py)."""

import importlib.util
import os
import shutil
import sys

import pytest

import fastnet

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))


@pytest.mark.skipif(shutil.which("objdump") is None, reason="objdump (binutils) not installed")
def test_wide_vector_code_only_in_isa_namespaces():
    from check_isa_symbols import violations

    so = importlib.util.find_spec("fastnet._C").origin
    bad = violations(so)
    assert not bad, "\n".join(f"{isa} in {func}: {line}" for func, isa, line in bad[:20])


def test_generic_level_runs():
    # The portable path is selectable and reported.
    before = fastnet.config.get_isa()
    try:
        assert fastnet.config.set_isa("generic") == "generic"
        assert fastnet.config.cpu_features()["isa"] == "generic"
    finally:
        fastnet.config.set_isa(before)
