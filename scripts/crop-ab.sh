#!/usr/bin/env bash
# Does a run learn more from larger crops? An A/B from one checkpoint: the run's recipe (as
# scripts/train-forever.sh trains it) for the same number of steps with 128x128 crops in batches of 8 and with
# 256x256 crops in batches of 2 (the same pixels per step, so about the same CPU time), then each arm's last
# validation (scripts/ab-summary.py: a channel run's every quality and BD-rate, a family's up and down paths).
#
#   scripts/crop-ab.sh NAME RUN_DIR [STEPS] [OUT]    # NAME: the recipe (channel, family, ...); default 3000
#   scripts/crop-ab.sh --summary [OUT]               #   steps into /tmp/aecodec-crop-ab
# Every arm starts from a copy of RUN_DIR (--init: weights and prior, a 50-step learning-rate warm-up) and
# validates once, at its end, the last 20 % of its steps at lr x0.1. The two arms run side by side, one thread
# each, at nice 19; stop train-forever meanwhile.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${AEC_TRAIN_DATA:-../shared/data/train}
VALID=${AEC_VALID_DATA:-../shared/data/valid}
TRAIN=${AEC_TRAIN_BIN:-build/release/native/train/aecodec-train}
ARMS=("c128:128:8" "c256:256:2")

if [ "${1:-}" = --summary ]; then exec /usr/bin/python3 scripts/ab-summary.py "${2:-/tmp/aecodec-crop-ab}" c128 c256; fi
NAME=${1:?usage: scripts/crop-ab.sh NAME RUN_DIR [STEPS] [OUT]}
RUN=${2:?usage: scripts/crop-ab.sh NAME RUN_DIR [STEPS] [OUT]}
STEPS=${3:-3000}
OUT=${4:-/tmp/aecodec-crop-ab}
[ -f "$RUN/checkpoint.pt" ] || { echo "crop-ab: $RUN is not a run directory (no checkpoint.pt)" >&2; exit 1; }
[ -x "$TRAIN" ] || { echo "crop-ab: no $TRAIN; build first" >&2; exit 1; }
recipe=$(scripts/train-forever.sh recipe "$NAME")
# The recipe without the options each arm sets itself.
read -ra base <<<"$(sed -E 's/--(crop|batch|valid-every) [^ ]+//g' <<<"$recipe")"
mkdir -p "$OUT"
rm -rf "$OUT/start" && cp -r "$RUN" "$OUT/start"

fast=()
if grep -qw avx512_bf16 /proc/cpuinfo 2>/dev/null; then fast=(--bf16 --channels-last); fi
pids=()
for arm in "${ARMS[@]}"; do
  IFS=: read -r name crop batch <<<"$arm"
  grep -qs '^valid' "$OUT/$name/log.csv" && continue
  rm -rf "${OUT:?}/$name"
  OMP_WAIT_POLICY=PASSIVE nice -n 19 "$TRAIN" train "${base[@]}" --crop "$crop" --batch "$batch" \
    --init "$OUT/start" --out "$OUT/$name" --steps "$STEPS" --warmup-steps 50 --valid-every "$STEPS" \
    --data "$DATA" --valid "$VALID" --threads 1 "${fast[@]}" >"$OUT/$name.log" 2>&1 &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
/usr/bin/python3 scripts/ab-summary.py "$OUT" c128 c256
