# Every shipped model version is listed in models/VERSIONS.tsv (scripts/model-versions.sh), so that a file made
# with it can still be decoded after the model is re-exported.
source "$(dirname "$0")/lib.bash"
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
[ -f "$SRC/models/VERSIONS.tsv" ] || fail "no models/VERSIONS.tsv"
listed() { awk -F'\t' -v n="$1" -v i="$2" '$1 == n && $2 == i {found = 1} END {exit !found}' "$SRC/models/VERSIONS.tsv"; }
checked=0 stale=0
while read -r name id _ path; do
  checked=$((checked + 1))
  listed "$name" "$id" && continue
  # A list written before decode ids names each version by its whole-file hash: files made before decode
  # ids can still be traced, files made since cannot until the list is rewritten.
  content_id=$("$AEC" info "$path" | awk '$1 == "content_id:" {print $2}')
  listed "$name" "$content_id" ||
    fail "$name version $id (models/$name.aem) is not in models/VERSIONS.tsv: run scripts/model-versions.sh after committing it"
  stale=$((stale + 1))
done < <(AECODEC_MODELS="$SRC/models" "$AEC" models --files | grep -v '^#')
[ "$checked" -gt 0 ] || fail "aecodec models listed no shipped model"
[ "$stale" -eq 0 ] || echo "note: $stale shipped models are listed by their whole-file id only: run scripts/model-versions.sh"
echo "$checked shipped models checked"
finish
