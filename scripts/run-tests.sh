#!/usr/bin/env bash
# The whole test suite, after scripts/setup.sh has installed and built: native Catch2 + CLI tests (CTest),
# the trainer's tests, the core's tests again under ASan + UBSan, and the browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
status=0

echo "== native tests (release)"
ctest --preset release -j "$jobs" || status=1

echo "== core tests under AddressSanitizer + UndefinedBehaviorSanitizer"
cmake --preset debug-asan >/dev/null
cmake --build --preset debug-asan -j "$jobs"
ctest --preset debug-asan -j "$jobs" || status=1

echo "== fuzz targets, a short run each (long runs: fuzz/run.sh 3600)"
bash fuzz/run.sh "${AEC_FUZZ_SECONDS:-15}" || status=1

if [ -x tests/web/run.sh ]; then
  echo "== browser tests"
  bash tests/web/run.sh || status=1
fi
exit $status
