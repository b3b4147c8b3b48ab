#!/usr/bin/env bash
# One entry point for a fresh Debian 12 machine: installs what aecodec needs (Debian packages and npm only,
# idempotently), builds, then runs what was asked:
#   scripts/setup.sh demo   the main job: compress the bundled sample with the bundled model, then serve the demo
#   scripts/setup.sh test   the whole test suite (what .ci/run calls)
#   scripts/setup.sh build  install and build only
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
what=${1:-build}
jobs=$(nproc)

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# Why each package is here: README.md, "Dependencies".
APT_PACKAGES=(
  build-essential cmake pkg-config git python3 python3-numpy
  libtorch-dev libgloo-dev libopenblas0-openmp libtcmalloc-minimal4 libgoogle-perftools-dev
  libstb-dev zlib1g-dev liblcms2-dev catch2 libcli11-dev nlohmann-json3-dev libonnx-dev libprotobuf-dev
  libjpeg-turbo-progs webp libavif-bin
  clang libclang-rt-14-dev
)

install_packages() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  command -v node >/dev/null || missing+=(nodejs)
  command -v npm >/dev/null || missing+=(npm)  # only where no npm exists (a machine's own Node may bring it)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
}

build_native() {
  cmake --preset release >/dev/null
  cmake --build --preset release -j "$jobs"
}

install_npm() {  # ONNX Runtime for the parity tests; --ignore-scripts: its install script downloads (offline here)
  [ -d tests/onnx/node_modules/onnxruntime-node ] || (cd tests/onnx && npm install --ignore-scripts --no-audit --no-fund)
}

install_packages
install_npm
build_native
# The browser demo: Emscripten, ImGui sources, npm packages, the WASM build and the site (idempotent).
bash scripts/setup-web.sh

case "$what" in
  build) ;;
  demo)
    sample=web/assets/sample.png
    [ -f "$sample" ] || sample=tests/data/sample.png
    build/release/native/aecodec models
    build/release/native/aecodec encode "$sample" -o build/sample.aec
    build/release/native/aecodec decode build/sample.aec -o build/sample.decoded.png --reference "$sample"
    exec node web/serve.mjs "${@:2}"
    ;;
  test)
    bash scripts/run-tests.sh
    ;;
  *)
    echo "usage: scripts/setup.sh [build|demo|test]" >&2
    exit 2
    ;;
esac
