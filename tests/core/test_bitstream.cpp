// The version-3 container on its own: varints, header fields and sections round-trip; every truncation, a
// forged length or count, a non-canonical varint and an unknown required section are refused with a message;
// an unknown optional section is skipped; the header is smaller than version 2's.
#include <catch2/catch.hpp>

#include "aecodec/bitstream.h"
#include "aecodec/codec.h"
#include "aecodec/error.h"
#include "aecodec/file_io.h"
#include "aecodec/hyperprior.h"
#include "legacy_bitstream.h"
#include "random_model.h"
#include "test_images.h"

using namespace aec;

namespace {

Bitstream sample() {
  Bitstream b;
  b.header.model_name = "some-model";
  b.header.model_hash = 0x0123456789abcdefull;
  b.header.width = 300, b.header.height = 17;
  b.section(kSectionHyperPayload) = {9, 8, 7};
  b.section(kSectionPayload) = std::vector<uint8_t>(200, 0x5a);  // a two-byte length
  return b;
}

// A version-3 file from its body (magic to the last section), checksummed: for forgeries the writer refuses
// to make.
std::vector<uint8_t> checksummed(std::vector<uint8_t> body) {
  const uint32_t crc = crc32(body.data(), body.size());
  for (int i = 0; i < 4; ++i) body.push_back(uint8_t(crc >> (8 * i)));
  return body;
}

// magic, version, id, name "m", width, height (both 4): 17 bytes, then the section count.
std::vector<uint8_t> header_body() {
  std::vector<uint8_t> b = {'A', 'E', 'C', 0x1A, 3, 1, 2, 3, 4, 5, 6, 7, 8, 1, 'm', 4, 4};
  return b;
}

std::string refusal(const std::vector<uint8_t>& bytes) {
  try {
    parse_bitstream(bytes.data(), bytes.size());
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("varints: LEB128, shortest form, every length") {
  for (uint64_t v : {uint64_t(0), uint64_t(1), uint64_t(127), uint64_t(128), uint64_t(16383), uint64_t(16384),
                     uint64_t(65536), uint64_t(UINT32_MAX), UINT64_MAX}) {
    std::vector<uint8_t> out;
    put_varint(out, v);
    size_t expect = 1;
    for (uint64_t x = v >> 7; x; x >>= 7) ++expect;
    CHECK(out.size() == expect);
    CHECK((out.back() & 0x80) == 0);
  }
  std::vector<uint8_t> out;
  put_varint(out, 300);
  CHECK(out == std::vector<uint8_t>{0xac, 0x02});
}

TEST_CASE("version 3 round-trips the header, the family section and the payload sections") {
  Bitstream b = sample();
  std::vector<uint8_t> bytes = write_bitstream(b);
  CHECK(bytes[4] == kBitstreamVersion);
  Bitstream c = parse_bitstream(bytes.data(), bytes.size());
  CHECK(c.header.version == kBitstreamVersion);
  CHECK(c.header.model_name == "some-model");
  CHECK(c.header.model_hash == 0x0123456789abcdefull);
  CHECK(c.header.width == 300);
  CHECK(c.header.height == 17);
  CHECK(c.header.family_id.empty());
  CHECK(c.header.stride == 0);
  CHECK(c.header.latent_c == 0);  // implied by the model, not stored
  REQUIRE(c.sections.size() == 2);
  CHECK(c.sections[0].type == kSectionPayload);  // in type order, whatever order they were added in
  CHECK(c.sections[1].type == kSectionHyperPayload);
  CHECK(*c.find(kSectionPayload) == *b.find(kSectionPayload));
  CHECK(*c.find(kSectionHyperPayload) == *b.find(kSectionHyperPayload));
  CHECK(write_bitstream(c) == bytes);
  // magic 4, version 1, id 8, name 1 + 10, width 2, height 1, count 1, payload 1 + 2 + 200, hyper 1 + 1 + 3,
  // CRC 4.
  CHECK(bytes.size() == 4 + 1 + 8 + 11 + 2 + 1 + 1 + 203 + 5 + 4);

  b.header.family_id = "fam", b.header.entropy_hash = 42, b.header.stride = 16;
  bytes = write_bitstream(b);
  c = parse_bitstream(bytes.data(), bytes.size());
  CHECK(c.header.family_id == "fam");
  CHECK(c.header.entropy_hash == 42);
  CHECK(c.header.stride == 16);
  CHECK(c.sections.size() == 2);  // the family section is read into the header
  CHECK(write_bitstream(c) == bytes);
}

TEST_CASE("version 3: every truncation and every flipped byte is refused") {
  Bitstream b = sample();
  b.header.family_id = "fam", b.header.entropy_hash = 42, b.header.stride = 16;
  const std::vector<uint8_t> good = write_bitstream(b);
  for (size_t n = 0; n < good.size(); ++n) {
    INFO("first " << n << " bytes");
    CHECK_THROWS_AS(parse_bitstream(good.data(), n), Error);
  }
  for (size_t i = 0; i < good.size(); ++i) {
    std::vector<uint8_t> flipped = good;
    flipped[i] ^= 0x21;
    INFO("byte " << i);
    CHECK_THROWS_AS(parse_bitstream(flipped.data(), flipped.size()), Error);
  }
  std::vector<uint8_t> longer = good;
  longer.push_back(0);
  CHECK_THROWS_WITH(parse_bitstream(longer.data(), longer.size()), Catch::Contains("unexpected bytes"));
}

TEST_CASE("version 3: forged lengths, counts and varints are refused before anything is allocated") {
  // A section length far beyond the file (and beyond memory).
  std::vector<uint8_t> body = header_body();
  body.insert(body.end(), {1, 2, 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2});
  CHECK_THAT(refusal(checksummed(body)), Catch::Contains("truncated") && Catch::Contains("payload section"));
  // One byte past the end.
  body = header_body();
  body.insert(body.end(), {1, 2, 3, 1, 2});
  CHECK_THAT(refusal(checksummed(body)), Catch::Contains("truncated"));
  // A section count beyond what the file can hold.
  body = header_body();
  body.insert(body.end(), {0xff, 0xff, 0xff, 0xff, 0x0f});
  CHECK_THAT(refusal(checksummed(body)), Catch::Contains("section count"));
  // A model name length beyond 255 and beyond the file.
  body = {'A', 'E', 'C', 0x1A, 3, 1, 2, 3, 4, 5, 6, 7, 8, 0x80, 0x02, 'm'};
  CHECK_THAT(refusal(checksummed(body)), Catch::Contains("model name length"));
  body = {'A', 'E', 'C', 0x1A, 3, 1, 2, 3, 4, 5, 6, 7, 8, 0x7f, 'm'};
  CHECK_THAT(refusal(checksummed(body)), Catch::Contains("truncated"));
  // A varint that does not end, one over 64 bits, one not in its shortest form, a width over the limit.
  body = header_body();
  body.resize(15);
  body.insert(body.end(), 12, 0x80);
  CHECK_THAT(refusal(checksummed(body)), Catch::Contains("overflows") || Catch::Contains("truncated"));
  body = header_body();
  body.resize(15);
  body.insert(body.end(), {0x84, 0x00, 4, 0});
  CHECK_THAT(refusal(checksummed(body)), Catch::Contains("not minimally encoded"));
  body = header_body();
  body.resize(15);
  body.insert(body.end(), {0x81, 0x80, 0x04, 4, 0});  // 65537
  CHECK_THAT(refusal(checksummed(body)), Catch::Contains("image width 65537"));
  body = header_body();
  body.resize(15);
  body.insert(body.end(), {0, 4, 0});
  CHECK_THAT(refusal(checksummed(body)), Catch::Contains("image size 0x4"));
  // A family section whose stride is 0 or which has bytes left over.
  body = header_body();
  body.insert(body.end(), {1, 1, 11, 1, 'f', 1, 2, 3, 4, 5, 6, 7, 8, 0});
  CHECK_THAT(refusal(checksummed(body)), Catch::Contains("stride 0"));
  body = header_body();
  body.insert(body.end(), {1, 1, 12, 1, 'f', 1, 2, 3, 4, 5, 6, 7, 8, 4, 0});
  CHECK_THAT(refusal(checksummed(body)), Catch::Contains("unexpected bytes in the family section"));
  // Sections out of order, repeated, or of type 0.
  body = header_body();
  body.insert(body.end(), {2, 4, 0, 2, 0});
  CHECK_THAT(refusal(checksummed(body)), Catch::Contains("out of order or repeated"));
  body = header_body();
  body.insert(body.end(), {2, 2, 0, 2, 0});
  CHECK_THAT(refusal(checksummed(body)), Catch::Contains("out of order or repeated"));
  body = header_body();
  body.insert(body.end(), {1, 0, 0});
  CHECK_THAT(refusal(checksummed(body)), Catch::Contains("section type 0"));
  // The well-formed minimum parses: no sections at all (the decoder then asks for its payload).
  body = header_body();
  body.push_back(0);
  CHECK(refusal(checksummed(body)).empty());
}

TEST_CASE("version 3: an unknown optional section is skipped, an unknown required one refused by name") {
  Bitstream b = sample();
  b.section(7) = {1, 2, 3};                        // odd: optional
  b.section(1001) = std::vector<uint8_t>(300, 1);  // odd, with a two-byte type and length
  std::vector<uint8_t> bytes = write_bitstream(b);
  const Bitstream c = parse_bitstream(bytes.data(), bytes.size());
  CHECK(c.sections.size() == 2);
  CHECK(*c.find(kSectionPayload) == *b.find(kSectionPayload));

  b = sample();
  b.section(12) = {1};
  bytes = write_bitstream(b);
  CHECK_THROWS_WITH(parse_bitstream(bytes.data(), bytes.size()),
                    Catch::Contains("type-12 section") && Catch::Contains("does not support"));
  // The quality section is read (a variable-rate model decodes at it: test_quality.cpp).
  b = sample();
  b.section(kSectionQuality) = {0x90, 0x4e};
  bytes = write_bitstream(b);
  CHECK(parse_bitstream(bytes.data(), bytes.size()).find(kSectionQuality));
  // So is the substreams section (its contents are the latent codec's: test_substreams.cpp); the context
  // model's type is still reserved.
  b = sample();
  b.section(kSectionSubstreams) = {2, 4, 4};
  bytes = write_bitstream(b);
  CHECK(parse_bitstream(bytes.data(), bytes.size()).find(kSectionSubstreams));
  b = sample();
  b.section(kSectionContext) = {};
  bytes = write_bitstream(b);
  CHECK_THROWS_WITH(parse_bitstream(bytes.data(), bytes.size()), Catch::Contains("context model section"));
}

TEST_CASE("version 3 spends less on its header than version 2 did") {
  const Model m = Model::from_file(aec::testing::make_random_model_of("hyperprior"));
  const EncodeResult e = encode_image(m, aec::testing::synthetic_image(96, 64));
  Bitstream b = open_stream(m, e.bytes.data(), e.bytes.size(), false);
  size_t sections = 0;
  for (const Section& sec : b.sections) sections += sec.bytes.size();
  int zc, zh, zw;
  m.hyperprior()->hyper_shape(int(b.header.latent_h), int(b.header.latent_w), zc, zh, zw);
  b.header.version = kBitstreamVersionHyperprior, b.header.stride = uint32_t(m.info().stride);
  b.header.hyper_c = uint32_t(zc), b.header.hyper_h = uint32_t(zh), b.header.hyper_w = uint32_t(zw);
  const std::vector<uint8_t> v2 = aec::testing::write_legacy_bitstream(b);
  // Version 2: 72 fixed bytes and the model name. Version 3: magic, version, id and checksum (17 bytes), the
  // name, the image size, the section count and each section's type and length.
  CHECK(v2.size() - sections == 72 + m.info().name.size());
  std::vector<uint8_t> varints;
  put_varint(varints, 96), put_varint(varints, 64), put_varint(varints, b.sections.size());
  for (const Section& sec : b.sections) put_varint(varints, sec.type), put_varint(varints, sec.bytes.size());
  CHECK(e.bytes.size() - sections == 17 + 1 + m.info().name.size() + varints.size());
  CHECK(e.bytes.size() - sections <= 17 + 1 + m.info().name.size() + 9);
  CHECK(decode_image(m, v2.data(), v2.size()).image.rgb ==
        decode_image(m, e.bytes.data(), e.bytes.size()).image.rgb);
}
