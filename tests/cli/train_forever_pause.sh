# scripts/train-forever.sh's loop starts no training slice while the pause flag is fresh, starts one as soon as
# the flag goes, and ignores a stale flag left by a benchmark that died. A stand-in trainer records its calls;
# AEC_RUNS keeps everything in the scratch folder (never the real runs/ or a real background training).
source "$(dirname "$0")/lib.bash"
SCRIPT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../scripts" && pwd)/train-forever.sh
export AEC_RUNS="$WORK/runs" AEC_TRAIN_ORDER=factorized
mkdir -p "$AEC_RUNS"
cat >fake-trainer <<EOS
#!/usr/bin/env bash
echo "\$*" >>"$WORK/calls"
# What a branch polished for export says of itself (its config's provenance).
case " \$* " in *" --out $WORK/runs/factorized.polish "*)
  grep -o 'polished for export' "$WORK/runs/factorized.polish/config.json" >>"$WORK/branch" ;; esac
sleep 0.2
EOS
chmod +x fake-trainer
export AEC_TRAIN_BIN="$WORK/fake-trainer"

calls() { [ -f "$WORK/calls" ] && wc -l <"$WORK/calls" || echo 0; }
wait_calls() {  # until at least $1 calls or $2 seconds
  local i
  for ((i = 0; i < $2 * 10; i++)); do [ "$(calls)" -ge "$1" ] && return 0; sleep 0.1; done
  return 1
}

touch "$AEC_RUNS/train-forever.paused"
setsid bash "$SCRIPT" _loop 1 >loop.log 2>&1 &
loop=$!
sleep 3
[ "$(calls)" -eq 0 ] || fail "a slice started while the pause flag was there ($(calls) calls)"
grep -q "paused" loop.log || fail "the loop did not log that it is paused: $(cat loop.log)"
rm "$AEC_RUNS/train-forever.paused"
wait_calls 1 15 || fail "no slice within 15 s of the flag's removal"
grep -q -- "train .*--out $AEC_RUNS/factorized" "$WORK/calls" || fail "the slice's command line: $(head -1 "$WORK/calls")"
kill -TERM -- "-$loop" 2>/dev/null
wait "$loop" 2>/dev/null

# A flag older than AEC_PAUSE_TTL is stale: the loop goes on.
rm -f "$WORK/calls"
touch -d '-2 minutes' "$AEC_RUNS/train-forever.paused"
AEC_PAUSE_TTL=60 setsid bash "$SCRIPT" _loop 1 >loop2.log 2>&1 &
loop=$!
wait_calls 1 15 || fail "a stale pause flag stopped the loop"
kill -TERM -- "-$loop" 2>/dev/null
wait "$loop" 2>/dev/null

# NAME:MINUTES in AEC_TRAIN_ORDER gives that run its own slice length; a plain NAME takes SLICE_MINUTES.
rm -f "$WORK/calls" "$AEC_RUNS/train-forever.paused"
AEC_TRAIN_ORDER="factorized:7 family" setsid bash "$SCRIPT" _loop 1 >loop3.log 2>&1 &
loop=$!
wait_calls 2 15 || fail "the loop did not run both entries of the order"
kill -TERM -- "-$loop" 2>/dev/null
wait "$loop" 2>/dev/null
grep -q "factorized: training for 7 min" loop3.log || fail "factorized:7 did not get a 7-minute slice: $(cat loop3.log)"
grep -q "family: training for 1 min" loop3.log || fail "family did not get the default slice: $(cat loop3.log)"
grep -q -- "--out $AEC_RUNS/family" "$WORK/calls" || fail "no family slice: $(cat "$WORK/calls")"
# After a slice the export comes from a branch: RUN.polish, AEC_POLISH_STEPS more steps with the learning
# rate x0.1 from the run's last logged step, exported, then removed; the run itself is left as it was.
rm -f "$WORK/calls" "$AEC_RUNS/train-forever.paused"
mkdir -p "$AEC_RUNS/factorized"
: >"$AEC_RUNS/factorized/checkpoint.pt"
printf 'train,1100,1,1\ntrain,1234,1,1\n' >"$AEC_RUNS/factorized/log.csv"
echo '{"provenance": "here"}' >"$AEC_RUNS/factorized/config.json"
AEC_TRAIN_ORDER=factorized AEC_POLISH_STEPS=50 setsid bash "$SCRIPT" _loop 1 >loop4.log 2>&1 &
loop=$!
wait_calls 4 15 || fail "no slice, branch and export: $(cat "$WORK/calls" loop4.log)"
kill -TERM -- "-$loop" 2>/dev/null
wait "$loop" 2>/dev/null
sed -n 2p "$WORK/calls" | grep -q -- "train --out $AEC_RUNS/factorized.polish --resume --steps 1284 --decay-start 0 " ||
  fail "the polished branch's command line: $(sed -n 2p "$WORK/calls")"
sed -n 3p "$WORK/calls" | grep -q -- "export --fp16 --run $AEC_RUNS/factorized.polish " ||
  fail "the export did not read the branch: $(sed -n 3p "$WORK/calls")"
grep -q 'polished for export' "$WORK/branch" || fail "the branch's provenance does not say it was polished"
[ ! -e "$AEC_RUNS/factorized.polish" ] || fail "the branch was left behind"
grep -q '"here"' "$AEC_RUNS/factorized/config.json" || fail "the run's own config changed"
finish
