#include "plain_codec.h"

#include <cmath>

#include "sample_noise.h"

namespace aect {

namespace {

class PlainCodecImpl : public CodecImpl {
 public:
  PlainCodecImpl(std::string arch, int N, int M) : arch_(std::move(arch)) {
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

std::shared_ptr<CodecImpl> make_plain_codec(const std::string& arch, int N, int M) {
  return std::make_shared<PlainCodecImpl>(arch, N, M);
}

}  // namespace aect
