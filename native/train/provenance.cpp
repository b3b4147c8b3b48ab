#include "provenance.h"

#include <filesystem>

namespace aect {

namespace {

std::string joined(const std::string& before, const std::string& then) {
  return before.empty() ? then : before + "; then " + then;
}

}  // namespace

std::string provenance_from_model_file(const nlohmann::json& meta, const std::string& path) {
  const std::string file = std::filesystem::path(path).filename().string();
  const nlohmann::json training = meta.value("training", nlohmann::json::object());
  std::string before;
  if (training.contains("provenance") && training["provenance"].is_string())
    before = training["provenance"].get<std::string>();
  else if (meta.contains("description") && meta["description"].is_string())
    before = file + " was: " + meta["description"].get<std::string>();  // older file: its whole description
  std::string from = "continued from " + file;
  if (training.contains("steps") && training["steps"].is_number_integer())
    from += " (exported at its step " + std::to_string(training["steps"].get<int64_t>()) + ")";
  return joined(before, from);
}

std::string provenance_from_run(const std::string& run_provenance, int64_t step, const std::string& run_dir) {
  const std::string run = std::filesystem::path(run_dir).lexically_normal().filename().string();
  return joined(run_provenance, "warm-started from run " + (run.empty() ? run_dir : run) + " at its step " +
                                    std::to_string(step));
}

}  // namespace aect
