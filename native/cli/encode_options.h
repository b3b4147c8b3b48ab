// The encoder's options shared by encode, eval and rd: --effort, how hard the encoder searches
// (aec::refine_latent), with the progress line a slow encode prints on stderr; and -q/--quality, the rate of
// a variable-rate model (quality.h).
#pragma once
#include <CLI/CLI.hpp>
#include <string>

#include "aecodec/codec.h"

namespace aec::cli {

void add_effort_option(CLI::App* cmd, int& effort);
CLI::Option* add_quality_option(CLI::App* cmd, double& quality);
// Options for encode_image at this effort (and quality, 0 = the model's default); unless quiet, efforts that
// take seconds report progress.
// A quality as the user typed it: "67.06", "50".
std::string format_quality(double quality);
EncodeOptions encode_options(int effort, bool quiet, double quality = 0);

}  // namespace aec::cli
