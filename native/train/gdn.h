// Generalised divisive normalisation (Balle et al.) with CompressAI's non-negative reparameterisation of
// beta and gamma; effective_beta()/effective_gamma() are what the model file stores.
#pragma once
#include "torch_util.h"

namespace aect {

class GDNImpl : public torch::nn::Module {
 public:
  GDNImpl(int channels, bool inverse, double beta_min = 1e-6, double gamma_init = 0.1);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor effective_beta() const;   // [C]
  torch::Tensor effective_gamma() const;  // [C, C]
  // Sets the raw parameters so that the effective values are `beta` and `gamma` (warm start from a file).
  void set_effective(const torch::Tensor& beta, const torch::Tensor& gamma);
  int channels() const { return channels_; }
  bool inverse() const { return inverse_; }

 private:
  int channels_;
  bool inverse_;
  double beta_min_;
  torch::Tensor beta_, gamma_;  // reparameterised
};
TORCH_MODULE(GDN);

}  // namespace aect
