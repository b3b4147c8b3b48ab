// --effort, shared by encode, eval and rd: how hard the encoder searches (aec::refine_latent), and the
// progress line a slow encode prints on stderr.
#pragma once
#include <CLI/CLI.hpp>

#include "aecodec/codec.h"

namespace aec::cli {

void add_effort_option(CLI::App* cmd, int& effort);
// Options for encode_image at this effort; unless quiet, efforts that take seconds report progress.
EncodeOptions encode_options(int effort, bool quiet);

}  // namespace aec::cli
