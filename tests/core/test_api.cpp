// The public API (include/aecodec/aecodec.h): the same bytes and pixels as the core functions it wraps, row
// strides honoured, and every failure reported as aecodec::Error (never as the core's own aec::Error).
#include <catch2/catch.hpp>

#include <aecodec/aecodec.h>

#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>
#include <tuple>

#include "aecodec/codec.h"
#include "aecodec/model.h"
#include "random_model.h"
#include "test_images.h"
#include "variable_rate_model.h"

using aec::testing::make_random_model;
using aec::testing::RandomModelSpec;
using aec::testing::synthetic_image;

namespace {

std::vector<uint8_t> model_bytes(const std::string& name, const std::string& arch) {
  RandomModelSpec spec;
  spec.name = name, spec.arch = arch;
  aec::ModelFile f = make_random_model(spec);
  f.meta["training"]["lambda"] = 0.01;  // what refinement (effort > 0) optimises for
  return f.serialize();
}

aecodec::Image public_image(const aec::Image& im) {
  aecodec::Image out;
  out.width = im.width, out.height = im.height, out.rgb = im.rgb;
  return out;
}

}  // namespace

TEST_CASE("the API makes the core's bytes and pixels") {
  for (const char* arch : {"factorized", "hyperprior"}) {
    INFO(arch);
    const std::vector<uint8_t> bytes = model_bytes(std::string("api-") + arch, arch);
    const aecodec::Codec codec = aecodec::Codec::load(bytes.data(), bytes.size());
    const aec::Model core = aec::Model::from_file(aec::ModelFile::parse(bytes.data(), bytes.size()));
    CHECK(codec.info().name == core.info().name);
    CHECK(codec.info().id == core.info().id);
    CHECK(codec.info().arch == arch);

    const aec::Image im = synthetic_image(37, 21);
    const std::vector<uint8_t> file = codec.encode(public_image(im));
    CHECK(file == aec::encode_image(core, im).bytes);

    const aecodec::FileInfo info = aecodec::read_info(file);
    CHECK(info.version == 3);
    CHECK(info.model_name == core.info().name);
    CHECK(info.model_id == core.info().id);
    CHECK(info.width == 37);
    CHECK(info.height == 21);
    CHECK(info.family.empty());

    const aecodec::Image decoded = codec.decode(file);
    CHECK(decoded.width == 37);
    CHECK(decoded.height == 21);
    CHECK(decoded.rgb == aec::decode_image(core, file.data(), file.size()).image.rgb);
    CHECK(std::isfinite(aecodec::psnr(public_image(im), decoded)));

    // A copy shares the model and codes the same.
    const aecodec::Codec copy = codec;
    CHECK(copy.encode(public_image(im)) == file);
  }
}

TEST_CASE("the API reads rows a stride apart") {
  const std::vector<uint8_t> bytes = model_bytes("api-stride", "factorized");
  const aecodec::Codec codec = aecodec::Codec::load(bytes.data(), bytes.size());
  const aec::Image im = synthetic_image(19, 11);
  const size_t stride = 19 * 3 + 7;
  std::vector<uint8_t> padded(stride * 11, 0xab);
  for (int y = 0; y < 11; ++y) std::memcpy(&padded[y * stride], &im.rgb[size_t(y) * 19 * 3], 19 * 3);
  CHECK(codec.encode(padded.data(), 19, 11, stride) == codec.encode(public_image(im)));
  CHECK_THROWS_WITH(codec.encode(padded.data(), 19, 11, 19 * 3 - 1), Catch::Contains("stride"));
}

TEST_CASE("the API reports every failure as aecodec::Error") {
  const std::vector<uint8_t> bytes = model_bytes("api-errors", "factorized");
  const aecodec::Codec codec = aecodec::Codec::load(bytes.data(), bytes.size());
  const aecodec::Image im = public_image(synthetic_image(16, 16));
  const std::vector<uint8_t> file = codec.encode(im);

  std::vector<uint8_t> corrupt = file;
  corrupt[corrupt.size() - 6] ^= 0x40;
  CHECK_THROWS_AS(codec.decode(corrupt), aecodec::Error);
  CHECK_THROWS_WITH(codec.decode(corrupt), Catch::Contains("checksum"));
  CHECK_THROWS_WITH(codec.decode(file.data(), file.size() / 2), Catch::Contains("truncated"));
  CHECK_THROWS_WITH(aecodec::read_info(file.data(), 3), Catch::Contains("not an .aec file"));
  CHECK_THROWS_AS(codec.decode(nullptr, 0), aecodec::Error);

  const std::vector<uint8_t> other_bytes = model_bytes("api-other", "factorized");
  const aecodec::Codec other = aecodec::Codec::load(other_bytes.data(), other_bytes.size());
  CHECK_THROWS_WITH(other.decode(file), Catch::Contains("made by model 'api-errors'"));

  aecodec::DecodeOptions small;
  small.max_side = 8;
  CHECK_THROWS_WITH(codec.decode(file, small), Catch::Contains("over the decoder's limits"));

  CHECK_THROWS_AS(codec.encode(im.rgb.data(), 0, 16, 48), aecodec::Error);
  CHECK_THROWS_AS(codec.encode(nullptr, 16, 16, 48), aecodec::Error);
  aecodec::Image short_image = im;
  short_image.rgb.pop_back();
  CHECK_THROWS_WITH(codec.encode(short_image), Catch::Contains("width * height * 3"));
  aecodec::EncodeOptions bad_effort;
  bad_effort.effort = 10;
  CHECK_THROWS_WITH(codec.encode(im, bad_effort), Catch::Contains("effort must be 0 to 9"));
  // Row bands: the same pixels from a file in 3 bands; more than the format allows is refused.
  aecodec::EncodeOptions banded;
  banded.bands = 3;
  const std::vector<uint8_t> banded_file = codec.encode(im, banded);
  CHECK(banded_file != file);
  CHECK(codec.decode(banded_file).rgb == codec.decode(file).rgb);
  banded.bands = 257;
  CHECK_THROWS_WITH(codec.encode(im, banded), Catch::Contains("payload bands 257"));

  CHECK_THROWS_AS(aecodec::Codec::load(file.data(), file.size()), aecodec::Error);
  CHECK_THROWS_WITH(aecodec::Codec::load("/nonexistent/model.aem"),
                    Catch::Contains("/nonexistent/model.aem"));
  CHECK_THROWS_AS(aecodec::load_image(file.data(), file.size()), aecodec::Error);
  CHECK_THROWS_AS(aecodec::psnr(im, public_image(synthetic_image(8, 8))), aecodec::Error);
}

TEST_CASE("the API's progress callback cancels an encode") {
  const std::vector<uint8_t> bytes = model_bytes("api-cancel", "factorized");
  const aecodec::Codec codec = aecodec::Codec::load(bytes.data(), bytes.size());
  aecodec::EncodeOptions o;
  o.effort = 1;
  int calls = 0;
  o.progress = [&](double) { return ++calls < 2; };
  CHECK_THROWS_AS(codec.encode(public_image(synthetic_image(16, 16)), o), aecodec::Cancelled);
  CHECK(calls == 2);
}

TEST_CASE("one Codec codes on several threads at once") {
  const std::vector<uint8_t> bytes = model_bytes("api-threads", "hyperprior");
  const aecodec::Codec codec = aecodec::Codec::load(bytes.data(), bytes.size());
  std::vector<aecodec::Image> images;
  std::vector<std::vector<uint8_t>> expected;
  for (uint32_t seed = 1; seed <= 4; ++seed) {
    images.push_back(public_image(synthetic_image(40, 24, seed)));
    expected.push_back(codec.encode(images.back()));
  }
  std::vector<std::vector<uint8_t>> got(4);
  std::vector<aecodec::Image> decoded(4);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < 4; ++i)
    threads.emplace_back([&, i] {
      got[i] = codec.encode(images[i]);
      decoded[i] = codec.decode(got[i]);
    });
  for (std::thread& t : threads) t.join();
  for (size_t i = 0; i < 4; ++i) {
    CHECK(got[i] == expected[i]);
    CHECK(decoded[i].rgb == codec.decode(expected[i]).rgb);
  }
}

TEST_CASE("the API's PNG helpers round-trip") {
  const aecodec::Image im = public_image(synthetic_image(9, 5));
  const std::vector<uint8_t> png = aecodec::encode_png(im);
  const aecodec::Image back = aecodec::load_image(png.data(), png.size());
  CHECK(back.width == 9);
  CHECK(back.height == 5);
  CHECK(back.rgb == im.rgb);
  CHECK(std::isinf(aecodec::psnr(im, back)));
  CHECK(std::string(aecodec::version()).find('.') != std::string::npos);
}

TEST_CASE("the API loads a codec manifest: one quality knob over its member networks") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("aecodec-api-codec-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::vector<double> narrow_l = {0.001, 0.004, 0.016}, wide_l = {0.016, 0.064};
  std::map<std::string, aec::Model> members;
  for (const auto& [name, lambdas] : {std::make_pair(std::string("api-narrow"), narrow_l),
                                      std::make_pair(std::string("api-wide"), wide_l)}) {
    RandomModelSpec spec;
    spec.name = name, spec.arch = "channel", spec.seed = name == "api-wide" ? 5 : 2;
    const aec::ModelFile f = aec::testing::with_quality_knob(make_random_model(spec), lambdas);
    f.write((dir / (name + ".aem")).string());
    members.emplace(name, aec::Model::from_file(f));
  }
  {
    std::ofstream(dir / "pair.codec.json") << R"({"format": "aecodec-codec", "version": 1, "name": "pair",
      "default_quality": 50, "members": [
      {"model": "api-narrow", "quality": [1, 70], "model_quality": [1, 70]},
      {"model": "api-wide", "quality": [70, 100], "model_quality": [1, 100]}]})";
  }
  const aecodec::Codec codec = aecodec::Codec::load((dir / "pair.codec.json").string());
  CHECK(codec.info().name == "pair");
  CHECK(codec.info().variable_rate);
  CHECK(codec.info().default_quality == 50);
  CHECK(codec.info().members == std::vector<std::string>{"api-narrow", "api-wide"});
  const aec::Image im = synthetic_image(40, 32, 3);
  for (const auto& [knob, member, member_q] :
       {std::make_tuple(30.0, "api-narrow", 30.0), std::make_tuple(85.0, "api-wide", 50.5)}) {
    INFO("quality " << knob);
    aecodec::EncodeOptions o;
    o.quality = knob;
    const std::vector<uint8_t> bytes = codec.encode(public_image(im), o);
    aec::EncodeOptions co;
    co.quality = member_q;
    CHECK(bytes == aec::encode_image(members.at(member), im, co).bytes);
    CHECK(aecodec::read_info(bytes).model_name == member);
    CHECK(codec.decode(bytes).rgb ==
          aec::decode_image(members.at(member), bytes.data(), bytes.size()).image.rgb);
  }
  // A single-rate model refuses a quality; a manifest whose member is missing says which file.
  aecodec::EncodeOptions q;
  q.quality = 40;
  const std::vector<uint8_t> single = model_bytes("api-single", "hyperprior");
  CHECK_THROWS_AS(aecodec::Codec::load(single.data(), single.size()).encode(public_image(im), q),
                  aecodec::Error);
  fs::remove(dir / "api-wide.aem");
  const aecodec::Codec broken = aecodec::Codec::load((dir / "pair.codec.json").string());
  q.quality = 90;
  CHECK_THROWS_WITH(broken.encode(public_image(im), q), Catch::Contains("api-wide.aem"));
  fs::remove_all(dir);
}
