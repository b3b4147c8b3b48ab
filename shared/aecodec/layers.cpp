#include "aecodec/layers.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "aecodec/error.h"
#include "aecodec/gemm.h"

namespace aec {

namespace {
// Output pixels per im2col tile: bounds the column buffer to in*k*k*kTile floats per thread.
constexpr int kTile = 512;
}  // namespace

Tensor conv2d(const Tensor& x, const float* weight, const float* bias, const ConvShape& s) {
  require(x.c == s.in, "conv2d: input has " + std::to_string(x.c) + " channels, layer expects " +
                           std::to_string(s.in));
  const int k = s.kernel;
  const int oh = (x.h + 2 * s.padding - k) / s.stride + 1, ow = (x.w + 2 * s.padding - k) / s.stride + 1;
  require(oh > 0 && ow > 0, "conv2d: input " + std::to_string(x.w) + "x" + std::to_string(x.h) +
                                " is smaller than the kernel");
  Tensor y(s.out, oh, ow);
  const int kdim = s.in * k * k, npix = oh * ow, tiles = (npix + kTile - 1) / kTile;
  parallel_for(tiles, [&](int t0, int t1) {
    std::vector<float> cols(size_t(kdim) * kTile);
    std::vector<float> out(size_t(s.out) * kTile);
    for (int t = t0; t < t1; ++t) {
      const int p0 = t * kTile, np = std::min(kTile, npix - p0);
      for (int ci = 0; ci < s.in; ++ci) {
        const float* src = x.channel(ci);
        for (int ky = 0; ky < k; ++ky)
          for (int kx = 0; kx < k; ++kx) {
            float* row = cols.data() + size_t((ci * k + ky) * k + kx) * np;
            for (int j = 0; j < np; ++j) {
              const int p = p0 + j, oy = p / ow, ox = p % ow;
              const int iy = oy * s.stride - s.padding + ky, ix = ox * s.stride - s.padding + kx;
              row[j] = (iy >= 0 && iy < x.h && ix >= 0 && ix < x.w) ? src[iy * x.w + ix] : 0.0f;
            }
          }
      }
      gemm(s.out, np, kdim, weight, kdim, cols.data(), np, out.data(), np, false);
      for (int co = 0; co < s.out; ++co) {
        const float b = bias ? bias[co] : 0.0f;
        float* dst = y.channel(co) + p0;
        const float* o = out.data() + size_t(co) * np;
        for (int j = 0; j < np; ++j) dst[j] = o[j] + b;
      }
    }
  });
  return y;
}

Tensor conv_transpose2d(const Tensor& x, const float* weight, const float* bias, const ConvShape& s) {
  require(x.c == s.in, "conv_transpose2d: input has " + std::to_string(x.c) + " channels, layer expects " +
                           std::to_string(s.in));
  const int k = s.kernel;
  const int oh = (x.h - 1) * s.stride - 2 * s.padding + k + s.output_padding;
  const int ow = (x.w - 1) * s.stride - 2 * s.padding + k + s.output_padding;
  require(oh > 0 && ow > 0, "conv_transpose2d: empty output");
  Tensor y(s.out, oh, ow);
  // Weights as A[(co,ky,kx) x ci] so that cols = A * x gives every tap's contribution; each thread owns a
  // block of output channels and scatters only into them, so no two threads write the same pixel.
  const int kk = k * k, rows = s.out * kk;
  std::vector<float> wt(size_t(rows) * s.in);
  for (int ci = 0; ci < s.in; ++ci)
    for (int co = 0; co < s.out; ++co)
      for (int t = 0; t < kk; ++t) wt[size_t(co * kk + t) * s.in + ci] = weight[(size_t(ci) * s.out + co) * kk + t];
  const int npix = x.h * x.w;
  const int co_block = 8, blocks = (s.out + co_block - 1) / co_block;
  parallel_for(blocks, [&](int b0, int b1) {
    std::vector<float> cols(size_t(co_block) * kk * std::min(npix, kTile));
    for (int blk = b0; blk < b1; ++blk) {
      const int c0 = blk * co_block, nc = std::min(co_block, s.out - c0);
      for (int co = c0; co < c0 + nc; ++co) std::fill_n(y.channel(co), y.plane(), bias ? bias[co] : 0.0f);
      for (int p0 = 0; p0 < npix; p0 += kTile) {
        const int np = std::min(kTile, npix - p0);
        gemm(nc * kk, np, s.in, wt.data() + size_t(c0) * kk * s.in, s.in, x.data.data() + p0, npix, cols.data(),
             np, false);
        for (int co = 0; co < nc; ++co) {
          float* dst = y.channel(c0 + co);
          for (int ky = 0; ky < k; ++ky)
            for (int kx = 0; kx < k; ++kx) {
              const float* row = cols.data() + size_t((co * k + ky) * k + kx) * np;
              for (int j = 0; j < np; ++j) {
                const int p = p0 + j, iy = p / x.w, ix = p % x.w;
                const int oy = iy * s.stride - s.padding + ky, ox = ix * s.stride - s.padding + kx;
                if (oy >= 0 && oy < oh && ox >= 0 && ox < ow) dst[oy * ow + ox] += row[j];
              }
            }
        }
      }
    }
  });
  return y;
}

void gdn(Tensor& x, const float* beta, const float* gamma, bool inverse) {
  const int c = x.c, npix = int(x.plane());
  const int tiles = (npix + kTile - 1) / kTile;
  parallel_for(tiles, [&](int t0, int t1) {
    std::vector<float> sq(size_t(c) * kTile), norm(size_t(c) * kTile);
    for (int t = t0; t < t1; ++t) {
      const int p0 = t * kTile, np = std::min(kTile, npix - p0);
      for (int i = 0; i < c; ++i) {
        const float* src = x.channel(i) + p0;
        for (int j = 0; j < np; ++j) sq[size_t(i) * np + j] = src[j] * src[j];
      }
      gemm(c, np, c, gamma, c, sq.data(), np, norm.data(), np, false);
      for (int i = 0; i < c; ++i) {
        float* dst = x.channel(i) + p0;
        const float* n = norm.data() + size_t(i) * np;
        for (int j = 0; j < np; ++j) {
          const float r = std::sqrt(n[j] + beta[i]);
          dst[j] = inverse ? dst[j] * r : dst[j] / r;
        }
      }
    }
  });
}

Tensor linear(const Tensor& x, const float* weight, const float* bias, int out) {
  const int in = int(x.size());
  Tensor y(out, 1, 1);
  parallel_for(out, [&](int o0, int o1) {
    for (int o = o0; o < o1; ++o) {
      const float* w = weight + size_t(o) * in;
      double acc = 0;  // long dot products of the fc model: keep the sum accurate
      for (int i = 0; i < in; ++i) acc += double(w[i]) * x.data[i];
      y.data[o] = float(acc) + (bias ? bias[o] : 0.0f);
    }
  });
  return y;
}

void relu(Tensor& x) {
  for (float& v : x.data) v = v > 0 ? v : 0;
}
void leaky_relu(Tensor& x, float slope) {
  for (float& v : x.data) v = v > 0 ? v : v * slope;
}
void sigmoid(Tensor& x) {
  for (float& v : x.data) v = 1.0f / (1.0f + std::exp(-v));
}
void tanh_inplace(Tensor& x) {
  for (float& v : x.data) v = std::tanh(v);
}

}  // namespace aec
