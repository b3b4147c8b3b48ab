#include "factorized_codec.h"

namespace aect {

namespace {

class FactorizedCodecImpl : public CodecImpl {
 public:
  FactorizedCodecImpl(int N, int M, const std::vector<double>& lambdas, bool scaled) {
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

}  // namespace

std::shared_ptr<CodecImpl> make_factorized_codec(int N, int M, const std::vector<double>& lambdas,
                                                 bool scaled_prior) {
  return std::make_shared<FactorizedCodecImpl>(N, M, lambdas, scaled_prior);
}

}  // namespace aect
