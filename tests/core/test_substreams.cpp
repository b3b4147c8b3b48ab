// Spatial substreams (substreams.h): the band count the encoder picks, the payload's round trip in bands with
// channels decoded a few at a time, bytes that do not depend on the thread count, the codecs' files with
// and without bands, and damaged substreams sections refused with a message.
#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <vector>

#include "aecodec/bitstream.h"
#include "aecodec/codec.h"
#include "aecodec/entropy.h"
#include "aecodec/error.h"
#include "aecodec/model.h"
#include "aecodec/parallel.h"
#include "aecodec/substreams.h"
#include "random_model.h"
#include "test_images.h"

using namespace aec;

namespace {

// Tables of 3..40 symbols from random pmfs, and a c x h x w latent of values around them with a random
// table each (escapes included).
struct Latent {
  CdfTables tables;
  std::vector<int32_t> values, index;
};
Latent random_latent(int c, int h, int w, uint32_t seed) {
  std::mt19937 rng(seed);
  Latent l;
  for (int t = 0; t < 12; ++t) {
    std::vector<double> pmf(3 + rng() % 38);
    for (double& p : pmf) p = 1.0 + rng() % 100;
    l.tables.cdf.push_back(pmf_to_cdf(pmf, 0.5));
    l.tables.offset.push_back(-int32_t(pmf.size() / 2));
  }
  const size_t n = size_t(c) * h * w;
  l.values.resize(n), l.index.resize(n);
  for (size_t i = 0; i < n; ++i) {
    l.index[i] = int32_t(rng() % l.tables.count());
    l.values[i] = int32_t(rng() % 41) - 20;  // beyond the small tables: escapes
  }
  return l;
}

// The values decoded from `stream`, k channels a call (the last call takes the rest).
std::vector<int32_t> decode_by(const Bitstream& stream, const Latent& l, int c, int h, int w, int k) {
  PayloadDecoder dec(stream, c, h, w, l.tables);
  std::vector<int32_t> out(l.values.size());
  const size_t plane = size_t(h) * w;
  for (int c0 = 0; c0 < c; c0 += k) {
    const int n = std::min(k, c - c0);
    dec.decode_channels(n, l.index.data() + size_t(c0) * plane, out.data() + size_t(c0) * plane);
  }
  dec.finish();
  return out;
}

struct Threads {
  explicit Threads(int n) : before(num_threads()) { set_num_threads(n); }
  ~Threads() { set_num_threads(before); }
  int before;
};

}  // namespace

TEST_CASE("substreams: one band per 65,536 symbols, at most 64 and one per row") {
  CHECK(substream_bands(96, 32, 21) == 1);   // 64,512 symbols
  CHECK(substream_bands(96, 32, 48) == 2);   // 768x512 at stride 16: 147,456
  CHECK(substream_bands(192, 32, 48) == 4);  // the wide network's 192 channels
  CHECK(substream_bands(96, 188, 250) == 64);
  CHECK(substream_bands(4096, 3, 64) == 3);  // no more bands than rows
  CHECK(substream_bands(96, 1, 1) == 1);
}

TEST_CASE("substreams: the payload round-trips in bands, the channels decoded a few at a time") {
  for (const auto& [c, h, w] : {std::tuple{7, 37, 41}, std::tuple{40, 45, 53}, std::tuple{3, 5, 9000}}) {
    const Latent l = random_latent(c, h, w, uint32_t(c * h));
    INFO(c << "x" << h << "x" << w);
    Bitstream stream;
    encode_payload(l.values.data(), l.index.data(), c, h, w, l.tables, stream);
    const int bands = substream_bands(c, h, w);
    CHECK((stream.find(kSectionSubstreams) != nullptr) == (bands > 1));
    PayloadDecoder probe(stream, c, h, w, l.tables);
    CHECK(probe.bands() == bands);
    for (int k : {1, 3, c}) CHECK(decode_by(stream, l, c, h, w, k) == l.values);
    CHECK(decode_payload(stream, c, h, w, l.index.data(), l.tables) == l.values);
    if (bands == 1)  // one band: the single stream of every older file
      CHECK(*stream.find(kSectionPayload) ==
            entropy_encode(l.values.data(), l.index.data(), l.values.size(), l.tables));
  }
}

TEST_CASE("substreams: the same bytes and the same values on 1 and 2 threads") {
  const int c = 40, h = 45, w = 53;  // 2h rows: 190,800 symbols, 2 bands
  const Latent l = random_latent(c, 2 * h, w, 5);
  Bitstream one, two;
  std::vector<int32_t> v1, v2;
  {
    Threads t(1);
    encode_payload(l.values.data(), l.index.data(), c, 2 * h, w, l.tables, one);
    v1 = decode_by(one, l, c, 2 * h, w, 8);
  }
  {
    Threads t(2);
    encode_payload(l.values.data(), l.index.data(), c, 2 * h, w, l.tables, two);
    v2 = decode_by(two, l, c, 2 * h, w, 8);
  }
  REQUIRE(one.find(kSectionSubstreams));
  CHECK(*one.find(kSectionSubstreams) == *two.find(kSectionSubstreams));
  CHECK(*one.find(kSectionPayload) == *two.find(kSectionPayload));
  CHECK(v1 == l.values);
  CHECK(v2 == l.values);
}

TEST_CASE("substreams: a damaged section or payload is refused with a message") {
  const int c = 40, h = 90, w = 60;
  const Latent l = random_latent(c, h, w, 9);
  Bitstream good;
  encode_payload(l.values.data(), l.index.data(), c, h, w, l.tables, good);
  const std::vector<uint8_t> section = *good.find(kSectionSubstreams);
  REQUIRE(section[0] == 3);  // 216,000 symbols: 3 bands
  size_t pos = 1;
  std::vector<uint64_t> lengths;
  for (int b = 0; b < 3; ++b) lengths.push_back(read_varint(section, pos, UINT64_MAX, "length"));
  const auto with = [&](const std::vector<uint8_t>& sec) {
    Bitstream s = good;
    s.section(kSectionSubstreams) = sec;
    return s;
  };
  const auto refusal = [&](const Bitstream& s) -> std::string {
    try {
      decode_by(s, l, c, h, w, 5);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  const auto section_of = [](std::vector<uint64_t> fields) {
    std::vector<uint8_t> out;
    for (uint64_t f : fields) put_varint(out, f);
    return out;
  };
  CHECK(refusal(good).empty());
  CHECK_THAT(refusal(with(section_of({1, lengths[0] + lengths[1] + lengths[2]}))),
             Catch::Contains("band count 1"));
  CHECK_THAT(refusal(with(section_of({91}))), Catch::Contains("band count 91"));  // more than rows
  CHECK_THAT(refusal(with(section_of({3, lengths[0], lengths[1], lengths[2] - 2}))),
             Catch::Contains("2 bytes of the payload unread"));
  CHECK_THAT(refusal(with(section_of({3, lengths[0], lengths[1], lengths[2] + 2}))),
             Catch::Contains("substream length"));
  std::vector<uint8_t> trailing = section;
  trailing.push_back(0);
  CHECK_THAT(refusal(with(trailing)), Catch::Contains("trailing bytes"));
  CHECK_THAT(refusal(with({})), Catch::Contains("truncated"));
  // Lengths moved between bands, or no section at all (the bands read as one stream): the streams do not
  // end where their encoders ended them.
  CHECK_THAT(refusal(with(section_of({3, lengths[0] + 2, lengths[1] - 2, lengths[2]}))),
             Catch::Contains("corrupt entropy stream"));
  Bitstream none = good;
  none.sections.erase(std::find_if(none.sections.begin(), none.sections.end(),
                                   [](const Section& s) { return s.type == kSectionSubstreams; }));
  CHECK_THAT(refusal(none), Catch::Contains("corrupt entropy stream"));
  // One row: no bands possible.
  CHECK_THAT(
      [&] {
        try {
          PayloadDecoder(with(section_of({2, 4, 4})), c, 1, w, l.tables);
        } catch (const Error& e) {
          return std::string(e.what());
        }
        return std::string();
      }(),
      Catch::Contains("one row"));
}

TEST_CASE("substreams: each codec's file of a large image is in bands, the same on 1 and 2 threads") {
  for (const char* arch : {"factorized", "hyperprior", "channel"}) {
    INFO(arch);
    testing::RandomModelSpec spec;
    spec.arch = arch, spec.name = std::string("test-") + arch, spec.m = 16;
    const Model m = Model::from_file(testing::make_random_model(spec));
    // 16 channels of 128 x 160 (stride 4): 327,680 symbols, 5 bands.
    const Image im = testing::synthetic_image(640, 512, 3);
    EncodeResult e1, e2;
    DecodeResult d1, d2;
    {
      Threads t(1);
      e1 = encode_image(m, im);
      d1 = decode_image(m, e1.bytes.data(), e1.bytes.size());
    }
    {
      Threads t(2);
      e2 = encode_image(m, im);
      d2 = decode_image(m, e2.bytes.data(), e2.bytes.size());
    }
    CHECK(e1.bytes == e2.bytes);
    CHECK(d1.image.rgb == d2.image.rgb);
    const Bitstream b = open_stream(m, e1.bytes.data(), e1.bytes.size(), false);
    const std::vector<uint8_t>* sec = b.find(kSectionSubstreams);
    REQUIRE(sec);
    CHECK((*sec)[0] == substream_bands(16, 128, 160));
    // The decoded image is the encoder's latent through the synthesis, bands or not.
    CHECK(d1.image.rgb == crop(tensor_to_image(m.synthesis(e1.latent)), 640, 512).rgb);
  }
}

TEST_CASE("substreams: EncodeOptions::bands asks for bands, at most one per latent row") {
  const Model m = Model::from_file(testing::make_random_model_of("channel"));  // stride 4
  const Image im = testing::synthetic_image(70, 46, 4);                        // 12 latent rows
  const auto bands_of = [&](int asked) {
    EncodeOptions o;
    o.bands = asked;
    const EncodeResult e = encode_image(m, im, o);
    const DecodeResult d = decode_image(m, e.bytes.data(), e.bytes.size());
    CHECK(d.image.rgb == crop(tensor_to_image(m.synthesis(e.latent)), 70, 46).rgb);
    const Bitstream b = open_stream(m, e.bytes.data(), e.bytes.size(), false);
    const std::vector<uint8_t>* sec = b.find(kSectionSubstreams);
    return sec ? int((*sec)[0]) : 1;
  };
  CHECK(bands_of(0) == 1);  // 6 x 12 x 18 symbols: one stream by size
  CHECK(bands_of(1) == 1);
  CHECK(bands_of(3) == 3);
  CHECK(bands_of(200) == 12);
  EncodeOptions o;
  o.bands = kMaxBands + 1;
  CHECK_THROWS_WITH(encode_image(m, im, o), Catch::Contains("payload bands 257"));
}
