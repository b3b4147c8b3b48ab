# encode -> decode of a 768x512 image through real files: sizes, printed bpp = file size, PSNR printed,
# info on both file kinds, eval table/JSON/CSV, decode without -m finds the installed model by id.
source "$(dirname "$0")/lib.bash"
"$MAKE_MODEL" models/test-factorized.aem factorized test-factorized 2 || exit 1
echo test-factorized > models/DEFAULT
make_bmp in.bmp 768 512
out=$("$AEC" encode in.bmp -o out.aec) || fail "encode"
size=$(stat -c %s out.aec)
bpp=$(awk -v s="$size" 'BEGIN { printf "%.4f", s * 8 / (768 * 512) }')
grep -qF "$size bytes, $bpp bpp" <<<"$out" || fail "encode output '$out' does not state $size bytes, $bpp bpp"
out=$("$AEC" decode out.aec -o out.png --reference in.bmp) || fail "decode"
grep -qF "768x512, $bpp bpp" <<<"$out" || fail "decode output '$out'"
grep -q "PSNR [0-9.]* dB, MS-SSIM 0\.[0-9]*" <<<"$out" || fail "no PSNR in '$out'"
[ "$(head -c 8 out.png | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] || fail "out.png is not a PNG"
"$AEC" info out.aec | grep -q "width: *768" || fail "info on .aec"
"$AEC" info --json models/test-factorized.aem | grep -q '"arch": "factorized"' || fail "info on model"
mkdir -p evalset && cp in.bmp evalset/
"$AEC" eval -m test-factorized evalset --json eval.json --csv eval.csv >eval.txt || fail "eval"
grep -q "^mean" eval.txt || fail "eval table has no mean row"
[ "$(wc -l <eval.csv)" -eq 2 ] || fail "eval.csv should have a header and one row"
grep -q '"psnr"' eval.json || fail "eval.json"
# Odd sizes and a portrait image.
for size in "1 1" "17 33" "33 70"; do
  set -- $size
  make_bmp odd.bmp "$1" "$2"
  "$AEC" -q encode odd.bmp -o odd.aec && "$AEC" -q decode odd.aec -o odd.png || fail "odd size $1x$2"
  "$AEC" info odd.aec | grep -q "width: *$1" || fail "odd size $1x$2 width"
done
# A hyperprior model's files (version 3, with a hyper payload section) read by the same commands.
"$MAKE_MODEL" models/test-hyperprior.aem hyperprior test-hyperprior 4 || exit 1
"$AEC" -q encode in.bmp -m test-hyperprior -o hp.aec || fail "hyperprior encode"
out=$("$AEC" decode hp.aec -o hp.png --reference in.bmp) || fail "hyperprior decode (model found by id)"
grep -q "768x512" <<<"$out" || fail "hyperprior decode output '$out'"
"$AEC" info --json hp.aec | grep -q '"version": 3' || fail "info on a hyperprior model's file"
"$AEC" info --json hp.aec | grep -q '"hyper_payload_bytes": [1-9]' || fail "info shows no hyper payload"
"$AEC" info --json models/test-hyperprior.aem | grep -q '"entropy": "hyperprior"' || fail "info on a hyperprior model"
"$AEC" info --json hp.aec | grep -q '"payload_bands": 1' || fail "a small latent is one stream"
# Stride 4: 6 channels of 192x128, 147,456 symbols in 2 row bands (docs/bitstream.md, "Substreams"), coded
# into the same bytes and decoded to the same pixels with 1 thread and 2.
"$MAKE_MODEL" models/test-hp-s4.aem hyperprior test-hp-s4 2 || exit 1
"$AEC" -q -t 1 encode in.bmp -m test-hp-s4 -o b1.aec || fail "banded encode, 1 thread"
"$AEC" -q -t 2 encode in.bmp -m test-hp-s4 -o b2.aec || fail "banded encode, 2 threads"
cmp -s b1.aec b2.aec || fail "a banded file differs between 1 and 2 threads"
"$AEC" info --json b1.aec | grep -q '"payload_bands": 2' || fail "a 147,456-symbol latent is not in 2 bands"
"$AEC" -q -t 1 decode b1.aec -o b1.png && "$AEC" -q -t 2 decode b1.aec -o b2.png || fail "banded decode"
cmp -s b1.png b2.png || fail "a banded file decodes differently on 1 and 2 threads"
"$AEC" -q encode in.bmp -m test-hyperprior --bands 3 -o b3.aec || fail "encode --bands 3"
"$AEC" info --json b3.aec | grep -q '"payload_bands": 3' || fail "--bands 3 did not write 3 bands"
"$AEC" -q decode b3.aec -o b3.png && "$AEC" -q decode hp.aec -o hp1.png && cmp -s b3.png hp1.png ||
  fail "a file in 3 bands decodes differently from the same latent in one"
! "$AEC" -q encode in.bmp -m test-hyperprior --bands 257 -o b4.aec 2>/dev/null || fail "--bands 257 accepted"
"$AEC" info --json out.aec | grep -q '"version": 3' || fail "factorized models write version 3"
! "$AEC" info --json out.aec | grep -q '"hyper_payload_bytes"' || fail "a factorized file has a hyper payload"
finish
