// Export: a trained run -> model files following docs/model-format.md (one per quality for variable-rate
// runs, one per member for a family).
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "aecodec/model_file.h"
#include "train_loop.h"

namespace aect {

// Builds the model files of a loaded run. `base_name` names them ("factorized" -> "factorized-q2",
// "fam-high", ...). Plain autoencoders fit their quantiser on images from the run's data (or valid) folder.
std::vector<std::pair<std::string, aec::ModelFile>> export_models(LoadedRun& run,
                                                                  const std::string& base_name,
                                                                  const ExportOptions& opt);

// The tables an RD model's entropy bottleneck gives, as the file's tensors (entropy.cdf, cdf_length, offset).
void put_entropy_tables(aec::ModelFile& file, const std::vector<std::vector<double>>& pmf,
                        const std::vector<double>& tail, const std::vector<int>& offset);

std::string hex16(uint64_t h);

}  // namespace aect
