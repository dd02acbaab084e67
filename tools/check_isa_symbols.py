#!/usr/bin/env python3
"""Checks that wide-vector code lives only in the ISA-specific namespaces.

A wheel built on an AVX-512 machine must run on a CPU without it. Sources
named *_avx2.cpp / *_avx512.cpp are compiled with -mavx2 / -mavx512f; if a
function compiled there escapes its namespace (an inline function or template
shared with baseline code, merged by the linker as a COMDAT), baseline code
would call AVX-512 instructions and die with SIGILL on an older CPU.

Rule checked on the disassembly of the built extension: a function using
zmm registers or opmask registers must have "avx512" in its demangled name;
one using ymm registers must have "avx2" or "avx512" in it.

    python tools/check_isa_symbols.py fastnet/_C*.so
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

FUNC_RE = re.compile(r"^[0-9a-f]+ <(.+)>:$")
ZMM_RE = re.compile(r"%zmm|%k[1-7]\b")
YMM_RE = re.compile(r"%ymm")


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
        if ZMM_RE.search(line) and "avx512" not in func:
            bad.append((func, "AVX-512", line.strip()))
            flagged.add(func)
        elif YMM_RE.search(line) and "avx2" not in func and "avx512" not in func:
            bad.append((func, "AVX2", line.strip()))
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
