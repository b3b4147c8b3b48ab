// libFuzzer target: the image loader (stb_image behind aecodec's limits) decodes or refuses any bytes.
#include <cstddef>
#include <cstdint>

#include "aecodec/error.h"
#include "aecodec/image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  aec::ImageLimits limits;
  limits.max_side = 2048;
  limits.max_pixels = 1 << 20;
  try {
    aec::decode_image(data, size, limits, size % 2 ? aec::AlphaPolicy::drop : aec::AlphaPolicy::refuse);
  } catch (const aec::Error&) {
  }
  return 0;
}
