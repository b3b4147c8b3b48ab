// The cross-resolution family on the channel codec (arch "family-channel"; docs/family.md). The high member
// IS a channel-conditional context codec (channel_codec.h), warm-started and frozen: its transforms, entropy
// model and gains stay as loaded, so its file codes exactly what the base channel file codes. The medium
// member works at half size in the same latent space:
//   analysis m_a: a new stride-1 first layer that maps half-size pixels to what the high analysis computes
//                 after its first (stride-2) stage, optionally `medium_front` more stride-1 stages (3x3 conv,
//                 GDN) at that resolution, each starting as the identity, then copies of the high g_a's
//                 other stages (stride 8);
//   synthesis m_s: copies of the high g_s without its last upsampling stage, then a new stride-1 output
//                 layer (half-size RGB). With a medium width C > 0, the third stage (the one at the
//                 half-size image's own resolution, more than half of g_s's multiply-adds) is narrowed from
//                 N to C channels: the decoder that makes the down path cheaper than decoding at full size
//                 and downscaling.
// Both new layers start as the high's first / last layer folded onto the 2x box grid
// (family_channel_codec.cpp), so before any step the medium decoder of a high latent is the high decode
// box-downscaled (up to clamping); a narrowed stage starts as the C channels of the high's that the folded
// output layer weighs most.
//
// up_synthesis: the up path decodes through u_s, a copy of the high g_s (same shapes, reading LRP's latent)
// that learns with the medium networks and ships in the medium member: a decoder for the latents of
// half-size images at full size, where the frozen g_s only knows the high analysis' latents. up_stages adds
// stride-1 stages (3x3 conv, inverse GDN) to u_s before its last layer, each starting as the identity.
//
// medium_lrp = false: m_s reads the coded latent (symbol + mean), not the one after the context's latent
// residual prediction, so decoding with it skips the LRP nets (the exported member says "decoder_lrp":
// false). The high decoder g_s keeps reading LRP's latent, on the up path too.
//
// One entropy model, the high's: a medium latent is coded by it unchanged, and a medium file carries the
// high's entropy tensors verbatim (so the core's cross-decoding accepts the pair as one family).
//
// The loss, at the step's quality q and lambda (the high's gains, one quality drawn per step as any
// variable-rate run):
//   w_down * MSE(m_s(high latent of the full crop), box-downscaled crop)   the down path
// + w_up   * MSE(g_s or u_s(medium latent of the half crop), full crop)     the up path
// + w_med  * MSE(m_s(medium latent of the half crop), half crop)           the medium codec
// all times lambda * 255^2, plus the medium latent's rate under the shared entropy model, in bits per pixel
// of the half-size image (the medium file's own bpp), plus optionally w_latent times the mean squared
// difference between the medium latent of the half crop and the high latent of the full crop (gained, in
// quantisation steps): one kind of latent for the one half-size synthesis. Only m_a, m_s (and u_s) learn;
// with up_only, u_s alone.
#pragma once
#include <array>
#include <string>
#include <vector>

#include "channel_codec.h"

namespace aect {

class FamilyChannelCodecImpl : public ChannelCodecImpl {
 public:
  // weights: w_down, w_up, w_med, w_latent. medium_width: 0 (m_s keeps the high's widths) or C.
  // medium_front: extra stride-1 stages of m_a after its first layer.
  FamilyChannelCodecImpl(int N, int M, const std::vector<double>& lambdas, std::array<double, 4> weights,
                         int medium_width = 0, bool medium_lrp = true, int medium_front = 0,
                         bool up_synthesis = false, double up_balance = 0, bool up_clip_apart = false,
                         int up_stages = 0, bool up_only = false);
  bool medium_lrp() const { return medium_lrp_; }
  std::string arch() const override { return "family-channel"; }
  int stride() const override { return 16; }  // the high member's; the medium member's is 8
  // role "medium": the medium analysis of a half-size image (gains applied); else the high's.
  torch::Tensor encode(const torch::Tensor& x, int quality, const std::string& role = "") override;
  StepOut train_step(const torch::Tensor& x, int quality, double lambda) override;
  // The primary path is the up path (medium latent of the half-size image decoded by the high decoder): its
  // bits per full-size pixel and PSNR. Extras: "medium" / "medium_bpp" (the medium codec on the half image,
  // bpp per half-size pixel), "cross_h2m" (the down path) against "baseline_h2m_box" (high decode, then 2x
  // box downscale), "cross_m2h" (= the primary) against "baseline_m2h_bicubic" (medium decode, then bicubic
  // 2x), and "high" / "high_bpp" (the frozen channel codec itself).
  EvalOut evaluate(const torch::Tensor& x, int h, int w, int quality) override;
  std::vector<Member> members() override;  // high (stride 16), medium (stride 8)
  // The frozen high member's prior has nothing to learn: no auxiliary optimizer.
  std::vector<torch::Tensor> aux_parameters() override { return {}; }
  // up_clip_apart: u_s's parameters in a group of their own.
  std::vector<std::vector<torch::Tensor>> clip_groups() override;
  // From a family run with fewer front stages (up stages): its m_a (u_s) layers after them move up; the extra
  // stages are new (identity).
  std::string warm_start_source(const std::string& name, const TrainConfig& source) const override;
  // After a warm start: the medium networks from the high's, unless the source already had them.
  void finish_warm_start(bool source_had_all) override;
  // Copies of the high's stages into m_a / m_s, the new layers folded from the high's end layers, the front
  // stages the identity.
  void init_medium_from_high();

  LayerStack m_a{nullptr}, m_s{nullptr};
  // The up path's synthesis: u_s (up_synthesis), else the frozen high g_s.
  LayerStack up_synthesis() { return u_s ? u_s : g_s; }
  LayerStack u_s{nullptr};

 private:
  // The codec's own coding of a latent y (gains applied): z around its fixed-point medians, the integer h_s
  // and the integer slice nets, as ChannelCodecImpl::evaluate; returns the decoded latent and its bits.
  SlicesOut code_as_codec(const torch::Tensor& y);
  // What m_s reads of a coded latent: LRP's latent or the coded one (medium_lrp), gains removed.
  torch::Tensor medium_input(const SlicesOut& s, int quality);
  std::array<double, 4> w_;
  // The front stages (up stages) as the identity: a centre-tap identity conv and a GDN with beta 1, gamma 0.
  void init_front_identity();
  void init_up_stages_identity();
  int medium_width_ = 0;
  bool medium_lrp_ = true;
  int medium_front_ = 0;
  int up_stages_ = 0;                       // TrainConfig::up_stages
  double up_balance_ = 0, lambda_max_ = 0;  // TrainConfig::up_balance; the largest lambda
  bool up_clip_apart_ = false;              // TrainConfig::up_clip_apart
};

}  // namespace aect
