// What a shipped model file carries beyond what the core needs, so that training can go on from it where no
// run directory exists (a new machine, a new session): the learned prior's parameters (the file's entropy
// tables are their integer tabulation and cannot be turned back) and, for a variable-rate network, every
// quality's gain vectors (each file holds only its own quality's gains, folded into the weights). Stored as
// F32 tensors named "train.*", described by the document's "training"."state"; the core never reads them
// (docs/model-format.md). Without them a warm start relearns the prior from scratch, which cost hundreds of
// steps (docs/training.md).
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "aecodec/model_file.h"
#include "models.h"

namespace aect {

// Adds the state tensors of `model` to `file` for the exported quality (0-based); returns the description
// that goes into the document's "training"."state" (null when the model has nothing to carry).
nlohmann::json put_train_state(aec::ModelFile& file, CodecImpl& model, int quality);

// After the members' weights were loaded from `file` (Member::load_from): restores the prior and the gains
// the file carries, and divides the file's quality's gains out of the folded weights. Returns what it
// restored, for the log ("" when the file carries no state or the model has nowhere to put it).
std::string load_train_state(const aec::ModelFile& file, CodecImpl& model);

}  // namespace aect
