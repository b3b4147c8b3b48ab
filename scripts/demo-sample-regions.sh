#!/usr/bin/env bash
# Where on the demo's bundled sample the codec wins or loses against JPEG and WebP of the same size: encodes
# web/assets/sample.png with a model (default: models/DEFAULT), codes it with cjpeg (4:2:0) and cwebp at the
# highest quality whose file is no larger than the .aec, and measures all three over the whole picture, the
# landscape above the test card's rows, and the test card (stripes and a checkerboard, lower right).
#   scripts/demo-sample-regions.sh [MODEL]
set -euo pipefail
cd "$(dirname "$0")/.."
A=$PWD/build/release/native/aecodec
sample=$PWD/web/assets/sample.png
model=${1:-default}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
"$A" -q encode "$sample" -m "$model" -o s.aec
"$A" -q decode s.aec -o aec.png
budget=$(stat -c %s s.aec)
# The highest quality (1-100) whose file fits the budget, by bisection (size grows with quality).
fit() {  # fit COMMAND-WITH-Q: prints the quality
  eval "${1//Q/1}" >/dev/null || { echo "failed: ${1//Q/1}" >&2; return 1; }
  local lo=1 hi=100 mid
  while [ $lo -lt $hi ]; do
    mid=$(((lo + hi + 1) / 2))
    if [ "$(eval "${1//Q/$mid}" | wc -c)" -le "$budget" ]; then lo=$mid; else hi=$((mid - 1)); fi
  done
  echo $lo
}
"$A" compare "$sample" aec.png >/dev/null  # fails early on a broken build
python3 - "$sample" <<'PY' >s.ppm
import struct, sys, zlib
# PNG (8-bit RGB, as make-sample.mjs writes it: filter 0 rows) -> binary PPM for cjpeg
b = open(sys.argv[1], "rb").read(); i = 8; idat = b""
while i < len(b):
    n = struct.unpack(">I", b[i:i + 4])[0]; t = b[i + 4:i + 8]; d = b[i + 8:i + 8 + n]; i += 12 + n
    if t == b"IHDR": w, h, depth, ctype = struct.unpack(">IIBB", d[:10])
    elif t == b"IDAT": idat += d
assert depth == 8 and ctype == 2, "expects 8-bit RGB"
raw = zlib.decompress(idat); stride = w * 3
assert all(raw[y * (stride + 1)] == 0 for y in range(h)), "expects unfiltered rows"
sys.stdout.buffer.write(b"P6\n%d %d\n255\n" % (w, h) + b"".join(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)] for y in range(h)))
PY
qj=$(fit "cjpeg -quality Q -sample 2x2 s.ppm 2>/dev/null")
cjpeg -quality "$qj" -sample 2x2 s.ppm 2>/dev/null >s.jpg && djpeg -bmp s.jpg >jpeg.bmp
qw=$(fit "cwebp -quiet -q Q \"$sample\" -o -")
cwebp -quiet -q "$qw" "$sample" -o s.webp && dwebp -quiet -bmp s.webp -o webp.bmp
model_name=$("$A" info s.aec | awk '$1 == "model:" {print $2}')
echo "demo sample 768x512: $model_name $budget bytes; cjpeg -quality $qj -sample 2x2: $(stat -c %s s.jpg) bytes; cwebp -q $qw: $(stat -c %s s.webp) bytes"
for region in "" 0,0,768,430 615,431,130,61; do
  for f in aec.png jpeg.bmp webp.bmp; do
    "$A" compare "$sample" "$f" ${region:+--region "$region"} | sed "s|$sample|sample.png|"
  done
done
