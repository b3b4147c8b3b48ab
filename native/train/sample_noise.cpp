#include "sample_noise.h"

#include <mutex>

namespace aect {

namespace {

struct NoiseState {
  bool active = false;
  uint64_t step_seed = 0;
  int64_t first = 0;
  uint64_t draws = 0;
};
thread_local NoiseState g_noise;

uint64_t mix64(uint64_t a, uint64_t b) {
  uint64_t z = a * 0x9E3779B97F4A7C15ull + b + 0xD1B54A32D192ED03ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Fills `out` sample by sample, each from the device's default generator reseeded for that sample. The
// values depend on the seed, the sample's element count and layout only: the CPU kernels draw serially, and
// CUDA's Philox kernels start at offset 0 after a reseed.
template <typename Fill>
torch::Tensor per_sample(torch::Tensor out, Fill fill) {
  at::Generator gen = at::globalContext().defaultGenerator(out.device());
  const uint64_t draw = g_noise.draws++;
  for (int64_t b = 0; b < out.size(0); ++b) {
    {
      std::lock_guard<std::mutex> lock(gen.mutex());
      gen.set_current_seed(mix64(mix64(g_noise.step_seed, draw), uint64_t(g_noise.first + b)));
    }
    torch::Tensor s = out[b];
    fill(s, gen);
  }
  return out;
}

}  // namespace

SampleNoiseScope::SampleNoiseScope(uint64_t step_seed, int64_t first_sample) {
  g_noise = NoiseState{true, step_seed, first_sample, 0};
}

SampleNoiseScope::~SampleNoiseScope() {
  g_noise = NoiseState{};
}

torch::Tensor uniform_noise_like(const torch::Tensor& like, double lo, double hi, torch::ScalarType dtype) {
  torch::Tensor out = torch::empty_like(like, like.options().dtype(dtype));
  if (!g_noise.active || out.dim() == 0) return out.uniform_(lo, hi);
  return per_sample(out, [&](torch::Tensor& s, const at::Generator& g) { s.uniform_(lo, hi, g); });
}

torch::Tensor normal_noise_like(const torch::Tensor& like) {
  torch::Tensor out = torch::empty_like(like);
  if (!g_noise.active || out.dim() == 0) return out.normal_();
  return per_sample(out, [&](torch::Tensor& s, const at::Generator& g) { s.normal_(0.0, 1.0, g); });
}

}  // namespace aect
