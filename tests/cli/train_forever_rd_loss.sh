# scripts/train-forever.sh's export criterion (rd-loss): a model's RD loss from its scores, and for a family's
# medium member also its up and down paths, weighted as it trained them. Copies of the shipped member with one
# score changed show which way each path moves the loss.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)  # before lib.bash moves to the scratch folder
source "$(dirname "$0")/lib.bash"
SCRIPT=$ROOT/scripts/train-forever.sh
MEMBER=$ROOT/models/family-medium.aem

# A copy of model file $1 as $2 with its document edited by the Python statement $3 (on `doc`).
edited() {
  python3 - "$1" "$2" "$3" <<'PY'
import json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
head = json.loads(b[8:8 + n])
doc = json.loads(head["__metadata__"]["aecodec"])
exec(sys.argv[3])
head["__metadata__"]["aecodec"] = json.dumps(doc)
h = json.dumps(head).encode()
h += b" " * (-len(h) % 8)
open(sys.argv[2], "wb").write(struct.pack("<Q", len(h)) + h + b[8 + n:])
PY
}
loss() { bash "$SCRIPT" rd-loss "$1" | awk '{print $1}'; }
less() { python3 -c "import sys; sys.exit(0 if float('$1') < float('$2') else 1)"; }

edited "$MEMBER" worse-up.aem 'doc["scores"]["cross_m2h"] -= 0.5'
edited "$MEMBER" worse-down.aem 'doc["scores"]["cross_h2m"] -= 0.5'
edited "$MEMBER" worse-codec.aem 'doc["scores"]["codec_psnr"] -= 0.5'
edited "$MEMBER" no-family.aem 'del doc["family"]'
base=$(loss "$MEMBER")
less 0 "$base" || fail "the member's loss is not a positive number: $base"
for f in worse-up worse-down worse-codec; do
  l=$(loss $f.aem)
  less "$base" "$l" || fail "$f: loss $l is not above the shipped member's $base"
done
# Without its family the file is judged as a codec alone: bpp + lambda * 255^2 * MSE of its own decode.
plain=$(loss no-family.aem)
want=$(python3 -c "
import json, struct
b = open('$MEMBER', 'rb').read(); n = struct.unpack('<Q', b[:8])[0]
s = json.loads(json.loads(b[8:8 + n])['__metadata__']['aecodec'])['scores']
print(s['codec_bpp'] + 0.013 * 65025 * 10 ** (-s['codec_psnr'] / 10))")
python3 -c "import sys; sys.exit(0 if abs($plain - $want) < 1e-9 else 1)" || fail "codec-only loss $plain, expected $want"
less "$plain" "$base" || fail "the up and down paths added nothing: $plain against $base"
# The up path moves the member's loss: a better one lowers it.
edited "$MEMBER" better-up.aem 'doc["scores"]["cross_m2h"] += 0.5'
less "$(loss better-up.aem)" "$base" || fail "a better up path did not lower the loss"
finish
