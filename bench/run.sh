#!/usr/bin/env bash
# The speed benchmark: the core (`aecodec bench`) against ONNX Runtime native (bench/ort_native.mjs) on the same
# model, image size and thread counts, then the WASM core against ONNX Runtime Web in headless Chromium
# (bench/browser.mjs), with the background training paused while it measures.
#   bench/run.sh [--native-only] [--image FILE] [MODEL] [WIDTHxHEIGHT]     (default: the default model, 768x512)
# Prints the core's figures (ms, Mpx/s, GFLOP/s, peak memory, where the whole encode and decode spend their time
# stage by stage) and the ratio core / ONNX Runtime per network, then the whole encode and decode against both
# runtimes' network times, then the browser table (core and ORT Web, 1 and nproc threads) with the ratio
# core / ORT Web. --image codes that photo (natively and in the browser; its size replaces WIDTHxHEIGHT) instead
# of synthetic noise and the bundled sample: the entropy stages depend on the content, the networks do not.
set -euo pipefail
cd "$(dirname "$0")/.."
browser=1
image=
while [ $# -gt 0 ]; do
  case "$1" in
    --native-only) browser=0; shift ;;
    --image) image=$2; shift 2 ;;
    *) break ;;
  esac
done
model=${1:-default}
size=${2:-768x512}
A=build/release/native/aecodec
[ "$browser" = 0 ] || node bench/browser.mjs --check  # fails now, with what is missing, rather than after the native part
X=build/release/native/onnx/aecodec-onnx
out=build/bench
mkdir -p "$out"
path=$("$A" info --json "$model" | sed -n 's/^  "path": "\(.*\)",$/\1/p')
name=$("$A" info --json "$model" | sed -n 's/^  "name": "\(.*\)",$/\1/p')
[ -f "$path" ] || path=$(ls models/"$name".aem 2>/dev/null || true)
"$X" "${path:-$model}" "$out" >/dev/null
source bench/pause-training.sh
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
source=(--size "$size")
[ -z "$image" ] || source=(--image "$image")
for t in 1 $(nproc); do
  "$A" -t "$t" bench -m "$model" "${source[@]}" --json "$out/core-$t.json"
  wh=$(/usr/bin/python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); print(j["width"], j["height"])' "$out/core-$t.json")
  ort=$(node bench/ort_native.mjs "$out/$name.encoder.onnx" "$out/$name.decoder.onnx" ${wh% *} ${wh#* } "$t")
  /usr/bin/python3 - "$out/core-$t.json" "$ort" <<'PY'
import json, sys
core, ort = json.load(open(sys.argv[1])), json.loads(sys.argv[2])
print(f"  ONNX Runtime     encoder {ort['encoder_ms']:.1f} ms, decoder {ort['decoder_ms']:.1f} ms ({ort['threads']} thread(s))")
print(f"  core / ORT       encoder {core['encoder_ms'] / ort['encoder_ms']:.2f}, decoder {core['decoder_ms'] / ort['decoder_ms']:.2f}"
      "  (below 1: the core is faster)")
# The whole file against the networks, and what is around them: the stages other than the networks, largest first.
# "The network" is g_a or g_s; "all nets" adds the hyper and context networks (the stages aecodec bench marks).
for kind, net, whole, stages in (("encode", "encoder", "encode_file_ms", "encode_stages_ms"),
                                 ("decode", "decoder", "decode_file_ms", "decode_stages_ms")):
    w = core[whole]
    ratio = core.get(kind + "_over_network", w / core[net + "_ms"])  # paired runs' median (aecodec bench)
    print(f"  whole {kind}     {w:7.1f} ms = {ratio:.2f}x the core's {net} network, "
          f"{w / core[net + '_nets_ms']:.2f}x all its nets ({core[net + '_nets_ms']:.1f} ms), "
          f"{w / ort[net + '_ms']:.2f}x ONNX Runtime's {net}")
    nets = set(core.get(kind + "_network_stages", []))
    rest = sorted(((ms, n) for n, ms in core.get(stages, {}).items() if n not in nets), reverse=True)
    if rest:
        print("    around the nets: " + ", ".join(f"{n} {ms:.1f}" for ms, n in rest if ms >= 0.05) +
              f" (ms; {sum(ms for ms, _ in rest):.1f} in all)")
PY
done
if [ "$browser" = 1 ]; then
  if [ -n "$image" ]; then  # the same photo at its own size
    node bench/browser.mjs "$name" "${wh% *}x${wh#* }" --image "$image" --threads "1,$(nproc)" --json "$out/browser.json" --no-pause
  else
    node bench/browser.mjs "$name" "$size" --threads "1,$(nproc)" --json "$out/browser.json" --no-pause
  fi
fi
