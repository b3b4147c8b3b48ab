#!/usr/bin/env bash
# Where a codec's quality knob hands over from one member network to the next (docs/quality.md): the highest
# quality of the lower member at which, on every image of a folder, its file is at least MARGIN (default 5 %)
# smaller than the upper member's smallest file (its quality 1). Below that quality the lower member serves
# the knob, above it the upper one from its quality 1, so file size keeps rising with the knob on every image
# and the upper network takes over as early as that allows (it is the better one per bit where both reach).
#   scripts/codec-span.sh LOWER.aem UPPER.aem [IMAGE_DIR] [MARGIN_PERCENT]
# Prints one line per candidate quality (the smallest ratio over the images and the mean rates) and the
# chosen one; the numbers go into the codec's manifest (models/NAME.codec.json).
set -euo pipefail
cd "$(dirname "$0")/.."
lower=$1 upper=$2
dir=${3:-../shared/data/valid}
margin=${4:-5}
A=build/release/native/aecodec
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
qualities=$(seq -s, 60 2 90)
"$A" -q rd "$dir" -m "$lower" --qualities "$qualities" --codecs none -o "$tmp/lower" >/dev/null
"$A" -q rd "$dir" -m "$upper" --qualities 1 --codecs none -o "$tmp/upper" >/dev/null
/usr/bin/python3 - "$tmp/lower/rd-points.csv" "$tmp/upper/rd-points.csv" "$margin" <<'PY'
import csv, statistics, sys
def points(path):
    out = {}
    for r in csv.DictReader(open(path)):
        out.setdefault(r["level"], {})[r["image"]] = (float(r["bpp"]), float(r["psnr"]))
    return out
lower, upper, margin = points(sys.argv[1]), points(sys.argv[2]), float(sys.argv[3])
(up_label, up), = upper.items()
print(f"{up_label}: mean {statistics.mean(b for b, _ in up.values()):.4f} bpp, "
      f"{statistics.mean(p for _, p in up.values()):.2f} dB")
chosen = None
for label, pts in sorted(lower.items(), key=lambda kv: float(kv[0].rsplit("Q", 1)[1])):
    q = float(label.rsplit("Q", 1)[1])
    ratios = [up[i][0] / pts[i][0] for i in pts]
    ok = min(ratios) >= 1 + margin / 100
    print(f"{label}: mean {statistics.mean(b for b, _ in pts.values()):.4f} bpp, "
          f"{statistics.mean(p for _, p in pts.values()):.2f} dB; upper/lower rate: min {min(ratios):.3f}, "
          f"mean {statistics.mean(ratios):.3f}{'' if ok else '  (too close)'}")
    if ok:
        chosen = q
print(f"hand over at quality {chosen:g}" if chosen else "no quality leaves the margin: lower the margin")
PY
