// The factorized prior (CompressAI's EntropyBottleneck, Balle et al. 2018): a per-channel learned CDF made of
// small monotonic networks (filters 3,3,3), quantiles tracked by an auxiliary loss, additive uniform noise in
// training and rounding around the medians in evaluation; tabulate() turns it into the model file's tables.
#pragma once
#include <vector>

#include "torch_util.h"

namespace aect {

struct EntropyTables {
  std::vector<std::vector<double>> pmf;  // per channel, over q in [offset, offset + size)
  std::vector<double> tail;              // per channel: mass outside that range
  std::vector<int> offset;               // per channel: first q of the range (q = round(y - median))
  std::vector<float> median;             // per channel, in the coded domain (the file's latent.offset)
};

class EntropyBottleneckImpl : public torch::nn::Module {
 public:
  explicit EntropyBottleneckImpl(int channels, double init_scale = 10.0, double tail_mass = 1e-9);

  struct Result {
    torch::Tensor y_hat;       // noisy (training) or rounded around the medians (evaluation)
    torch::Tensor likelihood;  // same shape as y, lower-bounded by 1e-9
  };
  // y [B, C, H, W]; always computed in float32. `scale` [C] (optional, positive): the density is over y /
  // scale, i.e. y is the prior's variable times a per-channel gain and is quantised with unit bins, so
  // quality q of a variable-rate model codes y*g_q against the one density of y with bins [k -/+ 1/2] / g_q.
  Result forward(const torch::Tensor& y, const torch::Tensor& scale = {});
  torch::Tensor likelihood(const torch::Tensor& y_hat, const torch::Tensor& scale = {});  // of given values
  torch::Tensor medians() const;                                                          // [C], unscaled
  torch::Tensor aux_loss();
  std::vector<torch::Tensor> main_parameters();  // everything but the quantiles
  torch::Tensor quantiles() const { return quantiles_; }
  EntropyTables tabulate(const torch::Tensor& scale = {});  // the tables for values coded with `scale`
  int channels() const { return channels_; }

 private:
  torch::Tensor logits_cumulative(const torch::Tensor& x, bool stop_gradient);  // x [C, 1, K]
  int channels_;
  double tail_mass_;
  std::vector<torch::Tensor> matrices_, biases_, factors_;
  torch::Tensor quantiles_;  // [C, 1, 3]: lower, median, upper
};
TORCH_MODULE(EntropyBottleneck);

}  // namespace aect
