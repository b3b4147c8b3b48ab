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
fi
{
  echo "# $name"
  echo
  grep -E '^description:' "$tmp/info.txt" | sed 's/^description: *//'
  echo
  echo "## The model (\`aecodec info models/$name.aem\`)"
  echo
  echo '```'
  cat "$tmp/info.txt"
  echo '```'
  echo
  echo "## Validation"
  echo
  echo "$eval_note"
  if [ -f "$tmp/eval.txt" ]; then
    echo
    echo '```'
    cat "$tmp/eval.txt"
    echo '```'
  fi
} >"$tmp/card.md"
mv "$tmp/card.md" "models/$name.md"
echo "wrote models/$name.md"
