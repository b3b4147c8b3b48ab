// Photos in the page: coding an image the core runs by tiles with a progress report (the core's own encode
// has one only for refinement), and MS-SSIM in bands of rows (the core's holds 72 bytes per pixel: 1.7 GB for
// a 24 Mpx photo, in a heap of at most 4 GiB).
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

// Pixels above which MS-SSIM is measured in bands.
constexpr int64_t kBandedPixels = 2'000'000;

// One channel at one scale of the MS-SSIM pyramid. Floats hold it exactly: a scale-j value is a multiple of
// 4^-j up to 255 (j <= 4), 16 bits of mantissa at most.
struct Plane {
  int w = 0, h = 0;
  std::vector<float> v;
};

// F.avg_pool2d(2, 2, padding = size % 2, count_include_pad) as the core's avg_pool2 (metrics.cpp).
Plane avg_pool2(const Plane& p) {
  const int px = p.w % 2, py = p.h % 2;
  const int ow = (p.w + 2 * px - 2) / 2 + 1, oh = (p.h + 2 * py - 2) / 2 + 1;
  Plane out{ow, oh, std::vector<float>(size_t(oh) * ow)};
  auto at = [&](int y, int x) -> double {
    return (x < 0 || y < 0 || x >= p.w || y >= p.h) ? 0.0 : double(p.v[size_t(y) * p.w + x]);
  };
  for (int y = 0; y < oh; ++y)
    for (int x = 0; x < ow; ++x) {
      const int sy = 2 * y - py, sx = 2 * x - px;
      out.v[size_t(y) * ow + x] =
          float((at(sy, sx) + at(sy, sx + 1) + at(sy + 1, sx) + at(sy + 1, sx + 1)) / 4.0);
    }
  return out;
}

struct SsimCs {
  double ssim, cs;
};

// The core's ssim_cs (means of the SSIM and contrast-structure maps over the 'valid' window positions),
// computed band by band: every map value is the core's, to the bit (the same products, and each window sum
// adds the same terms in the same order from zero; the loops run over columns innermost, which the compiler
// vectorises); only the means add the values in another order (bands, then rows).
SsimCs ssim_cs_banded(const Plane& x, const Plane& y, const std::vector<double>& g) {
  constexpr double C1 = (0.01 * 255) * (0.01 * 255), C2 = (0.03 * 255) * (0.03 * 255);
  const int n = int(g.size());
  const int ow = x.w - n + 1, oh = x.h - n + 1;
  constexpr int kBand = 32;
  const int bands = (oh + kBand - 1) / kBand;
  std::vector<double> ssim_sum(size_t(bands), 0.0), cs_sum(size_t(bands), 0.0);
  aec::parallel_for(bands, [&](int b0, int b1) {
    // src: one input row's 5 quantities (x, y, x*x, y*y, x*y); tmp: the horizontal pass over a band's input
    // rows; acc: the vertical pass of one output row.
    std::vector<double> src(size_t(5) * x.w), tmp, acc(size_t(5) * ow);
    for (int b = b0; b < b1; ++b) {
      const int r0 = b * kBand, r1 = std::min(oh, r0 + kBand), rows = r1 - r0 + n - 1;
      const size_t q = size_t(rows) * ow;  // one quantity's rows in tmp
      tmp.assign(5 * q, 0.0);
      for (int r = 0; r < rows; ++r) {
        const float* xs = x.v.data() + size_t(r0 + r) * x.w;
        const float* ys = y.v.data() + size_t(r0 + r) * y.w;
        double* s0 = src.data();
        for (int c = 0; c < x.w; ++c) {
          const double a = xs[c], d = ys[c];
          s0[c] = a, s0[x.w + c] = d, s0[2 * x.w + c] = a * a, s0[3 * x.w + c] = d * d, s0[4 * x.w + c] = a * d;
        }
        for (int k = 0; k < 5; ++k) {
          double* t = tmp.data() + size_t(k) * q + size_t(r) * ow;
          const double* sk = s0 + size_t(k) * x.w;
          for (int i = 0; i < n; ++i) {
            const double w = g[size_t(i)];
            const double* si = sk + i;
            for (int c = 0; c < ow; ++c) t[c] += w * si[c];
          }
        }
      }
      double ss = 0, cc = 0;
      for (int r = 0; r < r1 - r0; ++r) {
        std::fill(acc.begin(), acc.end(), 0.0);
        for (int k = 0; k < 5; ++k) {
          double* v = acc.data() + size_t(k) * ow;
          for (int i = 0; i < n; ++i) {
            const double w = g[size_t(i)];
            const double* t = tmp.data() + size_t(k) * q + size_t(r + i) * ow;
            for (int c = 0; c < ow; ++c) v[c] += w * t[c];
          }
        }
        const double *mx = acc.data(), *my = mx + ow, *exx = my + ow, *eyy = exx + ow, *exy = eyy + ow;
        for (int c = 0; c < ow; ++c) {
          const double m1 = mx[c], m2 = my[c];
          const double s11 = exx[c] - m1 * m1, s22 = eyy[c] - m2 * m2, s12 = exy[c] - m1 * m2;
          const double cs = (2 * s12 + C2) / (s11 + s22 + C2);
          cc += cs;
          ss += (2 * m1 * m2 + C1) / (m1 * m1 + m2 * m2 + C1) * cs;
        }
      }
      ssim_sum[size_t(b)] = ss, cs_sum[size_t(b)] = cc;
    }
  });
  double ss = 0, cc = 0;
  for (int b = 0; b < bands; ++b) ss += ssim_sum[size_t(b)], cc += cs_sum[size_t(b)];
  const double count = double(ow) * oh;
  return {ss / count, cc / count};
}

}  // namespace

double ms_ssim_banded(const aec::Image& a, const aec::Image& b) {
  aec::require(a.width > 0 && a.height > 0 && a.width == b.width && a.height == b.height &&
                   a.rgb.size() == size_t(a.width) * a.height * 3 && b.rgb.size() == a.rgb.size(),
               "ms_ssim: images differ in size");
  // As aec::ms_ssim (metrics.cpp): the scales, weights and window.
  static const double kWeights[5] = {0.0448, 0.2856, 0.3001, 0.2363, 0.1333};
  const int min_side = std::min(a.width, a.height);
  int levels = 1;
  while (levels < 5 && min_side > (10 << levels)) ++levels;
  double weights[5];
  double wsum = 0;
  for (int j = 0; j < levels; ++j) wsum += kWeights[j];
  for (int j = 0; j < levels; ++j) weights[j] = levels == 5 ? kWeights[j] : kWeights[j] / wsum;
  const int n = std::min(11, min_side);
  std::vector<double> g(static_cast<size_t>(n));
  double gsum = 0;
  for (int i = 0; i < n; ++i) {
    const double d = i - (n - 1) / 2.0;
    g[size_t(i)] = std::exp(-d * d / (2 * 1.5 * 1.5));
    gsum += g[size_t(i)];
  }
  for (double& v : g) v /= gsum;

  double total = 0;
  for (int k = 0; k < 3; ++k) {
    Plane x{a.width, a.height, std::vector<float>(size_t(a.width) * a.height)};
    Plane y{a.width, a.height, std::vector<float>(x.v.size())};
    for (size_t i = 0; i < x.v.size(); ++i) x.v[i] = a.rgb[i * 3 + size_t(k)], y.v[i] = b.rgb[i * 3 + size_t(k)];
    double value = 1;
    for (int j = 0; j < levels; ++j) {
      const SsimCs s = ssim_cs_banded(x, y, g);
      if (j < levels - 1) {
        value *= std::pow(std::max(s.cs, 0.0), weights[j]);
        x = avg_pool2(x);
        y = avg_pool2(y);
      } else {
        value *= std::pow(std::max(s.ssim, 0.0), weights[j]);
      }
    }
    total += value;
  }
  return total / 3.0;
}

void measure(const aec::Image& a, const aec::Image& b, double& psnr, double& ms_ssim) {
  psnr = aec::psnr(a, b);
  ms_ssim = int64_t(a.width) * a.height > kBandedPixels ? ms_ssim_banded(a, b) : aec::ms_ssim(a, b);
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
  const int tile = aec::tile_options().tile, tile_out = std::max(1, tile / down);
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
