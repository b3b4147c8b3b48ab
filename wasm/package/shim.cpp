// The thin, stateless C boundary of the page package (packages/aecodec, in the manner of Squoosh's codec
// shims): a model or codec handle in, results out. No globals: every call gets what it needs as arguments and
// returns a malloc'ed AecpOut that the caller frees with aecp_out_free. No ImGui, no app state. Built
// single-threaded (aecodec-core) and with pthreads (aecodec-core-mt); the files are the same either way.
#include <emscripten.h>
#include <emscripten/threading.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "aecodec/bitstream.h"
#include "aecodec/codec.h"
#include "aecodec/codec_manifest.h"
#include "aecodec/error.h"
#include "aecodec/image.h"
#include "aecodec/latent_codec.h"
#include "aecodec/model.h"
#include "aecodec/model_file.h"
#include "aecodec/parallel.h"
#include "aecodec/quality.h"
#include "aecodec/quality_codec.h"
#include "aecodec/rate_target.h"
#include "aecodec/refine.h"

namespace {

// What every call returns. status 0: `data` holds `size` bytes (the .aec file, RGBA pixels or a JSON
// document) and `meta` a JSON object of `meta_size` bytes (timings, and what else the call reports), `floats`
// `float_count` floats (a latent); status 1: `data` holds the error message (size bytes, not NUL-terminated);
// status 2: cancelled (the progress callback asked to stop).
struct AecpOut {
  int32_t status, width, height, size;
  double quality;
  uint8_t* data;
  int32_t meta_size;
  char* meta;
  int32_t float_count;
  float* floats;
};
static_assert(sizeof(void*) == 4 && offsetof(AecpOut, quality) == 16 && offsetof(AecpOut, data) == 24 &&
                  offsetof(AecpOut, meta_size) == 28 && offsetof(AecpOut, meta) == 32 &&
                  offsetof(AecpOut, float_count) == 36 && offsetof(AecpOut, floats) == 40,
              "the JS side (packages/aecodec/core.js) reads AecpOut at these offsets");

// The fraction done (0..1) of a slow call to the package's JS, which may answer 0 to stop it. Only on the
// thread that runs the call (the core reports from there; a pool thread has no such hook).
EM_JS(int, aecp_js_progress, (double fraction), {
  const f = Module["aecpProgress"];
  return f ? (f(fraction) ? 1 : 0) : 1;
});

bool report(double fraction) {
  if (!emscripten_is_main_runtime_thread()) return true;
  return aecp_js_progress(std::clamp(fraction, 0.0, 1.0)) != 0;
}

AecpOut* make_out(int status, const void* data, size_t size) {
  auto* o = static_cast<AecpOut*>(std::calloc(1, sizeof(AecpOut)));
  o->status = status;
  o->size = int32_t(size);
  o->data = static_cast<uint8_t*>(std::malloc(size ? size : 1));
  if (size) std::memcpy(o->data, data, size);
  return o;
}
void set_meta(AecpOut* o, const nlohmann::json& meta) {
  const std::string s = meta.dump();
  o->meta = static_cast<char*>(std::malloc(s.size() + 1));
  std::memcpy(o->meta, s.c_str(), s.size() + 1);
  o->meta_size = int32_t(s.size());
}
void set_floats(AecpOut* o, const std::vector<float>& v) {
  o->floats = static_cast<float*>(std::malloc(std::max<size_t>(1, v.size()) * sizeof(float)));
  if (!v.empty()) std::memcpy(o->floats, v.data(), v.size() * sizeof(float));
  o->float_count = int32_t(v.size());
}
void free_out(AecpOut* o) {
  if (!o) return;
  std::free(o->data);
  std::free(o->meta);
  std::free(o->floats);
  std::free(o);
}
AecpOut* error_out(const std::string& m) {
  return make_out(1, m.data(), m.size());
}
// Runs a call: its exceptions become the error AecpOut (a cancelled call, status 2).
template <class F>
AecpOut* guarded(F&& f) {
  try {
    return f();
  } catch (const aec::Cancelled&) {
    return make_out(2, "cancelled", 9);
  } catch (const std::bad_alloc&) {
    return error_out("out of memory: the image is too large for this model in WebAssembly's memory");
  } catch (const std::exception& e) {
    return error_out(e.what());
  }
}

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};
using Owned = std::unique_ptr<uint8_t, FreeDeleter>;

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

nlohmann::json timings_json(const aec::CodecTimings& t) {
  return {{"total_ms", t.total_ms},
          {"network_ms", t.network_ms},
          {"entropy_ms", t.entropy_ms},
          {"refine_ms", t.refine_ms}};
}

// The image of an encode call: RGBA (channels 4) or RGB (3) pixels, or (channels 0) an image file's bytes
// (`width` is then its length). Frees `pixels`, which the caller malloc'ed, once read.
aec::Image take_image(uint8_t* pixels, int width, int height, int channels) {
  Owned own(pixels);
  if (channels == 0) return aec::decode_image(pixels, size_t(width), {}, aec::AlphaPolicy::drop);
  if (width <= 0 || height <= 0 || (channels != 3 && channels != 4))
    throw aec::Error("bad image: " + std::to_string(width) + "x" + std::to_string(height) + "x" +
                     std::to_string(channels));
  aec::Image im(width, height);
  const size_t n = size_t(width) * size_t(height);
  for (size_t p = 0; p < n; ++p)
    for (int c = 0; c < 3; ++c) im.rgb[p * 3 + size_t(c)] = pixels[p * size_t(channels) + size_t(c)];
  return im;
}

// The network at the quality an encode asks for (0: the model's default); the model itself when single-rate.
std::shared_ptr<const aec::Model> at_quality(const aec::Model& model, double quality) {
  if (!model.variable_rate()) {
    if (quality > 0 && aec::quality_code(quality) != model.info().quality_code)
      throw aec::Error("model '" + model.info().name +
                       "' is single-rate: it has no quality knob (-q); pick another model for another rate");
    return std::shared_ptr<const aec::Model>(std::shared_ptr<const aec::Model>(), &model);
  }
  return std::make_shared<aec::Model>(model.at_quality(quality > 0 ? quality : model.info().default_quality));
}

// The network at the quality a file records (a variable-rate model's), else the model itself.
std::shared_ptr<const aec::Model> at_file_quality(const aec::Model& model, const aec::Bitstream& stream) {
  const std::vector<uint8_t>* q = stream.find(aec::kSectionQuality);
  if (!q || !model.variable_rate())
    return std::shared_ptr<const aec::Model>(std::shared_ptr<const aec::Model>(), &model);
  return std::make_shared<aec::Model>(model.at_quality(aec::read_quality_section(*q) / 100.0));
}

// A variable-rate model's gains at the network `at` (quality.h): the model's exported ONNX graphs are its
// network without them, so the encoder graph's output times `gain` per channel is the latent at that
// quality, and the dequantised latent times `inv_gain` the decoder graph's input (what at_quality folds
// into the core's own transforms). Empty for a single-rate model.
void gains(const aec::Model& model, const aec::Model& at, std::vector<float>& gain,
           std::vector<float>& inv_gain) {
  gain.clear(), inv_gain.clear();
  if (!model.variable_rate()) return;
  const aec::ModelInfo& info = model.info();
  const int M = info.latent_channels;
  const int64_t K = int64_t(info.lambdas.size());
  const double lambda = aec::quality_lambda(info.lambdas, at.info().quality_code);
  gain = aec::interpolate_gains(info.lambdas, model.file().floats("latent.gain", {K, M}), M, lambda);
  inv_gain = aec::interpolate_gains(info.lambdas, model.file().floats("latent.inv_gain", {K, M}), M, lambda);
}

// A model's description for the JS side (codec.info of a model; a codec's members).
nlohmann::json model_info_json(const aec::Model& m) {
  const aec::ModelInfo& i = m.info();
  return {
      {"name", i.name},
      {"id", i.id},
      {"arch", i.arch},
      {"stride", i.stride},
      {"latent_channels", i.latent_channels},
      {"variable_rate", m.variable_rate()},
      {"default_quality", m.variable_rate() ? nlohmann::json(i.default_quality) : nlohmann::json(nullptr)},
      {"lambdas", i.lambdas},
      {"family",
       i.family_id.empty()
           ? nlohmann::json(nullptr)
           : nlohmann::json{{"id", i.family_id}, {"role", i.family_role}, {"up_decoder", i.up_decoder}}},
      {"description", i.description}};
}

// Encodes as `aecodec encode` does, through the core's QualityCodec as the CLI does (a model is a codec of
// its own): at knob quality `quality` (0: the default), or with size > 0 the largest knob quality whose file
// fits (aec::encode_to_size over every member).
AecpOut* encode_with(const aec::QualityCodec& codec, uint8_t* pixels, int width, int height, int channels,
                     double quality, int effort, double size) {
  aec::Image im = take_image(pixels, width, height, channels);
  const int w = im.width, h = im.height;
  aec::EncodeOptions eo;
  eo.effort = effort;
  eo.latent = false;
  int trials = 0;
  aec::EncodeResult r;
  if (size > 0) {
    // Every trial refines (at effort > 0) from 0 to 1: progress counts the trials as their share of the
    // search's at most 12 (two ends, then 10 halvings of the tenths of Q).
    int trial = 0;
    double last = 0;
    if (effort > 0)
      eo.progress = [&trial, &last](double f) {
        if (f < last) ++trial;
        last = f;
        return report(std::min(1.0, (trial + f) / 12.0));
      };
    aec::TargetResult t = aec::encode_to_size(codec, im, uint64_t(size), eo);
    trials = t.trials;
    r = std::move(t.encoded);
  } else {
    eo.quality = quality;
    eo.progress = report;  // the analysis' tiles of a large image, or refinement
    r = codec.encode(std::move(im), eo);
  }
  AecpOut* o = make_out(0, r.bytes.data(), r.bytes.size());
  o->width = w, o->height = h, o->quality = r.quality;
  nlohmann::json meta = {{"timings", timings_json(r.timings)}, {"trials", trials}};
  if (codec.variable_rate()) {
    // The member that made the file and its own quality (what the file records).
    const aec::CodecManifest::Setting s = codec.manifest().at(r.quality);
    meta["model"] = codec.manifest().members[s.member].model;
    meta["model_quality"] = s.quality;
  }
  set_meta(o, meta);
  return o;
}

// Decodes an .aec file with `model` (the network at the file's quality); see aecp_decode.
AecpOut* decode_with(const aec::Model& model, const uint8_t* bytes, int size, aec::DecodeAs as, bool latent) {
  const aec::Bitstream stream = aec::parse_bitstream(bytes, size_t(size));
  const std::shared_ptr<const aec::Model> at = at_file_quality(model, stream);
  AecpOut* o = make_out(0, nullptr, 0);
  std::unique_ptr<AecpOut, void (*)(AecpOut*)> own(o, &free_out);
  aec::DecodeResult d = aec::decode_image_rows(
      *at, bytes, size_t(size),
      [&](int w, int h, int y0, int rows, const uint8_t* rgb) {
        if (o->width == 0) {
          std::free(o->data);
          o->data = static_cast<uint8_t*>(std::malloc(size_t(w) * size_t(h) * 4));
          if (!o->data) throw std::bad_alloc();
          o->width = w, o->height = h, o->size = int32_t(size_t(w) * size_t(h) * 4);
        }
        uint8_t* dst = o->data + size_t(y0) * size_t(w) * 4;
        for (size_t p = 0; p < size_t(w) * size_t(rows); ++p) {
          std::memcpy(dst + p * 4, rgb + p * 3, 3);
          dst[p * 4 + 3] = 255;
        }
        if (!report(double(y0 + rows) / h)) throw aec::Cancelled();
      },
      {}, as);
  const aec::BitstreamHeader& hd = d.stream.header;
  const std::vector<uint8_t>* q = d.stream.find(aec::kSectionQuality);
  o->quality = q ? aec::read_quality_section(*q) / 100.0 : 0;
  nlohmann::json meta = {{"timings", timings_json(d.timings)}, {"model", hd.model_name}};
  if (latent) {
    std::vector<double> bits;
    const aec::Tensor t = aec::decode_latent(*at, d.stream, &bits);
    set_floats(o, t.data);
    meta["latent"] = {t.c, t.h, t.w};
    meta["channel_bits"] = bits;
  }
  set_meta(o, meta);
  return own.release();
}

// Codes a latent that another runtime computed (aecp_encode_latent): `y` is the model's exported encoder
// graph's output on the image padded to the stride, the result the .aec file that encoding the image at
// `quality` makes from that latent (a variable-rate model's gains at the quality applied here, as the core's
// own transforms fold them in). Frees `pixels`.
AecpOut* encode_latent_with(const aec::Model& model, const float* y, int c, int h, int w, uint8_t* pixels,
                            int width, int height, int channels, double quality, int effort) {
  const auto t0 = std::chrono::steady_clock::now();
  Owned own(effort > 0 ? nullptr : pixels);
  aec::Image im;
  if (effort > 0) im = take_image(pixels, width, height, channels);
  aec::require(width > 0 && height > 0, "bad image size");
  const std::shared_ptr<const aec::Model> at = at_quality(model, quality);
  const aec::ModelInfo& info = at->info();
  const int pw = (width + info.stride - 1) / info.stride * info.stride;
  const int ph = (height + info.stride - 1) / info.stride * info.stride;
  int ec = 3, eh = ph, ew = pw;
  at->encoder().output_shape(ec, eh, ew);
  aec::require(c == ec && h == eh && w == ew, "the latent is " + std::to_string(c) + "x" + std::to_string(h) +
                                                  "x" + std::to_string(w) + ", the model's encoder gives " +
                                                  std::to_string(ec) + "x" + std::to_string(eh) + "x" +
                                                  std::to_string(ew) + " for a " + std::to_string(width) +
                                                  "x" + std::to_string(height) + " image");
  aec::Tensor yt(c, h, w);
  std::memcpy(yt.data.data(), y, yt.size() * sizeof(float));
  std::vector<float> gain, inv_gain;
  gains(model, *at, gain, inv_gain);
  if (!gain.empty())
    for (int k = 0; k < c; ++k) {
      float* p = yt.channel(k);
      for (size_t i = 0; i < yt.plane(); ++i) p[i] *= gain[size_t(k)];
    }
  aec::CodecTimings t;
  // Refinement keeps the side information (a hyperprior's z, so every mean and table) fixed.
  std::vector<int32_t> qz;
  if (effort > 0) {
    const auto t_ref = std::chrono::steady_clock::now();
    const aec::Tensor x = aec::image_to_tensor(aec::pad_edge(im, pw, ph));
    im = aec::Image();
    qz = at->latent_codec().side_symbols(yt);
    aec::RefineOptions ro;
    ro.effort = effort;
    ro.progress = report;
    ro.width = width, ro.height = height;
    yt = aec::refine_latent(*at, x, yt, qz.empty() ? nullptr : &qz, ro).latent;
    t.refine_ms = ms_since(t_ref);
  }
  const auto t_ent = std::chrono::steady_clock::now();
  aec::LatentCode code = aec::code_latent(*at, yt, qz.empty() ? nullptr : &qz, false);
  t.entropy_ms = ms_since(t_ent);
  const std::vector<uint8_t> bytes = aec::write_stream(*at, width, height, code.stream);
  t.total_ms = ms_since(t0);
  AecpOut* o = make_out(0, bytes.data(), bytes.size());
  o->width = width, o->height = height, o->quality = info.quality_code / 100.0;
  set_meta(o, {{"timings", timings_json(t)}});
  return o;
}

// The input of the model's exported decoder graph for an .aec file made by the model (aecp_decode_latent).
AecpOut* decode_latent_with(const aec::Model& model, const uint8_t* bytes, int size) {
  const auto t0 = std::chrono::steady_clock::now();
  const aec::Bitstream parsed0 = aec::parse_bitstream(bytes, size_t(size));
  const std::shared_ptr<const aec::Model> at = at_file_quality(model, parsed0);
  const aec::Bitstream parsed = aec::open_stream(*at, bytes, size_t(size), false);
  std::vector<double> bits;
  aec::Tensor t = aec::decode_latent(*at, parsed, &bits);
  std::vector<float> gain, inv_gain;
  gains(model, *at, gain, inv_gain);
  if (!inv_gain.empty())
    for (int k = 0; k < t.c; ++k) {
      float* p = t.channel(k);
      for (size_t i = 0; i < t.plane(); ++i) p[i] *= inv_gain[size_t(k)];
    }
  aec::CodecTimings tm;
  tm.entropy_ms = tm.total_ms = ms_since(t0);
  AecpOut* o = make_out(0, nullptr, 0);
  o->width = int32_t(parsed.header.width), o->height = int32_t(parsed.header.height);
  o->quality = at->info().quality_code / 100.0;
  set_floats(o, t.data);
  set_meta(o, {{"timings", timings_json(tm)}, {"latent", {t.c, t.h, t.w}}, {"channel_bits", bits}});
  return o;
}

// A codec manifest (codec_manifest.h) behind one quality knob: the core's QualityCodec, whose loader takes a
// member from the .aem bytes the JS side handed over (aecp_codec_add). The loader cannot fetch (it runs
// synchronously inside a call), so the JS side first asks which members a call needs (aecp_codec_needs) and
// fetches and hands over those only.
struct CodecHandle {
  std::unique_ptr<aec::QualityCodec> codec;
  std::map<std::string, std::shared_ptr<aec::Model>> given;  // parsed, until the codec takes them
  std::vector<bool> loaded;                                  // by member
};

nlohmann::json manifest_json(const aec::CodecManifest& m) {
  nlohmann::json members = nlohmann::json::array();
  for (const aec::CodecMember& c : m.members)
    members.push_back(
        {{"model", c.model}, {"quality", {c.from, c.to}}, {"model_quality", {c.member_from, c.member_to}}});
  return {{"name", m.name},
          {"description", m.description},
          {"default_quality", m.default_quality},
          {"members", members}};
}

// A codec member's decode result (its quality the member's own, which the file records) as the codec's: the
// AecpOut's quality becomes the knob's quality for it where the member serves that quality, and meta gets
// model_quality, the member's own.
AecpOut* as_knob(const aec::QualityCodec& qc, const std::string& member, AecpOut* o) {
  const double own = o->quality;
  for (size_t i = 0; i < qc.members(); ++i)
    if (qc.manifest().members[i].model == member && qc.manifest().knob_quality(i, own) > 0) {
      o->quality = qc.manifest().knob_quality(i, own);
      break;
    }
  nlohmann::json meta = nlohmann::json::parse(std::string(o->meta, size_t(o->meta_size)));
  meta["model"] = member;
  meta["model_quality"] = own;
  std::free(o->meta);
  set_meta(o, meta);
  return o;
}

}  // namespace

extern "C" {

EMSCRIPTEN_KEEPALIVE void aecp_out_free(AecpOut* o) {
  free_out(o);
}

// The core's threads (the threaded build; the single-threaded one runs with 1 whatever this says).
EMSCRIPTEN_KEEPALIVE void aecp_set_threads(int n) {
  aec::set_num_threads(std::max(1, n));
}

// Loads a model file (.aem bytes). On success `data` is the model's description (JSON) and *model the handle.
EMSCRIPTEN_KEEPALIVE AecpOut* aecp_model_load(const uint8_t* bytes, int size, aec::Model** model) {
  *model = nullptr;
  return guarded([&] {
    auto m = std::make_unique<aec::Model>(aec::Model::from_file(aec::ModelFile::parse(bytes, size_t(size))));
    const std::string s = model_info_json(*m).dump();
    *model = m.release();
    return make_out(0, s.data(), s.size());
  });
}

EMSCRIPTEN_KEEPALIVE void aecp_model_free(aec::Model* model) {
  delete model;
}

// Encodes an image as `aecodec encode` does: RGBA (channels 4) or RGB (3) pixels of width x height, or
// (channels 0) an image file's bytes (PNG, JPEG, BMP, TGA; `width` is then its length), malloc'ed by the
// caller and freed here. quality 0 = the model's default, size > 0 = the largest quality whose file has at
// most size bytes (--size). Alpha is dropped. Reports progress (0..1) where the encode is slow: the analysis
// transform's tiles of a large image, refinement (effort > 0), a size search's trials at effort > 0.
// meta: {timings, trials}.
EMSCRIPTEN_KEEPALIVE AecpOut* aecp_encode(const aec::Model* model, uint8_t* pixels, int width, int height,
                                          int channels, double quality, int effort, double size) {
  return guarded([&] {
    return encode_with(aec::QualityCodec::borrowing(*model), pixels, width, height, channels, quality, effort,
                       size);
  });
}

// Decodes an .aec file made by this model into RGBA pixels (alpha 255); with cross = 1 one made by another
// member of its cross-resolution family (the output is then the file's image scaled by the strides); with
// cross = 2 one made by this model, a family's medium member, at twice its size through the member's up
// decoder.
// latent != 0: also the dequantised latent (floats, channels x height x width in meta.latent) and each
// channel's bits (meta.channel_bits). Reports the synthesis transform's bands of rows (a large image) as
// 0..1. meta: {timings, quality, latent, channel_bits}.
EMSCRIPTEN_KEEPALIVE AecpOut* aecp_decode(const aec::Model* model, const uint8_t* bytes, int size, int cross,
                                          int latent) {
  const aec::DecodeAs as = cross == 2 ? aec::DecodeAs::up : cross ? aec::DecodeAs::cross : aec::DecodeAs::own;
  return guarded([&] { return decode_with(*model, bytes, size, as, latent != 0); });
}

// Codes a latent that another runtime computed: y (channels x height x width floats) is the output of the
// model's exported encoder graph (`aecodec-onnx`: NAME.encoder.onnx) on the image padded to the stride, and
// the result the .aec file aecodec_encode makes from that latent (a variable-rate model's gains at
// `quality` applied here). effort > 0 refines y first, which needs the image: RGBA (4) or RGB (3) pixels of
// width x height, malloc'ed by the caller and freed here (with effort 0 only its size is read).
// meta: {timings, latent: [c, h, w], channel_bits}.
EMSCRIPTEN_KEEPALIVE AecpOut* aecp_encode_latent(const aec::Model* model, const float* y, int c, int h, int w,
                                                 uint8_t* pixels, int width, int height, int channels,
                                                 double quality, int effort) {
  return guarded([&] {
    return encode_latent_with(*model, y, c, h, w, pixels, width, height, channels, quality, effort);
  });
}

// The other way: the input of the model's exported decoder graph (NAME.decoder.onnx) for an .aec file made
// by this model, i.e. its latent entropy-decoded and dequantised (a variable-rate model's inverse gains at
// the file's quality applied), as floats; meta: {latent: [c, h, w], channel_bits, timings}. width x height is
// the file's image (the decoder graph's output is cropped to it).
EMSCRIPTEN_KEEPALIVE AecpOut* aecp_decode_latent(const aec::Model* model, const uint8_t* bytes, int size) {
  return guarded([&] { return decode_latent_with(*model, bytes, size); });
}

// --- Codecs: a manifest over member models ----------------------------------------------------------------

// Parses and validates a codec manifest (JSON text) with the core. On success `data` is the manifest as the
// core read it (JSON: name, description, default_quality, members with their spans) and *codec the handle,
// with no member loaded yet.
EMSCRIPTEN_KEEPALIVE AecpOut* aecp_codec_open(const char* text, int size, CodecHandle** codec) {
  *codec = nullptr;
  return guarded([&] {
    aec::CodecManifest m = aec::CodecManifest::parse(std::string(text, size_t(size)));
    auto h = std::make_unique<CodecHandle>();
    CodecHandle* raw = h.get();
    const std::string s = manifest_json(m).dump();
    h->loaded.assign(m.members.size(), false);
    h->codec = std::make_unique<aec::QualityCodec>(std::move(m), [raw](const std::string& name) {
      const auto it = raw->given.find(name);
      aec::require(it != raw->given.end(), "member '" + name + "' of the codec has not been loaded");
      aec::Model model = std::move(*it->second);
      raw->given.erase(it);
      return model;
    });
    *codec = h.release();
    return make_out(0, s.data(), s.size());
  });
}

EMSCRIPTEN_KEEPALIVE void aecp_codec_free(CodecHandle* codec) {
  delete codec;
}

// Hands over member `name`'s model file (.aem bytes) and loads it into the codec at once, so that a file
// that is not that member (another name, a single-rate model) is refused now with the core's message.
// `data`: the member's description (as aecp_model_load's).
EMSCRIPTEN_KEEPALIVE AecpOut* aecp_codec_add(CodecHandle* codec, const char* name, const uint8_t* bytes,
                                             int size) {
  return guarded([&] {
    const std::string n = name;
    const std::vector<aec::CodecMember>& members = codec->codec->manifest().members;
    bool member = false;
    for (const aec::CodecMember& c : members) member |= c.model == n;
    aec::require(member, "codec '" + codec->codec->name() + "' has no member '" + n + "'");
    codec->given[n] =
        std::make_shared<aec::Model>(aec::Model::from_file(aec::ModelFile::parse(bytes, size_t(size))));
    const aec::Model* loaded = nullptr;
    try {
      for (size_t i = 0; i < members.size(); ++i)
        if (members[i].model == n) loaded = &codec->codec->member(i), codec->loaded[i] = true;
    } catch (...) {
      codec->given.erase(n);
      throw;
    }
    const std::string s = model_info_json(*loaded).dump();
    return make_out(0, s.data(), s.size());
  });
}

// The members a call needs that are not loaded yet, by the core's mapping: `what` 0 an encode at knob
// quality `quality` (0: the default), 1 a size search (every member: it searches the whole knob), 2 decoding
// the .aec file `bytes` (the member its header names). `data`: {"members": [index, ...], "model": the
// member an encode at `quality` uses (with "model_quality", its own quality there, and "quality", the
// knob's) or that made the file}. A quality outside 1..100, or a file no member made, is the core's
// error.
EMSCRIPTEN_KEEPALIVE AecpOut* aecp_codec_needs(const CodecHandle* codec, int what, double quality,
                                               const uint8_t* bytes, int size) {
  return guarded([&] {
    const aec::QualityCodec& qc = *codec->codec;
    const std::vector<aec::CodecMember>& members = qc.manifest().members;
    nlohmann::json need = nlohmann::json::array();
    nlohmann::json j;
    if (what == 0) {
      const aec::CodecManifest::Setting s = qc.manifest().at(quality > 0 ? quality : qc.default_quality());
      if (!codec->loaded[s.member]) need.push_back(s.member);
      j["model"] = members[s.member].model;
      j["model_quality"] = s.quality;
      j["quality"] = aec::quality_code(quality > 0 ? quality : qc.default_quality()) / 100.0;
    } else if (what == 1) {
      for (size_t i = 0; i < members.size(); ++i)
        if (!codec->loaded[i]) need.push_back(i);
    } else {
      const aec::BitstreamHeader h = aec::parse_bitstream(bytes, size_t(size)).header;
      bool any = false;
      for (size_t i = 0; i < members.size(); ++i)
        if (members[i].model == h.model_name) {
          any = true;
          if (!codec->loaded[i]) need.push_back(i);
        }
      if (!any) qc.decoder_for(h);  // throws the core's message: no member made this file
      j["model"] = h.model_name;
    }
    j["members"] = need;
    const std::string s = j.dump();
    return make_out(0, s.data(), s.size());
  });
}

// aecp_encode for a codec: `quality` is the knob's (EncodeResult::quality, and `quality` of the AecpOut),
// size > 0 searches the whole knob (every member must be loaded). meta: {timings, trials, model (the member
// that made the file), model_quality (the member's own quality, which the file records)}.
EMSCRIPTEN_KEEPALIVE AecpOut* aecp_codec_encode(const CodecHandle* codec, uint8_t* pixels, int width,
                                                int height, int channels, double quality, int effort,
                                                double size) {
  return guarded(
      [&] { return encode_with(*codec->codec, pixels, width, height, channels, quality, effort, size); });
}

// aecp_decode for a codec: the member the file's header names decodes it (that member must be loaded). The
// AecpOut's quality is the knob's quality for the member's recorded one where the member serves it, else the
// member's own; meta adds model_quality (the member's, as the file records it).
EMSCRIPTEN_KEEPALIVE AecpOut* aecp_codec_decode(const CodecHandle* codec, const uint8_t* bytes, int size,
                                                int latent) {
  return guarded([&] {
    const aec::QualityCodec& qc = *codec->codec;
    const aec::BitstreamHeader h = aec::parse_bitstream(bytes, size_t(size)).header;
    return as_knob(qc, h.model_name,
                   decode_with(qc.decoder_for(h), bytes, size, aec::DecodeAs::own, latent != 0));
  });
}

// aecp_encode_latent for a codec: `quality` is the knob's (0: the default), and the core's mapping picks the
// member (which must be loaded) and the member's own quality, so `y` is the output of that member's encoder
// graph and the file that member's at its quality, as aecp_codec_encode makes it. The AecpOut's quality is
// the knob's; meta adds model (the member) and model_quality (its own quality, which the file records).
EMSCRIPTEN_KEEPALIVE AecpOut* aecp_codec_encode_latent(const CodecHandle* codec, const float* y, int c, int h,
                                                       int w, uint8_t* pixels, int width, int height,
                                                       int channels, double quality, int effort) {
  Owned own(pixels);  // until encode_latent_with takes them: a member that is not loaded frees them here
  return guarded([&] {
    const aec::QualityCodec& qc = *codec->codec;
    const aec::CodecManifest::Setting s = qc.manifest().at(quality > 0 ? quality : qc.default_quality());
    const aec::Model& member = qc.member(s.member);
    AecpOut* o =
        encode_latent_with(member, y, c, h, w, own.release(), width, height, channels, s.quality, effort);
    o->quality = aec::quality_code(quality > 0 ? quality : qc.default_quality()) / 100.0;
    nlohmann::json meta = nlohmann::json::parse(std::string(o->meta, size_t(o->meta_size)));
    meta["model"] = qc.manifest().members[s.member].model;
    meta["model_quality"] = s.quality;
    std::free(o->meta);
    set_meta(o, meta);
    return o;
  });
}

// aecp_decode_latent for a codec: the file's member (which must be loaded) gives its decoder graph's input.
// The AecpOut's quality is the knob's, as aecp_codec_decode's; meta adds model and model_quality.
EMSCRIPTEN_KEEPALIVE AecpOut* aecp_codec_decode_latent(const CodecHandle* codec, const uint8_t* bytes,
                                                       int size) {
  return guarded([&] {
    const aec::QualityCodec& qc = *codec->codec;
    const aec::BitstreamHeader h = aec::parse_bitstream(bytes, size_t(size)).header;
    return as_knob(qc, h.model_name, decode_latent_with(qc.decoder_for(h), bytes, size));
  });
}

}  // extern "C"
