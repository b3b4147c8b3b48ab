// The integer hyper-synthesis at export: a float h_s (conv / transposed conv layers with ReLUs between) is
// quantised layer by layer with the core's aec::quantize_conv into the integer network the codec runs
// (aec::IntNetwork, docs/model-format.md), with kHyperZBits fraction bits at its input, kHyperHiddenBits
// between layers and kHyperOutBits at its output.
//
// forward() is the trainer's own reference of that integer network, computed by LibTorch instead of the
// core's loops: float64 convolutions of integer-valued tensors (exact while every partial sum stays below
// 2^53, which forward checks), then the same half-up rounding shift, ReLU and saturation. The tests hold the
// core to it bit for bit, and the trainer's validation uses it, so its bpp is the codec's.
#pragma once
#include <vector>

#include "aecodec/hyperprior.h"
#include "layer_stack.h"

namespace aect {

// One integer layer of the reference: x integer-valued (any dtype) -> integer-valued float64 on the CPU.
torch::Tensor int_conv_forward(const aec::IntConv& layer, const torch::Tensor& x);

struct IntHyperSynthesis {
  std::vector<aec::IntConv> layers;

  static IntHyperSynthesis quantize(const LayerStackImpl& h_s);
  // z_int [B, N, h, w] (integer-valued, any dtype) -> [B, 2M, 4h, 4w] integer-valued float64.
  torch::Tensor forward(const torch::Tensor& z_int) const;
  // The layers as the model file's hyper_decoder list (tensors "hyper.h_s.<i>.*" into file).
  nlohmann::json put(aec::ModelFile& file) const;
};

}  // namespace aect
