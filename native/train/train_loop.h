// The training loop (see run_train in config.h) and the pieces the exporter and the tests reuse.
#pragma once
#include <memory>
#include <string>

#include "checkpoint.h"
#include "data.h"

namespace aect {

struct LoadedRun {
  TrainConfig cfg;
  std::shared_ptr<CodecImpl> model;
  TrainState state;
  nlohmann::json valid;  // latest validation (valid.json), or null
  std::string dir;       // the run directory it was loaded from
};
// Rebuilds the model of a run directory from config.json and loads checkpoint.pt (evaluation mode), with the
// weights' moving average in place of the last step's weights when the run keeps one (what validation saw).
// averaged = false: the last step's weights.
LoadedRun load_run(const std::string& run_dir, torch::Device device = torch::kCPU, bool averaged = true);

// Trains per cfg; returns the final state. `resume` continues cfg.out's checkpoint. With dist.world_size > 1
// this process is one rank of a data-parallel run (distributed.h): cfg.batch is the global batch, each rank
// computes batch / world_size of its crops, and rank 0 alone writes the run directory (the others return
// their copy of the state).
TrainState train_run(const TrainConfig& cfg, bool resume, const DistOptions& dist = {});

// Validation images prepared once: padded planes (or central crops for fixed-size models).
struct ValidSet {
  std::vector<torch::Tensor> images;  // [1,3,H,W] padded to the model's stride
  std::vector<int> widths, heights;   // original sizes
};
ValidSet prepare_valid(const ImageSet& set, const CodecImpl& model, int max_images);
// Mean per-image bpp and PSNR of every quality (and the family's extra paths); model left in eval mode.
nlohmann::json validate(CodecImpl& model, const ValidSet& valid, torch::Device device);

void set_threads(int threads);

}  // namespace aect
