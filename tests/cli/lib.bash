# Shared by the CLI tests: $1 = aecodec binary, $2 = make_test_model binary, $3 = scratch folder.
set -u
AEC=$1
MAKE_MODEL=$2
WORK=$3
rm -rf "$WORK" && mkdir -p "$WORK" && cd "$WORK" || exit 1
export AECODEC_MODELS="$WORK/models"
mkdir -p models
failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
# expect_error "message part" command...: the command must exit non-zero, print the message, leave no output.
expect_error() {
  local want=$1
  shift
  local err
  if err=$("$@" 2>&1 >/dev/null); then
    fail "expected failure: $*"
  elif ! grep -qF -- "$want" <<<"$err"; then
    fail "message for '$*' lacks '$want': $err"
  fi
}
finish() {
  if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed" >&2
    exit 1
  fi
  echo "all checks passed"
}
# A synthetic PNG of a given size, made by the test model tool's sibling: python-free, via a tiny PPM -> PNG
# round trip through aecodec itself is not possible, so we write a binary PPM and let stb read... stb reads
# PNG/JPEG/BMP/TGA only; write a 24-bit BMP instead (stb reads it), deterministic content.
make_bmp() {  # make_bmp FILE W H
  python3 - "$@" <<'PY'
import struct, sys, math
path, w, h = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
row = (w * 3 + 3) & ~3
data = bytearray()
for y in range(h - 1, -1, -1):
    line = bytearray()
    for x in range(w):
        r = int(127 + 100 * math.sin(x * 0.07) + 20 * ((x // 9 + y // 9) % 2))
        g = int(60 + 150 * y / max(1, h - 1))
        b = int(128 + 100 * math.cos((x + y) * 0.03))
        line += bytes((b, g, r))
    line += b"\0" * (row - w * 3)
    data += line
hdr = struct.pack("<2sIHHI", b"BM", 54 + len(data), 0, 0, 54)
info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 24, 0, len(data), 2835, 2835, 0, 0)
open(path, "wb").write(hdr + info + data)
PY
}
