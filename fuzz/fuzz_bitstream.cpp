// libFuzzer target: any bytes given to the .aec decoder are decoded or refused with aec::Error -- never a
// crash, hang, leak or sanitizer report -- by a factorized model, a hyperprior model, a channel context model
// and a member of a cross-resolution family (which cross-decodes files of the family's other member, and
// decodes its own at twice their size with its up decoder): every container version (1 and 2, and 3 with its
// sections, substreams included), every latent codec, cross-decoding and the up decoder; each input as given
// and with its checksum made right.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "aecodec/codec.h"
#include "aecodec/error.h"
#include "aecodec/file_io.h"
#include "aecodec/parallel.h"
#include "random_model.h"

// One thread: parallel_for would start threads for work this small (slower, and a second core).
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  aec::set_num_threads(1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const aec::Model model = aec::Model::from_file(aec::testing::make_random_model({}));
  static const aec::Model hyperprior =
      aec::Model::from_file(aec::testing::make_random_model_of("hyperprior"));
  static const aec::Model channel = aec::Model::from_file(aec::testing::make_random_model_of("channel"));
  // With an up decoder (its "high" twin's decoder), which decodes its own files at twice their size.
  static const aec::Model family = [] {
    aec::testing::RandomModelSpec s, high;  // fuzz/run.sh's seed comes from its "high" twin (3 stages)
    s.name = "test-fam-medium", s.family_id = "fam-test", s.family_role = "medium";
    high.name = "test-fam-high", high.stages = 3, high.family_id = "fam-test", high.family_role = "high";
    return aec::Model::from_file(aec::testing::with_up_decoder(aec::testing::make_random_model(s),
                                                               aec::testing::make_random_model(high)));
  }();
  aec::ImageLimits limits;
  limits.max_pixels = 1 << 20;  // a forged header must be refused, not decoded at 64 Mpx
  const auto decode_all = [&](const uint8_t* bytes, size_t n) {
    for (const aec::Model* m : {&model, &hyperprior, &channel, &family}) {
      try {
        aec::decode_image(*m, bytes, n, limits);
      } catch (const aec::Error&) {
      }
      try {
        aec::cross_decode_image(*m, bytes, n, limits);
      } catch (const aec::Error&) {
      }
    }
    try {
      aec::up_decode_image(family, bytes, n, limits);
    } catch (const aec::Error&) {
    }
  };
  decode_all(data, size);
  // The input again with its checksum made right (the last 4 bytes, CRC-32 of the rest): a mutation of a
  // section, a payload or the substreams' lengths otherwise never gets past the checksum.
  if (size >= 8) {
    std::vector<uint8_t> fixed(data, data + size);
    const uint32_t crc = aec::crc32(fixed.data(), size - 4);
    for (int i = 0; i < 4; ++i) fixed[size - 4 + size_t(i)] = uint8_t(crc >> (8 * i));
    if (!std::equal(fixed.begin(), fixed.end(), data)) decode_all(fixed.data(), size);
  }
  return 0;
}
