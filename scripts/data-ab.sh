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

summary() {
  /usr/bin/python3 - "$1" all without half <<'PY'
import csv, math, os, sys
out, arms = sys.argv[1], sys.argv[2:]
lams = [0.00025, 0.00067, 0.0018, 0.0048, 0.013, 0.035, 0.0932]
def load(arm):
    p = os.path.join(out, arm, "log.csv")
    if not os.path.exists(p): return None
    rows = [r for r in csv.reader(open(p)) if r and r[0] == "valid"]
    if not rows: return None
    last = max(int(r[1]) for r in rows)
    return {int(r[9]): (float(r[6]), float(r[7])) for r in rows if int(r[1]) == last}
def bd(a, b):  # mean log-rate difference over the common PSNR range, piecewise linear in PSNR
    pa = sorted((p, math.log(r)) for r, p in a.values()); pb = sorted((p, math.log(r)) for r, p in b.values())
    lo, hi = max(pa[0][0], pb[0][0]), min(pa[-1][0], pb[-1][0])
    def f(pts, x):
        for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
            if x0 <= x <= x1: return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    n = 400
    d = sum(f(pb, lo + (hi - lo) * (i + .5) / n) - f(pa, lo + (hi - lo) * (i + .5) / n) for i in range(n)) / n
    return 100 * (math.exp(d) - 1), lo, hi
first = load(arms[0])
print("| arm | " + " | ".join("Q%d bpp / dB" % q for q in range(1, 8)) + " | BD-rate vs all |")
print("|---|" + "---|" * 8)
for arm in arms:
    v = load(arm)
    if v is None: continue
    cells = " | ".join("%.4f / %.2f" % v[q] for q in sorted(v))
    b = "(anchor)" if arm == arms[0] or first is None else "%+.2f %% [%.1f-%.1f dB]" % bd(first, v)
    print("| %s | %s | %s |" % (arm, cells, b))
PY
}

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
