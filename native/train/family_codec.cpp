#include "family_codec.h"

#include <algorithm>
#include <cmath>

namespace aect {

namespace F = torch::nn::functional;

namespace {

// The research note's cross-resolution family. Two separately built encoders "struggled to converge" to one
// latent space; here the space is shared by construction. The medium member is a factorized codec (stride 16)
// for the half-size image; the high member (stride 32) is
//   encoder: D (a learned 2x downscaler, 3 -> 3 channels, initialised to the 2x2 box average) then the
//            medium analysis, and
//   decoder: the medium synthesis, P (below), then U (a learned 2x upscaler, initialised to bilinear
//            upsampling on three of its channels, with spare channels that learn the detail bilinear
//            misses).
// The medium member's decoder is the medium synthesis then P, a small learned post-filter at half size
// (initialised to the identity). P is what lets the direct half-size decode (cross path down) beat decoding
// at full size and downscaling: without it, U learned to clean up the synthesis' output for the full-size
// image, so that image, downscaled, was better than the half-size decode. The high decoder is S -> P -> U,
// but P is trained only by the half-size paths (P trained by both made the two paths trade against each
// other; U reading S directly had to redo P's work and stayed behind bicubic on P's output). So a high
// latent is a medium latent of the (learned) half-size image, and
//   high latent -> medium decoder = a half-size decode without decoding at full size, and
//   medium latent -> high decoder = medium decode + learned super-resolution from the same bitstream.
// The joint loss trains all four paths (same-path and cross) against their references; the shared medium
// networks can warm-start from a shipped factorized model (--init), so only D, U and the prior start cold.
class FamilyCodecImpl : public CodecImpl {
 public:
  FamilyCodecImpl(int N, int M, double cross_weight, bool freeze_shared)
      : cross_weight_(cross_weight), frozen_(freeze_shared) {
    latent_channels = M;
    // The factorized model's module names, so a family can warm-start from a factorized run's checkpoint
    // (--init RUN_DIR) with its prior, not only from a model file's weights.
    med_a = register_module("g_a", LayerStack("g_a"));
    med_s = register_module("g_s", LayerStack("g_s"));
    down = register_module("d_a", LayerStack("d_a"));
    up = register_module("u_s", LayerStack("u_s"));
    post = register_module("p_s", LayerStack("p_s"));
    build_factorized(*med_a, *med_s, N, M, 4);
    down->conv(3, 3, 5, 2);
    const int P = kPostChannels;
    post->conv(3, P, 3, 1), post->relu();
    post->conv(P, P, 3, 1), post->relu();
    post->conv(P, 3, 3, 1);
    const int U = kUpChannels;
    up->deconv(3, U, 5, 2), up->relu();
    up->conv(U, U, 3, 1), up->relu();
    up->conv(U, 3, 3, 1);
    eb = register_module("eb", EntropyBottleneck(M));
    init_resamplers();
    if (frozen_)
      for (LayerStack s : {med_a, med_s, down})
        for (torch::Tensor& t : s->parameters()) t.requires_grad_(false);
  }
  std::string arch() const override { return "family"; }
  int stride() const override { return 32; }

  torch::Tensor encode(const torch::Tensor& x, int, const std::string& role) override {
    return role == "medium" ? med_a->forward(x) : med_a->forward(down->forward(x));
  }

  StepOut train_step(const torch::Tensor& x, int, double lambda) override {
    const Paths p = run(x);
    torch::Tensor mse_hh = mse_of(p.hh, x), mse_mm = mse_of(p.mm, p.x_ds);
    torch::Tensor mse_hm = mse_of(p.hm, p.x_ds), mse_mh = mse_of(p.mh, x);
    const double px = double(x.size(0)) * x.size(2) * x.size(3);
    torch::Tensor bpp_h = -torch::log2(p.rh.likelihood).sum() / px;
    torch::Tensor bpp_m = -torch::log2(p.rm.likelihood).sum() / (px / 4);
    StepOut o;
    o.bpp = bpp_h;
    o.mse = mse_hh;
    // Rates are per pixel of each member's own image, so the medium member is not starved of bits.
    o.loss = lambda * 255.0 * 255.0 * (mse_hh + mse_mm + cross_weight_ * (mse_hm + mse_mh)) + bpp_h + bpp_m;
    return o;
  }

  EvalOut evaluate(const torch::Tensor& x, int h, int w, int) override {
    EvalOut o;
    const int hh = (h + 1) / 2, hw = (w + 1) / 2;
    const Paths p = run(x);
    o.bits = -torch::log2(p.rh.likelihood).sum().item<double>();
    o.sq_err = sq_err_8bit(p.hh, x, h, w);
    o.samples = int64_t(3) * h * w;
    const double n_full = 3.0 * h * w, n_half = 3.0 * hh * hw;
    o.psnr["medium"] = psnr_of(sq_err_8bit(p.mm, p.x_ds, hh, hw), int64_t(n_half));
    o.psnr["medium_bpp"] = -torch::log2(p.rm.likelihood).sum().item<double>() / (double(hh) * hw);
    o.psnr["cross_h2m"] = psnr_of(sq_err_8bit(p.hm, p.x_ds, hh, hw), int64_t(n_half));
    o.psnr["cross_m2h"] = psnr_of(sq_err_8bit(p.mh, x, h, w), int64_t(n_full));
    // Baselines: downscale the high decode (box), upscale the medium decode (bicubic).
    torch::Tensor box = F::avg_pool2d(p.hh.clamp(0, 1), F::AvgPool2dFuncOptions(2));
    o.psnr["baseline_h2m_box"] = psnr_of(sq_err_8bit(box, p.x_ds, hh, hw), int64_t(n_half));
    torch::Tensor bicubic =
        F::interpolate(p.mm.clamp(0, 1), F::InterpolateFuncOptions()
                                             .size(std::vector<int64_t>{x.size(2), x.size(3)})
                                             .mode(torch::kBicubic)
                                             .align_corners(false));
    o.psnr["baseline_m2h_bicubic"] = psnr_of(sq_err_8bit(bicubic, x, h, w), int64_t(n_full));
    return o;
  }

  std::vector<Member> members() override {
    Member hi, me;
    hi.role = "high", hi.stride = 32, hi.enc = med_a, hi.dec = med_s, hi.enc_pre = down,
    hi.dec_post = {post, up};
    me.role = "medium", me.stride = 16, me.enc = med_a, me.dec = med_s, me.dec_post = {post};
    return {hi, me};
  }

  LayerStack med_a{nullptr}, med_s{nullptr}, down{nullptr}, up{nullptr}, post{nullptr};

 private:
  static constexpr int kUpChannels = 32, kPostChannels = 32;

  struct Paths {
    torch::Tensor x_ds, hh, mm, hm, mh;  // hm: high latent -> medium decoder; mh: medium latent -> high
    EntropyBottleneckImpl::Result rh, rm;
  };
  Paths run(const torch::Tensor& x) {
    Paths p;
    p.x_ds = F::avg_pool2d(x, F::AvgPool2dFuncOptions(2));
    torch::Tensor yh, ym;
    {
      // Frozen shared networks: no autograd graph through them (the prior and the upscaler still learn).
      std::unique_ptr<torch::NoGradGuard> ng(frozen_ ? new torch::NoGradGuard : nullptr);
      yh = med_a->forward(down->forward(x));
      ym = med_a->forward(p.x_ds);
    }
    p.rh = eb->forward(yh);
    p.rm = eb->forward(ym);
    {
      std::unique_ptr<torch::NoGradGuard> ng(frozen_ ? new torch::NoGradGuard : nullptr);
      p.hm = med_s->forward(p.rh.y_hat);  // the medium synthesis of each latent, shared by two paths
      p.mm = med_s->forward(p.rm.y_hat);
    }
    // U reads P's output, but only the medium paths train P: the high paths' gradient reaches the synthesis
    // as if P were the identity (straight through) and never P itself, so P is the best half-size filter and
    // U upscales the same image the bicubic reference does.
    const torch::Tensor hm_p = post->forward(p.hm), mm_p = post->forward(p.mm);
    p.hh = up->forward(p.hm + (hm_p - p.hm).detach());
    p.mh = up->forward(p.mm + (mm_p - p.mm).detach());
    p.hm = hm_p;
    p.mm = mm_p;
    return p;
  }

  // D = 2x2 box average; P = identity on channels 0..2; U = bilinear x2 on channels 0..2 passed through two
  // identity layers (the ReLUs keep images in [0, 1] unchanged), the other channels small random: training
  // starts from the classic resamplers instead of from noise.
  void init_resamplers() {
    torch::NoGradGuard ng;
    auto params = [](LayerStackImpl& s) {
      std::vector<torch::Tensor> w;
      for (auto& p : s.named_parameters()) w.push_back(p.value());
      return w;  // weight, bias per weighted layer, in order
    };
    std::vector<torch::Tensor> d = params(*down), u = params(*up), pf = params(*post);
    d[0].zero_(), d[1].zero_();
    for (int c = 0; c < 3; ++c) d[0][c][c].narrow(0, 2, 2).narrow(1, 2, 2).fill_(0.25);
    // Transposed conv, stride 2, padding 2: input i feeds outputs 2i-1..2i+2 with taps 1..4 of the kernel;
    // half-pixel-centred bilinear weights are 1/4, 3/4, 3/4, 1/4 there.
    const float k1[5] = {0.f, 0.25f, 0.75f, 0.75f, 0.25f};
    torch::Tensor k = torch::zeros({5, 5});
    for (int i = 0; i < 5; ++i)
      for (int j = 0; j < 5; ++j) k[i][j] = k1[i] * k1[j];
    u[0].mul_(0.1), u[1].zero_();  // deconv weight [in = 3, out = U, 5, 5]
    for (int o = 0; o < 3; ++o)
      for (int i = 0; i < 3; ++i) u[0][i][o].copy_(i == o ? k : torch::zeros({5, 5}));
    auto identity_3x3 = [](torch::Tensor& w, torch::Tensor& b) {  // [out, in, 3, 3]: identity on 0..2
      w.mul_(0.1), b.zero_();
      for (int o = 0; o < 3; ++o) w[o].zero_(), w[o][o][1][1] = 1.0f;
    };
    identity_3x3(u[2], u[3]), identity_3x3(u[4], u[5]);
    identity_3x3(pf[0], pf[1]), identity_3x3(pf[2], pf[3]), identity_3x3(pf[4], pf[5]);
  }

  double cross_weight_;
  bool frozen_;
};

}  // namespace

std::shared_ptr<CodecImpl> make_family_codec(int N, int M, double cross_weight, bool freeze_shared) {
  return std::make_shared<FamilyCodecImpl>(N, M, cross_weight, freeze_shared);
}

}  // namespace aect
