#!/usr/bin/env bash
# Regenerates the rate-distortion evaluation (`aecodec rd`): every factorized and hyperprior model in models/
# (a curve per model name without its -qN suffix, and the cross-resolution family table) against JPEG, WebP
# and AVIF on a folder of images.
#   scripts/rd-eval.sh [IMAGES_DIR] [OUT_DIR] [more `aecodec rd` options, e.g. -m models/x.aem --limit 3]
# Defaults: ../shared/data/valid and docs/rd. Writes OUT_DIR/README.md (the tables), rd.json, rd-points.csv,
# rd-curves.csv, rd-psnr.svg, rd-msssim.svg, and PNG copies of the plots where rsvg-convert or chromium exists.
# Needs the release build (cmake --build --preset release) and the Debian packages libjpeg-turbo-progs, webp,
# libavif-bin.
# Paths given on the command line are relative to where it is run; the defaults, to the repository.
set -euo pipefail
made_by="scripts/rd-eval.sh${*:+ $*}"
root=$(realpath --relative-to=. "$(dirname "$0")/..")
images=${1:-$(realpath -m --relative-to=. "$root/../shared/data/valid")}
out=${2:-$root/docs/rd}
shift $(( $# < 2 ? $# : 2 ))
A=$root/build/release/native/aecodec
[ -x "$A" ] || { echo "rd-eval: no $A; build first: cmake --build --preset release --target aecodec" >&2; exit 1; }
[ -d "$images" ] || { echo "rd-eval: no image folder $images" >&2; exit 1; }

models=()  # a later --models-dir or -m in the options wins
[ -d "$root/models" ] && models=(--models-dir "$root/models")
# Every learned curve is also compared with the shipped hyperprior levels (a new codec against the old).
"$A" rd "$images" -o "$out" "${models[@]}" --anchor hyperprior --made-by "$made_by" "$@" >/dev/null

# Optional PNG copies of the plots.
for svg in "$out"/rd-psnr.svg "$out"/rd-msssim.svg; do
  png=${svg%.svg}.png
  if command -v rsvg-convert >/dev/null; then
    rsvg-convert -o "$png" "$svg"
  elif command -v chromium >/dev/null; then
    tmp=$(mktemp -d)
    size=$(sed -n 's/^<svg[^>]* width="\([0-9]*\)[.0-9]*" height="\([0-9]*\)[.0-9]*".*/\1,\2/p' "$svg" | head -1)
    timeout 120 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$tmp" \
      --window-size="${size:-860,560}" --screenshot="$(cd "$(dirname "$png")" && pwd)/$(basename "$png")" \
      "file://$(cd "$(dirname "$svg")" && pwd)/$(basename "$svg")" >/dev/null 2>&1 || echo "rd-eval: no PNG for $svg" >&2
    rm -rf "$tmp"
  fi
done
echo "rd-eval: wrote $out/README.md"
