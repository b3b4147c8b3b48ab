#include "aecodec/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "aecodec/error.h"

namespace aec {

namespace {

void check_pair(const Image& a, const Image& b, const char* what) {
  require(a.width > 0 && a.height > 0, std::string(what) + ": image has zero size");
  require(a.width == b.width && a.height == b.height,
          std::string(what) + ": images differ in size (" + std::to_string(a.width) + "x" +
              std::to_string(a.height) + " vs " + std::to_string(b.width) + "x" + std::to_string(b.height) +
              ")");
  const size_t n = size_t(a.width) * a.height * 3;
  require(a.rgb.size() == n && b.rgb.size() == n,
          std::string(what) + ": image buffer does not match its size");
}

// One channel of one scale, row-major, in [0,255] units.
struct Plane {
  int w = 0, h = 0;
  std::vector<double> v;
};

// 'Valid' separable convolution (no padding: output (h-n+1) x (w-n+1)), as pytorch_msssim's gaussian_filter.
Plane filter_valid(const Plane& p, const std::vector<double>& g) {
  const int n = int(g.size());
  const int ow = p.w - n + 1, oh = p.h - n + 1;
  std::vector<double> tmp(size_t(p.h) * ow);
  for (int y = 0; y < p.h; ++y) {
    const double* src = p.v.data() + size_t(y) * p.w;
    for (int x = 0; x < ow; ++x) {
      double s = 0;
      for (int i = 0; i < n; ++i) s += g[size_t(i)] * src[x + i];
      tmp[size_t(y) * ow + x] = s;
    }
  }
  Plane out{ow, oh, std::vector<double>(size_t(oh) * ow)};
  for (int y = 0; y < oh; ++y)
    for (int x = 0; x < ow; ++x) {
      double s = 0;
      for (int i = 0; i < n; ++i) s += g[size_t(i)] * tmp[size_t(y + i) * ow + x];
      out.v[size_t(y) * ow + x] = s;
    }
  return out;
}

Plane product(const Plane& a, const Plane& b) {
  Plane out{a.w, a.h, std::vector<double>(a.v.size())};
  for (size_t i = 0; i < a.v.size(); ++i) out.v[i] = a.v[i] * b.v[i];
  return out;
}

// F.avg_pool2d(kernel 2, stride 2, padding = size % 2 per dimension), as pytorch_msssim downsamples between
// scales. count_include_pad is PyTorch's default (true): on an odd dimension a zero row/column is added on
// each side, the first output row/column averages one zero with one real row/column (and always divides by
// 4), and the trailing pad is never reached. Output side: ceil(side / 2).
Plane avg_pool2(const Plane& p) {
  const int px = p.w % 2, py = p.h % 2;
  const int ow = (p.w + 2 * px - 2) / 2 + 1, oh = (p.h + 2 * py - 2) / 2 + 1;
  Plane out{ow, oh, std::vector<double>(size_t(oh) * ow)};
  auto at = [&](int y, int x) {
    return (x < 0 || y < 0 || x >= p.w || y >= p.h) ? 0.0 : p.v[size_t(y) * p.w + x];
  };
  for (int y = 0; y < oh; ++y)
    for (int x = 0; x < ow; ++x) {
      const int sy = 2 * y - py, sx = 2 * x - px;
      out.v[size_t(y) * ow + x] = (at(sy, sx) + at(sy, sx + 1) + at(sy + 1, sx) + at(sy + 1, sx + 1)) / 4.0;
    }
  return out;
}

struct SsimCs {
  double ssim, cs;
};

// Mean SSIM and mean contrast-structure term over the valid window positions (pytorch_msssim's _ssim).
SsimCs ssim_cs(const Plane& x, const Plane& y, const std::vector<double>& g) {
  constexpr double C1 = (0.01 * 255) * (0.01 * 255), C2 = (0.03 * 255) * (0.03 * 255);
  const Plane mx = filter_valid(x, g), my = filter_valid(y, g);
  const Plane exx = filter_valid(product(x, x), g), eyy = filter_valid(product(y, y), g),
              exy = filter_valid(product(x, y), g);
  double ssim = 0, cs = 0;
  for (size_t i = 0; i < mx.v.size(); ++i) {
    const double m1 = mx.v[i], m2 = my.v[i];
    const double s11 = exx.v[i] - m1 * m1, s22 = eyy.v[i] - m2 * m2, s12 = exy.v[i] - m1 * m2;
    const double c = (2 * s12 + C2) / (s11 + s22 + C2);
    cs += c;
    ssim += (2 * m1 * m2 + C1) / (m1 * m1 + m2 * m2 + C1) * c;
  }
  const double n = double(mx.v.size());
  return {ssim / n, cs / n};
}

}  // namespace

double mse(const Image& a, const Image& b) {
  check_pair(a, b, "mse");
  // Integer sum: exact for any image the limits allow (255^2 * 3 * 2^26 < 2^63).
  int64_t sum = 0;
  for (size_t i = 0; i < a.rgb.size(); ++i) {
    const int d = int(a.rgb[i]) - int(b.rgb[i]);
    sum += d * d;
  }
  return double(sum) / double(a.rgb.size());
}

double psnr(const Image& a, const Image& b) {
  const double m = mse(a, b);
  if (m == 0) return std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(255.0 * 255.0 / m);
}

// What is computed, exactly (matches pytorch_msssim.ms_ssim(X, Y, data_range=255) on images of >= 161 px):
//  - Scales L: the largest L in 1..5 with min(w, h) > 10 * 2^(L-1) (pytorch_msssim's own assertion for 5
//    scales is min side > 160; this generalises it so that the last scale is still >= 11 px after the
//    L-1 poolings). L is 1 for images whose shorter side is <= 20.
//  - Weights: the standard five (0.0448 0.2856 0.3001 0.2363 0.1333, used as is for L = 5: they sum to
//    1.0001, as in pytorch_msssim); for L < 5 the first L weights, divided by their sum so they sum to 1.
//  - Window: 11x11 Gaussian, sigma 1.5, normalised, 'valid' convolution. Only when the shorter side n < 11
//    (then L = 1) the window is n x n: the same sigma-1.5 Gaussian sampled at offsets i - (n-1)/2 (symmetric,
//    half-integer offsets for even n) and renormalised, so the valid area is 1 px along the shorter side.
//  - Per RGB channel on [0,255]: MS-SSIM_c = prod_{j<L} relu(cs_j)^w_j * relu(ssim_L)^w_L, where cs_j/ssim_j
//    are the means of the cs / ssim maps at scale j; K1 0.01, K2 0.03. Between scales: avg_pool2 above.
//  - The result is the mean of the three channel values. Everything is computed in double.
double ms_ssim(const Image& a, const Image& b) {
  check_pair(a, b, "ms_ssim");
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
    Plane x{a.width, a.height, std::vector<double>(size_t(a.width) * a.height)};
    Plane y = x;
    for (size_t i = 0; i < x.v.size(); ++i) {
      x.v[i] = a.rgb[i * 3 + k];
      y.v[i] = b.rgb[i * 3 + k];
    }
    double value = 1;
    for (int j = 0; j < levels; ++j) {
      const SsimCs s = ssim_cs(x, y, g);
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

}  // namespace aec
