// What every codec's file tests check first, shared: a model's file of a small image is refused, with an
// aec::Error and never a crash, when cut at any length or with any byte flipped (the container's checksum);
// and the forgeries the tests then make, which keep the checksum valid (write_bitstream recomputes it).
#pragma once
#include <catch2/catch.hpp>
#include <cstdint>
#include <vector>

#include "aecodec/bitstream.h"
#include "aecodec/codec.h"
#include "aecodec/error.h"

namespace aec::testing {

struct DamagedFiles {
  const Model& model;
  std::vector<uint8_t> good;  // the file as encode_image writes it
  Bitstream stream;           // its parse, the start of every forgery

  DamagedFiles(const Model& m, const Image& image, uint8_t flip = 0x04)
      : model(m),
        good(encode_image(m, image).bytes),
        stream(open_stream(m, good.data(), good.size(), false)) {
    for (size_t n = 0; n < good.size(); ++n) CHECK_THROWS_AS(decode_image(m, good.data(), n), Error);
    for (size_t i = 0; i < good.size(); ++i) {
      std::vector<uint8_t> flipped = good;
      flipped[i] ^= flip;
      CHECK_THROWS_AS(decode_image(m, flipped.data(), flipped.size()), Error);
    }
  }
  // The stream after edit(stream), written with a valid checksum.
  template <class Edit>
  std::vector<uint8_t> forged(Edit edit) const {
    Bitstream b = stream;
    edit(b);
    return write_bitstream(b);
  }
  // Decoding `file` fails with a message containing `what`.
  void refuse(const std::vector<uint8_t>& file, const char* what) const {
    CHECK_THROWS_WITH(decode_image(model, file.data(), file.size()), Catch::Contains(what));
  }
};

}  // namespace aec::testing
