#!/usr/bin/env bash
# Sets up and builds the browser demo (web/, wasm/). Idempotent: run it again after pulling or after new models
# land in models/; it only redoes what is missing or out of date.
#
#   scripts/setup-web.sh            # system packages (if root and missing), ImGui sources, npm packages, build
#   scripts/setup-web.sh --no-apt   # never call apt-get (fail with a message if something is missing)
#   scripts/setup-web.sh --models DIR   # bundle the .aem models of DIR instead of models/
#
# Then serve it:  web/serve.mjs            (http://localhost:8080/, with COOP/COEP for threaded WASM)
#
# What it does:
#   1. apt-get install emscripten chromium node-acorn dpkg-dev (only what is missing; needs root)
#   2. the Dear ImGui 1.86 sources (.cpp) from Debian's source package into build/imgui-src (deb-src enabled)
#   3. npm ci in web/ (onnxruntime-web, playwright-core)
#   4. the native CLI and make_test_model (build/release), for test models and the ONNX exporter
#   5. the WASM app (wasm/build.sh -> build/wasm) and the site folder build/web/site (web/stage.mjs)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

APT=1
MODELS_DIR=""
while [ $# -gt 0 ]; do
  case "$1" in
    --no-apt) APT=0 ;;
    --models) MODELS_DIR="$2"; shift ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "setup-web: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

say() { printf '\033[1msetup-web:\033[0m %s\n' "$*"; }
die() { printf 'setup-web: error: %s\n' "$*" >&2; exit 1; }

SUDO=""
if [ "$(id -u)" != 0 ]; then command -v sudo >/dev/null && SUDO="sudo"; fi

# --- 1. system packages ---------------------------------------------------------------------------------------
need=()
command -v emcc >/dev/null || need+=(emscripten)
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -d /usr/share/nodejs/acorn ] || need+=(node-acorn)
command -v dpkg-source >/dev/null || need+=(dpkg-dev)
command -v node >/dev/null || need+=(nodejs)
if [ ${#need[@]} -gt 0 ]; then
  [ "$APT" = 1 ] || die "missing packages: ${need[*]} (apt-get install ${need[*]})"
  say "installing ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
command -v npm >/dev/null || die "npm not found (Debian: apt-get install npm, or use a Node that ships npm)"

# --- 2. Dear ImGui sources (Debian's libimgui-dev has only headers) -------------------------------------------
IMGUI_DIR="$ROOT/build/imgui-src"
if ! ls "$IMGUI_DIR"/imgui-*/imgui.cpp >/dev/null 2>&1; then
  if ! apt-get source --print-uris imgui >/dev/null 2>&1; then
    [ "$APT" = 1 ] || die "deb-src not enabled: needed for 'apt-get source imgui'"
    SRC=/etc/apt/sources.list.d/debian.sources
    if [ -f "$SRC" ] && grep -q '^Types: deb$' "$SRC"; then
      say "enabling deb-src in $SRC"
      $SUDO sed -i 's/^Types: deb$/Types: deb deb-src/' "$SRC"
    elif [ -f /etc/apt/sources.list ] && grep -q '^deb ' /etc/apt/sources.list; then
      say "enabling deb-src in /etc/apt/sources.list"
      grep '^deb ' /etc/apt/sources.list | sed 's/^deb /deb-src /' | $SUDO tee /etc/apt/sources.list.d/aecodec-deb-src.list >/dev/null
    else
      die "cannot enable deb-src automatically; add deb-src lines to your apt sources"
    fi
    $SUDO apt-get update -qq
  fi
  say "fetching the imgui source package into $IMGUI_DIR"
  mkdir -p "$IMGUI_DIR"
  (cd "$IMGUI_DIR" && apt-get source -qq imgui >/dev/null)
  ls "$IMGUI_DIR"/imgui-*/imgui.cpp >/dev/null 2>&1 || die "apt-get source imgui did not give imgui.cpp"
fi

# --- 3. npm packages ------------------------------------------------------------------------------------------
if [ ! -d web/node_modules/onnxruntime-web ] || [ ! -d web/node_modules/playwright-core ] ||
   [ web/package-lock.json -nt web/node_modules/.package-lock.json ]; then
  say "npm ci in web/"
  (cd web && npm ci --no-audit --no-fund --loglevel=error)
fi

# --- 4. native tools ------------------------------------------------------------------------------------------
if [ ! -f build/release/CMakeCache.txt ]; then
  say "configuring build/release"
  cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DAEC_BUILD_TRAINER=OFF >/dev/null
fi
say "building the native CLI and make_test_model (build/release)"
targets=(aecodec make_test_model)
grep -q 'aecodec-onnx' build/release/Makefile 2>/dev/null && targets+=(aecodec-onnx) || true
cmake --build build/release -j2 --target "${targets[@]}" >/dev/null

# --- 5. WASM app and site -------------------------------------------------------------------------------------
say "building the WASM app (build/wasm)"
wasm/build.sh
say "staging the site (build/web/site)"
if [ -n "$MODELS_DIR" ]; then
  node web/stage.mjs --models "$MODELS_DIR"
else
  node web/stage.mjs
fi
say "done. Serve it with: web/serve.mjs   (then open http://localhost:8080/)"
