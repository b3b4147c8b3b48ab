// The fast GEMM path (packed weights, gathered B, per-ISA micro-kernels, sub-pixel transposed conv, fused GDN
// epilogue) against the reference path (im2col + plain blocked GEMM, scatter transposed conv), for every
// micro-kernel this CPU can run.
//
// Tolerance: max |fast - reference| <= 1e-5 * max(1, max |reference|). Both paths sum the same products in
// float, in a different order (and the fast one with FMA); for the dot products here (up to 3200 terms of
// unit-scale outputs) the observed difference is a few 1e-6. GDN's fast epilogue uses a reciprocal square
// root estimate refined by one Newton step (~1 ulp), well inside the same bound.
#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "aecodec/gemm.h"
#include "aecodec/layers.h"

using namespace aec;

namespace {

constexpr float kTolerance = 1e-5f;

Tensor random_tensor(int c, int h, int w, std::mt19937& rng) {
  std::normal_distribution<float> d(0, 1);
  Tensor t(c, h, w);
  for (float& v : t.data) v = d(rng);
  return t;
}

// Weights scaled like a trained layer's (unit-variance outputs), so the tolerance is relative to O(1) values.
std::vector<float> random_weights(size_t n, int fan_in, std::mt19937& rng) {
  std::normal_distribution<float> d(0, 1.0f / std::sqrt(float(std::max(1, fan_in))));
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// max |a - b| relative to max(1, max |b|); shapes must agree.
float rel_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.c == b.c);
  REQUIRE(a.h == b.h);
  REQUIRE(a.w == b.w);
  float diff = 0, peak = 1;
  for (size_t i = 0; i < a.size(); ++i) {
    const float d = std::abs(a.data[i] - b.data[i]);
    diff = d > diff || std::isnan(d) ? d : diff;
    peak = std::max(peak, std::abs(b.data[i]));
  }
  return diff / peak;
}

// The micro-kernels to run: each distinct one this CPU has (set_gemm_isa falls back to the best for the
// rest).
std::vector<GemmIsa> kernels() {
  std::vector<GemmIsa> out;
  std::vector<std::string> seen;
  for (GemmIsa isa : {GemmIsa::kVec128, GemmIsa::kAvx2, GemmIsa::kAvx512}) {
    set_gemm_isa(isa);
    const std::string name = gemm_isa_name();
    if (std::find(seen.begin(), seen.end(), name) == seen.end()) seen.push_back(name), out.push_back(isa);
  }
  set_gemm_isa(GemmIsa::kAuto);
  return out;
}

struct Case {
  ConvShape s;
  int h, w;
};

// The model's layer shapes on small images (several K blocks, many A panels, an RGB layer with one short A
// panel, a 3-channel input), plus odd ones: short last A panels, rows narrower than a column panel or not a
// multiple of it (panels straddling rows), strides 1 to 3, kernels of 1 to 7 (a stride-2 kernel-1 transposed
// conv has output phases no tap reaches), padding and output padding.
std::vector<Case> cases() {
  return {
      {{3, 128, 5, 2, 2, 1}, 34, 70}, {{128, 128, 5, 2, 2, 1}, 20, 36}, {{128, 192, 5, 2, 2, 1}, 8, 12},
      {{192, 128, 5, 2, 2, 1}, 6, 9}, {{128, 3, 5, 2, 2, 1}, 17, 40},   {{13, 21, 3, 1, 1, 0}, 11, 67},
      {{5, 9, 1, 2, 0, 1}, 7, 9},     {{7, 17, 7, 3, 3, 2}, 19, 23},    {{1, 1, 2, 1, 0, 0}, 3, 3},
      {{40, 33, 4, 2, 1, 0}, 9, 31},  {{9, 6, 5, 2, 4, 1}, 5, 5},       {{16, 40, 3, 2, 0, 1}, 33, 2},
  };
}

}  // namespace

TEST_CASE("fast conv2d / conv_transpose2d match the reference path for every micro-kernel and thread count") {
  std::mt19937 rng(2024);
  for (GemmIsa isa : kernels()) {
    set_gemm_isa(isa);
    INFO("kernel " << gemm_isa_name());
    for (const Case& t : cases()) {
      const ConvShape& s = t.s;
      INFO("in " << s.in << " out " << s.out << " k " << s.kernel << " stride " << s.stride << " pad "
                 << s.padding << " outpad " << s.output_padding << " input " << t.w << "x" << t.h);
      const int taps = s.kernel * s.kernel;
      const Tensor x = random_tensor(s.in, t.h, t.w, rng);
      const auto wc = random_weights(size_t(s.out) * s.in * taps, s.in * taps, rng);
      const auto wt = random_weights(size_t(s.in) * s.out * taps, s.in * taps / (s.stride * s.stride), rng);
      const auto b = random_weights(size_t(s.out), 1, rng);
      const PreparedConv pc = prepare_conv2d(wc.data(), b.data(), s);
      const PreparedConv pt = prepare_conv_transpose2d(wt.data(), b.data(), s);
      const bool conv_fits = t.h + 2 * s.padding >= s.kernel && t.w + 2 * s.padding >= s.kernel;
      const Tensor ref_c = conv_fits ? conv2d_reference(x, wc.data(), b.data(), s) : Tensor();
      const Tensor ref_t = conv_transpose2d_reference(x, wt.data(), b.data(), s);
      Tensor first_c, first_t;
      for (int threads : {1, 2, 3}) {
        set_num_threads(threads);
        INFO("threads " << threads);
        if (conv_fits) {
          const Tensor c = conv2d(x, pc);
          CHECK(rel_diff(c, ref_c) <= kTolerance);
          // The work split changes with the thread count, each output's arithmetic does not: bit-identical.
          if (threads == 1)
            first_c = c;
          else
            CHECK(c.data == first_c.data);
        }
        const Tensor ct = conv_transpose2d(x, pt);
        CHECK(rel_diff(ct, ref_t) <= kTolerance);
        if (threads == 1)
          first_t = ct;
        else
          CHECK(ct.data == first_t.data);
      }
      // The pointer overloads prepare on the fly: the same numbers.
      if (conv_fits) CHECK(conv2d(x, wc.data(), b.data(), s).data == first_c.data);
      CHECK(conv_transpose2d(x, wt.data(), nullptr, s).data ==
            conv_transpose2d(x, prepare_conv_transpose2d(wt.data(), nullptr, s)).data);
    }
  }
  set_num_threads(0);
  set_gemm_isa(GemmIsa::kAuto);
}

TEST_CASE("fast GDN and inverse GDN match the reference path") {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(0.0f, 0.1f);
  for (GemmIsa isa : kernels()) {
    set_gemm_isa(isa);
    INFO("kernel " << gemm_isa_name());
    // 130 channels: more than an AVX-512 K block (128), and a short last A panel for every kernel.
    for (int c : {1, 5, 33, 130}) {
      for (int hw : {1, 7, 45}) {
        const Tensor x = random_tensor(c, hw, hw + 3, rng);
        std::vector<float> beta(static_cast<size_t>(c)), gamma(static_cast<size_t>(c) * c);
        for (float& b : beta) b = 1.0f + u(rng);
        for (int i = 0; i < c; ++i)
          for (int j = 0; j < c; ++j) gamma[size_t(i) * c + j] = (i == j ? 0.1f : 0.0f) + u(rng) * 0.1f;
        for (bool inverse : {false, true}) {
          INFO("channels " << c << " size " << hw << " inverse " << inverse);
          Tensor ref = x;
          gdn_reference(ref, beta.data(), gamma.data(), inverse);
          const PreparedGdn g = prepare_gdn(c, beta.data(), gamma.data(), inverse);
          for (int threads : {1, 3}) {
            set_num_threads(threads);
            Tensor y = x;
            gdn(y, g);
            CHECK(rel_diff(y, ref) <= kTolerance);
          }
          Tensor z = x;
          gdn(z, beta.data(), gamma.data(), inverse);
          CHECK(rel_diff(z, ref) <= kTolerance);
        }
      }
    }
  }
  set_num_threads(0);
  set_gemm_isa(GemmIsa::kAuto);
}

TEST_CASE("conv and transposed conv with a fused GDN epilogue equal the two layers run one after the other") {
  std::mt19937 rng(17);
  std::uniform_real_distribution<float> u(0.0f, 0.1f);
  for (GemmIsa isa : kernels()) {
    set_gemm_isa(isa);
    INFO("kernel " << gemm_isa_name());
    for (const Case& t : {Case{{3, 128, 5, 2, 2, 1}, 18, 40}, Case{{128, 128, 5, 2, 2, 1}, 9, 13},
                          Case{{6, 9, 3, 1, 1, 0}, 5, 37}, Case{{8, 20, 4, 2, 1, 1}, 11, 6}}) {
      const ConvShape& s = t.s;
      INFO("in " << s.in << " out " << s.out << " k " << s.kernel << " stride " << s.stride);
      const int taps = s.kernel * s.kernel;
      const Tensor x = random_tensor(s.in, t.h, t.w, rng);
      const auto w = random_weights(size_t(s.out) * s.in * taps, s.in * taps, rng);
      const auto b = random_weights(size_t(s.out), 1, rng);
      std::vector<float> beta(static_cast<size_t>(s.out)), gamma(static_cast<size_t>(s.out) * s.out);
      for (float& v : beta) v = 1.0f + u(rng);
      for (float& v : gamma) v = u(rng) * 0.1f;
      for (bool inverse : {false, true}) {
        const PreparedGdn g = prepare_gdn(s.out, beta.data(), gamma.data(), inverse);
        // w read as [in, out, k, k] for the transposed conv: same count, different layout.
        const PreparedConv pc = prepare_conv2d(w.data(), b.data(), s);
        const PreparedConv pt = prepare_conv_transpose2d(w.data(), b.data(), s);
        for (int threads : {1, 2}) {
          set_num_threads(threads);
          Tensor c = conv2d(x, pc), ct = conv_transpose2d(x, pt);
          gdn(c, g);
          gdn(ct, g);
          CHECK(conv2d(x, pc, &g).data == c.data);
          CHECK(conv_transpose2d(x, pt, &g).data == ct.data);
        }
      }
      const PreparedGdn other =
          prepare_gdn(s.out + 1, std::vector<float>(size_t(s.out) + 1, 1.0f).data(),
                      std::vector<float>(size_t(s.out + 1) * (s.out + 1), 0.0f).data(), false);
      CHECK_THROWS(conv2d(x, prepare_conv2d(w.data(), b.data(), s), &other));
    }
  }
  set_num_threads(0);
  set_gemm_isa(GemmIsa::kAuto);
}

TEST_CASE("fast gemm matches gemm_reference, with leading dimensions and accumulation") {
  std::mt19937 rng(11);
  std::normal_distribution<float> d(0, 1);
  for (GemmIsa isa : kernels()) {
    set_gemm_isa(isa);
    INFO("kernel " << gemm_isa_name());
    for (const auto& mnk :
         std::vector<std::array<int, 3>>{{1, 1, 1}, {7, 33, 5}, {64, 300, 200}, {9, 1, 300}}) {
      const int m = mnk[0], n = mnk[1], k = mnk[2], lda = k + 3, ldb = n + 1, ldc = n + 2;
      std::vector<float> a(size_t(m) * lda), b(size_t(k) * ldb), c0(size_t(m) * ldc);
      for (float& v : a) v = d(rng) / std::sqrt(float(k));
      for (float& v : b) v = d(rng);
      for (float& v : c0) v = d(rng);
      for (bool accumulate : {false, true}) {
        INFO("m " << m << " n " << n << " k " << k << " accumulate " << accumulate);
        std::vector<float> fast = c0, ref = c0;
        gemm(m, n, k, a.data(), lda, b.data(), ldb, fast.data(), ldc, accumulate);
        gemm_reference(m, n, k, a.data(), lda, b.data(), ldb, ref.data(), ldc, accumulate);
        float diff = 0, peak = 1;
        for (int i = 0; i < m; ++i)
          for (int j = 0; j < ldc; ++j) {
            const size_t at = size_t(i) * ldc + j;
            if (j >= n) {
              CHECK(fast[at] == c0[at]);  // beyond n: untouched
              continue;
            }
            diff = std::max(diff, std::abs(fast[at] - ref[at]));
            peak = std::max(peak, std::abs(ref[at]));
          }
        CHECK(diff / peak <= kTolerance);
      }
    }
  }
  set_gemm_isa(GemmIsa::kAuto);
}

TEST_CASE("a conv writing the next conv's source planes equals the two convs run on tensors") {
  std::mt19937 rng(23);
  std::uniform_real_distribution<float> u(0.0f, 0.1f);
  struct Pair {
    ConvShape a, b;
    int h, w;
  };
  // The model's stride-2 5x5 chain, and odd ones: stride 1 and 3, kernels smaller than the stride, padding
  // larger than half the kernel, sizes whose last rows / columns the next conv never reads.
  const std::vector<Pair> pairs = {
      {{3, 16, 5, 2, 2, 0}, {16, 12, 5, 2, 2, 0}, 37, 70}, {{4, 8, 3, 1, 1, 0}, {8, 5, 3, 1, 1, 0}, 9, 40},
      {{5, 7, 3, 2, 1, 0}, {7, 6, 7, 3, 3, 0}, 31, 23},    {{6, 9, 2, 2, 0, 0}, {9, 4, 1, 2, 0, 0}, 12, 17},
      {{2, 3, 3, 1, 0, 0}, {3, 4, 4, 2, 3, 0}, 10, 11},    {{3, 33, 5, 2, 2, 0}, {33, 2, 5, 2, 2, 0}, 7, 9},
  };
  for (GemmIsa isa : kernels()) {
    set_gemm_isa(isa);
    INFO("kernel " << gemm_isa_name());
    for (const Pair& t : pairs) {
      INFO("a: in " << t.a.in << " out " << t.a.out << " k " << t.a.kernel << " s " << t.a.stride << " p "
                    << t.a.padding << "; b: k " << t.b.kernel << " s " << t.b.stride << " p " << t.b.padding
                    << "; input " << t.w << "x" << t.h);
      const Tensor x = random_tensor(t.a.in, t.h, t.w, rng);
      const int ta = t.a.kernel * t.a.kernel, tb = t.b.kernel * t.b.kernel;
      const auto wa = random_weights(size_t(t.a.out) * t.a.in * ta, t.a.in * ta, rng);
      const auto wb = random_weights(size_t(t.b.out) * t.b.in * tb, t.b.in * tb, rng);
      const auto ba = random_weights(size_t(t.a.out), 1, rng), bb = random_weights(size_t(t.b.out), 1, rng);
      std::vector<float> beta(size_t(t.a.out)), gamma(size_t(t.a.out) * t.a.out);
      for (float& v : beta) v = 1.0f + u(rng);
      for (float& v : gamma) v = u(rng) * 0.1f;
      const PreparedGdn g = prepare_gdn(t.a.out, beta.data(), gamma.data(), false);
      const PreparedConv pa = prepare_conv2d(wa.data(), ba.data(), t.a),
                         pb = prepare_conv2d(wb.data(), bb.data(), t.b);
      for (const PreparedGdn* post : {static_cast<const PreparedGdn*>(nullptr), &g}) {
        for (int threads : {1, 2, 3}) {
          set_num_threads(threads);
          INFO("gdn " << (post != nullptr) << " threads " << threads);
          const Tensor y = conv2d(x, pa, post);
          const Tensor ref = conv2d(y, pb, nullptr);
          const ConvSource sx = conv_source(x, pa);
          const ConvSource sy = conv2d_to_source(sx, pa, post, pb);
          CHECK(sy.c == y.c);
          CHECK(sy.h == y.h);
          CHECK(sy.w == y.w);
          CHECK(sy.data == conv_source(y, pb).data);  // the same planes, padding included
          CHECK(conv2d(sy, pb, nullptr).data == ref.data);
          CHECK(conv2d(sx, pa, post).data == y.data);
        }
      }
      // Planes laid out for another padding: refused.
      const ConvShape other{t.a.in, t.a.out, t.a.kernel, t.a.stride, t.a.padding + 1, 0};
      CHECK_THROWS(conv2d(conv_source(x, prepare_conv2d(wa.data(), ba.data(), other)), pa, nullptr));
    }
  }
  set_num_threads(0);
  set_gemm_isa(GemmIsa::kAuto);
}
