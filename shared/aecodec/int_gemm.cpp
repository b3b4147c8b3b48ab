// The integer convolution's SIMD kernels, one instantiation of int_gemm_kernel.inc per instruction set. The
// x86 ones beyond SSE2 are compiled for their ISA by target pragmas and picked at run time (as gemm.cpp does
// for floats); the build itself targets baseline x86-64. Each sits in a namespace of its own so that nothing
// compiled for AVX2 can be linked into a caller that runs on a CPU without it.
#include "aecodec/int_gemm.h"

#include <cstddef>
#include <cstring>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(__EMSCRIPTEN__)
#define AEC_INT_X86 1
#include <immintrin.h>
#elif defined(__wasm_simd128__)
#include <wasm_simd128.h>
#endif

namespace aec::intgemm {

namespace {
// An int32 from two adjacent int16 (a channel pair), without type punning.
inline int32_t pair_at(const int16_t* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
}  // namespace

#if defined(AEC_INT_X86) || defined(__wasm_simd128__)
namespace vec128 {
#ifdef AEC_INT_X86
typedef __m128i V;
struct Ops {
  static constexpr int kLanes = 4;
  static V zero() { return _mm_setzero_si128(); }
  static V load(const int16_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }
  static V bcast(const int16_t* p) { return _mm_set1_epi32(pair_at(p)); }
  static V load32(const int32_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }
  static void store32(int32_t* p, V v) { _mm_storeu_si128(reinterpret_cast<__m128i*>(p), v); }
  // SSE2 has no 32-bit min / max: a compare and a select
  static V vmin(V a, V b) {
    const V gt = _mm_cmpgt_epi32(a, b);
    return _mm_or_si128(_mm_and_si128(gt, b), _mm_andnot_si128(gt, a));
  }
  static V vmax(V a, V b) {
    const V gt = _mm_cmpgt_epi32(a, b);
    return _mm_or_si128(_mm_and_si128(gt, a), _mm_andnot_si128(gt, b));
  }
  // pmaddwd: lane = w0 * x0 + w1 * x1, exact unless all four are -32768 (the caller's bound excludes it)
  static V madd(V acc, V w, V x) { return _mm_add_epi32(acc, _mm_madd_epi16(w, x)); }
  // o[0..3] += lanes * 2^s: sign-extended by hand (SSE2 has no pmovsxdq); a 64-bit left shift is the exact
  // product by 2^s for two's complement values within the caller's bound
  static void widen_add(int64_t* o, V v, int s) {
    const V sign = _mm_srai_epi32(v, 31), n = _mm_cvtsi32_si128(s);
    __m128i* d = reinterpret_cast<__m128i*>(o);
    _mm_storeu_si128(d, _mm_add_epi64(_mm_loadu_si128(d), _mm_sll_epi64(_mm_unpacklo_epi32(v, sign), n)));
    _mm_storeu_si128(d + 1,
                     _mm_add_epi64(_mm_loadu_si128(d + 1), _mm_sll_epi64(_mm_unpackhi_epi32(v, sign), n)));
  }
};
#else
typedef v128_t V;
struct Ops {
  static constexpr int kLanes = 4;
  static V zero() { return wasm_i32x4_splat(0); }
  static V load(const int16_t* p) { return wasm_v128_load(p); }
  static V bcast(const int16_t* p) { return wasm_i32x4_splat(pair_at(p)); }
  static V load32(const int32_t* p) { return wasm_v128_load(p); }
  static void store32(int32_t* p, V v) { wasm_v128_store(p, v); }
  static V vmin(V a, V b) { return wasm_i32x4_min(a, b); }
  static V vmax(V a, V b) { return wasm_i32x4_max(a, b); }
  static V madd(V acc, V w, V x) { return wasm_i32x4_add(acc, wasm_i32x4_dot_i16x8(w, x)); }
  static void widen_add(int64_t* o, V v, int s) {
    wasm_v128_store(o, wasm_i64x2_add(wasm_v128_load(o), wasm_i64x2_shl(wasm_i64x2_extend_low_i32x4(v), s)));
    wasm_v128_store(
        o + 2, wasm_i64x2_add(wasm_v128_load(o + 2), wasm_i64x2_shl(wasm_i64x2_extend_high_i32x4(v), s)));
  }
};
#endif
#include "aecodec/int_gemm_kernel.inc"
// 2 x 6 blocks: 12 accumulators + 2 weight vectors + a broadcast within 16 registers.
const Kernel kKernel = {"vec128", 4, 2, 6, block<2, 6>, range, finish};
}  // namespace vec128

const Kernel* vec128_kernel() {
  return &vec128::kKernel;
}
#else
const Kernel* vec128_kernel() {
  return nullptr;
}
#endif

#ifdef AEC_INT_X86
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2")
#endif
namespace avx2 {
typedef __m256i V;
struct Ops {
  static constexpr int kLanes = 8;
  static V zero() { return _mm256_setzero_si256(); }
  static V load(const int16_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static V bcast(const int16_t* p) { return _mm256_set1_epi32(pair_at(p)); }
  static V load32(const int32_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static void store32(int32_t* p, V v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
  static V vmin(V a, V b) { return _mm256_min_epi32(a, b); }
  static V vmax(V a, V b) { return _mm256_max_epi32(a, b); }
  static V madd(V acc, V w, V x) { return _mm256_add_epi32(acc, _mm256_madd_epi16(w, x)); }
  static void widen_add(int64_t* o, V v, int s) {
    const __m128i n = _mm_cvtsi32_si128(s);
    __m256i* d = reinterpret_cast<__m256i*>(o);
    const __m256i lo = _mm256_sll_epi64(_mm256_cvtepi32_epi64(_mm256_castsi256_si128(v)), n);
    const __m256i hi = _mm256_sll_epi64(_mm256_cvtepi32_epi64(_mm256_extracti128_si256(v, 1)), n);
    _mm256_storeu_si256(d, _mm256_add_epi64(_mm256_loadu_si256(d), lo));
    _mm256_storeu_si256(d + 1, _mm256_add_epi64(_mm256_loadu_si256(d + 1), hi));
  }
};
#include "aecodec/int_gemm_kernel.inc"
const Kernel kKernel = {"avx2", 8, 2, 6, block<2, 6>, range, finish};
}  // namespace avx2
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"))), \
                             apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512vnni")
#endif
namespace avx512 {
typedef __m512i V;
struct Ops {
  static constexpr int kLanes = 16;
  static V zero() { return _mm512_setzero_si512(); }
  static V load(const int16_t* p) { return _mm512_loadu_si512(p); }
  static V bcast(const int16_t* p) { return _mm512_set1_epi32(pair_at(p)); }
  static V load32(const int32_t* p) { return _mm512_loadu_si512(p); }
  static void store32(int32_t* p, V v) { _mm512_storeu_si512(p, v); }
  static V vmin(V a, V b) { return _mm512_min_epi32(a, b); }
  static V vmax(V a, V b) { return _mm512_max_epi32(a, b); }
  // vpdpwssd: acc + w0 * x0 + w1 * x1 in one instruction, wrapping like the add it replaces
  static V madd(V acc, V w, V x) { return _mm512_dpwssd_epi32(acc, w, x); }
  static void widen_add(int64_t* o, V v, int s) {
    const __m128i n = _mm_cvtsi32_si128(s);
    const __m512i lo = _mm512_sll_epi64(_mm512_cvtepi32_epi64(_mm512_castsi512_si256(v)), n);
    const __m512i hi = _mm512_sll_epi64(_mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(v, 1)), n);
    _mm512_storeu_si512(o, _mm512_add_epi64(_mm512_loadu_si512(o), lo));
    _mm512_storeu_si512(o + 8, _mm512_add_epi64(_mm512_loadu_si512(o + 8), hi));
  }
};
#include "aecodec/int_gemm_kernel.inc"
// 2 x 8 blocks: 16 of the 32 registers accumulate.
const Kernel kKernel = {"avx512vnni", 16, 2, 8, block<2, 8>, range, finish};
}  // namespace avx512
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

const Kernel* avx2_kernel() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") ? &avx2::kKernel : nullptr;
}
const Kernel* avx512_kernel() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                 __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni")
             ? &avx512::kKernel
             : nullptr;
}
#else
const Kernel* avx2_kernel() {
  return nullptr;
}
const Kernel* avx512_kernel() {
  return nullptr;
}
#endif

}  // namespace aec::intgemm
