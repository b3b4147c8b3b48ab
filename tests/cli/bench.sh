# `aecodec bench` prints its figures and writes them as JSON: the networks, the whole encode and decode, and
# for a model that refinement can use, the decoder's forward and backward passes (the same multiply-adds, so
# both must take time and the backward must not be free); a model refinement cannot use has none.
MODELS=$(cd "$(dirname "$0")/../../models" && pwd)
source "$(dirname "$0")/lib.bash"
"$MAKE_MODEL" models/test-conv.aem conv test-conv 4 || exit 1
out=$("$AEC" bench -m "$MODELS/hyperprior-q5.aem" --size 96x64 --repeat 1 --json hp.json) || fail "bench -m hyperprior-q5"
grep -q "refine backward .*% of the refine forward's" <<<"$out" || fail "no refine backward line: $out"
python3 - <<'PY' || fail "bench --json"
import json
j = json.load(open("hp.json"))
assert j["decoder_ms"] > 0 and j["decode_file_ms"] > 0 and j["encode_file_ms"] > 0, j
assert j["refine_forward_ms"] > 0 and j["refine_backward_ms"] > 0, j
# The whole against the network, from paired runs: a ratio of two positive times, printed as it is stored.
assert j["encode_over_network"] > 0 and j["decode_over_network"] > 0, j
PY
grep -q "whole decode .*(.*x the network" <<<"$out" || fail "no whole decode ratio: $out"
out=$("$AEC" bench -m test-conv --size 96x64 --repeat 1 --json conv.json) || fail "bench -m test-conv"
! grep -q "refine" <<<"$out" || fail "a model without refinement printed refine figures: $out"
python3 -c "import json; j = json.load(open('conv.json')); assert j['refine_backward_ms'] == 0, j" ||
  fail "conv.json has refine figures"
finish
