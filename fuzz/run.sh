#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan + fuzzer) and runs each, one after the other, for a
# given time or a given number of executions, from a seed corpus of real files made here. Ends with a table:
# executions, wall time, exec/s, peak RSS and findings per target. A finding (crash, leak, sanitizer report,
# timeout, out-of-memory) is saved under build/fuzz/crashes/ and makes the script exit non-zero.
#   fuzz/run.sh [SECONDS] [TARGET...]        run each target for SECONDS (default 60)
#   fuzz/run.sh --runs N [TARGET...]         run each target for N executions (libFuzzer -runs=N)
#   fuzz/run.sh --runs N SECONDS [TARGET...] N executions or SECONDS, whichever comes first
#   fuzz/run.sh --jobs J ...                 J fuzzing processes per target side by side, sharing its corpus
#                                            (N is split between them; the table sums their executions)
# Targets: bitstream model_file image roundtrip (default: all four). Each process runs on one core; the
# harnesses set the core to one thread. Logs: build/fuzz/TARGET.log (TARGET.jobK.log with --jobs).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=60
time_given=
runs=
jobs=1
targets=()
while [ $# -gt 0 ]; do
  case $1 in
    --runs) runs=$2; shift 2 ;;
    --runs=*) runs=${1#--runs=}; shift ;;
    --jobs) jobs=$2; shift 2 ;;
    --jobs=*) jobs=${1#--jobs=}; shift ;;
    [0-9]*) seconds=$1; time_given=1; shift ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(bitstream model_file image roundtrip)
out=build/fuzz
mkdir -p "$out/crashes"
# nonnull-attribute is off because stb_image calls memcpy(NULL, p, 0) for zero-length PNG chunks (harmless,
# and not ours to patch); every other UBSan check stays fatal.
flags=(-std=c++17 -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined
  -fno-sanitize=nonnull-attribute
  -Ishared -Itests/support -isystem /usr/include/stb)

# The core (and the random test models) compiled once per variant, again when a source, a header or this
# script changed. Variant "cmp": the numeric kernels (GEMM, convolutions, the integer network) keep edge
# coverage but not comparison tracing: their comparisons are loop bounds over tensor shapes, which tell
# libFuzzer nothing new, and tracing them took half of the round-trip target's time (perf:
# __sanitizer_cov_trace_*cmp8 in pack/gemm/int_conv loops). Variant "nocmp": no comparison tracing at all,
# for the round-trip target, whose input is pixels: no magic numbers or lengths for traced comparisons to
# solve, and the tracing still took a fifth of its time (perf: trace_const_cmp8 from the loops
# of the entropy coder, the image conversions and std::vector's fills).
core=(shared/aecodec/*.cpp tests/support/random_model.cpp)
no_cmp_tracing=-fno-sanitize-coverage=trace-cmp
build_core() {  # VARIANT -> prints the library's path
  local variant=$1 lib=$out/libcore-$1.a obj=$out/obj-$1
  if [ ! -f "$lib" ] || [ -n "$(find shared/aecodec tests/support fuzz/run.sh -newer "$lib" -print -quit)" ]; then
    echo "building $lib" >&2
    rm -rf "$obj" "$lib"
    mkdir -p "$obj"
    printf '%s\n' "${core[@]}" | VARIANT=$variant NOCMP=$no_cmp_tracing xargs -P "$(nproc)" -I{} sh -c \
      'case $VARIANT:{} in nocmp:*|*/gemm.cpp|*/layers.cpp|*/int_layers.cpp) nocmp=$NOCMP ;; *) nocmp= ;; esac
       clang++ "$@" -fsanitize=fuzzer-no-link $nocmp -c {} -o '"$obj"'/$(basename {} .cpp).o' sh "${flags[@]}" ||
      { echo "building $lib failed" >&2; exit 1; }  # (exits the caller's $(...), whose failure ends the script)
    ar rcs "$lib" "$obj"/*.o
  fi
  echo "$lib"
}

# Seed corpus: model files, .aec files and images made by the real tools.
seeds=$out/seeds-v9  # (the version changes when the seeds do)
if [ ! -d "$seeds" ]; then
  # Made under another name and renamed when complete, so a failed build leaves no half-made corpus.
  partial=$seeds.partial
  rm -rf "$partial"
  mkdir -p "$partial"/{bitstream,model_file,image,roundtrip}
  cmake --build build/release --target aecodec make_test_model >/dev/null
  # Every architecture with 2 channels: the same layers, entropy models and file structure as a large model
  # at a quarter of the bytes (each execution copies, parses and hashes all of them); and the factorized
  # test model at its usual 8 channels.
  for arch in factorized conv vae fc hyperprior channel; do
    build/release/tests/make_test_model "$partial/model_file/$arch-n2.aem" $arch test-$arch 2 n=2 m=2
  done
  build/release/tests/make_test_model "$partial/model_file/factorized.aem" factorized
  # A family's medium member with an up decoder (its high twin's decoder), 2 channels.
  build/release/tests/make_test_model "$partial/high-n2.aem" channel test-high 3 n=2 m=2
  build/release/tests/make_test_model "$partial/model_file/channel-medium-up-n2.aem" channel test-medium 2 n=2 m=2 \
    entropy="$partial/high-n2.aem" high="$partial/high-n2.aem" no-lrp up="$partial/high-n2.aem"
  cp models/channel.codec.json "$partial/model_file/"  # the model_file target parses codec manifests too
  build/release/tests/make_test_model "$partial/test.aem" factorized test-factorized 2
  build/release/tests/make_test_model "$partial/test-hyperprior.aem" hyperprior test-hyperprior 2
  build/release/tests/make_test_model "$partial/test-channel.aem" channel test-channel 2
  python3 -c "
import struct,zlib
def png(w,h):
    raw=b''.join(b'\0'+bytes((x*7+y*3)%256 for x in range(w*3)) for y in range(h))
    c=lambda t,d: struct.pack('>I',len(d))+t+d+struct.pack('>I',zlib.crc32(t+d))
    return b'\x89PNG\r\n\x1a\n'+c(b'IHDR',struct.pack('>IIBBBBB',w,h,8,2,0,0,0))+c(b'IDAT',zlib.compress(raw))+c(b'IEND',b'')
for w,h in [(1,1),(16,16),(33,17)]: open('$partial/image/%dx%d.png'%(w,h),'wb').write(png(w,h))
"
  # The bitstream target's models are make_random_model({}) = test-factorized with 2 stages (test.aem), its
  # hyperprior and channel twins (test-hyperprior.aem, test-channel.aem): version-3 seeds of every entropy
  # model, one with the family section (made by the other member of the target's family), and the old
  # versions 1 and 2 made with the first two models by the last build that wrote them (fuzz/seeds/).
  build/release/tests/make_test_model "$partial/test-family.aem" factorized test-fam-high 3 fam-test high
  for img in "$partial"/image/*.png; do
    base=$partial/bitstream/$(basename "$img" .png)
    build/release/native/aecodec -q encode "$img" -m "$partial/test.aem" -o "$base.aec"
    build/release/native/aecodec -q encode "$img" -m "$partial/test-hyperprior.aem" -o "$base-hyperprior.aec"
    build/release/native/aecodec -q encode "$img" -m "$partial/test-channel.aem" -o "$base-channel.aec"
  done
  build/release/native/aecodec -q encode "$partial/image/16x16.png" -m "$partial/test-family.aem" \
    -o "$partial/bitstream/16x16-family.aec"  # cross-decoded by the target's family member
  # A file of that member itself (with the target's up decoder, its high twin's decoder: the same id).
  build/release/tests/make_test_model "$partial/test-fam-medium.aem" factorized test-fam-medium 2 fam-test medium \
    up="$partial/test-family.aem"
  build/release/native/aecodec -q encode "$partial/image/16x16.png" -m "$partial/test-fam-medium.aem" \
    -o "$partial/bitstream/16x16-medium-up.aec"  # decoded at 32x32 by its up decoder
  # Substreams: files of a 5-row latent in 3 row bands, one per entropy model (docs/bitstream.md).
  for m in test test-hyperprior test-channel; do
    build/release/native/aecodec -q encode "$partial/image/33x17.png" -m "$partial/$m.aem" --bands 3 \
      -o "$partial/bitstream/33x17-$m-bands.aec"
  done
  cp fuzz/seeds/bitstream-v1.aec fuzz/seeds/bitstream-v2.aec "$partial/bitstream/"
  head -c 64 /dev/urandom >"$partial/roundtrip/random"
  mv "$partial" "$seeds"
fi

if [ -n "$runs" ]; then
  # Each of the J processes runs its share; the first ones take the remainder.
  limit_for() { echo -runs=$(( runs / jobs + ($1 < runs % jobs ? 1 : 0) )) \
    -max_total_time="$([ -n "$time_given" ] && echo "$seconds" || echo 0)"; }
else
  limit_for() { echo -max_total_time="$seconds"; }
fi
# Figures from one libFuzzer log: executions and peak RSS (MB), from the final stats when the run ended by
# itself, else from its last status line; empty when the log has neither.
log_execs() {
  local n
  n=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$1" | awk '{print $2}' || true)
  [ -n "$n" ] || n=$(grep -oE '^#[0-9]+' "$1" | tail -1 | tr -d '#' || true)
  echo "$n"
}
log_rss() {
  local r
  r=$(grep -o 'stat::peak_rss_mb: *[0-9]*' "$1" | awk '{print $2}' || true)
  [ -n "$r" ] || r=$(grep -oE 'rss: [0-9]+Mb' "$1" | tail -1 | grep -oE '[0-9]+' || true)
  echo "$r"
}
status=0
table=()
for t in "${targets[@]}"; do
  bin=$out/fuzz_$t
  variant=cmp
  nocmp=()
  [ "$t" != roundtrip ] || { variant=nocmp; nocmp=("$no_cmp_tracing"); }
  lib=$(build_core $variant)
  if [ ! -x "$bin" ] || [ "fuzz/fuzz_$t.cpp" -nt "$bin" ] || [ "$lib" -nt "$bin" ]; then
    echo "building $bin"
    clang++ "${flags[@]}" -fsanitize=fuzzer "${nocmp[@]}" "fuzz/fuzz_$t.cpp" "$lib" -o "$bin"
  fi
  mkdir -p "$out/corpus/$t"
  before=$(find "$out/crashes" -name "$t-*" | wc -l)
  # J processes on one corpus: each writes the units it finds there and reloads the others' (libFuzzer's
  # -reload, on by default), so they search together rather than J times the same.
  logs=()
  pids=()
  start=$(date +%s.%N)
  for ((k = 0; k < jobs; k++)); do
    log=$out/$t.log
    [ "$jobs" -eq 1 ] || log=$out/$t.job$k.log
    logs+=("$log")
    # shellcheck disable=SC2046  # limit_for prints separate flags
    cmd=("$bin" $(limit_for $k) -rss_limit_mb=2048 -timeout=20 -max_len=65536 -print_final_stats=1
      -artifact_prefix="$out/crashes/$t-" "$out/corpus/$t" "$seeds/$t")
    echo "$t: ASAN_OPTIONS=detect_leaks=1 ${cmd[*]}"
    ASAN_OPTIONS=detect_leaks=1 "${cmd[@]}" >"$log" 2>&1 &
    pids+=($!)
  done
  result=ok
  for k in "${!pids[@]}"; do
    if wait "${pids[$k]}"; then
      :
    elif grep -q 'libFuzzer: run interrupted' "${logs[$k]}"; then
      [ "$result" = FINDING ] || result=stopped  # SIGINT (a time box kept from outside): counts so far
    else
      result=FINDING
      status=1
    fi
  done
  wall=$(echo "$(date +%s.%N) - $start" | bc)
  execs=0
  rss=0
  for log in "${logs[@]}"; do  # a process whose log has no count makes the sum unknown (?)
    n=$(log_execs "$log")
    r=$(log_rss "$log")
    [ -n "$n" ] && [ "$execs" != "?" ] && execs=$((execs + n)) || execs="?"
    [ -n "$r" ] && [ "$rss" != "?" ] || { rss="?"; continue; }
    [ "$r" -le "$rss" ] || rss=$r
  done
  found=$(($(find "$out/crashes" -name "$t-*" | wc -l) - before))
  findings=none
  if [ "$result" = FINDING ]; then
    what=$(cat "${logs[@]}" | grep -m1 -E '^SUMMARY: |ERROR: libFuzzer: ' | cut -c1-100 || true)
    findings="$found saved (${what:-exit status})"
  fi
  rate="?"
  [ "$execs" = "?" ] || rate=$(echo "$execs / $wall" | bc)
  row=$(printf '%-11s %-8s %12s %9.1f %8s %9s  %s' "$t" "$result" "$execs" "$wall" "$rate" "$rss" "$findings")
  echo "$row"
  table+=("$row")
done
echo
printf '%-11s %-8s %12s %9s %8s %9s  %s\n' target result executions wall_s exec/s rss_mb findings
printf '%s\n' "${table[@]}"
exit $status
