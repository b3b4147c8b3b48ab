#!/usr/bin/env bash
# Packs what a training session on the lent GPU machine needs into .gpu/ (git-ignored), which the device tool
# carries: the header-only libraries the build needs (that machine has no apt), the training images as
# JPEG (q90, 4:4:4: the PNGs are 77 MB and a call carries 64 MiB with the working tree's ~31 MB; at the models'
# 22-32 dB the JPEG's ~40 dB error is noise), set5 for validation, the run directories to start from and the
# jobs to run (scripts/gpu/run.sh reads .gpu/jobs.txt there).
#
#   scripts/gpu/pack.sh 'NAME ARGS...' ...   e.g.
#   scripts/gpu/pack.sh 'hyperprior-q5 --resume --lr 2e-4' \
#                       'hp-q1 --arch hyperprior --lambda 0.00025 --N 64 --M 96 --init .gpu/runs/hyperprior-q5' \
#                       'wide --arch factorized --lambdas 0.0018,0.013,0.0932 --N 128 --M 192 --lr 2e-4'
#
# A job NAME with --resume continues runs/NAME (copied in: config and checkpoint; the GPU's batch, crop and
# data replace the run's). A job whose arguments name .gpu/runs/OTHER (--init .gpu/runs/OTHER: every tensor
# whose name and shape match; give the architecture options too) gets runs/OTHER copied in. Checkpoints keep
# Adam's state by parameter position, which LibTorch 1.13 and 2.x both read; in an older checkpoint it is
# LibTorch's own format, which 2.x cannot map (native/train/checkpoint.h): the trainer then restarts Adam
# with a learning-rate warm-up and keeps the weights, the moving average and the counters. Checkpoints
# are big (the N=64/M=96 hyperprior's: 21 MB, four copies of the weights); --init models/NAME.aem (in the tree
# anyway: weights, prior and gains, a fresh optimizer) carries nothing extra.
# Needs: cjpeg (libjpeg-turbo-progs) and a PNG -> PPM converter (ImageMagick's convert, or netpbm's pngtopnm).
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${AEC_TRAIN_DATA:-../shared/data/train}
VALID=${AEC_VALID_DATA:-../shared/data/valid}
[ $# -gt 0 ] || { sed -n 2,20p "$0"; exit 2; }
to_ppm() { if command -v pngtopnm >/dev/null; then pngtopnm "$1"; else convert "$1" ppm:-; fi; }

mkdir -p .gpu/usr/include/stb .gpu/usr/share/cmake
cp -r /usr/include/nlohmann /usr/include/CLI .gpu/usr/include/
cp /usr/include/stb/stb_image.h /usr/include/stb/stb_image_write.h .gpu/usr/include/stb/
cp -r /usr/share/cmake/nlohmann_json /usr/share/cmake/CLI11 .gpu/usr/share/cmake/
if [ ! -d .gpu/data/train ]; then
  (cd "$DATA" && find . -name '*.png') | while read -r f; do
    mkdir -p ".gpu/data/train/$(dirname "$f")"
    to_ppm "$DATA/$f" | cjpeg -quality 90 -sample 1x1 -optimize >".gpu/data/train/${f%.png}.jpg"
  done
fi
# set5 as JPEG q95 too: the PNGs' 0.9 MB would push the carry over 64 MiB (GPU validation only watches progress;
# the models are scored here, on the PNGs).
rm -rf .gpu/data/valid && mkdir -p .gpu/data/valid/set5
for f in "$VALID"/set5/*.png; do
  to_ppm "$f" | cjpeg -quality 95 -sample 1x1 -optimize >".gpu/data/valid/set5/$(basename "${f%.png}").jpg"
done
rm -rf .gpu/runs && mkdir -p .gpu/runs
: >.gpu/jobs.txt
for job in "$@"; do
  echo "$job" >>.gpu/jobs.txt
  runs_needed=$(grep -o '\.gpu/runs/[A-Za-z0-9_-]*' <<<"$job" || true)
  [[ " $job " == *" --resume "* ]] && runs_needed+=" .gpu/runs/${job%% *}"
  for run in $runs_needed; do
    name=${run#.gpu/runs/}
    mkdir -p "$run" && cp "runs/$name/config.json" "runs/$name/checkpoint.pt" "$run/"
  done
done
cp scripts/gpu/run.sh .gpu/
tracked=$(git ls-files -z | du -cb --files0-from=- | tail -1 | cut -f1)
packed=$(du -sb .gpu | cut -f1)
echo ".gpu: $packed bytes, tracked files: $tracked bytes (a call carries at most 64 MiB in all)"
[ $((tracked + packed)) -le $((64 << 20)) ] || { echo "too much to carry: fewer or smaller runs" >&2; exit 1; }
