// The quality knob (quality.h, rate_target.h): Q to lambda and gains, variable-rate files that record Q and
// decode at it, refusals of missing or forged quality sections, and encoding to a size or PSNR target.
#include <catch2/catch.hpp>
#include <cmath>
#include <thread>
#include <vector>

#include "aecodec/bitstream.h"
#include "aecodec/codec.h"
#include "aecodec/error.h"
#include "aecodec/image.h"
#include "aecodec/metrics.h"
#include "aecodec/model.h"
#include "aecodec/quality.h"
#include "aecodec/rate_target.h"
#include "random_model.h"
#include "test_images.h"
#include "variable_rate_model.h"

using namespace aec;
using aec::testing::make_random_model;
using aec::testing::RandomModelSpec;
using aec::testing::synthetic_image;
using aec::testing::with_quality_knob;

namespace {

const std::vector<double> kLambdas = {0.001, 0.004, 0.016, 0.064};

const Model& knob_model() {
  static const Model m = [] {
    RandomModelSpec s;
    s.arch = "hyperprior", s.name = "test-knob", s.n = 8, s.m = 6;
    return Model::from_file(with_quality_knob(make_random_model(s), kLambdas));
  }();
  return m;
}

std::vector<uint8_t> without_section(const std::vector<uint8_t>& bytes, uint32_t type) {
  Bitstream b = parse_bitstream(bytes.data(), bytes.size());
  std::vector<Section> kept;
  for (Section& s : b.sections)
    if (s.type != type) kept.push_back(std::move(s));
  b.sections = std::move(kept);
  return write_bitstream(b);
}

std::vector<uint8_t> with_quality(const std::vector<uint8_t>& bytes, std::vector<uint8_t> section) {
  Bitstream b = parse_bitstream(bytes.data(), bytes.size());
  b.section(kSectionQuality) = std::move(section);
  return write_bitstream(b);
}

}  // namespace

TEST_CASE("quality: Q maps to lambda log-linearly; at a trained lambda the gains are its row") {
  CHECK(quality_code(1) == 100);
  CHECK(quality_code(37.254) == 3725);
  CHECK(quality_code(100) == 10000);
  CHECK_THROWS_AS(quality_code(0.5), Error);
  CHECK_THROWS_AS(quality_code(100.01), Error);
  CHECK_THROWS_AS(quality_code(std::nan("")), Error);
  CHECK(quality_lambda(kLambdas, 100) == Approx(0.001));
  CHECK(quality_lambda(kLambdas, 10000) == Approx(0.064));
  // log lambda is linear in Q: Q = 34 and 67 are the two inner trained lambdas of four spaced by 4x.
  CHECK(quality_lambda(kLambdas, 3400) == Approx(0.004));
  CHECK(quality_lambda(kLambdas, 6700) == Approx(0.016));
  double last = 0;
  for (int code = 100; code <= 10000; code += 99) {
    const double l = quality_lambda(kLambdas, code);
    CHECK(l > last);
    last = l;
  }
  const std::vector<float> rows = {1, 2, 4, 8, 10, 20, 40, 80};  // 4 lambdas x 2 channels
  const std::vector<float> at1 = interpolate_gains(kLambdas, rows, 2, 0.004);
  CHECK(at1[0] == Approx(4));
  CHECK(at1[1] == Approx(8));
  // Half way in log lambda between 0.004 and 0.016: the geometric mean of the two rows.
  const std::vector<float> mid = interpolate_gains(kLambdas, rows, 2, 0.008);
  CHECK(mid[0] == Approx(std::sqrt(4.0 * 10.0)));
  CHECK(mid[1] == Approx(std::sqrt(8.0 * 20.0)));
  CHECK(read_quality_section(quality_section(3725)) == 3725);
  CHECK_THROWS_WITH(read_quality_section({0x32}), Catch::Contains("outside"));
  CHECK_THROWS_AS(read_quality_section({}), Error);
  CHECK_THROWS_AS(read_quality_section({0x80, 0x80, 0x80, 0x01}), Error);
}

TEST_CASE("variable-rate model: the rate rises with Q, the file records Q, and decodes at it") {
  const Model& m = knob_model();
  REQUIRE(m.variable_rate());
  CHECK(m.info().lambdas == kLambdas);
  const Image im = synthetic_image(96, 72, 11);
  size_t last = 0;
  for (double q : {1.0, 25.0, 37.25, 50.0, 75.0, 100.0}) {
    INFO("Q " << q);
    EncodeOptions o;
    o.quality = q;
    const EncodeResult e = encode_image(m, im, o);
    CHECK(e.quality == Approx(q));
    CHECK(e.bytes.size() >= last);
    last = e.bytes.size();
    const Bitstream b = parse_bitstream(e.bytes.data(), e.bytes.size());
    REQUIRE(b.find(kSectionQuality));
    CHECK(read_quality_section(*b.find(kSectionQuality)) == quality_code(q));
    const DecodeResult d = decode_image(m, e.bytes.data(), e.bytes.size());
    const Model at = m.at_quality(q);
    CHECK(at.info().id == m.info().id);
    CHECK(!at.variable_rate());
    const Image expect = crop(tensor_to_image(at.synthesis(e.latent)), im.width, im.height);
    CHECK(d.image.rgb == expect.rgb);
  }
  // Over the whole range the rate changes by far more than the container's overhead.
  EncodeOptions lo, hi;
  lo.quality = 1, hi.quality = 100;
  CHECK(encode_image(m, im, hi).bytes.size() > encode_image(m, im, lo).bytes.size() + 200);
  // No quality: the model's default.
  CHECK(encode_image(m, im).quality == Approx(50));
}

TEST_CASE("variable-rate files: a missing, forged or foreign quality is refused, never decoded wrongly") {
  const Model& m = knob_model();
  const Image im = synthetic_image(40, 24, 2);
  EncodeOptions o;
  o.quality = 60;
  const std::vector<uint8_t> good = encode_image(m, im, o).bytes;
  const std::vector<uint8_t> none = without_section(good, kSectionQuality);
  CHECK_THROWS_WITH(decode_image(m, none.data(), none.size()), Catch::Contains("no quality section"));
  for (const std::vector<uint8_t>& bad : {with_quality(good, {0x32}), with_quality(good, {0x91, 0x4f}),
                                          with_quality(good, {0x80}), with_quality(good, {})}) {
    CHECK_THROWS_AS(decode_image(m, bad.data(), bad.size()), Error);
  }
  // A model at one quality does not decode a file made at another.
  const Model at = m.at_quality(30);
  CHECK_THROWS_WITH(decode_image(at, good.data(), good.size()), Catch::Contains("another quality"));
  // A single-rate model has no knob.
  RandomModelSpec s;
  s.arch = "hyperprior", s.n = 8, s.m = 6;
  const Model single = Model::from_file(make_random_model(s));
  CHECK_THROWS_WITH(encode_image(single, im, o), Catch::Contains("single-rate"));
  CHECK_THROWS_WITH(single.at_quality(50), Catch::Contains("single-rate"));
  // Broken knob documents are refused when the model loads.
  ModelFile f = with_quality_knob(make_random_model(s), kLambdas);
  ModelFile bad = f;
  bad.meta["variable_rate"]["lambdas"] = {0.01, 0.001};
  CHECK_THROWS_WITH(Model::from_file(bad), Catch::Contains("ascending"));
  bad = f;
  bad.meta["variable_rate"]["default_quality"] = 0;
  CHECK_THROWS_WITH(Model::from_file(bad), Catch::Contains("default_quality"));
  bad = f;
  std::vector<float> neg(kLambdas.size() * 6, -1.0f);
  bad.put_floats("latent.gain", {int64_t(kLambdas.size()), 6}, neg.data());
  CHECK_THROWS_WITH(Model::from_file(bad), Catch::Contains("latent.gain"));
}

TEST_CASE("encoding to a size or a PSNR: the chosen quality meets the target, next to one that does not") {
  const Model& m = knob_model();
  const Image im = synthetic_image(96, 72, 5);
  EncodeOptions lo, hi;
  lo.quality = 1, hi.quality = 100;
  const size_t smallest = encode_image(m, im, lo).bytes.size(),
               largest = encode_image(m, im, hi).bytes.size();
  REQUIRE(largest > smallest + 100);
  const uint64_t budget = (smallest + largest) / 2;
  const TargetResult t = encode_to_size(m, im, budget);
  CHECK(t.encoded.bytes.size() <= budget);
  CHECK(t.encoded.quality > 1);
  CHECK(t.encoded.quality < 100);
  EncodeOptions up;
  up.quality = std::min(100.0, t.encoded.quality + 1);
  CHECK(encode_image(m, im, up).bytes.size() > budget);
  CHECK(t.trials <= 12);
  CHECK_THROWS_WITH(encode_to_size(m, im, smallest - 1), Catch::Contains(std::to_string(smallest)));
  CHECK(encode_to_size(m, im, largest).encoded.quality == 100);

  const double p_lo = psnr(decode_image(m, encode_image(m, im, lo).bytes.data(), smallest).image, im);
  const double p_hi = psnr(decode_image(m, encode_image(m, im, hi).bytes.data(), largest).image, im);
  REQUIRE(p_hi > p_lo + 0.5);
  const double target = (p_lo + p_hi) / 2;
  const TargetResult p = encode_to_psnr(m, im, target);
  CHECK(p.psnr >= target);
  CHECK(psnr(decode_image(m, p.encoded.bytes.data(), p.encoded.bytes.size()).image, im) == Approx(p.psnr));
  CHECK(p.encoded.quality < 100);
  CHECK_THROWS_WITH(encode_to_psnr(m, im, p_hi + 5), Catch::Contains("cannot reach"));
}

TEST_CASE("a variable-rate context model refines at its quality's lambda, never worse than effort 0") {
  RandomModelSpec s;
  s.arch = "channel", s.name = "test-knob-channel", s.n = 8, s.m = 6;
  const Model m = Model::from_file(with_quality_knob(make_random_model(s), kLambdas));
  const Image im = synthetic_image(40, 32, 9);
  for (double q : {20.0, 80.0}) {
    INFO("Q " << q);
    const Model at = m.at_quality(q);
    CHECK(at.file().meta["training"]["lambda"].get<double>() ==
          Approx(quality_lambda(kLambdas, quality_code(q))));
    EncodeOptions o;
    o.quality = q;
    const EncodeResult plain = encode_image(m, im, o);
    o.effort = 2;
    const EncodeResult refined = encode_image(m, im, o);
    CHECK(refined.quality == Approx(q));
    const DecodeResult d = decode_image(m, refined.bytes.data(), refined.bytes.size());
    CHECK(d.image.rgb == crop(tensor_to_image(at.synthesis(refined.latent)), im.width, im.height).rgb);
    // The loss refinement minimises, measured on the files: never above effort 0's.
    const double lambda = quality_lambda(kLambdas, quality_code(q));
    auto loss = [&](const EncodeResult& e) {
      const Image out = decode_image(m, e.bytes.data(), e.bytes.size()).image;
      double sum = 0;
      for (size_t i = 0; i < out.rgb.size(); ++i) {
        const double dd = (double(out.rgb[i]) - im.rgb[i]) / 255.0;
        sum += dd * dd;
      }
      const double px = double(im.width) * im.height;
      return 8.0 * double(e.bytes.size()) / px + lambda * 255.0 * 255.0 * sum / (3.0 * px);
    };
    CHECK(loss(refined) <= loss(plain) * 1.001);
  }
}

TEST_CASE("a variable-rate model keeps its last quality's transforms, shared and safe across threads") {
  const Model& m = knob_model();
  const auto a = m.at_quality_cached(40), b = m.at_quality_cached(40);
  CHECK(a.get() == b.get());  // the second call reuses the first's fold
  const auto c = m.at_quality_cached(70);
  CHECK(c.get() != a.get());
  CHECK(a->info().quality_code == 4000);  // a caller's copy outlives its replacement in the cache
  CHECK(c->info().quality_code == 7000);
  // Threads coding at alternating qualities make the files one thread makes.
  const Image im = synthetic_image(48, 40, 8);
  std::vector<std::vector<uint8_t>> alone;
  for (double q : {20.0, 60.0, 90.0}) {
    EncodeOptions o;
    o.quality = q;
    alone.push_back(encode_image(m, im, o).bytes);
  }
  std::vector<std::vector<std::vector<uint8_t>>> got(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int k = 0; k < 6; ++k) {
        EncodeOptions o;
        o.quality = std::vector<double>{20.0, 60.0, 90.0}[size_t(k + t) % 3];
        got[size_t(t)].push_back(encode_image(m, im, o).bytes);
      }
    });
  for (std::thread& t : threads) t.join();
  for (int t = 0; t < 4; ++t)
    for (int k = 0; k < 6; ++k) CHECK(got[size_t(t)][size_t(k)] == alone[size_t(k + t) % 3]);
}
