// Image I/O (stb_image / stb_image_write) behind explicit limits, and conversions to the core's Tensor.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "aecodec/tensor.h"

namespace aec {

// 8-bit RGB, interleaved, row-major, no padding between rows.
struct Image {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;
  Image() = default;
  Image(int w, int h) : width(w), height(h), rgb(size_t(w) * h * 3, 0) {}
};

// Checked against the header before any pixel is decoded, so a forged header cannot allocate gigabytes.
struct ImageLimits {
  int max_side = 16384;
  int64_t max_pixels = int64_t(64) << 20;  // 64 Mpx
};

// What to do with an alpha channel: aecodec codes RGB. "refuse" rejects images with any non-opaque pixel
// (an opaque alpha channel is dropped silently); "drop" discards alpha whatever it holds.
enum class AlphaPolicy { refuse, drop };

struct LoadedImageInfo {
  int source_channels = 0;  // 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA, as stored in the file
  bool converted_grey = false;
  bool dropped_alpha = false;
};

// PNG, JPEG, BMP, TGA (what stb_image reads). Greyscale is expanded to RGB (reported in info).
// Throws aec::Error with the reason (unreadable, unsupported, over the limits, transparent, ...).
Image decode_image(const uint8_t* data, size_t size, const ImageLimits& limits = {},
                   AlphaPolicy alpha = AlphaPolicy::refuse, LoadedImageInfo* info = nullptr);
Image load_image(const std::string& path, const ImageLimits& limits = {}, AlphaPolicy alpha = AlphaPolicy::refuse,
                 LoadedImageInfo* info = nullptr);

std::vector<uint8_t> encode_png(const Image& image);
void write_png(const std::string& path, const Image& image);  // atomic (file_io.h)

// [0,255] bytes <-> [0,1] floats, CHW.
Tensor image_to_tensor(const Image& image);
Image tensor_to_image(const Tensor& t);  // rounds and clamps

// Edge-replicating pad to (w, h) >= the image's size, and the inverse crop.
Image pad_edge(const Image& image, int width, int height);
Image crop(const Image& image, int width, int height);

// Resampling used as the references of the cross-resolution paths: downscale by 2 is the 2x2 box mean
// (the trainer's avg_pool2d), upscale is bicubic (Keys, a = -0.75, as PyTorch's bicubic, align_corners=false).
Image downscale2x_box(const Image& image);  // output size ceil(w/2) x ceil(h/2), odd edges averaged over what exists
Image resize_bicubic(const Image& image, int width, int height);

}  // namespace aec
