// Photos as cameras store them: a JPEG's EXIF orientation is applied on load (each of the eight), and broken
// or truncated EXIF is ignored without reading out of bounds; a broken embedded ICC profile is reported
// (test_image_icc.cpp converts real ones).
#include <array>
#include <catch2/catch.hpp>
#include <cstring>

#include "aecodec/error.h"
#include "aecodec/image.h"
#include "test_images.h"

#include "stb_write_static.h"

using namespace aec;

namespace {

std::vector<uint8_t> to_jpeg(const Image& im) {
  std::vector<uint8_t> out;
  auto sink = [](void* ctx, void* data, int n) {
    auto* v = static_cast<std::vector<uint8_t>*>(ctx);
    v->insert(v->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + n);
  };
  REQUIRE(stbi_write_jpg_to_func(sink, &out, im.width, im.height, 3, im.rgb.data(), 95) != 0);
  return out;
}

// An APP1 Exif segment whose IFD0 holds `entries` (tag, type, count, value) in the given byte order.
std::vector<uint8_t> exif_segment(bool little, const std::vector<std::array<uint32_t, 4>>& entries) {
  std::vector<uint8_t> t;
  auto put = [&](uint32_t v, int bytes) {  // push_back: GCC 12 misreads insert of a braced list here
    for (int i = 0; i < bytes; ++i) t.push_back(uint8_t(v >> (8 * (little ? i : bytes - 1 - i))));
  };
  auto p16 = [&](uint32_t v) { put(v, 2); };
  auto p32 = [&](uint32_t v) { put(v, 4); };
  t.push_back(little ? 'I' : 'M');
  t.push_back(little ? 'I' : 'M');
  p16(42);
  p32(8);
  p16(uint32_t(entries.size()));
  for (const auto& e : entries) {
    p16(e[0]);
    p16(e[1]);
    p32(e[2]);
    if (e[1] == 3) {  // SHORT: left-justified in the value field
      p16(e[3]);
      p16(0);
    } else {
      p32(e[3]);
    }
  }
  p32(0);  // no next IFD
  std::vector<uint8_t> seg = {0xff, 0xe1, 0, 0, 'E', 'x', 'i', 'f', 0, 0};
  seg.insert(seg.end(), t.begin(), t.end());
  const size_t len = seg.size() - 2;
  seg[2] = uint8_t(len >> 8), seg[3] = uint8_t(len);
  return seg;
}

// The JPEG with `segment` inserted right after its SOI marker.
std::vector<uint8_t> with_segment(const std::vector<uint8_t>& jpeg, const std::vector<uint8_t>& segment) {
  std::vector<uint8_t> out(jpeg.begin(), jpeg.begin() + 2);
  out.insert(out.end(), segment.begin(), segment.end());
  out.insert(out.end(), jpeg.begin() + 2, jpeg.end());
  return out;
}

// The stored image turned as a viewer shows it, written independently of apply_orientation: orientation o is
// a mirror (2, 4, 5, 7) and/or a number of quarter turns clockwise.
Image rotate_cw(const Image& im) {
  Image out(im.height, im.width);
  for (int y = 0; y < im.height; ++y)
    for (int x = 0; x < im.width; ++x)
      std::memcpy(&out.rgb[(size_t(x) * out.width + (im.height - 1 - y)) * 3],
                  &im.rgb[(size_t(y) * im.width + x) * 3], 3);
  return out;
}
Image mirror(const Image& im) {
  Image out(im.width, im.height);
  for (int y = 0; y < im.height; ++y)
    for (int x = 0; x < im.width; ++x)
      std::memcpy(&out.rgb[(size_t(y) * im.width + (im.width - 1 - x)) * 3],
                  &im.rgb[(size_t(y) * im.width + x) * 3], 3);
  return out;
}
Image as_displayed(const Image& stored, int o) {
  static const int turns[9] = {0, 0, 0, 2, 2, 3, 1, 1, 3};  // clockwise quarter turns
  static const bool mirrored[9] = {false, false, true, false, true,
                                   true,  false, true, false};  // before turning
  Image im = mirrored[o] ? mirror(stored) : stored;
  for (int i = 0; i < turns[o]; ++i) im = rotate_cw(im);
  return im;
}

}  // namespace

TEST_CASE("a JPEG's EXIF orientation is applied on load, each of the eight, in both byte orders") {
  const Image src = aec::testing::synthetic_image(40, 24, 3);  // not square: quarter turns swap the sides
  const std::vector<uint8_t> jpeg = to_jpeg(src);
  const Image stored = decode_image(jpeg.data(), jpeg.size());
  for (bool little : {true, false})
    for (int o = 1; o <= 8; ++o) {
      INFO("orientation " << o << (little ? " II" : " MM"));
      // Another tag first, as cameras write several.
      const std::vector<uint8_t> tagged =
          with_segment(jpeg, exif_segment(little, {{0x010f, 2, 4, 0}, {0x0112, 3, 1, uint32_t(o)}}));
      CHECK(jpeg_exif_orientation(tagged.data(), tagged.size()) == o);
      LoadedImageInfo info;
      const Image shown = decode_image(tagged.data(), tagged.size(), {}, AlphaPolicy::refuse, &info);
      CHECK(info.orientation == o);
      const Image expected = as_displayed(stored, o);
      CHECK(shown.width == expected.width);
      CHECK(shown.height == expected.height);
      CHECK(shown.rgb == expected.rgb);
    }
}

TEST_CASE("broken, truncated or odd EXIF is ignored, never read out of bounds") {
  const std::vector<uint8_t> jpeg = to_jpeg(aec::testing::synthetic_image(16, 8, 1));
  const Image plain = decode_image(jpeg.data(), jpeg.size());
  const std::vector<uint8_t> good = exif_segment(true, {{0x0112, 3, 1, 6}});
  std::vector<std::vector<uint8_t>> bad;
  bad.push_back(exif_segment(true, {{0x0112, 3, 1, 0}}));   // out of range
  bad.push_back(exif_segment(true, {{0x0112, 3, 1, 9}}));   // out of range
  bad.push_back(exif_segment(true, {{0x0112, 4, 1, 6}}));   // LONG, not SHORT
  bad.push_back(exif_segment(false, {{0x0112, 3, 0, 6}}));  // count 0
  std::vector<uint8_t> s = good;
  s[10] = 'X';  // byte order neither II nor MM
  bad.push_back(s);
  s = good;
  s[14] = 0xff, s[15] = 0xff;  // IFD0 offset past the end
  bad.push_back(s);
  s = good;
  s[18] = 0;  // no entries declared
  s[19] = 0;
  bad.push_back(s);
  for (const auto& seg : bad) {
    const std::vector<uint8_t> tagged = with_segment(jpeg, seg);
    CHECK(jpeg_exif_orientation(tagged.data(), tagged.size()) == 1);
    const Image im = decode_image(tagged.data(), tagged.size());
    CHECK(im.rgb == plain.rgb);
  }
  // Every truncation of a tagged file: the parser never reads past the end (ASan checks), and answers 1 or 6.
  const std::vector<uint8_t> tagged = with_segment(jpeg, good);
  for (size_t n = 0; n <= 64 && n <= tagged.size(); ++n) {
    std::vector<uint8_t> cut(tagged.begin(), tagged.begin() + ptrdiff_t(n));  // its own buffer: exact bounds
    const int o = jpeg_exif_orientation(cut.data(), cut.size());
    CHECK((o == 1 || o == 6));
  }
  // A segment length that runs past the end of the file, and a non-JPEG.
  std::vector<uint8_t> lying = with_segment(jpeg, good);
  lying[4] = 0xff;
  CHECK(jpeg_exif_orientation(lying.data(), 40) == 1);
  CHECK(jpeg_exif_orientation(nullptr, 0) == 1);
  const std::vector<uint8_t> not_jpeg = {0x89, 'P', 'N', 'G'};
  CHECK(jpeg_exif_orientation(not_jpeg.data(), not_jpeg.size()) == 1);
}

TEST_CASE("an embedded ICC profile is reported (its colours are taken as sRGB)") {
  const std::vector<uint8_t> jpeg = to_jpeg(aec::testing::synthetic_image(16, 8, 1));
  LoadedImageInfo info;
  decode_image(jpeg.data(), jpeg.size(), {}, AlphaPolicy::refuse, &info);
  CHECK_FALSE(info.ignored_icc);
  std::vector<uint8_t> app2 = {0xff, 0xe2, 0,   0,   'I', 'C', 'C', '_', 'P',
                               'R',  'O',  'F', 'I', 'L', 'E', 0,   1,   1};
  app2.resize(app2.size() + 32, 0);
  app2[2] = uint8_t((app2.size() - 2) >> 8), app2[3] = uint8_t(app2.size() - 2);
  const std::vector<uint8_t> tagged = with_segment(jpeg, app2);
  decode_image(tagged.data(), tagged.size(), {}, AlphaPolicy::refuse, &info);
  CHECK(info.ignored_icc);
  CHECK(info.orientation == 1);
}
