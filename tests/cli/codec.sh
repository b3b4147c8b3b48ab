# A codec of two networks behind one quality knob (models/NAME.codec.json): -m NAME finds the manifest, each
# quality codes with its member, files decode by the member alone, --size searches across the hand-over,
# `models` and `rd` show one codec, and a broken manifest or a missing member fails cleanly.
source "$(dirname "$0")/lib.bash"
mkdir -p imgs
# Two random-weight networks of the same weights under two names, so that file size rises with the knob
# across the hand-over (the wide member continues where the narrow one stops: its own qualities 60-100).
"$MAKE_MODEL" models/test-narrow.aem channel test-narrow 2 knob=50 || exit 1
"$MAKE_MODEL" models/test-wide.aem channel test-wide 2 knob=50 || exit 1
cat >models/test-pair.codec.json <<'JSON'
{"format": "aecodec-codec", "version": 1, "name": "test-pair", "default_quality": 40,
 "members": [{"model": "test-narrow", "quality": [1, 60], "model_quality": [1, 60]},
             {"model": "test-wide", "quality": [60, 100], "model_quality": [60, 100]}]}
JSON
make_bmp imgs/a.bmp 96 64

out=$("$AEC" encode imgs/a.bmp -o lo.aec -m test-pair -q 30) || fail "encode -q 30: $out"
grep -q "model test-narrow .*quality 30 (codec test-pair: test-narrow at its quality 30)" <<<"$out" ||
  fail "quality 30 is not the narrow member's: $out"
out=$("$AEC" encode imgs/a.bmp -o hi.aec -m models/test-pair.codec.json -q 80) || fail "encode -q 80: $out"
grep -q "model test-wide .*quality 80 (codec test-pair: test-wide at its quality 80)" <<<"$out" ||
  fail "quality 80 is not the wide member's: $out"
# The same bytes as the member itself at its own quality.
"$AEC" -q encode imgs/a.bmp -o member.aec -m test-wide -q 80 || fail "encode -m test-wide"
cmp -s hi.aec member.aec || fail "the codec at 80 and its wide member at 80 write different files"
out=$("$AEC" encode imgs/a.bmp -o def.aec -m test-pair) || fail "encode at the default"
grep -q "quality 40 " <<<"$out" || fail "the codec's default quality is not 40: $out"

# Decoding: by the member the file names, with or without -m of the codec; the images are the member's.
"$AEC" -q decode hi.aec -o hi.png || fail "decode without -m"
"$AEC" -q decode hi.aec -o hi-codec.png -m test-pair || fail "decode -m test-pair"
"$AEC" -q decode hi.aec -o hi-member.png -m test-wide || fail "decode -m test-wide"
cmp -s hi.png hi-codec.png && cmp -s hi.png hi-member.png || fail "the three decodes differ"
"$MAKE_MODEL" models/test-other.aem hyperprior test-other 4 || exit 1
"$AEC" -q encode imgs/a.bmp -o other.aec -m test-other || fail "encode -m test-other"
expect_error "not a member of codec 'test-pair'" "$AEC" decode other.aec -o none.png -m test-pair
[ ! -e none.png ] || fail "a refused decode left none.png"

# --size across the hand-over: a budget only the wide member's span fits.
"$AEC" -q encode imgs/a.bmp -o top.aec -m test-pair -q 100 || fail "encode -q 100"
"$AEC" -q encode imgs/a.bmp -o edge.aec -m test-pair -q 60 || fail "encode -q 60"
top=$(stat -c %s top.aec) edge=$(stat -c %s edge.aec)
[ "$top" -gt "$edge" ] || fail "quality 100 ($top bytes) not larger than quality 60 ($edge bytes)"
out=$("$AEC" encode imgs/a.bmp -o fit.aec -m test-pair --size $((top - 1))) || fail "--size: $out"
[ "$(stat -c %s fit.aec)" -lt "$top" ] || fail "--size $((top - 1)) gave $(stat -c %s fit.aec) bytes"
grep -q "model test-wide" <<<"$out" || fail "--size near the top did not use the wide member: $out"

# One codec in `models` (its members not listed apart) and one curve in `rd`.
models=$("$AEC" models)
grep -q "test-pair .*over 2 networks: test-narrow 1-60, test-wide 60-100" <<<"$models" ||
  fail "models does not show the codec: $models"
grep -q "^  test-wide " <<<"$models" && fail "models lists the wide member on its own: $models"
"$AEC" -q rd imgs -o rd -m test-pair --codecs none >/dev/null || fail "rd -m codec"
python3 - <<'PY' || fail "rd.json: one curve over both members"
import json
r = json.load(open("rd/rd.json"))
(c,) = [c for c in r["curves"] if c["name"] == "test-pair"]
labels = [l["label"] for l in c["levels"]]
# Each member's trained qualities inside its span, and both sides of the hand-over.
for want in ["test-pair Q1 (test-narrow Q1)", "test-pair Q60 (test-narrow Q60)",
             "test-pair Q60.01 (test-wide Q60.01)", "test-pair Q100 (test-wide Q100)"]:
    assert want in labels, (want, labels)
assert not any("test-narrow Q100" in l or "test-wide Q1)" in l for l in labels), labels
PY

out=$("$AEC" eval -m test-pair -q 80 imgs) || fail "eval -m test-pair: $out"
grep -q "codec test-pair at quality 80: test-wide at its quality 80" <<<"$out" || fail "eval's member: $out"

# info: the manifest's spans, and a file's member quality.
"$AEC" info --json models/test-pair.codec.json | python3 -c '
import json, sys
j = json.load(sys.stdin)
assert j["kind"] == "codec" and j["default_quality"] == 40, j
assert j["members"]["test-wide"] == {"quality": [60, 100], "model_quality": [60, 100]}, j
' || fail "info of a manifest"
"$AEC" info --json hi.aec | python3 -c '
import json, sys
j = json.load(sys.stdin)
assert j["model"] == "test-wide" and j["quality"] == 80, j
' || fail "info of a file made through the codec"

# A broken manifest, and one whose member is missing: an error that says so, no file.
sed 's/"version": 1/"version": 7/' models/test-pair.codec.json >models/test-bad.codec.json
expect_error "version 7 is not supported" "$AEC" encode imgs/a.bmp -o none.aec -m test-bad
sed 's/test-wide/test-gone/' models/test-pair.codec.json >models/test-gone.codec.json
"$AEC" -q encode imgs/a.bmp -o ok.aec -m test-gone -q 30 || fail "the narrow span needs no wide member"
expect_error "no model 'test-gone'" "$AEC" encode imgs/a.bmp -o none.aec -m test-gone -q 90
[ ! -e none.aec ] || fail "a failed encode left none.aec"
finish
