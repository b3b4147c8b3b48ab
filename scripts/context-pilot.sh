#!/usr/bin/env bash
# The context-model pilot of docs/context-model.md: the shipped hyperprior-q5 continued as it is, the
# channel-conditional model (--arch channel) and the channel model with a checkerboard context in each slice
# (--arch channel-cb), all three warm-started from models/hyperprior-q5.aem with the same recipe (lambda 0.013,
# crop 128, batch 8, lr 1e-4, seed 1), trained side by side for the same wall time, one thread each, at nice 19:
# running them at once gives each the same share of the two cores and the same interference from whatever
# else runs, which back-to-back runs would not. Compare them at equal CPU time (log.csv's cpu_s).
#
#   scripts/context-pilot.sh [MINUTES]     # wall minutes per run (default 60); an interrupted pilot resumes
#   scripts/context-pilot.sh summary       # the table only
#
# Then each run's validation is repeated alone with one thread for the entropy model's forward time
# (entropy_ms: float h_s + slice nets per validation image; hs_ms: h_s alone, the hyperprior's part; gs_ms:
# the synthesis, for scale).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${AEC_PILOT_DIR:-runs/context-pilot}
DATA=${AEC_TRAIN_DATA:-../shared/data/train}
VALID=${AEC_VALID_DATA:-../shared/data/valid}
BIN=$OUT/bin/aecodec-train  # a private copy: a rebuild of the tree must not replace it mid-run
ARCHS=(hyperprior channel channel-cb)
RECIPE=(--lambda 0.013 --crop 128 --batch 8 --N 64 --M 96 --seed 1 --valid-every 500
  --init models/hyperprior-q5.aem --data "$DATA" --valid "$VALID")

summary() {
  /usr/bin/python3 - "$OUT" "${ARCHS[@]}" <<'PY'
import csv, json, os, sys
out, archs = sys.argv[1], sys.argv[2:]
lam = 0.013
def rd(bpp, psnr): return bpp + lam * 65025 * 10 ** (-psnr / 10)
def row(name, cpu, steps, bpp, psnr, ems, base):
    loss = rd(bpp, psnr)
    d = "" if base is None else "%+.2f %%" % (100 * (loss / base - 1))
    print("| %s | %s | %s | %.4f | %.3f | %.4f | %s | %s |" % (name, cpu, steps, bpp, psnr, loss, d, ems))
print("| candidate | CPU-min | steps | bpp | PSNR dB | RD loss | vs baseline | entropy ms/image |")
print("|---|---|---|---|---|---|---|---|")
start = os.path.join(out, "start", "valid.json")
if os.path.exists(start):
    v = json.load(open(start)); row("hyperprior-q5 as shipped (step 0)", "0", "0", v["bpp"], v["psnr"], "", None)
base = None
for a in archs:
    p = os.path.join(out, a, "log.csv")
    if not os.path.exists(p): continue
    rows = [r for r in csv.DictReader(open(p)) if r["kind"] == "valid"]
    if not rows: continue
    r = rows[-1]
    # timing: the smallest of the repeated measurements (the others' loads only ever add time)
    tj = {}
    for i in range(1, 4):
        t = os.path.join(out, "%s.timing.%d.json" % (a, i))
        if os.path.exists(t) and os.path.getsize(t) > 0:
            for k, v in json.load(open(t)).items():
                if k.endswith("_ms"): tj[k] = min(v, tj.get(k, v))
    ems = "%.1f (g_s %.1f)" % (tj["entropy_ms"], tj["gs_ms"]) if "entropy_ms" in tj else ""
    bpp, psnr = float(r["bpp"]), float(r["psnr"])
    if a == "hyperprior": base = rd(bpp, psnr)
    row(a, "%.1f" % (float(r["cpu_s"]) / 60), r["step"], bpp, psnr, ems, None if a == "hyperprior" else base)
    # the hyperprior's entropy time: its h_s alone, measured in the context models' validation
    if "hs_ms" in tj:
        print("| (%s's h_s alone: the hyperprior's entropy model) | | | | | | | %.1f |" % (a, tj["hs_ms"]))
print()
print("Validation during training (RD loss vs CPU minutes):")
print()
print("| candidate | step | CPU-min | bpp | PSNR dB | RD loss |")
print("|---|---|---|---|---|---|")
for a in archs:
    p = os.path.join(out, a, "log.csv")
    if not os.path.exists(p): continue
    for r in csv.DictReader(open(p)):
        if r["kind"] != "valid": continue
        bpp, psnr = float(r["bpp"]), float(r["psnr"])
        print("| %s | %s | %.1f | %.4f | %.3f | %.4f |" % (a, r["step"], float(r["cpu_s"]) / 60, bpp, psnr, rd(bpp, psnr)))
PY
}

if [ "${1:-}" = summary ]; then summary; exit 0; fi
MINUTES=${1:-60}
mkdir -p "$OUT/bin"
[ -x "$BIN" ] || cp build/release/native/train/aecodec-train "$BIN"

# The starting point: one step at a vanishing learning rate, then the trainer's own validation.
[ -f "$OUT/start/valid.json" ] ||
  nice -n 19 "$BIN" train --arch hyperprior "${RECIPE[@]}" --threads 1 --lr 1e-12 --steps 1 --out "$OUT/start" \
    >"$OUT/start.log" 2>&1

pids=()
for a in "${ARCHS[@]}"; do
  if [ -f "$OUT/$a/checkpoint.pt" ]; then args=(--out "$OUT/$a" --resume); else args=(--arch "$a" "${RECIPE[@]}" --lr 1e-4 --out "$OUT/$a"); fi
  OMP_WAIT_POLICY=PASSIVE nice -n 19 "$BIN" train "${args[@]}" --threads 1 --minutes "$MINUTES" >>"$OUT/$a.log" 2>&1 &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done

# Timing with nothing else of ours running, one thread, three times (the summary keeps the smallest).
for i in 1 2 3; do
  for a in "${ARCHS[@]}"; do
    OMP_WAIT_POLICY=PASSIVE "$BIN" validate --run "$OUT/$a" --threads 1 >"$OUT/$a.timing.$i.json" 2>/dev/null || true
  done
done
summary
