// `aecodec models`: the installed models grouped as a user chooses among them -- the codecs (each a
// variable-rate network with its quality range, or a set of single-rate levels), the cross-resolution
// families, and the research note's plain autoencoders as demonstrations -- or, with --files, one line per
// model file (name, id, arch, path) for scripts.
#pragma once

namespace aec::cli {

void print_models(bool files);

}  // namespace aec::cli
