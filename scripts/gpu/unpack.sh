#!/usr/bin/env bash
# Unpacks the run directories scripts/gpu/run.sh left in the device tool's files folder into runs/NAME-gpu,
# pointed back at this machine's data and at the CPU's batch and crop (the trainer reads them on --resume).
#   scripts/gpu/unpack.sh FILES_AT
set -euo pipefail
cd "$(dirname "$0")/../.."
FROM=${1:?usage: scripts/gpu/unpack.sh FILES_AT}
for first in "$FROM"/*.tar.part_aa; do
  name=$(basename "$first" .tar.part_aa)
  dest=runs/$name-gpu
  [ ! -e "$dest" ] || { echo "$dest exists: move it away first" >&2; exit 1; }
  mkdir -p runs/.unpack && cat "$FROM/$name".tar.part_* | tar xf - -C runs/.unpack && mv "runs/.unpack/$name" "$dest"
  # The steps taken there go into the run's provenance, which the exported model's description carries.
  /usr/bin/python3 - "$dest" <<'PY'
import json, os, sys
d = sys.argv[1]; p = d + "/config.json"; c = json.load(open(p))
rows = [l.split(",") for l in open(d + "/log.csv") if l.startswith("train,")]
device = open(d + "/device.txt").read().strip() if os.path.exists(d + "/device.txt") else "a GPU"
there = "steps to %s on %s (batch %d of %dx%d crops of JPEG q90 copies of the training images, lr %g)" % (
    rows[-1][1] if rows else "?", device, c["batch"], c["crop"], c["crop"], c["lr"])
c["provenance"] = "; ".join(x for x in (c.get("provenance", ""), there) if x) + ", then 2 CPU cores"
c.update(data="../shared/data/train", valid="../shared/data/valid", out=d, batch=8, crop=128, threads=2,
         checkpoint_minutes=5.0)
json.dump(c, open(p, "w"), indent=2)
PY
  echo "$dest: at step $(grep '^train' "$dest/log.csv" | tail -1 | cut -d, -f2); last validation: $(grep '^valid' "$dest/log.csv" | tail -1)"
done
rm -rf runs/.unpack
