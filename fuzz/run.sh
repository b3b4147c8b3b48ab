#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan + fuzzer) and runs each for a given time (seconds,
# default 60) or number of runs, from a seed corpus of real files made here. Prints executions and findings per
# target; crashes are saved under build/fuzz/crashes/ and make the script exit non-zero.
#   fuzz/run.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(bitstream model_file image roundtrip)
out=build/fuzz
mkdir -p "$out/crashes"
core=(shared/aecodec/*.cpp tests/support/random_model.cpp)
# nonnull-attribute is off because stb_image calls memcpy(NULL, p, 0) for zero-length PNG chunks (harmless,
# and not ours to patch); every other UBSan check stays fatal.
flags=(-std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
  -fno-sanitize=nonnull-attribute
  -Ishared -Itests/support -isystem /usr/include/stb)

# Seed corpus: model files, .aec files and images made by the real tools.
seeds=$out/seeds
if [ ! -d "$seeds" ]; then
  mkdir -p "$seeds"/{bitstream,model_file,image,roundtrip}
  cmake --build build/release --target aecodec make_test_model >/dev/null
  for arch in factorized conv vae fc hyperprior; do build/release/tests/make_test_model "$seeds/model_file/$arch.aem" $arch; done
  build/release/tests/make_test_model "$seeds/test.aem" factorized test-factorized 2
  build/release/tests/make_test_model "$seeds/test-hyperprior.aem" hyperprior test-hyperprior 2
  python3 -c "
import struct,zlib
def png(w,h):
    raw=b''.join(b'\0'+bytes((x*7+y*3)%256 for x in range(w*3)) for y in range(h))
    c=lambda t,d: struct.pack('>I',len(d))+t+d+struct.pack('>I',zlib.crc32(t+d))
    return b'\x89PNG\r\n\x1a\n'+c(b'IHDR',struct.pack('>IIBBBBB',w,h,8,2,0,0,0))+c(b'IDAT',zlib.compress(raw))+c(b'IEND',b'')
for w,h in [(1,1),(16,16),(33,17)]: open('$seeds/image/%dx%d.png'%(w,h),'wb').write(png(w,h))
"
  # The bitstream target's models are make_random_model({}) = test-factorized with 2 stages (test.aem) and
  # its hyperprior twin (test-hyperprior.aem): seeds of both versions.
  for img in "$seeds"/image/*.png; do
    build/release/native/aecodec -q encode "$img" -m "$seeds/test.aem" -o "$seeds/bitstream/$(basename "$img" .png).aec"
    build/release/native/aecodec -q encode "$img" -m "$seeds/test-hyperprior.aem" \
      -o "$seeds/bitstream/$(basename "$img" .png)-v2.aec"
  done
  head -c 64 /dev/urandom >"$seeds/roundtrip/random"
fi

status=0
for t in "${targets[@]}"; do
  bin=$out/fuzz_$t
  if [ ! -x "$bin" ] || [ "fuzz/fuzz_$t.cpp" -nt "$bin" ]; then
    echo "building $bin"
    clang++ "${flags[@]}" "fuzz/fuzz_$t.cpp" "${core[@]}" -o "$bin"
  fi
  mkdir -p "$out/corpus/$t"
  log=$out/$t.log
  if ASAN_OPTIONS=detect_leaks=1 "$bin" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=20 -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="$out/crashes/$t-" "$out/corpus/$t" "$seeds/$t" >"$log" 2>&1; then
    result=ok
  else
    result=FINDING
    status=1
  fi
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | awk '{print $2}')
  [ -n "$execs" ] || execs=$(grep -oE '#[0-9]+' "$log" | tail -1 | tr -d '#')
  printf '%-12s %-8s %12s executions in %ss\n' "$t" "$result" "${execs:-?}" "$seconds"
done
exit $status
