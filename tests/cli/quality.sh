# The quality knob on the command line: -q picks a variable-rate model's rate (the file records it and decodes
# at it), --size and --psnr search it, single-rate models refuse all three, and failures leave no file;
# `models`, `info` and `rd --qualities --anchor` show the knob.
source "$(dirname "$0")/lib.bash"
mkdir -p imgs
"$MAKE_MODEL" models/test-knob.aem channel test-knob 4 knob=50 || exit 1
"$MAKE_MODEL" models/test-single.aem hyperprior test-single 4 || exit 1
make_bmp imgs/a.bmp 96 64
"$AEC" -q encode imgs/a.bmp -o lo.aec -m test-knob -q 10 || fail "encode -q 10"
"$AEC" -q encode imgs/a.bmp -o hi.aec -m test-knob -q 90 || fail "encode -q 90"
lo=$(stat -c %s lo.aec) hi=$(stat -c %s hi.aec)
[ "$hi" -gt "$lo" ] || fail "quality 90 ($hi bytes) not larger than quality 10 ($lo bytes)"
"$AEC" -q decode hi.aec -o hi.png || fail "decode finds the model and the quality"
[ -s hi.png ] || fail "no hi.png"
out=$("$AEC" encode imgs/a.bmp -o def.aec -m test-knob) || fail "encode at the default quality"
grep -q "quality 50" <<<"$out" || fail "the default quality is not printed: $out"

# --size: the largest quality that fits; too small a budget names the smallest size and writes nothing.
budget=$(((lo + hi) / 2))
out=$("$AEC" encode imgs/a.bmp -o fit.aec -m test-knob --size "$budget") || fail "--size $budget"
[ "$(stat -c %s fit.aec)" -le "$budget" ] || fail "--size $budget gave $(stat -c %s fit.aec) bytes"
grep -q "for at most $budget bytes" <<<"$out" || fail "--size does not print the chosen quality: $out"
expect_error "smallest file" "$AEC" encode imgs/a.bmp -o none.aec -m test-knob --size 10
[ ! -e none.aec ] || fail "a failed --size left none.aec"
"$AEC" -q encode imgs/a.bmp -o p.aec -m test-knob --psnr 5 || fail "--psnr 5"
expect_error "cannot reach" "$AEC" encode imgs/a.bmp -o none.aec -m test-knob --psnr 150
[ ! -e none.aec ] || fail "a failed --psnr left none.aec"
expect_error "single-rate" "$AEC" encode imgs/a.bmp -o none.aec -m test-single -q 50
expect_error "single-rate" "$AEC" encode imgs/a.bmp -o none.aec -m test-single --size 5000
[ ! -e none.aec ] || fail "a refused -q left none.aec"
expect_error "excludes" "$AEC" encode imgs/a.bmp -o none.aec -m test-knob -q 50 --size 5000

"$AEC" models | grep -q "test-knob.*variable-rate" || fail "models does not show the knob"
"$AEC" info --json models/test-knob.aem | python3 -c '
import json, sys
v = json.load(sys.stdin)["variable_rate"]
assert v["default_quality"] == 50 and v["trained_qualities"][0] == 1 and v["trained_qualities"][-1] == 100, v
' || fail "info --json variable_rate"
"$AEC" -q rd imgs -o rd -m test-knob -m test-single --qualities 10,50,90 --anchor test-single --codecs none \
  >/dev/null || fail "rd --qualities --anchor"
python3 - <<'PY' || fail "rd.json: knob levels and the anchor"
import json
r = json.load(open("rd/rd.json"))
curves = {c["name"]: c for c in r["curves"]}
knob = curves["test-knob"]
assert [l["model_quality"] for l in knob["levels"]] == sorted(l["model_quality"] for l in knob["levels"])
assert sorted(l["model_quality"] for l in knob["levels"]) == [10, 50, 90], knob["levels"]
PY
grep -q "## Against test-single" rd/README.md || fail "rd --anchor section"
finish
