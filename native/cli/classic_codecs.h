// The classic codecs `aecodec rd` compares against, run as their command-line tools in a private temporary
// folder: JPEG (libjpeg-turbo cjpeg/djpeg, 4:2:0), WebP (cwebp/dwebp), AVIF (libavif avifenc/avifdec with
// libaom, constant-quality rate control). Every image is coded as RGB (greyscale is expanded first).
#pragma once
#include <string>

#include "aecodec/image.h"

namespace aec::rd {

enum class ClassicCodec { jpeg, webp, avif };

const char* codec_name(ClassicCodec c);                // "jpeg", "webp", "avif"
std::string level_label(ClassicCodec c, int quality);  // "q75" (JPEG, WebP), "cq30" (AVIF)
// The settings, for the report: e.g. "cjpeg -quality Q -sample 2x2; djpeg -bmp".
std::string codec_settings(ClassicCodec c);
// Throws aec::Error naming the Debian package when the encoder or decoder is not on PATH.
void require_tools(ClassicCodec c);
// The tool's version line (for the report); empty when it does not say.
std::string tool_version(ClassicCodec c);

// A folder made with mkdtemp, removed with everything in it when the object goes.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The image written once per image in the formats the encoders read (PPM for cjpeg, PNG for cwebp/avifenc).
struct ClassicInput {
  std::string ppm, png;
  int width = 0, height = 0;
};
ClassicInput write_classic_input(const Image& image, const std::string& dir);

struct ClassicResult {
  Image decoded;
  size_t bytes = 0;                     // compressed file size
  double encode_ms = 0, decode_ms = 0;  // wall time of the tool processes (process start included)
};
// Encodes at `quality` (JPEG/WebP: 0-100; AVIF: cq-level 0-63), decodes, and loads the result. Throws
// aec::Error with the command and its output when a tool fails.
ClassicResult run_classic(ClassicCodec c, int quality, const ClassicInput& input, const std::string& dir);

}  // namespace aec::rd
