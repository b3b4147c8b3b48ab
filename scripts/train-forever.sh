#!/usr/bin/env bash
# Training that never stops: resumes every shipped model's training in the background at the lowest CPU
# priority, each from its last state (runs/NAME/checkpoint.pt, exactly), else from the committed model
# (models/NAME.aem, weights with a learning-rate warm-up), else from scratch. Models take turns in slices; after
# each slice a branch of the run, polished for AEC_POLISH_STEPS steps (600) at lr x0.1, is exported (network
# weights in fp16: no measurable loss, docs/training.md), and the export replaces the shipped files only when their validation RD loss
# (bpp + lambda * 255^2 * MSE, measured through the real codec) improved.
#
#   scripts/train-forever.sh start [SLICE_MINUTES]   # in the background (log: runs/train-forever.log)
#   scripts/train-forever.sh stop                    # SIGTERM: the trainer checkpoints and exits
#   scripts/train-forever.sh pause | resume          # for benchmarks: SIGSTOP / SIGCONT, and a pause flag the
#                                                    # loop respects (no new slice or export while it is there)
#   scripts/train-forever.sh status
#   scripts/train-forever.sh export                  # export-if-improved for every run, now
#   scripts/train-forever.sh rd-loss FILE...         # the validation RD loss that export compares, per file
#   scripts/train-forever.sh recipe NAME             # a run's recipe (trainer options), as the loop trains it
set -euo pipefail
CALLER_DIR=$PWD  # where relative paths given on the command line start
cd "$(dirname "$0")/.."
ROOT=$PWD
DATA=${AEC_TRAIN_DATA:-../shared/data/train}
VALID=${AEC_VALID_DATA:-../shared/data/valid}
RUNS=${AEC_RUNS:-runs}  # run directories, logs, the pid file and the pause flag (tests point it elsewhere)
TRAIN=${AEC_TRAIN_BIN:-$RUNS/bin/aecodec-train}  # a private copy: rebuilding the tree never replaces a running binary
# This script's trainers (and their timeout wrappers): its private binary then " train" and a space or the end.
# Not a trainer that a test or benchmark runs from the build tree, nor a build of the targets aecodec-train and
# train_tests.
TRAINER_PATTERN="$TRAIN train( |\$)"
PIDFILE=$RUNS/train-forever.pid
# While this flag exists the loop starts no slice and no export. `pause` refreshes it; a flag left by a
# benchmark that died without `resume` goes stale after PAUSE_TTL seconds and is ignored.
PAUSE_FLAG=$RUNS/train-forever.paused
PAUSE_TTL=${AEC_PAUSE_TTL:-600}
POLISH_STEPS=${AEC_POLISH_STEPS:-600}
# Trainer threads: every core by default. While other long work holds a core (a fuzz campaign), 1: two threads
# sharing one core made 12 images/s where one thread alone makes about 44 (docs/training.md).
THREADS=${AEC_TRAIN_THREADS:-$(nproc)}

# The shipped models and their recipes (docs/training.md says why these).
declare -A RECIPE=(
  [channel]="--arch channel --lambdas 0.00025,0.00067,0.0018,0.0048,0.013,0.035,0.0932 --crop 256 --batch 2 --lr 1e-4 --N 64 --M 96 --valid-every 2000"
  [channel-wide]="--arch channel --lambdas 0.013,0.035,0.0932 --crop 128 --batch 8 --lr 1e-4 --N 128 --M 192 --valid-every 2000"
  [channel-q5]="--arch channel --lambda 0.013 --crop 128 --batch 8 --lr 1e-4 --N 64 --M 96 --valid-every 1000"
  [family]="--arch family-channel --lambdas 0.00025,0.00067,0.0018,0.0048,0.013,0.035,0.0932 --crop 128 --batch 8 --lr 1e-4 --N 64 --M 96 --medium-width 12 --medium-no-lrp --up-synthesis --up-balance 0.5 --family-weights 4,2,1,1 --valid-every 2000 --valid-max-images 6"
  [family-wide]="--arch family-channel --lambdas 0.013,0.035,0.0932 --crop 128 --batch 8 --lr 1e-4 --N 128 --M 192 --medium-width 16 --medium-no-lrp --up-synthesis --up-balance 0.5 --family-weights 4,2,1,1 --valid-every 2000 --valid-max-images 6"
  [hyperprior-q1]="--arch hyperprior --lambda 0.00025 --crop 128 --batch 8 --lr 1e-4 --N 64 --M 96 --valid-every 1000"
  [hyperprior-q2]="--arch hyperprior --lambda 0.00067 --crop 128 --batch 8 --lr 1e-4 --N 64 --M 96 --valid-every 1000"
  [hyperprior-q3]="--arch hyperprior --lambda 0.0018 --crop 128 --batch 8 --lr 1e-4 --N 64 --M 96 --valid-every 1000"
  [hyperprior-q4]="--arch hyperprior --lambda 0.0048 --crop 128 --batch 8 --lr 1e-4 --N 64 --M 96 --valid-every 1000"
  [hyperprior-q5]="--arch hyperprior --lambda 0.013 --crop 128 --batch 8 --lr 1e-4 --N 64 --M 96 --valid-every 1000"
  [hyperprior-q6]="--arch hyperprior --lambda 0.035 --crop 128 --batch 8 --lr 1e-4 --N 128 --M 192 --valid-every 1000"
  [hyperprior-q7]="--arch hyperprior --lambda 0.05 --crop 128 --batch 8 --lr 1e-4 --N 128 --M 192 --valid-every 1000"
  [factorized]="--arch factorized --lambdas 0.00025,0.00067,0.0018,0.0048,0.013,0.035,0.0932 --crop 128 --batch 8 --lr 1e-4 --N 64 --M 96 --valid-every 2000"
)
# What a run's first export must beat (export_if_improved): the shipped model at the same lambda.
declare -A BASELINE=(
  [channel]=hyperprior-q5
  [channel-wide]=channel
  [channel-q5]=hyperprior-q5
)
# Where a run with neither a checkpoint nor a shipped model starts from: the first that exists (a run
# directory: every matching tensor, the prior included; a model file: the network weights).
declare -A INIT=(
  [channel-wide]="models/hyperprior-q6.aem"
  [channel]="runs/channel-q5 runs/context-pilot/channel models/hyperprior-q5.aem"
  [channel-q5]="runs/context-pilot/channel models/hyperprior-q5.aem"
  [family]="runs/family-w2 runs/family-pilot models/channel.aem"
  [family-wide]="models/channel-wide.aem"
  [factorized]="models/factorized-q5.aem"
  [hyperprior-q3]="runs/hyperprior-q5 models/hyperprior-q5.aem"
  [hyperprior-q7]="models/hyperprior-q6.aem"
)
# factorized: one variable-rate network exported as factorized-q1 .. factorized-q7 (models/DEFAULT names the
# default level); hyperprior-qN: single-rate mean-scale hyperprior codecs at factorized-qN's lambda (q5 started
# on a lent GPU, q3 from q5's run; q1, q2 and q4 were trained on a lent GPU from their neighbours and continue
# from the shipped file; q6 is the wide network, N=128/M=192, trained on GPU machines; q7, wide too, at lambda
# 0.05 from q6's file, reaches 1.44 bpp: docs/training.md). An entry NAME:MINUTES gives that run its own slice
# length (e.g. AEC_TRAIN_ORDER="family:30 channel-wide:60"); plain NAME uses SLICE_MINUTES. channel: the
# channel-conditional context model (docs/context-model.md) as one variable-rate network over seven lambdas,
# warm-started from channel-q5 (the pilot's winner at q5's lambda), on 256x256 crops in batches of 2 (-1.75 %
# BD-rate against 128x128 in batches of 8 at the same pixels per step: scripts/crop-ab.sh, docs/training.md).
# channel-wide: the same context model at the wide width (N=128/M=192, warm-started from hyperprior-q6) over
# the channel's three highest lambdas (its qualities 67.06-100): the narrow network's quality stops near 31 dB
# however many bits it spends, the wide one goes on rising; below about 0.75 bpp the narrow one is ahead
# (docs/context-model.md).
# family: the cross-resolution family on the channel codec (docs/family.md): its high member is
# models/channel.aem frozen, only the half-size member trains (its last stage 12 channels wide, on the coded
# latent, so that the down path decodes in half the time). It exports family-high (the channel file it started
# from) and family-medium, and starts only from INIT (a run, else the channel file, with the medium networks
# of models/family-medium.aem, a member on channel): the high file is the channel network, so after channel
# changes retrain it (a new run, which starts from the channel file and the old medium member). family-wide:
# the same on channel-wide (the codec's network above Q 74; its last stage 16 wide), with the family's
# options, exporting family-wide-medium, so that every file of the default codec decodes at half size;
# channel-wide is its base and stays as shipped while it trains. The default order trains channel alone: it is the default codec and
# the family's base, and more of its training still pays (the family's own run had gone flat: about 0.01 dB
# per 6,000 steps). When a channel export is committed, retrain the family on it (move runs/family aside; the
# new run starts from the channel file and the old member, AEC_TRAIN_ORDER=family:40). The family's up path is
# weighted 2 (the 4,2,1,1 pilot, runs/family-w2, gave +0.15 dB more over bicubic than 8 at 11 % fewer medium
# bits; docs/family.md) and decodes through the medium member's own up decoder (--up-synthesis), whose gradient
# is balanced across the qualities (--up-balance 0.5; docs/family.md "The up decoder").
ORDER_SPEC=(${AEC_TRAIN_ORDER:-channel:60})
ORDER=("${ORDER_SPEC[@]%%:*}")

log() { echo "$(date -u +%FT%TZ) $*"; }

ensure_binary() {
  local built
  built=$(ls -t build/release/native/train/aecodec-train build-train/native/train/aecodec-train 2>/dev/null | head -1 || true)
  if [ -z "$built" ]; then
    cmake --preset release >/dev/null && cmake --build --preset release --target aecodec-train -j2 >/dev/null
    built=build/release/native/train/aecodec-train
  fi
  mkdir -p "$RUNS/bin"
  if [ ! -x "$TRAIN" ] || [ "$built" -nt "$TRAIN" ]; then cp "$built" "$TRAIN.new" && mv "$TRAIN.new" "$TRAIN"; fi
}

# RD loss of a model file from its scores (codec_bpp/codec_psnr; else the trainer's bpp/psnr). A family's medium
# member is judged by what it trains for: its own codec's RD loss plus the up and the down path's squared errors
# (the trainer's validation at the default quality), weighted by its family_weights as in its training loss.
rd_loss() {
  /usr/bin/python3 - "$1" <<'PY'
import json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
doc = json.loads(json.loads(b[8:8 + n])["__metadata__"]["aecodec"])
s, lam = doc.get("scores", {}), doc.get("training", {}).get("lambda", 0.013)
bpp, psnr = s.get("codec_bpp", s.get("bpp")), s.get("codec_psnr", s.get("psnr"))
if bpp is None or psnr is None:
    print("inf")
    sys.exit()
mse = lambda db: 10 ** (-db / 10)
loss = bpp + lam * 65025 * mse(psnr)
w = doc.get("training", {}).get("family_weights")
if doc.get("family", {}).get("role") == "medium" and w and "cross_m2h" in s and "cross_h2m" in s:
    loss += lam * 65025 * (w[1] * mse(s["cross_m2h"]) + w[0] * mse(s["cross_h2m"]))
print(loss)
PY
}

# A run exports one file (NAME.aem) or, for a family, one per member (NAME-high.aem, NAME-medium.aem); the
# files replace the shipped ones together, when the sum of their RD losses improved.
# The export comes from a branch of the run polished for POLISH_STEPS steps at lr x0.1 (the run itself goes on
# at its own rate, which never drops): in an A/B, 600 such steps were worth about 0.004 of RD loss at a
# minute's CPU time (docs/training.md).
export_if_improved() {
  local name=$1 dir=$RUNS/$1/export from=$RUNS/$1
  [ -f "$RUNS/$name/checkpoint.pt" ] || return 0
  # The checkerboard context (channel-cb) has no integer form in the core: it trains and is not exported.
  case " ${RECIPE[$name]:-} " in *" --arch channel-cb"*) log "$name: not exported (channel-cb has no model-file form)"; return 0 ;; esac
  if [ "$POLISH_STEPS" -gt 0 ]; then from=$(polished_branch "$name") || from=$RUNS/$name; fi
  rm -rf "$dir" && mkdir -p "$dir"
  "$TRAIN" export --fp16 --run "$from" --out "$dir/$name.aem" >/dev/null
  [ "$from" = "$RUNS/$name" ] || rm -rf "$from"
  local new=0 old=0 f
  for f in "$dir"/*.aem; do
    new=$(/usr/bin/python3 -c "print(float('$new') + float('$(rd_loss "$f")'))")
    local shipped=models/$(basename "$f")
    # A model not shipped yet must beat its baseline at the same lambda (a context model: the single-rate
    # hyperprior at its default quality's lambda); a member or quality level without one is an improvement.
    [ -f "$shipped" ] || shipped=models/${BASELINE[$name]:-none}.aem
    if [ -f "$shipped" ]; then old=$(/usr/bin/python3 -c "print(float('$old') + float('$(rd_loss "$shipped")'))"); else old=inf; fi
  done
  if /usr/bin/python3 -c "import sys; sys.exit(0 if float('$new') < float('$old') else 1)"; then
    for f in "$dir"/*.aem; do
      mv "$f" models/
      [ -x build/release/native/aecodec ] && scripts/model-card.sh "$(basename "$f" .aem)" "$VALID" >/dev/null || true
    done
    log "$name: validation RD loss $old -> $new: exported to models/"
  else
    log "$name: validation RD loss $new is not better than the shipped $old: kept models/"
  fi
  rm -rf "$dir"
}

# Copies the run to RUN.polish and trains the copy POLISH_STEPS more steps with the learning rate x0.1
# (--decay-start 0); prints the copy's path (the run's own path when the copy could not be made).
polished_branch() {
  local name=$1 branch=$RUNS/$1.polish step
  step=$(grep '^train,' "$RUNS/$name/log.csv" 2>/dev/null | tail -1 | cut -d, -f2 || true)
  if [ -z "$step" ] || ! { rm -rf "$branch" && cp -r "$RUNS/$name" "$branch"; }; then
    echo "$RUNS/$name"
    return
  fi
  /usr/bin/python3 - "$branch/config.json" "$POLISH_STEPS" <<'PY'
import json, sys
p = sys.argv[1]; c = json.load(open(p))
more = "the last %s steps at lr x0.1 (a branch polished for export)" % sys.argv[2]
c["provenance"] = "; ".join(x for x in (c.get("provenance", ""), more) if x)
json.dump(c, open(p, "w"), indent=2)
PY
  local fast=()
  if grep -qw avx512_bf16 /proc/cpuinfo 2>/dev/null; then fast=(--bf16 --channels-last); fi
  OMP_WAIT_POLICY=PASSIVE nice -n 19 "$TRAIN" train --out "$branch" --resume --steps $((step + POLISH_STEPS)) \
    --decay-start 0 --valid-every 1000000 --data "$DATA" --valid "$VALID" --threads "$THREADS" "${fast[@]}" \
    >>"$RUNS/$name.log" 2>&1 || log "$name: the polished branch failed; exporting it as it is" >&2
  echo "$branch"
}

# models/NAME-medium.aem when its family's high member is the model of file $2 (by name: this version, or
# an earlier one that the model was retrained from); fails otherwise.
shipped_medium_of() {
  local medium=models/$1-medium.aem cli=build/release/native/aecodec high_name base_name
  [ -f "$medium" ] && [ -x "$cli" ] || return 1
  high_name=$("$cli" info "$medium" | awk '/^family:/ {f = 1} f && /^ +name:/ {print $2; exit}')
  base_name=$("$cli" info "$2" | awk '/^name:/ {print $2; exit}')
  [ -n "$high_name" ] && [ "$high_name" = "$base_name" ] && echo "$medium"
}

first_existing() {
  local p
  for p in "$@"; do [ -e "$p" ] && { echo "$p"; return 0; }; done
  return 1
}

train_slice() {
  local name=$1 minutes=$2 args init medium
  if [ -f "$RUNS/$name/checkpoint.pt" ]; then
    args=(--out "$RUNS/$name" --resume)
  elif [[ " ${RECIPE[$name]:-} " == *" --arch family-channel "* ]] && init=$(first_existing ${INIT[$name]}); then
    read -ra args <<<"${RECIPE[$name]}"
    args+=(--init "$init" --out "$RUNS/$name")
    # From the channel file: the shipped medium member goes on training when it is a member on that model
    # (a fresh checkout has no run directory; a retrained channel keeps its old member's networks as the
    # start), instead of restarting from the folded high networks.
    if [ -f "$init" ] && medium=$(shipped_medium_of "$name" "$init"); then args+=(--init-medium "$medium"); fi
  elif init=$(first_existing "models/$name.aem" ${INIT[$name]:-}); then
    read -ra args <<<"${RECIPE[$name]}"
    args+=(--init "$init" --out "$RUNS/$name")
  else
    read -ra args <<<"${RECIPE[$name]}"
    args+=(--out "$RUNS/$name")
  fi
  # bf16 autocast + channels-last where the CPU has AVX512-BF16: 17-24 % less CPU time per step for the
  # shipped networks, and the same validation after 3,000 steps of an A/B from one checkpoint
  # (docs/training.md). The weights, Adam's moments and the checkpoints stay fp32.
  if grep -qw avx512_bf16 /proc/cpuinfo 2>/dev/null; then args+=(--bf16 --channels-last); fi
  log "$name: training for $minutes min (${args[*]})"
  # OpenMP threads that wait by sleeping: spinning at a barrier while the other core runs someone else's work
  # (a fuzz campaign, a build) made the niced trainer 1.7x slower per step in a bench, and 17x in one slice;
  # sleeping costs 13 % when nothing else runs (docs/training.md).
  # SIGTERM at the end of the slice: the trainer writes its checkpoint and exits 0.
  OMP_WAIT_POLICY=PASSIVE timeout --signal=TERM "${minutes}m" nice -n 19 "$TRAIN" train "${args[@]}" --data "$DATA" --valid "$VALID" \
    --threads "$THREADS" --minutes 100000 >>"$RUNS/$name.log" 2>&1 || true
}

paused() {
  [ -f "$PAUSE_FLAG" ] || return 1
  local age=$(($(date +%s) - $(stat -c %Y "$PAUSE_FLAG" 2>/dev/null || echo 0)))
  [ "$age" -lt "$PAUSE_TTL" ]
}

wait_while_paused() {
  paused || return 0
  log "paused (flag $PAUSE_FLAG)"
  while paused; do sleep 5; done
  log "resumed"
}

loop() {
  local slice=$1
  # Linux groups CPU time by session first (autogroup), and this loop runs in its own session (setsid), so the
  # trainer's own nice 19 would only rank it within that group: lower the whole group's weight too.
  echo 19 >/proc/self/autogroup 2>/dev/null || true
  while true; do
    for entry in "${ORDER_SPEC[@]}"; do
      local name=${entry%%:*} minutes=$slice
      [ "$entry" = "$name" ] || minutes=${entry#*:}
      wait_while_paused
      train_slice "$name" "$minutes"
      wait_while_paused
      export_if_improved "$name" || log "$name: export failed"
    done
  done
}

case "${1:-status}" in
  start)
    ensure_binary
    if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then echo "already running"; exit 0; fi
    mkdir -p "$RUNS"
    nohup setsid "$0" _loop "${2:-60}" >>"$RUNS/train-forever.log" 2>&1 &
    echo $! >"$PIDFILE"
    echo "training in the background (pid $(cat "$PIDFILE")); log: $RUNS/train-forever.log"
    ;;
  _loop) loop "$2" ;;
  stop)
    [ -f "$PIDFILE" ] && kill -TERM -- "-$(cat "$PIDFILE")" 2>/dev/null || true
    pkill -TERM -f "$TRAIN train" || true
    rm -f "$PIDFILE"
    ;;
  pause)
    mkdir -p "$RUNS" && touch "$PAUSE_FLAG"
    pkill -STOP -f "$TRAINER_PATTERN" || true
    ;;
  resume)
    rm -f "$PAUSE_FLAG"
    pkill -CONT -f "$TRAINER_PATTERN" || true
    ;;
  status)
    pgrep -af "$TRAINER_PATTERN" || echo "not training"
    if paused; then echo "paused (flag $PAUSE_FLAG)"; fi
    for name in "${ORDER[@]}"; do
      [ -f "$RUNS/$name/log.csv" ] && { echo "$name:"; grep '^valid' "$RUNS/$name/log.csv" | tail -3; }
    done
    ;;
  export)
    ensure_binary
    for name in "${ORDER[@]}"; do export_if_improved "$name"; done
    ;;
  rd-loss)
    shift
    for f in "$@"; do
      case $f in /*) path=$f ;; *) path=$CALLER_DIR/$f ;; esac
      [ -f "$path" ] || { echo "rd-loss: no file $f" >&2; exit 1; }
      loss=$(rd_loss "$path")  # a file that is not a model file stops the command (set -e)
      echo "$loss $f"
    done
    ;;
  recipe)
    [ -n "${2:-}" ] && [ -n "${RECIPE[$2]:-}" ] || { echo "recipe: no run named '${2:-}' (${!RECIPE[*]})" >&2; exit 1; }
    echo "${RECIPE[$2]}"
    ;;
  *) sed -n '2,16p' "$0"; exit 2 ;;
esac
