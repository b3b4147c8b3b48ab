# Sourced by the benchmarks: pauses the background training (scripts/train-forever.sh) until the sourcing
# script exits. The pause is renewed every 5 s: that keeps the pause flag fresh (the loop starts no new slice or
# export while it is) and stops any trainer process that was already starting.
scripts/train-forever.sh pause 2>/dev/null || true
( while sleep 5; do scripts/train-forever.sh pause 2>/dev/null || true; done ) &
repause=$!
trap 'kill $repause 2>/dev/null || true; wait $repause 2>/dev/null || true; sleep 0.5; scripts/train-forever.sh resume 2>/dev/null || true' EXIT
