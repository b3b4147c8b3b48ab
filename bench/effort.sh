#!/usr/bin/env bash
# Encoder effort on one photo: for each effort, the file size, bpp and PSNR (decoded with the unchanged decoder)
# and the encode time at 1 and at every thread, with the background training paused. Prints a markdown table.
#   bench/effort.sh PHOTO [MODEL] [EFFORTS]      (default: the default model, efforts 0-9)
set -euo pipefail
cd "$(dirname "$0")/.."
photo=${1:?usage: bench/effort.sh PHOTO [MODEL] [EFFORTS]}
model=${2:-default}
efforts=${3:-0,1,2,3,4,5,6,7,8,9}
A=build/release/native/aecodec
[ -x "$A" ] || { echo "bench/effort: no $A; build first" >&2; exit 1; }
source bench/pause-training.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; kill $repause 2>/dev/null || true; wait $repause 2>/dev/null || true; sleep 0.5; scripts/train-forever.sh resume 2>/dev/null || true' EXIT
n=$(nproc)
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $n cores; $(basename "$photo"), model $model"
echo
echo "| effort | bytes | bpp | PSNR (dB) | encode s, 1 thread | encode s, $n threads |"
echo "|---:|---:|---:|---:|---:|---:|"
for e in ${efforts//,/ }; do
  ms=()
  for t in 1 "$n"; do
    line=$("$A" -t "$t" encode "$photo" -o "$tmp/e.aec" -m "$model" --effort "$e" 2>/dev/null)
    ms+=("$(sed -n 's/.*encode \([0-9.]*\) ms.*/\1/p' <<<"$line")")
  done
  bytes=$(stat -c %s "$tmp/e.aec")
  dec=$("$A" decode "$tmp/e.aec" -o "$tmp/e.png" --reference "$photo")
  bpp=$(sed -n 's/.*, \([0-9.]*\) bpp.*/\1/p' <<<"$dec")
  psnr=$(sed -n 's/.*PSNR \([0-9.]*\) dB.*/\1/p' <<<"$dec")
  awk -v e="$e" -v b="$bytes" -v r="$bpp" -v p="$psnr" -v a="${ms[0]}" -v c="${ms[1]}" \
    'BEGIN { printf "| %s | %s | %s | %s | %.1f | %.1f |\n", e, b, r, p, a / 1000, c / 1000 }'
done
