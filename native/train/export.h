// Export: a trained run -> model files following docs/model-format.md (one per quality for variable-rate
// runs, one per member for a family).
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "aecodec/model_file.h"
#include "layer_stack.h"
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

// The storage that --fp16 (and --gdn-f32) ask for: with fp16 every network tensor is F16, GDN beta/gamma
// included unless gdn_f32 (on factorized-q3 F16 GDN parameters cost 0.0001 dB of PSNR against F16 weights
// with F32 GDN, 0.0010 dB against all-F32).
WeightStorage weight_storage(bool fp16, bool gdn_f32);

// Re-stores a model file's network tensors -- weight and bias of every conv2d / conv_transpose2d / linear
// layer and beta / gamma of every gdn layer that its encoder and decoder lists name -- in `storage`'s dtypes;
// latent.step/offset and the entropy tables stay as they are (so the entropy identity does not change).
// Records the storage in the document's "training" section. Does not set the id (callers do, last).
void store_network_as(aec::ModelFile& file, const WeightStorage& storage);

}  // namespace aect
