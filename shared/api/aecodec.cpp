// The public API (include/aecodec/aecodec.h) over the core: each function converts its arguments, calls the
// core function the CLI calls, and converts the result. No coding logic lives here, so the library and the
// CLI make the same bytes.
#include "aecodec/aecodec.h"

#include <algorithm>
#include <exception>
#include <new>
#include <utility>

#include "aecodec/bitstream.h"
#include "aecodec/codec.h"
#include "aecodec/error.h"
#include "aecodec/file_io.h"
#include "aecodec/image.h"
#include "aecodec/metrics.h"
#include "aecodec/model.h"
#include "aecodec/model_file.h"
#include "aecodec/parallel.h"
#include "aecodec/quality_codec.h"
#include "aecodec/refine.h"

#ifndef AECODEC_LIBRARY_VERSION
#define AECODEC_LIBRARY_VERSION "0.0.0"
#endif

namespace aecodec {

namespace {

// The header promises one exception type: the core's aec::Error (and its Cancelled) become ours, and so does
// anything else a dependency might throw (a std::exception that is not an allocation failure).
template <typename F>
auto translated(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const aec::Cancelled&) {
    throw Cancelled();
  } catch (const aec::Error& e) {
    throw Error(e.what());
  } catch (const Error&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(std::string("aecodec: ") + e.what());
  }
}

aec::Image to_core(const uint8_t* pixels, int width, int height, size_t stride) {
  aec::require(width > 0 && height > 0,
               "image size must be positive, not " + std::to_string(width) + "x" + std::to_string(height));
  aec::require(pixels != nullptr, "no pixels");
  const size_t row = size_t(width) * 3;
  aec::require(stride >= row,
               "stride " + std::to_string(stride) + " is less than width * 3 = " + std::to_string(row));
  aec::Image image(width, height);
  for (int y = 0; y < height; ++y)
    std::copy(pixels + size_t(y) * stride, pixels + size_t(y) * stride + row,
              image.rgb.begin() + size_t(y) * row);
  return image;
}

void check(const Image& image) {
  aec::require(image.width > 0 && image.height > 0 &&
                   image.rgb.size() == size_t(image.width) * size_t(image.height) * 3,
               "image holds " + std::to_string(image.rgb.size()) + " bytes, not width * height * 3 for " +
                   std::to_string(image.width) + "x" + std::to_string(image.height));
}

aec::Image to_core(const Image& image) {
  check(image);
  aec::Image core;
  core.width = image.width, core.height = image.height;
  core.rgb = image.rgb;
  return core;
}

Image from_core(aec::Image&& image) {
  Image out;
  out.width = image.width, out.height = image.height;
  out.rgb = std::move(image.rgb);
  return out;
}

}  // namespace

struct Codec::Impl {
  aec::QualityCodec codec;
  ModelInfo info;

  explicit Impl(aec::Model m) : codec(std::move(m)) {
    const aec::ModelInfo& i = codec.member(0).info();
    info.name = i.name, info.id = i.id, info.arch = i.arch, info.description = i.description;
    info.fixed_width = i.fixed_width, info.fixed_height = i.fixed_height;
    info.variable_rate = codec.variable_rate();
    info.default_quality = codec.default_quality();
  }
  // A codec manifest: it describes itself; its members load when first used.
  explicit Impl(aec::QualityCodec c) : codec(std::move(c)) {
    info.name = codec.name(), info.arch = "codec", info.description = codec.manifest().description;
    info.variable_rate = true;
    info.default_quality = codec.default_quality();
    for (const aec::CodecMember& m : codec.manifest().members) info.members.push_back(m.model);
  }
};

namespace {

// A manifest's members, NAME.aem in the manifest's folder.
aec::QualityCodec manifest_codec(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  const std::string folder = slash == std::string::npos ? "" : path.substr(0, slash + 1);
  return aec::QualityCodec(aec::CodecManifest::read(path), [folder](const std::string& name) {
    return aec::Model::load(folder + name + ".aem");
  });
}

}  // namespace

Codec::Codec(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

Codec Codec::load(const std::string& path) {
  return translated([&] {
    if (aec::CodecManifest::is_path(path)) return Codec(std::make_shared<const Impl>(manifest_codec(path)));
    return Codec(std::make_shared<const Impl>(aec::Model::load(path)));
  });
}

Codec Codec::load(const uint8_t* data, size_t size) {
  return translated([&] {
    aec::require(data != nullptr || size == 0, "no model bytes");
    return Codec(std::make_shared<const Impl>(aec::Model::from_file(aec::ModelFile::parse(data, size))));
  });
}

const ModelInfo& Codec::info() const {
  return impl_->info;
}

std::vector<uint8_t> Codec::encode(const uint8_t* pixels, int width, int height, size_t stride,
                                   const EncodeOptions& options) const {
  return translated([&] {
    aec::require(options.effort >= 0 && options.effort <= aec::kMaxEffort,
                 "effort must be 0 to " + std::to_string(aec::kMaxEffort));
    aec::EncodeOptions o;
    o.effort = options.effort;
    o.quality = options.quality;
    o.progress = options.progress;
    o.bands = options.bands;
    o.latent = false;
    return impl_->codec.encode(to_core(pixels, width, height, stride), o).bytes;
  });
}

std::vector<uint8_t> Codec::encode(const Image& image, const EncodeOptions& options) const {
  // Checked here so that an inconsistent Image is reported as such, not as a short stride.
  translated([&] { check(image); });
  return encode(image.rgb.data(), image.width, image.height, size_t(image.width) * 3, options);
}

Image Codec::decode(const uint8_t* data, size_t size, const DecodeOptions& options) const {
  return translated([&] {
    aec::require(data != nullptr || size == 0, "no .aec bytes");
    aec::ImageLimits limits;
    limits.max_side = options.max_side;
    limits.max_pixels = options.max_pixels;
    return from_core(impl_->codec.decode(data, size, limits).image);
  });
}

Image Codec::decode(const std::vector<uint8_t>& bytes, const DecodeOptions& options) const {
  return decode(bytes.data(), bytes.size(), options);
}

FileInfo read_info(const uint8_t* data, size_t size) {
  return translated([&] {
    aec::require(data != nullptr || size == 0, "no .aec bytes");
    const aec::BitstreamHeader h = aec::parse_bitstream(data, size).header;
    FileInfo info;
    info.version = h.version;
    info.model_name = h.model_name;
    info.model_id = aec::hash_hex(h.model_hash);
    info.width = int(h.width), info.height = int(h.height);
    info.family = h.family_id;
    return info;
  });
}

Image load_image(const std::string& path) {
  return translated([&] { return from_core(aec::load_image(path)); });
}

Image load_image(const uint8_t* data, size_t size) {
  return translated([&] {
    aec::require(data != nullptr || size == 0, "no image bytes");
    return from_core(aec::decode_image(data, size));
  });
}

std::vector<uint8_t> encode_png(const Image& image) {
  return translated([&] { return aec::encode_png(to_core(image)); });
}

double psnr(const Image& a, const Image& b) {
  return translated([&] { return aec::psnr(to_core(a), to_core(b)); });
}

void set_threads(int n) {
  aec::set_num_threads(n);
}

const char* version() {
  return AECODEC_LIBRARY_VERSION;
}

}  // namespace aecodec
