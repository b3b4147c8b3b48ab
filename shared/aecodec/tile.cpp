#include "aecodec/tile.h"

#include <algorithm>
#include <cmath>
#include <mutex>
#include <vector>

#include "aecodec/error.h"
#include "aecodec/pool.h"

namespace aec {

namespace {

std::mutex options_mutex;
TileOptions current_options;

// One tile along one axis: the output positions [core0, core1) it is responsible for, the input positions
// [in0, in1) it reads, and the whole output's position of the tile output's first element.
struct Span {
  int core0, core1, in0, in1, origin;
};

// Cuts an axis of n_out output positions (read from n_in input positions) into tiles of `tile` outputs.
std::vector<Span> plan_axis(const Network& net, int n_in, int n_out, int down, int up, int tile) {
  // Core boundaries at multiples of `up` fall on input positions; input origins at multiples of `down` keep
  // every layer's sampling grid the whole image's.
  const int step = std::max(up, (tile + up - 1) / up * up);
  std::vector<Span> spans;
  for (int a = 0; a < n_out; a += step) {
    const int b = std::min(n_out, a + step);
    int64_t lo = a, hi = b - 1;
    require(net.input_range(lo, hi), "tiling: the network mixes positions");
    lo = std::max<int64_t>(lo, 0) / down * down;
    hi = std::min<int64_t>(hi, n_in - 1);
    const int64_t in1 = std::min<int64_t>(n_in, (hi + 1 + down - 1) / down * down);
    spans.push_back({a, b, int(lo), int(in1), int(lo / down * up)});
  }
  // Every tile reads a window of the same length (the border tiles' reach further in), so every tile's
  // layers ask the pool (pool.h) for buffers of the same sizes: reused tile after tile, instead of the
  // pool filling up with buffers of the border tiles' odd sizes.
  int len = 0;
  for (const Span& s : spans) len = std::max(len, s.in1 - s.in0);
  len = std::min(n_in, (len + down - 1) / down * down);
  for (Span& s : spans) {
    s.in0 = std::max(0, std::min(s.in0, (n_in - len) / down * down));
    s.in1 = std::min(n_in, s.in0 + len);
    s.origin = s.in0 / down * up;
  }
  return spans;
}

}  // namespace

TileOptions tile_options() {
  std::lock_guard<std::mutex> lock(options_mutex);
  return current_options;
}

void set_tile_options(const TileOptions& options) {
  require(options.tile >= 1 && options.min_pixels >= 0, "tile options: tile must be positive");
  std::lock_guard<std::mutex> lock(options_mutex);
  current_options = options;
}

bool use_tiles(const Model& model, int width, int height, const TileOptions& options) {
  if (int64_t(width) * height <= options.min_pixels || model.info().fixed_width) return false;
  int down, up;
  return model.encoder().strides(down, up) && model.decoder().strides(down, up);
}

void run_tiled(const Network& net, int c_in, int h_in, int w_in, int tile_out, int limit_h, int limit_w,
               const std::function<void(Tensor& in, int x0, int y0)>& fetch,
               const std::function<void(const Tensor& out, const TileCore& core)>& emit,
               const std::function<void(int y0, int rows)>& row_done) {
  int down = 1, up = 1;
  require(net.strides(down, up), "tiling: the network mixes positions (linear or reshape layers)");
  int c_out = c_in, h_out = h_in, w_out = w_in;
  net.output_shape(c_out, h_out, w_out);
  if (limit_h > 0) h_out = std::min(h_out, limit_h);
  if (limit_w > 0) w_out = std::min(w_out, limit_w);
  const std::vector<Span> rows = plan_axis(net, h_in, h_out, down, up, tile_out);
  const std::vector<Span> cols = plan_axis(net, w_in, w_out, down, up, tile_out);
  for (const Span& r : rows) {
    for (const Span& c : cols) {
      Tensor in;
      in.c = c_in, in.h = r.in1 - r.in0, in.w = c.in1 - c.in0;
      in.data = pool_take(size_t(in.c) * in.h * in.w);
      fetch(in, c.in0, r.in0);
      Tensor out = net.forward(in);
      pool_give(std::move(in.data));
      // The plan guarantees this; a layer list the range arithmetic misjudged must not read out of bounds.
      require(out.h >= r.core1 - r.origin && out.w >= c.core1 - c.origin,
              "tiling: a tile's output does not cover its core");
      emit(out, TileCore{c.core0, r.core0, c.core1 - c.core0, r.core1 - r.core0, c.origin, r.origin});
      pool_give(std::move(out.data));
    }
    if (row_done) row_done(r.core0, r.core1 - r.core0);
  }
}

void run_tiled(const Network& net, int c_in, int h_in, int w_in, int tile_out,
               const std::function<void(Tensor& in, int x0, int y0)>& fetch,
               const std::function<void(const Tensor& out, const TileCore& core)>& emit,
               const std::function<void(int y0, int rows)>& row_done) {
  run_tiled(net, c_in, h_in, w_in, tile_out, 0, 0, fetch, emit, row_done);
}

namespace {

// Copies a tile output's core into the whole output tensor.
void copy_core(const Tensor& out, const TileCore& k, Tensor& dst) {
  for (int ch = 0; ch < out.c; ++ch)
    for (int y = 0; y < k.h; ++y) {
      const float* src = out.channel(ch) + size_t(k.oy + y - k.ty) * out.w + (k.ox - k.tx);
      std::copy_n(src, k.w, dst.channel(ch) + size_t(k.oy + y) * dst.w + k.ox);
    }
}

}  // namespace

int tile_side(const Network& net, int c_in, int tile) {
  int down = 1, up = 1;
  if (!net.strides(down, up)) return tile;
  // A probe input whose output is 16 positions of the coarser side: the image side is the larger of the two.
  const int n_in = 16 * down;
  int c = c_in, h = n_in, w = n_in;
  net.output_shape(c, h, w);
  const double image_side = std::max(n_in, h);
  const double per_pixel = net.peak_floats(c_in, n_in, n_in) / (image_side * image_side);
  constexpr double kTunedFloatsPerPixel = 16;  // 64 channels at half resolution
  if (per_pixel <= kTunedFloatsPerPixel) return tile;
  const int step = std::max(down, up);
  const int side = int(tile * std::sqrt(kTunedFloatsPerPixel / per_pixel)) / step * step;
  return std::max(step, side);
}

Tensor analysis_tiled(const Model& model, const Image& image, int tile,
                      const std::function<bool(double)>& progress) {
  const ModelInfo& info = model.info();
  require(image.width > 0 && image.height > 0 && image.rgb.size() == size_t(image.width) * image.height * 3,
          "analysis_tiled: bad image");
  const int pw = (image.width + info.stride - 1) / info.stride * info.stride;
  const int ph = (image.height + info.stride - 1) / info.stride * info.stride;
  const Network& net = model.encoder();
  int c = 3, h = ph, w = pw, down, up;
  net.output_shape(c, h, w);
  require(net.strides(down, up), "analysis_tiled: the encoder cannot be tiled");
  Tensor y(c, h, w);
  const int tile_out = std::max(1, tile_side(net, 3, tile) / down);
  const double tiles = double((h + tile_out - 1) / tile_out) * double((w + tile_out - 1) / tile_out);
  int done = 0;
  const auto report = [&](double fraction) {
    if (progress && !progress(fraction)) throw Cancelled();
  };
  run_tiled(
      net, 3, ph, pw, tile_out,
      [&](Tensor& in, int x0, int y0) {
        report(done++ / tiles);
        // The image padded to the stride by replicating its last row and column, as pad_edge does.
        for (int k = 0; k < 3; ++k)
          for (int r = 0; r < in.h; ++r) {
            const uint8_t* src =
                image.rgb.data() + size_t(std::min(y0 + r, image.height - 1)) * image.width * 3;
            float* dst = in.channel(k) + size_t(r) * in.w;
            for (int x = 0; x < in.w; ++x)
              dst[x] = byte_to_unit(src[size_t(std::min(x0 + x, image.width - 1)) * 3 + size_t(k)]);
          }
      },
      [&](const Tensor& out, const TileCore& k) { copy_core(out, k, y); });
  report(1.0);
  return y;
}

void synthesis_tiled(const Network& decoder, const Tensor& latent, int out_w, int out_h, int tile,
                     const RowSink& sink) {
  require(out_w > 0 && out_h > 0, "synthesis_tiled: empty output");
  std::vector<uint8_t> band;
  int c = latent.c, h = latent.h, w = latent.w;
  decoder.output_shape(c, h, w);
  require(c == 3 && h >= out_h && w >= out_w, "decoder output is smaller than the image");
  run_tiled(
      decoder, latent.c, latent.h, latent.w, tile_side(decoder, latent.c, tile), out_h, out_w,
      [&](Tensor& in, int x0, int y0) {
        for (int ch = 0; ch < in.c; ++ch)
          for (int r = 0; r < in.h; ++r)
            std::copy_n(latent.channel(ch) + size_t(y0 + r) * latent.w + x0, in.w,
                        in.channel(ch) + size_t(r) * in.w);
      },
      [&](const Tensor& out, const TileCore& k) {
        band.resize(std::max(band.size(), size_t(out_w) * k.h * 3));
        for (int y = 0; y < k.h; ++y) {
          uint8_t* dst = band.data() + (size_t(y) * out_w + k.ox) * 3;
          for (int ch = 0; ch < 3; ++ch) {
            const float* src = out.channel(ch) + size_t(k.oy + y - k.ty) * out.w + (k.ox - k.tx);
            for (int x = 0; x < k.w; ++x) dst[size_t(x) * 3 + size_t(ch)] = unit_to_byte(src[x]);
          }
        }
      },
      [&](int y0, int rows) { sink(out_w, out_h, y0, rows, band.data()); });
}

Tensor forward_tiled(const Network& net, const Tensor& x, int tile) {
  int c = x.c, h = x.h, w = x.w, down, up;
  net.output_shape(c, h, w);
  if (!net.strides(down, up)) return net.forward(x);
  Tensor y(c, h, w);
  run_tiled(
      net, x.c, x.h, x.w, tile,
      [&](Tensor& in, int x0, int y0) {
        for (int ch = 0; ch < in.c; ++ch)
          for (int r = 0; r < in.h; ++r)
            std::copy_n(x.channel(ch) + size_t(y0 + r) * x.w + x0, in.w, in.channel(ch) + size_t(r) * in.w);
      },
      [&](const Tensor& out, const TileCore& k) { copy_core(out, k, y); });
  return y;
}

}  // namespace aec
