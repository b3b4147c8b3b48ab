// The buffer pool (pool.h) and the layers that take their output tensors and padded inputs from it: a pooled
// buffer's old contents never reach a result.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "aecodec/layers.h"
#include "aecodec/pool.h"

using namespace aec;

namespace {

constexpr size_t kBig = size_t(1) << 20;  // floats: 4 MiB, well above the pool's 256 KiB floor

// Fills the pool with NaN-filled buffers of assorted sizes, so that the next layers run on dirty storage.
void poison_pool() {
  pool_release();
  for (size_t n : {size_t(70000), size_t(300000), size_t(1) << 20, size_t(3) << 20, size_t(1) << 22}) {
    std::vector<float> v(n, std::numeric_limits<float>::quiet_NaN());
    pool_give(std::move(v));
  }
}

}  // namespace

TEST_CASE("pool_take reuses what pool_give handed back, best fit first") {
  pool_release();
  CHECK(pool_bytes() == 0);
  std::vector<float> a = pool_take(kBig);
  CHECK(a.size() == kBig);
  const float* pa = a.data();
  pool_give(std::move(a));
  CHECK(a.empty());
  CHECK(pool_bytes() >= kBig * sizeof(float));
  // A smaller request gets the same storage, without a new allocation; the pool is then empty.
  std::vector<float> b = pool_take(kBig / 2);
  CHECK(b.size() == kBig / 2);
  CHECK(b.data() == pa);
  CHECK(pool_bytes() == 0);
  // Grown back within its capacity: still the same storage.
  pool_give(std::move(b));
  std::vector<float> c = pool_take(kBig);
  CHECK(c.size() == kBig);
  CHECK(c.data() == pa);
  // Best fit: of a large and a small buffer, a small request takes the small one.
  std::vector<float> big(4 * kBig);
  const float* pbig = big.data();
  pool_give(std::move(big));
  pool_give(std::move(c));
  std::vector<float> d = pool_take(kBig);
  CHECK(d.data() == pa);
  std::vector<float> e = pool_take(3 * kBig);
  CHECK(e.data() == pbig);
  // Too large for anything pooled, or under half a pooled buffer: a new buffer.
  pool_give(std::move(d));
  std::vector<float> f = pool_take(2 * kBig);
  CHECK(f.size() == 2 * kBig);
  std::vector<float> h = pool_take(kBig / 2 - 1);
  CHECK(h.data() != pa);
  CHECK(pool_bytes() == kBig * sizeof(float));
  // Small buffers are not kept; at most 16 are, the oldest dropped first.
  pool_release();
  pool_give(std::vector<float>(1000));
  CHECK(pool_bytes() == 0);
  size_t newest = 0;
  for (size_t i = 0; i < 20; ++i) {
    pool_give(std::vector<float>(kBig / 4 + i));
    if (i >= 4) newest += (kBig / 4 + i) * sizeof(float);
  }
  CHECK(pool_bytes() == newest);
  pool_release();
  CHECK(pool_bytes() == 0);
}

TEST_CASE("layers on dirty pooled buffers give the results of fresh ones") {
  std::mt19937 rng(99);
  std::normal_distribution<float> d(0, 1);
  auto rnd = [&](size_t n, float scale) {
    std::vector<float> v(n);
    for (float& x : v) x = d(rng) * scale;
    return v;
  };
  for (const ConvShape& s :
       {ConvShape{3, 128, 5, 2, 2, 1}, ConvShape{128, 128, 5, 2, 2, 1}, ConvShape{128, 3, 5, 2, 2, 1}}) {
    INFO("in " << s.in << " out " << s.out);
    Tensor x(s.in, 40, 70);
    x.data = rnd(x.size(), 1.0f);
    const auto w = rnd(size_t(s.in) * s.out * 25, 1.0f / std::sqrt(float(s.in * 25)));
    const auto b = rnd(size_t(s.out), 0.1f);
    std::vector<float> beta(size_t(s.out), 1.0f), gamma(size_t(s.out) * s.out, 0.001f);
    const PreparedGdn g = prepare_gdn(s.out, beta.data(), gamma.data(), false);
    const PreparedConv pc = prepare_conv2d(w.data(), b.data(), s);
    const PreparedConv pt = prepare_conv_transpose2d(w.data(), b.data(), s);
    for (int threads : {1, 2}) {
      set_num_threads(threads);
      pool_release();  // fresh buffers: zero-filled
      const Tensor c = conv2d(x, pc), cg = conv2d(x, pc, &g), t = conv_transpose2d(x, pt),
                   tg = conv_transpose2d(x, pt, &g);
      for (const Tensor* r : {&c, &cg, &t, &tg})
        REQUIRE(std::all_of(r->data.begin(), r->data.end(), [](float v) { return std::isfinite(v); }));
      poison_pool();
      CHECK(conv2d(x, pc).data == c.data);
      poison_pool();
      CHECK(conv2d(x, pc, &g).data == cg.data);
      poison_pool();
      CHECK(conv_transpose2d(x, pt).data == t.data);
      poison_pool();
      CHECK(conv_transpose2d(x, pt, &g).data == tg.data);
    }
  }
  pool_release();
  set_num_threads(0);
}
