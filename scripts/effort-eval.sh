#!/usr/bin/env bash
# Encoder effort on a folder of photos (`aecodec rd --effort 0,9`): the learned curves at effort 0 and at effort
# 9, with JPEG, WebP and AVIF, so the report gives effort 9's BD-rate against effort 0 and against each classic
# codec. Slow: effort 9 searches every image's latent (docs/effort.md).
#   scripts/effort-eval.sh [IMAGES_DIR] [OUT_DIR] [more `aecodec rd` options]
# Defaults: ../shared/data/valid/set5 (effort 9 takes about a minute per level and photo on 2 cores),
# docs/effort, and the hyperprior levels q2-q5 up to the default model (0.12-0.66 bpp); options such as
# `-m factorized-q2 ... -m factorized-q5` replace the levels.
set -euo pipefail
root=$(realpath --relative-to=. "$(dirname "$0")/..")
images=${1:-$(realpath -m --relative-to=. "$root/../shared/data/valid/set5")}
out=${2:-$root/docs/effort}
shift $(( $# < 2 ? $# : 2 ))
levels=()
[ $# -gt 0 ] || for q in 2 3 4 5; do levels+=(-m "hyperprior-q$q"); done
efforts=(--effort 0,9)  # unless the options name their own
for a in "$@"; do [ "$a" != --effort ] || efforts=(); done
exec "$root/scripts/rd-eval.sh" "$images" "$out" "${efforts[@]}" "${levels[@]}" "$@" --made-by "scripts/effort-eval.sh${*:+ $*}"
