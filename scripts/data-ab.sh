#!/usr/bin/env bash
# Does a part of the training data help? An A/B from one checkpoint: the same recipe, seed and number of steps
# with three training sets, then each arm's validation (the 19 images of ../shared/data/valid, every quality)
# and its BD-rate against the first arm. The arms:
#   all      every image under ../shared/data/train (as the trainer reads it)
#   without  the same without train/bsds (the BSDS500 JPEG originals)
#   half     train/bsds decoded at half size (djpeg -scale 1/2, as PNG) beside the other folders
#
#   scripts/data-ab.sh RUN_DIR [STEPS] [OUT]    # default 1500 steps into /tmp/aecodec-data-ab
#   scripts/data-ab.sh --summary [OUT]
# RUN_DIR is a run of the channel recipe (train-forever's runs/channel); every arm starts from a copy of it
# (--init: weights and prior, a fresh learning-rate warm-up). Arms run one after another, one thread each, at
# nice 19, so that they all see the same machine. Needs djpeg (libjpeg-turbo-progs).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${AEC_TRAIN_DATA:-../shared/data/train}
VALID=${AEC_VALID_DATA:-../shared/data/valid}
TRAIN=${AEC_TRAIN_BIN:-build/release/native/train/aecodec-train}
LAMBDAS=0.00025,0.00067,0.0018,0.0048,0.013,0.035,0.0932

summary() { /usr/bin/python3 scripts/ab-summary.py "$1" all without half; }

if [ "${1:-}" = --summary ]; then summary "${2:-/tmp/aecodec-data-ab}"; exit 0; fi
RUN=${1:?usage: scripts/data-ab.sh RUN_DIR [STEPS] [OUT]}
STEPS=${2:-1500}
OUT=${3:-/tmp/aecodec-data-ab}
[ -x "$TRAIN" ] || { echo "data-ab: no $TRAIN; build first" >&2; exit 1; }
command -v djpeg >/dev/null || { echo "data-ab: needs djpeg (libjpeg-turbo-progs)" >&2; exit 1; }
mkdir -p "$OUT"
rm -rf "$OUT/start" && cp -r "$RUN" "$OUT/start"

# The training sets: symbolic links to the folders, and train/bsds at half size.
others=()
for d in "$DATA"/*/; do [ "$(basename "$d")" = bsds ] || others+=("$(realpath "$d")"); done
mkdir -p "$OUT/data-without" "$OUT/data-half/bsds-half"
for d in "${others[@]}"; do ln -sfn "$d" "$OUT/data-without/$(basename "$d")"; ln -sfn "$d" "$OUT/data-half/$(basename "$d")"; done
for f in "$DATA"/bsds/*.jpg; do
  png=$OUT/data-half/bsds-half/$(basename "$f" .jpg).png
  [ -s "$png" ] || djpeg -scale 1/2 -pnm "$f" | /usr/bin/python3 -c '
import re, struct, sys, zlib
d = sys.stdin.buffer.read()
m = re.match(rb"P6\s+(\d+)\s+(\d+)\s+255\s", d)
w, h, px = int(m.group(1)), int(m.group(2)), d[m.end():]
raw = b"".join(b"\0" + px[y * w * 3:(y + 1) * w * 3] for y in range(h))
chunk = lambda t, b: struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b))
sys.stdout.buffer.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                        + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))' >"$png"
done

# bf16 + channels-last where the CPU has AVX512-BF16, as train-forever trains.
fast=()
if grep -qw avx512_bf16 /proc/cpuinfo 2>/dev/null; then fast=(--bf16 --channels-last); fi
for arm in all:$DATA without:$OUT/data-without half:$OUT/data-half; do
  name=${arm%%:*} data=${arm#*:}
  grep -qs '^valid' "$OUT/$name/log.csv" && continue
  rm -rf "${OUT:?}/$name"
  OMP_WAIT_POLICY=PASSIVE nice -n 19 "$TRAIN" train --out "$OUT/$name" --init "$OUT/start" --arch channel \
    --lambdas "$LAMBDAS" --crop 128 --batch 8 --lr 1e-4 --N 64 --M 96 --seed 7 --steps "$STEPS" \
    --valid-every "$STEPS" --data "$data" --valid "$VALID" --threads 1 "${fast[@]}" >"$OUT/$name.log" 2>&1
done
summary "$OUT"
