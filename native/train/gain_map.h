// Warm-starting a variable-rate model from one trained with other lambdas: each new quality's gain vector
// from the old ones, so that adding a quality level (or moving one) keeps what the others learned.
#pragma once
#include <vector>

#include "torch_util.h"

namespace aect {

// gains [Q_from, M] trained for lambdas `from` (ascending) -> [Q_to, M] for lambdas `to`: a lambda found in
// `from` keeps its row exactly; any other gets log(gain) interpolated linearly in log(lambda) between the two
// nearest trained levels (extrapolated from the two at that end when outside their range), per channel.
// Works for inverse gains alike. Needs at least two trained levels.
torch::Tensor map_gains(const torch::Tensor& gains, const std::vector<double>& from,
                        const std::vector<double>& to);

}  // namespace aect
