#include "aecodec/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "aecodec/error.h"
#include "aecodec/parallel.h"

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

// One channel at one scale of the MS-SSIM pyramid. Floats hold it exactly: a scale-j value is a multiple of
// 4^-j up to 255 (j <= 4), 16 bits of mantissa at most.
struct Plane {
  int w = 0, h = 0;
  std::vector<float> v;
};

// F.avg_pool2d(kernel 2, stride 2, padding = size % 2 per dimension), as pytorch_msssim downsamples between
// scales. count_include_pad is PyTorch's default (true): on an odd dimension a zero row/column is added on
// each side, the first output row/column averages one zero with one real row/column (and always divides by
// 4), and the trailing pad is never reached. Output side: ceil(side / 2).
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

// Mean SSIM and mean contrast-structure term over the 'valid' window positions (pytorch_msssim's _ssim, its
// gaussian_filter a separable 'valid' convolution), band by band of output rows on the core's threads: memory
// is a band's, not five full-size maps (72 bytes a pixel, 3.6 GB for a 50 MP photo), and each map value adds
// the same terms in the same order whatever the bands; only the means sum bands, then rows.
SsimCs ssim_cs_banded(const Plane& x, const Plane& y, const std::vector<double>& g) {
  constexpr double C1 = (0.01 * 255) * (0.01 * 255), C2 = (0.03 * 255) * (0.03 * 255);
  const int n = int(g.size());
  const int ow = x.w - n + 1, oh = x.h - n + 1;
  constexpr int kBand = 32;
  const int bands = (oh + kBand - 1) / kBand;
  std::vector<double> ssim_sum(size_t(bands), 0.0), cs_sum(size_t(bands), 0.0);
  parallel_for(bands, [&](int b0, int b1) {
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
          s0[c] = a, s0[x.w + c] = d, s0[2 * x.w + c] = a * a, s0[3 * x.w + c] = d * d,
          s0[4 * x.w + c] = a * d;
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
//  - The result is the mean of the three channel values. Everything is computed in double (the pyramid's
//    planes are stored as float, which holds their values exactly: multiples of 4^-j up to 255).
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
    Plane x{a.width, a.height, std::vector<float>(size_t(a.width) * a.height)};
    Plane y{a.width, a.height, std::vector<float>(x.v.size())};
    for (size_t i = 0; i < x.v.size(); ++i)
      x.v[i] = a.rgb[i * 3 + size_t(k)], y.v[i] = b.rgb[i * 3 + size_t(k)];
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

}  // namespace aec
