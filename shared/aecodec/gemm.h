// Single-threaded float GEMM, the kernel under convolution, transposed convolution, GDN and linear layers.
#pragma once

namespace aec {

// C[m x n] = A[m x k] * B[k x n] (+ C when accumulate). Row-major with leading dimensions lda, ldb, ldc.
void gemm(int m, int n, int k, const float* a, int lda, const float* b, int ldb, float* c, int ldc, bool accumulate);

}  // namespace aec
