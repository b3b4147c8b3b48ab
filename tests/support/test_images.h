// Deterministic synthetic images for tests: smooth gradients, edges and texture, so codecs and metrics see
// something like a photograph without the tests depending on any data folder.
#pragma once
#include <cmath>
#include <cstdint>

#include "aecodec/image.h"

namespace aec::testing {

inline Image synthetic_image(int w, int h, uint32_t seed = 1) {
  Image im(w, h);
  uint32_t s = seed * 2654435761u + 1;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      s = s * 1664525u + 1013904223u;
      const double noise = double(s >> 24) / 255.0 - 0.5;
      const double fx = double(x) / (w > 1 ? w - 1 : 1), fy = double(y) / (h > 1 ? h - 1 : 1);
      const bool disc = (fx - 0.6) * (fx - 0.6) + (fy - 0.4) * (fy - 0.4) < 0.05;
      const double v[3] = {200 * fx + 30 * std::sin(x * 0.3) + 10 * noise,
                           180 * fy + (disc ? 60 : 0) + 10 * noise,
                           120 + 80 * std::sin((x + y) * 0.05) + (x / 8 + y / 8) % 2 * 20 + 10 * noise};
      for (int c = 0; c < 3; ++c)
        im.rgb[(size_t(y) * w + x) * 3 + c] = uint8_t(std::lround(std::fmin(255.0, std::fmax(0.0, v[c]))));
    }
  return im;
}

// A photo-like w x h image from a small photo: `small` mirrored into tiles (every edge continues into its
// mirror image, so the tiling adds no edges).
inline Image mirrored_tiles(const Image& small, int w, int h) {
  Image im(w, h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const int sx = (x / small.width) % 2 ? small.width - 1 - x % small.width : x % small.width;
      const int sy = (y / small.height) % 2 ? small.height - 1 - y % small.height : y % small.height;
      for (int c = 0; c < 3; ++c)
        im.rgb[(size_t(y) * w + x) * 3 + c] = small.rgb[(size_t(sy) * small.width + sx) * 3 + c];
    }
  return im;
}

}  // namespace aec::testing
