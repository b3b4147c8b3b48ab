// The core's single tensor type: one image-shaped float32 tensor, channel-major (C, H, W), batch 1.
// Everything the inference networks compute flows through it; weights are plain float vectors.
#pragma once
#include <cstddef>
#include <vector>

namespace aec {

struct Tensor {
  int c = 0, h = 0, w = 0;
  std::vector<float> data;

  Tensor() = default;
  Tensor(int channels, int height, int width, float fill = 0.0f)
      : c(channels), h(height), w(width), data(size_t(channels) * height * width, fill) {}

  size_t size() const { return data.size(); }
  size_t plane() const { return size_t(h) * w; }
  float* channel(int k) { return data.data() + size_t(k) * plane(); }
  const float* channel(int k) const { return data.data() + size_t(k) * plane(); }
  float& at(int k, int y, int x) { return data[(size_t(k) * h + y) * w + x]; }
  float at(int k, int y, int x) const { return data[(size_t(k) * h + y) * w + x]; }
};

}  // namespace aec
