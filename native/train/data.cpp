#include "data.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <random>

#include "aecodec/error.h"

namespace aect {

namespace fs = std::filesystem;

std::vector<std::string> list_images(const std::string& dir) {
  std::vector<std::string> out;
  aec::require(fs::is_directory(dir), "not a folder: " + dir);
  for (const auto& e :
       fs::recursive_directory_iterator(dir, fs::directory_options::follow_directory_symlink)) {
    if (!e.is_regular_file()) continue;
    std::string ext = e.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char c) { return char(std::tolower(c)); });
    if (ext == ".png" || ext == ".jpg" || ext == ".jpeg") out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

int64_t ImageSet::pixels() const {
  int64_t n = 0;
  for (const auto& im : images) n += int64_t(im.width) * im.height;
  return n;
}

ImageSet load_images(const std::string& dir, bool with_half, int max_images) {
  ImageSet set;
  for (const std::string& path : list_images(dir)) {
    if (max_images > 0 && int(set.images.size()) >= max_images) break;
    try {
      aec::Image im = aec::load_image(path, {}, aec::AlphaPolicy::drop);
      if (with_half) set.half.push_back(aec::downscale2x_box(im));
      set.images.push_back(std::move(im));
      set.names.push_back(fs::path(path).filename().string());
    } catch (const std::exception& e) {
      std::fprintf(stderr, "warning: skipping %s: %s\n", path.c_str(), e.what());
    }
  }
  aec::require(!set.images.empty(), "no readable images under " + dir);
  return set;
}

std::vector<float> make_batch(const ImageSet& set, const BatchSpec& spec, uint64_t seed, int64_t index,
                              int first, int count) {
  if (count < 0) count = spec.batch - first;
  aec::require(first >= 0 && count >= 0 && first + count <= spec.batch,
               "make_batch: samples out of the batch");
  const int c = spec.crop;
  const size_t plane = size_t(c) * c;
  std::vector<float> out(size_t(count) * 3 * plane);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (int b = 0; b < count; ++b) {
    const uint64_t sample = uint64_t(first + b);
    std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + uint64_t(index) * 0xBF58476D1CE4E5B9ull +
                        sample * 0xD6E8FEB86659FD93ull + 1);
    const size_t k = size_t(rng() % set.images.size());
    const aec::Image* im = &set.images[k];
    if (spec.downscale_prob > 0 && !set.half.empty() && unit(rng) < spec.downscale_prob &&
        set.half[k].width >= c && set.half[k].height >= c)
      im = &set.half[k];
    const int x0 = im->width > c ? int(rng() % uint64_t(im->width - c + 1)) : 0;
    const int y0 = im->height > c ? int(rng() % uint64_t(im->height - c + 1)) : 0;
    const bool flip_x = rng() & 1, flip_y = rng() & 1;
    float* dst = out.data() + size_t(b) * 3 * plane;
    for (int y = 0; y < c; ++y) {
      const int sy = std::min(y0 + (flip_y ? c - 1 - y : y), im->height - 1);  // edge pad small images
      const uint8_t* row = im->rgb.data() + size_t(sy) * im->width * 3;
      for (int x = 0; x < c; ++x) {
        const int sx = std::min(x0 + (flip_x ? c - 1 - x : x), im->width - 1);
        for (int ch = 0; ch < 3; ++ch)
          dst[ch * plane + size_t(y) * c + x] = row[sx * 3 + ch] * (1.0f / 255.0f);
      }
    }
  }
  return out;
}

std::vector<float> image_planes(const aec::Image& image, int stride, int& padded_w, int& padded_h) {
  padded_w = (image.width + stride - 1) / stride * stride;
  padded_h = (image.height + stride - 1) / stride * stride;
  const aec::Image padded = (padded_w == image.width && padded_h == image.height)
                                ? image
                                : aec::pad_edge(image, padded_w, padded_h);
  aec::Tensor t = aec::image_to_tensor(padded);
  return std::move(t.data);
}

aec::Image center_crop(const aec::Image& image, int w, int h) {
  aec::Image out(w, h);
  const int x0 = std::max(0, (image.width - w) / 2), y0 = std::max(0, (image.height - h) / 2);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const int sx = std::min(x0 + x, image.width - 1), sy = std::min(y0 + y, image.height - 1);
      for (int ch = 0; ch < 3; ++ch)
        out.rgb[(size_t(y) * w + x) * 3 + ch] = image.rgb[(size_t(sy) * image.width + sx) * 3 + ch];
    }
  return out;
}

}  // namespace aect
