#!/usr/bin/env bash
# Training-step speed: the trainer (`aecodec-train bench`) against the same model and step in plain PyTorch
# (bench/train_step_pytorch.py, Debian's python3-torch: the same LibTorch 1.13 the trainer links), on this
# machine, with the background training paused while it measures.
#   bench/train-step.sh [ROUNDS]      (default 2; env STEPS, WARMUP, THREADS: 10, 2, 2; AEC_PYTHON: the
#                                      interpreter with torch, default /usr/bin/python3)
# The model is the factorized codec (N=128, M=192) on batch 8 of 128x128 crops, Adam, fp32 and bf16 autocast +
# channels-last. The two run alternately, ROUNDS times each (the machine is shared, so one run can be unlucky).
# Prints each run's median ms/step, then a table with the best round of each side (other sessions' builds
# come and go) and the ratio aecodec / PyTorch (below 1: the trainer is faster).
# Raw outputs: build/bench/train-step/.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-2}
steps=${STEPS:-10}
warmup=${WARMUP:-2}
threads=${THREADS:-2}
T=build/release/native/train/aecodec-train
PY=${AEC_PYTHON:-/usr/bin/python3}  # Debian's interpreter: python3-torch installs there, whatever python3 is first on PATH
if ! "$PY" -c 'import torch' 2>/dev/null; then
  echo "bench/train-step.sh: python3-torch is not installed, so there is nothing to compare against;"
  echo "  install Debian's package (apt-get install python3-torch) and run this again. Skipped."
  exit 0
fi
[ -x "$T" ] || { echo "bench/train-step.sh: $T is missing (cmake --build build/release --target aecodec-train)" >&2; exit 1; }
out=build/bench/train-step
rm -rf "$out" && mkdir -p "$out"

scripts/train-forever.sh pause 2>/dev/null || true
# pause again every 5 s: keeps the pause flag fresh (the loop starts no new slice or export while it is) and
# stops any trainer process that was already starting
( while sleep 5; do scripts/train-forever.sh pause 2>/dev/null || true; done ) &
repause=$!
# The kernel's autogroup scheduling shares the CPUs between sessions first and applies nice only inside one,
# so a niced process of another session (a fuzzer, a build) still takes its session's full share, and two
# threads that get one core between them spend their time in OpenMP barriers. The measurement runs with this
# session's group at nice -19 (root only; restored on exit), so both sides see the same, nearly idle machine.
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

echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; $threads threads"
# Whatever else is busy (the trainer is stopped by now): a fuzzer, other sessions' builds.
others=$(top -b -n 2 -d 1 | awk '/^top -/ { n++ } n == 2 && $1 ~ /^[0-9]+$/ && $9 >= 10 { print $1, $4, int($9) }' |
  while read -r pid ni cpu; do echo -n "$(cat /proc/"$pid"/comm 2>/dev/null) (nice $ni, $cpu% CPU) "; done || true)
echo "other load while measuring: ${others:-none}; load average $(cut -d' ' -f1-3 /proc/loadavg); $priority"
args=(--N 128 --M 192 --batch 8 --crop 128 --steps "$steps" --warmup "$warmup" --threads "$threads")
for r in $(seq 1 "$rounds"); do
  echo "round $r: aecodec-train bench"
  "$T" bench --arch factorized "${args[@]}" | tee "$out/aecodec-$r.txt" | sed 's/^/  /'
  echo "round $r: PyTorch"
  "$PY" bench/train_step_pytorch.py "${args[@]}" --json "$out/pytorch-$r.json" | sed 's/^/  /'
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

"$PY" - "$out" "$rounds" <<'PY'
import json, re, sys
out, rounds = sys.argv[1], int(sys.argv[2])
modes = [("fp32", "fp32"), ("bf16", "bf16 + channels-last")]
cpp = {m: [] for m, _ in modes}
py = {m: [] for m, _ in modes}
for r in range(1, rounds + 1):
    text = open(f"{out}/aecodec-{r}.txt").read()
    head = re.search(r"(\d+) parameters, ([\d.]+) GMAC", text)
    for m, label in modes:
        cpp[m].append(float(re.search(re.escape(label) + r"\s+[\d.]+ ms/step \(median ([\d.]+)\)", text).group(1)))
    j = json.load(open(f"{out}/pytorch-{r}.json"))
    for m, _ in modes:
        py[m].append(j["modes"][m]["median_ms"])
    same = int(head.group(1)) == j["parameters"] and abs(float(head.group(2)) - j["gmac_per_image"]) < 0.005
    if not same:
        sys.exit(f"the models differ: aecodec {head.group(1)} parameters, {head.group(2)} GMAC; "
                 f"PyTorch {j['parameters']}, {j['gmac_per_image']:.2f} GMAC")
print(f"\nsame model: {head.group(1)} parameters, {head.group(2)} GMAC forward per image in both")
print("ms/step: the best round's median (every round's in brackets); ratio below 1: aecodec is faster\n")
print("| precision | aecodec-train (ms/step) | PyTorch 1.13 (ms/step) | aecodec / PyTorch |")
print("|---|---|---|---|")
for m, label in modes:
    a, p = min(cpp[m]), min(py[m])
    runs = lambda v: ", ".join(f"{x:.0f}" for x in v)
    print(f"| {label} | {a:.0f} ({runs(cpp[m])}) | {p:.0f} ({runs(py[m])}) | {a / p:.2f} |")
PY
