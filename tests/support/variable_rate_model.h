// A variable-rate model for the tests (quality.h): any random model file plus per-lambda latent gains,
// gain_k = lambda_k / lambda_mid times a small per-channel spread (a larger lambda: a larger gain, finer
// quantisation, more bytes; wider apart than the trainer's sqrt start, so that a random model's rate moves
// well beyond the container's overhead).
#pragma once
#include <cstdint>
#include <vector>

#include "aecodec/model_file.h"

namespace aec::testing {

ModelFile with_quality_knob(ModelFile file, const std::vector<double>& lambdas = {0.001, 0.004, 0.016, 0.064},
                            double default_quality = 50, uint32_t seed = 3);

}  // namespace aec::testing
