// Channel-conditional context model on the mean-scale hyperprior (Minnen & Singh 2020, "Channel-wise
// autoregressive entropy models"), optionally with a checkerboard spatial context inside each slice (He et
// al. 2021; both together with uneven groups are ELIC, He et al. 2022).
//
// g_a, g_s, h_a, h_s and the z prior are the hyperprior's (same module names, so --init from a hyperprior
// model file or run warm-starts all of them). y is split into a few uneven channel slices (for M = 96:
// 8, 8, 16, 32, 32, uneven as ELIC's: small first slices are cheap to condition on and give every later
// slice context early). Slice k's mean and scale come from a small conv net (conv 3x3, ReLU, conv 3x3) over
// features of the hyperprior's scales and means (one conv shared by all slices) and the slices already
// decoded; latent residual prediction (LRP) adds 0.5 * tanh(net(...)) to each
// decoded slice to cancel part of its rounding error.
//
// The nets predict corrections to the hyperprior's own parameters (mean + dmean, scale * exp(dlogscale)),
// and their last layers start at zero: a warm-started model begins exactly at the hyperprior's rate and
// distortion and can only be trained away from it, so a short pilot measures what the context adds rather
// than how fast fresh nets relearn a prior.
//
// Checkerboard (arch "channel-cb", ELIC's entropy model without ELIC's transforms): in each slice the anchor
// half of the positions ((i + j) even) is coded first with the channel context only; the other half also sees
// a 5x5 conv over the decoded anchors. Both halves decode in two parallel passes, not serially.
//
// Training: additive noise for the likelihoods (as the hyperprior); the decoded slices that condition later
// slices, LRP and g_s get y rounded around its mean with a straight-through gradient, which is what they see
// when decoding. Evaluation follows the codec's path as far as it exists: z around its fixed-point medians,
// the integer h_s, then the float slice nets, scales mapped to the codec's 64-entry table by its integer
// thresholds, y rounded around the means. With the slice nets at their initial zeros this is bit for bit
// the hyperprior's validation.
//
// Export (int_channel.h): the nets that pick means and tables become integer networks (aec::ChannelContext),
// LRP stays float; the checkerboard variant has no integer form and does not export.
#pragma once
#include "hyperprior_codec.h"

namespace aect {

class ChannelCodecImpl : public HyperpriorCodecImpl {
 public:
  ChannelCodecImpl(int N, int M, const std::vector<double>& lambdas, bool checkerboard);
  std::string arch() const override { return checkerboard_ ? "channel-cb" : "channel"; }
  StepOut train_step(const torch::Tensor& x, int quality, double lambda) override;
  // Extras: "hyper_bpp" (z), "hs_ms" (the hyperprior's h_s, float, on this image), "entropy_ms" (h_s plus
  // every slice net in decoding order: the decode-side cost of the entropy model) and "gs_ms" (g_s, for
  // scale).
  EvalOut evaluate(const torch::Tensor& x, int h, int w, int quality) override;
  // The hyperprior's networks, then a channel file's context nets: the integer embedding and slice nets
  // dequantised (each weight and bias times its layer's power-of-two scale), LRP as stored. A hyperprior file
  // leaves the context nets at their zero start.
  int load_entropy_networks(const aec::ModelFile& file) override;
  // The hyperprior's entropy model as kind "channel" with the context nets (int_channel.h).
  void export_entropy(aec::ModelFile& file, nlohmann::json& doc, const WeightStorage& storage = {}) override;
  bool checkerboard() const { return checkerboard_; }
  // Conv `index` of one of the nets as a plain conv (weight, bias on the CPU, float), the learning-rate
  // reparametrisation folded in.
  static std::pair<torch::Tensor, torch::Tensor> conv_weights(const torch::nn::Sequential& net, int index);

  // Uneven slice widths summing to M.
  static std::vector<int> slice_sizes(int M);

  struct SlicesOut {
    torch::Tensor y_hat;    // decoded latent for g_s (LRP applied)
    torch::Tensor bits;     // scalar: -log2 likelihood of y over all slices
    torch::Tensor y_coded;  // the coded latent, symbol + mean, before LRP (a decoder with decoder_lrp false)
  };
  // hyper: [B, 2M, h, w] the hyperprior's scales then means (float). training: noise likelihoods and
  // straight-through rounding; otherwise rounding and table scales (evaluation).
  SlicesOut code_slices(const torch::Tensor& y, const torch::Tensor& hyper, bool training);

  // The codec's log-domain scale table (aec::log_scale_fixed at kHyperOutBits, as floats) and the table index
  // of continuous scales (aec::scale_index, no gradient).
  static torch::Tensor log_scale_table(torch::Device dev);
  static torch::Tensor table_index(const torch::Tensor& scales);

  torch::nn::Sequential hyper_embed{
      nullptr};  // the hyperprior's scales and means -> features for every slice
  std::vector<torch::nn::Sequential> param_nets, lrp_nets;
  std::vector<torch::nn::Sequential> ctx_convs;  // checkerboard only
  std::vector<int> sizes;

 private:
  // Corrections (dmean, dlogscale) of slice k. hyper: the shared features of the hyperprior's parameters;
  // ctx undefined = no spatial context yet (zeros).
  std::pair<torch::Tensor, torch::Tensor> slice_params(int k, const torch::Tensor& hyper,
                                                       const torch::Tensor& prefix, const torch::Tensor& ctx);
  bool checkerboard_;
};

}  // namespace aect
