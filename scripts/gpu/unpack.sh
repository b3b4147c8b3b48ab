#!/usr/bin/env bash
# Unpacks the run directories scripts/gpu/run.sh left in the device tool's files folder into runs/NAME-gpu,
# pointed back at this machine's data and at the CPU's batch and crop (the trainer reads them on --resume).
#   scripts/gpu/unpack.sh FILES_AT
set -euo pipefail
cd "$(dirname "$0")/../.."
FROM=${1:?usage: scripts/gpu/unpack.sh FILES_AT}
# A run that came back without its checkpoint (too big) carries its exported model: continue it with
# --init runs/NAME-gpu/NAME.aem, or ship that file (scripts/model-card.sh scores it).
mkdir -p runs/.unpack && cat "$FROM"/runs.tar.part_* | tar xf - -C runs/.unpack
for from in runs/.unpack/*/; do
  name=$(basename "$from")
  dest=runs/$name-gpu
  [ ! -e "$dest" ] || { echo "$dest exists: move it away first" >&2; exit 1; }
  mv "$from" "$dest"
  # Back at this machine's data, batch and crop, and without the GPU run's time limit (the trainer reads them on
  # --resume); the provenance run.sh wrote says what the GPU did.
  /usr/bin/python3 - "$dest" <<'PY'
import json, sys
d = sys.argv[1]; p = d + "/config.json"; c = json.load(open(p))
c["provenance"] = c.get("provenance", "") + ", then 2 CPU cores"
c.update(data="../shared/data/train", valid="../shared/data/valid", out=d, batch=8, crop=128, threads=2,
         checkpoint_minutes=5.0, minutes=100000.0)
json.dump(c, open(p, "w"), indent=2)
PY
  echo "$dest: at step $(grep '^train' "$dest/log.csv" | tail -1 | cut -d, -f2); last validation: $(grep '^valid' "$dest/log.csv" | tail -1)"
done
rm -rf runs/.unpack
