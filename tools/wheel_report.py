"""Print what a user pays for a fastnet wheel: its size, its platform tag, the newest glibc /
libstdc++ symbol versions its extensions need, and ``import fastnet`` time (and numpy's share).

    python tools/wheel_report.py dist/fastnet_cpu-*.whl

Import time is measured with ``python -X importtime`` in a fresh interpreter, run from a
temporary directory so a source checkout cannot shadow the installed package; it reports the
installed fastnet (install the wheel first to measure the wheel itself). Median of 5 runs.
"""

import re
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

VERSIONED = re.compile(rb"(GLIBC|GLIBCXX|CXXABI)_([0-9]+(?:\.[0-9]+)*)\x00")


def newest_symbol_versions(data):
    """Newest version per ELF symbol-version namespace named in an extension's bytes."""
    newest = {}
    for name, ver in VERSIONED.findall(data):
        key = name.decode()
        parts = tuple(int(p) for p in ver.decode().split("."))
        if parts > newest.get(key, ()):
            newest[key] = parts
    return {k: ".".join(map(str, v)) for k, v in sorted(newest.items())}


def import_times(runs=5):
    """(fastnet total, numpy total) import time in ms, medians over fresh interpreters."""
    fastnet_ms, numpy_ms = [], []
    with tempfile.TemporaryDirectory() as cwd:
        for _ in range(runs):
            proc = subprocess.run([sys.executable, "-X", "importtime", "-c", "import fastnet"],
                                  cwd=cwd, capture_output=True, text=True)
            if proc.returncode != 0:
                return None, None
            err = proc.stderr
            cumulative = {}
            for line in err.splitlines():
                m = re.match(r"import time:\s+\d+ \|\s+(\d+) \|( *)(\S+)", line)
                # fastnet at top level; numpy wherever it is first imported (inside fastnet)
                if m and m.group(3) in ("fastnet", "numpy") and m.group(3) not in cumulative:
                    cumulative[m.group(3)] = int(m.group(1)) / 1000.0
            fastnet_ms.append(cumulative.get("fastnet", float("nan")))
            numpy_ms.append(cumulative.get("numpy", 0.0))
    return statistics.median(fastnet_ms), statistics.median(numpy_ms)


def main(argv):
    if len(argv) != 2:
        raise SystemExit(__doc__)
    wheel = Path(argv[1])
    if not wheel.is_file():
        raise SystemExit(f"wheel_report: no such wheel: {wheel}")
    print(f"wheel: {wheel.name}")
    print(f"  size: {wheel.stat().st_size / 1e6:.2f} MB")
    tag = wheel.stem.split("-")[-1]
    print(f"  platform tag: {tag}")
    with zipfile.ZipFile(wheel) as zf:
        for name in sorted(n for n in zf.namelist() if n.endswith(".so") or ".so." in n):
            info = zf.getinfo(name)
            versions = newest_symbol_versions(zf.read(name))
            shown = ", ".join(f"{k} {v}" for k, v in versions.items()) or "none"
            print(f"  {name}: {info.file_size / 1e6:.2f} MB, needs {shown}")
    total, numpy_part = import_times()
    if total is None:
        print("  import fastnet: not measured (fastnet is not installed in this Python)")
        return
    numpy_note = f", of which numpy {numpy_part:.0f} ms" if numpy_part else ""
    print(f"  import fastnet: {total:.0f} ms (installed package{numpy_note})")


if __name__ == "__main__":
    main(sys.argv)
