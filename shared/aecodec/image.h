// Image I/O (stb_image / stb_image_write) behind explicit limits, and conversions to the core's Tensor.
#pragma once
#include <cstdint>
#include <functional>
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
  int orientation = 1;        // a JPEG's EXIF orientation (1-8), applied: the image is the right way up
  bool ignored_icc = false;   // the file embeds an ICC colour profile; its pixels were taken as sRGB
};

// PNG, JPEG, BMP, TGA (what stb_image reads). Greyscale is expanded to RGB (reported in info). A JPEG's
// EXIF orientation is applied (cameras store the sensor's rows and a tag saying how to turn them); an EXIF
// block that cannot be read is ignored, as viewers do.
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
// One value of each: what image_to_tensor and tensor_to_image do to every element (tiled paths, tile.h).
inline float byte_to_unit(uint8_t v) { return float(v) / 255.0f; }
inline uint8_t unit_to_byte(float v) {
  const double d = double(v) * 255.0;  // clamp before rounding; !(d >= 0) also catches NaN
  return !(d >= 0.0) ? 0 : d >= 255.0 ? 255 : uint8_t(d + 0.5);
}

// Receives a decoded image in bands of whole rows, top to bottom: rows [y0, y0 + rows) of a width x height
// image, 8-bit RGB interleaved, row-major (so a writer can stream the file instead of holding the image).
using RowSink = std::function<void(int width, int height, int y0, int rows, const uint8_t* rgb)>;

// The EXIF orientation (1-8) in a JPEG's APP1 Exif segment, or 1 when there is none or it cannot be read.
int jpeg_exif_orientation(const uint8_t* data, size_t size);
// Turns an image stored with EXIF orientation `orientation` the right way up (1 or out of range: as it is).
Image apply_orientation(Image image, int orientation);

// Edge-replicating pad to (w, h) >= the image's size, and the inverse crop.
Image pad_edge(const Image& image, int width, int height);
Image crop(const Image& image, int width, int height);

// Resampling used as the references of the cross-resolution paths: downscale by 2 is the 2x2 box mean
// (the trainer's avg_pool2d), upscale is bicubic (Keys, a = -0.75, as PyTorch's bicubic, align_corners=false).
Image downscale2x_box(const Image& image);  // output size ceil(w/2) x ceil(h/2), odd edges averaged over what exists
Image resize_bicubic(const Image& image, int width, int height);

}  // namespace aec
