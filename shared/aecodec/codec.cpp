#include "aecodec/codec.h"

#include <chrono>
#include <cmath>

#include "aecodec/error.h"
#include "aecodec/file_io.h"

namespace aec {

namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

std::vector<int32_t> channel_index(int c, int h, int w) {
  std::vector<int32_t> idx(size_t(c) * h * w);
  const size_t plane = size_t(h) * w;
  for (int k = 0; k < c; ++k) std::fill_n(idx.begin() + ptrdiff_t(size_t(k) * plane), plane, k);
  return idx;
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

}  // namespace

std::string decoder_mismatch(const Model& decoder, const BitstreamHeader& h, bool allow_family) {
  const ModelInfo& info = decoder.info();
  if (h.model_name == info.name && h.model_hash == decoder.info().model_hash) return "";
  if (allow_family) {
    if (h.family_id.empty())
      return "the file was made by model '" + h.model_name + "', which is not in a cross-resolution family";
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
         (!h.family_id.empty() && h.family_id == info.family_id ? " (same family: use cross-decode)" : "");
}

EncodeResult encode_image(const Model& model, const Image& image) {
  const auto t0 = std::chrono::steady_clock::now();
  const ModelInfo& info = model.info();
  require(image.width > 0 && image.height > 0, "empty image");
  if (info.fixed_width)
    require(image.width == info.fixed_width && image.height == info.fixed_height,
            "model '" + info.name + "' takes exactly " + std::to_string(info.fixed_width) + "x" +
                std::to_string(info.fixed_height) + " images; this one is " + std::to_string(image.width) + "x" +
                std::to_string(image.height));
  const int pw = (image.width + info.stride - 1) / info.stride * info.stride;
  const int ph = (image.height + info.stride - 1) / info.stride * info.stride;
  const Image padded = (pw == image.width && ph == image.height) ? image : pad_edge(image, pw, ph);

  EncodeResult r;
  const auto t_net = std::chrono::steady_clock::now();
  const Tensor y = model.analysis(image_to_tensor(padded));
  r.timings.network_ms = ms_since(t_net);

  const auto t_ent = std::chrono::steady_clock::now();
  const std::vector<int32_t> q = model.quantize(y);
  const std::vector<int32_t> idx = channel_index(y.c, y.h, y.w);
  Bitstream b;
  b.payload = entropy_encode(q.data(), idx.data(), q.size(), model.tables());
  r.timings.entropy_ms = ms_since(t_ent);
  const size_t plane = y.plane();
  r.channel_bits.resize(size_t(y.c));
  for (int k = 0; k < y.c; ++k)
    r.channel_bits[size_t(k)] =
        entropy_bits(q.data() + size_t(k) * plane, idx.data() + size_t(k) * plane, plane, model.tables());
  r.latent = model.dequantize(q, y.c, y.h, y.w);

  BitstreamHeader& h = b.header;
  h.model_name = info.name;
  h.model_hash = info.model_hash;
  h.entropy_hash = info.entropy_hash;
  h.family_id = info.family_id;
  h.width = uint32_t(image.width);
  h.height = uint32_t(image.height);
  h.stride = uint32_t(info.stride);
  h.latent_c = uint32_t(y.c), h.latent_h = uint32_t(y.h), h.latent_w = uint32_t(y.w);
  r.bytes = write_bitstream(b);
  r.timings.total_ms = ms_since(t0);
  return r;
}

static DecodeResult decode_with(const Model& model, const uint8_t* data, size_t size, bool cross,
                                const ImageLimits& limits) {
  const auto t0 = std::chrono::steady_clock::now();
  DecodeResult r;
  r.stream = parse_bitstream(data, size);
  const BitstreamHeader& h = r.stream.header;
  const std::string why = decoder_mismatch(model, h, cross);
  require(why.empty(), "cannot decode: " + why);
  const ModelInfo& info = model.info();

  // The latent grid must be the one the encoder makes for the stated image size; checked before decoding.
  require(int64_t(h.width) * h.height <= limits.max_pixels && int(h.width) <= limits.max_side &&
              int(h.height) <= limits.max_side,
          "the file's image is " + std::to_string(h.width) + "x" + std::to_string(h.height) +
              ", over the decoder's limits");
  if (!cross) {
    int c, lh, lw;
    latent_grid(model, int(h.width), int(h.height), c, lh, lw);
    require(h.stride == uint32_t(info.stride) && h.latent_c == uint32_t(c) && h.latent_h == uint32_t(lh) &&
                h.latent_w == uint32_t(lw),
            "corrupt .aec file: latent shape does not match the image size");
  } else {
    require(!info.fixed_width, "cross-decoding needs fully convolutional models");
    require(h.latent_c == uint32_t(info.latent_channels) &&
                h.latent_h == (h.height + h.stride - 1) / h.stride && h.latent_w == (h.width + h.stride - 1) / h.stride,
            "corrupt .aec file: latent shape does not match the image size");
  }
  int out_w = int(h.width), out_h = int(h.height);
  if (cross) {  // scale by decoder stride / encoder stride (rounding up, as the 2x box downscale does)
    out_w = int((uint64_t(h.width) * uint32_t(info.stride) + h.stride - 1) / h.stride);
    out_h = int((uint64_t(h.height) * uint32_t(info.stride) + h.stride - 1) / h.stride);
    require(int64_t(out_w) * out_h <= limits.max_pixels, "cross-decoded image would be over the size limit");
  }

  const auto t_ent = std::chrono::steady_clock::now();
  const int C = int(h.latent_c), H = int(h.latent_h), W = int(h.latent_w);
  const std::vector<int32_t> idx = channel_index(C, H, W);
  const std::vector<int32_t> q =
      entropy_decode(r.stream.payload.data(), r.stream.payload.size(), idx.data(), idx.size(), model.tables());
  const Tensor latent = model.dequantize(q, C, H, W);
  r.timings.entropy_ms = ms_since(t_ent);

  const auto t_net = std::chrono::steady_clock::now();
  const Tensor x = model.synthesis(latent);
  r.timings.network_ms = ms_since(t_net);
  require(x.c == 3 && x.w >= out_w && x.h >= out_h, "decoder output is smaller than the image");
  Image full = tensor_to_image(x);
  r.image = (full.width == out_w && full.height == out_h) ? std::move(full) : crop(full, out_w, out_h);
  r.timings.total_ms = ms_since(t0);
  return r;
}

DecodeResult decode_image(const Model& model, const uint8_t* data, size_t size, const ImageLimits& limits) {
  return decode_with(model, data, size, false, limits);
}

DecodeResult cross_decode_image(const Model& decoder, const uint8_t* data, size_t size, const ImageLimits& limits) {
  return decode_with(decoder, data, size, true, limits);
}

}  // namespace aec
