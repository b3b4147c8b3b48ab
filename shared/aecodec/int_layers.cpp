#include "aecodec/int_layers.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "aecodec/error.h"
#include "aecodec/parallel.h"

namespace aec {

namespace {

constexpr int64_t kSaturate = (int64_t(1) << 31) - 1;

int64_t out_size(int in, const ConvShape& s, bool transposed) {
  return transposed ? int64_t(in - 1) * s.stride - 2 * s.padding + s.kernel + s.output_padding
                    : (int64_t(in) + 2 * s.padding - s.kernel) / s.stride + 1;
}

// The input range [lo, hi) of a tap: positions i with 0 <= i * stride - padding + tap < n (transposed, i
// an input position and n the output size) or 0 <= o * stride - padding + tap < n (o an output position
// and n the input size). Either way: i * stride in [padding - tap, n + padding - tap).
void tap_range(int tap, int stride, int padding, int n, int limit, int& lo, int& hi) {
  const int a = padding - tap, b = n + padding - tap;  // i * stride in [a, b)
  lo = a <= 0 ? 0 : (a + stride - 1) / stride;
  hi = b <= 0 ? 0 : std::min(limit, (b + stride - 1) / stride);
}

}  // namespace

void IntConv::validate(const std::string& name) const {
  const ConvShape& s = shape;
  const std::string where = "integer layer '" + name + "': ";
  require(
      s.in >= 1 && s.out >= 1 && s.kernel >= 1 && s.stride >= 1 && s.padding >= 0 && s.output_padding >= 0,
      where + "bad shape");
  require(int64_t(s.in) * s.kernel * s.kernel <= kMaxIntFanIn,
          where + "fan-in " + std::to_string(int64_t(s.in) * s.kernel * s.kernel) + " over " +
              std::to_string(kMaxIntFanIn) + " (the int64 accumulator bound)");
  require(weight.size() == size_t(s.in) * s.out * s.kernel * s.kernel && bias.size() == size_t(s.out) &&
              shift.size() == size_t(s.out),
          where + "tensor sizes do not match the shape");
  for (int32_t v : weight)
    require(v >= -kMaxIntWeight && v <= kMaxIntWeight,
            where + "weight " + std::to_string(v) + " beyond +-" + std::to_string(kMaxIntWeight));
  for (int32_t v : shift)
    require(v >= 0 && v <= kMaxIntShift,
            where + "shift " + std::to_string(v) + " outside [0, " + std::to_string(kMaxIntShift) + "]");
}

IntTensor int_conv(const IntTensor& x, const IntConv& l) {
  const ConvShape& s = l.shape;
  require(x.c == s.in, "integer conv: input has " + std::to_string(x.c) + " channels, layer expects " +
                           std::to_string(s.in));
  const int64_t oh64 = out_size(x.h, s, l.transposed), ow64 = out_size(x.w, s, l.transposed);
  require(oh64 > 0 && ow64 > 0 && oh64 <= 65536 && ow64 <= 65536, "integer conv: bad output size");
  const int oh = int(oh64), ow = int(ow64), k = s.kernel;
  IntTensor y(s.out, oh, ow);
  // Each output channel is computed whole by one thread, always in the same order: the work split
  // cannot change a result (integer sums are exact anyway).
  parallel_for(s.out, [&](int c0, int c1) {
    std::vector<int64_t> acc(y.plane());
    for (int co = c0; co < c1; ++co) {
      std::fill(acc.begin(), acc.end(), int64_t(l.bias[size_t(co)]));
      for (int ci = 0; ci < s.in; ++ci) {
        const int32_t* src = x.channel(ci);
        for (int ky = 0; ky < k; ++ky)
          for (int kx = 0; kx < k; ++kx) {
            const int64_t wv = l.transposed ? l.weight[((size_t(ci) * s.out + co) * k + ky) * k + kx]
                                            : l.weight[((size_t(co) * s.in + ci) * k + ky) * k + kx];
            if (wv == 0) continue;
            int y0, y1, x0, x1;
            if (l.transposed) {
              // Scatter: input (iy, ix) adds to output (iy * stride - padding + ky, ix * stride - ...).
              tap_range(ky, s.stride, s.padding, oh, x.h, y0, y1);
              tap_range(kx, s.stride, s.padding, ow, x.w, x0, x1);
              for (int iy = y0; iy < y1; ++iy) {
                int64_t* dst = acc.data() + size_t(iy * s.stride - s.padding + ky) * ow;
                const int32_t* row = src + size_t(iy) * x.w;
                for (int ix = x0; ix < x1; ++ix) dst[ix * s.stride - s.padding + kx] += wv * row[ix];
              }
            } else {
              // Gather: output (oy, ox) reads input (oy * stride - padding + ky, ox * stride - ...).
              tap_range(ky, s.stride, s.padding, x.h, oh, y0, y1);
              tap_range(kx, s.stride, s.padding, x.w, ow, x0, x1);
              for (int oy = y0; oy < y1; ++oy) {
                int64_t* dst = acc.data() + size_t(oy) * ow;
                const int32_t* row = src + size_t(oy * s.stride - s.padding + ky) * x.w;
                for (int ox = x0; ox < x1; ++ox) dst[ox] += wv * row[ox * s.stride - s.padding + kx];
              }
            }
          }
      }
      const int sh = l.shift[size_t(co)];
      int32_t* out = y.channel(co);
      for (size_t i = 0; i < acc.size(); ++i) {
        int64_t v = rounding_shift(acc[i], sh);
        if (l.relu && v < 0) v = 0;
        out[i] = int32_t(std::clamp(v, -kSaturate, kSaturate));
      }
    }
  });
  return y;
}

IntConv quantize_conv(const float* weight, const float* bias, const ConvShape& s, bool transposed, bool relu,
                      int in_bits, int out_bits, int weight_bits) {
  require(weight_bits >= 2 && weight_bits <= 16, "quantize_conv: weight_bits outside [2, 16]");
  IntConv l;
  l.shape = s;
  l.transposed = transposed;
  l.relu = relu;
  const int kk = s.kernel * s.kernel;
  const size_t n = size_t(s.in) * s.out * kk;
  l.weight.resize(n);
  l.bias.resize(size_t(s.out));
  l.shift.resize(size_t(s.out));
  // Index of weight (o, i, t) in the layout.
  auto at = [&](int o, int i, int t) {
    return transposed ? (size_t(i) * s.out + o) * kk + t : (size_t(o) * s.in + i) * kk + t;
  };
  const double wmax = std::ldexp(1.0, weight_bits) - 1;
  for (int o = 0; o < s.out; ++o) {
    double m = 0;
    for (int i = 0; i < s.in; ++i)
      for (int t = 0; t < kk; ++t) m = std::max(m, std::fabs(double(weight[at(o, i, t)])));
    const double b = bias ? double(bias[o]) : 0.0;
    require(std::isfinite(m) && std::isfinite(b), "quantize_conv: non-finite weights");
    // The largest f with m * 2^f <= wmax and |b| * 2^(in_bits + f) <= 2^30, within the shift range.
    int f = kMaxIntShift + out_bits - in_bits;
    if (m > 0) f = std::min(f, int(std::floor(std::log2(wmax / m))));
    if (b != 0) f = std::min(f, int(std::floor(std::log2(std::ldexp(1.0, 30) / std::fabs(b)))) - in_bits);
    while (m * std::ldexp(1.0, f) > wmax || std::fabs(b) * std::ldexp(1.0, in_bits + f) > std::ldexp(1.0, 30))
      --f;  // guards log2's last-bit rounding
    const int shift = in_bits + f - out_bits;
    require(shift >= 0, "quantize_conv: output channel " + std::to_string(o) +
                            " has weights or bias too large for " + std::to_string(out_bits) +
                            " output fraction bits");
    l.shift[size_t(o)] = shift;
    for (int i = 0; i < s.in; ++i)
      for (int t = 0; t < kk; ++t)
        l.weight[at(o, i, t)] = int32_t(std::nearbyint(std::ldexp(double(weight[at(o, i, t)]), f)));
    l.bias[size_t(o)] = int32_t(std::nearbyint(std::ldexp(b, in_bits + f)));
  }
  l.validate("quantize_conv");
  return l;
}

}  // namespace aec
