// Latent codecs behind one interface: each model composes the codec its document names; encode and decode
// through the interface give the decoder exactly the encoder's latent; side information can be fixed; a
// stream missing a section the codec needs, or with a required one it does not read, is refused.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>

#include "aecodec/codec.h"
#include "aecodec/error.h"
#include "aecodec/hyperprior.h"
#include "aecodec/latent_codec.h"
#include "random_model.h"
#include "test_images.h"

using namespace aec;
using aec::testing::make_random_model;
using aec::testing::RandomModelSpec;
using aec::testing::synthetic_image;

TEST_CASE("each model composes the latent codec its document names, and decoding inverts encoding") {
  RandomModelSpec hs;
  hs.arch = "hyperprior", hs.name = "test-hyperprior";
  const Model factorized = Model::from_file(make_random_model({}));
  const Model hyperprior = Model::from_file(make_random_model(hs));
  CHECK(std::string(factorized.latent_codec().kind()) == "factorized");
  CHECK(std::string(hyperprior.latent_codec().kind()) == "hyperprior");
  CHECK(factorized.latent_codec().sections() == std::vector<uint32_t>{kSectionPayload});
  CHECK(hyperprior.latent_codec().sections() == std::vector<uint32_t>{kSectionPayload, kSectionHyperPayload});
  CHECK(factorized.info().entropy_kind == "factorized");
  CHECK(hyperprior.info().entropy_kind == "hyperprior");

  for (const Model* m : {&factorized, &hyperprior}) {
    INFO(m->info().name);
    const LatentCodec& codec = m->latent_codec();
    const Tensor y = m->analysis(image_to_tensor(synthetic_image(36, 28)));
    const std::vector<int32_t> side = codec.side_symbols(y);
    CHECK(side.empty() == (m == &factorized));
    const LatentCode a = codec.encode(y);
    const LatentCode b = codec.encode(y, &side);  // the codec's own choice, fixed: the same stream
    CHECK(a.stream.sections.size() == codec.sections().size());
    for (uint32_t t : codec.sections()) {
      REQUIRE(a.stream.find(t));
      CHECK(*a.stream.find(t) == *b.stream.find(t));
    }
    std::vector<double> bits;
    const Tensor back = codec.decode(a.stream, y.c, y.h, y.w, &bits);
    CHECK(back.data == a.latent.data);
    CHECK(bits == a.channel_bits);
    CHECK((a.hyper_bits > 0) == (m == &hyperprior));
  }
  // Other side information changes the stream but still decodes to the latent the encoder reports.
  const LatentCodec& codec = hyperprior.latent_codec();
  const Tensor y = hyperprior.analysis(image_to_tensor(synthetic_image(36, 28, 5)));
  std::vector<int32_t> side = codec.side_symbols(y);
  for (int32_t& s : side) s += 1;
  const LatentCode c = codec.encode(y, &side);
  CHECK(codec.decode(c.stream, y.c, y.h, y.w).data == c.latent.data);
  side.pop_back();
  CHECK_THROWS_WITH(codec.encode(y, &side), Catch::Contains("hyper latent size"));
  CHECK_THROWS_WITH(factorized.latent_codec().encode(y, &side), Catch::Contains("no side information"));
  // Through the model: a section the codec does not read is refused, an optional one ignored.
  LatentCode f = code_latent(factorized, factorized.analysis(image_to_tensor(synthetic_image(16, 16))));
  f.stream.section(kSectionHyperPayload) = {1, 2};
  CHECK_THROWS_WITH(decode_latent(factorized, f.stream), Catch::Contains("factorized entropy model"));
  f.stream.sections.erase(f.stream.sections.begin() + 1);
  f.stream.section(7) = {1, 2};
  CHECK(decode_latent(factorized, f.stream).data == f.latent.data);
}

TEST_CASE("the quantiser rounds half to even as std::nearbyint, clamped, non-finite residuals to 0") {
  // The reference: what the quantiser was before it was made branch-free.
  const auto reference = [](float residual) {
    const float v = std::nearbyint(residual);
    const float limit = float(aec::kMaxEscape / 2);
    return std::isfinite(v) ? int32_t(std::fmax(-limit, std::fmin(limit, v))) : 0;
  };
  std::vector<float> xs = {0.0f,
                           -0.0f,
                           0.5f,
                           -0.5f,
                           1.5f,
                           -1.5f,
                           2.5f,
                           -2.5f,
                           0.49999997f,
                           -0.49999997f,
                           524287.5f,
                           -524287.5f,
                           524288.0f,
                           524288.5f,
                           -524289.0f,
                           4194303.5f,
                           8388607.0f,
                           8388609.0f,
                           1e30f,
                           -1e30f,
                           std::numeric_limits<float>::max(),
                           std::numeric_limits<float>::lowest(),
                           std::numeric_limits<float>::denorm_min(),
                           std::numeric_limits<float>::infinity(),
                           -std::numeric_limits<float>::infinity(),
                           std::numeric_limits<float>::quiet_NaN()};
  uint32_t bits = 12345;
  for (int i = 0; i < 200000; ++i) {  // random floats over every exponent, and dense values near halves
    bits = bits * 1664525u + 1013904223u;
    float f;
    std::memcpy(&f, &bits, 4);
    xs.push_back(f);
    xs.push_back(float(int32_t(bits % 4000001u) - 2000000) * 0.25f);
  }
  for (float x : xs) {
    INFO(x);
    CHECK(aec::HyperpriorCodec::round_symbol(x) == reference(x));
  }
}
