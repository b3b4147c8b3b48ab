// Layers against independently computed values: naive textbook loops, hand-computed numbers and the
// adjoint identity between convolution and transposed convolution.
#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "aecodec/layers.h"

using namespace aec;

namespace {

Tensor random_tensor(int c, int h, int w, std::mt19937& rng) {
  std::normal_distribution<float> d(0, 1);
  Tensor t(c, h, w);
  for (float& v : t.data) v = d(rng);
  return t;
}

std::vector<float> random_vec(size_t n, std::mt19937& rng) {
  std::normal_distribution<float> d(0, 0.3f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

Tensor naive_conv(const Tensor& x, const std::vector<float>& w, const std::vector<float>& b, const ConvShape& s) {
  const int k = s.kernel, oh = (x.h + 2 * s.padding - k) / s.stride + 1, ow = (x.w + 2 * s.padding - k) / s.stride + 1;
  Tensor y(s.out, oh, ow);
  for (int o = 0; o < s.out; ++o)
    for (int oy = 0; oy < oh; ++oy)
      for (int ox = 0; ox < ow; ++ox) {
        double acc = b[size_t(o)];
        for (int i = 0; i < s.in; ++i)
          for (int ky = 0; ky < k; ++ky)
            for (int kx = 0; kx < k; ++kx) {
              const int iy = oy * s.stride - s.padding + ky, ix = ox * s.stride - s.padding + kx;
              if (iy >= 0 && iy < x.h && ix >= 0 && ix < x.w)
                acc += double(w[((size_t(o) * s.in + i) * k + ky) * k + kx]) * x.at(i, iy, ix);
            }
        y.at(o, oy, ox) = float(acc);
      }
  return y;
}

Tensor naive_conv_t(const Tensor& x, const std::vector<float>& w, const std::vector<float>& b, const ConvShape& s) {
  const int k = s.kernel;
  const int oh = (x.h - 1) * s.stride - 2 * s.padding + k + s.output_padding;
  const int ow = (x.w - 1) * s.stride - 2 * s.padding + k + s.output_padding;
  Tensor y(s.out, oh, ow);
  for (int o = 0; o < s.out; ++o) std::fill_n(y.channel(o), y.plane(), b[size_t(o)]);
  for (int i = 0; i < s.in; ++i)
    for (int iy = 0; iy < x.h; ++iy)
      for (int ix = 0; ix < x.w; ++ix)
        for (int o = 0; o < s.out; ++o)
          for (int ky = 0; ky < k; ++ky)
            for (int kx = 0; kx < k; ++kx) {
              const int oy = iy * s.stride - s.padding + ky, ox = ix * s.stride - s.padding + kx;
              if (oy >= 0 && oy < oh && ox >= 0 && ox < ow)
                y.at(o, oy, ox) += w[((size_t(i) * s.out + o) * k + ky) * k + kx] * x.at(i, iy, ix);
            }
  return y;
}

float max_abs_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.c == b.c);
  REQUIRE(a.h == b.h);
  REQUIRE(a.w == b.w);
  float m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a.data[i] - b.data[i]));
  return m;
}

}  // namespace

TEST_CASE("conv2d matches a hand-computed 3x3 example") {
  Tensor x(1, 3, 3);
  for (int i = 0; i < 9; ++i) x.data[size_t(i)] = float(i + 1);  // 1..9
  const float w[4] = {1, 0, 0, -1}, b[1] = {0.5f};
  ConvShape s{1, 1, 2, 1, 0, 0};
  const Tensor y = conv2d(x, w, b, s);
  REQUIRE(y.h == 2);
  REQUIRE(y.w == 2);
  for (float v : y.data) CHECK(v == Approx(1 - 5 + 0.5));  // x[i] - x[i+4] is always -4
  ConvShape padded{1, 1, 3, 2, 1, 0};
  std::vector<float> ones(9, 1.0f), zero(1, 0.0f);
  const Tensor z = conv2d(x, ones.data(), zero.data(), padded);  // sums of 3x3 windows at stride 2, zero padded
  REQUIRE(z.h == 2);
  CHECK(z.at(0, 0, 0) == Approx(1 + 2 + 4 + 5));
  CHECK(z.at(0, 0, 1) == Approx(2 + 3 + 5 + 6));
  CHECK(z.at(0, 1, 1) == Approx(5 + 6 + 8 + 9));
}

TEST_CASE("conv2d and conv_transpose2d match naive loops on random shapes, any thread count") {
  std::mt19937 rng(42);
  for (int trial = 0; trial < 12; ++trial) {
    ConvShape s;
    s.in = 1 + int(rng() % 9), s.out = 1 + int(rng() % 11), s.kernel = 1 + int(rng() % 5);
    s.stride = 1 + int(rng() % 2), s.padding = int(rng() % (s.kernel));
    s.output_padding = s.stride > 1 ? int(rng() % 2) : 0;
    const int h = s.kernel + int(rng() % 30), w = s.kernel + int(rng() % 40);
    const Tensor x = random_tensor(s.in, h, w, rng);
    const auto wc = random_vec(size_t(s.out) * s.in * s.kernel * s.kernel, rng);
    const auto bc = random_vec(size_t(s.out), rng);
    const auto wt = random_vec(size_t(s.in) * s.out * s.kernel * s.kernel, rng);
    for (int threads : {1, 2, 3}) {
      set_num_threads(threads);
      CHECK(max_abs_diff(conv2d(x, wc.data(), bc.data(), s), naive_conv(x, wc, bc, s)) < 1e-4f);
      CHECK(max_abs_diff(conv_transpose2d(x, wt.data(), bc.data(), s), naive_conv_t(x, wt, bc, s)) < 1e-4f);
    }
  }
  set_num_threads(0);
}

TEST_CASE("conv_transpose2d is the adjoint of conv2d") {
  // <conv(x), y> == <x, conv_t(y)> with the same weights and no bias (output_padding chosen to fit x's size).
  std::mt19937 rng(7);
  ConvShape s{4, 6, 5, 2, 2, 1};
  const Tensor x = random_tensor(4, 16, 12, rng);
  const auto w = random_vec(6 * 4 * 25, rng);
  const Tensor cx = conv2d(x, w.data(), nullptr, s);
  const Tensor y = random_tensor(6, cx.h, cx.w, rng);
  ConvShape st{6, 4, 5, 2, 2, 1};
  // conv2d weight [out=6, in=4, k, k] read as conv_transpose2d weight [in=6, out=4, k, k]: the same array.
  const Tensor ty = conv_transpose2d(y, w.data(), nullptr, st);
  REQUIRE(ty.h == x.h);
  REQUIRE(ty.w == x.w);
  double lhs = 0, rhs = 0;
  for (size_t i = 0; i < cx.size(); ++i) lhs += double(cx.data[i]) * y.data[i];
  for (size_t i = 0; i < x.size(); ++i) rhs += double(x.data[i]) * ty.data[i];
  CHECK(lhs == Approx(rhs).epsilon(1e-4));
}

TEST_CASE("GDN and inverse GDN match hand-computed values and invert each other for diagonal gamma") {
  Tensor x(2, 1, 2);
  x.data = {3.0f, -1.0f, 4.0f, 2.0f};  // channel 0: 3, -1 ; channel 1: 4, 2
  const float beta[2] = {1.0f, 0.5f};
  const float gamma[4] = {0.1f, 0.2f, 0.3f, 0.4f};  // gamma[i][j]
  Tensor y = x;
  gdn(y, beta, gamma, false);
  CHECK(y.at(0, 0, 0) == Approx(3.0 / std::sqrt(1.0 + 0.1 * 9 + 0.2 * 16)));
  CHECK(y.at(1, 0, 1) == Approx(2.0 / std::sqrt(0.5 + 0.3 * 1 + 0.4 * 4)));
  Tensor z = x;
  gdn(z, beta, gamma, true);
  CHECK(z.at(0, 0, 1) == Approx(-1.0 * std::sqrt(1.0 + 0.1 * 1 + 0.2 * 4)));
  const float diag[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  Tensor d = x;
  gdn(d, beta, diag, false);
  gdn(d, beta, diag, true);
  for (size_t i = 0; i < x.size(); ++i) CHECK(d.data[i] == Approx(x.data[i]));
}

TEST_CASE("linear flattens in CHW order and activations are elementwise") {
  Tensor x(2, 1, 2);
  x.data = {1, 2, 3, 4};
  const float w[8] = {1, 0, 0, 0, 0, 1, 1, 1}, b[2] = {0.5f, -1.0f};
  const Tensor y = linear(x, w, b, 2);
  REQUIRE(y.c == 2);
  CHECK(y.data[0] == Approx(1.5));
  CHECK(y.data[1] == Approx(2 + 3 + 4 - 1));
  Tensor a(1, 1, 3);
  a.data = {-2.0f, 0.0f, 3.0f};
  Tensor r = a, l = a, s = a, t = a;
  relu(r);
  leaky_relu(l, 0.1f);
  sigmoid(s);
  tanh_inplace(t);
  CHECK(r.data == std::vector<float>{0.0f, 0.0f, 3.0f});
  CHECK(l.data[0] == Approx(-0.2));
  CHECK(s.data[1] == Approx(0.5));
  CHECK(s.data[2] == Approx(1.0 / (1.0 + std::exp(-3.0))));
  CHECK(t.data[0] == Approx(std::tanh(-2.0)));
}
