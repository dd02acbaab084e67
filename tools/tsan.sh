#!/usr/bin/env bash
# Builds fastnet with ThreadSanitizer in a scratch copy (the normal in-place build is
# untouched) and runs the threaded-kernel tests on several threads under it: any data race
# between the pool's workers (or a worker and the caller) aborts the run with TSan's report.
# Too slow for every CI run (TSan costs 5-15x); run it after changing csrc/cpu/threads.cpp
# or a kernel's split.
#   tools/tsan.sh [extra pytest args]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${FASTNET_TSAN_DIR:-/tmp/fastnet-tsan}
rm -rf "$WORK"
mkdir -p "$WORK"
cp -r "$ROOT"/setup.py "$ROOT"/pyproject.toml "$ROOT"/README.md "$ROOT"/csrc "$ROOT"/fastnet \
      "$ROOT"/tests "$ROOT"/tools "$WORK"/
find "$WORK" -name '*.so' -delete
cd "$WORK"
FASTNET_SANITIZE=thread python setup.py -q build_ext --inplace >/dev/null
# Python is not built with TSan: only accesses made by fastnet's instrumented code are
# checked, which is what the pool and the kernels' splits are. halt_on_error: a race fails.
export LD_PRELOAD="$(gcc -print-file-name=libtsan.so)"
export TSAN_OPTIONS="halt_on_error=1:report_signal_unsafe=0:second_deadlock_stack=1"
export PYTHONPATH="$WORK"
export FASTNET_NUM_THREADS=${FASTNET_NUM_THREADS:-4}
python -m pytest -q -p no:cacheprovider \
  tests/test_gemm.py tests/test_conv.py tests/test_pool.py tests/test_norm.py tests/test_rnn.py \
  tests/test_elementwise.py tests/test_optim.py tests/test_threading.py tests/test_determinism.py \
  -k "not keras and not qemu" "$@"
