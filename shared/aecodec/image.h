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
  int orientation = 1;  // a JPEG's EXIF orientation (1-8), applied: the image is the right way up
  // An embedded ICC colour profile (a JPEG's APP2 ICC_PROFILE segments, a PNG's iCCP chunk). At most one of
  // converted_icc and ignored_icc is set; neither when there is no profile or the profile is sRGB's.
  bool converted_icc = false;  // the pixels were converted from the profile to sRGB
  bool ignored_icc = false;  // the profile was not applied: the pixels were taken as sRGB (icc_note says why)
  std::string icc_name;      // the profile's description (e.g. "Display P3"), where it has one
  std::string icc_note;      // why a profile was not applied
};

// PNG, JPEG, BMP, TGA (what stb_image reads). Greyscale is expanded to RGB (reported in info). A JPEG's
// EXIF orientation is applied (cameras store the sensor's rows and a tag saying how to turn them); an EXIF
// block that cannot be read is ignored, as viewers do. An embedded ICC profile is converted to sRGB where
// the build has colour management (colour_management_available()); a profile that cannot be applied (broken,
// CMYK, or no colour management) is ignored and reported in info, as browsers ignore a broken profile.
// Throws aec::Error with the reason (unreadable, unsupported, over the limits, transparent, ...).

Image decode_image(const uint8_t* data, size_t size, const ImageLimits& limits = {},
                   AlphaPolicy alpha = AlphaPolicy::refuse, LoadedImageInfo* info = nullptr);
Image load_image(const std::string& path, const ImageLimits& limits = {},
                 AlphaPolicy alpha = AlphaPolicy::refuse, LoadedImageInfo* info = nullptr);

std::vector<uint8_t> encode_png(const Image& image);
void write_png(const std::string& path, const Image& image);  // atomic (file_io.h)

// [0,255] bytes <-> [0,1] floats, CHW.
Tensor image_to_tensor(const Image& image);
Image tensor_to_image(const Tensor& t);  // rounds and clamps
// One value of each: what image_to_tensor and tensor_to_image do to every element (tiled paths, tile.h).
inline float byte_to_unit(uint8_t v) {
  return float(v) / 255.0f;
}
inline uint8_t unit_to_byte(float v) {
  const double d = double(v) * 255.0;  // clamp before rounding; !(d >= 0) also catches NaN
  return !(d >= 0.0) ? 0 : d >= 255.0 ? 255 : uint8_t(d + 0.5);
}

// Receives a decoded image in bands of whole rows, top to bottom: rows [y0, y0 + rows) of a width x height
// image, 8-bit RGB interleaved, row-major (so a writer can stream the file instead of holding the image).
using RowSink = std::function<void(int width, int height, int y0, int rows, const uint8_t* rgb)>;

// The EXIF orientation (1-8) in a JPEG's APP1 Exif segment, or 1 when there is none or it cannot be read.
int jpeg_exif_orientation(const uint8_t* data, size_t size);
// Whether a PNG or JPEG embeds an ICC colour profile (a PNG's iCCP chunk, a JPEG's APP2 ICC_PROFILE segment).
bool has_icc_profile(const uint8_t* data, size_t size);

// An embedded ICC profile's bytes: a JPEG's APP2 ICC_PROFILE segments joined in their sequence order, or a
// PNG's iCCP chunk inflated. `present` tells a file with no profile from one whose profile cannot be
// assembled (segments missing, repeated or inconsistent, data that does not inflate, over 16 MiB): `problem`
// then says why and `bytes` is empty. Nothing here checks the profile itself (colour.h does).
struct EmbeddedIcc {
  bool present = false;
  std::vector<uint8_t> bytes;
  std::string problem;
};
EmbeddedIcc embedded_icc_profile(const uint8_t* data, size_t size);
constexpr size_t kMaxIccProfileBytes = size_t(16) << 20;  // a JPEG's 255 segments hold at most 16.7 MB

// Turns an image stored with EXIF orientation `orientation` the right way up (1 or out of range: as it is).
Image apply_orientation(Image image, int orientation);

// Edge-replicating pad to (w, h) >= the image's size, and the inverse crop.
Image pad_edge(const Image& image, int width, int height);
Image crop(const Image& image, int width, int height);

// Resampling used as the references of the cross-resolution paths: downscale by 2 is the 2x2 box mean
// (the trainer's avg_pool2d), upscale is bicubic (Keys, a = -0.75, as PyTorch's bicubic,
// align_corners=false).
Image downscale2x_box(
    const Image& image);  // output size ceil(w/2) x ceil(h/2), odd edges averaged over what exists
Image resize_bicubic(const Image& image, int width, int height);

}  // namespace aec
