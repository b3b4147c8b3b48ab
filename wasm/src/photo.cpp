// Photos in the page: coding an image the core runs by tiles with a progress report (the core's own encode
// has one only for refinement), and its PSNR and MS-SSIM.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <vector>

#include "aecodec/error.h"
#include "aecodec/metrics.h"
#include "aecodec/parallel.h"
#include "aecodec/tile.h"
#include "app.h"

namespace web {

namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

void measure(const aec::Image& a, const aec::Image& b, double& psnr, double& ms_ssim) {
  psnr = aec::psnr(a, b);
  ms_ssim = aec::ms_ssim(a, b);
}

aec::EncodeResult encode_tiles(const aec::Model& model, const aec::Image& image,
                               const std::function<bool(double)>& report) {
  const auto t0 = std::chrono::steady_clock::now();
  const aec::ModelInfo& info = model.info();
  aec::require(!model.variable_rate(), "encode_tiles: the network at a quality, not the variable-rate model");
  aec::require(aec::use_tiles(model, image.width, image.height), "encode_tiles: not an image the core tiles");
  const int pw = (image.width + info.stride - 1) / info.stride * info.stride;
  const int ph = (image.height + info.stride - 1) / info.stride * info.stride;
  const aec::Network& net = model.encoder();
  int c = 3, h = ph, w = pw, down = 1, up = 1;
  net.output_shape(c, h, w);
  aec::require(net.strides(down, up), "encode_tiles: the encoder cannot be tiled");
  // aec::analysis_tiled (tile.cpp), with each tile reported before it runs.
  const int tile = aec::tile_side(net, 3, aec::tile_options().tile), tile_out = std::max(1, tile / down);
  const int tiles_y = (h + tile_out - 1) / tile_out, tiles_x = (w + tile_out - 1) / tile_out;
  const double tiles = std::max(1, tiles_x * tiles_y);
  int done = 0;
  aec::EncodeResult r;
  aec::Tensor y(c, h, w);
  aec::run_tiled(
      net, 3, ph, pw, tile_out,
      [&](aec::Tensor& in, int x0, int y0) {
        if (!report(double(done++) / tiles)) throw aec::Cancelled();
        // The image padded to the stride by replicating its last row and column, as pad_edge does.
        for (int k = 0; k < 3; ++k)
          for (int row = 0; row < in.h; ++row) {
            const uint8_t* src =
                image.rgb.data() + size_t(std::min(y0 + row, image.height - 1)) * image.width * 3;
            float* dst = in.channel(k) + size_t(row) * in.w;
            for (int x = 0; x < in.w; ++x)
              dst[x] = aec::byte_to_unit(src[size_t(std::min(x0 + x, image.width - 1)) * 3 + size_t(k)]);
          }
      },
      [&](const aec::Tensor& out, const aec::TileCore& k) {
        for (int ch = 0; ch < out.c; ++ch)
          for (int row = 0; row < k.h; ++row)
            std::copy_n(out.channel(ch) + size_t(k.oy + row - k.ty) * out.w + (k.ox - k.tx), k.w,
                        y.channel(ch) + size_t(k.oy + row) * y.w + k.ox);
      });
  r.timings.network_ms = ms_since(t0);
  if (!report(1.0)) throw aec::Cancelled();
  const auto t_ent = std::chrono::steady_clock::now();
  aec::LatentCode code = aec::code_latent(model, y);
  y = aec::Tensor();
  r.timings.entropy_ms = ms_since(t_ent);
  r.channel_bits = std::move(code.channel_bits);
  r.hyper_bits = code.hyper_bits;
  r.latent = std::move(code.latent);
  r.quality = info.quality_code / 100.0;
  r.bytes = aec::write_stream(model, image.width, image.height, code.stream);
  r.timings.total_ms = ms_since(t0);
  return r;
}

aec::DecodeResult decode_bands(const aec::Model& model, const std::vector<uint8_t>& bytes,
                               const std::function<bool(double)>& report) {
  aec::Image image;
  aec::DecodeResult d = aec::decode_image_rows(
      model, bytes.data(), bytes.size(),
      [&](int w, int h, int y0, int rows, const uint8_t* rgb) {
        if (image.width == 0) image = aec::Image(w, h);
        std::copy_n(rgb, size_t(w) * rows * 3, image.rgb.data() + size_t(y0) * w * 3);
        if (!report(double(y0 + rows) / h)) throw aec::Cancelled();
      },
      page_limits());
  d.image = std::move(image);
  return d;
}

}  // namespace web
