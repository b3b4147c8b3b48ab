# Every shipped model version is listed in models/VERSIONS.tsv (scripts/model-versions.sh), so that a file made
# with it can still be decoded after the model is re-exported.
source "$(dirname "$0")/lib.bash"
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
[ -f "$SRC/models/VERSIONS.tsv" ] || fail "no models/VERSIONS.tsv"
listed=0
while read -r name id _; do
  listed=$((listed + 1))
  awk -F'\t' -v n="$name" -v i="$id" '$1 == n && $2 == i {found = 1} END {exit !found}' "$SRC/models/VERSIONS.tsv" ||
    fail "$name version $id (models/$name.aem) is not in models/VERSIONS.tsv: run scripts/model-versions.sh after committing it"
done < <(AECODEC_MODELS="$SRC/models" "$AEC" models --files | grep -v '^#')
[ "$listed" -gt 0 ] || fail "aecodec models listed no shipped model"
echo "$listed shipped models checked"
finish
