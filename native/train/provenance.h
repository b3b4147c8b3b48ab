// The training history a warm-started run inherits, so that a model re-exported after a warm start (the usual
// case on a fresh machine, where train-forever starts from the committed model) still says where its earlier
// steps came from — a GPU, another recipe, a polish — instead of only counting its own steps.
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace aect {

// From a model file's metadata: its training.provenance (files exported since this was added), else its
// description (older files), followed by where the file was and at which step it was exported.
std::string provenance_from_model_file(const nlohmann::json& meta, const std::string& path);

// From another run directory: that run's provenance, then the run and the step it was taken at.
std::string provenance_from_run(const std::string& run_provenance, int64_t step, const std::string& run_dir);

}  // namespace aect
