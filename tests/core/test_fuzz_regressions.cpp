// Every input a fuzzer ever flagged (tests/fuzz_regressions/, named TARGET-what.ext) is replayed through the
// target's code path: it must load or be refused with aec::Error (the ASan/UBSan build catches the rest).
#include <catch2/catch.hpp>
#include <filesystem>

#include "aecodec/codec.h"
#include "aecodec/error.h"
#include "aecodec/file_io.h"
#include "random_model.h"

using namespace aec;

TEST_CASE("fuzzer findings stay fixed") {
  const Model model = Model::from_file(testing::make_random_model({}));
  int replayed = 0;
  for (const auto& e : std::filesystem::directory_iterator(AEC_FUZZ_REGRESSIONS)) {
    const std::string name = e.path().filename().string();
    const std::vector<uint8_t> bytes = read_file(e.path().string());
    INFO(name);
    try {
      if (name.rfind("image-", 0) == 0)
        decode_image(bytes.data(), bytes.size());
      else if (name.rfind("bitstream-", 0) == 0)
        decode_image(model, bytes.data(), bytes.size());
      else if (name.rfind("model_file-", 0) == 0) {
        // as fuzz_model_file: a model that loads and is small enough codes a tiny image once
        const Model m = Model::from_file(ModelFile::parse(bytes.data(), bytes.size()));
        const int w = m.info().fixed_width ? m.info().fixed_width : m.info().stride;
        const int h = m.info().fixed_width ? m.info().fixed_height : m.info().stride;
        if (m.encoder().macs(3, h, w) + 1e3 < 5e7 && int64_t(w) * h <= 4096) {
          const EncodeResult e = encode_image(m, Image(w, h));
          decode_image(m, e.bytes.data(), e.bytes.size());
        }
      } else
        FAIL("unknown target prefix");
    } catch (const Error&) {
    }
    ++replayed;
  }
  CHECK(replayed >= 1);
}
