// The layers the model families need, on the core's Tensor. Weight layouts are PyTorch's, so the trainer
// exports its parameters as they are.
#pragma once
#include <vector>

#include "aecodec/gemm.h"
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

// Prepared weights: a layer's weights repacked once for the GEMM micro-kernel (model weights never change,
// so model.cpp prepares them at load). The pointer overloads above prepare on every call.
struct PreparedConv {
  ConvShape shape;
  bool transposed = false;
  std::vector<float> bias;  // shape.out values, zeros where the layer has none
  // A conv is one GEMM. A stride-s transposed conv is s*s regular stride-1 convolutions, one per output
  // phase (oy % s, ox % s), each with the sub-kernel of the taps that reach that phase (sub-pixel form):
  // every output pixel is gathered once, nothing is scattered.
  struct Phase {
    int ey = 0, ex = 0;          // output phase
    int dy = 0, dx = 0;          // input offset: phase pixel (a, b) reads x[a + dy - t][b + dx - u]
    int taps_y = 0, taps_x = 0;  // t < taps_y, u < taps_x (kernel row ry + s*t, column rx + s*u)
    PackedA a;                   // [out x in*taps_y*taps_x]
  };
  std::vector<Phase> phases;
};
PreparedConv prepare_conv2d(const float* weight, const float* bias, const ConvShape& s);
PreparedConv prepare_conv_transpose2d(const float* weight, const float* bias, const ConvShape& s);
Tensor conv2d(const Tensor& x, const PreparedConv& w);
Tensor conv_transpose2d(const Tensor& x, const PreparedConv& w);

struct PreparedGdn {
  int channels = 0;
  bool inverse = false;
  std::vector<float> beta;
  PackedA gamma;
};
PreparedGdn prepare_gdn(int channels, const float* beta, const float* gamma, bool inverse);
void gdn(Tensor& x, const PreparedGdn& g);

// conv / transposed conv followed by GDN (post, may be null), the GDN applied to each output tile while it
// is in cache: the same numbers as the two layers one after the other, without two more passes over the
// output tensor. post->channels must equal the conv's output channels.
Tensor conv2d(const Tensor& x, const PreparedConv& w, const PreparedGdn* post);
Tensor conv_transpose2d(const Tensor& x, const PreparedConv& w, const PreparedGdn* post);

// A regular conv's input as its GEMM reads it: x zero-padded and split into its stride x stride phases, plane
// (ci, ry, rx) holding xpad[stride*a + ry][stride*b + rx] (ph x pw elements each), so that every tap of every
// output pixel reads a contiguous run. conv2d(Tensor) builds it from x in a pass of its own; a conv whose
// output only feeds another conv writes it straight into that conv's source (conv2d_to_source): the output
// tensor, its write, its read and that pass are saved.
struct ConvSource {
  int c = 0, h = 0, w = 0;                  // the tensor it holds
  int kernel = 1, stride = 1, padding = 0;  // of the conv that reads it
  int oh = 0, ow = 0;                       // that conv's output size
  int ph = 0, pw = 0;                       // plane size
  std::vector<float> data;                  // c * stride^2 planes (storage from the pool, pool.h)
};
ConvSource conv_source(const Tensor& x, const PreparedConv& w);
Tensor conv2d(const ConvSource& x, const PreparedConv& w, const PreparedGdn* post);
// conv2d of x, its output written as the source of `next` (a regular conv reading this one's channels).
ConvSource conv2d_to_source(const ConvSource& x, const PreparedConv& w, const PreparedGdn* post,
                            const PreparedConv& next);

// The reference path: im2col + gemm_reference, scatter-form transposed conv. Straightforward and slow; the
// fast path above is tested against it (tests/core/test_fast_paths.cpp).
Tensor conv2d_reference(const Tensor& x, const float* weight, const float* bias, const ConvShape& s);
Tensor conv_transpose2d_reference(const Tensor& x, const float* weight, const float* bias,
                                  const ConvShape& s);
void gdn_reference(Tensor& x, const float* beta, const float* gamma, bool inverse);

}  // namespace aec
