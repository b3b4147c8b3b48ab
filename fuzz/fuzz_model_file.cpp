// libFuzzer target: any bytes given to the model loader load or are refused with aec::Error; a model that
// loads and is small enough is run once on a tiny image. The same bytes as a codec manifest (the JSON that
// puts several models behind one quality knob) parse or are refused, and a parsed one maps every quality.
#include <cstddef>
#include <cstdint>
#include <string>

#include "aecodec/codec.h"
#include "aecodec/codec_manifest.h"
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
      if (m.info().up_decoder) aec::up_decode_image(m, e.bytes.data(), e.bytes.size());
    }
  } catch (const aec::Error&) {
  }
  try {
    const aec::CodecManifest c =
        aec::CodecManifest::parse(std::string(reinterpret_cast<const char*>(data), size));
    for (double q = 1; q <= 100; q += 3.3) {
      const aec::CodecManifest::Setting s = c.at(q);
      if (s.member >= c.members.size() || s.quality < 1 || s.quality > 100) __builtin_trap();
    }
  } catch (const aec::Error&) {
  }
  return 0;
}
