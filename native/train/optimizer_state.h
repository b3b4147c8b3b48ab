// Adam's per-parameter state (step count, first and second moments) written by the parameter's position in
// its group, not by LibTorch's own keys. LibTorch keys the state by the parameter's address as text: 1.13
// writes it in hex, 2.x parses it with std::stoull, so its own format does not survive the move between this
// machine (1.13) and the GPU machine (2.x); by position, a run keeps its moments both ways.
#pragma once
#include <torch/torch.h>

namespace aect {

// Every group's parameters in order; a parameter without state yet (no step taken) is written as such.
void save_adam_state(torch::optim::Optimizer& opt, torch::serialize::OutputArchive& out);
// Replaces the optimizer's state with the archive's. False, leaving the state empty, when the archive does
// not fit the optimizer (other groups, parameter counts or shapes).
bool load_adam_state(torch::optim::Optimizer& opt, torch::serialize::InputArchive& in);

}  // namespace aect
