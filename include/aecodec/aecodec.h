// aecodec's public C++ API: load a model, encode 8-bit RGB images to .aec bytes, decode them back, read a
// file's header. This header is the installed library's whole surface (docs/library.md). It includes only
// standard headers and keeps the core (shared/aecodec/, free to change between versions) behind a pointer to
// an implementation, so a program written against it keeps compiling when the core is rewritten. Within a
// 0.x minor version the declarations here only grow: new options arrive as new fields with defaults.
//
// Errors: every function reports a rejected input -- unreadable or invalid model, corrupt, truncated or
// foreign .aec bytes, bad image arguments, I/O failures -- by throwing aecodec::Error, whose what() says what
// is wrong (the message the aecodec CLI prints). Nothing else is thrown except std::bad_alloc.
//
// Threads: a Codec is immutable once loaded; copies share the model, and encode and decode may run on
// several threads at once. The networks run on the core's process-wide thread pool (set_threads).
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace aecodec {

struct Error : std::runtime_error {
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// Thrown by encode when the progress callback returned false.
struct Cancelled : Error {
  Cancelled() : Error("cancelled") {}
};

// 8-bit RGB, interleaved, row-major, rows packed: rgb holds width * height * 3 bytes.
struct Image {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;
};

struct ModelInfo {
  std::string name;  // e.g. "hyperprior-q5"; every file the model makes records it
  std::string id;    // 16 hex digits, the model's content hash; a decoder refuses another model's files
  std::string arch;  // e.g. "hyperprior", "factorized"
  std::string description;
  int fixed_width = 0, fixed_height = 0;  // non-zero: the model codes images of exactly this size only
  // Whether EncodeOptions::quality applies (a variable-rate model, or a codec of several), and the quality
  // used when none is asked for.
  bool variable_rate = false;
  double default_quality = 0;
  // A codec of several networks (loaded from a .codec.json manifest): its members' model names, in the
  // order of the quality spans they serve; empty for a model file.
  std::vector<std::string> members;
};

// What an .aec file's header says (read without a model).
struct FileInfo {
  int version = 0;            // container version
  std::string model_name;     // the model that made the file (and must decode it)
  std::string model_id;       // its id, as ModelInfo::id
  int width = 0, height = 0;  // the image size
  std::string family;         // the model's cross-resolution family, empty when none
};

struct EncodeOptions {
  // 1 to 100 (hundredths allowed): more bytes and higher quality as it rises, for a variable-rate model or
  // a codec; 0 uses the default. A single-rate model refuses any other value.
  double quality = 0;
  // 0 to 9. 0 is one pass of the encoder network; higher efforts search for a latent that gives a smaller
  // file at the same quality, for the same decoder (slower: seconds per megapixel from about 3).
  int effort = 0;
  // The latent's row bands, coded and decoded by that many threads at once (about 6 bytes each, at most one
  // per latent row): 0 = one per 65,536 latent symbols; up to 256.
  int bands = 0;
  // Called now and then during a slow encode with the fraction done (0..1); returning false cancels it
  // (encode throws aecodec::Cancelled).
  std::function<bool(double)> progress;
};

// Decoding refuses a file whose stated image size is over these limits before allocating anything for it.
struct DecodeOptions {
  int max_side = 16384;
  int64_t max_pixels = int64_t(64) << 20;
};

// A loaded model, or a codec of several behind one quality knob. Always valid when made by load (there is
// no empty Codec); a moved-from one may only be assigned to or destroyed.
class Codec {
 public:
  // A model file (.aem), from a path or from its bytes (copied; the caller's buffer may go afterwards). A
  // path ending in .codec.json is a codec manifest (models/channel.codec.json): its member models are read
  // from the manifest's folder when a quality first needs them.
  static Codec load(const std::string& path);
  static Codec load(const uint8_t* data, size_t size);

  const ModelInfo& info() const;

  // Encodes width x height pixels, `stride` bytes from one row's start to the next (at least width * 3).
  // Returns the complete .aec file.
  std::vector<uint8_t> encode(const uint8_t* pixels, int width, int height, size_t stride,
                              const EncodeOptions& options = {}) const;
  std::vector<uint8_t> encode(const Image& image, const EncodeOptions& options = {}) const;

  // Decodes a file this model (or one of the codec's members) made; another model's file is refused, naming
  // the model it needs.
  Image decode(const uint8_t* data, size_t size, const DecodeOptions& options = {}) const;
  Image decode(const std::vector<uint8_t>& bytes, const DecodeOptions& options = {}) const;

 private:
  struct Impl;
  explicit Codec(std::shared_ptr<const Impl> impl);
  std::shared_ptr<const Impl> impl_;
};

// Parses and checks a whole .aec file (magic, version, lengths, checksum) and returns its header.
FileInfo read_info(const uint8_t* data, size_t size);
inline FileInfo read_info(const std::vector<uint8_t>& bytes) {
  return read_info(bytes.data(), bytes.size());
}

// Image files, for programs that have no image library of their own: PNG, JPEG, BMP and TGA in (grey is
// expanded to RGB; an image with transparent pixels is refused; a JPEG is turned by its EXIF orientation; an
// embedded ICC profile is converted to sRGB where the library was built with Little CMS, docs/colour.md),
// PNG out.
Image load_image(const std::string& path);
Image load_image(const uint8_t* data, size_t size);
std::vector<uint8_t> encode_png(const Image& image);

// PSNR over RGB with peak 255, in dB; +infinity for identical images. The images must be the same size.
double psnr(const Image& a, const Image& b);

// Threads for the networks, process-wide; 0 (the default) means one per hardware thread.
void set_threads(int n);

// The library's version, "MAJOR.MINOR.PATCH".
const char* version();

}  // namespace aecodec
