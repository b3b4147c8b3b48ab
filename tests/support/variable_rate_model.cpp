#include "variable_rate_model.h"

#include <cmath>
#include <random>

namespace aec::testing {

ModelFile with_quality_knob(ModelFile f, const std::vector<double>& lambdas, double default_quality,
                            uint32_t seed) {
  const int64_t K = int64_t(lambdas.size()), M = f.meta["latent"]["channels"].get<int64_t>();
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> spread(0.8f, 1.25f);
  const double mid = std::sqrt(lambdas.front() * lambdas.back());
  std::vector<float> gain(size_t(K * M)), inv(gain.size());
  for (int64_t c = 0; c < M; ++c) {
    const float s = spread(rng);
    for (int64_t k = 0; k < K; ++k) {
      const size_t i = size_t(k * M + c);
      gain[i] = float(lambdas[size_t(k)] / mid) * s;
      inv[i] = 1.0f / gain[i];
    }
  }
  f.put_floats("latent.gain", {K, M}, gain.data());
  f.put_floats("latent.inv_gain", {K, M}, inv.data());
  f.meta["variable_rate"] = {{"lambdas", lambdas}, {"default_quality", default_quality}};
  return f;
}

}  // namespace aec::testing
