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
# With JPEG: each learned level's PSNR against JPEG's at its rate, linear between JPEG's points around it
# (null outside JPEG's measured rates), in rd.json and the README's per-level table.
# Images large enough that JPEG's lowest rates fall among the test models' (0.1-0.8 bpp here).
mkdir -p imgs4 && make_bmp imgs4/a.bmp 160 128 && make_bmp imgs4/b.bmp 128 128
"$AEC" -q rd imgs4 -o out4 --models-dir m --codecs jpeg >/dev/null || fail "rd --codecs jpeg"
python3 - <<'PY' || fail "psnr_gain_at_rate_db in rd.json"
import json, math
r = json.load(open("out4/rd.json"))
jpeg = sorted((l["mean"]["bpp"], l["mean"]["psnr"]) for c in r["curves"] if c["name"] == "jpeg" for l in c["levels"])
assert len(jpeg) >= 2, jpeg
checked = outside = 0
for c in r["curves"]:
    if c["name"] == "jpeg":
        continue
    for l in c["levels"]:
        b, p, got = l["mean"]["bpp"], l["mean"]["psnr"], l["psnr_gain_at_rate_db"]["jpeg"]
        inside = [(i, j) for i, j in zip(jpeg, jpeg[1:]) if i[0] <= b <= j[0]]
        if not inside:
            assert got is None, (l["label"], b, got)
            outside += 1
            continue
        (b0, p0), (b1, p1) = inside[0]
        want = p - (p0 + (p1 - p0) * (b - b0) / (b1 - b0))
        assert abs(got - want) < 1e-9, (l["label"], got, want)
        checked += 1
print("levels checked against JPEG at their rate:", checked, "outside its rates:", outside)
assert checked >= 1 and outside >= 1, (checked, outside)
PY
grep -q '^## Each level against the classic codecs at its rate' out4/README.md || fail "no per-level table in README.md"
grep -qE '^\| test \| test-q1 \| [0-9.]+ \| [0-9.]+ \| [+-][0-9]+\.[0-9]{2} \|$' out4/README.md ||
  fail "no test-q1 row with a difference in the per-level table"
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
