#include "models.h"

#include <cmath>

#include "aecodec/error.h"
#include "hyperprior_codec.h"

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

std::vector<float> CodecImpl::gain_of(int quality) const {
  return gain.defined() ? to_floats(gain[quality]) : std::vector<float>();
}
std::vector<float> CodecImpl::inv_gain_of(int quality) const {
  return inv_gain.defined() ? to_floats(inv_gain[quality]) : std::vector<float>();
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
  FactorizedCodec(int N, int M, const std::vector<double>& lambdas) {
    const int qualities = int(lambdas.size());
    latent_channels = M;
    g_a = register_module("g_a", LayerStack("g_a"));
    g_s = register_module("g_s", LayerStack("g_s"));
    build_factorized(*g_a, *g_s, N, M, 4);
    eb = register_module("eb", EntropyBottleneck(M));
    if (qualities > 1) {
      // Start the qualities apart: with distortion ~ step^2/12 against rate ~ -log2(step), the best step goes
      // as 1/sqrt(lambda), so gain_q = sqrt(lambda_q / geometric mean of the lambdas).
      double log_mean = 0;
      for (double l : lambdas) log_mean += std::log(l) / qualities;
      torch::Tensor g = torch::ones({qualities, M});
      for (int q = 0; q < qualities; ++q) g[q].fill_(std::sqrt(lambdas[size_t(q)] / std::exp(log_mean)));
      torch::Tensor ig = 1.0 / g;  // before g becomes a parameter (which would make ig a non-leaf)
      gain = register_parameter("gain", g);
      inv_gain = register_parameter("inv_gain", ig);
    }
  }
  std::string arch() const override { return "factorized"; }
  int stride() const override { return 16; }

  torch::Tensor encode(const torch::Tensor& x, int quality, const std::string&) override {
    torch::Tensor y = g_a->forward(x);
    if (gain.defined()) y = y * gain[quality].view({1, -1, 1, 1}).to(y.scalar_type());
    return y;
  }
  torch::Tensor decode(const torch::Tensor& y_hat, int quality) {
    torch::Tensor z = y_hat;
    if (inv_gain.defined()) z = z * inv_gain[quality].view({1, -1, 1, 1});
    return g_s->forward(z);
  }

  StepOut train_step(const torch::Tensor& x, int quality, double lambda) override {
    auto r = eb->forward(encode(x, quality, ""));
    torch::Tensor x_hat = decode(r.y_hat, quality);
    StepOut o;
    const double pixels = double(x.size(0)) * x.size(2) * x.size(3);
    o.bpp = -torch::log2(r.likelihood).sum() / pixels;
    o.mse = mse_of(x_hat, x);
    o.loss = lambda * 255.0 * 255.0 * o.mse + o.bpp;
    return o;
  }

  EvalOut evaluate(const torch::Tensor& x, int h, int w, int quality) override {
    auto r = eb->forward(encode(x, quality, ""));
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
class FamilyCodec : public CodecImpl {
 public:
  FamilyCodec(int N, int M, double cross_weight) : cross_weight_(cross_weight) {
    latent_channels = M;
    high_a = register_module("high_a", LayerStack("g_a"));
    high_s = register_module("high_s", LayerStack("g_s"));
    med_a = register_module("medium_a", LayerStack("g_a"));
    med_s = register_module("medium_s", LayerStack("g_s"));
    build_factorized(*high_a, *high_s, N, M, 5);
    build_factorized(*med_a, *med_s, N, M, 4);
    eb = register_module("eb", EntropyBottleneck(M));
  }
  std::string arch() const override { return "family"; }
  int stride() const override { return 32; }

  torch::Tensor encode(const torch::Tensor& x, int, const std::string& role) override {
    return role == "medium" ? med_a->forward(x) : high_a->forward(x);
  }

  StepOut train_step(const torch::Tensor& x, int, double lambda) override {
    torch::Tensor x_ds = F::avg_pool2d(x, F::AvgPool2dFuncOptions(2));
    auto rh = eb->forward(high_a->forward(x));
    auto rm = eb->forward(med_a->forward(x_ds));
    torch::Tensor mse_hh = mse_of(high_s->forward(rh.y_hat), x);
    torch::Tensor mse_mm = mse_of(med_s->forward(rm.y_hat), x_ds);
    torch::Tensor mse_hm = mse_of(med_s->forward(rh.y_hat), x_ds);  // high latent -> medium decoder
    torch::Tensor mse_mh = mse_of(high_s->forward(rm.y_hat), x);    // medium latent -> high decoder
    const double px = double(x.size(0)) * x.size(2) * x.size(3);
    torch::Tensor bpp_h = -torch::log2(rh.likelihood).sum() / px;
    torch::Tensor bpp_m = -torch::log2(rm.likelihood).sum() / (px / 4);
    StepOut o;
    o.bpp = bpp_h;
    o.mse = mse_hh;
    o.loss = lambda * 255.0 * 255.0 * (mse_hh + mse_mm + cross_weight_ * (mse_hm + mse_mh)) + bpp_h + bpp_m;
    return o;
  }

  EvalOut evaluate(const torch::Tensor& x, int h, int w, int) override {
    EvalOut o;
    const int hh = (h + 1) / 2, hw = (w + 1) / 2;
    torch::Tensor x_ds = F::avg_pool2d(x, F::AvgPool2dFuncOptions(2));
    auto rh = eb->forward(high_a->forward(x));
    auto rm = eb->forward(med_a->forward(x_ds));
    torch::Tensor xhh = high_s->forward(rh.y_hat), xmm = med_s->forward(rm.y_hat);
    torch::Tensor xhm = med_s->forward(rh.y_hat), xmh = high_s->forward(rm.y_hat);
    o.bits = -torch::log2(rh.likelihood).sum().item<double>();
    o.sq_err = sq_err_8bit(xhh, x, h, w);
    o.samples = int64_t(3) * h * w;
    const double n_full = 3.0 * h * w, n_half = 3.0 * hh * hw;
    o.psnr["medium"] = psnr_of(sq_err_8bit(xmm, x_ds, hh, hw), int64_t(n_half));
    o.psnr["medium_bpp"] = -torch::log2(rm.likelihood).sum().item<double>() / (double(hh) * hw);
    o.psnr["cross_h2m"] = psnr_of(sq_err_8bit(xhm, x_ds, hh, hw), int64_t(n_half));
    o.psnr["cross_m2h"] = psnr_of(sq_err_8bit(xmh, x, h, w), int64_t(n_full));
    // Baselines: downscale the high decode (box), upscale the medium decode (bicubic).
    torch::Tensor box = F::avg_pool2d(xhh.clamp(0, 1), F::AvgPool2dFuncOptions(2));
    o.psnr["baseline_h2m_box"] = psnr_of(sq_err_8bit(box, x_ds, hh, hw), int64_t(n_half));
    torch::Tensor up = F::interpolate(xmm.clamp(0, 1), F::InterpolateFuncOptions()
                                                           .size(std::vector<int64_t>{x.size(2), x.size(3)})
                                                           .mode(torch::kBicubic)
                                                           .align_corners(false));
    o.psnr["baseline_m2h_bicubic"] = psnr_of(sq_err_8bit(up, x, h, w), int64_t(n_full));
    return o;
  }

  std::vector<Member> members() override {
    Member hi, me;
    hi.role = "high", hi.stride = 32, hi.enc = high_a, hi.dec = high_s;
    me.role = "medium", me.stride = 16, me.enc = med_a, me.dec = med_s;
    return {hi, me};
  }

  LayerStack high_a{nullptr}, high_s{nullptr}, med_a{nullptr}, med_s{nullptr};

 private:
  double cross_weight_;
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
      torch::Tensor z = mu + torch::randn_like(mu) * torch::exp(0.5 * logvar);
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
  if (cfg.arch == "factorized") return std::make_shared<FactorizedCodec>(N, M, cfg.lambdas);
  if (cfg.arch == "family") return std::make_shared<FamilyCodec>(N, M, 1.0);
  if (cfg.arch == "hyperprior") {
    aec::require(cfg.lambdas.size() == 1, "hyperprior: one --lambda (variable rate is factorized only)");
    return std::make_shared<HyperpriorCodecImpl>(N, M);
  }
  if (cfg.arch == "fc" || cfg.arch == "conv" || cfg.arch == "vae")
    return std::make_shared<PlainCodec>(cfg.arch, N, M);
  throw aec::Error("unknown arch '" + cfg.arch + "' (fc, conv, vae, factorized, family, hyperprior)");
}

}  // namespace aect
