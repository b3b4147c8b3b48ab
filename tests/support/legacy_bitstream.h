// Writes the .aec container's old fixed-header versions 1 and 2 (docs/bitstream.md), which the core still
// reads but no longer writes: the tests forge old files with it (shapes that do not fit, versions that do not
// fit the model) to prove the reader still checks them.
#pragma once
#include <cstdint>
#include <vector>

#include "aecodec/bitstream.h"

namespace aec::testing {

// b.header.version says which (1 or 2); every shape field is written as given, the payloads come from the
// payload and hyper payload sections.
std::vector<uint8_t> write_legacy_bitstream(const Bitstream& b);

}  // namespace aec::testing
