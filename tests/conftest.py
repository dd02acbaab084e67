import os
import sys

import pytest

# The shared oracle lives beside the tests.
sys.path.insert(0, os.path.dirname(__file__))

import fastnet  # noqa: E402

HARDWARE_ISA = fastnet.config.cpu_features()["hardware_isa"]
ISA_LEVELS = [lvl for lvl in ("generic", "avx2", "avx512")
              if ("generic", "avx2", "avx512").index(lvl)
              <= ("generic", "avx2", "avx512").index(HARDWARE_ISA)]


@pytest.fixture(params=ISA_LEVELS)
def isa(request):
    """Runs a test once per ISA level this CPU supports, restoring the level after."""
    before = fastnet.config.get_isa()
    fastnet.config.set_isa(request.param)
    try:
        yield request.param
    finally:
        fastnet.config.set_isa(before)
