// Image I/O, limits, tensor conversion, padding and resampling on real encoded data.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "aecodec/error.h"
#include "aecodec/file_io.h"
#include "aecodec/image.h"

#include "stb_write_static.h"

#if defined(_WIN32)
#include <process.h>
#define test_getpid _getpid
#else
#include <unistd.h>
#define test_getpid getpid
#endif

using Catch::Matchers::Contains;

namespace {

using Bytes = std::vector<uint8_t>;

// Deterministic RGB content that differs per pixel and channel, so layout mistakes show.
aec::Image pattern(int w, int h, uint32_t seed = 1) {
  aec::Image img(w, h);
  uint32_t s = seed;
  for (auto& v : img.rgb) {
    s = s * 1664525u + 1013904223u;
    v = uint8_t(s >> 24);
  }
  return img;
}

void sink(void* ctx, void* data, int n) {
  auto* out = static_cast<Bytes*>(ctx);
  const auto* b = static_cast<const uint8_t*>(data);
  out->insert(out->end(), b, b + n);
}

Bytes stb_png(int w, int h, int comp, const Bytes& px) {
  Bytes out;
  REQUIRE(stbi_write_png_to_func(sink, &out, w, h, comp, px.data(), w * comp) != 0);
  return out;
}

// --- Hand-built PNGs, for what stb_image_write cannot produce (16-bit, tRNS, forged headers). ---

void put32be(Bytes& b, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(uint8_t(v >> s));
}

void chunk(Bytes& png, const char* type, const Bytes& data) {
  put32be(png, uint32_t(data.size()));
  Bytes body(type, type + 4);
  body.insert(body.end(), data.begin(), data.end());
  png.insert(png.end(), body.begin(), body.end());
  put32be(png, aec::crc32(body.data(), body.size()));
}

Bytes ihdr(uint32_t w, uint32_t h, uint8_t depth, uint8_t colour) {
  Bytes d;
  put32be(d, w);
  put32be(d, h);
  d.insert(d.end(), {depth, colour, 0, 0, 0});
  return d;
}

// zlib stream of stored (uncompressed) deflate blocks: enough for a valid IDAT without a compressor.
Bytes zlib_stored(const Bytes& raw) {
  Bytes z = {0x78, 0x01};
  size_t pos = 0;
  do {
    const size_t n = std::min<size_t>(65535, raw.size() - pos);
    z.push_back(pos + n == raw.size() ? 1 : 0);
    z.insert(z.end(), {uint8_t(n), uint8_t(n >> 8), uint8_t(~n), uint8_t(~n >> 8)});
    z.insert(z.end(), raw.begin() + long(pos), raw.begin() + long(pos + n));
    pos += n;
  } while (pos < raw.size());
  uint32_t a = 1, b = 0;
  for (uint8_t v : raw) {
    a = (a + v) % 65521;
    b = (b + a) % 65521;
  }
  put32be(z, (b << 16) | a);
  return z;
}

const Bytes kPngSignature = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

// `rows` holds the filtered scanlines (filter byte 0 + samples); `before_idat` are extra chunks (PLTE, tRNS).
Bytes hand_png(uint32_t w, uint32_t h, uint8_t depth, uint8_t colour, const Bytes& rows,
               const std::vector<std::pair<const char*, Bytes>>& before_idat = {}) {
  Bytes png = kPngSignature;
  chunk(png, "IHDR", ihdr(w, h, depth, colour));
  for (const auto& c : before_idat) chunk(png, c.first, c.second);
  chunk(png, "IDAT", zlib_stored(rows));
  chunk(png, "IEND", {});
  return png;
}

// Signature + IHDR only: the header claims a size, no pixel data follows.
Bytes forged_png(uint32_t w, uint32_t h) {
  Bytes png = kPngSignature;
  chunk(png, "IHDR", ihdr(w, h, 8, 2));
  return png;
}

void put32le(Bytes& b, uint32_t v) {
  for (int s = 0; s < 32; s += 8) b.push_back(uint8_t(v >> s));
}

// BITMAPFILEHEADER + BITMAPINFOHEADER for a 24-bit BMP, no pixel data. stb's BMP header parser (unlike its
// PNG one) has no size check of its own, so this reaches aecodec's limits as is.
Bytes forged_bmp(int32_t w, int32_t h) {
  Bytes b = {'B', 'M'};
  put32le(b, 54);  // file size (stb ignores it)
  put32le(b, 0);
  put32le(b, 54);  // pixel data offset
  put32le(b, 40);  // header size
  put32le(b, uint32_t(w));
  put32le(b, uint32_t(h));
  b.insert(b.end(), {1, 0, 24, 0});  // planes, bpp
  for (int i = 0; i < 6; ++i) put32le(b, 0);
  return b;
}

// Baseline JPEG, 8x8, one block per component (1 = grey, 3 = YCbCr), every AC coefficient zero, so each
// component is flat. All quantisers are 8: a DC difference d gives the coefficient 8d, whose IDCT is exactly
// d, so component i decodes to 128 + dc[i]. Huffman tables chosen to be trivial: DC categories 0..11 all get
// 4-bit codes (category c is coded as c), AC has the single symbol EOB, coded "0".
Bytes hand_jpeg(const std::vector<int>& dc) {
  const int n = int(dc.size());
  Bytes j = {0xff, 0xd8};
  auto segment = [&j](uint8_t marker, const Bytes& body) {
    const size_t len = body.size() + 2;
    j.insert(j.end(), {0xff, marker, uint8_t(len >> 8), uint8_t(len)});
    j.insert(j.end(), body.begin(), body.end());
  };
  Bytes dqt = {0x00};
  dqt.insert(dqt.end(), 64, 8);
  segment(0xdb, dqt);
  Bytes sof = {8, 0, 8, 0, 8, uint8_t(n)};
  for (int i = 0; i < n; ++i) sof.insert(sof.end(), {uint8_t(i + 1), 0x11, 0});
  segment(0xc0, sof);
  Bytes dht_dc = {0x00, 0, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  for (uint8_t c = 0; c < 12; ++c) dht_dc.push_back(c);
  segment(0xc4, dht_dc);
  segment(0xc4, {0x10, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00});
  Bytes sos = {uint8_t(n)};
  for (int i = 0; i < n; ++i) sos.insert(sos.end(), {uint8_t(i + 1), 0x00});
  sos.insert(sos.end(), {0, 63, 0});
  segment(0xda, sos);
  std::vector<bool> bits;
  auto put = [&bits](int value, int count) {
    for (int b = count - 1; b >= 0; --b) bits.push_back((value >> b) & 1);
  };
  for (int d : dc) {
    int category = 0;
    while ((1 << category) <= std::abs(d)) ++category;
    put(category, 4);
    if (category) put(d > 0 ? d : d + (1 << category) - 1, category);  // JPEG's one's-complement negatives
    put(0, 1);                                                         // EOB
  }
  while (bits.size() % 8) bits.push_back(true);  // pad with 1 bits
  for (size_t i = 0; i < bits.size(); i += 8) {
    int byte = 0;
    for (size_t b = 0; b < 8; ++b) byte = (byte << 1) | int(bits[i + b]);
    j.push_back(uint8_t(byte));
    if (byte == 0xff) j.push_back(0);  // byte stuffing
  }
  j.insert(j.end(), {0xff, 0xd9});
  return j;
}

aec::Image decode(const Bytes& b, aec::AlphaPolicy alpha = aec::AlphaPolicy::refuse,
                  aec::LoadedImageInfo* info = nullptr, const aec::ImageLimits& limits = {}) {
  return aec::decode_image(b.data(), b.size(), limits, alpha, info);
}

std::string error_of(const Bytes& b, const aec::ImageLimits& limits = {}) {
  try {
    aec::decode_image(b.data(), b.size(), limits);
  } catch (const aec::Error& e) {
    return e.what();
  }
  return "(no error)";
}

std::string temp_path(const std::string& name) {
  return "/tmp/aec_test_image_" + std::to_string(test_getpid()) + "_" + name;
}

}  // namespace

TEST_CASE("PNG round trip is lossless for odd sizes", "[image][png]") {
  for (auto wh : {std::pair<int, int>{1, 1}, {17, 33}, {3, 500}, {500, 3}}) {
    const aec::Image img = pattern(wh.first, wh.second, uint32_t(wh.first * 1000 + wh.second));
    const Bytes png = aec::encode_png(img);
    REQUIRE(png.size() > 8);
    CHECK(Bytes(png.begin(), png.begin() + 8) == kPngSignature);
    aec::LoadedImageInfo info;
    const aec::Image back = decode(png, aec::AlphaPolicy::refuse, &info);
    REQUIRE(back.width == img.width);
    REQUIRE(back.height == img.height);
    CHECK(back.rgb == img.rgb);
    CHECK(info.source_channels == 3);
    CHECK_FALSE(info.converted_grey);
    CHECK_FALSE(info.dropped_alpha);
  }
}

TEST_CASE("encode_png rejects an inconsistent image", "[image][png]") {
  aec::Image bad(4, 4);
  bad.rgb.pop_back();
  CHECK_THROWS_AS(aec::encode_png(bad), aec::Error);
  CHECK_THROWS_AS(aec::encode_png(aec::Image()), aec::Error);
}

TEST_CASE("BMP and TGA written by stb_image_write decode losslessly", "[image][formats]") {
  const aec::Image img = pattern(13, 7, 5);
  SECTION("BMP is lossless") {
    Bytes bmp;
    REQUIRE(stbi_write_bmp_to_func(sink, &bmp, img.width, img.height, 3, img.rgb.data()) != 0);
    REQUIRE(bmp[0] == 'B');
    const aec::Image back = decode(bmp);
    REQUIRE(back.width == 13);
    REQUIRE(back.height == 7);
    CHECK(back.rgb == img.rgb);
  }
  SECTION("TGA is lossless") {
    Bytes tga;
    REQUIRE(stbi_write_tga_to_func(sink, &tga, img.width, img.height, 3, img.rgb.data()) != 0);
    const aec::Image back = decode(tga);
    REQUIRE(back.width == 13);
    REQUIRE(back.height == 7);
    CHECK(back.rgb == img.rgb);
  }
}

// JPEG comes from hand-built files rather than stbi_write_jpg: stb_image_write's JPEG encoder left-shifts
// negative ints (stb_image_write.h:1263, stbiw__jpg_writeBits), which the project's sanitizer build
// (-fno-sanitize-recover=undefined) turns into an abort.
TEST_CASE("baseline JPEG decodes: grey and colour", "[image][formats]") {
  SECTION("grey: one component, flat 128 + 15") {
    aec::LoadedImageInfo info;
    const aec::Image img = decode(hand_jpeg({15}), aec::AlphaPolicy::refuse, &info);
    REQUIRE(img.width == 8);
    REQUIRE(img.height == 8);
    CHECK(info.source_channels == 1);
    CHECK(info.converted_grey);
    CHECK_FALSE(info.dropped_alpha);
    for (uint8_t v : img.rgb) CHECK(v == 143);
  }
  SECTION("colour: Y 143, Cb 118, Cr 140 -> RGB by the JFIF equations") {
    aec::LoadedImageInfo info;
    const aec::Image img = decode(hand_jpeg({15, -10, 12}), aec::AlphaPolicy::refuse, &info);
    REQUIRE(img.width == 8);
    CHECK(info.source_channels == 3);
    CHECK_FALSE(info.converted_grey);
    // R = Y + 1.402 (Cr - 128) = 159.82; G = Y - 0.344136 (Cb - 128) - 0.714136 (Cr - 128) = 137.87;
    // B = Y + 1.772 (Cb - 128) = 125.28. stb converts in fixed point: within 1.
    for (size_t i = 0; i < 64; ++i) {
      CHECK(std::abs(int(img.rgb[i * 3 + 0]) - 160) <= 1);
      CHECK(std::abs(int(img.rgb[i * 3 + 1]) - 138) <= 1);
      CHECK(std::abs(int(img.rgb[i * 3 + 2]) - 125) <= 1);
    }
  }
  SECTION("truncated scan data is refused") {
    Bytes jpg = hand_jpeg({15, -10, 12});
    jpg.resize(jpg.size() - 5);
    CHECK_THROWS_AS(decode(jpg), aec::Error);
  }
  SECTION("a Huffman table of more than 256 codes is refused, before the frame or after the scan") {
    // stb_image 2.27 writes past its code tables for such a DHT segment (a fuzzer finding); a table of 12
    // codes in the same places is read as before.
    auto dht = [](int per_length) {
      const size_t n = size_t(16 * per_length), len = 2 + 17 + n;
      Bytes seg = {0xff, 0xc4, uint8_t(len >> 8), uint8_t(len), 0x00};
      seg.insert(seg.end(), 16, uint8_t(per_length));
      seg.insert(seg.end(), n, 0);
      return seg;
    };
    for (const bool after_scan : {false, true}) {
      INFO("after the scan: " << after_scan);
      for (const int per_length : {17, 1}) {
        Bytes jpg = hand_jpeg({15});
        const Bytes seg = dht(per_length);
        jpg.insert(after_scan ? jpg.end() - 2 : jpg.begin() + 2, seg.begin(), seg.end());
        if (per_length == 17)
          CHECK_THROWS_WITH(decode(jpg),
                            Contains("corrupt JPEG (a Huffman table declares more than 256 codes)"));
        else
          CHECK(decode(jpg).rgb == decode(hand_jpeg({15})).rgb);
      }
    }
  }
}

TEST_CASE("greyscale PNG expands to RGB and says so", "[image][grey]") {
  Bytes grey(5 * 3);
  for (size_t i = 0; i < grey.size(); ++i) grey[i] = uint8_t(i * 17);
  aec::LoadedImageInfo info;
  const aec::Image img = decode(stb_png(5, 3, 1, grey), aec::AlphaPolicy::refuse, &info);
  REQUIRE(img.width == 5);
  REQUIRE(img.height == 3);
  CHECK(info.source_channels == 1);
  CHECK(info.converted_grey);
  CHECK_FALSE(info.dropped_alpha);
  for (size_t i = 0; i < grey.size(); ++i) {
    CHECK(img.rgb[i * 3 + 0] == grey[i]);
    CHECK(img.rgb[i * 3 + 1] == grey[i]);
    CHECK(img.rgb[i * 3 + 2] == grey[i]);
  }
}

TEST_CASE("grey+alpha PNG: opaque accepted and transparent refused", "[image][grey][alpha]") {
  Bytes ga = {10, 255, 20, 255, 30, 255, 40, 255};  // 2x2, opaque
  aec::LoadedImageInfo info;
  const aec::Image img = decode(stb_png(2, 2, 2, ga), aec::AlphaPolicy::refuse, &info);
  CHECK(info.source_channels == 2);
  CHECK(info.converted_grey);
  CHECK(info.dropped_alpha);
  CHECK(img.rgb == Bytes{10, 10, 10, 20, 20, 20, 30, 30, 30, 40, 40, 40});
  ga[7] = 254;
  CHECK_THROWS_WITH(decode(stb_png(2, 2, 2, ga)), Contains("transparent"));
}

TEST_CASE("RGBA PNG: transparency refused or dropped as asked", "[image][alpha]") {
  const aec::Image rgb = pattern(3, 2, 9);
  Bytes rgba;
  for (size_t i = 0; i < 6; ++i)
    rgba.insert(rgba.end(), {rgb.rgb[i * 3], rgb.rgb[i * 3 + 1], rgb.rgb[i * 3 + 2], 255});

  SECTION("fully opaque is accepted under refuse; the alpha channel is dropped") {
    aec::LoadedImageInfo info;
    const aec::Image img = decode(stb_png(3, 2, 4, rgba), aec::AlphaPolicy::refuse, &info);
    CHECK(img.rgb == rgb.rgb);
    CHECK(info.source_channels == 4);
    CHECK_FALSE(info.converted_grey);
    CHECK(info.dropped_alpha);
  }
  SECTION("one transparent pixel") {
    rgba[4 * 4 + 3] = 0;
    const Bytes png = stb_png(3, 2, 4, rgba);
    CHECK_THROWS_WITH(
        decode(png, aec::AlphaPolicy::refuse),
        "image has transparent pixels; aecodec codes RGB only: flatten it first, or use --alpha drop");
    aec::LoadedImageInfo info;
    const aec::Image img = decode(png, aec::AlphaPolicy::drop, &info);
    CHECK(img.rgb == rgb.rgb);  // colour kept as stored, not premultiplied or flattened
    CHECK(info.dropped_alpha);
    CHECK(info.source_channels == 4);
  }
  SECTION("TGA with alpha follows the same rule") {
    rgba[3] = 128;
    Bytes tga;
    REQUIRE(stbi_write_tga_to_func(sink, &tga, 3, 2, 4, rgba.data()) != 0);
    CHECK_THROWS_WITH(decode(tga), Contains("transparent"));
    CHECK(decode(tga, aec::AlphaPolicy::drop).rgb == rgb.rgb);
  }
}

TEST_CASE("hand-built PNGs: 16-bit and colour-key and palette transparency", "[image][png]") {
  SECTION("16-bit RGB loads as 8-bit (high byte)") {
    // 2x1: (0x1234, 0xabcd, 0xff00), (0x00ff, 0x8080, 0x7f01)
    const Bytes rows = {0, 0x12, 0x34, 0xab, 0xcd, 0xff, 0x00, 0x00, 0xff, 0x80, 0x80, 0x7f, 0x01};
    aec::LoadedImageInfo info;
    const aec::Image img = decode(hand_png(2, 1, 16, 2, rows), aec::AlphaPolicy::refuse, &info);
    REQUIRE(img.width == 2);
    CHECK(img.rgb == Bytes{0x12, 0xab, 0xff, 0x00, 0x80, 0x7f});
    CHECK(info.source_channels == 3);
  }
  SECTION("RGB with a tRNS colour key: a matching pixel is transparent") {
    const Bytes rows = {0, 1, 2, 3, 4, 5, 6};  // 2x1 RGB
    const Bytes key = {0, 4, 0, 5, 0, 6};      // 16-bit sample values of the key colour (4,5,6)
    const Bytes png = hand_png(2, 1, 8, 2, rows, {{"tRNS", key}});
    CHECK_THROWS_WITH(decode(png), Contains("transparent"));
    aec::LoadedImageInfo info;
    CHECK(decode(png, aec::AlphaPolicy::drop, &info).rgb == Bytes{1, 2, 3, 4, 5, 6});
    CHECK(info.dropped_alpha);
    // A key no pixel matches: nothing transparent, accepted.
    const Bytes other = {0, 9, 0, 9, 0, 9};
    CHECK(decode(hand_png(2, 1, 8, 2, rows, {{"tRNS", other}})).rgb == Bytes{1, 2, 3, 4, 5, 6});
  }
  SECTION("palette with tRNS") {
    const Bytes plte = {255, 0, 0, 0, 0, 255};
    const Bytes rows = {0, 0, 1, 1};  // 3x1 indices
    CHECK(decode(hand_png(3, 1, 8, 3, rows, {{"PLTE", plte}})).rgb == Bytes{255, 0, 0, 0, 0, 255, 0, 0, 255});
    const Bytes trns = {255, 100};  // index 1 half transparent
    const Bytes png = hand_png(3, 1, 8, 3, rows, {{"PLTE", plte}, {"tRNS", trns}});
    CHECK_THROWS_WITH(decode(png), Contains("transparent"));
    CHECK(decode(png, aec::AlphaPolicy::drop).rgb == Bytes{255, 0, 0, 0, 0, 255, 0, 0, 255});
  }
}

TEST_CASE("broken data is refused with aec::Error", "[image][errors]") {
  const Bytes png = aec::encode_png(pattern(40, 30, 3));
  SECTION("empty buffer") {
    CHECK_THROWS_WITH(aec::decode_image(nullptr, 0), Contains("empty"));
    CHECK_THROWS_WITH(aec::decode_image(png.data(), 0), Contains("empty"));
  }
  SECTION("truncated after the header: the cut chunk is named before decoding") {
    const Bytes cut(png.begin(), png.begin() + long(png.size() / 2));
    CHECK_THROWS_WITH(decode(cut), Contains("cannot read image: truncated PNG (a chunk at byte 33 declares"));
  }
  SECTION("an IDAT chunk declaring 2 GB in a small file is refused before stb allocates for it") {
    // (a fuzz_image finding: stb 2.27 grows its IDAT buffer to the declared length, then finds no data)
    Bytes big = png;
    const size_t idat = 33;  // signature 8 + IHDR 25
    REQUIRE(std::equal(big.begin() + idat + 4, big.begin() + idat + 8, "IDAT"));
    big[idat] = 0x7f, big[idat + 1] = 0xff, big[idat + 2] = 0xf0, big[idat + 3] = 0x00;
    CHECK_THROWS_WITH(decode(big), Contains("declares 2147479552 bytes"));
  }
  SECTION("truncated inside the header") {
    const Bytes cut(png.begin(), png.begin() + 20);
    CHECK_THROWS_WITH(decode(cut), Contains("cannot read image: Image not of any known type, or corrupt"));
  }
  SECTION("corrupt compressed data") {
    Bytes bad = png;
    for (size_t i = 60; i < bad.size() - 12; ++i) bad[i] ^= 0x5a;
    CHECK_THROWS_AS(decode(bad), aec::Error);
  }
  SECTION("garbage bytes name the reason and the supported formats") {
    const std::string text = "this is not an image, just some text";
    const Bytes junk(text.begin(), text.end());
    const std::string msg = error_of(junk);
    CHECK_THAT(msg, Contains("cannot read image: Image not of any known type, or corrupt"));
    CHECK_THAT(msg, Contains("PNG, JPEG, BMP and TGA"));
  }
  SECTION("a GIF is not among the formats compiled in") {
    const std::string gif = "GIF89a\x01\x00\x01\x00\x00\x00\x00;";
    CHECK_THROWS_AS(decode(Bytes(gif.begin(), gif.end())), aec::Error);
  }
  SECTION("zero-size headers") {
    CHECK_THROWS_AS(decode(forged_png(0, 10)), aec::Error);
    CHECK_THROWS_AS(decode(forged_bmp(0, 0)), aec::Error);
  }
}

TEST_CASE("limits are checked on the header before any pixel is decoded", "[image][limits]") {
  SECTION("forged PNG header claiming 100000x100000") {
    // 33 bytes (signature + IHDR with a valid CRC, no pixel data): refused by ImageLimits, read from the IHDR
    // before stb sees the data, so nothing is allocated.
    CHECK_THROWS_WITH(decode(forged_png(100000, 100000)),
                      "image is 100000x100000, over the limit of 16384 px per side");
    // A side beyond 2^31 (PNG allows up to 2^31-1; this is what a 32-bit int would get wrong).
    CHECK_THAT(error_of(forged_png(0xfffffff0u, 1)), Contains("4294967280x1, over the limit"));
    // The limits are the caller's: raised, the same header still stops at stb's own backstop.
    aec::ImageLimits huge{1 << 30, int64_t(1) << 40};
    CHECK_THAT(error_of(forged_png(100000, 100000), huge), Contains("cannot read image"));
  }
  SECTION("forged BMP header claiming 100000x100000: refused by ImageLimits") {
    // 54 bytes that would make stbi_load allocate 30 GB: the message proves our check ran, not stb's load.
    const std::string msg = error_of(forged_bmp(100000, 100000));
    CHECK_THAT(msg, Contains("100000x100000"));
    CHECK_THAT(msg, Contains("over the limit of 16384 px per side"));
  }
  SECTION("forged PNG headers just over each default limit") {
    CHECK_THAT(error_of(forged_png(20000, 16)), Contains("20000x16, over the limit of 16384 px per side"));
    CHECK_THAT(error_of(forged_png(9000, 9000)),
               Contains("81000000 pixels, over the limit of 67108864 pixels"));
  }
  SECTION("custom limits on a real image") {
    const Bytes png = aec::encode_png(pattern(17, 33));
    aec::ImageLimits side{32, 1 << 20};
    CHECK_THAT(error_of(png, side), Contains("17x33, over the limit of 32 px per side"));
    aec::ImageLimits pixels{64, 560};
    CHECK_THAT(error_of(png, pixels), Contains("561 pixels, over the limit of 560"));
    aec::ImageLimits exact{33, 561};
    CHECK(decode(png, aec::AlphaPolicy::refuse, nullptr, exact).width == 17);
  }
}

TEST_CASE("write_png and load_image go through files", "[image][file]") {
  const aec::Image img = pattern(9, 4, 11);
  const std::string path = temp_path("rt.png");
  aec::write_png(path, img);
  aec::LoadedImageInfo info;
  const aec::Image back = aec::load_image(path, {}, aec::AlphaPolicy::refuse, &info);
  CHECK(back.rgb == img.rgb);
  CHECK(back.width == 9);
  CHECK(info.source_channels == 3);

  const std::string junk_path = temp_path("junk.png");
  const std::string junk = "not a png";
  aec::write_file_atomic(junk_path, reinterpret_cast<const uint8_t*>(junk.data()), junk.size());
  CHECK_THROWS_WITH(aec::load_image(junk_path), Contains(junk_path) && Contains("cannot read image"));
  CHECK_THROWS_WITH(aec::load_image(temp_path("missing.png")), Contains("missing.png"));
  std::remove(path.c_str());
  std::remove(junk_path.c_str());
}

TEST_CASE("image <-> tensor conversion", "[image][tensor]") {
  aec::Image img(2, 1);
  img.rgb = {0, 51, 102, 153, 204, 255};
  const aec::Tensor t = aec::image_to_tensor(img);
  REQUIRE(t.c == 3);
  REQUIRE(t.h == 1);
  REQUIRE(t.w == 2);
  // CHW: channel 0 holds the red samples of both pixels.
  CHECK(t.at(0, 0, 0) == Approx(0.0f));
  CHECK(t.at(0, 0, 1) == Approx(0.6f));
  CHECK(t.at(1, 0, 0) == Approx(0.2f));
  CHECK(t.at(2, 0, 1) == Approx(1.0f));
  CHECK(aec::tensor_to_image(t).rgb == img.rgb);

  SECTION("every byte value survives the round trip") {
    aec::Image all(256, 1);
    for (int i = 0; i < 256; ++i)
      all.rgb[size_t(i) * 3] = all.rgb[size_t(i) * 3 + 1] = all.rgb[size_t(i) * 3 + 2] = uint8_t(i);
    CHECK(aec::tensor_to_image(aec::image_to_tensor(all)).rgb == all.rgb);
  }
  SECTION("rounding, clamping and NaN") {
    aec::Tensor f(3, 1, 4);
    const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
    const float r[4] = {10.4f / 255, 10.6f / 255, -0.2f, 1.7f};
    const float g[4] = {nan, inf, -inf, 0.5f};  // 127.5 rounds half up
    const float b[4] = {1.0f, 0.0f, 254.49f / 255, 254.51f / 255};
    for (int x = 0; x < 4; ++x) {
      f.at(0, 0, x) = r[x];
      f.at(1, 0, x) = g[x];
      f.at(2, 0, x) = b[x];
    }
    CHECK(aec::tensor_to_image(f).rgb == Bytes{10, 0, 255, 11, 255, 0, 0, 0, 254, 255, 128, 255});
  }
  SECTION("a long row rounds and clamps each value as documented") {
    const int w = 333;
    aec::Tensor f(3, 2, w);
    const float special[] = {std::numeric_limits<float>::quiet_NaN(),
                             std::numeric_limits<float>::infinity(),
                             -std::numeric_limits<float>::infinity(),
                             0.5f,
                             -0.0f,
                             1.0f,
                             254.5f / 255};
    for (size_t i = 0; i < f.data.size(); ++i)
      f.data[i] = i % 17 == 0 ? special[(i / 17) % 7] : float(int(i * 7919 % 3000) - 1000) / 1000.0f;
    // v * 255 in double, NaN and negatives to 0, 255 and above to 255, else rounded half up.
    const auto byte_of = [](float x) {
      const double v = double(x) * 255.0;
      return !(v >= 0.0) ? uint8_t(0) : v >= 255.0 ? uint8_t(255) : uint8_t(v + 0.5);
    };
    const aec::Image im = aec::tensor_to_image(f);
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 2; ++y)
        for (int x = 0; x < w; ++x) CHECK(im.rgb[(size_t(y) * w + x) * 3 + c] == byte_of(f.at(c, y, x)));
  }
  SECTION("wrong shapes are refused") {
    CHECK_THROWS_AS(aec::tensor_to_image(aec::Tensor(1, 2, 2)), aec::Error);
    CHECK_THROWS_AS(aec::tensor_to_image(aec::Tensor(3, 0, 2)), aec::Error);
    aec::Tensor broken(3, 2, 2);
    broken.data.pop_back();
    CHECK_THROWS_AS(aec::tensor_to_image(broken), aec::Error);
  }
}

TEST_CASE("pad_edge replicates the edge and crop inverts it", "[image][pad]") {
  aec::Image img(2, 2);
  img.rgb = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};  // (0,0) (1,0) / (0,1) (1,1)
  const aec::Image p = aec::pad_edge(img, 4, 3);
  REQUIRE(p.width == 4);
  REQUIRE(p.height == 3);
  const Bytes row0 = {1, 2, 3, 4, 5, 6, 4, 5, 6, 4, 5, 6};
  const Bytes row1 = {7, 8, 9, 10, 11, 12, 10, 11, 12, 10, 11, 12};
  Bytes expect = row0;
  expect.insert(expect.end(), row1.begin(), row1.end());
  expect.insert(expect.end(), row1.begin(), row1.end());
  CHECK(p.rgb == expect);
  CHECK(aec::crop(p, 2, 2).rgb == img.rgb);
  CHECK(aec::pad_edge(img, 2, 2).rgb == img.rgb);

  const aec::Image big = pattern(17, 33);
  CHECK(aec::crop(aec::pad_edge(big, 64, 64), 17, 33).rgb == big.rgb);
  const aec::Image c = aec::crop(big, 5, 2);
  CHECK(Bytes(c.rgb.begin() + 15, c.rgb.end()) ==
        Bytes(big.rgb.begin() + 17 * 3, big.rgb.begin() + 17 * 3 + 15));

  CHECK_THROWS_AS(aec::pad_edge(img, 1, 3), aec::Error);
  CHECK_THROWS_AS(aec::pad_edge(img, 3, 1), aec::Error);
  CHECK_THROWS_AS(aec::crop(img, 3, 2), aec::Error);
  CHECK_THROWS_AS(aec::crop(img, 2, 0), aec::Error);
}

TEST_CASE("downscale2x_box averages 2x2 blocks", "[image][resample]") {
  SECTION("constant stays constant, odd sizes round up") {
    aec::Image c(7, 5);
    std::fill(c.rgb.begin(), c.rgb.end(), uint8_t(77));
    const aec::Image d = aec::downscale2x_box(c);
    REQUIRE(d.width == 4);
    REQUIRE(d.height == 3);
    for (uint8_t v : d.rgb) CHECK(v == 77);
  }
  SECTION("hand-checked means, rounding half up, odd edges") {
    // 3x3 grey ramp (same value in R, G, B):
    //   0  1  2
    //   3  5  8
    //  13 21 34
    aec::Image g(3, 3);
    const int v[9] = {0, 1, 2, 3, 5, 8, 13, 21, 34};
    for (int i = 0; i < 9; ++i)
      g.rgb[size_t(i) * 3] = g.rgb[size_t(i) * 3 + 1] = g.rgb[size_t(i) * 3 + 2] = uint8_t(v[i]);
    const aec::Image d = aec::downscale2x_box(g);
    REQUIRE(d.width == 2);
    REQUIRE(d.height == 2);
    // (0+1+3+5)/4 = 2.25 -> 2; (2+8)/2 = 5; (13+21)/2 = 17; 34 alone.
    CHECK(d.rgb == Bytes{2, 2, 2, 5, 5, 5, 17, 17, 17, 34, 34, 34});
  }
  SECTION("ties round up, channels independent") {
    aec::Image g(2, 2);
    g.rgb = {0, 0, 0, 0, 1, 0, 1, 1, 0, 1, 1, 1};  // R: 0 0 1 1 -> .5 ; G: 0 1 1 1 -> .75 ; B: 0 0 0 1 -> .25
    CHECK(aec::downscale2x_box(g).rgb == Bytes{1, 1, 0});
  }
}

TEST_CASE("resize_bicubic follows PyTorch bicubic (a = -0.75 and align_corners=false)", "[image][resample]") {
  SECTION("constant stays constant, up and down") {
    aec::Image c(9, 6);
    std::fill(c.rgb.begin(), c.rgb.end(), uint8_t(200));
    for (auto wh : {std::pair<int, int>{18, 12}, {5, 3}, {31, 7}, {1, 1}}) {
      const aec::Image r = aec::resize_bicubic(c, wh.first, wh.second);
      REQUIRE(r.width == wh.first);
      REQUIRE(r.height == wh.second);
      for (uint8_t v : r.rgb) CHECK(v == 200);
    }
  }
  SECTION("same size is the identity") {
    const aec::Image img = pattern(11, 6);
    CHECK(aec::resize_bicubic(img, 11, 6).rgb == img.rgb);
  }
  SECTION("a linear ramp, away from the edges: hand-computed weights") {
    // Input x -> 20x, upscaled by 2: output x maps to src = (x + 0.5) / 2 - 0.5. With a = -0.75 the Keys
    // kernel does not reproduce a ramp exactly (only a = -0.5 does), which makes this a check of a itself.
    // The weights of taps floor(src)-1..+2 for t = src - floor(src) are W2(t+1), W1(t), W1(1-t), W2(2-t) with
    // W1(s) = 1.25s^3 - 2.25s^2 + 1 and W2(s) = -0.75s^3 + 3.75s^2 - 6s + 3:
    //   t = .75 (x = 2m):   -.03515625 .26171875 .87890625 -.10546875, first moment .703125
    //                       -> 20 * (m - 1 + .703125) = 10x - 5.9375 -> 10x - 6
    //   t = .25 (x = 2m+1): -.10546875 .87890625 .26171875 -.03515625, first moment .296875
    //                       -> 20 * (m + .296875) = 10x - 4.0625 -> 10x - 4
    // (a = -0.5 would give 10x - 5 for both.) Valid while all four taps are inside [0, 7]: x in 4..12.
    aec::Image rx(8, 3), ry(3, 8);
    for (int y = 0; y < 3; ++y)
      for (int x = 0; x < 8; ++x)
        for (int k = 0; k < 3; ++k) {
          rx.rgb[(size_t(y) * 8 + x) * 3 + k] = uint8_t(20 * x);
          ry.rgb[(size_t(x) * 3 + y) * 3 + k] = uint8_t(20 * x);
        }
    const aec::Image ux = aec::resize_bicubic(rx, 16, 3), uy = aec::resize_bicubic(ry, 3, 16);
    for (int x = 4; x <= 12; ++x)
      for (int k = 0; k < 3; ++k) {
        const int expect = x % 2 == 0 ? 10 * x - 6 : 10 * x - 4;
        CHECK(int(ux.rgb[(size_t(1) * 16 + x) * 3 + k]) == expect);
        CHECK(int(uy.rgb[(size_t(x) * 3 + 1) * 3 + k]) == expect);
      }
  }
  SECTION("a step edge: hand-computed Keys weights, overshoot clamped") {
    // 0 0 0 0 255 255 255 255 upscaled to 16. With t the fractional part of src, the weights of taps
    // floor(src)-1..+2 are W2(t+1), W1(t), W1(1-t), W2(2-t), W1(x) = 1.25x^3 - 2.25x^2 + 1,
    // W2(x) = -0.75x^3 + 3.75x^2 - 6x + 3:  W1(.25) = .87890625, W1(.75) = .26171875,
    // W2(1.25) = -.10546875, W2(1.75) = -.03515625.
    //  x=6: src 2.75, taps 1..4 = 0 0 0 255: 255 * W2(1.25) < 0 -> 0 (undershoot clamped)
    //  x=7: src 3.25, taps 2..5 = 0 0 255 255: 255 * (.26171875 - .03515625) = 57.77 -> 58
    //  x=8: src 3.75, taps 2..5: 255 * (.87890625 - .10546875) = 197.23 -> 197
    //  x=9: src 4.25, taps 3..6 = 0 255 255 255: 255 * (1 + .10546875) = 281.9 -> 255 (overshoot clamped)
    aec::Image step(8, 1);
    for (int x = 4; x < 8; ++x)
      step.rgb[size_t(x) * 3] = step.rgb[size_t(x) * 3 + 1] = step.rgb[size_t(x) * 3 + 2] = 255;
    const aec::Image r = aec::resize_bicubic(step, 16, 1);
    const int expect[16] = {0, 0, 0, 0, 0, 0, 0, 58, 197, 255, 255, 255, 255, 255, 255, 255};
    for (int x = 0; x < 16; ++x) CHECK(int(r.rgb[size_t(x) * 3]) == expect[x]);
  }
  SECTION("bad sizes are refused") {
    CHECK_THROWS_AS(aec::resize_bicubic(pattern(4, 4), 0, 4), aec::Error);
    CHECK_THROWS_AS(aec::resize_bicubic(aec::Image(), 4, 4), aec::Error);
  }
}
