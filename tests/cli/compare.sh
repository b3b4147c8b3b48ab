# compare: metrics of an image against a reference, whole or in a region, with the region's share of the error.
source "$(dirname "$0")/lib.bash"
"$MAKE_MODEL" models/test-factorized.aem factorized test-factorized 2 || exit 1
make_bmp in.bmp 64 48
"$AEC" -q encode in.bmp -m test-factorized -o in.aec || fail "encode"
"$AEC" -q decode in.aec -o out.png || fail "decode"

same=$("$AEC" compare in.bmp in.bmp) || fail "compare with itself"
grep -q "PSNR inf dB, MS-SSIM 1.00000, MSE 0.000" <<<"$same" || fail "an image against itself: $same"

# The whole image's PSNR is the one decode --reference prints (the same metric code).
whole=$("$AEC" compare in.bmp out.png | grep -o 'PSNR [0-9.]* dB')
"$AEC" decode in.aec -o again.png --reference in.bmp | grep -qF "$whole" || fail "compare ($whole) differs from decode --reference"

# Two regions that split the image: their shares of the squared error add up to 100 %.
share() { "$AEC" compare in.bmp out.png --region "$1" | grep -o '[0-9.]* % of the image' | cut -d' ' -f1; }
top=$(share 0,0,64,20) bottom=$(share 0,20,64,28)
[ -n "$top" ] && [ -n "$bottom" ] || fail "no share printed"
python3 -c "import sys; s = $top + $bottom; sys.exit(abs(s - 100) > 0.2)" || fail "shares $top + $bottom are not 100 %"
"$AEC" compare in.bmp out.png --region 0,20,64,28 | grep -q "(64x28 at 0,20)" || fail "region not named"

expect_error "not inside the 64x48 image" "$AEC" compare in.bmp out.png --region 10,10,60,10
expect_error "not inside" "$AEC" compare in.bmp out.png --region -1,0,4,4
make_bmp small.bmp 32 48
expect_error "is 32x48, the reference 'in.bmp' is 64x48" "$AEC" compare in.bmp small.bmp
printf 'not an image' >broken.png
expect_error "broken.png" "$AEC" compare in.bmp broken.png
finish
