// Small models with random weights, written through the real model-file writer: what the tests (and the CLI
// tests, through tools/make_test_model) run until trained models exist, and alongside them after.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "aecodec/model_file.h"

namespace aec::testing {

struct RandomModelSpec {
  std::string name = "test-factorized";
  std::string arch = "factorized";  // factorized (GDN, stride 2^stages), conv (relu), fc (linear 8x8), vae,
                                    // hyperprior (factorized's transforms + a mean-scale hyperprior),
                                    // channel (hyperprior + a channel context model, kind "channel")
  int n = 8, m = 6;                 // hidden and latent channels
  int stages = 2;                   // stride-2 stages: stride = 2^stages
  std::string family_id, family_role;
  uint32_t seed = 1;
  uint32_t entropy_seed = 7;  // family members share entropy tables by sharing this seed
  DType stored = DType::F32;
  std::vector<int> slices;  // channel: the context's slices; empty = 1, 2, 3, ... (the last takes the rest)
};

ModelFile make_random_model(const RandomModelSpec& spec);
// The default spec with this architecture, named "test-ARCH".
ModelFile make_random_model_of(const std::string& arch);
// `medium` (a family's medium member) with an up decoder that is a copy of `high`'s decoder (a model of twice
// its stride): the member's files then decode at full size through it as through `high`'s decoder.
ModelFile with_up_decoder(ModelFile medium, const ModelFile& high);

}  // namespace aec::testing
