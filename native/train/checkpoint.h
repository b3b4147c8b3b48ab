// Run-directory state: config.json, checkpoint.pt (model + both optimizers, by parameter position so the file
// moves between LibTorch versions (optimizer_state.h) + counters, written atomically:
// serialised in memory, then aec::write_file_atomic's tmp + rename, so a kill mid-write leaves the previous
// checkpoint intact and a leftover tmp is never read), valid.json (the latest validation numbers).
#pragma once
#include <string>
#include <vector>

#include "config.h"
#include "models.h"
#include "weight_average.h"

namespace aect {

struct TrainState {
  int64_t step = 0;              // steps done
  double lr_scale = 1.0;         // halved by each NaN/inf recovery
  double wall_s = 0, cpu_s = 0;  // accumulated over every session of the run
  int64_t images = 0;            // training crops seen
  int64_t warmup_from = 0;       // step where the current lr warm-up began
  int nan_events = 0;
  // Set (not saved) when a checkpoint's optimizer state could not be used and the optimizers restarted.
  bool optimizer_restarted = false;
};

// True, after clearing it, when an optimizer state loaded in LibTorch's own format (checkpoints written
// before optimizer_state.h) is unusable: an entry without a state. LibTorch keys the state by the parameter's
// address, written as text: 1.13 writes it in hex, 2.x reads it back with std::stoull, so a 1.13 checkpoint
// loaded by 2.x maps every parameter to address 0, one gets some other parameter's state and the rest get
// none, and Adam's step dereferences that (the SIGSEGV seen on the GPU machine). The reverse direction (2.x
// decimal keys read by 1.13 as text) maps correctly.
bool drop_unusable_optimizer_state(torch::optim::Optimizer& opt);

std::string checkpoint_path(const std::string& run_dir);

// Serialises model + optimizers + state + the weights' moving average; aux (plain autoencoders) and avg may
// be null.
std::string checkpoint_bytes(CodecImpl& model, torch::optim::Optimizer& main, torch::optim::Optimizer* aux,
                             const TrainState& state, const WeightAverage* avg = nullptr);
// A checkpoint without an average (written before there was one) resets avg to the loaded weights. Optimizer
// state that does not fit (another model's, or drop_unusable_optimizer_state) is dropped with a warning, and
// the learning rate warms up again from this step (state.optimizer_restarted).
void restore_checkpoint_bytes(const std::string& bytes, CodecImpl& model, torch::optim::Optimizer* main,
                              torch::optim::Optimizer* aux, TrainState& state, WeightAverage* avg = nullptr);

void save_checkpoint(const std::string& run_dir, CodecImpl& model, torch::optim::Optimizer& main,
                     torch::optim::Optimizer* aux, const TrainState& state,
                     const WeightAverage* avg = nullptr);
// Loads checkpoint.pt; returns false when there is none. Optimizers and avg may be null (export loads the
// model and its average only).
bool load_checkpoint(const std::string& run_dir, CodecImpl& model, torch::optim::Optimizer* main,
                     torch::optim::Optimizer* aux, TrainState& state, WeightAverage* avg = nullptr);

void write_json_atomic(const std::string& path, const nlohmann::json& j);
nlohmann::json read_json(const std::string& path);

}  // namespace aect
