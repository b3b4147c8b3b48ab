#!/usr/bin/env bash
# Browser tests of the demo: builds what is needed, stages a site with the random-weight test models (so the
# results do not depend on which trained models are installed), serves it on a free localhost port, runs
# `node --test tests/web/` in headless Chromium (playwright-core), and stops the server.
#   tests/web/run.sh [--no-build] [node --test options...]
# Screenshots and logs: tests/out/web/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
BUILD=1
if [ "${1:-}" = "--no-build" ]; then BUILD=0; shift; fi

if [ "$BUILD" = 1 ]; then
  [ -d web/node_modules/playwright-core ] && [ -d web/node_modules/onnxruntime-web ] || (cd web && npm ci --no-audit --no-fund --loglevel=error)
  [ -f build/release/CMakeCache.txt ] || cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DAEC_BUILD_TRAINER=OFF >/dev/null
  targets=(aecodec make_test_model)
  grep -q 'aecodec-onnx' build/release/Makefile 2>/dev/null && targets+=(aecodec-onnx) || true
  cmake --build build/release -j2 --target "${targets[@]}" >/dev/null
  wasm/build.sh
fi
SITE="$ROOT/build/web/test-site"
node web/stage.mjs --test-models --out "$SITE"

mkdir -p tests/out/web
LOG="$ROOT/tests/out/web/server.log"
node web/serve.mjs --port 0 --root "$SITE" >"$LOG" 2>&1 &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  grep -q 'http://' "$LOG" 2>/dev/null && break
  kill -0 "$SERVER" 2>/dev/null || { cat "$LOG" >&2; exit 1; }
  sleep 0.1
done
PORT="$(sed -n 's|.*http://[^:]*:\([0-9]*\)/.*|\1|p' "$LOG" | head -n1)"
[ -n "$PORT" ] || { echo "run.sh: the server did not start" >&2; cat "$LOG" >&2; exit 1; }
export AEC_WEB_URL="http://127.0.0.1:$PORT/" AEC_WEB_SITE="$SITE"
echo "run.sh: serving $SITE at $AEC_WEB_URL"
node --test "$@" tests/web/
