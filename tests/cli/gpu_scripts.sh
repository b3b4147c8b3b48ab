# scripts/gpu/run.sh (run on a lent GPU machine) and scripts/gpu/unpack.sh (run here) with a stand-in trainer,
# since every mistake in them costs device time: each job gets the common options its own line does not give,
# each run comes back in one tar with its exported model and its checkpoint only when small, and unpacking
# points the runs back at this machine's data, batch, crop and time limit with their GPU provenance.
source "$(dirname "$0")/lib.bash"
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
mkdir -p tree/.gpu tree/scripts/gpu out
cp "$REPO/scripts/gpu/run.sh" tree/.gpu/
cp "$REPO/scripts/gpu/unpack.sh" tree/scripts/gpu/
export CALLS="$WORK/calls"
cat >fake-trainer <<'EOS'
#!/usr/bin/env bash
# train --out DIR: a run with a log and a config like the trainer's ("big" runs get a 3 MB checkpoint);
# export --out FILE: a model file.
echo "$*" >>"$CALLS"
cmd=$1
shift
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do [ "${args[i]}" = --out ] && out=${args[i + 1]}; done
if [ "$cmd" = train ]; then
  mkdir -p "$out"
  printf 'train,100,1,1\ntrain,200,1,1\nvalid,200,1,1,0.0001,,0.5,30\n' >"$out/log.csv"
  echo '{"batch": 32, "crop": 192, "lr": 0.0002, "init": "models/x.aem", "minutes": 6.5,' \
    '"data": ".gpu/data/train", "valid": ".gpu/data/valid", "out": "'"$out"'", "threads": 4}' >"$out/config.json"
  case $out in *big*) head -c 3000000 /dev/zero >"$out/checkpoint.pt" ;; *) head -c 1000 /dev/zero >"$out/checkpoint.pt" ;; esac
else
  case $out in *big*) head -c 200000 /dev/zero >"$out" ;; *) echo model >"$out" ;; esac
fi
EOS
chmod +x fake-trainer
printf '%s\n' 'small --arch hyperprior --threads 2 --lambda 0.01' 'big --arch family' >tree/.gpu/jobs.txt

(cd tree && OUT="$WORK/out" AEC_GPU_TRAIN_BIN="$WORK/fake-trainer" PATH="/usr/bin:/bin" bash .gpu/run.sh 4) \
  >run.log 2>&1 || fail "run.sh: $(cat run.log)"
small=$(grep -- '--out runs/small ' calls) big=$(grep -- '--out runs/big ' calls)
grep -q -- '--data .gpu/data/train .*--batch 32 --crop 192' <<<"$small" || fail "common options: $small"
grep -q -- '--threads 2' <<<"$small" && ! grep -q -- '--threads 4' <<<"$small" ||
  fail "the job's own --threads should replace the common one: $small"
grep -q -- '--threads 4' <<<"$big" || fail "the common --threads: $big"
grep -q -- 'export --fp16 --no-codec-scores --run runs/small --out runs/small/small.aem' calls ||
  fail "no export of small: $(cat calls)"
[ "$(ls out)" = runs.tar.part_aa ] || fail "what comes back: $(ls out)"

(cd tree && bash scripts/gpu/unpack.sh "$WORK/out") >unpack.log 2>&1 || fail "unpack.sh: $(cat unpack.log)"
[ -f tree/runs/small-gpu/small.aem ] && [ -f tree/runs/big-gpu/big.aem ] || fail "models: $(ls tree/runs/*)"
[ -f tree/runs/small-gpu/checkpoint.pt ] || fail "a small checkpoint should come back"
[ ! -e tree/runs/big-gpu/checkpoint.pt ] || fail "a 3 MB checkpoint should stay behind"
python3 - tree/runs/small-gpu/config.json <<'PY' || fail "small-gpu/config.json: $(cat tree/runs/small-gpu/config.json)"
import json, sys
c = json.load(open(sys.argv[1]))
assert c["data"] == "../shared/data/train" and c["valid"] == "../shared/data/valid", c
assert (c["batch"], c["crop"], c["threads"], c["minutes"]) == (8, 128, 2, 100000.0), c
assert c["out"] == "runs/small-gpu", c
want = "steps to 200 on a GPU (batch 32 of 192x192 crops of JPEG q90 copies of the training images, lr 0.0002, "
assert c["provenance"].startswith(want) and "from models/x.aem" in c["provenance"], c["provenance"]
assert c["provenance"].endswith(", then 2 CPU cores"), c["provenance"]
PY
# What comes back stays under its limit: the model that does not fit stays behind, named, and the tar is whole.
mkdir -p tree2/.gpu tree2/scripts/gpu out2 && cp tree/.gpu/run.sh tree/.gpu/jobs.txt tree2/.gpu/ &&
  cp tree/scripts/gpu/unpack.sh tree2/scripts/gpu/
(cd tree2 && OUT="$WORK/out2" AEC_GPU_RETURN_BYTES=100000 AEC_GPU_TRAIN_BIN="$WORK/fake-trainer" PATH="/usr/bin:/bin" \
  bash .gpu/run.sh 4) >run2.log 2>&1 || fail "run.sh with a small return limit: $(cat run2.log)"
grep -q 'left behind (over the 100000 bytes that come back): runs/big/big.aem' run2.log || fail "$(cat run2.log)"
(cd tree2 && bash scripts/gpu/unpack.sh "$WORK/out2") >unpack3.log 2>&1 || fail "unpack.sh: $(cat unpack3.log)"
[ -f tree2/runs/small-gpu/small.aem ] && [ -f tree2/runs/big-gpu/log.csv ] && [ ! -e tree2/runs/big-gpu/big.aem ] ||
  fail "what came back: $(ls tree2/runs/*)"
# A run already unpacked is not overwritten.
(cd tree && bash scripts/gpu/unpack.sh "$WORK/out") >unpack2.log 2>&1 && fail "unpacking twice should refuse"
grep -q 'exists: move it away first' unpack2.log || fail "message: $(cat unpack2.log)"
finish
