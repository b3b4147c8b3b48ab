// Where the CLI finds models: a path given with -m, or a model name looked up in the model search path
// ($AECODEC_MODELS, colon-separated; then ./models; then the models/ folder of the source tree or install).
#pragma once
#include <string>
#include <vector>

#include "aecodec/model.h"
#include "aecodec/quality_codec.h"

namespace aec::cli {

std::vector<std::string> model_search_path();
// A path to a model file, or a model name (with or without .aem) searched for in model_search_path().
Model load_model(const std::string& path_or_name);
// A codec by name (or "default": models/DEFAULT's): the manifest NAME.codec.json on the search path, whose
// members load from the manifest's folder first (codec_manifest.h); else the model load_model finds, as a
// codec of its own. A path to a manifest or a model file works too.
QualityCodec load_codec(const std::string& path_or_name);
// The manifest load_codec would read for this argument, or "" when it names a model.
std::string codec_manifest_path(const std::string& path_or_name);
// Where a manifest's member is read from: NAME.aem beside the manifest, else its name (for load_model to find
// on the search path).
std::string codec_member_file(const std::string& manifest, const std::string& model);
// The installed model with this name and id, for decoding a file without -m. Throws with a message that names
// the missing version and the installed ones.
Model find_model_for(const std::string& name, const std::string& id);
// Every model file found on the search path (for `aecodec models`).
std::vector<std::string> installed_model_files();
// Every codec manifest (*.codec.json) found on the search path, the first of each name.
std::vector<std::string> installed_codec_manifests();

}  // namespace aec::cli
