#!/usr/bin/env bash
# Writes models/NAME.md, the model's card, from the model file itself (`aecodec info`: architecture,
# parameters, training provenance) and a fresh measurement (`aecodec eval` on the validation images).
#   scripts/model-card.sh NAME [VALID_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
name=$1
valid=${2:-../shared/data/valid}
A=build/release/native/aecodec
model=models/$name.aem
[ -f "$model" ] || { echo "no $model" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$A" info "$model" >"$tmp/info.txt"
eval_note="(no validation folder at $valid)"
if [ -d "$valid" ]; then
  "$A" -q eval -m "$model" "$valid" --json "$tmp/eval.json" --csv "$tmp/eval.csv"
  "$A" eval -m "$model" "$valid" >"$tmp/eval.txt" 2>/dev/null
  eval_note="Measured by \`scripts/model-card.sh $name $valid\` (\`aecodec eval\`, $(date -u +%Y-%m-%d)):"
  # A family's medium member codes half-size images: its card also shows the family's cross-decoding table
  # (aecodec rd --family: both paths at every trained quality against their references).
  family=$("$A" info --json "$model" | /usr/bin/python3 -c \
    'import json,sys; f = json.load(sys.stdin).get("family") or {}; print(f.get("id", "") if f.get("role") == "medium" else "")')
  if [ -n "$family" ]; then
    "$A" -q rd "$valid" --family "$family" --codecs none -o "$tmp/rd" >/dev/null
    /usr/bin/python3 - "$tmp/rd/README.md" >"$tmp/family.md" <<'PY'
import sys
lines = open(sys.argv[1]).read().splitlines()
start = next(i for i, l in enumerate(lines) if l.startswith("| family | Q | high bpp"))
end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
print("\n".join(lines[start:end]))
PY
  fi
  # A variable-rate model: the mean over the images at each trained lambda's quality (docs/quality.md).
  qualities=$("$A" info --json "$model" | /usr/bin/python3 -c \
    'import json,sys; print(" ".join(str(q) for q in json.load(sys.stdin).get("variable_rate", {}).get("trained_qualities", [])))')
  if [ -n "$qualities" ]; then
    {
      echo "| quality | bpp | PSNR (dB) | MS-SSIM |"
      echo "|---:|---:|---:|---:|"
      for q in $qualities; do
        "$A" eval -m "$model" "$valid" -q "$q" 2>/dev/null | awk -v q="$q" '$1 == "mean" {printf "| %s | %s | %s | %s |\n", q, $3, $4, $5}'
      done
    } >"$tmp/knob.md"
  fi
fi
{
  echo "# $name"
  echo
  grep -E '^description:' "$tmp/info.txt" | sed 's/^description: *//'
  echo
  # A member of a codec of several networks (models/*.codec.json): which part of the knob it serves.
  for manifest in models/*.codec.json; do
    [ -f "$manifest" ] || continue
    "$A" info --json "$manifest" | /usr/bin/python3 -c '
import json, sys
j, name = json.load(sys.stdin), sys.argv[1]
m = j["members"].get(name)
if m and len(j["members"]) > 1:
    f = lambda q: ("%.2f" % q).rstrip("0").rstrip(".")
    others = ", ".join(k for k in j["members"] if k != name)
    print("Member of the codec `%s` (`%s`, with %s): it serves the quality knob from %s to %s, at its own "
          "qualities %s to %s (docs/quality.md).\n" % (j["name"], j["path"], others, f(m["quality"][0]),
          f(m["quality"][1]), f(m["model_quality"][0]), f(m["model_quality"][1])))
' "$name"
  done
  echo "## The model (\`aecodec info models/$name.aem\`)"
  echo
  echo '```'
  cat "$tmp/info.txt"
  echo '```'
  echo
  echo "## Validation"
  echo
  echo "$eval_note"
  if [ -f "$tmp/knob.md" ]; then
    echo
    echo "Every trained rate of the quality knob (\`aecodec eval -q Q\`, mean over the images):"
    echo
    cat "$tmp/knob.md"
    echo
    echo "At the default quality, per image:"
  fi
  if [ -s "$tmp/family.md" ]; then
    echo
    echo "The family, by \`aecodec rd $valid --family $family --codecs none\` (means over the images; *down*: a"
    echo "file of the high member decoded at half size by this one, against decoding at full size and then"
    echo "\`downscale2x_box\`; *up*: this member's file of the half-size image decoded at full size, by its up"
    echo "decoder where it has one, else by the high member, against this member's decode upscaled by bicubic,"
    echo "and against the best single model at the up file's rate):"
    echo
    cat "$tmp/family.md"
    echo
    echo "This member on the full-size images, as a codec of its own (\`aecodec eval\`):"
  fi
  if [ -f "$tmp/eval.txt" ]; then
    echo
    echo '```'
    cat "$tmp/eval.txt"
    echo '```'
  fi
} >"$tmp/card.md"
mv "$tmp/card.md" "models/$name.md"
echo "wrote models/$name.md"
