// The factorized-prior codec (Balle et al. 2018): g_a / g_s of four stride-2 5x5 stages with GDN, the latent
// coded under a learned per-channel prior (EntropyBottleneck). Several lambdas: one variable-rate network
// with per-quality gain vectors on y (CodecImpl::init_gains).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "models.h"

namespace aect {

// scaled_prior: variable-rate, with one prior over the ungained latent, each quality's bins scaled by its
// gain (TrainConfig::gain_prior "scaled") instead of one prior over the gained latent.
std::shared_ptr<CodecImpl> make_factorized_codec(int N, int M, const std::vector<double>& lambdas,
                                                 bool scaled_prior);

}  // namespace aect
