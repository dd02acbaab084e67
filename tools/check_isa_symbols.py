#!/usr/bin/env python3
"""Checks that wide-vector code lives only in the ISA-specific namespaces.

A wheel built on an AVX-512 machine must run on a CPU without it. Sources
named *_avx2.cpp / *_avx512.cpp are compiled with -mavx2 / -mavx512f; if a
function compiled there escapes its namespace (an inline function or template
shared with baseline code, merged by the linker as a COMDAT), baseline code
would call AVX-512 instructions and die with SIGILL on an older CPU.

Rules checked on the disassembly of the built extension:
- a function using zmm or opmask registers must have "avx512" in its
  demangled name;
- one using any VEX/EVEX-encoded instruction (every AVX mnemonic starts with
  "v": ``vmovq %rdx,%xmm1`` is AVX even on xmm registers) must have "avx2" or
  "avx512" in it;
- static initializers run at load time on every CPU, so they may use none.

This cannot see *when* a function named avx512 is called: the dispatchers
must call a level's code only after cpuid selected it (cpu::isa_table), and
tests/test_isa_qemu.py runs the kernels on emulated CPUs without the
instructions to prove it.

    python tools/check_isa_symbols.py fastnet/_C*.so
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

FUNC_RE = re.compile(r"^[0-9a-f]+ <(.+)>:$")
ZMM_RE = re.compile(r"%zmm|%k[1-7]\b")
# Any AVX mnemonic (VEX/EVEX encoded), any ymm operand.
VEX_RE = re.compile(r"^\s*[0-9a-f]+:\s+v[a-z0-9]+\b|%ymm")
STATIC_INIT = ("_GLOBAL__sub_I_", "__static_initialization", "__cxx_global_var_init")


def violations(path):
    objdump = shutil.which("objdump")
    if objdump is None:
        raise RuntimeError("objdump not found (install binutils)")
    out = subprocess.run([objdump, "-d", "-C", "--no-show-raw-insn", path], check=True,
                         capture_output=True, text=True).stdout
    bad = []
    func = None
    flagged = set()
    for line in out.splitlines():
        m = FUNC_RE.match(line)
        if m:
            func = m.group(1)
            continue
        if func is None or func in flagged:
            continue
        wide = ZMM_RE.search(line) is not None
        vex = wide or VEX_RE.search(line) is not None
        if vex and func.startswith(STATIC_INIT):
            bad.append((func, "AVX in a static initializer", line.strip()))
            flagged.add(func)
        elif wide and "avx512" not in func:
            bad.append((func, "AVX-512", line.strip()))
            flagged.add(func)
        elif vex and "avx2" not in func and "avx512" not in func:
            bad.append((func, "AVX", line.strip()))
            flagged.add(func)
    return bad


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    status = 0
    for path in argv[1:]:
        for func, isa, line in violations(path):
            print(f"{path}: {isa} instruction outside an ISA namespace in {func}: {line}")
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
