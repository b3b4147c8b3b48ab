// libFuzzer target: any bytes given to the model loader load or are refused with aec::Error; a model that
// loads and is small enough is run once on a tiny image.
#include <cstddef>
#include <cstdint>

#include "aecodec/codec.h"
#include "aecodec/error.h"
#include "aecodec/parallel.h"

// One thread: parallel_for would start threads for work this small (slower, and a second core).
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  aec::set_num_threads(1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const aec::Model m = aec::Model::from_file(aec::ModelFile::parse(data, size));
    const int w = m.info().fixed_width ? m.info().fixed_width : m.info().stride;
    const int h = m.info().fixed_width ? m.info().fixed_height : m.info().stride;
    if (m.encoder().macs(3, h, w) + 1e3 < 5e7 && int64_t(w) * h <= 4096) {
      const aec::EncodeResult e = aec::encode_image(m, aec::Image(w, h));
      aec::decode_image(m, e.bytes.data(), e.bytes.size());
    }
  } catch (const aec::Error&) {
  }
  return 0;
}
