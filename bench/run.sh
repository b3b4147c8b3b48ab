#!/usr/bin/env bash
# The speed benchmark: the core (`aecodec bench`) against ONNX Runtime native (bench/ort_native.mjs) on the same
# model, image size and thread counts, with the background training paused while it measures.
#   bench/run.sh [MODEL] [WIDTHxHEIGHT]     (default: the default model, 768x512)
# Prints the core's figures (ms, Mpx/s, GFLOP/s, peak memory) and the ratio core / ONNX Runtime per network.
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-default}
size=${2:-768x512}
A=build/release/native/aecodec
X=build/release/native/onnx/aecodec-onnx
out=build/bench
mkdir -p "$out"
path=$("$A" info --json "$model" | sed -n 's/^  "path": "\(.*\)",$/\1/p')
name=$("$A" info --json "$model" | sed -n 's/^  "name": "\(.*\)",$/\1/p')
[ -f "$path" ] || path=$(ls models/"$name".aem 2>/dev/null || true)
"$X" "${path:-$model}" "$out" >/dev/null
scripts/train-forever.sh pause 2>/dev/null || true
trap 'scripts/train-forever.sh resume 2>/dev/null || true' EXIT
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
for t in 1 $(nproc); do
  "$A" -t "$t" bench -m "$model" --size "$size" --json "$out/core-$t.json"
  ort=$(node bench/ort_native.mjs "$out/$name.encoder.onnx" "$out/$name.decoder.onnx" "${size%x*}" "${size#*x}" "$t")
  /usr/bin/python3 - "$out/core-$t.json" "$ort" <<'PY'
import json, sys
core, ort = json.load(open(sys.argv[1])), json.loads(sys.argv[2])
print(f"  ONNX Runtime     encoder {ort['encoder_ms']:.1f} ms, decoder {ort['decoder_ms']:.1f} ms ({ort['threads']} thread(s))")
print(f"  core / ORT       encoder {core['encoder_ms'] / ort['encoder_ms']:.2f}, decoder {core['decoder_ms'] / ort['decoder_ms']:.2f}"
      "  (below 1: the core is faster)")
PY
done
