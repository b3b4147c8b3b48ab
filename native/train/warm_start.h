// Warm starts: a new run's first weights from another run's checkpoint or from a model file (--init), instead
// of from its seed. Optimizer state starts fresh either way, so both shorten the warm-up of the learning rate
// they set rather than skip it.
#pragma once
#include <torch/torch.h>

#include "config.h"
#include "models.h"

namespace aect {

// cfg.init is a run directory: every parameter and buffer whose name and shape match, the learned prior
// included (a model file holds only its tables), so e.g. a variable-rate network starts from a single-rate
// run without relearning the prior; gains of other quality levels are mapped by log lambda (gain_map.h).
// Sets cfg.warmup_steps (200 when not given) and cfg.provenance (when not given).
void warm_start_from_run(TrainConfig& cfg, CodecImpl& model, torch::Device device);

// cfg.init is a model file: every member's layers, the entropy model's own networks, and the prior and gains
// from its trainer state where it has them (train_state.h). Sets cfg.warmup_steps (500 when not given) and
// cfg.provenance (when not given).
void warm_start_from_file(TrainConfig& cfg, CodecImpl& model);

}  // namespace aect
