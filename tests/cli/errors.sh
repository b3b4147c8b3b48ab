# Bad input gets a clear message, a non-zero exit and no output file.
source "$(dirname "$0")/lib.bash"
"$MAKE_MODEL" models/test-factorized.aem factorized test-factorized 2 || exit 1
"$MAKE_MODEL" other.aem factorized other-model 2 || exit 1
make_bmp in.bmp 64 48
"$AEC" -q encode in.bmp -m test-factorized -o good.aec || fail "encode"

printf 'not a png at all' >broken.png
expect_error "broken.png" "$AEC" encode broken.png -m test-factorized -o x.aec
"$AEC" -q decode good.aec -o good.png || fail "decode"
head -c 300 good.png >trunc.png
expect_error "trunc.png" "$AEC" encode trunc.png -m test-factorized -o x.aec
head -c 1000 in.bmp >trunc.bmp  # stb alone would fill the missing rows with black
expect_error "truncated BMP" "$AEC" encode trunc.bmp -m test-factorized -o x.aec
expect_error "over the limit" "$AEC" encode in.bmp -m test-factorized --max-pixels 100 -o x.aec
expect_error "no model 'nonexistent'" "$AEC" encode in.bmp -m nonexistent -o x.aec
head -c 30 good.aec >trunc.aec
expect_error "truncated" "$AEC" decode trunc.aec -o x.png
cp good.aec flipped.aec
printf '\x55' | dd of=flipped.aec bs=1 seek=60 conv=notrunc 2>/dev/null
expect_error "corrupt" "$AEC" decode flipped.aec -o x.png
expect_error "not an .aec file" "$AEC" decode in.bmp -o x.png
expect_error "other-model" "$AEC" decode good.aec -m other.aem -o x.png
expect_error "not in a cross-resolution family" "$AEC" cross-decode good.aec -m other.aem -o x.png
head -c 200 models/test-factorized.aem >broken.aem
expect_error "broken.aem" "$AEC" encode in.bmp -m broken.aem -o x.aec
# The version check: a file needing a model version that is not installed names that version.
"$MAKE_MODEL" models/test-factorized.aem factorized test-factorized 3 || exit 1
expect_error "not installed" "$AEC" decode good.aec -o x.png
# ... and, when a VERSIONS.tsv on the model path lists that version as released, how to get it back.
id=$("$AEC" info good.aec | awk '$1 == "model_id:" {print $2}')
[ -n "$id" ] || fail "aecodec info printed no model_id"
printf '# released versions\nname\tid\tcommit\tdate\tpath\ntest-factorized\t%s\t0123456789ab\t2026-11-27\tmodels/test-factorized.aem\n' \
  "$id" >models/VERSIONS.tsv
expect_error "released in commit 0123456789ab (2026-11-27)" "$AEC" decode good.aec -o x.png
expect_error "git show 0123456789ab:models/test-factorized.aem > test-factorized-$id.aem" "$AEC" decode good.aec -o x.png
[ ! -e x.aec ] && [ ! -e x.png ] || fail "a failed command left an output file"
ls ./*.tmp-* >/dev/null 2>&1 && fail "a temporary file was left behind"
finish
