# Recipe A/B summaries (scripts/ab-summary.py, used by scripts/data-ab.sh and scripts/crop-ab.sh) on trainer
# logs written here: the BD-rate of an arm whose every quality takes 10 % fewer bits for the same PSNR, the
# family table's path leads, and the crop A/B's recipe lookup and its refusals.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)  # before lib.bash moves to the scratch folder
source "$(dirname "$0")/lib.bash"
SUMMARY=$ROOT/scripts/ab-summary.py

# log.csv rows as the trainer writes them: valid,step,cpu_s,wall_s,lr,loss,bpp,psnr,img_s,quality,extras
write_log() {  # write_log DIR RATE_FACTOR [EXTRAS]
  mkdir -p "$1"
  python3 - "$1/log.csv" "$2" "${3:-}" <<'PY'
import sys
path, factor, extras = sys.argv[1], float(sys.argv[2]), sys.argv[3]
with open(path, "w") as f:
    f.write("kind,step,cpu_s,wall_s,lr,loss,bpp,psnr,img_s,quality,extra\n")
    for step, shift in ((500, 1.0), (1000, 0.0)):  # the summary reads the last validation only
        for q, (bpp, psnr) in enumerate(((0.08, 23.2), (0.25, 27.1), (0.6, 29.9), (1.15, 30.9)), 1):
            f.write("valid,%d,1,1,0.0001,,%.6f,%.4f,,%d,%s\n" % (step, bpp * factor + shift, psnr, q, extras))
PY
}

write_log ab/a 1.0
write_log ab/b 0.9
out=$(python3 "$SUMMARY" ab a b) || fail "summary of two channel arms failed"
grep -q '^| a | 0.0800 / 23.20 | 0.2500 / 27.10 | 0.6000 / 29.90 | 1.1500 / 30.90 | (anchor) |$' <<<"$out" ||
  fail "the anchor's row: $out"
grep -q '^| b | .* | -10.00 % \[23.2-30.9 dB\] |$' <<<"$out" || fail "10 % fewer bits is not -10.00 %: $out"
write_log ab/c 1.0 \
  "cross_m2h=24.5;baseline_m2h_bicubic=24.2;cross_h2m=28.1;baseline_h2m_box=28.0;medium=28.4;medium_bpp=1.0"
out=$(python3 "$SUMMARY" ab c) || fail "summary of a family arm failed"
grep -q '^| c | 1 | 24.500 / 24.200 | +0.300 | 28.100 / 28.000 | +0.100 | 1.000 / 28.40 |$' <<<"$out" ||
  fail "the family row: $out"
expect_error "no arm of ab has a validation" python3 "$SUMMARY" ab missing

grep -q -- '--crop 256 --batch 2' <<<"$(bash "$ROOT/scripts/train-forever.sh" recipe channel)" ||
  fail "the channel recipe is not on 256x256 crops"
expect_error "no run named 'nope'" bash "$ROOT/scripts/train-forever.sh" recipe nope
expect_error "no run named ''" bash "$ROOT/scripts/train-forever.sh" recipe
mkdir -p not-a-run
expect_error "is not a run directory" bash "$ROOT/scripts/crop-ab.sh" channel "$PWD/not-a-run"
finish
