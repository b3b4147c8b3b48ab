#include "models.h"

#include <cmath>

#include "aecodec/error.h"
#include "channel_codec.h"
#include "factorized_codec.h"
#include "family_channel_codec.h"
#include "family_codec.h"
#include "hyperprior_codec.h"
#include "plain_codec.h"

namespace aect {

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

torch::Tensor mse_of(const torch::Tensor& x_hat, const torch::Tensor& x) {
  return (x_hat.to(torch::kFloat) - x.to(torch::kFloat)).pow(2).mean();
}

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

std::shared_ptr<CodecImpl> make_codec(const TrainConfig& cfg) {
  int N = cfg.N, M = cfg.M;
  default_sizes(cfg.arch, N, M);
  if (cfg.arch == "factorized") return make_factorized_codec(N, M, cfg.lambdas, cfg.gain_prior == "scaled");
  if (cfg.arch == "family") return make_family_codec(N, M, 1.0, cfg.freeze_shared);
  if (cfg.arch == "hyperprior") return std::make_shared<HyperpriorCodecImpl>(N, M, cfg.lambdas);
  if (cfg.arch == "channel" || cfg.arch == "channel-cb")
    return std::make_shared<ChannelCodecImpl>(N, M, cfg.lambdas, cfg.arch == "channel-cb");
  if (cfg.arch == "family-channel") {
    aec::require(cfg.family_weights.size() == 3 || cfg.family_weights.size() == 4,
                 "family-channel: --family-weights takes three or four weights (down, up, medium[, latent])");
    return std::make_shared<FamilyChannelCodecImpl>(
        N, M, cfg.lambdas,
        std::array<double, 4>{cfg.family_weights[0], cfg.family_weights[1], cfg.family_weights[2],
                              cfg.family_weights.size() == 4 ? cfg.family_weights[3] : 0.0},
        cfg.medium_width, cfg.medium_lrp, cfg.medium_front, cfg.up_synthesis, cfg.up_balance,
        cfg.up_clip_apart, cfg.up_stages, cfg.up_only);
  }
  if (cfg.arch == "fc" || cfg.arch == "conv" || cfg.arch == "vae") return make_plain_codec(cfg.arch, N, M);
  throw aec::Error("unknown arch '" + cfg.arch +
                   "' (fc, conv, vae, factorized, family, hyperprior, channel, channel-cb, family-channel)");
}

}  // namespace aect
