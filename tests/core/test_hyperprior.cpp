// The mean-scale hyperprior: integer layers against naive loops, the Gaussian tables and the scale index,
// whole-image coding through the container (version 3; version 2 still read), the determinism contract (the
// integer path and therefore every decoded symbol are the same under every GEMM kernel and thread count), and
// damaged, forged or mismatched files refused with a message.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>

#include "aecodec/codec.h"
#include "aecodec/error.h"
#include "aecodec/file_io.h"
#include "aecodec/gaussian.h"
#include "aecodec/gemm.h"
#include "aecodec/hyperprior.h"
#include "aecodec/image.h"
#include "aecodec/parallel.h"
#include "damaged_files.h"
#include "legacy_bitstream.h"
#include "old_files.h"
#include "random_model.h"
#include "test_images.h"

using namespace aec;
using aec::testing::make_random_model;
using aec::testing::RandomModelSpec;
using aec::testing::synthetic_image;
using aec::testing::write_legacy_bitstream;

namespace {

RandomModelSpec hyper_spec() {
  RandomModelSpec s;
  s.arch = "hyperprior", s.name = "test-hyperprior", s.n = 8, s.m = 6;
  return s;
}

const Model& hyper_model() {
  static const Model m = Model::from_file(make_random_model(hyper_spec()));
  return m;
}

// The layer computed the obvious way, one output at a time in __int128: no tap ranges, no scatter.
IntTensor naive_int_conv(const IntTensor& x, const IntConv& l) {
  const ConvShape& s = l.shape;
  const int k = s.kernel;
  const int oh = l.transposed ? (x.h - 1) * s.stride - 2 * s.padding + k + s.output_padding
                              : (x.h + 2 * s.padding - k) / s.stride + 1;
  const int ow = l.transposed ? (x.w - 1) * s.stride - 2 * s.padding + k + s.output_padding
                              : (x.w + 2 * s.padding - k) / s.stride + 1;
  IntTensor y(s.out, oh, ow);
  for (int o = 0; o < s.out; ++o)
    for (int oy = 0; oy < oh; ++oy)
      for (int ox = 0; ox < ow; ++ox) {
        __int128 acc = l.bias[size_t(o)];
        for (int i = 0; i < s.in; ++i)
          for (int ky = 0; ky < k; ++ky)
            for (int kx = 0; kx < k; ++kx) {
              int iy, ix;
              if (l.transposed) {  // oy = iy * stride - padding + ky
                const int ny = oy + s.padding - ky, nx = ox + s.padding - kx;
                if (ny < 0 || nx < 0 || ny % s.stride || nx % s.stride) continue;
                iy = ny / s.stride, ix = nx / s.stride;
              } else {
                iy = oy * s.stride - s.padding + ky, ix = ox * s.stride - s.padding + kx;
              }
              if (iy < 0 || iy >= x.h || ix < 0 || ix >= x.w) continue;
              const int32_t w = l.transposed ? l.weight[((size_t(i) * s.out + o) * k + ky) * k + kx]
                                             : l.weight[((size_t(o) * s.in + i) * k + ky) * k + kx];
              acc += __int128(w) * x.channel(i)[size_t(iy) * x.w + ix];
            }
        // floor((acc + 2^(s-1)) / 2^s), written as a floor division
        const int sh = l.shift[size_t(o)];
        __int128 v = acc;
        if (sh > 0) {
          const __int128 d = __int128(1) << sh;
          v = acc + d / 2;
          v = v >= 0 ? v / d : -((-v + d - 1) / d);
        }
        if (l.relu && v < 0) v = 0;
        const __int128 lim = (__int128(1) << 31) - 1;
        v = std::min(lim, std::max(-lim, v));
        y.channel(o)[size_t(oy) * ow + ox] = int32_t(v);
      }
  return y;
}

IntConv random_int_conv(const ConvShape& s, bool transposed, bool relu, int32_t wmax, int32_t bmax,
                        int max_shift, std::mt19937& rng) {
  IntConv l;
  l.shape = s, l.transposed = transposed, l.relu = relu;
  std::uniform_int_distribution<int32_t> w(-wmax, wmax), b(-bmax, bmax), sh(0, max_shift);
  l.weight.resize(size_t(s.in) * s.out * s.kernel * s.kernel);
  for (int32_t& v : l.weight) v = w(rng);
  for (int o = 0; o < s.out; ++o) l.bias.push_back(b(rng)), l.shift.push_back(sh(rng));
  return l;
}

IntTensor random_int_tensor(int c, int h, int w, int32_t lo, int32_t hi, std::mt19937& rng) {
  IntTensor t(c, h, w);
  std::uniform_int_distribution<int32_t> d(lo, hi);
  for (int32_t& v : t.data) v = d(rng);
  return t;
}

}  // namespace

TEST_CASE("rounding_shift rounds half up for either sign") {
  CHECK(rounding_shift(5, 0) == 5);
  CHECK(rounding_shift(3, 1) == 2);    // 1.5 -> 2
  CHECK(rounding_shift(-3, 1) == -1);  // -1.5 -> -1
  CHECK(rounding_shift(-5, 2) == -1);  // -1.25 -> -1
  CHECK(rounding_shift(-6, 2) == -1);  // -1.5 -> -1
  CHECK(rounding_shift(-7, 2) == -2);  // -1.75 -> -2
  CHECK(rounding_shift(int64_t(1) << 62, 62) == 1);
  CHECK(rounding_shift(-(int64_t(1) << 61), 62) == 0);  // -0.5 -> 0
}

TEST_CASE("integer conv and transposed conv equal a naive 128-bit loop, at every thread count") {
  std::mt19937 rng(11);
  const std::vector<std::pair<ConvShape, bool>> cases = {
      {{5, 7, 5, 2, 2, 1}, true}, {{5, 7, 5, 2, 2, 0}, false}, {{4, 9, 3, 1, 1, 0}, false},
      {{3, 2, 4, 3, 1, 2}, true}, {{6, 3, 1, 2, 0, 1}, true},  {{2, 5, 7, 2, 4, 0}, false},
  };
  for (const auto& [s, tr] : cases)
    for (bool relu : {false, true})
      for (auto [h, w] : std::vector<std::pair<int, int>>{{1, 1}, {3, 5}, {9, 4}}) {
        if (!tr && (h + 2 * s.padding < s.kernel || w + 2 * s.padding < s.kernel)) continue;
        INFO("in " << s.in << " out " << s.out << " k " << s.kernel << " stride " << s.stride
                   << " transposed " << tr << " input " << w << "x" << h);
        // Small values, and values at the limits that need every bit of the int64 accumulator.
        for (bool extreme : {false, true}) {
          const IntConv l = extreme
                                ? random_int_conv(s, tr, relu, kMaxIntWeight, INT32_MAX, kMaxIntShift, rng)
                                : random_int_conv(s, tr, relu, 300, 5000, 12, rng);
          const IntTensor x = extreme ? random_int_tensor(s.in, h, w, -INT32_MAX, INT32_MAX, rng)
                                      : random_int_tensor(s.in, h, w, -2000, 2000, rng);
          const IntTensor expect = naive_int_conv(x, l);
          for (int threads : {1, 3}) {
            set_num_threads(threads);
            const IntTensor y = int_conv(x, l);
            REQUIRE(y.h == expect.h);
            REQUIRE(y.w == expect.w);
            CHECK(y.data == expect.data);
          }
          set_num_threads(0);
        }
      }
}

TEST_CASE("integer layers refuse weights, shifts and fan-ins beyond the int64 bound") {
  std::mt19937 rng(3);
  IntConv l = random_int_conv({4, 4, 3, 1, 1, 0}, false, false, 10, 10, 4, rng);
  REQUIRE_NOTHROW(l.validate("ok"));
  IntConv w = l;
  w.weight[5] = kMaxIntWeight + 1;
  CHECK_THROWS_WITH(w.validate("w"), Catch::Contains("weight"));
  IntConv s = l;
  s.shift[1] = 63;
  CHECK_THROWS_WITH(s.validate("s"), Catch::Contains("shift"));
  IntConv f = random_int_conv({4000, 1, 3, 1, 1, 0}, false, false, 1, 1, 0, rng);
  CHECK_THROWS_WITH(f.validate("f"), Catch::Contains("fan-in"));
}

TEST_CASE("quantize_conv approximates the float layer on fixed-point inputs") {
  std::mt19937 rng(5);
  std::normal_distribution<float> d(0, 0.2f);
  for (bool tr : {false, true}) {
    const ConvShape s{6, 5, 5, 2, 2, tr ? 1 : 0};
    std::vector<float> w(size_t(s.in) * s.out * 25), b(size_t(s.out));
    for (float& v : w) v = d(rng);
    for (float& v : b) v = d(rng) * 5;
    const IntConv l = quantize_conv(w.data(), b.data(), s, tr, false, 8, 12);
    for (int32_t v : l.weight) CHECK(std::abs(v) <= (1 << 15) - 1);
    Tensor x(s.in, 6, 7);
    IntTensor xi(s.in, 6, 7);
    for (size_t i = 0; i < x.size(); ++i) {
      xi.data[i] = int32_t(std::uniform_int_distribution<int>(-2000, 2000)(rng));
      x.data[i] = float(std::ldexp(double(xi.data[i]), -8));
    }
    const Tensor yf = tr ? conv_transpose2d_reference(x, w.data(), b.data(), s)
                         : conv2d_reference(x, w.data(), b.data(), s);
    const IntTensor yi = int_conv(xi, l);
    REQUIRE(size_t(yi.size()) == yf.size());
    double worst = 0;
    for (size_t i = 0; i < yf.size(); ++i)
      worst = std::max(worst, std::abs(std::ldexp(double(yi.data[i]), -12) - yf.data[i]));
    INFO("max |integer - float| " << worst);
    CHECK(worst < 5e-3);
  }
}

TEST_CASE("Gaussian tables: one valid CDF per scale, thresholds pick the smallest scale at or above") {
  const std::vector<double> scales = default_scale_table();
  REQUIRE(scales.size() == 64);
  CHECK(scales.front() == Approx(0.11));
  CHECK(scales.back() == Approx(256.0));
  const CdfTables t = gaussian_tables(scales);
  REQUIRE(t.count() == 64);
  for (size_t i = 0; i < t.count(); ++i) {
    // centre symbol is the most likely; offsets are -c
    const auto& c = t.cdf[i];
    const int centre = -t.offset[i];
    CHECK(c.size() == size_t(2 * centre + 3));
    const uint32_t f0 = c[size_t(centre) + 1] - c[size_t(centre)];
    CHECK(f0 >= c[1] - c[0]);
  }
  const int bits = 12;
  const std::vector<int32_t> thr = scale_thresholds(scales, bits);
  REQUIRE(thr.size() == 63);
  for (int32_t v : {-100, 0, 1, 450, 451, 452, 5000, 200000, 1048576, 1048577, INT32_MAX}) {
    const double real = std::ldexp(double(v), -bits);
    size_t expect = scales.size() - 1;  // CompressAI's build_indexes: the first table scale >= the scale
    for (size_t i = 0; i + 1 < scales.size(); ++i)
      if (scales[i] >= real) {
        expect = i;
        break;
      }
    CHECK(scale_index(v, thr) == int32_t(expect));
  }
}

TEST_CASE("SortedCounter (the tables' lookup) equals count_below") {
  // Short tables with repeats, the shipped models' scale thresholds and log scales (wide ranges with small
  // gaps at one end: several entries share a bucket there), and the full int32 range; at every value in
  // and around the entries, and at random ones.
  std::mt19937 rng(17);
  std::vector<std::vector<int32_t>> tables = {{}, {5}, {INT32_MIN, -1, 0, INT32_MAX}};
  for (size_t n : {2, 3, 17, 64}) {
    std::vector<int32_t> a(n);
    int32_t v = -50;
    for (int32_t& x : a) x = v += int32_t(rng() % 3);
    tables.push_back(a);
  }
  const std::vector<double> scales = default_scale_table();
  tables.push_back(scale_thresholds(scales, 12));
  const std::vector<int32_t> logs = log_scale_fixed(scales, 12);
  tables.push_back(std::vector<int32_t>(logs.begin(), logs.end() - 1));
  for (const std::vector<int32_t>& a : tables) {
    INFO(a.size() << " entries");
    const SortedCounter counter(a);
    std::vector<int64_t> probes = {int64_t(INT32_MIN) - 1, INT32_MIN, int64_t(INT32_MAX) + 1, INT32_MAX, 0};
    for (int32_t x : a)
      for (int d = -2; d <= 2; ++d) probes.push_back(int64_t(x) + d);
    std::uniform_int_distribution<int64_t> any(a.empty() ? -10 : int64_t(a.front()) - 10,
                                               a.empty() ? 10 : int64_t(a.back()) + 10);
    for (int i = 0; i < 20000; ++i) probes.push_back(any(rng));
    for (int64_t q : probes) REQUIRE(counter.count(q) == count_below(a.data(), a.size(), q));
  }
}

TEST_CASE("count_below (the tables' branch-free search) equals std::lower_bound") {
  // Every length up to 70 (the table counts are 64; odd and power-of-two lengths take different steps),
  // with repeated entries, at every value between and beyond them.
  std::mt19937 rng(7);
  for (size_t n = 0; n <= 70; ++n)
    for (int trial = 0; trial < 4; ++trial) {
      std::vector<int32_t> a(n);
      int32_t v = -50;
      for (int32_t& x : a) x = v += int32_t(rng() % 3);  // steps of 0, 1 or 2: duplicates too
      for (int64_t q = -60; q <= v + 3; ++q) {
        const size_t expect = size_t(
            std::lower_bound(a.begin(), a.end(), q, [](int32_t x, int64_t y) { return int64_t(x) < y; }) -
            a.begin());
        REQUIRE(count_below(a.data(), n, q) == expect);
        if (q >= INT32_MIN && q <= INT32_MAX) REQUIRE(count_below(a.data(), n, int32_t(q)) == expect);
      }
    }
  const std::vector<int32_t> ends = {INT32_MIN, -1, 0, INT32_MAX};
  CHECK(count_below(ends.data(), ends.size(), int64_t(INT32_MAX) + 1) == 4);
  CHECK(count_below(ends.data(), ends.size(), int64_t(INT32_MIN) - 1) == 0);
  CHECK(count_below(ends.data(), ends.size(), INT32_MIN) == 0);
  CHECK(count_below(ends.data(), ends.size(), INT32_MAX) == 3);
}

TEST_CASE("hyperprior: images of awkward sizes round-trip through the container") {
  const Model& m = hyper_model();
  REQUIRE(m.hyperprior());
  CHECK(m.info().entropy_kind == "hyperprior");
  CHECK_THROWS_WITH(m.quantize(Tensor(6, 2, 2)), Catch::Contains("hyperprior"));
  for (auto [w, h] : std::vector<std::pair<int, int>>{{1, 1}, {17, 33}, {61, 20}, {200, 136}}) {
    const Image im = synthetic_image(w, h, uint32_t(w + 7 * h));
    const EncodeResult e = encode_image(m, im);
    CHECK(e.bytes[4] == kBitstreamVersion);
    const DecodeResult d = decode_image(m, e.bytes.data(), e.bytes.size());
    CHECK(d.image.width == w);
    CHECK(d.image.height == h);
    const BitstreamHeader& hd = d.stream.header;
    CHECK(hd.version == kBitstreamVersion);
    CHECK(hd.latent_c == uint32_t(hyper_spec().m));
    CHECK(hd.latent_h == uint32_t((h + 3) / 4));
    REQUIRE(d.stream.find(kSectionHyperPayload));
    REQUIRE(d.stream.find(kSectionPayload));
    // The decoder's latent is exactly the encoder's: same symbols, same tables, same means.
    const Image expect = crop(tensor_to_image(m.synthesis(e.latent)), w, h);
    CHECK(d.image.rgb == expect.rgb);
    std::vector<double> bits;
    const Tensor again = decode_latent(m, d.stream, &bits);
    CHECK(again.data == e.latent.data);
    CHECK(bits == e.channel_bits);
    double total = e.hyper_bits;
    for (double b : e.channel_bits) total += b;
    const double payload =
        8.0 * double(d.stream.find(kSectionPayload)->size() + d.stream.find(kSectionHyperPayload)->size());
    CHECK(payload >= total - 128);
    CHECK(payload <= total * 1.05 + 128);
  }
}

TEST_CASE(
    "hyperprior: the integer path and every decoded symbol are the same under every GEMM kernel and "
    "thread count") {
  const ModelFile file = make_random_model(hyper_spec());
  const Image im = synthetic_image(150, 90, 4);
  // One file made with the default kernel; every kernel decodes it to the same latent, bit for bit.
  set_gemm_isa(GemmIsa::kAuto);
  const std::vector<uint8_t> bytes = encode_image(Model::from_file(file), im).bytes;
  const Bitstream stream = open_stream(Model::from_file(file), bytes.data(), bytes.size(), false);
  const BitstreamHeader& h = stream.header;
  int zc, zh, zw;
  hyper_model().hyperprior()->hyper_shape(int(h.latent_h), int(h.latent_w), zc, zh, zw);
  const std::vector<uint8_t>& hyper = *stream.find(kSectionHyperPayload);
  std::vector<float> first_latent;
  Hyperprior::Conditional first_cond;
  std::vector<std::string> seen;
  Image first_image;
  for (GemmIsa isa : {GemmIsa::kVec128, GemmIsa::kAvx2, GemmIsa::kAvx512}) {
    set_gemm_isa(isa);  // weights are packed when the model loads: load one per kernel
    const std::string name = gemm_isa_name();
    if (std::find(seen.begin(), seen.end(), name) != seen.end()) continue;
    seen.push_back(name);
    const Model m = Model::from_file(file);
    for (int threads : {1, 2, 3}) {
      set_num_threads(threads);
      INFO("kernel " << name << ", " << threads << " threads");
      // The scale indices and means straight from the z symbols.
      std::vector<int32_t> zidx(size_t(zc) * zh * zw);
      for (size_t i = 0; i < zidx.size(); ++i) zidx[i] = int32_t(i / (size_t(zh) * zw));
      const std::vector<int32_t> qz =
          entropy_decode(hyper.data(), hyper.size(), zidx.data(), zidx.size(), m.hyperprior()->z_tables());
      const Hyperprior::Conditional cond =
          m.hyperprior()->conditional(qz, zh, zw, int(h.latent_h), int(h.latent_w));
      const Tensor latent = decode_latent(m, stream);
      const DecodeResult d = decode_image(m, bytes.data(), bytes.size());
      if (first_latent.empty()) {
        first_latent = latent.data, first_cond = cond, first_image = d.image;
        continue;
      }
      CHECK(cond.index == first_cond.index);
      CHECK(cond.mean == first_cond.mean);
      CHECK(latent.data == first_latent);
      // Only the synthesis' pixels may differ between kernels, by float rounding.
      int worst = 0;
      for (size_t i = 0; i < d.image.rgb.size(); ++i)
        worst = std::max(worst, std::abs(int(d.image.rgb[i]) - int(first_image.rgb[i])));
      CHECK(worst <= 1);
      // A file made under this kernel decodes under the first one too (its z may differ; the decoder's
      // integer path repeats whatever the encoder decided).
      if (threads == 1) {
        const std::vector<uint8_t> mine = encode_image(m, im).bytes;
        set_gemm_isa(GemmIsa::kAuto);
        const Model other = Model::from_file(file);
        CHECK_NOTHROW(decode_image(other, mine.data(), mine.size()));
        set_gemm_isa(isa);
      }
    }
  }
  set_gemm_isa(GemmIsa::kAuto);
  set_num_threads(0);
  INFO("kernels: " << seen.size());
  CHECK(!seen.empty());
}

TEST_CASE("hyperprior: damaged, truncated and forged files are refused, never crash") {
  const Model& m = hyper_model();
  const aec::testing::DamagedFiles files(m, synthetic_image(70, 40));
  const std::vector<uint8_t>& good = files.good;
  const Bitstream& b0 = files.stream;
  auto forged = [&](auto edit) { return files.forged(edit); };
  // The same stream in version 2's fixed header, with its stored shapes (edit them to forge).
  int zc, zh, zw;
  m.hyperprior()->hyper_shape(int(b0.header.latent_h), int(b0.header.latent_w), zc, zh, zw);
  auto forged_v2 = [&](auto edit) {
    Bitstream b = b0;
    b.header.version = kBitstreamVersionHyperprior, b.header.stride = uint32_t(m.info().stride);
    b.header.hyper_c = uint32_t(zc), b.header.hyper_h = uint32_t(zh), b.header.hyper_w = uint32_t(zw);
    edit(b);
    return write_legacy_bitstream(b);
  };
  auto refuse = [&](const std::vector<uint8_t>& f, const char* what) { files.refuse(f, what); };
  const std::vector<uint8_t> as_v2 = forged_v2([](Bitstream&) {});
  CHECK(decode_image(m, as_v2.data(), as_v2.size()).image.rgb ==
        decode_image(m, good.data(), good.size()).image.rgb);
  // Re-checksummed forgeries: a hyper grid that does not fit the latent (version 2 stores it), a hyper
  // payload that is garbage, a hyper payload swapped with the latent's, no hyper payload for this model (as a
  // version-3 file and as a version-1 one), huge hyper dimensions.
  refuse(forged_v2([](Bitstream& b) { b.header.hyper_w += 1; }), "hyper latent shape");
  refuse(forged_v2([](Bitstream& b) { b.header.hyper_c = 3; }), "hyper latent shape");
  refuse(forged([](Bitstream& b) {
           for (auto& x : b.section(kSectionHyperPayload)) x = uint8_t(x * 37 + 11);
         }),
         "corrupt");
  refuse(forged([](Bitstream& b) { std::swap(b.section(kSectionHyperPayload), b.section(kSectionPayload)); }),
         "corrupt");
  refuse(forged([](Bitstream& b) {
           b.sections.erase(b.sections.begin() + (b.sections[0].type == kSectionHyperPayload ? 0 : 1));
         }),
         "has a hyperprior");
  refuse(forged_v2([](Bitstream& b) {
           b.header.version = kBitstreamVersionFactorized,
           b.header.hyper_c = b.header.hyper_h = b.header.hyper_w = 0;
           std::vector<uint8_t> hyper = b.section(kSectionHyperPayload);
           b.section(kSectionPayload).insert(b.section(kSectionPayload).end(), hyper.begin(), hyper.end());
           b.sections.erase(b.sections.begin() + (b.sections[0].type == kSectionHyperPayload ? 0 : 1));
         }),
         "has a hyperprior");
  {
    // hyper_h at offset: magic 4, version, flags, name, ids, family, 6 u32
    std::vector<uint8_t> huge = as_v2;
    const size_t hyper_at = 4 + 1 + 1 + 1 + m.info().name.size() + 8 + 8 + 1 + 6 * 4;
    huge[hyper_at + 4] = huge[hyper_at + 5] = huge[hyper_at + 6] = 0x7f;
    CHECK_THROWS_WITH(decode_image(m, huge.data(), huge.size()), Catch::Contains("hyper latent shape"));
  }
  // An unknown version is refused by name.
  std::vector<uint8_t> v4 = good;
  v4[4] = 4;
  CHECK_THROWS_WITH(decode_image(m, v4.data(), v4.size()), Catch::Contains("unsupported .aec version 4"));
  // A stream with a hyper payload claiming a factorized model (forged with that model's identity), in
  // version 3 and in version 2.
  const Model factorized = Model::from_file(make_random_model({}));
  {
    const std::vector<uint8_t> f = forged([&](Bitstream& b) {
      b.header.model_name = factorized.info().name, b.header.model_hash = factorized.info().model_hash;
    });
    CHECK_THROWS_WITH(decode_image(factorized, f.data(), f.size()),
                      Catch::Contains("factorized entropy model"));
    const std::vector<uint8_t> f2 = forged_v2([&](Bitstream& b) {
      int c = 3, lh = 40, lw = 70;
      factorized.encoder().output_shape(c, lh, lw);
      b.header.model_name = factorized.info().name, b.header.model_hash = factorized.info().model_hash;
      b.header.stride = uint32_t(factorized.info().stride);
      b.header.latent_c = uint32_t(c), b.header.latent_h = uint32_t(lh), b.header.latent_w = uint32_t(lw);
    });
    CHECK_THROWS_WITH(decode_image(factorized, f2.data(), f2.size()),
                      Catch::Contains("factorized entropy model"));
  }
  // A factorized model's file given to the hyperprior model: refused by identity.
  const std::vector<uint8_t> fact = encode_image(factorized, synthetic_image(20, 20)).bytes;
  CHECK(fact[4] == kBitstreamVersion);
  CHECK_THROWS_WITH(decode_image(m, fact.data(), fact.size()), Catch::Contains("test-factorized"));
}

TEST_CASE("hyperprior: a version-2 file made before version 3 existed decodes as it did then") {
  const std::string dir = std::string(AEC_TEST_DATA) + "/v2/";
  const Model m = Model::load(dir + "model.aem");
  REQUIRE(m.info().model_hash == hyper_model().info().model_hash);  // the tests' and the fuzzer's model
  std::vector<uint8_t> old;
  const DecodeResult d = aec::testing::decodes_as_then(m, dir, kBitstreamVersionHyperprior, &old);
  CHECK(d.stream.header.hyper_c == uint32_t(hyper_spec().n));
  // Re-encoded, version 3 carries the same two payloads in a shorter container (under the kernel it was
  // made with: h_a is float, so another kernel may choose another z).
  const EncodeResult e = encode_image(m, load_image(dir + "image.png"));
  CHECK(e.bytes[4] == kBitstreamVersion);
  CHECK(e.bytes.size() < old.size());
  if (std::string(gemm_isa_name()) == "avx512") {
    const Bitstream now = parse_bitstream(e.bytes.data(), e.bytes.size());
    CHECK(*now.find(kSectionPayload) == *d.stream.find(kSectionPayload));
    CHECK(*now.find(kSectionHyperPayload) == *d.stream.find(kSectionHyperPayload));
  }
}

TEST_CASE("hyperprior model files: broken hyper networks and tables are refused with a message") {
  auto error_of = [](ModelFile f) -> std::string {
    try {
      Model::from_file(std::move(f));
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  const ModelFile good = make_random_model(hyper_spec());
  REQUIRE(error_of(good).empty());
  ModelFile f = good;
  f.meta["entropy"]["kind"] = "context";
  CHECK_THAT(error_of(f), Catch::Contains("'context' is not supported"));
  f = good;
  f.meta["entropy"]["hyper_decoder"][0]["op"] = "conv_transpose2d";
  CHECK_THAT(error_of(f), Catch::Contains("not an integer layer"));
  f = good;
  f.meta["entropy"]["hyper_decoder"][2]["out"] = 10;
  CHECK_THAT(error_of(f), Catch::Contains("hyper.h_s.2.weight"));
  f = good;
  f.tensors.erase("hyper.gaussian.threshold");
  CHECK_THAT(error_of(f), Catch::Contains("hyper.gaussian.threshold"));
  f = good;
  const int64_t S = f.tensors.at("hyper.gaussian.threshold").shape[0];
  std::vector<int32_t> thr = f.ints("hyper.gaussian.threshold", {S});
  std::swap(thr[3], thr[4]);
  f.put_ints("hyper.gaussian.threshold", {S}, thr.data());
  CHECK_THAT(error_of(f), Catch::Contains("non-decreasing"));
  f = good;
  f.meta["entropy"]["hyper_channels"] = 5;
  CHECK_THAT(error_of(f), Catch::Contains("hyper.z.median"));
  f = good;
  std::vector<int32_t> shift = f.ints("hyper.h_s.1.shift", {8});
  shift[0] = 70;
  f.put_ints("hyper.h_s.1.shift", {8}, shift.data());
  CHECK_THAT(error_of(f), Catch::Contains("shift"));
  // Hyperprior models may be in a cross-resolution family (test_codec.cpp cross-decodes them).
  f = good;
  f.meta["family"] = {{"id", "fam"}, {"role", "high"}, {"stride", 4}};
  CHECK(error_of(f).empty());
}
