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
finish
