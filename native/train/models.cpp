#include "models.h"

#include <cmath>

#include "aecodec/error.h"
#include "channel_codec.h"
#include "hyperprior_codec.h"
#include "sample_noise.h"

namespace aect {

namespace F = torch::nn::functional;

std::vector<torch::Tensor> CodecImpl::aux_parameters() {
  if (!eb) return {};
  return {eb->quantiles()};
}

std::vector<torch::Tensor> CodecImpl::main_parameters() {
  std::vector<torch::Tensor> out;
  torch::Tensor q = eb ? eb->quantiles() : torch::Tensor();
  for (const torch::Tensor& p : parameters())
    if (!q.defined() || !p.is_same(q)) out.push_back(p);
  return out;
}

void CodecImpl::init_gains(const std::vector<double>& lambdas, int M) {
  const int qualities = int(lambdas.size());
  if (qualities < 2) return;
  // Start the qualities apart: with distortion ~ step^2/12 against rate ~ -log2(step), the best step goes as
  // 1/sqrt(lambda), so gain_q = sqrt(lambda_q / geometric mean of the lambdas).
  double log_mean = 0;
  for (double l : lambdas) log_mean += std::log(l) / qualities;
  torch::Tensor g = torch::ones({qualities, M});
  for (int q = 0; q < qualities; ++q) g[q].fill_(std::sqrt(lambdas[size_t(q)] / std::exp(log_mean)));
  torch::Tensor ig = 1.0 / g;  // before g becomes a parameter (which would make ig a non-leaf)
  gain = register_parameter("gain", g);
  inv_gain = register_parameter("inv_gain", ig);
}

torch::Tensor CodecImpl::apply_gain(const torch::Tensor& y, int quality) const {
  return gain.defined() ? y * gain[quality].view({1, -1, 1, 1}).to(y.scalar_type()) : y;
}

torch::Tensor CodecImpl::remove_gain(const torch::Tensor& y, int quality) const {
  return inv_gain.defined() ? y * inv_gain[quality].view({1, -1, 1, 1}).to(y.scalar_type()) : y;
}

std::vector<float> CodecImpl::gain_of(int quality) const {
  return gain.defined() ? to_floats(gain[quality]) : std::vector<float>();
}
std::vector<float> CodecImpl::inv_gain_of(int quality) const {
  return inv_gain.defined() ? to_floats(inv_gain[quality]) : std::vector<float>();
}
torch::Tensor CodecImpl::prior_scale(int quality) const {
  return scaled_prior && gain.defined() ? gain[quality] : torch::Tensor();
}

torch::Tensor Member::encode(torch::Tensor x) {
  if (enc_pre) x = enc_pre->forward(x);
  return enc->forward(x);
}
torch::Tensor Member::decode(torch::Tensor y) {
  y = dec->forward(y);
  for (LayerStack& s : dec_post) y = s->forward(y);
  return y;
}
int Member::load_from(const aec::ModelFile& file) {
  int n = enc->load_from(file) + dec->load_from(file);
  if (enc_pre) n += enc_pre->load_from(file);
  for (LayerStack& s : dec_post) n += s->load_from(file);
  return n;
}
double Member::macs(int& c, int& h, int& w) {
  double total = 0;
  if (enc_pre) total += enc_pre->macs(c, h, w);
  total += enc->macs(c, h, w);
  total += dec->macs(c, h, w);
  for (LayerStack& s : dec_post) total += s->macs(c, h, w);
  return total;
}

void default_sizes(const std::string& arch, int& N, int& M) {
  if (arch == "fc") {
    if (N <= 0) N = 1024;
    if (M <= 0) M = 256;
  }
  if (N <= 0) N = 128;
  if (M <= 0) M = 192;
}

double sq_err_8bit(const torch::Tensor& x_hat, const torch::Tensor& x, int h, int w) {
  torch::Tensor a =
      x_hat.detach().to(torch::kFloat).narrow(2, 0, h).narrow(3, 0, w).clamp(0, 1).mul(255).round();
  torch::Tensor b = x.detach().to(torch::kFloat).narrow(2, 0, h).narrow(3, 0, w).mul(255).round();
  return (a - b).pow(2).sum().item<double>();
}

namespace {

torch::Tensor mse_of(const torch::Tensor& x_hat, const torch::Tensor& x) {
  return (x_hat.to(torch::kFloat) - x.to(torch::kFloat)).pow(2).mean();
}

// Balle 2018 analysis / synthesis with `stages` stride-2 5x5 stages.
void build_factorized(LayerStackImpl& g_a, LayerStackImpl& g_s, int N, int M, int stages) {
  for (int i = 0; i < stages; ++i) {
    g_a.conv(i == 0 ? 3 : N, i == stages - 1 ? M : N, 5, 2);
    if (i != stages - 1) g_a.gdn(N, false);
  }
  for (int i = 0; i < stages; ++i) {
    g_s.deconv(i == 0 ? M : N, i == stages - 1 ? 3 : N, 5, 2);
    if (i != stages - 1) g_s.gdn(N, true);
  }
}

// ---------------------------------------------------------------------------------------------- factorized
class FactorizedCodec : public CodecImpl {
 public:
  FactorizedCodec(int N, int M, const std::vector<double>& lambdas, bool scaled) {
    const int qualities = int(lambdas.size());
    latent_channels = M;
    g_a = register_module("g_a", LayerStack("g_a"));
    g_s = register_module("g_s", LayerStack("g_s"));
    build_factorized(*g_a, *g_s, N, M, 4);
    eb = register_module("eb", EntropyBottleneck(M));
    init_gains(lambdas, M);
    scaled_prior = scaled && gain.defined();
  }
  std::string arch() const override { return "factorized"; }
  int stride() const override { return 16; }

  torch::Tensor encode(const torch::Tensor& x, int quality, const std::string&) override {
    return apply_gain(g_a->forward(x), quality);
  }
  torch::Tensor decode(const torch::Tensor& y_hat, int quality) {
    return g_s->forward(remove_gain(y_hat, quality));
  }

  StepOut train_step(const torch::Tensor& x, int quality, double lambda) override {
    auto r = eb->forward(encode(x, quality, ""), prior_scale(quality));
    torch::Tensor x_hat = decode(r.y_hat, quality);
    StepOut o;
    const double pixels = double(x.size(0)) * x.size(2) * x.size(3);
    o.bpp = -torch::log2(r.likelihood).sum() / pixels;
    o.mse = mse_of(x_hat, x);
    o.loss = lambda * 255.0 * 255.0 * o.mse + o.bpp;
    return o;
  }

  EvalOut evaluate(const torch::Tensor& x, int h, int w, int quality) override {
    auto r = eb->forward(encode(x, quality, ""), prior_scale(quality));
    EvalOut o;
    o.bits = -torch::log2(r.likelihood).sum().item<double>();
    o.sq_err = sq_err_8bit(decode(r.y_hat, quality), x, h, w);
    o.samples = int64_t(3) * h * w;
    return o;
  }

  std::vector<Member> members() override {
    Member m;
    m.stride = 16, m.enc = g_a, m.dec = g_s;
    return {m};
  }

  LayerStack g_a{nullptr}, g_s{nullptr};
};

// ------------------------------------------------------------------------------------------------- family
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
class FamilyCodec : public CodecImpl {
 public:
  FamilyCodec(int N, int M, double cross_weight, bool freeze_shared)
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

// ------------------------------------------------------------------------------------ plain autoencoders
class PlainCodec : public CodecImpl {
 public:
  PlainCodec(std::string arch, int N, int M) : arch_(std::move(arch)) {
    latent_channels = M;
    g_a = register_module("g_a", LayerStack("g_a"));
    g_s = register_module("g_s", LayerStack("g_s"));
    if (arch_ == "fc") {
      g_a->linear(3 * 32 * 32, N), g_a->relu(), g_a->linear(N, M);
      g_s->linear(M, N), g_s->relu(), g_s->linear(N, 3 * 32 * 32), g_s->sigmoid(), g_s->reshape(3, 32, 32);
      stride_ = 32;
    } else {
      const bool vae = arch_ == "vae";
      for (int i = 0; i < 4; ++i) {
        g_a->conv(i == 0 ? 3 : N, i == 3 ? (vae ? 2 * M : M) : N, 5, 2);
        if (i != 3) g_a->leaky_relu(0.01);
      }
      for (int i = 0; i < 4; ++i) {
        g_s->deconv(i == 0 ? M : N, i == 3 ? 3 : N, 5, 2);
        if (i != 3) g_s->relu();
      }
      g_s->sigmoid();
      stride_ = 16;
    }
  }
  std::string arch() const override { return arch_; }
  int stride() const override { return stride_; }
  int fixed_size() const override { return arch_ == "fc" ? 32 : 0; }

  torch::Tensor encode(const torch::Tensor& x, int, const std::string&) override {
    torch::Tensor y = g_a->forward(x);
    return arch_ == "vae" ? y.narrow(1, 0, latent_channels) : y;
  }

  StepOut train_step(const torch::Tensor& x, int, double lambda) override {
    torch::Tensor y = g_a->forward(x);
    StepOut o;
    if (arch_ == "vae") {
      torch::Tensor mu = y.narrow(1, 0, latent_channels).to(torch::kFloat);
      torch::Tensor logvar = y.narrow(1, latent_channels, latent_channels).to(torch::kFloat).clamp(-30, 20);
      torch::Tensor z = mu + normal_noise_like(mu) * torch::exp(0.5 * logvar);
      o.mse = mse_of(g_s->forward(z), x);
      const double pixels = double(x.size(0)) * x.size(2) * x.size(3);
      // KL(q(z|x) || N(0, I)) in bits per pixel: the VAE's rate term.
      o.bpp = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum() / (pixels * std::log(2.0));
      o.loss = lambda * 255.0 * 255.0 * o.mse + o.bpp;
    } else {
      o.mse = mse_of(g_s->forward(y), x);
      o.loss = 255.0 * 255.0 * o.mse;  // MSE in 8-bit units
    }
    return o;
  }

  EvalOut evaluate(const torch::Tensor& x, int h, int w, int quality) override {
    EvalOut o;
    o.sq_err = sq_err_8bit(g_s->forward(encode(x, quality, "")), x, h, w);
    o.samples = int64_t(3) * h * w;
    return o;
  }

  std::vector<Member> members() override {
    Member m;
    m.stride = stride_, m.enc = g_a, m.dec = g_s;
    if (arch_ == "vae")
      m.enc_suffix.push_back({{"op", "slice_channels"}, {"begin", 0}, {"end", latent_channels}});
    return {m};
  }

  LayerStack g_a{nullptr}, g_s{nullptr};

 private:
  std::string arch_;
  int stride_ = 16;
};

}  // namespace

std::shared_ptr<CodecImpl> make_codec(const TrainConfig& cfg) {
  int N = cfg.N, M = cfg.M;
  default_sizes(cfg.arch, N, M);
  if (cfg.arch == "factorized")
    return std::make_shared<FactorizedCodec>(N, M, cfg.lambdas, cfg.gain_prior == "scaled");
  if (cfg.arch == "family") return std::make_shared<FamilyCodec>(N, M, 1.0, cfg.freeze_shared);
  if (cfg.arch == "hyperprior") return std::make_shared<HyperpriorCodecImpl>(N, M, cfg.lambdas);
  if (cfg.arch == "channel" || cfg.arch == "channel-cb")
    return std::make_shared<ChannelCodecImpl>(N, M, cfg.lambdas, cfg.arch == "channel-cb");
  if (cfg.arch == "fc" || cfg.arch == "conv" || cfg.arch == "vae")
    return std::make_shared<PlainCodec>(cfg.arch, N, M);
  throw aec::Error("unknown arch '" + cfg.arch + "' (fc, conv, vae, factorized, family, hyperprior, channel, channel-cb)");
}

}  // namespace aect
