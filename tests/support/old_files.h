// Files kept from older container versions (tests/data/vN/: model.aem, image.png, image.aec as that version
// wrote it, decoded.png as it decoded then) must decode as they did.
#pragma once
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "aecodec/codec.h"
#include "aecodec/file_io.h"
#include "aecodec/gemm.h"
#include "aecodec/image.h"

namespace aec::testing {

// Decodes dir/image.aec with m, checks its version byte and that the pixels are the ones decoded.png kept
// (the symbols decode exactly; only another GEMM kernel may move a pixel by one level). The decode and the
// file's bytes, for the test's own checks.
inline DecodeResult decodes_as_then(const Model& m, const std::string& dir, uint8_t version,
                                    std::vector<uint8_t>* bytes = nullptr) {
  const std::vector<uint8_t> old = read_file(dir + "image.aec");
  REQUIRE(old.size() > 4);
  CHECK(old[4] == version);
  DecodeResult d = decode_image(m, old.data(), old.size());
  const Image then = load_image(dir + "decoded.png");
  REQUIRE(d.image.width == then.width);
  REQUIRE(d.image.height == then.height);
  int worst = 0;
  for (size_t i = 0; i < then.rgb.size(); ++i)
    worst = std::max(worst, std::abs(int(d.image.rgb[i]) - then.rgb[i]));
  CHECK(worst <= 1);
  if (std::string(gemm_isa_name()) == "avx512") CHECK(d.image.rgb == then.rgb);
  if (bytes) *bytes = old;
  return d;
}

}  // namespace aec::testing
