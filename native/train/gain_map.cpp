#include "gain_map.h"

#include <cmath>

#include "aecodec/error.h"

namespace aect {

torch::Tensor map_gains(const torch::Tensor& gains, const std::vector<double>& from,
                        const std::vector<double>& to) {
  aec::require(gains.dim() == 2 && gains.size(0) == int64_t(from.size()) && from.size() >= 2,
               "map_gains: need one gain row per trained lambda, at least two");
  for (size_t i = 1; i < from.size(); ++i)
    aec::require(from[i] > from[i - 1], "map_gains: the trained lambdas must ascend");
  torch::NoGradGuard ng;
  const torch::Tensor logs = torch::log(gains.detach().to(torch::kFloat).clamp_min(1e-6));
  std::vector<torch::Tensor> rows;
  for (double l : to) {
    size_t hi = 1;  // the pair (hi - 1, hi) that brackets l, or the end pair
    while (hi + 1 < from.size() && from[hi] < l) ++hi;
    const double a = std::log(from[hi - 1]), b = std::log(from[hi]);
    const double t = (std::log(l) - a) / (b - a);
    if (std::abs(l - from[hi - 1]) <= 1e-12 * l)
      rows.push_back(gains[int64_t(hi - 1)].detach().to(torch::kFloat));
    else if (std::abs(l - from[hi]) <= 1e-12 * l)
      rows.push_back(gains[int64_t(hi)].detach().to(torch::kFloat));
    else
      rows.push_back(torch::exp(logs[int64_t(hi - 1)] * (1 - t) + logs[int64_t(hi)] * t));
  }
  return torch::stack(rows).to(gains.dtype());
}

}  // namespace aect
