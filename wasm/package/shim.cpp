// The thin, stateless C boundary of the page package (packages/aecodec, in the manner of Squoosh's codec
// shims): a model handle in, results out. No globals: every call gets what it needs as arguments and returns a
// malloc'ed AecpOut that the caller frees with aecp_out_free. No ImGui, no app state.
#include <emscripten.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "aecodec/codec.h"
#include "aecodec/error.h"
#include "aecodec/image.h"
#include "aecodec/model.h"
#include "aecodec/model_file.h"
#include "aecodec/rate_target.h"

namespace {

// What every call returns. status 0: `data` holds `size` bytes (the .aec file, RGBA pixels or a JSON
// document); status 1: `data` holds the error message (size bytes, not NUL-terminated).
struct AecpOut {
  int32_t status, width, height, size;
  double quality;
  uint8_t* data;
};
static_assert(sizeof(void*) == 4 && offsetof(AecpOut, quality) == 16 && offsetof(AecpOut, data) == 24,
              "the JS side reads AecpOut at these offsets");

AecpOut* make_out(int status, const void* data, size_t size) {
  auto* o = static_cast<AecpOut*>(std::calloc(1, sizeof(AecpOut)));
  o->status = status;
  o->size = int32_t(size);
  o->data = static_cast<uint8_t*>(std::malloc(size ? size : 1));
  if (size) std::memcpy(o->data, data, size);
  return o;
}
AecpOut* error_out(const std::exception& e) {
  const std::string m = e.what();
  return make_out(1, m.data(), m.size());
}

}  // namespace

extern "C" {

EMSCRIPTEN_KEEPALIVE void aecp_out_free(AecpOut* o) {
  if (!o) return;
  std::free(o->data);
  std::free(o);
}

// Loads a model file (.aem bytes). On success `data` is the model's description (JSON) and *model the handle.
EMSCRIPTEN_KEEPALIVE AecpOut* aecp_model_load(const uint8_t* bytes, int size, aec::Model** model) {
  *model = nullptr;
  try {
    auto m = std::make_unique<aec::Model>(aec::Model::from_file(aec::ModelFile::parse(bytes, size_t(size))));
    const aec::ModelInfo& i = m->info();
    const nlohmann::json j = {{"name", i.name},
                              {"id", i.id},
                              {"arch", i.arch},
                              {"stride", i.stride},
                              {"latent_channels", i.latent_channels},
                              {"variable_rate", m->variable_rate()},
                              {"default_quality", m->variable_rate() ? nlohmann::json(i.default_quality)
                                                                     : nlohmann::json(nullptr)},
                              {"lambdas", i.lambdas},
                              {"description", i.description}};
    const std::string s = j.dump();
    *model = m.release();
    return make_out(0, s.data(), s.size());
  } catch (const std::exception& e) {
    return error_out(e);
  }
}

EMSCRIPTEN_KEEPALIVE void aecp_model_free(aec::Model* model) { delete model; }

// Encodes an image: RGBA (channels 4) or RGB (3) pixels of width x height, or (channels 0) an image file's
// bytes (PNG, JPEG, BMP, TGA; `width` is then its length), as `aecodec encode` does: quality 0 = the model's
// default, size > 0 = the largest quality whose file has at most size bytes (--size). Alpha is dropped.
EMSCRIPTEN_KEEPALIVE AecpOut* aecp_encode(const aec::Model* model, const uint8_t* pixels, int width, int height,
                                          int channels, double quality, int effort, double size) {
  try {
    aec::Image im;
    if (channels == 0) {
      im = aec::decode_image(pixels, size_t(width), {}, aec::AlphaPolicy::drop);
    } else {
      if (width <= 0 || height <= 0 || (channels != 3 && channels != 4))
        throw aec::Error("bad image: " + std::to_string(width) + "x" + std::to_string(height) + "x" +
                         std::to_string(channels));
      im = aec::Image(width, height);
      const size_t n = size_t(width) * size_t(height);
      for (size_t p = 0; p < n; ++p)
        for (int c = 0; c < 3; ++c) im.rgb[p * 3 + size_t(c)] = pixels[p * size_t(channels) + size_t(c)];
    }
    aec::EncodeOptions eo;
    eo.effort = effort;
    eo.quality = quality;
    aec::EncodeResult r = size > 0 ? aec::encode_to_size(*model, im, uint64_t(size), eo).encoded
                                   : aec::encode_image(*model, im, eo);
    AecpOut* o = make_out(0, r.bytes.data(), r.bytes.size());
    o->width = im.width, o->height = im.height, o->quality = r.quality;
    return o;
  } catch (const std::exception& e) {
    return error_out(e);
  }
}

// Decodes an .aec file made by this model into RGBA pixels (alpha 255).
EMSCRIPTEN_KEEPALIVE AecpOut* aecp_decode(const aec::Model* model, const uint8_t* bytes, int size) {
  try {
    aec::DecodeResult r = aec::decode_image(*model, bytes, size_t(size));
    const aec::Image& im = r.image;
    const size_t n = size_t(im.width) * size_t(im.height);
    AecpOut* o = make_out(0, nullptr, 0);
    std::free(o->data);
    o->data = static_cast<uint8_t*>(std::malloc(n * 4));
    for (size_t p = 0; p < n; ++p) {
      std::memcpy(o->data + p * 4, im.rgb.data() + p * 3, 3);
      o->data[p * 4 + 3] = 255;
    }
    o->size = int32_t(n * 4), o->width = im.width, o->height = im.height;
    return o;
  } catch (const std::exception& e) {
    return error_out(e);
  }
}

}  // extern "C"
