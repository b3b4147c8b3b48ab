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

// The taps of every output coordinate along one axis, as (kernel index, input index) pairs, only those that
// land inside the input: conv reads input o * stride - padding + t; a transposed conv's output o receives
// input i from tap t when i * stride - padding + t = o. Stored as offsets into flat arrays.
struct Taps {
  std::vector<int> begin, kernel, input;  // taps of output o: [begin[o], begin[o + 1])
  Taps(int out, int in, const ConvShape& s, bool transposed) {
    for (int o = 0; o < out; ++o) {
      begin.push_back(int(kernel.size()));
      for (int t = 0; t < s.kernel; ++t) {
        int i = o * s.stride - s.padding + t;
        if (transposed) {
          const int n = o + s.padding - t;
          if (n < 0 || n % s.stride) continue;
          i = n / s.stride;
        }
        if (i < 0 || i >= in) continue;
        kernel.push_back(t);
        input.push_back(i);
      }
    }
    begin.push_back(int(kernel.size()));
  }
};

constexpr int kBlock = 4;  // output channels computed together: one input load feeds four accumulators

// a_c += sum over the n non-zero inputs (channel ch[i], value x[i]) of w[4 ch[i] + c] * x[i], for c < 4: the
// loop every output runs. A function of its own, with local sums, so that the compiler keeps the four sums in
// registers (in the caller's lambda they were spilled to the stack).
void dot4(const int32_t* ch, const int32_t* x, int n, const int32_t* w, int64_t& a0, int64_t& a1, int64_t& a2,
          int64_t& a3) {
  int64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (int i = 0; i < n; ++i) {
    const int64_t v = x[i];
    const int32_t* wc = w + size_t(ch[i]) * kBlock;
    s0 += wc[0] * v, s1 += wc[1] * v, s2 += wc[2] * v, s3 += wc[3] * v;
  }
  a0 += s0, a1 += s1, a2 += s2, a3 += s3;
}

int32_t finish(int64_t acc, int shift, bool relu) {
  int64_t v = rounding_shift(acc, shift);
  if (relu && v < 0) v = 0;
  return int32_t(std::clamp(v, -kSaturate, kSaturate));
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
  // (messages built only on failure: a model has about a million weights)
  for (int32_t v : weight)
    if (v < -kMaxIntWeight || v > kMaxIntWeight)
      throw Error(where + "weight " + std::to_string(v) + " beyond +-" + std::to_string(kMaxIntWeight));
  for (int32_t v : shift)
    if (v < 0 || v > kMaxIntShift)
      throw Error(where + "shift " + std::to_string(v) + " outside [0, " + std::to_string(kMaxIntShift) +
                  "]");
}

IntTensor int_conv(const IntTensor& x, const IntConv& l) {
  const ConvShape& s = l.shape;
  require(x.c == s.in, "integer conv: input has " + std::to_string(x.c) + " channels, layer expects " +
                           std::to_string(s.in));
  const int64_t oh64 = out_size(x.h, s, l.transposed), ow64 = out_size(x.w, s, l.transposed);
  require(oh64 > 0 && ow64 > 0 && oh64 <= 65536 && ow64 <= 65536, "integer conv: bad output size");
  const int oh = int(oh64), ow = int(ow64), k = s.kernel, in = s.in;
  const Taps ty(oh, x.h, s, l.transposed), tx(ow, x.w, s, l.transposed);
  // Gather form for both kinds: every output pixel sums weight * input over its taps and input channels. Each
  // input pixel's channels are listed once as (channel, value) pairs, zeros left out: after a ReLU most
  // inputs are zero, and an exact integer sum does not depend on which zero terms it skips. The weights are
  // laid out as [channel block][ky][kx][in][4] (zero past the last output channel).
  const size_t plane = x.plane();
  std::vector<int32_t> nz_begin(plane + 1), nz_ch, nz_val;
  for (size_t i = 0; i < plane; ++i) {
    nz_begin[i] = int32_t(nz_ch.size());
    for (int ci = 0; ci < in; ++ci)
      if (const int32_t v = x.data[size_t(ci) * plane + i]) nz_ch.push_back(ci), nz_val.push_back(v);
  }
  nz_begin[plane] = int32_t(nz_ch.size());
  const int blocks = (s.out + kBlock - 1) / kBlock;
  std::vector<int32_t> wp(size_t(blocks) * k * k * in * kBlock, 0);
  for (int co = 0; co < s.out; ++co)
    for (int ci = 0; ci < in; ++ci)
      for (int t = 0; t < k * k; ++t)
        wp[((size_t(co / kBlock) * k * k + t) * in + ci) * kBlock + co % kBlock] =
            l.transposed ? l.weight[(size_t(ci) * s.out + co) * k * k + t]
                         : l.weight[(size_t(co) * in + ci) * k * k + t];

  IntTensor y(s.out, oh, ow);
  // Threads take (channel block, output row) pairs; each output is computed whole by one thread, so the work
  // split cannot change a result (integer sums are exact anyway).
  parallel_for(blocks * oh, [&](int j0, int j1) {
    for (int j = j0; j < j1; ++j) {
      const int b = j / oh, oy = j % oh, c0 = b * kBlock, nc = std::min(kBlock, s.out - c0);
      for (int ox = 0; ox < ow; ++ox) {
        int64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        for (int u = ty.begin[oy]; u < ty.begin[oy + 1]; ++u)
          for (int v = tx.begin[ox]; v < tx.begin[ox + 1]; ++v) {
            const size_t p = size_t(ty.input[u]) * x.w + tx.input[v];
            const int32_t* w =
                wp.data() + ((size_t(b) * k * k + size_t(ty.kernel[u]) * k + tx.kernel[v]) * in) * kBlock;
            dot4(nz_ch.data() + nz_begin[p], nz_val.data() + nz_begin[p], nz_begin[p + 1] - nz_begin[p], w,
                 a0, a1, a2, a3);
          }
        const int64_t a[kBlock] = {a0, a1, a2, a3};
        for (int c = 0; c < nc; ++c)
          y.channel(c0 + c)[size_t(oy) * ow + ox] =
              finish(a[c] + l.bias[size_t(c0 + c)], l.shift[size_t(c0 + c)], l.relu);
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
