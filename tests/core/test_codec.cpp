// Whole-image coding: real files round-trip at awkward sizes, the decoded symbols are the encoded ones, and
// damaged, forged or mismatched files are refused.
#include <catch2/catch.hpp>

#include "aecodec/codec.h"
#include "aecodec/error.h"
#include "aecodec/file_io.h"
#include "aecodec/gemm.h"
#include "aecodec/metrics.h"
#include "aecodec/parallel.h"
#include "aecodec/tile.h"
#include "damaged_files.h"
#include "legacy_bitstream.h"
#include "old_files.h"
#include "random_model.h"
#include "test_images.h"
#include "variable_rate_model.h"

using namespace aec;
using aec::testing::make_random_model;
using aec::testing::RandomModelSpec;
using aec::testing::synthetic_image;
using aec::testing::with_quality_knob;
using aec::testing::write_legacy_bitstream;

namespace {
const Model& test_model() {
  static const Model m = Model::from_file(make_random_model({}));
  return m;
}
}  // namespace

TEST_CASE("the version-1 header still round-trips every field") {
  Bitstream b;
  b.header.version = kBitstreamVersionFactorized;
  b.header.model_name = "some-model", b.header.model_hash = 0x0123456789abcdefull, b.header.entropy_hash = 42;
  b.header.family_id = "fam", b.header.width = 17, b.header.height = 33, b.header.stride = 4;
  b.header.latent_c = 6, b.header.latent_h = 9, b.header.latent_w = 5;
  b.section(kSectionPayload) = {1, 2, 3, 250};
  const std::vector<uint8_t> bytes = write_legacy_bitstream(b);
  const Bitstream c = parse_bitstream(bytes.data(), bytes.size());
  CHECK(c.header.version == 1);
  CHECK(c.header.model_name == "some-model");
  CHECK(c.header.model_hash == 0x0123456789abcdefull);
  CHECK(c.header.entropy_hash == 42);
  CHECK(c.header.family_id == "fam");
  CHECK(c.header.width == 17);
  CHECK(c.header.height == 33);
  CHECK(c.header.stride == 4);
  CHECK(c.header.latent_c == 6);
  CHECK(c.header.latent_h == 9);
  CHECK(c.header.latent_w == 5);
  REQUIRE(c.find(kSectionPayload));
  CHECK(*c.find(kSectionPayload) == *b.find(kSectionPayload));
  CHECK(!c.find(kSectionHyperPayload));
}

TEST_CASE(
    "images of awkward sizes round-trip through a real file, and the decoder sees the encoder's symbols") {
  const Model& m = test_model();
  for (auto [w, h] : std::vector<std::pair<int, int>>{{1, 1}, {17, 33}, {33, 70}, {768, 512}}) {
    const Image im = synthetic_image(w, h, uint32_t(w * 31 + h));
    const EncodeResult e = encode_image(m, im);
    const std::string path = "codec_test_" + std::to_string(w) + "x" + std::to_string(h) + ".aec";
    write_file_atomic(path, e.bytes);
    const std::vector<uint8_t> back = read_file(path);
    std::remove(path.c_str());
    REQUIRE(back == e.bytes);
    const DecodeResult d = decode_image(m, back.data(), back.size());
    CHECK(d.image.width == w);
    CHECK(d.image.height == h);
    // What the decoder computed must be exactly synthesis(dequantised latent the encoder produced): the
    // entropy decode returned the same symbols.
    const Image expect = crop(tensor_to_image(m.synthesis(e.latent)), w, h);
    CHECK(d.image.rgb == expect.rgb);
    CHECK(d.stream.header.version == kBitstreamVersion);
    CHECK(d.stream.header.latent_h == uint32_t((h + 3) / 4));
    double bits = 0;
    for (double b : e.channel_bits) bits += b;
    REQUIRE(d.stream.find(kSectionPayload));
    const double payload = double(d.stream.find(kSectionPayload)->size());
    CHECK(payload * 8 >= bits - 64);
    CHECK(payload * 8 <= bits * 1.05 + 64);
  }
}

TEST_CASE("encoding is deterministic and independent of the thread count") {
  const Image im = synthetic_image(45, 29);
  set_num_threads(1);
  const auto a = encode_image(test_model(), im).bytes;
  set_num_threads(3);
  const auto b = encode_image(test_model(), im).bytes;
  set_num_threads(0);
  CHECK(a == b);
}

TEST_CASE("damaged and forged .aec files are refused, never crash") {
  const Model& m = test_model();
  const std::vector<uint8_t> good = aec::testing::DamagedFiles(m, synthetic_image(40, 24), 0x10).good;
  std::vector<uint8_t> longer = good;
  longer.push_back(0);
  CHECK_THROWS_WITH(decode_image(m, longer.data(), longer.size()), Catch::Contains("unexpected bytes"));
  // A forged header with a valid checksum: a huge image must be refused by the limits before decoding.
  Bitstream b = parse_bitstream(good.data(), good.size());
  b.header.width = b.header.height = 60000;
  const std::vector<uint8_t> forged = write_bitstream(b);
  CHECK_THROWS_WITH(decode_image(m, forged.data(), forged.size()), Catch::Contains("limits"));
  // Another image size than the payload was coded for: the derived latent grid has more symbols than the
  // payload holds.
  b = parse_bitstream(good.data(), good.size());
  b.header.width += 8;
  const std::vector<uint8_t> wider = write_bitstream(b);
  CHECK_THROWS_WITH(decode_image(m, wider.data(), wider.size()), Catch::Contains("corrupt"));
  // A version-1 file's stored latent shape that does not match the image size.
  b = open_stream(m, good.data(), good.size(), false);
  b.header.version = kBitstreamVersionFactorized, b.header.stride = uint32_t(m.info().stride);
  b.header.latent_w += 1;
  const std::vector<uint8_t> wrong_shape = write_legacy_bitstream(b);
  CHECK_THROWS_WITH(decode_image(m, wrong_shape.data(), wrong_shape.size()), Catch::Contains("latent shape"));
  b.header.latent_w -= 1;
  const std::vector<uint8_t> right_shape = write_legacy_bitstream(b);
  CHECK(decode_image(m, right_shape.data(), right_shape.size()).image.rgb ==
        decode_image(m, good.data(), good.size()).image.rgb);
  // A payload that is not what the header promises (re-checksummed garbage).
  b = parse_bitstream(good.data(), good.size());
  for (auto& x : b.section(kSectionPayload)) x = uint8_t(x * 37 + 11);
  const std::vector<uint8_t> garbage = write_bitstream(b);
  CHECK_THROWS_AS(decode_image(m, garbage.data(), garbage.size()), Error);
  // No payload at all.
  b = parse_bitstream(good.data(), good.size());
  b.sections.clear();
  const std::vector<uint8_t> empty = write_bitstream(b);
  CHECK_THROWS_WITH(decode_image(m, empty.data(), empty.size()), Catch::Contains("no payload section"));
}

TEST_CASE("a file made by another model is refused with both names") {
  RandomModelSpec s;
  s.name = "other-model";
  s.seed = 9;
  const Model other = Model::from_file(make_random_model(s));
  const std::vector<uint8_t> f = encode_image(other, synthetic_image(16, 16)).bytes;
  CHECK_THROWS_WITH(decode_image(test_model(), f.data(), f.size()),
                    Catch::Contains("other-model") && Catch::Contains("test-factorized"));
  s.name = "test-factorized";  // same name, other weights: a different version
  const Model v2 = Model::from_file(make_random_model(s));
  const std::vector<uint8_t> g = encode_image(v2, synthetic_image(16, 16)).bytes;
  CHECK_THROWS_WITH(decode_image(test_model(), g.data(), g.size()), Catch::Contains("version"));
}

TEST_CASE("a file naming the model's older whole-file id still decodes, and new files name the decode id") {
  const Model& m = test_model();
  const Image im = synthetic_image(16, 16);
  const std::vector<uint8_t> now = encode_image(m, im).bytes;
  Bitstream b = parse_bitstream(now.data(), now.size());
  CHECK(b.header.model_hash == m.info().model_hash);
  CHECK(hash_hex(b.header.model_hash) == m.info().id);
  b.header.model_hash = m.info().content_hash;
  const std::vector<uint8_t> older = write_bitstream(b);
  CHECK(decode_image(m, older.data(), older.size()).image.rgb ==
        decode_image(m, now.data(), now.size()).image.rgb);
  b.header.model_hash = m.info().content_hash ^ 1;  // neither id
  const std::vector<uint8_t> other = write_bitstream(b);
  CHECK_THROWS_WITH(decode_image(m, other.data(), other.size()), Catch::Contains("version"));
}

TEST_CASE("cross-decoding within a family scales the image and outside a family it is refused") {
  RandomModelSpec hi, med;
  hi.name = "fam-high", hi.stages = 3, hi.family_id = "fam-test", hi.family_role = "high", hi.seed = 3;
  med.name = "fam-medium", med.stages = 2, med.family_id = "fam-test", med.family_role = "medium",
  med.seed = 4;
  const Model high = Model::from_file(make_random_model(hi));
  const Model medium = Model::from_file(make_random_model(med));
  REQUIRE(high.info().entropy_hash == medium.info().entropy_hash);
  const Image im = synthetic_image(50, 34);
  const auto from_high = encode_image(high, im).bytes;
  const DecodeResult half = cross_decode_image(medium, from_high.data(), from_high.size());
  CHECK(half.image.width == 25);
  CHECK(half.image.height == 17);
  const auto from_medium = encode_image(medium, downscale2x_box(im)).bytes;
  const DecodeResult twice = cross_decode_image(high, from_medium.data(), from_medium.size());
  CHECK(twice.image.width == 50);
  CHECK(twice.image.height == 34);
  CHECK_THROWS_WITH(decode_image(medium, from_high.data(), from_high.size()),
                    Catch::Contains("cross-decode"));
  CHECK_THROWS_WITH(cross_decode_image(test_model(), from_high.data(), from_high.size()),
                    Catch::Contains("not in the file's family"));
  const auto plain = encode_image(test_model(), im).bytes;
  CHECK_THROWS_WITH(cross_decode_image(medium, plain.data(), plain.size()),
                    Catch::Contains("not in a cross"));
}

TEST_CASE("a family built on a model outside any family: the model's own files cross-decode, both ways") {
  RandomModelSpec base_spec, med_spec;
  base_spec.name = "base", base_spec.stages = 3, base_spec.seed = 3;
  const Model base = Model::from_file(make_random_model(base_spec));
  med_spec.name = "base-medium", med_spec.stages = 2, med_spec.seed = 4;
  med_spec.family_id = "fam-" + hash_hex(base.info().entropy_hash), med_spec.family_role = "medium";
  ModelFile med_file = make_random_model(med_spec);
  med_file.meta["family"]["high"] = {{"name", "base"}, {"id", base.info().id}, {"stride", 8}};
  const Model medium = Model::from_file(med_file);
  REQUIRE(medium.info().entropy_hash == base.info().entropy_hash);
  CHECK(medium.info().family_high == "base");
  CHECK(base.info().family_id.empty());
  const Image im = synthetic_image(50, 34);
  // The base's file names no family; the medium member decodes it at half size.
  const auto from_base = encode_image(base, im).bytes;
  CHECK(parse_bitstream(from_base.data(), from_base.size()).header.family_id.empty());
  const DecodeResult half = cross_decode_image(medium, from_base.data(), from_base.size());
  CHECK(half.image.width == 25);
  CHECK(half.image.height == 17);
  CHECK_THROWS_WITH(decode_image(medium, from_base.data(), from_base.size()),
                    Catch::Contains("cross-decode"));
  // The medium member's file decodes at full size with the base.
  const auto from_medium = encode_image(medium, downscale2x_box(im)).bytes;
  const DecodeResult full = cross_decode_image(base, from_medium.data(), from_medium.size());
  CHECK(full.image.width == 50);
  CHECK(full.image.height == 34);
  // Another model with the same entropy tables but not the named base: refused both ways.
  base_spec.name = "other";
  const Model other = Model::from_file(make_random_model(base_spec));
  REQUIRE(other.info().entropy_hash == base.info().entropy_hash);
  const auto from_other = encode_image(other, im).bytes;
  CHECK_THROWS_WITH(cross_decode_image(medium, from_other.data(), from_other.size()),
                    Catch::Contains("not in a cross-resolution family"));
  // A family not named after the base's entropy model is not the base's.
  med_file.meta["family"]["id"] = "fam-test";
  const Model stranger = Model::from_file(med_file);
  const auto from_stranger = encode_image(stranger, downscale2x_box(im)).bytes;
  CHECK_THROWS_WITH(cross_decode_image(base, from_stranger.data(), from_stranger.size()),
                    Catch::Contains("not in the file's family"));
  // family.high must name a model by a decode id.
  med_file.meta["family"]["high"]["id"] = "xyz";
  CHECK_THROWS_WITH(Model::from_file(med_file), Catch::Contains("high id"));
}

TEST_CASE("fixed-size models code exactly their size and refuse others") {
  const Model fc = Model::from_file(aec::testing::make_random_model_of("fc"));
  const auto bytes = encode_image(fc, synthetic_image(8, 8)).bytes;
  CHECK(decode_image(fc, bytes.data(), bytes.size()).image.width == 8);
  Bitstream b = parse_bitstream(bytes.data(), bytes.size());
  b.header.width = 4;  // a size the model does not code, re-checksummed
  const std::vector<uint8_t> forged = write_bitstream(b);
  CHECK_THROWS_WITH(decode_image(fc, forged.data(), forged.size()), Catch::Contains("codes only 8x8"));
  CHECK_THROWS_WITH(encode_image(fc, synthetic_image(9, 8)), Catch::Contains("exactly 8x8"));
}

TEST_CASE(
    "a version-1 file made before version 2 existed decodes as it did then, and version 3 carries the same "
    "payload") {
  const std::string dir = std::string(AEC_TEST_DATA) + "/v1/";
  const Model m = Model::load(dir + "model.aem");
  std::vector<uint8_t> old;
  aec::testing::decodes_as_then(m, dir, 1, &old);

  const EncodeResult e = encode_image(m, load_image(dir + "image.png"));
  CHECK(e.bytes[4] == kBitstreamVersion);
  const Bitstream a = open_stream(m, old.data(), old.size(), false),
                  b = open_stream(m, e.bytes.data(), e.bytes.size(), false);
  CHECK(b.header.version == kBitstreamVersion);
  CHECK(!b.find(kSectionHyperPayload));
  CHECK(a.header.model_hash == m.info().content_hash);  // made before decode ids: the whole-file hash
  CHECK(b.header.model_hash == m.info().model_hash);
  CHECK(b.header.latent_h == a.header.latent_h);
  CHECK(b.header.latent_w == a.header.latent_w);
  CHECK(e.bytes.size() < old.size());
  // The kernel it was made with codes the same symbols into the same payload; only the container changed.
  if (std::string(gemm_isa_name()) == "avx512") CHECK(*b.find(kSectionPayload) == *a.find(kSectionPayload));
}

// A family of two random `arch` models, high (stride 8) and medium (stride 4): the medium file takes the high
// file's entropy model (hyper.* tensors, entropy), as members share one.
static std::pair<ModelFile, ModelFile> family_files(const std::string& arch, const std::string& family_id) {
  RandomModelSpec hi, med;
  hi.arch = med.arch = arch;
  hi.n = med.n = 8, hi.m = med.m = 6;
  hi.name = "fam-high", hi.stages = 3, hi.family_id = family_id, hi.family_role = "high", hi.seed = 3;
  med.name = "fam-medium", med.stages = 2, med.family_id = family_id, med.family_role = "medium";
  med.seed = 4;
  ModelFile fh = make_random_model(hi), fm = make_random_model(med);
  for (const auto& [name, t] : fh.tensors)
    if (name.rfind("hyper.", 0) == 0) fm.tensors[name] = t;
  fm.meta["entropy"] = fh.meta["entropy"];
  return {std::move(fh), std::move(fm)};
}

TEST_CASE(
    "families of hyperprior and channel models cross-decode, variable-rate ones at the file's quality") {
  for (const std::string arch : {"hyperprior", "channel"}) {
    for (const bool knob : {false, true}) {
      INFO(arch << (knob ? " with the quality knob" : ""));
      auto [fh, fm] = family_files(arch, "fam-" + arch);
      if (knob) fh = with_quality_knob(fh), fm = with_quality_knob(fm);  // the same gains: one latent space
      const Model high = Model::from_file(fh), medium = Model::from_file(fm);
      REQUIRE(high.info().entropy_hash == medium.info().entropy_hash);
      CHECK(high.info().entropy_kind == arch);
      const Image im = synthetic_image(70, 46, 2);
      EncodeOptions o;
      if (knob) o.quality = 30;
      const EncodeResult eh = encode_image(high, im, o);
      const DecodeResult half = cross_decode_image(medium, eh.bytes.data(), eh.bytes.size());
      CHECK(half.image.width == 35);
      CHECK(half.image.height == 23);
      // The medium decoder sees exactly the latent the high encoder coded.
      const Model dec = knob ? medium.at_quality(30) : Model::from_file(fm);
      const Image expect = crop(tensor_to_image(dec.synthesis(eh.latent)), 35, 23);
      CHECK(half.image.rgb == expect.rgb);
      const EncodeResult em = encode_image(medium, downscale2x_box(im), o);
      const DecodeResult twice = cross_decode_image(high, em.bytes.data(), em.bytes.size());
      CHECK(twice.image.width == 70);
      CHECK(twice.image.height == 46);
    }
  }
}

TEST_CASE(
    "a medium member's up decoder decodes its own files at twice the size, from the latent after LRP, at the "
    "file's quality") {
  for (const bool knob : {false, true}) {
    INFO((knob ? "with the quality knob" : "single-rate"));
    auto [fh, fm] = family_files("channel", "fam-up");
    // The medium member's own decoder reads the coded latent; its up decoder is a copy of the high member's
    // decoder, so decoding a medium file with it must give what the high member's cross-decode gives, which
    // reads LRP's latent.
    fm.meta["decoder_lrp"] = false;
    fm = aec::testing::with_up_decoder(std::move(fm), fh);
    if (knob) fh = with_quality_knob(fh), fm = with_quality_knob(fm);
    const Model high = Model::from_file(fh), medium = Model::from_file(fm);
    REQUIRE(medium.info().up_decoder);
    REQUIRE(!high.info().up_decoder);
    const Image im = synthetic_image(70, 46, 2);
    EncodeOptions o;
    if (knob) o.quality = 30;
    const EncodeResult em = encode_image(medium, downscale2x_box(im), o);
    const DecodeResult by_up = up_decode_image(medium, em.bytes.data(), em.bytes.size());
    const DecodeResult by_high = cross_decode_image(high, em.bytes.data(), em.bytes.size());
    CHECK(by_up.image.width == 70);
    CHECK(by_up.image.height == 46);
    CHECK(by_up.image.rgb == by_high.image.rgb);
    // The member's own decode reads the coded latent: a different (half-size) image.
    CHECK(decode_image(medium, em.bytes.data(), em.bytes.size()).image.width == 35);
    // By rows (the CLI's path) the same pixels.
    std::vector<uint8_t> rows;
    decode_image_rows(
        medium, em.bytes.data(), em.bytes.size(),
        [&](int w, int, int, int n, const uint8_t* rgb) {
          rows.insert(rows.end(), rgb, rgb + size_t(w) * n * 3);
        },
        {}, DecodeAs::up);
    CHECK(rows == by_up.image.rgb);
    // By tiles (as a large image is): the same pixels.
    set_tile_options(TileOptions{0, 16});
    rows.clear();
    decode_image_rows(
        medium, em.bytes.data(), em.bytes.size(),
        [&](int w, int, int, int n, const uint8_t* rgb) {
          rows.insert(rows.end(), rgb, rgb + size_t(w) * n * 3);
        },
        {}, DecodeAs::up);
    set_tile_options(TileOptions{});
    CHECK(rows == by_up.image.rgb);
    // Refused: a model without an up decoder, another model's file, and an image over the limits.
    CHECK_THROWS_WITH(up_decode_image(high, em.bytes.data(), em.bytes.size()),
                      Catch::Contains("no up decoder"));
    const EncodeResult eh = encode_image(high, im, o);
    CHECK_THROWS_WITH(up_decode_image(medium, eh.bytes.data(), eh.bytes.size()),
                      Catch::Contains("cannot decode"));
    ImageLimits small;
    small.max_pixels = 35 * 23;
    CHECK_THROWS_WITH(up_decode_image(medium, em.bytes.data(), em.bytes.size(), small),
                      Catch::Contains("over the size limit"));
  }
}

TEST_CASE("an up decoder must be a medium member's and make twice the size") {
  RandomModelSpec med;
  med.name = "fam-medium", med.stages = 2, med.family_id = "fam-up", med.family_role = "medium", med.seed = 4;
  ModelFile fm = make_random_model(med);
  fm.meta["up_decoder"] = fm.meta["decoder"];  // the member's own size, not twice it
  CHECK_THROWS_WITH(Model::from_file(fm), Catch::Contains("up_decoder does not map"));
  fm.meta["family"]["role"] = "high";
  CHECK_THROWS_WITH(Model::from_file(fm), Catch::Contains("medium member"));
}
