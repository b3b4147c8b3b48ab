# aecodec rd on real files: every factorized and hyperprior model of --models-dir, one curve per model name
# without its -qN suffix (two factorized levels make a curve with a BD-rate; one hyperprior model is a
# one-point curve whose BD-rate is read at its PSNR), other architectures left out unless --arch names them.
source "$(dirname "$0")/lib.bash"
mkdir -p m imgs
"$MAKE_MODEL" m/test-q1.aem factorized test-q1 2 || exit 1
"$MAKE_MODEL" m/test-q2.aem factorized test-q2 3 || exit 1
"$MAKE_MODEL" m/test-hyperprior.aem hyperprior test-hyperprior 4 || exit 1
"$MAKE_MODEL" m/test-conv.aem conv test-conv 5 || exit 1
make_bmp imgs/a.bmp 64 48
make_bmp imgs/b.bmp 40 40
"$AEC" -q rd imgs -o out --models-dir m --codecs none >/dev/null || fail "rd"
for f in README.md rd.json rd-points.csv rd-psnr.svg; do [ -s "out/$f" ] || fail "no out/$f"; done
python3 - <<'PY' || fail "rd.json"
import json
r = json.load(open("out/rd.json"))
curves = {c["name"]: c for c in r["curves"]}
assert set(curves) == {"test", "test-hyperprior"}, sorted(curves)
assert len(curves["test"]["levels"]) == 2 and len(curves["test-hyperprior"]["levels"]) == 1
PY
"$AEC" -q rd imgs -o out2 --models-dir m --codecs none --arch conv >/dev/null || fail "rd --arch conv"
python3 -c "import json; c = json.load(open('out2/rd.json'))['curves']; assert [x['name'] for x in c] == ['test-conv'], c" ||
  fail "--arch conv"
# A cross-resolution family gets the cross-decoding table: both paths, each next to its reference paths from
# the same bitstream (down: box and plain bicubic to half size; up: bicubic x2), with finite scores.
"$MAKE_MODEL" m/fam-medium.aem factorized fam-medium 2 fam1 medium || exit 1
"$MAKE_MODEL" m/fam-high.aem factorized fam-high 3 fam1 high || exit 1
"$AEC" -q rd imgs -o out3 --models-dir m --codecs none --family fam1 >/dev/null || fail "rd --family"
python3 - <<'PY' || fail "the family table in rd.json"
import json, math
r = json.load(open("out3/rd.json"))
fam = r["families"][0]
assert fam["id"] == "fam1", fam["id"]
for f in [fam["mean"]] + fam["images"]:
    down, up = f["high_to_medium"], f["medium_to_high"]
    paths = [down[k] for k in ("cross_decode", "decode_then_downscale2x_box", "decode_then_bicubic_half")]
    paths += [up[k] for k in ("cross_decode", "decode_then_bicubic_x2")]
    for p in paths:
        assert math.isfinite(p["psnr"]) and p["psnr"] > 0 and 0 < p["ms_ssim"] <= 1 and p["decode_ms"] > 0, p
    # The two reference paths downscale the same decoded image with different filters.
    assert down["decode_then_downscale2x_box"]["psnr"] != down["decode_then_bicubic_half"]["psnr"], down
PY
grep -q 'decode at full size → bicubic to half size' out3/README.md || fail "no bicubic row in out3/README.md"
finish
