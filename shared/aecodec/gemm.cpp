#include "aecodec/gemm.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <new>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(__EMSCRIPTEN__)
#define AEC_X86_DISPATCH 1
#include <immintrin.h>  // the AVX2/AVX-512 intrinsics are used only inside functions compiled for them
#elif defined(__wasm_simd128__)
#include <wasm_simd128.h>
#endif

namespace aec {

// ---------------------------------------------------------------------------------------------------------
// Reference path.

// Blocked so that a 4 x kNb tile of C stays in L1 while B's rows stream through; the inner loop is a plain
// axpy the compiler vectorises. Kept as the yardstick for the fast path, not tuned.
void gemm_reference(int m, int n, int k, const float* a, int lda, const float* b, int ldb, float* c, int ldc,
                    bool accumulate) {
  constexpr int kNb = 256;
  float acc[4][kNb];
  for (int n0 = 0; n0 < n; n0 += kNb) {
    const int nb = std::min(kNb, n - n0);
    int i = 0;
    for (; i + 4 <= m; i += 4) {
      for (int r = 0; r < 4; ++r) {
        if (accumulate)
          std::memcpy(acc[r], c + size_t(i + r) * ldc + n0, sizeof(float) * nb);
        else
          std::memset(acc[r], 0, sizeof(float) * nb);
      }
      const float* a0 = a + size_t(i) * lda;
      const float* a1 = a0 + lda;
      const float* a2 = a1 + lda;
      const float* a3 = a2 + lda;
      for (int p = 0; p < k; ++p) {
        const float* brow = b + size_t(p) * ldb + n0;
        const float w0 = a0[p], w1 = a1[p], w2 = a2[p], w3 = a3[p];
        for (int j = 0; j < nb; ++j) {
          const float v = brow[j];
          acc[0][j] += w0 * v;
          acc[1][j] += w1 * v;
          acc[2][j] += w2 * v;
          acc[3][j] += w3 * v;
        }
      }
      for (int r = 0; r < 4; ++r) std::memcpy(c + size_t(i + r) * ldc + n0, acc[r], sizeof(float) * nb);
    }
    for (; i < m; ++i) {
      if (accumulate)
        std::memcpy(acc[0], c + size_t(i) * ldc + n0, sizeof(float) * nb);
      else
        std::memset(acc[0], 0, sizeof(float) * nb);
      const float* ai = a + size_t(i) * lda;
      for (int p = 0; p < k; ++p) {
        const float* brow = b + size_t(p) * ldb + n0;
        const float w = ai[p];
        for (int j = 0; j < nb; ++j) acc[0][j] += w * brow[j];
      }
      std::memcpy(c + size_t(i) * ldc + n0, acc[0], sizeof(float) * nb);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Fast path: micro-kernels.

void AlignedFree::operator()(float* p) const {
  ::operator delete(p, std::align_val_t(64));
}

void AlignedFloats::resize(size_t n) {
  if (n > capacity_) {
    p_.reset();  // free first: the old contents are not kept, so never hold both
    p_.reset(
        static_cast<float*>(::operator new(std::max<size_t>(n, 1) * sizeof(float), std::align_val_t(64))));
    capacity_ = n;
  }
  n_ = n;
}

namespace {

constexpr int kMaxMr = 8;
// C[r x nr] (+)= A_panel^T * B over kc. Packed: B is the panel at b. Fused: row p of B is the nr contiguous
// floats at b + tap[p] in the source (squared for GDN), and the kernel also stores them as the packed panel
// at `pack` for the next A panels.
using MicroFn = void (*)(int kc, const float* a, const float* b, const int64_t* tap, float* pack, float* c,
                         int ldc, bool accumulate);
// Packs one column panel: n <= nr columns from j0 (zeros beyond), rows [k0, k0 + kc).
using PackBFn = void (*)(const GatherB& g, int k0, int kc, int j0, int n, float* dst);
using SqrtScaleFn = void (*)(float* x, const float* n, float beta, int count, bool inverse);

}  // namespace

struct GemmKernel {
  const char* name;
  int mr, nr, kc;  // rows and columns of the register tile, K block
  // Indexed by the rows of the A panel (1..mr; the last panel may be short): packed B; B read in place and
  // packed on the way; the same with B's elements squared.
  MicroFn micro[kMaxMr + 1], fused[kMaxMr + 1], fused_sq[kMaxMr + 1];
  PackBFn pack_b;
  SqrtScaleFn sqrt_scale;
};

namespace {

#if defined(__GNUC__) || defined(__clang__)
#define AEC_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define AEC_ALWAYS_INLINE inline
#endif

// The register tile: C[R x NV*W] (+)= A_panel[kc x R]^T * B[kc x NV*W], R*NV accumulators held in registers
// for the whole K block. Written once with GCC/Clang vector extensions; each ISA instantiates it inside a
// function compiled for that ISA, so the same source becomes zmm FMAs, ymm FMAs, SSE or wasm simd128. Always
// inlined so that it takes the caller's target (an out-of-line copy would be compiled for the baseline).
// Fused: B's rows are read where they lie in the source (the first A panel of a column panel) and written to
// the packed panel that the other A panels then read: packing costs no pass of its own, and the source
// loads' cache misses overlap the FMAs instead of stalling a copy loop. The loops over the tile are unrolled
// by pragma: GCC otherwise keeps the accumulator array in memory outside the K loop (zeroed on the stack,
// stored there after the loop and read back for C's update: 2 % of the encoder's time).
template <class V, int R, int NV, bool Fused, bool Square>
AEC_ALWAYS_INLINE void micro_body(int kc, const float* a, const float* b, const int64_t* tap, float* pack,
                                  float* c, int ldc, bool accumulate) {
  constexpr int W = int(sizeof(V) / sizeof(float)), NR = NV * W;
  constexpr int kAhead = 8;  // taps: prefetch distance for the fused kernel's scattered source rows
  V s[R][NV];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v) s[r][v] = V{};
  for (int p = 0; p < kc; ++p) {
    V bv[NV];
    if (Fused) {
      const float* bp = b + tap[p];
      if (p + kAhead < kc) {
        __builtin_prefetch(b + tap[p + kAhead]);
        __builtin_prefetch(b + tap[p + kAhead] + NR - 1);
      }
      for (int v = 0; v < NV; ++v) {
        std::memcpy(&bv[v], bp + v * W, sizeof(V));
        if (Square) bv[v] *= bv[v];
        if (pack) std::memcpy(pack + size_t(p) * NR + v * W, &bv[v], sizeof(V));
      }
    } else {
      for (int v = 0; v < NV; ++v) std::memcpy(&bv[v], b + size_t(p) * NR + v * W, sizeof(V));
    }
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const float ar = a[r];  // broadcast
#pragma GCC unroll 16
      for (int v = 0; v < NV; ++v) s[r][v] += ar * bv[v];
    }
    a += R;
  }
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v) {
      float* cp = c + size_t(r) * ldc + v * W;
      if (accumulate) {
        V t;
        std::memcpy(&t, cp, sizeof(V));
        s[r][v] += t;
      }
      std::memcpy(cp, &s[r][v], sizeof(V));
    }
}

// Packs the one column panel the fused kernel cannot read in place: the short last panel of a tile, or one
// that crosses the end of an output row. Its columns split into runs contiguous in the source (one per
// output row crossed), copied tap by tap; zeros beyond the last column.
template <int NR>
AEC_ALWAYS_INLINE void pack_b_body(const GatherB& g, int k0, int kc, int j0, int n, float* dst) {
  const int64_t* tap = g.tap + k0;
  int seg_col[NR], seg_len[NR], nseg = 0;
  int64_t seg_off[NR];
  for (int j = 0; j < n;) {
    const int pix = j0 + j, row = pix / g.width, col = pix - row * g.width;
    const int len = std::min(n - j, g.width - col);
    seg_col[nseg] = j, seg_len[nseg] = len, seg_off[nseg] = row * g.pitch + col;
    ++nseg;
    j += len;
  }
  for (int kk = 0; kk < kc; ++kk) {
    float* dk = dst + size_t(kk) * NR;
    for (int t = 0; t < nseg; ++t) {
      const float* sp = g.src + tap[kk] + seg_off[t];
      float* dt = dk + seg_col[t];
      if (g.square)
        for (int j = 0; j < seg_len[t]; ++j) dt[j] = sp[j] * sp[j];
      else
        std::memcpy(dt, sp, sizeof(float) * seg_len[t]);
    }
    for (int j = n; j < NR; ++j) dk[j] = 0.0f;
  }
}

// Runs step(x, n) on each W-element group; the last count % W elements go through the same step via a padded
// copy, so every element gets the same arithmetic wherever a tile boundary puts it (a fused GDN and a
// separate one give identical results).
#define AEC_SQRT_SCALE_LOOP(W, STEP)                     \
  int j = 0;                                             \
  for (; j + (W) <= count; j += (W)) STEP(x + j, n + j); \
  if (j < count) {                                       \
    float xt[W] = {}, nt[W];                             \
    for (int i = 0; i < (W); ++i) nt[i] = 1.0f;          \
    std::memcpy(xt, x + j, sizeof(float) * (count - j)); \
    std::memcpy(nt, n + j, sizeof(float) * (count - j)); \
    STEP(xt, nt);                                        \
    std::memcpy(x + j, xt, sizeof(float) * (count - j)); \
  }

// Instantiates an ISA's kernels for 1..8 rows (the tables use the first mr).
#define AEC_MICRO_VARIANTS(ATTR, NAME, V, NV)                                                                \
  template <int R, bool Fused, bool Square>                                                                  \
  ATTR void NAME(int kc, const float* a, const float* b, const int64_t* tap, float* pack, float* c, int ldc, \
                 bool acc) {                                                                                 \
    micro_body<V, R, NV, Fused, Square>(kc, a, b, tap, pack, c, ldc, acc);                                   \
  }
#define AEC_MICRO_TABLE(NAME, F, S)                                                                    \
  {                                                                                                    \
    nullptr, NAME<1, F, S>, NAME<2, F, S>, NAME<3, F, S>, NAME<4, F, S>, NAME<5, F, S>, NAME<6, F, S>, \
        NAME<7, F, S>, NAME<8, F, S>                                                                   \
  }

// 128-bit vectors: SSE2 on any x86-64, simd128 in WebAssembly (scalar code where the wasm build has no SIMD).
// 4 x 8 keeps 8 accumulators + 2 B vectors + a broadcast within 16 registers (no FMA: mul + add); under V8
// it beat 6x8, 8x8, 4x12 and 3x16.
typedef float v4f __attribute__((vector_size(16)));
#define AEC_NO_ATTR
AEC_MICRO_VARIANTS(AEC_NO_ATTR, micro_vec128, v4f, 2)
void pack_vec128(const GatherB& g, int k0, int kc, int j0, int n, float* dst) {
  pack_b_body<8>(g, k0, kc, j0, n, dst);
}
void sqrt_scale_vec128(float* x, const float* n, float beta, int count, bool inverse) {
#if defined(AEC_X86_DISPATCH)  // x86-64: SSE2 is baseline
  const __m128 b = _mm_set1_ps(beta), half = _mm_set1_ps(0.5f), three_halves = _mm_set1_ps(1.5f);
  auto step = [&](float* xp, const float* np) {
    const __m128 d = _mm_add_ps(_mm_loadu_ps(np), b), v = _mm_loadu_ps(xp);
    if (inverse) {
      _mm_storeu_ps(xp, _mm_mul_ps(v, _mm_sqrt_ps(d)));
    } else {  // 12-bit rsqrt estimate + one Newton step: ~1 ulp, several times faster than sqrt + divide
      const __m128 r = _mm_rsqrt_ps(d);
      const __m128 t = _mm_sub_ps(three_halves, _mm_mul_ps(_mm_mul_ps(half, d), _mm_mul_ps(r, r)));
      _mm_storeu_ps(xp, _mm_mul_ps(v, _mm_mul_ps(r, t)));
    }
  };
  AEC_SQRT_SCALE_LOOP(4, step)
#elif defined(__wasm_simd128__)  // no reciprocal square root estimate in simd128: exact, as the scalar code
  const v128_t b = wasm_f32x4_splat(beta);
  auto step = [&](float* xp, const float* np) {
    const v128_t r = wasm_f32x4_sqrt(wasm_f32x4_add(wasm_v128_load(np), b)), v = wasm_v128_load(xp);
    wasm_v128_store(xp, inverse ? wasm_f32x4_mul(v, r) : wasm_f32x4_div(v, r));
  };
  AEC_SQRT_SCALE_LOOP(4, step)
#else
  for (int j = 0; j < count; ++j)
    x[j] = inverse ? x[j] * std::sqrt(n[j] + beta) : x[j] / std::sqrt(n[j] + beta);
#endif
}
// K block 256: the 8-wide B micro-panel (8 KiB) and the A panel (4 KiB) stay in L1.
const GemmKernel kVec128 = {"vec128",
                            4,
                            8,
                            256,
                            AEC_MICRO_TABLE(micro_vec128, false, false),
                            AEC_MICRO_TABLE(micro_vec128, true, false),
                            AEC_MICRO_TABLE(micro_vec128, true, true),
                            pack_vec128,
                            sqrt_scale_vec128};

#ifdef AEC_X86_DISPATCH
// Compiled for the ISA via function attributes, chosen at run time: the build itself targets baseline x86-64.
#define AEC_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define AEC_TARGET_AVX512 __attribute__((target("avx512f,avx512vl,avx2,fma")))
typedef float v8f __attribute__((vector_size(32)));
typedef float v16f __attribute__((vector_size(64)));

// AVX2: 6 x 16, the classic shape: 12 ymm accumulators cover FMA latency x 2 ports, 16 registers in all.
AEC_MICRO_VARIANTS(AEC_TARGET_AVX2, micro_avx2, v8f, 2)
AEC_TARGET_AVX2 void pack_avx2(const GatherB& g, int k0, int kc, int j0, int n, float* dst) {
  pack_b_body<16>(g, k0, kc, j0, n, dst);
}
// Lambdas do not inherit a function's target attribute, so the AVX steps are functions of their own.
AEC_TARGET_AVX2 inline void sqrt_scale_step_avx2(float* x, const float* n, __m256 b, bool inverse) {
  const __m256 d = _mm256_add_ps(_mm256_loadu_ps(n), b), v = _mm256_loadu_ps(x);
  if (inverse) {
    _mm256_storeu_ps(x, _mm256_mul_ps(v, _mm256_sqrt_ps(d)));
  } else {  // as sqrt_scale_vec128
    const __m256 r = _mm256_rsqrt_ps(d);
    const __m256 t =
        _mm256_fnmadd_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), d), _mm256_mul_ps(r, r), _mm256_set1_ps(1.5f));
    _mm256_storeu_ps(x, _mm256_mul_ps(v, _mm256_mul_ps(r, t)));
  }
}
AEC_TARGET_AVX2 void sqrt_scale_avx2(float* x, const float* n, float beta, int count, bool inverse) {
  const __m256 b = _mm256_set1_ps(beta);
#define AEC_STEP(xp, np) sqrt_scale_step_avx2(xp, np, b, inverse)
  AEC_SQRT_SCALE_LOOP(8, AEC_STEP)
#undef AEC_STEP
}
const GemmKernel kAvx2 = {"avx2",
                          6,
                          16,
                          256,
                          AEC_MICRO_TABLE(micro_avx2, false, false),
                          AEC_MICRO_TABLE(micro_avx2, true, false),
                          AEC_MICRO_TABLE(micro_avx2, true, true),
                          pack_avx2,
                          sqrt_scale_avx2};

// AVX-512: 8 x 32, 16 zmm accumulators (12 x 32 measured no faster). K block 128: the B micro-panel (16 KiB)
// and the A panel (4 KiB) fit Zen 4's 32 KiB L1 together.
AEC_MICRO_VARIANTS(AEC_TARGET_AVX512, micro_avx512, v16f, 2)
AEC_TARGET_AVX512 void pack_avx512(const GatherB& g, int k0, int kc, int j0, int n, float* dst) {
  pack_b_body<32>(g, k0, kc, j0, n, dst);
}
AEC_TARGET_AVX512 inline void sqrt_scale_step_avx512(float* x, const float* n, __m512 b, bool inverse) {
  const __m512 d = _mm512_add_ps(_mm512_loadu_ps(n), b), v = _mm512_loadu_ps(x);
  if (inverse) {
    _mm512_storeu_ps(x, _mm512_mul_ps(v, _mm512_maskz_sqrt_ps(0xffff, d)));
  } else {  // 14-bit estimate + one Newton step (maskz forms: the plain ones trip -Wmaybe-uninitialized)
    const __m512 r = _mm512_maskz_rsqrt14_ps(0xffff, d);
    const __m512 t =
        _mm512_fnmadd_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), d), _mm512_mul_ps(r, r), _mm512_set1_ps(1.5f));
    _mm512_storeu_ps(x, _mm512_mul_ps(v, _mm512_mul_ps(r, t)));
  }
}
AEC_TARGET_AVX512 void sqrt_scale_avx512(float* x, const float* n, float beta, int count, bool inverse) {
  const __m512 b = _mm512_set1_ps(beta);
#define AEC_STEP(xp, np) sqrt_scale_step_avx512(xp, np, b, inverse)
  AEC_SQRT_SCALE_LOOP(16, AEC_STEP)
#undef AEC_STEP
}

const GemmKernel kAvx512 = {"avx512",
                            8,
                            32,
                            128,
                            AEC_MICRO_TABLE(micro_avx512, false, false),
                            AEC_MICRO_TABLE(micro_avx512, true, false),
                            AEC_MICRO_TABLE(micro_avx512, true, true),
                            pack_avx512,
                            sqrt_scale_avx512};

bool cpu_has_avx512() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
}
bool cpu_has_avx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#endif

const GemmKernel* best_kernel() {
#ifdef AEC_X86_DISPATCH
  if (cpu_has_avx512()) return &kAvx512;
  if (cpu_has_avx2()) return &kAvx2;
#endif
  return &kVec128;
}

std::atomic<const GemmKernel*> g_kernel{nullptr};

const GemmKernel* current_kernel() {
  const GemmKernel* k = g_kernel.load(std::memory_order_acquire);
  if (!k) {
    k = best_kernel();
    g_kernel.store(k, std::memory_order_release);
  }
  return k;
}

int round_up(int v, int m) {
  return (v + m - 1) / m * m;
}

}  // namespace

void set_gemm_isa(GemmIsa isa) {
  const GemmKernel* k = nullptr;
  switch (isa) {
    case GemmIsa::kVec128:
      k = &kVec128;
      break;
#ifdef AEC_X86_DISPATCH
    case GemmIsa::kAvx2:
      if (cpu_has_avx2()) k = &kAvx2;
      break;
    case GemmIsa::kAvx512:
      if (cpu_has_avx512()) k = &kAvx512;
      break;
#endif
    default:
      break;
  }
  g_kernel.store(k ? k : best_kernel(), std::memory_order_release);
}

const char* gemm_isa_name() {
  return current_kernel()->name;
}

PackedA pack_a(int m, int k, const float* a, int lda) {
  PackedA p;
  p.m = m, p.k = k, p.kernel = current_kernel();
  const int mr = p.kernel->mr;
  p.data.resize(size_t(m) * k);
  for (int i0 = 0; i0 < m; i0 += mr) {
    const int r = std::min(mr, m - i0);
    float* d = p.data.data() + size_t(i0) * k;
    for (int kk = 0; kk < k; ++kk)
      for (int rr = 0; rr < r; ++rr) d[size_t(kk) * r + rr] = a[size_t(i0 + rr) * lda + kk];
  }
  return p;
}

int gemm_panel_width(const PackedA& a) {
  return a.kernel->nr;
}

int gemm_tile_columns(const PackedA& a, int n, int threads) {
  // 256 columns: the thread's packed-B block (kc x 256) and C block (m x 256) stay within L2 next to A's
  // K block, while a tile is long enough to amortise packing setup.
  const int nr = a.kernel->nr, max_cols = round_up(256, nr);
  threads = std::max(1, threads);
  const int tiles = threads * std::max(1, (n + threads * max_cols - 1) / (threads * max_cols));
  return std::max(nr, round_up((n + tiles - 1) / tiles, nr));
}

void gemm_tile(const PackedA& a, const GatherB& b, int p0, int np, float* c, int ldc, GemmWorkspace& ws) {
  const GemmKernel& kr = *a.kernel;
  const int nr = kr.nr, panels = (np + nr - 1) / nr;
  if (a.k == 0) {  // e.g. a transposed conv's output phase that no tap reaches: C = 0
    for (int i = 0; i < a.m; ++i) std::fill_n(c + size_t(i) * ldc, size_t(panels) * nr, 0.0f);
    return;
  }
  // Even K blocks no larger than the kernel's: the last block is never a sliver.
  const int chunks = (a.k + kr.kc - 1) / kr.kc, kc = (a.k + chunks - 1) / chunks;
  ws.b.resize(size_t(kc) * nr);  // one panel: it is packed and consumed before the next
  const MicroFn* fused = b.square ? kr.fused_sq : kr.fused;
  for (int k0 = 0; k0 < a.k; k0 += kc) {
    const int kn = std::min(kc, a.k - k0);
    // Column panel outer, A panels inner: the packed B panel is reused from L1 by every A panel while A
    // streams from L2. The first A panel packs it (fused) unless the panel straddles an output row's end.
    for (int q = 0; q < panels; ++q) {
      const int j0 = p0 + q * nr, n = std::min(nr, np - q * nr), row = j0 / b.width, col = j0 - row * b.width;
      float* bq = ws.b.data();
      int i0 = 0;
      if (n == nr && col + nr <= b.width) {
        const int r = std::min(kr.mr, a.m);
        // With a single A panel (an RGB output layer) nothing reads the packed copy: skip the stores.
        fused[r](kn, a.data.data() + size_t(k0) * r, b.src + row * b.pitch + col, b.tap + k0,
                 a.m > kr.mr ? bq : nullptr, c + q * nr, ldc, k0 > 0);
        i0 = r;
      } else {
        kr.pack_b(b, k0, kn, j0, n, bq);
      }
      for (; i0 < a.m; i0 += kr.mr) {
        const int r = std::min(kr.mr, a.m - i0);
        kr.micro[r](kn, a.data.data() + size_t(i0) * a.k + size_t(k0) * r, bq, nullptr, nullptr,
                    c + size_t(i0) * ldc + q * nr, ldc, k0 > 0);
      }
    }
  }
}

void sqrt_scale(float* x, const float* n, float beta, int count, bool inverse) {
  current_kernel()->sqrt_scale(x, n, beta, count, inverse);
}

void gemm(int m, int n, int k, const float* a, int lda, const float* b, int ldb, float* c, int ldc,
          bool accumulate) {
  if (m <= 0 || n <= 0) return;
  const PackedA pa = pack_a(m, k, a, lda);
  std::vector<int64_t> taps(size_t(std::max(k, 0)));
  for (int kk = 0; kk < k; ++kk) taps[size_t(kk)] = int64_t(kk) * ldb;
  GatherB g;
  g.src = b, g.tap = taps.data(), g.width = n, g.pitch = 0;  // one "row" of n pixels: B read as a matrix
  const int nc = gemm_tile_columns(pa, n, 1);
  AlignedFloats tile;
  tile.resize(size_t(m) * nc);
  GemmWorkspace ws;
  for (int p0 = 0; p0 < n; p0 += nc) {
    const int np = std::min(nc, n - p0);
    gemm_tile(pa, g, p0, np, tile.data(), nc, ws);
    for (int i = 0; i < m; ++i) {
      float* dst = c + size_t(i) * ldc + p0;
      const float* t = tile.data() + size_t(i) * nc;
      if (accumulate)
        for (int j = 0; j < np; ++j) dst[j] += t[j];
      else
        std::memcpy(dst, t, sizeof(float) * np);
    }
  }
}

}  // namespace aec
