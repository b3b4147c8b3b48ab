#include "aecodec/latent_codec.h"

#include <algorithm>
#include <cmath>

#include "aecodec/channel_context.h"
#include "aecodec/error.h"
#include "aecodec/hyperprior.h"

namespace aec {

std::unique_ptr<LatentCodec> LatentCodec::build(const nlohmann::json& entropy, const ModelFile& file,
                                                int latent_channels, bool lrp) {
  const std::string kind = entropy.contains("kind") && entropy["kind"].is_string()
                               ? entropy["kind"].get<std::string>()
                               : "factorized";  // documents from before the hyperprior name none
  require(lrp || kind == "channel", "model document: decoder_lrp applies to a channel entropy model only");
  if (kind == "hyperprior")
    return std::make_unique<HyperpriorCodec>(Hyperprior::build(entropy, file, latent_channels));
  if (kind == "channel") {
    std::unique_ptr<Hyperprior> hp = Hyperprior::build(entropy, file, latent_channels);
    require(entropy.contains("context"), "entropy (channel): needs a 'context' object");
    std::unique_ptr<ChannelContext> ctx = ChannelContext::build(
        entropy["context"], file, latent_channels, int(hp->y_tables().count()), hp->mean_fraction_bits());
    return std::make_unique<ChannelCodec>(std::move(hp), std::move(ctx), lrp);
  }
  require(kind == "factorized",
          "entropy model kind '" + kind +
              "' is not supported (this build reads factorized, hyperprior and channel)");
  return std::make_unique<FactorizedCodec>(file, latent_channels);
}

std::vector<int32_t> channel_index(int c, int h, int w) {
  std::vector<int32_t> idx(size_t(c) * h * w);
  const size_t plane = size_t(h) * w;
  for (int k = 0; k < c; ++k) std::fill_n(idx.begin() + ptrdiff_t(size_t(k) * plane), plane, k);
  return idx;
}

std::vector<double> bits_per_channel(const std::vector<int32_t>& q, const int32_t* table_index, int c,
                                     size_t plane, const CdfTables& tables) {
  require(q.size() >= size_t(c) * plane, "bits_per_channel: fewer values than channels x plane");
  return entropy_bits_runs(q.data(), table_index, plane, size_t(c), tables);
}

const std::vector<uint8_t>& required_section(const Bitstream& stream, uint32_t type) {
  const std::vector<uint8_t>* s = stream.find(type);
  require(s, "corrupt .aec file: no " + section_name(type) + " section");
  return *s;
}

// The trainer's rate term (CompressAI's GaussianConditional likelihood, Phi((1/2 - |r|)/s) - Phi((-1/2 -
// |r|)/s)).
double gaussian_rate_bits(double r, double s, double& dbits) {
  const double a = std::fabs(r);
  const double inv = 1.0 / s;
  const double hi = (0.5 - a) * inv, lo = (-0.5 - a) * inv;
  constexpr double kSqrtHalf = 0.70710678118654752440, kInvSqrt2Pi = 0.39894228040143267794;
  const double mass = 0.5 * (std::erfc(-hi * kSqrtHalf) - std::erfc(-lo * kSqrtHalf));
  const double sign = r < 0 ? -1.0 : 1.0;
  if (!(mass > 1e-300)) {  // far out: the log-mass falls like a^2 / 2s^2
    dbits = sign * a * inv * inv / std::log(2.0);
    return 1000;
  }
  const double dmass = (-std::exp(-0.5 * hi * hi) + std::exp(-0.5 * lo * lo)) * kInvSqrt2Pi * inv;  // d/d|r|
  dbits = -sign * dmass / (mass * std::log(2.0));
  return -std::log2(std::max(mass, 1e-9));
}

}  // namespace aec
