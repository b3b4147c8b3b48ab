#!/usr/bin/env bash
# Runs ON the lent GPU machine (device tool: `bash .gpu/run.sh SECONDS`, carry [".gpu"]): builds aecodec-train
# against the PyTorch there (LibTorch 2.x + CUDA; ~45 s on 16 cores), trains every job of .gpu/jobs.txt side by
# side on the one GPU until SECONDS after the start, and leaves the run directories in $OUT as one tar in 15 MB
# parts (the tool returns at most 8 files of 16 MiB). scripts/gpu/unpack.sh unpacks them here.
# No `exec > >(tee ...)`: bash's `wait` would wait for the tee too, and the call would hang to its time limit.
set -u
T0=$(date +%s)
BUDGET_S=${1:-420}
# AEC_GPU_TRAIN_BIN: a trainer already built (tests of this script on a machine without the GPU).
if [ -z "${AEC_GPU_TRAIN_BIN:-}" ]; then
  cp -r .gpu/usr/include/* /usr/include/ && mkdir -p /usr/share/cmake && cp -r .gpu/usr/share/cmake/* /usr/share/cmake/
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  python3 -c 'import torch; print("torch", torch.__version__)'
  TP=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
  GEN=() K=(-k)
  if command -v ninja >/dev/null; then GEN=(-G Ninja) K=(-k 0); fi
  if ! cmake -S . -B /tmp/b "${GEN[@]}" -DCMAKE_BUILD_TYPE=Release -DAEC_BUILD_TESTS=OFF -DCMAKE_PREFIX_PATH="$TP" \
    >/tmp/cmake.log 2>&1; then
    tail -60 /tmp/cmake.log; cp /tmp/cmake.log "$OUT/"; exit 1
  fi
  if ! cmake --build /tmp/b --target aecodec-train -j"$(nproc)" -- "${K[@]}" >/tmp/build.log 2>&1; then
    grep -A6 error /tmp/build.log | head -150; cp /tmp/build.log "$OUT/"; exit 1
  fi
  echo "built in $(($(date +%s) - T0)) s"
fi
TRAIN=${AEC_GPU_TRAIN_BIN:-/tmp/b/native/train/aecodec-train}
# Options every job gets unless its own line gives them (CLI11 refuses an option twice).
COMMON=(--data .gpu/data/train --valid .gpu/data/valid --batch 32 --crop 192 --threads 4 --log-every 100
  --checkpoint-minutes 2 --valid-every 1000 --minutes 100000)
common_for() {
  local i out=()
  for ((i = 0; i < ${#COMMON[@]}; i += 2)); do
    [[ " $1 " == *" ${COMMON[i]} "* ]] || out+=("${COMMON[i]}" "${COMMON[i + 1]}")
  done
  echo "${out[@]}"
}
LEFT=$((BUDGET_S - ($(date +%s) - T0)))
echo "training for $LEFT s"
mkdir -p runs
names=()
while read -r name args; do
  [ -n "$name" ] || continue
  names+=("$name")
  rm -rf "runs/$name"
  if [ -d ".gpu/runs/$name" ]; then cp -r ".gpu/runs/$name" "runs/$name"; else mkdir -p "runs/$name"; fi
  nvidia-smi --query-gpu=name --format=csv,noheader >"runs/$name/device.txt" 2>/dev/null || echo "a GPU" >"runs/$name/device.txt"
  # shellcheck disable=SC2086,SC2046
  timeout -k 30 "$LEFT" "$TRAIN" train --out "runs/$name" $(common_for "$args") $args >"runs/$name/gpu.log" 2>&1 &
done <.gpu/jobs.txt
sleep $((LEFT > 90 ? 60 : LEFT / 2))
nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader 2>/dev/null
wait
# At most 8 files of 16 MiB come back: each run brings its log, config and model file(s) (exported here, fp16
# weights), and its checkpoint only when small (a hyperprior's is 21 MB: four copies of the weights).
for name in "${names[@]}"; do
  echo "== $name"; tail -n 3 "runs/$name/gpu.log"; grep '^valid' "runs/$name/log.csv" 2>/dev/null | tail -n 3
  [ -f "runs/$name/checkpoint.pt" ] || continue
  # The steps taken here go into the run's provenance, which the exported model's description carries.
  python3 - "runs/$name" <<'PY'
import json, os, sys
d = sys.argv[1]; p = d + "/config.json"; c = json.load(open(p))
log = d + "/log.csv"
rows = [l.split(",") for l in open(log) if l.startswith("train,")] if os.path.exists(log) else []
there = "steps to %s on %s (batch %d of %dx%d crops of JPEG q90 copies of the training images, lr %g%s)" % (
    rows[-1][1] if rows else "?", open(d + "/device.txt").read().strip(), c["batch"], c["crop"], c["crop"],
    c["lr"], ", from " + c["init"] if c.get("init") else "")
c["provenance"] = "; ".join(x for x in (c.get("provenance", ""), there) if x)
json.dump(c, open(p, "w"), indent=2)
PY
  "$TRAIN" export --fp16 --no-codec-scores --run "runs/$name" --out "runs/$name/$name.aem" >>"runs/$name/gpu.log" 2>&1 ||
    echo "export of $name failed"
  [ "$(stat -c %s "runs/$name/checkpoint.pt")" -le $((2 << 20)) ] || rm "runs/$name/checkpoint.pt"
done
# What comes back is at most 64 MiB in all: a tar over that loses a middle part and, with it, every file from
# there on (a run's model was once lost so). So the runs' small files go first, then the model files in job
# order while they fit; a model left behind is named here.
RETURN_BYTES=${AEC_GPU_RETURN_BYTES:-$((60 << 20))}
keep=() total=0
while read -r f; do
  size=$(($(stat -c %s "runs/$f") + 1024))  # a tar header and padding per file
  if ((total + size > RETURN_BYTES)); then echo "left behind (over the $RETURN_BYTES bytes that come back): runs/$f"; continue; fi
  keep+=("$f") total=$((total + size))
done < <(cd runs && find "${names[@]}" -type f ! -name '*.aem' && find "${names[@]}" -type f -name '*.aem')
(cd runs && tar cf - "${keep[@]}") | split -b 15M - "$OUT/runs.tar.part_"
ls -l "$OUT"
echo "done in $(($(date +%s) - T0)) s"
