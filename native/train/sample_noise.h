// Training noise seeded per sample: data-parallel training (distributed.h) gives the same result however the
// global batch is split over ranks, because the noise a sample gets depends only on the step and on the
// sample's index in the global batch, never on which rank holds it or how many samples sit beside it.
#pragma once
#include <cstdint>

#include <torch/torch.h>

namespace aect {

// While one is alive on this thread, uniform_noise_like / normal_noise_like draw sample b of a batch (dim 0)
// from LibTorch's default generator of the tensor's device reseeded with (step_seed, the draw's number within
// the scope, first_sample + b). Without one they draw from the default generator as it stands (tests and
// benchmarks that call train_step directly). Scopes do not nest.
class SampleNoiseScope {
 public:
  SampleNoiseScope(uint64_t step_seed, int64_t first_sample);
  ~SampleNoiseScope();
  SampleNoiseScope(const SampleNoiseScope&) = delete;
  SampleNoiseScope& operator=(const SampleNoiseScope&) = delete;
};

// Uniform noise in [lo, hi) shaped (and laid out) like `like`, of `dtype`.
torch::Tensor uniform_noise_like(const torch::Tensor& like, double lo, double hi, torch::ScalarType dtype);
// Standard normal noise shaped like `like`.
torch::Tensor normal_noise_like(const torch::Tensor& like);

}  // namespace aect
