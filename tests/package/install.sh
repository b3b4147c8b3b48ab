#!/usr/bin/env bash
# The installed C++ library as another project sees it: `cmake --install` of this build into a scratch prefix,
# the example (examples/cpp) configured with find_package against that prefix alone, built, and run on a
# bundled image with a shipped model: the round trip's PSNR, the same bytes as the CLI, and clear errors for
# corrupt, truncated and foreign files.
# $1 = cmake, $2 = this build's folder, $3 = source root, $4 = aecodec CLI binary, $5 = scratch folder.
set -u
CMAKE=$1
BUILD=$2
SRC=$3
AEC=$4
WORK=$5
rm -rf "$WORK" && mkdir -p "$WORK" && cd "$WORK" || exit 1
failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
MODEL=$SRC/models/hyperprior-q5.aem
IMAGE=$SRC/tests/data/v1/image.png

# Install. Nothing of the trainer or the CLI may come along: the header, the two static libraries, the
# package files.
if ! "$CMAKE" --install "$BUILD" --prefix "$WORK/prefix" >install.log 2>&1; then
  cat install.log
  echo "FAIL: install" >&2
  exit 1
fi
installed=$(cd prefix && find . -type f | sort)
echo "$installed"
for f in include/aecodec/aecodec.h lib/libaecodec.a lib/libaecodec_core.a \
  lib/cmake/aecodec/aecodecConfig.cmake lib/cmake/aecodec/aecodecConfigVersion.cmake \
  lib/cmake/aecodec/aecodecTargets.cmake; do
  grep -qx "./$f" <<<"$installed" || fail "not installed: $f"
done
extra=$(grep -v -e '^./include/aecodec/aecodec.h$' -e '^./lib/libaecodec\(_core\)\?.a$' \
  -e '^./lib/cmake/aecodec/aecodec[A-Za-z-]*.cmake$' <<<"$installed")
[ -z "$extra" ] || fail "unexpected files installed: $extra"
# The installed header stands alone: standard headers only, and it compiles with nothing but the prefix.
grep -q '#include [<"]\(aecodec\|nlohmann\)' prefix/include/aecodec/aecodec.h &&
  fail "the installed header includes non-standard headers"
echo '#include <aecodec/aecodec.h>' |
  c++ -std=c++17 -fsyntax-only -Wall -Wextra -Werror -I prefix/include -x c++ - ||
  fail "the installed header does not compile on its own"

# Configure and build the example against the prefix only (no package registry, so not this build tree).
if ! "$CMAKE" -S "$SRC/examples/cpp" -B example -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$WORK/prefix" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF >configure.log 2>&1; then
  cat configure.log
  fail "example does not configure"
  exit 1
fi
grep -qF "from $WORK/prefix/lib/cmake/aecodec" configure.log ||
  fail "aecodec was not found in the prefix: $(grep aecodec configure.log)"
"$CMAKE" --build example -j2 >build.log 2>&1 || { cat build.log; fail "example does not build"; exit 1; }
EX=example/encode_decode

# Round trip: a sane PSNR, and byte for byte the files the CLI writes. The bundled image is a 40x24 pattern of
# saturated stripes, hard for a photo codec: 16.7 dB at hyperprior-q5, where its flat mean colour scores 11.3.
out=$("$EX" "$MODEL" "$IMAGE" lib.aec) || fail "encode_decode failed: $out"
echo "$out"
psnr=$(sed -n 's/.*PSNR \([0-9.]*\) dB.*/\1/p' <<<"$out")
awk -v p="${psnr:-0}" 'BEGIN { exit !(p >= 15 && p < 99) }' || fail "PSNR '$psnr' is not a sane round trip"
grep -q "40x24 -> lib.aec: .* bytes, .* bpp, model hyperprior-q5 [0-9a-f]\{16\}," <<<"$out" ||
  fail "unexpected report: $out"
"$AEC" encode "$IMAGE" -m "$MODEL" -o cli.aec >/dev/null 2>&1 || fail "CLI encode failed"
cmp -s lib.aec cli.aec || fail "the library and the CLI write different files"
"$EX" "$MODEL" lib.aec decoded.png >/dev/null || fail "decode failed"
# Pixels, not PNG bytes: the CLI writes PNG with its own encoder.
cli=$("$AEC" decode cli.aec -m "$MODEL" -o cli.png --reference decoded.png 2>&1) || fail "CLI decode failed: $cli"
grep -qF "PSNR inf dB" <<<"$cli" || fail "the library and the CLI decode to different images: $cli"

# A codec manifest (the default codec): a quality on each side of its hand-over between member networks
# gives the CLI's bytes, and the file decodes by the member that made it.
CODEC=$SRC/models/channel.codec.json
for q in 30 90; do
  out=$("$EX" "$CODEC" "$IMAGE" lib-q$q.aec $q) || fail "encode_decode with the codec at quality $q failed: $out"
  echo "$out"
  "$AEC" encode "$IMAGE" -m "$CODEC" -q $q -o cli-q$q.aec >/dev/null 2>&1 || fail "CLI encode -q $q failed"
  cmp -s lib-q$q.aec cli-q$q.aec || fail "the library and the CLI write different files at codec quality $q"
done
grep -q "model channel-wide " <<<"$out" || fail "quality 90 was not coded by the wide member: $out"

# Errors: a non-zero exit, a message that says what is wrong, no output file.
expect_error() {  # expect_error "message part" INPUT.aec
  local err
  rm -f bad.png
  if err=$("$EX" "$MODEL" "$2" bad.png 2>&1 >/dev/null); then
    fail "decoding $2 succeeded"
  elif ! grep -qF -- "$1" <<<"$err"; then
    fail "message for $2 lacks '$1': $err"
  else
    echo "$2: $err"
  fi
  [ ! -e bad.png ] || fail "decoding $2 wrote a file"
}
size=$(stat -c %s lib.aec)
cp lib.aec corrupt.aec
printf '\xff' | dd of=corrupt.aec bs=1 seek=$((size - 10)) conv=notrunc status=none
expect_error "checksum" corrupt.aec
head -c $((size / 2)) lib.aec >truncated.aec
expect_error "truncated" truncated.aec
printf 'not an aec file' >junk.aec
expect_error "not an .aec file" junk.aec
expect_error "made by model 'test-v1'" "$SRC/tests/data/v1/image.aec"
rm -f bad.aec
if err=$("$EX" "$SRC/tests/data/v1/image.png" "$IMAGE" bad.aec 2>&1 >/dev/null); then
  fail "an image loaded as a model"
else
  echo "image as model: $err"
fi

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "all checks passed"
