// The layers the model families need, on the core's Tensor. Weight layouts are PyTorch's, so the trainer
// exports its parameters as they are.
#pragma once
#include "aecodec/parallel.h"
#include "aecodec/tensor.h"

namespace aec {

struct ConvShape {
  int in = 0, out = 0, kernel = 1, stride = 1, padding = 0, output_padding = 0;
};

// PyTorch Conv2d, zero padding. weight [out, in, k, k], bias [out] (may be null).
Tensor conv2d(const Tensor& x, const float* weight, const float* bias, const ConvShape& s);
// PyTorch ConvTranspose2d. weight [in, out, k, k], bias [out] (may be null).
Tensor conv_transpose2d(const Tensor& x, const float* weight, const float* bias, const ConvShape& s);
// Generalised divisive normalisation: y_i = x_i / sqrt(beta_i + sum_j gamma[i][j] x_j^2); inverse multiplies.
void gdn(Tensor& x, const float* beta, const float* gamma, bool inverse);
// y = W flatten(x) + b, flatten in (C,H,W) order; weight [out, in]; output [out, 1, 1].
Tensor linear(const Tensor& x, const float* weight, const float* bias, int out);

void relu(Tensor& x);
void leaky_relu(Tensor& x, float slope);
void sigmoid(Tensor& x);
void tanh_inplace(Tensor& x);

}  // namespace aec
