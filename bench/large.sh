#!/usr/bin/env bash
# Cost against image size: peak resident memory (/usr/bin/time %M) and wall time of `aecodec encode` and
# `aecodec decode` on camera-sized JPEGs (the synthetic image of tests/support/test_images.h at 4:3, JPEG
# quality 92), default model (MODEL=NAME picks another), 2 threads, the background training paused. Prints a
# markdown table.
#   bench/large.sh [MEGAPIXELS...]        (default: 1 4 12 24 50)
#   AECODEC=path/to/aecodec bench/large.sh ...   (another build, e.g. an older one to compare with)
set -euo pipefail
cd "$(dirname "$0")/.."
A=${AECODEC:-build/release/native/aecodec}
[ -x "$A" ] || { echo "bench/large: no $A; build first" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench/large: needs /usr/bin/time (Debian package 'time')" >&2; exit 1; }
command -v cjpeg >/dev/null || { echo "bench/large: needs cjpeg (libjpeg-turbo-progs)" >&2; exit 1; }
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1 4 12 24 50)
threads=${THREADS:-2}
cache=${AEC_BENCH_CACHE:-/tmp/aecodec-large-images}
mkdir -p "$cache"
tmp=$(mktemp -d)
source bench/pause-training.sh
trap 'rm -rf "$tmp"; kill $repause 2>/dev/null || true; wait $repause 2>/dev/null || true; sleep 0.5; scripts/train-forever.sh resume 2>/dev/null || true' EXIT
c++ -O2 -std=c++17 -Ishared -Itests/support bench/large_image.cpp -o "$tmp/large_image"

# WxH for a 4:3 image of about N megapixels (4000x3000 for 12).
dims() {
  case $1 in
    12) echo "4000 3000" ;;
    *) awk -v n="$1" 'BEGIN { h = int(sqrt(n * 1e6 * 3 / 4) / 8 + 0.5) * 8; w = int(h * 4 / 3 / 8 + 0.5) * 8; print w, h }' ;;
  esac
}

echo "$("$A" --version 2>/dev/null | head -1 || echo aecodec); $(basename "$A") at $threads threads;" \
  "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo
echo "| MP | size | encode s | encode CPU s | encode peak MB | decode s | decode CPU s | decode peak MB | bpp |"
echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|"
for mp in "${sizes[@]}"; do
  read -r w h < <(dims "$mp")
  img="$cache/synthetic-${w}x${h}.jpg"
  if [ ! -s "$img" ]; then
    "$tmp/large_image" "$w" "$h" | cjpeg -quality 92 > "$img.tmp" && mv "$img.tmp" "$img"
  fi
  row="| $mp | ${w}x${h} |"
  # CPU time (user + system) says more than wall time on a shared machine.
  if /usr/bin/time -f "%e %M %U %S" -o "$tmp/t" "$A" -t "$threads" -q encode -m "${MODEL:-default}" "$img" -o "$tmp/x.aec" 2>"$tmp/err"; then
    read -r s kb u k < "$tmp/t"
    row+=" $s | $(awk -v u="$u" -v k="$k" 'BEGIN { print u + k }') | $((kb / 1024)) |"
  else
    row+=" failed: $(tail -1 "$tmp/err") | - | - |"
  fi
  if [ -s "$tmp/x.aec" ] &&
    /usr/bin/time -f "%e %M %U %S" -o "$tmp/t" "$A" -t "$threads" -q decode "$tmp/x.aec" -o "$tmp/x.png" 2>"$tmp/err"; then
    read -r s kb u k < "$tmp/t"
    bpp=$(awk -v b="$(stat -c %s "$tmp/x.aec")" -v p="$((w * h))" 'BEGIN { printf "%.4f", b * 8 / p }')
    row+=" $s | $(awk -v u="$u" -v k="$k" 'BEGIN { print u + k }') | $((kb / 1024)) | $bpp |"
  else
    row+=" failed | - | - | - |"
  fi
  echo "$row"
  rm -f "$tmp/x.aec" "$tmp/x.png"
done
