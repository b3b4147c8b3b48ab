// The Gaussian conditional of the mean-scale hyperprior (CompressAI's GaussianConditional): the likelihood of
// y_hat under N(mean, scale) convolved with a unit box, scales lower-bounded at 0.11 (with the
// gradient-passing bound), likelihoods at 1e-9. The integer tables the codec codes with come from
// aec::gaussian_tables.
#pragma once
#include "torch_util.h"

namespace aect {

constexpr double kScaleBound = 0.11;

// All three [B, C, H, W]; computed in float32.
torch::Tensor gaussian_likelihood(const torch::Tensor& y_hat, const torch::Tensor& means,
                                  const torch::Tensor& scales);

}  // namespace aect
