#!/usr/bin/env bash
# Writes models/VERSIONS.tsv: every released model version (every model file version ever committed under
# models/) with its ids and the commit that first released it, read from git history. An .aec file names the
# id of the model it needs; `aecodec decode` looks the id up here when that version is not installed and says
# how to get it back (`git show COMMIT:PATH > NAME-ID.aem`). A version is listed under the id its document
# stores (what the build of its day wrote into files: the whole-file hash for models exported before decode
# ids) and under the decode id that today's aecodec computes and writes and the whole-file id it accepts too
# (docs/model-format.md, "The model's id"), which needs a built aecodec (AEC=PATH, default build/release/native/aecodec).
#   scripts/model-versions.sh           rewrite models/VERSIONS.tsv
#   scripts/model-versions.sh --check   exit 1 when models/VERSIONS.tsv is out of date
# A model committed now is released by that commit, so run this after committing models and commit the list
# with the next commit.
set -euo pipefail
cd "$(dirname "$0")/.."
out=models/VERSIONS.tsv
export AEC=${AEC:-build/release/native/aecodec}
[ -x "$AEC" ] || { echo "no aecodec at $AEC: build it (scripts/setup.sh build) or set AEC" >&2; exit 1; }
new=$(/usr/bin/python3 - <<'PY'
import json, os, struct, subprocess, sys, tempfile

def git(*args):
    return subprocess.run(["git", *args], capture_output=True, check=True).stdout

first = {}  # (name, id) -> (order, commit, date, path): the oldest commit holding that version
log = git("log", "--reverse", "--format=commit %H %cs", "--name-status", "--", "models/*.aem").decode()
commit = date = None
for line in log.splitlines():
    parts = line.split()
    if not parts:
        continue
    if parts[0] == "commit":
        commit, date = parts[1], parts[2]
        continue
    if parts[0].startswith("D"):
        continue
    path = parts[-1]
    blob = git("show", f"{commit}:{path}")
    try:
        n = struct.unpack("<Q", blob[:8])[0]
        doc = json.loads(blob[8:8 + n])["__metadata__"]["aecodec"]
        doc = json.loads(doc) if isinstance(doc, str) else doc
        key = (doc["name"], doc["id"])
    except Exception:  # files from before models had ids (or were not model files): nothing to look up
        continue
    first.setdefault(key, (len(first), commit, date, path))
    with tempfile.NamedTemporaryFile(suffix=".aem") as tmp:
        tmp.write(blob)
        tmp.flush()
        info = subprocess.run([os.environ["AEC"], "info", "--json", tmp.name], capture_output=True)
    if info.returncode == 0:  # versions today's core cannot read are listed by their stored id alone
        ids = json.loads(info.stdout)
        # The decode id today's aecodec writes, and the whole-file id that decoders accept too.
        for mid in (ids["id"], ids["content_id"]):
            first.setdefault((doc["name"], mid), (len(first), commit, date, path))

print("# Released model versions (scripts/model-versions.sh, from git history): an .aec file names its model's")
print("# id; a version that is no longer installed comes back with `git show COMMIT:PATH > NAME-ID.aem`.")
print("name\tid\tcommit\tdate\tpath")
for (name, mid), (_, c, d, p) in sorted(first.items(), key=lambda kv: (kv[0][0], kv[1][0])):  # by name, then in order
    print(f"{name}\t{mid}\t{c[:12]}\t{d}\t{p}")
PY
)
if [ "${1:-}" = --check ]; then
  if [ "$new" != "$(cat "$out" 2>/dev/null)" ]; then
    echo "$out is out of date: run scripts/model-versions.sh" >&2
    exit 1
  fi
  echo "$out is up to date"
  exit 0
fi
printf '%s\n' "$new" >"$out.tmp" && mv "$out.tmp" "$out"
echo "$out: $(($(wc -l <"$out") - 3)) versions"
