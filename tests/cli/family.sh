# A family built on a model file (as the shipped family on `channel`): the model's own files, which name no
# family, decode at half size with the medium member (cross-decode), the medium member's files at full size
# with the model (or the member's up decoder when it has one); `--reference` on a half-size decode compares with the reference box-downscaled; another
# version of the model is refused; `models` lists the family with its high member; `rd --family` measures it
# at each trained quality, the high member against the best single model at its rate.
source "$(dirname "$0")/lib.bash"
"$MAKE_MODEL" models/test-ch.aem channel test-ch 3 m=16 knob || exit 1
"$MAKE_MODEL" models/test-ch-medium.aem channel test-ch-medium 2 m=16 knob \
  entropy=models/test-ch.aem high=models/test-ch.aem no-lrp || exit 1
make_bmp in.bmp 64 48
make_bmp half.bmp 32 24

"$AEC" -q encode in.bmp -m test-ch -q 40 -o high.aec || fail "encode with the high member"
out=$("$AEC" cross-decode high.aec -m test-ch-medium -o down.png --reference in.bmp) || fail "cross-decode down"
grep -q "down.png: 32x24" <<<"$out" || fail "the down path is not half size: $out"
grep -q "against the reference box-downscaled to half size" <<<"$out" || fail "no box-downscaled reference: $out"
expect_error "use cross-decode" "$AEC" decode high.aec -m test-ch-medium -o x.png

"$AEC" -q encode half.bmp -m test-ch-medium -q 40 -o medium.aec || fail "encode with the medium member"
out=$("$AEC" cross-decode medium.aec -m test-ch -o up.png) || fail "cross-decode up"
grep -q "up.png: 64x48" <<<"$out" || fail "the up path is not full size: $out"
# Both at the file's quality.
"$AEC" info medium.aec | grep -q "quality: *40" || fail "the medium file does not record quality 40"

# A medium member with an up decoder (here a copy of test-ch's decoder): cross-decoding its file at full size
# goes through the up decoder while the member is installed, and gives what test-ch's decoder gives.
"$MAKE_MODEL" models/test-ch-up.aem channel test-ch-up 2 m=16 knob \
  entropy=models/test-ch.aem high=models/test-ch.aem no-lrp up=models/test-ch.aem || exit 1
"$AEC" info models/test-ch-up.aem | grep -q "up_decoder_layers" || fail "info does not show the up decoder"
"$AEC" -q encode half.bmp -m test-ch-up -q 40 -o medium-up.aec || fail "encode with the up member"
out=$("$AEC" cross-decode medium-up.aec -m test-ch -o up1.png) || fail "cross-decode through the up decoder"
grep -q "up1.png: 64x48.*model test-ch-up .* (its up decoder)" <<<"$out" || fail "not the up decoder: $out"
mv models/test-ch-up.aem test-ch-up.aem
out=$("$AEC" cross-decode medium-up.aec -m test-ch -o up2.png) || fail "cross-decode without the member"
grep -q "model test-ch " <<<"$out" || fail "not the high member's decoder: $out"
cmp -s up1.png up2.png || fail "the up decoder (a copy of test-ch's decoder) decodes differently"
# rd's family table goes through it too, and says so.
mkdir -p up-imgs && cp in.bmp up-imgs/
"$AEC" -q rd up-imgs -o rd-up --codecs none -m models/test-ch.aem -m test-ch-up.aem --qualities 40 >/dev/null ||
  fail "rd with the up member"
python3 -c 'import json; f = json.load(open("rd-up/rd.json"))["families"][0]; assert f["medium"] == "test-ch-up" and f["up_decoder"], f' ||
  fail "rd's family table does not use the up decoder"
grep -q "test-ch-up latent → test-ch-up up decoder" rd-up/README.md || fail "rd/README.md does not name the up decoder"

out=$("$AEC" models) || fail "models"
grep -q "test-ch (high), test-ch-medium" <<<"$out" || fail "models does not list the family with its high: $out"

# A reference of another size is refused before any PNG is written.
make_bmp other.bmp 50 40
expect_error "the decoded image is 32x24" "$AEC" cross-decode high.aec -m test-ch-medium -o x.png --reference other.bmp

# rd --family: the family at each trained quality (the knob's four), the high member's own curve beside it.
mkdir -p imgs && cp in.bmp imgs/
"$AEC" -q rd imgs -o rd --codecs none --family "$("$AEC" info --json models/test-ch-medium.aem |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["family"]["id"])')" >/dev/null || fail "rd --family"
python3 - <<'PY' || fail "the family table in rd.json"
import json, math
r = json.load(open("rd/rd.json"))
fams = r["families"]
assert [round(f["quality"]) for f in fams] == [1, 34, 67, 100], [f.get("quality") for f in fams]
for f in fams:
    assert f["high"] == "test-ch" and f["medium"] == "test-ch-medium", f
    assert f["best_single"]["curve"] == "test-ch", f
    # The high member is that curve: at its own rate, the same PSNR.
    assert abs(f["mean"]["high"]["decode"]["psnr"] - f["best_single"]["psnr"]) < 1e-6, f
    assert math.isfinite(f["mean"]["high_to_medium"]["cross_decode"]["psnr"]), f
# The up path against the best curve at its own rate, where its rate lies within that curve's.
ups = [f["up_best_single"] for f in fams if "up_best_single" in f]
assert ups and all(u["curve"] == "test-ch" and math.isfinite(u["psnr"]) for u in ups), fams
PY
grep -q "^| family | Q | high bpp.* | up − best at its rate |" rd/README.md || fail "no per-quality family table in rd/README.md"

# Two families, one per base model (as family-medium on channel and family-wide-medium on channel-wide): a
# refused cross-decode names the installed model that takes the file, and writes nothing.
"$MAKE_MODEL" models/test-ch2.aem channel test-ch2 3 m=16 n=12 knob || exit 1
"$MAKE_MODEL" models/test-ch2-medium.aem channel test-ch2-medium 2 m=16 n=12 knob \
  entropy=models/test-ch2.aem high=models/test-ch2.aem no-lrp || exit 1
"$AEC" -q encode in.bmp -m test-ch2 -q 40 -o high2.aec || fail "encode with the second base"
expect_error "cross-decodes it is 'test-ch2-medium' (-m test-ch2-medium)" \
  "$AEC" cross-decode high2.aec -m test-ch-medium -o x.png
[ ! -e x.png ] || fail "a refused cross-decode left an output file"
"$AEC" -q cross-decode high2.aec -m test-ch2-medium -o down2.png || fail "cross-decode with the second family"
"$AEC" -q encode half.bmp -m test-ch2-medium -q 40 -o medium2.aec || fail "encode with the second medium"
expect_error "cross-decodes it is 'test-ch2' (-m test-ch2)" "$AEC" cross-decode medium2.aec -m test-ch -o x.png
[ ! -e x.png ] || fail "a refused cross-decode left an output file"
# Without -m, cross-decode takes that model: each family's medium member for its base's files, the base for
# the medium member's.
out=$("$AEC" cross-decode high.aec -o auto1.png) || fail "cross-decode without -m (family 1, down)"
grep -q "auto1.png: 32x24.*model test-ch-medium " <<<"$out" || fail "not test-ch-medium: $out"
out=$("$AEC" cross-decode high2.aec -o auto2.png) || fail "cross-decode without -m (family 2, down)"
grep -q "auto2.png: 32x24.*model test-ch2-medium " <<<"$out" || fail "not test-ch2-medium: $out"
cmp -s auto2.png down2.png || fail "without -m, not what -m test-ch2-medium decodes"
out=$("$AEC" cross-decode medium2.aec -o auto3.png) || fail "cross-decode without -m (family 2, up)"
grep -q "auto3.png: 64x48.*model test-ch2 " <<<"$out" || fail "not test-ch2: $out"
# rd over a codec of the two bases (test-ch up to knob 60, test-ch2 above, on its own 1-100): a family table
# per member, each inside its member's span, the second's rows also at the knob's quality.
cat >models/test-cc.codec.json <<'JSON'
{"format": "aecodec-codec", "version": 1, "name": "test-cc", "default_quality": 40,
 "members": [{"model": "test-ch", "quality": [1, 60], "model_quality": [1, 60]},
             {"model": "test-ch2", "quality": [60, 100], "model_quality": [1, 100]}]}
JSON
"$AEC" -q rd imgs -o rd-cc --codecs none -m models/test-cc.codec.json -m models/test-ch.aem \
  -m models/test-ch-medium.aem -m models/test-ch2.aem -m models/test-ch2-medium.aem >/dev/null || fail "rd, two families"
python3 - <<'PY' || fail "the two families' tables in rd.json"
import json
fams = json.load(open("rd-cc/rd.json"))["families"]
rows = [(f["medium"], round(f["quality"], 2), f.get("knob_quality")) for f in fams]
one = [r for r in rows if r[0] == "test-ch-medium"]
two = [r for r in rows if r[0] == "test-ch2-medium"]
assert [(q, k) for _, q, k in one] == [(1, None), (34, None), (60, None)], rows  # the knob's own qualities
assert [(q, k) for _, q, k in two] == [(1, 60), (34, 73.33), (67, 86.67), (100, None)], rows
PY
grep -q "| 34 (knob 73.33) |" rd-cc/README.md || fail "rd/README.md does not give the knob's quality"
rm models/test-cc.codec.json
mv models/test-ch2-medium.aem test-ch2-medium.aem
expect_error "no installed model cross-decodes this file" "$AEC" cross-decode high2.aec -o x.png
[ ! -e x.png ] || fail "a refused cross-decode left an output file"

# Another version of the high model (the same name, other weights) is not the medium member's high.
"$MAKE_MODEL" models/test-ch.aem channel test-ch 3 m=16 n=12 knob || exit 1
"$AEC" -q encode in.bmp -m test-ch -q 40 -o other.aec || fail "encode with the other version"
expect_error "not in a cross-resolution family" "$AEC" cross-decode other.aec -m test-ch-medium -o x.png
[ ! -e x.png ] || fail "a failed command left an output file"
finish
