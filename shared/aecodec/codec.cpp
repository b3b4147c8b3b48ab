#include "aecodec/codec.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "aecodec/error.h"
#include "aecodec/file_io.h"
#include "aecodec/quality.h"
#include "aecodec/refine.h"
#include "aecodec/substreams.h"
#include "aecodec/tile.h"

namespace aec {

namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// The latent grid the model's encoder makes for an image of this size.
void latent_grid(const Model& m, int width, int height, int& c, int& h, int& w) {
  const ModelInfo& info = m.info();
  c = 3;
  if (info.fixed_width) {
    h = info.fixed_height, w = info.fixed_width;
  } else {
    h = (height + info.stride - 1) / info.stride * info.stride;
    w = (width + info.stride - 1) / info.stride * info.stride;
  }
  m.encoder().output_shape(c, h, w);
}

// The rate-distortion loss refinement minimises, of a coded latent: bits of its sections per pixel plus
// lambda 255^2 times the MSE of the decoded image (clamped to [0, 1]) over the image's own area.
double coded_loss(const Model& model, const LatentCode& code, const Tensor& x, int width, int height) {
  double bits = 0;
  for (const Section& s : code.stream.sections) bits += 8.0 * double(s.bytes.size());
  const Tensor out = model.synthesis(code.latent);
  double sum = 0;
  for (int c = 0; c < 3; ++c)
    for (int yy = 0; yy < height; ++yy)
      for (int xx = 0; xx < width; ++xx) {
        const double d = double(std::min(1.0f, std::max(0.0f, out.at(c, yy, xx)))) - x.at(c, yy, xx);
        sum += d * d;
      }
  const double lambda = model.file().meta["training"].value("lambda", 0.0);
  const double pixels = double(width) * height;
  return bits / pixels + lambda * 255.0 * 255.0 * sum / (3.0 * pixels);
}

// Whether the file was made by the model that `info` names as its family's high member.
bool is_family_high(const ModelInfo& info, const BitstreamHeader& h) {
  return info.names_as_high(h.model_name, hash_hex(h.model_hash));
}

// Whether a model outside any family is the base of the file's family: a family built on a model file is
// named after that model's entropy model ("fam-" and its hash) and carries it verbatim.
bool is_family_base(const ModelInfo& info, const BitstreamHeader& h) {
  return info.family_id.empty() && h.entropy_hash == info.entropy_hash &&
         h.family_id == "fam-" + hash_hex(info.entropy_hash);
}

}  // namespace

std::string decoder_mismatch(const Model& decoder, const BitstreamHeader& h, bool allow_family) {
  const ModelInfo& info = decoder.info();
  if (h.model_name == info.name && info.is_version(h.model_hash)) return "";
  // A family built on a model outside any family (docs/family.md) names that model as its high member: the
  // member decodes that model's files (which name no family), and that model decodes the member's.
  if (allow_family) {
    if (h.family_id.empty() && is_family_high(info, h)) return "";
    if (h.family_id.empty())
      return "the file was made by model '" + h.model_name + "', which is not in a cross-resolution family" +
             (info.family_id.empty() ? "" : " with model '" + info.name + "'");
    if (is_family_base(info, h)) return "";
    if (h.family_id != info.family_id)
      return "model '" + info.name + "' is not in the file's family '" + h.family_id + "'" +
             (info.family_id.empty() ? "" : " (it belongs to '" + info.family_id + "')");
    if (h.entropy_hash != info.entropy_hash)
      return "model '" + info.name + "' has a different entropy model than the one the file was coded with";
    return "";
  }
  if (h.model_name == info.name)
    return "the file needs model '" + h.model_name + "' version " + hash_hex(h.model_hash) +
           ", but the loaded model is version " + info.id;
  return "the file was made by model '" + h.model_name + "' (version " + hash_hex(h.model_hash) +
         "), not by '" + info.name + "'" +
         ((!h.family_id.empty() && h.family_id == info.family_id) || is_family_high(info, h) ||
                  is_family_base(info, h)
              ? " (same family: use cross-decode)"
              : "");
}

namespace {

// `spent`, when given, is the caller's image (the same object as `image`), whose pixels are released once
// the analysis transform has read them: a 50 MP photo's 150 MB are then free while the entropy stage runs.
EncodeResult encode(const Model& model, const Image& image, Image* spent, const EncodeOptions& options) {
  const ModelInfo& info = model.info();
  if (model.variable_rate()) {  // the network at the asked (or default) quality
    EncodeOptions at = options;
    at.quality = 0;
    const auto coded = model.at_quality_cached(options.quality > 0 ? options.quality : info.default_quality);
    return encode(*coded, image, spent, at);
  }
  require(
      options.quality <= 0 || (info.quality_code > 0 && quality_code(options.quality) == info.quality_code),
      "model '" + info.name +
          "' is single-rate: it has no quality knob (-q); pick another model for another rate");
  const auto t0 = std::chrono::steady_clock::now();
  require(image.width > 0 && image.height > 0, "empty image");
  if (info.fixed_width)
    require(image.width == info.fixed_width && image.height == info.fixed_height,
            "model '" + info.name + "' takes exactly " + std::to_string(info.fixed_width) + "x" +
                std::to_string(info.fixed_height) + " images; this one is " + std::to_string(image.width) +
                "x" + std::to_string(image.height));
  const int pw = (image.width + info.stride - 1) / info.stride * info.stride;
  const int ph = (image.height + info.stride - 1) / info.stride * info.stride;

  EncodeResult r;
  const auto t_net = std::chrono::steady_clock::now();
  // A large image is analysed by tiles (the same latent, memory bounded by the tile); refinement needs the
  // whole image tensor anyway.
  Tensor x, y;
  const int width = image.width, height = image.height;
  if (options.effort <= 0 && use_tiles(model, image.width, image.height)) {
    y = analysis_tiled(model, image, tile_options().tile, options.progress);
  } else {
    x = image_to_tensor((pw == image.width && ph == image.height) ? image : pad_edge(image, pw, ph));
    y = model.analysis(x);
  }
  r.timings.network_ms = ms_since(t_net);
  if (spent) std::vector<uint8_t>().swap(spent->rgb);
  if (options.effort <= 0) x = Tensor();  // only refinement reads it again

  // Refinement searches the latent for this decoder with the side information (a hyperprior's z, so every
  // mean and table) fixed.
  std::vector<int32_t> qz;
  Tensor plain;  // the unrefined latent, when the codec's rate model was only a linearisation
  if (options.effort > 0) {
    if (model.latent_codec().context_adaptive()) plain = y;
    const auto t_ref = std::chrono::steady_clock::now();
    qz = model.latent_codec().side_symbols(y);
    RefineOptions ro;
    ro.effort = options.effort;
    ro.plan = options.plan;
    ro.progress = options.progress;
    ro.width = width, ro.height = height;
    y = refine_latent(model, x, y, qz.empty() ? nullptr : &qz, ro).latent;
    r.timings.refine_ms = ms_since(t_ref);
  }

  const auto t_ent = std::chrono::steady_clock::now();
  // Refinement's check compares the decoded latents; otherwise only the caller may want one.
  const bool latent = options.latent || options.effort > 0;
  LatentCode code = code_latent(model, y, qz.empty() ? nullptr : &qz, latent, options.rates, options.bands);
  if (!plain.data.empty()) {
    // Never worse than effort 0, checked by coding both: the refinement's rate model held the context's
    // tables at the plain latent's rounding.
    LatentCode base =
        code_latent(model, plain, qz.empty() ? nullptr : &qz, latent, options.rates, options.bands);
    if (coded_loss(model, base, x, width, height) <= coded_loss(model, code, x, width, height))
      code = std::move(base);
  }
  r.timings.entropy_ms = ms_since(t_ent);
  r.channel_bits = std::move(code.channel_bits);
  r.hyper_bits = code.hyper_bits;
  r.latent = std::move(code.latent);

  r.quality = info.quality_code / 100.0;
  r.bytes = write_stream(model, width, height, code.stream);
  r.timings.total_ms = ms_since(t0);
  return r;
}

}  // namespace

EncodeResult encode_image(const Model& model, const Image& image, const EncodeOptions& options) {
  return encode(model, image, nullptr, options);
}

EncodeResult encode_image(const Model& model, Image&& image, const EncodeOptions& options) {
  Image& spent = image;
  return encode(model, spent, &spent, options);
}

std::vector<uint8_t> write_stream(const Model& model, int width, int height, Bitstream& stream) {
  const ModelInfo& info = model.info();
  BitstreamHeader& h = stream.header;
  h.version = kBitstreamVersion;
  h.model_name = info.name;
  h.model_hash = info.model_hash;
  h.width = uint32_t(width), h.height = uint32_t(height);
  h.family_id = info.family_id;
  h.entropy_hash = info.entropy_hash;
  h.stride = uint32_t(info.stride);
  if (info.quality_code > 0) stream.section(kSectionQuality) = quality_section(info.quality_code);
  return write_bitstream(stream);
}

Bitstream open_stream(const Model& model, const uint8_t* data, size_t size, bool cross,
                      const ImageLimits& limits) {
  Bitstream stream = parse_bitstream(data, size);
  BitstreamHeader& h = stream.header;
  const std::string why = decoder_mismatch(model, h, cross);
  require(why.empty(), "cannot decode: " + why);
  const ModelInfo& info = model.info();
  require(int64_t(h.width) * h.height <= limits.max_pixels && int64_t(h.width) <= limits.max_side &&
              int64_t(h.height) <= limits.max_side,
          "the file's image is " + std::to_string(h.width) + "x" + std::to_string(h.height) +
              ", over the decoder's limits");
  // The latent grid is the one the encoder makes for the stated image size: version 3 derives it, versions
  // 1 and 2 store it and must agree.
  int c, lh, lw;
  if (!cross) {
    require(!info.fixed_width ||
                (h.width == uint32_t(info.fixed_width) && h.height == uint32_t(info.fixed_height)),
            "corrupt .aec file: model '" + info.name + "' codes only " + std::to_string(info.fixed_width) +
                "x" + std::to_string(info.fixed_height) + " images");
    latent_grid(model, int(h.width), int(h.height), c, lh, lw);
    if (h.version < kBitstreamVersion)
      require(h.stride == uint32_t(info.stride),
              "corrupt .aec file: latent shape does not match the image size");
  } else {
    require(!info.fixed_width, "cross-decoding needs fully convolutional models");
    if (h.family_id.empty()) h.stride = uint32_t(info.family_high_stride);  // the high member's own file
    require(h.stride >= 1, "corrupt .aec file: no encoder stride to cross-decode with");
    c = info.latent_channels;
    lh = int((h.height + h.stride - 1) / h.stride), lw = int((h.width + h.stride - 1) / h.stride);
  }
  if (h.version < kBitstreamVersion)
    require(h.latent_c == uint32_t(c) && h.latent_h == uint32_t(lh) && h.latent_w == uint32_t(lw),
            "corrupt .aec file: latent shape does not match the image size");
  h.latent_c = uint32_t(c), h.latent_h = uint32_t(lh), h.latent_w = uint32_t(lw);
  return stream;
}

static Tensor decode_latent_with(const LatentCodec& codec, const Model& model, const Bitstream& stream,
                                 std::vector<double>* channel_bits = nullptr);

static DecodeResult decode_with(const Model& model, const uint8_t* data, size_t size, DecodeAs as,
                                const ImageLimits& limits, const RowSink* sink = nullptr) {
  const auto t0 = std::chrono::steady_clock::now();
  const bool cross = as == DecodeAs::cross, up = as == DecodeAs::up;
  require(!up || model.info().up_decoder,
          "model '" + model.info().name + "' has no up decoder: its files decode at their own size" +
              (model.info().family_high.empty()
                   ? std::string()
                   : " (cross-decode with '" + model.info().family_high + "' for the full size)"));
  DecodeResult r;
  r.stream = open_stream(model, data, size, cross, limits);
  // A variable-rate model decodes at the file's quality.
  const ModelInfo& mi = model.info();
  if (const std::vector<uint8_t>* q = r.stream.find(kSectionQuality)) {
    const int code = read_quality_section(*q);
    if (model.variable_rate())
      return decode_with(*model.at_quality_cached(code / 100.0), data, size, as, limits, sink);
    require(mi.quality_code == code, "corrupt .aec file: a quality section, but model '" + mi.name +
                                         (mi.quality_code ? "' is at another quality" : "' is single-rate"));
  } else {
    require(mi.lambdas.empty(),
            "corrupt .aec file: no quality section, but model '" + mi.name + "' is variable-rate");
  }
  const BitstreamHeader& h = r.stream.header;
  const ModelInfo& info = model.info();
  int out_w = int(h.width), out_h = int(h.height);
  if (cross) {  // scale by decoder stride / encoder stride (rounding up, as the 2x box downscale does)
    out_w = int((uint64_t(h.width) * uint32_t(info.stride) + h.stride - 1) / h.stride);
    out_h = int((uint64_t(h.height) * uint32_t(info.stride) + h.stride - 1) / h.stride);
    require(int64_t(out_w) * out_h <= limits.max_pixels, "cross-decoded image would be over the size limit");
  }
  if (up) {
    out_w = int(2 * uint64_t(h.width)), out_h = int(2 * uint64_t(h.height));
    require(
        int64_t(out_w) * out_h <= limits.max_pixels && out_w <= limits.max_side && out_h <= limits.max_side,
        "the up decoder's image would be over the size limit");
  }
  const Network& decoder = up ? model.up_decoder() : model.decoder();

  const auto t_ent = std::chrono::steady_clock::now();
  const Tensor latent =
      decode_latent_with(up ? model.up_latent_codec() : model.latent_codec(), model, r.stream);
  r.timings.entropy_ms = ms_since(t_ent);

  const auto t_net = std::chrono::steady_clock::now();
  // By tiles, each band of rows to the sink (or into r.image); the up decoder is checked too, as use_tiles
  // looks at the model's own decoder.
  int down = 1, upscale = 1;
  if (use_tiles(model, out_w, out_h) && decoder.strides(down, upscale)) {
    double sink_ms = 0;
    if (!sink) r.image = Image(out_w, out_h);
    synthesis_tiled(decoder, latent, out_w, out_h, tile_options().tile,
                    [&](int w, int h, int y0, int rows, const uint8_t* rgb) {
                      if (!sink) {
                        std::copy_n(rgb, size_t(w) * rows * 3, r.image.rgb.data() + size_t(y0) * w * 3);
                        return;
                      }
                      const auto t_sink = std::chrono::steady_clock::now();
                      (*sink)(w, h, y0, rows, rgb);
                      sink_ms += ms_since(t_sink);
                    });
    r.timings.network_ms = ms_since(t_net) - sink_ms;
    r.timings.total_ms = ms_since(t0) - sink_ms;
    return r;
  }
  const Tensor x = decoder.forward(latent);
  r.timings.network_ms = ms_since(t_net);
  require(x.c == 3 && x.w >= out_w && x.h >= out_h, "decoder output is smaller than the image");
  Image full = tensor_to_image(x);
  r.image = (full.width == out_w && full.height == out_h) ? std::move(full) : crop(full, out_w, out_h);
  r.timings.total_ms = ms_since(t0);
  if (sink) {
    (*sink)(out_w, out_h, 0, out_h, r.image.rgb.data());
    r.image = Image();
  }
  return r;
}

LatentCode code_latent(const Model& model, const Tensor& y, const std::vector<int32_t>* fixed_qz, bool latent,
                       bool rates, int bands) {
  require(y.c == model.info().latent_channels, "latent has " + std::to_string(y.c) + " channels, model '" +
                                                   model.info().name + "' expects " +
                                                   std::to_string(model.info().latent_channels));
  require(bands >= 0 && bands <= kMaxBands,
          "payload bands " + std::to_string(bands) + " outside [0, " + std::to_string(kMaxBands) + "]");
  LatentCode r = model.latent_codec().encode(y, fixed_qz, latent, rates, bands);
  BitstreamHeader& h = r.stream.header;  // the grid, as open_stream gives the decoder
  h.latent_c = uint32_t(y.c), h.latent_h = uint32_t(y.h), h.latent_w = uint32_t(y.w);
  return r;
}

Tensor decode_latent(const Model& model, const Bitstream& stream, std::vector<double>* channel_bits) {
  return decode_latent_with(model.latent_codec(), model, stream, channel_bits);
}

// decode_latent through `codec`: the model's own, or the one its up decoder reads.
Tensor decode_latent_with(const LatentCodec& codec, const Model& model, const Bitstream& stream,
                          std::vector<double>* channel_bits) {
  std::vector<uint32_t> needs = codec.sections();
  if (model.info().quality_code > 0) needs.push_back(kSectionQuality);
  const std::string which = "model '" + model.info().name + "' has a " + codec.kind() + " entropy model";
  for (uint32_t type : needs)
    require(stream.find(type),
            "corrupt .aec file: the stream has no " + section_name(type) + " section, but " + which);
  // A required section the codec does not read would be silently dropped: refused instead. Every latent
  // codec reads y's payload in bands (substreams.h), so each reads a substreams section.
  needs.push_back(kSectionSubstreams);
  for (const Section& s : stream.sections)
    require(section_optional(s.type) || std::find(needs.begin(), needs.end(), s.type) != needs.end(),
            "corrupt .aec file: a " + section_name(s.type) + " section, but " + which + ", which reads none");
  const BitstreamHeader& h = stream.header;
  require(h.latent_c == uint32_t(model.info().latent_channels),
          "corrupt .aec file: latent shape does not match the model");
  return codec.decode(stream, int(h.latent_c), int(h.latent_h), int(h.latent_w), channel_bits);
}

DecodeResult decode_image(const Model& model, const uint8_t* data, size_t size, const ImageLimits& limits) {
  return decode_with(model, data, size, DecodeAs::own, limits);
}

DecodeResult cross_decode_image(const Model& decoder, const uint8_t* data, size_t size,
                                const ImageLimits& limits) {
  return decode_with(decoder, data, size, DecodeAs::cross, limits);
}

DecodeResult up_decode_image(const Model& medium, const uint8_t* data, size_t size,
                             const ImageLimits& limits) {
  return decode_with(medium, data, size, DecodeAs::up, limits);
}

DecodeResult decode_image_rows(const Model& model, const uint8_t* data, size_t size, const RowSink& sink,
                               const ImageLimits& limits, DecodeAs as) {
  return decode_with(model, data, size, as, limits, &sink);
}

}  // namespace aec
