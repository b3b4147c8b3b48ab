// The channel context model's integer networks (aec::ChannelContext): at export, its feature embedding and
// slice nets quantised layer by layer with aec::quantize_conv (kFeatureBits at their inputs, the hyperprior's
// mean fraction bits at the slice nets' outputs, kHyperHiddenBits between); and the trainer's own reference
// of the codec's whole slice path on those integers (as IntHyperSynthesis for h_s), which the trainer's
// validation runs so that its bpp is the codec's, and which the tests hold the core to.
#pragma once
#include <array>
#include <vector>

#include "aecodec/int_layers.h"
#include "aecodec/model_file.h"
#include "channel_codec.h"
#include "layer_stack.h"

namespace aect {

struct IntChannelContext {
  // Fraction bits of what the integer nets read (entropy.context.feature_bits): 8 keeps the features and
  // decoded slices inside 16 bits, so the core's integer kernels multiply them in one piece, not two.
  static constexpr int kFeatureBits = 8;

  aec::IntConv embed;
  std::vector<std::array<aec::IntConv, 2>> param;

  static IntChannelContext quantize(const ChannelCodecImpl& model);

  // The codec's slice path for one image: y [1, M, h, w] (any device), p the integer h_s's output cropped
  // to y's grid ([1, 2M, h, w], integer-valued, kHyperOutBits). Returns the decoded latent after LRP (on y's
  // device, for g_s) and the ideal bits of y's symbols under the tables the codec picks.
  ChannelCodecImpl::SlicesOut code(ChannelCodecImpl& model, const torch::Tensor& y,
                                   const torch::Tensor& p) const;

  // The document's entropy.context object; writes the "hyper.context.*" tensors (LRP nets in storage's
  // dtype).
  nlohmann::json put(aec::ModelFile& file, const ChannelCodecImpl& model, const WeightStorage& storage) const;
};

}  // namespace aect
