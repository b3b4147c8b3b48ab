// The integer convolutions' SIMD path (int_gemm.h) against the scalar reference loops, bit for bit, under
// every kernel this machine runs and at 1 and 2 threads: random layers at the limits that int_layers.h
// documents (the largest weights and activations, the largest fan-in) and the shipped default model's
// hyper-synthesis on a real latent. The determinism contract rests on these being equal.
#include <catch2/catch.hpp>

#include <algorithm>
#include <climits>
#include <random>
#include <string>

#include "aecodec/hyperprior.h"
#include "aecodec/image.h"
#include "aecodec/int_layers.h"
#include "aecodec/model.h"
#include "aecodec/parallel.h"
#include "test_images.h"

using namespace aec;

namespace {

struct KernelChoice {
  IntKernel kernel;
  const char* name;
};

// The kernels this build and CPU run (forcing a missing one falls back to another: skipped here).
std::vector<KernelChoice> simd_kernels() {
  std::vector<KernelChoice> r;
  for (const KernelChoice& k :
       {KernelChoice{IntKernel::kVec128, "vec128"}, KernelChoice{IntKernel::kAvx2, "avx2"},
        KernelChoice{IntKernel::kAvx512Vnni, "avx512vnni"}}) {
    set_int_kernel(k.kernel);
    if (std::string(int_kernel_name()) == k.name) r.push_back(k);
  }
  set_int_kernel(IntKernel::kAuto);
  return r;
}

IntConv make_layer(const ConvShape& s, bool transposed, bool relu, int32_t wlo, int32_t whi, int32_t bmax,
                   int max_shift, std::mt19937& rng) {
  IntConv l;
  l.shape = s, l.transposed = transposed, l.relu = relu;
  std::uniform_int_distribution<int32_t> w(wlo, whi), b(-bmax, bmax), sh(0, max_shift);
  l.weight.resize(size_t(s.in) * s.out * s.kernel * s.kernel);
  for (int32_t& v : l.weight) v = w(rng);
  for (int o = 0; o < s.out; ++o) l.bias.push_back(b(rng)), l.shift.push_back(sh(rng));
  return l;
}

// Values drawn from [lo, hi], with the extremes themselves planted often: a pair of products at the extremes
// is where a 16-bit multiply-add would wrap.
IntTensor make_input(int c, int h, int w, int32_t lo, int32_t hi, std::mt19937& rng) {
  IntTensor t(c, h, w);
  std::uniform_int_distribution<int32_t> d(lo, hi);
  std::uniform_int_distribution<int> pick(0, 3);
  for (int32_t& v : t.data) {
    const int p = pick(rng);
    v = p == 0 ? lo : p == 1 ? hi : d(rng);
  }
  return t;
}

// Runs the layer under every SIMD kernel at 1 and 2 threads and compares with the reference loops.
void check_layer(const IntTensor& x, const IntConv& l, bool expect_simd) {
  const IntTensor expect = int_conv_reference(x, l);
  for (const KernelChoice& k : simd_kernels()) {
    set_int_kernel(k.kernel);
    INFO("kernel " << k.name);
    CHECK((int_conv_pieces(x, l) > 0) == expect_simd);
    for (int threads : {1, 2}) {
      INFO("threads " << threads);
      set_num_threads(threads);
      const IntTensor y = int_conv(x, l);
      REQUIRE(y.c == expect.c);
      REQUIRE(y.h == expect.h);
      REQUIRE(y.w == expect.w);
      CHECK(y.data == expect.data);
    }
  }
  set_num_threads(0);
  set_int_kernel(IntKernel::kAuto);
}

}  // namespace

TEST_CASE("integer conv: every SIMD kernel equals the reference loops on random layers and inputs") {
  std::mt19937 rng(24);
  INFO("kernels available: " << simd_kernels().size());
  // (in, out, kernel, stride, padding, output_padding), transposed: odd channel counts, strides above the
  // kernel (outputs without taps), kernel 1, output_padding, the shipped models' shapes.
  const std::vector<std::pair<ConvShape, bool>> shapes = {
      {{64, 64, 5, 2, 2, 1}, true}, {{64, 192, 3, 1, 1, 0}, false}, {{5, 7, 5, 2, 2, 1}, true},
      {{5, 37, 5, 2, 2, 0}, false}, {{3, 2, 4, 3, 1, 2}, true},     {{6, 3, 1, 2, 0, 1}, true},
      {{1, 17, 7, 2, 4, 0}, false}, {{9, 5, 2, 3, 0, 0}, false},
  };
  // Input ranges: one 16-bit piece, two, three (the full int32 range), non-negative (after a ReLU).
  const std::vector<std::pair<int32_t, int32_t>> ranges = {
      {-2000, 2000}, {-32768, 32767}, {0, 1 << 20}, {-(1 << 29), 1 << 29}, {INT32_MIN, INT32_MAX}};
  for (const auto& [s, tr] : shapes)
    for (const auto& [lo, hi] : ranges)
      for (auto [h, w] : std::vector<std::pair<int, int>>{{1, 1}, {5, 7}, {9, 14}}) {
        if (!tr && (h + 2 * s.padding < s.kernel || w + 2 * s.padding < s.kernel)) continue;
        INFO("in " << s.in << " out " << s.out << " k " << s.kernel << " stride " << s.stride
                   << " transposed " << tr << " input " << w << "x" << h << " values [" << lo << ", " << hi
                   << "]");
        const bool relu = (h + w) % 2 == 1;
        // int16's full weight range, -32768 included, and biases and shifts up to their limits
        const IntConv l = make_layer(s, tr, relu, INT16_MIN, INT16_MAX, INT32_MAX, kMaxIntShift, rng);
        check_layer(make_input(s.in, h, w, lo, hi, rng), l, true);
      }
}

TEST_CASE("integer conv: the SIMD kernels stay exact where every product is at its extreme") {
  std::mt19937 rng(5);
  const ConvShape s{16, 24, 3, 1, 1, 0};
  for (int32_t wv : {INT16_MIN, INT16_MAX})
    for (int32_t xv : {INT32_MIN, -INT32_MAX, INT32_MAX, -32768, 32767, -1}) {
      INFO("weight " << wv << " input " << xv);
      IntConv l = make_layer(s, false, false, wv, wv, 0, 0, rng);
      l.bias.assign(size_t(s.out), INT32_MAX);
      l.shift.assign(size_t(s.out), kMaxIntShift);
      IntTensor x(s.in, 6, 13);
      std::fill(x.data.begin(), x.data.end(), xv);
      check_layer(x, l, true);
      l.shift.assign(size_t(s.out), 30);
      check_layer(x, l, true);
    }
}

TEST_CASE("integer conv: the largest fan-in, and weights beyond int16 take the reference loops") {
  std::mt19937 rng(7);
  {  // in * k * k = kMaxIntFanIn with the largest int16 weights and full-range inputs
    const ConvShape s{kMaxIntFanIn / 16, 3, 4, 2, 1, 0};
    const IntConv l = make_layer(s, false, false, INT16_MIN, INT16_MAX, INT32_MAX, kMaxIntShift, rng);
    check_layer(make_input(s.in, 5, 4, INT32_MIN, INT32_MAX, rng), l, true);
    // every product the same sign and as large as it gets
    IntConv m = l;
    std::fill(m.weight.begin(), m.weight.end(), INT16_MIN);
    IntTensor x(s.in, 4, 4);
    std::fill(x.data.begin(), x.data.end(), INT32_MIN);
    check_layer(x, m, true);
  }
  {  // weights up to the documented +-2^16 do not fit int16: the reference loops run, under every kernel
    const ConvShape s{8, 8, 3, 2, 1, 1};
    IntConv l = make_layer(s, true, true, -kMaxIntWeight, kMaxIntWeight, 1000, 20, rng);
    l.weight[3] = kMaxIntWeight;
    check_layer(make_input(s.in, 4, 6, INT32_MIN, INT32_MAX, rng), l, false);
  }
}

TEST_CASE(
    "integer conv: channels that are zero everywhere are skipped, and each channel's range bounds its runs") {
  // A trained net's features: whole channels that a ReLU never opens, beside channels whose ranges differ by
  // orders of magnitude. The kernels pack only the other channels and cut their int32 runs by each channel's
  // own range: the sums must still be the reference's.
  std::mt19937 rng(31);
  const std::vector<std::pair<ConvShape, bool>> shapes = {{{64, 64, 3, 1, 1, 0}, false},
                                                          {{21, 9, 5, 2, 2, 1}, true}};
  // per channel: 0 = zero everywhere, 1 = small values, 2 = 16-bit values, 3 = the full int32 range
  const std::vector<std::vector<int>> kinds_of = {{0, 1, 2}, {0, 0, 0, 2}, {0, 3, 1}, {1, 2, 2, 3}};
  for (const auto& [s, tr] : shapes)
    for (const std::vector<int>& kinds : kinds_of) {
      const IntConv l = make_layer(s, tr, true, INT16_MIN, INT16_MAX, 1 << 28, 40, rng);
      IntTensor x(s.in, 9, 11);
      std::uniform_int_distribution<size_t> pick(0, kinds.size() - 1);
      int zero = 0;
      for (int c = 0; c < s.in; ++c) {
        const int kind = c == 0 ? 2 : kinds[pick(rng)];  // one live channel at least
        const int32_t lim = kind == 0 ? 0 : kind == 1 ? 100 : kind == 2 ? 32767 : INT32_MAX;
        const IntTensor v = make_input(1, x.h, x.w, -lim, lim, rng);
        std::copy(v.data.begin(), v.data.end(), x.channel(c));
        zero += kind == 0;
      }
      INFO("in " << s.in << " transposed " << tr << ", " << zero << " channels zero");
      check_layer(x, l, true);
    }
  // Every channel zero: the outputs are the biases; and a layer that meets two sets of live channels in turn
  // keeps a packing for each.
  const IntConv l = make_layer({16, 24, 3, 1, 1, 0}, false, false, -3000, 3000, 100000, 12, rng);
  check_layer(IntTensor(16, 5, 6), l, true);
  IntTensor a = make_input(16, 5, 6, -5000, 5000, rng), b = a;
  std::fill_n(a.channel(3), a.plane() * 4, 0);
  std::fill_n(b.channel(9), b.plane() * 2, 0);
  for (const KernelChoice& k : simd_kernels()) {
    set_int_kernel(k.kernel);
    INFO(k.name);
    for (int round = 0; round < 2; ++round) {
      CHECK(int_conv(a, l).data == int_conv_reference(a, l).data);
      CHECK(int_conv(b, l).data == int_conv_reference(b, l).data);
    }
  }
  set_int_kernel(IntKernel::kAuto);
}

TEST_CASE("integer conv: a layer's packed weights follow its weights, also in copies that share them") {
  std::mt19937 rng(11);
  const ConvShape s{24, 40, 3, 1, 1, 0};
  const IntConv l = make_layer(s, false, true, -3000, 3000, 100000, 12, rng);
  const IntTensor x = make_input(s.in, 7, 9, -5000, 5000, rng);
  for (const KernelChoice& k : simd_kernels()) {
    set_int_kernel(k.kernel);
    INFO(k.name);
    const IntTensor first = int_conv(x, l);
    CHECK(first.data == int_conv_reference(x, l).data);
    IntConv m = l;  // shares l's packed weights until its own differ
    m.weight[5] += 1000, m.bias[2] -= 7;
    const IntTensor changed = int_conv(x, m);
    CHECK(changed.data == int_conv_reference(x, m).data);
    CHECK(changed.data != first.data);
    CHECK(int_conv(x, l).data == first.data);  // l again, after m replaced the shared packing
  }
  set_int_kernel(IntKernel::kAuto);
}

TEST_CASE(
    "integer conv: the default model's hyper-synthesis on a real latent is the same under every kernel") {
  const Model m = Model::load(std::string(AEC_TEST_DATA) + "/../../models/hyperprior-q5.aem");
  REQUIRE(m.hyperprior() != nullptr);
  const Hyperprior& hp = *m.hyperprior();
  // A photo-like image of a few hyper-latent pixels: the test image mirrored into a 320x192 tile.
  const Image im =
      aec::testing::mirrored_tiles(load_image(std::string(AEC_TEST_DATA) + "/v1/image.png"), 320, 192);
  const Tensor y = m.analysis(image_to_tensor(im));
  const Tensor z = hp.analysis(y);
  const std::vector<int32_t> qz = hp.quantize_z(z);
  // The reference: layer by layer through the scalar loops, from the fixed-point z_hat synthesis() builds.
  set_int_kernel(IntKernel::kScalar);
  const IntTensor expect = hp.synthesis(qz, z.h, z.w);
  IntTensor x(z.c, z.h, z.w);
  for (size_t i = 0; i < x.size(); ++i)
    x.data[i] = qz[i] * (1 << hp.z_fraction_bits()) + hp.z_median()[i / x.plane()];
  for (const IntConv& l : hp.hyper_synthesis().layers()) {
    // every layer runs the SIMD path (a fallback here would leave the speed-up untested)
    for (const KernelChoice& k : simd_kernels()) {
      set_int_kernel(k.kernel);
      INFO("kernel " << k.name);
      CHECK(int_conv_pieces(x, l) > 0);
    }
    set_int_kernel(IntKernel::kScalar);
    x = int_conv(x, l);
  }
  REQUIRE(x.data == expect.data);
  for (const KernelChoice& k : simd_kernels())
    for (int threads : {1, 2}) {
      INFO("kernel " << k.name << ", threads " << threads);
      set_int_kernel(k.kernel);
      set_num_threads(threads);
      const IntTensor got = hp.synthesis(qz, z.h, z.w);
      CHECK(got.data == expect.data);
    }
  set_num_threads(0);
  set_int_kernel(IntKernel::kAuto);
}
