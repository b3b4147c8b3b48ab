#include "gaussian_conditional.h"

#include <cmath>

namespace aect {

torch::Tensor gaussian_likelihood(const torch::Tensor& y_hat, const torch::Tensor& means,
                                  const torch::Tensor& scales) {
  AutocastGuard off(false, y_hat.device().type());
  torch::Tensor s = lower_bound(scales.to(torch::kFloat), kScaleBound);
  // |y - mean| and the upper tail, as CompressAI: accurate far from the mean where the CDF saturates.
  torch::Tensor v = (y_hat.to(torch::kFloat) - means.to(torch::kFloat)).abs();
  auto phi = [](const torch::Tensor& x) { return 0.5 * torch::erfc(-x / std::sqrt(2.0)); };
  torch::Tensor lik = phi((0.5 - v) / s) - phi((-0.5 - v) / s);
  return lower_bound(lik, 1e-9);
}

}  // namespace aect
