#!/usr/bin/env bash
# Builds fastnet with AddressSanitizer + UndefinedBehaviorSanitizer in a scratch copy (the
# normal in-place build is untouched) and runs the kernel tests under it. The `isa` fixture
# runs each kernel test under every ISA level in the one process.
#   tools/sanitize.sh [extra pytest args]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${FASTNET_SAN_DIR:-/tmp/fastnet-sanitize}
rm -rf "$WORK"
mkdir -p "$WORK"
cp -r "$ROOT"/setup.py "$ROOT"/pyproject.toml "$ROOT"/README.md "$ROOT"/csrc "$ROOT"/fastnet \
      "$ROOT"/tests "$ROOT"/tools "$WORK"/
find "$WORK" -name '*.so' -delete
cd "$WORK"
FASTNET_SANITIZE=address,undefined python setup.py -q build_ext --inplace >/dev/null
ASAN_LIB=$(gcc -print-file-name=libasan.so)
UBSAN_LIB=$(gcc -print-file-name=libubsan.so)
# Python's own allocations are not ours to report: no leak checking; any real error aborts.
export LD_PRELOAD="$ASAN_LIB $UBSAN_LIB"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:halt_on_error=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export PYTHONPATH="$WORK"
python -m pytest -q -p no:cacheprovider \
  tests/test_gemm.py tests/test_conv.py tests/test_pool.py tests/test_norm.py tests/test_rnn.py \
  tests/test_elementwise.py tests/test_optim.py tests/test_threading.py tests/fuzz \
  -k "not keras" "$@"
