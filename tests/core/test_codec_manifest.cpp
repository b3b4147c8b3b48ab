// A codec of two variable-rate networks behind one quality knob (codec_manifest.h, quality_codec.h): the
// manifest's checks, the knob's map to members, files that record the member and decode without the
// manifest, and a size target searched across both members.
#include <catch2/catch.hpp>
#include <map>

#include "aecodec/bitstream.h"
#include "aecodec/codec.h"
#include "aecodec/codec_manifest.h"
#include "aecodec/error.h"
#include "aecodec/file_io.h"
#include "aecodec/quality.h"
#include "aecodec/quality_codec.h"
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

const char* kTwoMembers = R"({
  "format": "aecodec-codec", "version": 1, "name": "pair", "default_quality": 40,
  "members": [
    {"model": "pair-narrow", "quality": [1, 60], "model_quality": [1, 60]},
    {"model": "pair-wide", "quality": [60, 100], "model_quality": [1, 100]}
  ]})";

// Two networks of different widths and trained ranges, as the shipped narrow and wide context models.
Model member_model(const std::string& name) {
  RandomModelSpec s;
  s.arch = "channel", s.name = name;
  s.n = name == "pair-wide" ? 12 : 8, s.m = name == "pair-wide" ? 8 : 6;
  s.seed = name == "pair-wide" ? 7 : 3;
  const std::vector<double> lambdas =
      name == "pair-wide" ? std::vector<double>{0.016, 0.064} : std::vector<double>{0.001, 0.004, 0.016};
  return Model::from_file(with_quality_knob(make_random_model(s), lambdas));
}

// A codec whose loader counts its calls.
QualityCodec pair_codec(std::map<std::string, int>& loads) {
  return QualityCodec(CodecManifest::parse(kTwoMembers), [&loads](const std::string& name) {
    ++loads[name];
    return member_model(name);
  });
}

std::string with(const std::string& from, const std::string& to) {
  std::string s = kTwoMembers;
  const size_t at = s.find(from);
  REQUIRE(at != std::string::npos);
  return s.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("codec manifest: the knob maps to a member and the member's own quality, affine in each span") {
  const CodecManifest m = CodecManifest::parse(kTwoMembers);
  CHECK(m.name == "pair");
  CHECK(m.default_quality == 40);
  CHECK(m.at(1).member == 0);
  CHECK(m.at(1).quality == 1);
  CHECK(m.at(37.25).quality == 37.25);
  CHECK(m.at(60).member == 0);  // a boundary belongs to the member below
  CHECK(m.at(60).quality == 60);
  CHECK(m.at(60.01).member == 1);
  CHECK(m.at(80).member == 1);
  CHECK(m.at(80).quality == Approx(50.5));
  CHECK(m.at(100).quality == 100);
  CHECK_THROWS_AS(m.at(0.5), Error);
  CHECK_THROWS_AS(m.at(101), Error);
  // The inverse: where a member's quality sits on the knob, and nowhere outside its span.
  CHECK(m.knob_quality(0, 37.25) == 37.25);
  CHECK(m.knob_quality(0, 61) < 0);
  CHECK(m.knob_quality(1, 50.5) == Approx(80));
  CHECK(m.knob_quality(1, 1) < 0);  // knob 60 is the narrow member's
  CHECK(m.knob_quality(2, 50) < 0);
  for (double q = 1; q <= 100; q += 0.37) {
    const CodecManifest::Setting s = m.at(q);
    if (s.member == 1 && s.quality == 1) continue;
    CHECK(m.knob_quality(s.member, s.quality) == Approx(q).margin(0.02));
  }
}

TEST_CASE("codec manifest: malformed or inconsistent manifests are refused with the reason") {
  CHECK_THROWS_WITH(CodecManifest::parse("{"), Catch::Contains("not valid JSON"));
  CHECK_THROWS_WITH(CodecManifest::parse(with("aecodec-codec", "other")), Catch::Contains("format"));
  CHECK_THROWS_WITH(CodecManifest::parse(with("\"version\": 1", "\"version\": 9")),
                    Catch::Contains("version 9"));
  CHECK_THROWS_WITH(
      CodecManifest::parse(with("[60, 100], \"model_quality\"", "[61, 100], \"model_quality\"")),
      Catch::Contains("must start where"));
  CHECK_THROWS_WITH(CodecManifest::parse(with("[1, 60], \"model_quality\"", "[2, 60], \"model_quality\"")),
                    Catch::Contains("start at quality 1"));
  CHECK_THROWS_WITH(CodecManifest::parse(with("[60, 100], \"model_quality\"", "[60, 90], \"model_quality\"")),
                    Catch::Contains("end at quality 100"));
  CHECK_THROWS_WITH(CodecManifest::parse(with("\"model_quality\": [1, 100]", "\"model_quality\": [100, 1]")),
                    Catch::Contains("must rise"));
  CHECK_THROWS_WITH(CodecManifest::parse(with("\"model_quality\": [1, 100]", "\"model_quality\": [1]")),
                    Catch::Contains("pair of numbers"));
  CHECK_THROWS_WITH(CodecManifest::parse(with("\"default_quality\": 40", "\"default_quality\": 400")),
                    Catch::Contains("default_quality"));
  CHECK_THROWS_WITH(CodecManifest::parse(with("\"model\": \"pair-wide\"", "\"model\": 3")),
                    Catch::Contains("\"model\" name"));
  CHECK_THROWS_WITH(CodecManifest::parse(with("\"members\": [", "\"members\": [], \"x\": [")),
                    Catch::Contains("at least one"));
  // A field of another JSON type is the core's error too, not the JSON library's.
  CHECK_THROWS_AS(CodecManifest::parse(with("\"aecodec-codec\"", "3")), Error);
  CHECK_THROWS_WITH(CodecManifest::parse(with("\"version\": 1", "\"version\": \"1\"")),
                    Catch::Contains("wrong type"));
  CHECK_THROWS_WITH(CodecManifest::parse(with("\"default_quality\": 40", "\"default_quality\": \"40\"")),
                    Catch::Contains("wrong type"));
}

TEST_CASE("a two-network codec: each quality codes with its member, loaded when first needed") {
  std::map<std::string, int> loads;
  const QualityCodec codec = pair_codec(loads);
  const Image im = synthetic_image(48, 40, 4);
  EncodeOptions o;
  o.quality = 30;
  const EncodeResult low = codec.encode(im, o);
  CHECK(low.quality == 30);
  CHECK(loads["pair-narrow"] == 1);
  CHECK(loads.count("pair-wide") == 0);  // not needed yet
  o.quality = 80;
  const EncodeResult high = codec.encode(im, o);
  CHECK(high.quality == 80);
  CHECK(loads["pair-wide"] == 1);

  // The files name the member and its quality: the member alone decodes them, the codec does too.
  const Bitstream bl = parse_bitstream(low.bytes.data(), low.bytes.size());
  const Bitstream bh = parse_bitstream(high.bytes.data(), high.bytes.size());
  CHECK(bl.header.model_name == "pair-narrow");
  CHECK(bh.header.model_name == "pair-wide");
  CHECK(read_quality_section(*bh.find(kSectionQuality)) == 5050);  // the wide member's Q 50.5
  const Model wide = member_model("pair-wide");
  const DecodeResult alone = decode_image(wide, high.bytes.data(), high.bytes.size());
  const DecodeResult through = codec.decode(high.bytes.data(), high.bytes.size());
  CHECK(alone.image.rgb == through.image.rgb);
  // And it is the file the member makes at that quality.
  EncodeOptions member_o;
  member_o.quality = 50.5;
  CHECK(encode_image(wide, im, member_o).bytes == high.bytes);
  CHECK(codec.decode(low.bytes.data(), low.bytes.size()).image.width == 48);
  CHECK(loads["pair-narrow"] == 1);  // each member loaded once
  CHECK(loads["pair-wide"] == 1);

  // The default quality, and another codec's file refused by name.
  const EncodeResult def = codec.encode(im);
  CHECK(def.quality == 40);
  RandomModelSpec s;
  s.arch = "hyperprior", s.name = "stranger";
  const Model stranger = Model::from_file(make_random_model(s));
  const EncodeResult foreign = encode_image(stranger, im);
  CHECK_THROWS_WITH(codec.decode(foreign.bytes.data(), foreign.bytes.size()),
                    Catch::Contains("not a member of codec 'pair'"));
}

TEST_CASE("a two-network codec: a size target is searched over the whole knob, both members") {
  std::map<std::string, int> loads;
  const QualityCodec codec = pair_codec(loads);
  const Image im = synthetic_image(64, 48, 6);
  EncodeOptions o;
  o.quality = 60;
  const size_t narrow_top = codec.encode(im, o).bytes.size();
  o.quality = 100;
  const size_t wide_top = codec.encode(im, o).bytes.size();
  REQUIRE(wide_top > narrow_top);
  const TargetResult t = encode_to_size(codec, im, wide_top - 1);
  CHECK(t.encoded.bytes.size() <= wide_top - 1);
  CHECK(t.encoded.quality > 60);  // found in the wide member's span
  CHECK(parse_bitstream(t.encoded.bytes.data(), t.encoded.bytes.size()).header.model_name == "pair-wide");
  CHECK(encode_to_size(codec, im, narrow_top).encoded.quality >= 60);
}

TEST_CASE("a codec's member must be the named, variable-rate model") {
  const QualityCodec wrong(CodecManifest::parse(kTwoMembers),
                           [](const std::string&) { return member_model("pair-wide"); });
  CHECK_THROWS_WITH(wrong.encode(synthetic_image(16, 16, 1)), Catch::Contains("loaded a model named"));
  RandomModelSpec s;
  s.arch = "hyperprior", s.name = "pair-narrow";
  const QualityCodec single_rate(CodecManifest::parse(kTwoMembers),
                                 [&](const std::string&) { return Model::from_file(make_random_model(s)); });
  CHECK_THROWS_WITH(single_rate.encode(synthetic_image(16, 16, 1)), Catch::Contains("single-rate"));
}
