// The research note's cross-resolution family: a medium member (a factorized codec, stride 16) and a high
// member (stride 32) that wraps the same networks in a learned 2x downscaler and upscaler, so both share one
// latent space and one entropy model (family_codec.cpp says how it is built and trained).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "models.h"

namespace aect {

// cross_weight: the weight of the two cross paths' errors in the joint loss; freeze_shared: keep the shared
// medium networks and the downscaler as initialised and train only the upscaler, post-filter and prior.
std::shared_ptr<CodecImpl> make_family_codec(int N, int M, double cross_weight, bool freeze_shared);

}  // namespace aect
