// The SIMD kernels under the integer convolutions (int_layers.cpp): 16-bit multiplies summed in pairs into
// int32 lanes (x86 vpmaddwd / vpdpwssd, WebAssembly i32x4.dot_i16x8_s), widened to int64 before an int32 sum
// could overflow. int_layers.cpp splits every activation into 16-bit pieces and proves the bounds; these
// kernels only multiply, add and widen, so every kernel and the scalar reference compute the same integers.
#pragma once
#include <cstddef>
#include <cstdint>

namespace aec::intgemm {

// One block of outputs: nb blocks of `lanes` output channels x np output pixels of one row, summed over
// every tap and channel pair, for one piece of the input.
struct BlockArgs {
  const int16_t* x = nullptr;      // the input piece: padded, pixel-major, channel pairs innermost
  const int64_t* tap_x = nullptr;  // per tap: offset (int16 elements) of the first output's input pixel
  const int64_t* tap_w = nullptr;  // per tap: offset of the tap's weights inside a block's panel
  int taps = 0;
  int64_t px_step = 0;  // int16 elements between consecutive outputs' input pixels
  int np = 0;           // outputs in use (1..kernel np); the others are computed from output 0 and dropped
  int cpairs = 0;       // input channel pairs
  const int16_t* w = nullptr;  // first block's panel: [tap][channel pair][lane][2]
  int64_t block_stride = 0;    // int16 elements between consecutive blocks' panels
  // Runs of channel pairs (over the taps in order, tap by tap) summed in int32 before each widening: the
  // caller's bound that no int32 lane can overflow within a run. They cover all taps x cpairs pairs.
  const int* runs = nullptr;
  int nruns = 0;
  int shift = 0;           // the piece's place value: out += sum * 2^shift
  int64_t* out = nullptr;  // [kernel np][nb][lanes], accumulated: output j's channels contiguous
};

struct Kernel {
  const char* name;
  int lanes, nb, np;
  void (*block)(const BlockArgs&);
  // lo = min(lo, v[0..n)), hi = max(hi, v[0..n)): an input's range, which decides its split and its runs.
  void (*range)(const int32_t* v, size_t n, int32_t& lo, int32_t& hi);
  // dst[i] = src[i] + bias rounded right by `shift` (half up, as rounding_shift), clamped to
  // [relu ? 0 : -limit, limit]: a layer's outputs from its 64-bit sums, one output channel's row.
  void (*finish)(const int64_t* src, size_t n, int64_t bias, int shift, bool relu, int64_t limit,
                 int32_t* dst);
};

const Kernel* vec128_kernel();  // SSE2 on x86-64, simd128 in WebAssembly; nullptr where neither is compiled
const Kernel* avx2_kernel();    // nullptr where the CPU or the build lacks it
const Kernel* avx512_kernel();  // AVX-512 VNNI (vpdpwssd on 512-bit vectors); nullptr where absent

}  // namespace aec::intgemm
