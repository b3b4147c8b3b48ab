#!/usr/bin/env bash
# Data-parallel training on this machine: starts N ranks of `aecodec-train train` with the variables torchrun
# sets (WORLD_SIZE, RANK, LOCAL_RANK, MASTER_ADDR=127.0.0.1, MASTER_PORT: a free port unless set), each with
# cores / N threads unless the arguments give --threads, and waits for all of them. --batch is the global
# batch (a multiple of N); rank 0 writes the run directory. With CUDA, rank r trains on GPU r (NCCL where the
# build has it). Ctrl-C or SIGTERM reaches every rank: they stop after the same step and rank 0 checkpoints.
# If a rank fails, the others fail too (within --dist-timeout, at once when a rank dies) and this script exits
# non-zero; the last checkpoint stays intact for --resume. Several machines: docs/training.md.
#
#   scripts/train-parallel.sh N [trainer train arguments...]
#   scripts/train-parallel.sh 2 --arch hyperprior --N 64 --M 96 --lambda 0.013 --batch 8 \
#       --data ../shared/data/train --valid ../shared/data/valid --out runs/my-model --minutes 60
#
# AEC_TRAIN_BIN: the trainer (default build/release/native/train/aecodec-train).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] && [[ $1 =~ ^[1-9][0-9]*$ ]] || { sed -n 2,14p "$0"; exit 2; }
N=$1
shift
TRAIN=${AEC_TRAIN_BIN:-build/release/native/train/aecodec-train}
[ -x "$TRAIN" ] || { echo "train-parallel: no trainer at $TRAIN (build it: cmake --build --preset release --target aecodec-train)" >&2; exit 2; }

threads=()
if [[ " $* " != *" --threads "* ]]; then
  t=$(($(nproc) / N))
  threads=(--threads $((t > 0 ? t : 1)))
fi
if [ -z "${MASTER_PORT:-}" ]; then
  MASTER_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
fi
export WORLD_SIZE=$N MASTER_ADDR=127.0.0.1 MASTER_PORT
[ ${#threads[@]} -eq 0 ] || export OMP_NUM_THREADS=${threads[1]}

pids=()
interrupted=0
stop() {
  interrupted=1
  kill -TERM "${pids[@]}" 2>/dev/null || true
}
trap stop INT TERM
for ((r = 0; r < N; ++r)); do
  RANK=$r LOCAL_RANK=$r "$TRAIN" train "${threads[@]}" "$@" &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do
  while :; do  # a trapped signal ends `wait` early: then wait for the rank's own status
    interrupted=0 rc=0
    wait "$pid" || rc=$?
    [ "$interrupted" = 1 ] || break
  done
  [ "$rc" -eq 0 ] || status=$rc
done
exit "$status"
