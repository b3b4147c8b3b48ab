#!/usr/bin/env bash
# Builds the browser app with Debian's Emscripten: build/wasm/aecodec-{mt,st}.{js,wasm} (+ aecodec-mt.worker.js),
# and the page package's core, single-threaded and threaded (build/wasm/aecodec-core.{js,wasm} and
# aecodec-core-mt.{js,wasm,worker.js}, copied into packages/aecodec/dist).
#   wasm/build.sh [-j N]      (default -j2)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
JOBS=2
[ "${1:-}" = "-j" ] && JOBS="$2"
command -v emcmake >/dev/null || { echo "wasm/build.sh: emcmake not found (apt-get install emscripten)" >&2; exit 1; }
# Debian's emcc runs its JS optimizer with the system Node; acorn comes from Debian's node-acorn.
export NODE_PATH="/usr/share/nodejs${NODE_PATH:+:$NODE_PATH}"
unset EM_CACHE  # Debian ships a prebuilt, read-only system-library cache
IMGUI_DIR="$(ls -d "$ROOT"/build/imgui-src/imgui-*/ 2>/dev/null | head -n1)"
[ -f "${IMGUI_DIR}imgui.cpp" ] || { echo "wasm/build.sh: ImGui sources missing: run scripts/setup-web.sh" >&2; exit 1; }
if [ ! -f "$ROOT/build/wasm/CMakeCache.txt" ]; then
  emcmake cmake -S "$ROOT/wasm" -B "$ROOT/build/wasm" -DCMAKE_BUILD_TYPE=Release -DIMGUI_DIR="${IMGUI_DIR%/}" >/dev/null
fi
cmake --build "$ROOT/build/wasm" -j "$JOBS"
