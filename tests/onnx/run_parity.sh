#!/usr/bin/env bash
# ONNX parity: exports models with aecodec-onnx, runs them with ONNX Runtime (parity.mjs) and compares with the
# core (aec_core_forward). Covers every random-model architecture at two image sizes (the graphs' height and
# width are symbolic) and every models/*.aem (or $AEC_MODELS_DIR/*.aem).
#   run_parity.sh AECODEC_ONNX AEC_CORE_FORWARD MAKE_TEST_MODEL WORKDIR
# Exit: 0 all within tolerance, 1 a failure, 77 (CTest's skip) when node or node_modules is missing.
set -euo pipefail
[ $# -eq 4 ] || { echo "usage: run_parity.sh AECODEC_ONNX AEC_CORE_FORWARD MAKE_TEST_MODEL WORKDIR" >&2; exit 2; }
exporter=$1 forward=$2 make_model=$3 work=$4
here=$(cd "$(dirname "$0")" && pwd)
models_dir=${AEC_MODELS_DIR:-"$here/../../models"}  # overridable, to check other trained models
rm -rf "$work" && mkdir -p "$work"

# The exporter rejects bad input with a message and a non-zero status, and writes nothing.
expect_fail() {
  if "$exporter" "$@" >"$work/err.out" 2>&1; then echo "FAIL: aecodec-onnx $* succeeded" >&2; exit 1; fi
  grep -q . "$work/err.out" || { echo "FAIL: aecodec-onnx $* failed silently" >&2; exit 1; }
}
expect_fail
expect_fail "$work/missing.aem" "$work/bad"
head -c 100 /dev/urandom >"$work/garbage.aem"
expect_fail "$work/garbage.aem" "$work/bad"
[ ! -e "$work/bad" ] || [ -z "$(ls -A "$work/bad")" ] || { echo "FAIL: files written for a bad model" >&2; exit 1; }

if ! command -v node >/dev/null || [ ! -d "$here/node_modules/onnxruntime-node" ]; then
  echo "skipped: needs node and 'npm install --ignore-scripts' in $here"
  exit 77
fi

failures=0
# check LABEL MODEL.aem WIDTH HEIGHT...: export once, compare at each size (fixed-size models use their own).
check() {
  local dir="$work/$1" model=$2
  shift 2
  mkdir -p "$dir/onnx"
  if ! "$exporter" "$model" "$dir/onnx"; then failures=$((failures + 1)); return; fi
  local enc dec
  enc=$(ls "$dir"/onnx/*.encoder.onnx) dec=$(ls "$dir"/onnx/*.decoder.onnx)
  while [ $# -ge 2 ]; do
    mkdir -p "$dir/$1x$2"
    if ! "$forward" "$model" "$1" "$2" "$dir/$1x$2" ||
      ! node "$here/parity.mjs" "$enc" "$dec" "$dir/$1x$2"; then
      failures=$((failures + 1))
    fi
    shift 2
  done
}

for spec in "factorized 2" "factorized 4" "conv 2" "conv 3" "vae 2" "vae 3" "hyperprior 2" "hyperprior 4"; do
  read -r arch stages <<<"$spec"
  "$make_model" "$work/$arch-s$stages.aem" "$arch" "test-$arch-s$stages" "$stages"
  check "random-$arch-s$stages" "$work/$arch-s$stages.aem" 64 48 48 80
done
"$make_model" "$work/fc.aem" fc test-fc
check random-fc "$work/fc.aem" 0 0  # fixed 8x8

# Trained models, at about 256x192 (aec_core_forward rounds 0 0 up to the model's stride).
shopt -s nullglob
for model in "$models_dir"/*.aem; do
  check "models-$(basename "$model" .aem)" "$model" 0 0
done

if [ "$failures" -ne 0 ]; then
  echo "onnx parity: $failures failure(s)" >&2
  exit 1
fi
echo "onnx parity: all within tolerance"
