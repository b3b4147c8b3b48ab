// The research note's plain autoencoders, made into codecs by a uniform quantiser fitted at export: fc (fully
// connected, 32x32 images), conv (strided convolutions) and vae (conv with a Gaussian posterior, its KL
// divergence as the rate term). fc and conv train on MSE alone, without quantisation or a rate term.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "models.h"

namespace aect {

// arch: "fc", "conv" or "vae".
std::shared_ptr<CodecImpl> make_plain_codec(const std::string& arch, int N, int M);

}  // namespace aect
