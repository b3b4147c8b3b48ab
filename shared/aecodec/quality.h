// The quality knob of a variable-rate model: one network trained for several rate-distortion trade-offs
// (lambdas) with a per-channel gain on the latent for each (Choi et al. 2019, "Variable rate deep image
// compression with a conditional autoencoder"; the gains as in Cui et al. 2021). Quality Q runs from 1 to
// 100 in hundredths and maps to a lambda, linearly in log lambda from the lowest trained lambda (Q 1) to
// the highest (Q 100); the gains at that lambda are interpolated per channel, linearly in log gain between
// the two nearest trained lambdas. A file records Q x 100 (its quality section, docs/bitstream.md), so the
// decoder rebuilds the same gains.
//
// The entropy model codes the gained latent and does not depend on Q: its tables and integer networks are
// shared, so any Q decodes deterministically. Only the float transforms see the gains: Model::at_quality
// folds them into the analysis transform's last layer and the synthesis transform's first.
#pragma once
#include <cstdint>
#include <vector>

#include "aecodec/bitstream.h"

namespace aec {

constexpr int kMinQualityCode = 100, kMaxQualityCode = 10000;  // Q x 100

// Q (1..100) to the code a file stores: round(Q x 100). Throws aec::Error outside [1, 100].
int quality_code(double quality);
// The lambda of quality code `code` for trained lambdas (ascending, at least two).
double quality_lambda(const std::vector<double>& lambdas, int code);
// The quality whose lambda is `lambda` (the inverse map), in hundredths: where a trained lambda sits on the
// knob.
double quality_of_lambda(const std::vector<double>& lambdas, double lambda);
// Gains at `lambda` from per-lambda gain rows (gains[k] for lambdas[k], each of M channels): log-linear
// between the nearest two, the end rows beyond the trained range.
std::vector<float> interpolate_gains(const std::vector<double>& lambdas, const std::vector<float>& gains,
                                     int M, double lambda);

// The quality section's bytes (a varint of the code) and back; reading checks the range.
std::vector<uint8_t> quality_section(int code);
int read_quality_section(const std::vector<uint8_t>& bytes);

}  // namespace aec
