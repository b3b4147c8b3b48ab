// The transposed convolution of the synthesis transforms, computed by oneDNN on the CPU.
//
// LibTorch 1.13 has no oneDNN transposed convolution: conv_transpose2d on the CPU runs its im2col/col2im
// fallback (slow_conv_transpose2d), forward and backward, and CPU autocast keeps it in float32. A transposed
// convolution is the input gradient of the convolution with the same weight, so it runs here as that
// (at::convolution_backward, which oneDNN serves), and its backward as that convolution (input gradient) and
// the convolution's weight gradient. The same function, to float rounding, at about half the cost of the
// fallback for the decoder's layers. Elsewhere (CUDA, or where the fallback is faster: a handful of output
// channels) it is torch::conv_transpose2d itself, or the fallback's forward with this backward.
#pragma once
#include "torch_util.h"

namespace aect {

// y = conv_transpose2d(x, w, b) with w [in, out, k, k], square stride/padding/output_padding, groups 1,
// dilation 1. Under CPU autocast it computes in float32, as LibTorch 1.13's autocast does for this op.
torch::Tensor conv_transpose2d_fast(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b,
                                    int64_t stride, int64_t padding, int64_t output_padding);

}  // namespace aect
