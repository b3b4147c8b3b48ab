#!/usr/bin/env bash
# Data-parallel throughput on this machine: two ranks of one thread each (scripts/train-parallel.sh 2) against
# one process of two threads (OpenMP's default waiting, and OMP_WAIT_POLICY=PASSIVE as train-forever runs it),
# on the narrow hyperprior recipe (N=64, M=96, batch 8 of 128x128 crops, bf16 + channels-last), with the
# background training paused while it measures.
#   bench/train-parallel.sh [ROUNDS]   (default 2; env SECONDS_PER_RUN: 25; DATA: ../shared/data/train)
# Each run trains a fresh run directory for SECONDS_PER_RUN; images/s and images per CPU-second come from rank
# 0's log.csv after step 20 (cpu_s counts every rank). Runs alternate, ROUNDS times each; the table shows the
# best round of each (other sessions' work comes and goes) and every round in brackets. The training images:
# the first 100 of DATA (loading all of them would take longer than a run). Raw outputs:
# build/bench/train-parallel/.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-2}
seconds=${SECONDS_PER_RUN:-25}
data=${DATA:-../shared/data/train}
T=build/release/native/train/aecodec-train
[ -x "$T" ] || { echo "bench/train-parallel.sh: $T is missing (cmake --build build/release --target aecodec-train)" >&2; exit 1; }
out=build/bench/train-parallel
rm -rf "$out" && mkdir -p "$out/data"
find "$data" -type f \( -iname '*.png' -o -iname '*.jpg' -o -iname '*.jpeg' \) | sort | head -100 |
  while read -r f; do ln -s "$(realpath "$f")" "$out/data/$(echo "$f" | md5sum | cut -c1-8)-$(basename "$f")"; done

scripts/train-forever.sh pause 2>/dev/null || true
( while sleep 5; do scripts/train-forever.sh pause 2>/dev/null || true; done ) &
repause=$!
# As bench/train-step.sh: this session's autogroup at nice -19 (root only), so other sessions' work takes less.
group_nice=$(sed -n 's/.* nice \(-\?[0-9]*\)$/\1/p' /proc/self/autogroup 2>/dev/null || true)
if [ -n "$group_nice" ] && echo -19 2>/dev/null >/proc/self/autogroup; then
  priority="session group at nice -19 (was $group_nice)"
else
  priority="session group nice unchanged (needs root)"; group_nice=
fi
restore() {
  [ -z "$group_nice" ] || echo "$group_nice" >/proc/self/autogroup 2>/dev/null || true
  kill $repause 2>/dev/null || true; wait $repause 2>/dev/null || true
  sleep 0.5; scripts/train-forever.sh resume 2>/dev/null || true
}
trap restore EXIT

echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; $priority"
minutes=$(echo "scale=4; $seconds / 60" | bc)
R=(--arch hyperprior --N 64 --M 96 --lambda 0.013 --crop 128 --batch 8 --lr 1e-4 --bf16 --channels-last
  --data "$out/data" --valid-every 0 --log-every 10 --checkpoint-minutes 100 --minutes "$minutes")
# CPU time the rest of the machine used during a run, in cores: /proc/stat's busy time minus this run's.
busy() { read -r _ a b c d e f g _ </proc/stat; echo $((a + b + c + e + f + g)); }
hz=$(getconf CLK_TCK)
for r in $(seq 1 "$rounds"); do
  for cfg in two one one-passive; do
    dir=$out/$cfg-$r
    b0=$(busy) t0=$(date +%s.%N)
    case $cfg in
      two) cmd=(env AEC_TRAIN_BIN="$T" scripts/train-parallel.sh 2 "${R[@]}" --out "$dir") ;;
      one) cmd=("$T" train "${R[@]}" --threads 2 --out "$dir") ;;
      one-passive) cmd=(env OMP_WAIT_POLICY=PASSIVE "$T" train "${R[@]}" --threads 2 --out "$dir") ;;
    esac
    /usr/bin/time -o "$dir.time" -f "%U %S" "${cmd[@]}" >"$dir.log" 2>&1
    b1=$(busy) t1=$(date +%s.%N)
    read -r u s <"$dir.time"
    other=$(echo "scale=2; (($b1 - $b0) / $hz - $u - $s) / ($t1 - $t0)" | bc)
    awk -F, -v cfg="$cfg" -v r="$r" -v other="$other" '
      $1 == "train" { n++; if (n == 2) { s0 = $2; w0 = $3; c0 = $4 } if (n > 2) { s1 = $2; w1 = $3; c1 = $4 } }
      END { if (s1 > s0) printf "%s %d %.1f %.1f %s\n", cfg, r, 8 * (s1 - s0) / (w1 - w0), 8 * (s1 - s0) / (c1 - c0), other
            else printf "%s %d 0 0 %s\n", cfg, r, other }' "$dir/log.csv" | tee -a "$out/results.txt"
  done
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| configuration | images/s | images per CPU-second | other work (cores) |"
echo "|---|---|---|---|"
for cfg in two one one-passive; do
  label=$(case $cfg in two) echo "two ranks, 1 thread each" ;; one) echo "one process, 2 threads" ;;
    one-passive) echo "one process, 2 threads, OMP_WAIT_POLICY=PASSIVE" ;; esac)
  awk -v cfg="$cfg" -v label="$label" '$1 == cfg { n++; ips[n] = $3; ipc[n] = $4; o[n] = $5; if ($3 > ips[best]) best = n }
    END { all = ""; for (i = 1; i <= n; i++) all = all (i > 1 ? ", " : "") ips[i]
          printf "| %s | %.1f (%s) | %.1f | %s |\n", label, ips[best], all, ipc[best], o[best] }' "$out/results.txt"
done
