# Every shipped model version is listed in models/VERSIONS.tsv (scripts/model-versions.sh), so that a file made
# with it can still be decoded after the model is re-exported.
source "$(dirname "$0")/lib.bash"
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
[ -f "$SRC/models/VERSIONS.tsv" ] || fail "no models/VERSIONS.tsv"
listed() { awk -F'\t' -v n="$1" -v i="$2" '$1 == n && $2 == i {found = 1} END {exit !found}' "$SRC/models/VERSIONS.tsv"; }
checked=0
while read -r name id _ path; do
  checked=$((checked + 1))
  listed "$name" "$id" ||
    fail "$name version $id (models/$name.aem) is not in models/VERSIONS.tsv: run scripts/model-versions.sh after committing it"
  # Files made before decode ids name the version by its whole-file hash: the list keeps that id too.
  content_id=$("$AEC" info "$path" | awk '$1 == "content_id:" {print $2}')
  [ -z "$content_id" ] || listed "$name" "$content_id" ||
    fail "$name's whole-file id $content_id is not in models/VERSIONS.tsv: run scripts/model-versions.sh"
done < <(AECODEC_MODELS="$SRC/models" "$AEC" models --files | grep -v '^#')
[ "$checked" -gt 0 ] || fail "aecodec models listed no shipped model"
echo "$checked shipped models checked"
finish
