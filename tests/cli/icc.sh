# Colour management on real files: JPEGs written by libjpeg (cjpeg) with ICC profiles embedded by jpegtran
# (a Display P3 matrix-shaper profile in one APP2 segment, a 200 kB lookup-table profile in several) come out
# in sRGB, as Little CMS's 16-bit transform computes them; a truncated profile is ignored with a note.
# $4: make_icc_test_image (registered only in builds with Little CMS).
source "$(dirname "$0")/lib.bash"
MAKE_ICC=$4
"$MAKE_ICC" . || exit 1
command -v cjpeg >/dev/null && command -v jpegtran >/dev/null || { echo "needs cjpeg and jpegtran (libjpeg-turbo-progs)" >&2; exit 1; }
cjpeg -quality 100 -sample 1x1 patches.ppm >plain.jpg || fail "cjpeg"
jpegtran -icc p3.icc plain.jpg >p3.jpg || fail "jpegtran -icc p3.icc"
jpegtran -icc p3-lut.icc plain.jpg >p3-lut.jpg || fail "jpegtran -icc p3-lut.icc"
[ "$(stat -c %s p3-lut.icc)" -gt 65519 ] || fail "the LUT profile fits one APP2 segment: it tests nothing more"

psnr() { "$AEC" compare "$1" expected.png | grep -o 'PSNR [0-9.inf]*' | cut -d' ' -f2; }
at_least() { python3 -c "import sys; sys.exit(not (float('$1') >= $2))"; }
p_plain=$(psnr plain.jpg) p_p3=$(psnr p3.jpg) p_lut=$(psnr p3-lut.jpg)
echo "PSNR against the exact sRGB colours: untagged $p_plain dB, P3 matrix $p_p3 dB, P3 LUT $p_lut dB"
at_least "$p_p3" 45 || fail "the P3 JPEG is $p_p3 dB from its sRGB colours (want >= 45)"
at_least "$p_lut" 40 || fail "the P3 LUT JPEG is $p_lut dB from its sRGB colours (want >= 40)"
at_least "$p_plain" 30 && fail "the untagged JPEG is $p_plain dB from the converted colours: the test cannot tell"

"$MAKE_MODEL" models/test-factorized.aem factorized test-factorized 2 || exit 1
"$AEC" encode p3-lut.jpg -m test-factorized -o p3.aec 2>err.txt >/dev/null || fail "encode p3-lut.jpg"
grep -qF "note: colours converted to sRGB from the embedded ICC profile ('Display P3 LUT (test)')" err.txt ||
  fail "no conversion note: $(cat err.txt)"

# A profile cut short: the image is still read, its pixels as stored, and the note says the profile was ignored.
head -c 300 p3-lut.icc >cut.icc
jpegtran -icc cut.icc plain.jpg >cut.jpg || fail "jpegtran -icc cut.icc"
"$AEC" encode cut.jpg -m test-factorized -o cut.aec 2>err.txt >/dev/null || fail "encode cut.jpg: $(cat err.txt)"
grep -qF "note: the image's embedded ICC colour profile ('Display P3 LUT (test)') was ignored (" err.txt ||
  grep -qF "note: the image's embedded ICC colour profile was ignored (" err.txt || fail "no note: $(cat err.txt)"
[ "$("$AEC" compare cut.jpg plain.jpg | grep -o 'PSNR inf')" = "PSNR inf" ] || fail "cut.jpg's pixels changed"
finish
