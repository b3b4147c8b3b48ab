// Float GEMM, the kernel under convolution, transposed convolution, GDN and linear layers.
//
// Two paths. The fast one packs A (the weights, constant for a model's lifetime, so packed once) into row
// panels and gathers B straight from an image into column panels (im2col fused with packing), then runs a
// register-blocked micro-kernel compiled for AVX-512, AVX2+FMA or plain 128-bit vectors (SSE2 / wasm
// simd128), picked at run time. The reference path is the plain blocked loop the fast one is tested against.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace aec {

// C[m x n] = A[m x k] * B[k x n] (+ C when accumulate). Row-major with leading dimensions lda, ldb, ldc.
// Runs the fast path (single-threaded); allocates its packing buffers per call.
void gemm(int m, int n, int k, const float* a, int lda, const float* b, int ldb, float* c, int ldc,
          bool accumulate);
// The same product with the straightforward blocked loop: the reference the fast path is tested against.
void gemm_reference(int m, int n, int k, const float* a, int lda, const float* b, int ldb, float* c, int ldc,
                    bool accumulate);

// Which micro-kernel the fast path uses. kAuto = the best this CPU runs (AVX-512 > AVX2+FMA > 128-bit
// vectors); forcing one the CPU lacks falls back to kAuto. Weights packed earlier keep the kernel they were
// packed for (so tests can run every kernel side by side).
enum class GemmIsa { kAuto, kVec128, kAvx2, kAvx512 };
void set_gemm_isa(GemmIsa isa);
const char* gemm_isa_name();  // of the kernel that weights packed now would get: "avx512", "avx2", "vec128"

struct GemmKernel;  // one ISA's micro-kernels, tile sizes and B packer (gemm.cpp)

// 64-byte aligned floats: packed panels are read with aligned full-vector loads.
struct AlignedFree {
  void operator()(float* p) const;
};
class AlignedFloats {
 public:
  void resize(size_t n);  // contents are not kept
  float* data() { return p_.get(); }
  const float* data() const { return p_.get(); }
  size_t size() const { return n_; }

 private:
  std::unique_ptr<float, AlignedFree> p_;
  size_t n_ = 0, capacity_ = 0;
};

// A packed into the micro-kernel's row panels: panel i holds rows [i*mr, i*mr + r) (r = mr, fewer for the
// last) as k columns of r contiguous values, so the kernel reads A strictly sequentially.
struct PackedA {
  int m = 0, k = 0;
  const GemmKernel* kernel = nullptr;
  AlignedFloats data;
};
PackedA pack_a(int m, int k, const float* a, int lda);

// B described as a gather from an image instead of a matrix: element (kk, j) is
// src[tap[kk] + (j / width) * pitch + j % width]. Column j is an output pixel of a width-wide grid laid
// over planes of row pitch `pitch`; row kk is a filter tap (an offset into the planes). This is im2col
// without the im2col buffer. With square, B holds the squares of those values (GDN's x^2).
struct GatherB {
  const float* src = nullptr;
  const int64_t* tap = nullptr;  // k offsets
  int width = 1;
  int64_t pitch = 0;
  bool square = false;
};

// Per-thread scratch for gemm_tile (one packed B panel); sized on first use, reused across tiles.
struct GemmWorkspace {
  AlignedFloats b;
};

// Columns [p0, p0 + np) of C = A * B into c (row stride ldc), C's rows [0, a.m). Writes whole column
// panels: c must have room for round_up(np, gemm_panel_width(a)) columns (the extra ones are garbage).
void gemm_tile(const PackedA& a, const GatherB& b, int p0, int np, float* c, int ldc, GemmWorkspace& ws);
int gemm_panel_width(const PackedA& a);  // the kernel's NR
// x[j] /= sqrt(n[j] + beta) (x[j] *= ... when inverse) for j < count: GDN's epilogue, vectorised by hand
// (the compiler leaves std::sqrt scalar because of errno). On x86 the division is a reciprocal square root
// estimate + one Newton step (~1 ulp off sqrt + divide); each element gets the same arithmetic wherever
// count and alignment split the vectors.
void sqrt_scale(float* x, const float* n, float beta, int count, bool inverse);
// Columns per tile that keep a thread's C block in L2, for n columns split over `threads` (a multiple of
// the panel width; the tile count is a multiple of threads so that threads finish together).
int gemm_tile_columns(const PackedA& a, int n, int threads);

}  // namespace aec
