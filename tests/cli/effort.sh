# --effort as a user meets it: a refined file decodes with the unchanged decoder and the decoder's own
# messages; bad efforts and models without a rate model are refused without leaving a file; `rd --effort 0,1`
# reports effort 1's BD-rate against effort 0.
MODELS=$(cd "$(dirname "$0")/../../models" && pwd)
source "$(dirname "$0")/lib.bash"
cp "$MODELS/hyperprior-q4.aem" "$MODELS/hyperprior-q5.aem" models/
"$MAKE_MODEL" models/test-conv.aem conv test-conv 5 || exit 1
mkdir -p imgs
make_bmp imgs/a.bmp 72 56
make_bmp imgs/b.bmp 48 64

out=$("$AEC" encode imgs/a.bmp -o a1.aec -m hyperprior-q5 --effort 1) || fail "encode --effort 1"
grep -q "effort 1" <<<"$out" || fail "encode does not report its effort: $out"
"$AEC" -q encode imgs/a.bmp -o a0.aec -m hyperprior-q5 || fail "encode"
dec=$("$AEC" decode a1.aec -o a1.png --reference imgs/a.bmp) || fail "decode of an effort-1 file"
[ -s a1.png ] || fail "no decoded image"
grep -q "PSNR" <<<"$dec" || fail "decode printed no PSNR: $dec"

expect_error "effort" "$AEC" encode imgs/a.bmp -o bad.aec -m hyperprior-q5 --effort 10
expect_error "effort" "$AEC" encode imgs/a.bmp -o bad.aec -m hyperprior-q5 --effort -1
expect_error "lambda" "$AEC" encode imgs/a.bmp -o bad.aec -m test-conv --effort 1
[ ! -e bad.aec ] || fail "a refused encode left bad.aec"
ls ./*.tmp* >/dev/null 2>&1 && fail "a temporary file was left"

"$AEC" -q rd imgs -o rd --models-dir models -m hyperprior-q4 -m hyperprior-q5 --effort 0,1 --codecs none \
  >/dev/null || fail "rd --effort 0,1"
python3 - <<'PY' || fail "rd.json lacks effort 1's BD-rate against effort 0"
import json
r = json.load(open("rd/rd.json"))
curves = {c["name"]: c for c in r["curves"]}
assert set(curves) == {"hyperprior effort 0", "hyperprior effort 1"}, sorted(curves)
b = curves["hyperprior effort 1"]["bd_rate"]["effort 0"]
assert b["percent"] is not None and b["percent"] < 5, b
PY
grep -q '^## Encoder effort against effort 0' rd/README.md || fail "no effort table in rd/README.md"
finish
