#include "aecodec/gemm.h"

#include <algorithm>
#include <cstring>

namespace aec {

// Blocked so that a 4 x kNb tile of C stays in registers/L1 while B's rows stream through; the inner loop is
// a plain axpy over contiguous floats that the compiler vectorises (SSE/AVX natively, simd128 in WASM).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__EMSCRIPTEN__)
// One binary for every x86-64 CPU: GCC compiles the kernel for each level and picks one at load time (ifunc).
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
void gemm(int m, int n, int k, const float* a, int lda, const float* b, int ldb, float* c, int ldc,
          bool accumulate) {
  constexpr int kNb = 256;
  float acc[4][kNb];
  for (int n0 = 0; n0 < n; n0 += kNb) {
    const int nb = std::min(kNb, n - n0);
    int i = 0;
    for (; i + 4 <= m; i += 4) {
      for (int r = 0; r < 4; ++r) {
        if (accumulate) std::memcpy(acc[r], c + size_t(i + r) * ldc + n0, sizeof(float) * nb);
        else std::memset(acc[r], 0, sizeof(float) * nb);
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
      if (accumulate) std::memcpy(acc[0], c + size_t(i) * ldc + n0, sizeof(float) * nb);
      else std::memset(acc[0], 0, sizeof(float) * nb);
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

}  // namespace aec
