// Photos in other colour spaces: an embedded ICC profile (a JPEG's APP2 ICC_PROFILE segments, split over
// several or not, in any order; a PNG's zlib-compressed iCCP chunk) is converted to sRGB on load, checked
// against colours computed here from the profiles' primaries; an sRGB profile leaves the pixels as decoded;
// broken, truncated, forged, CMYK and device-link profiles are ignored and reported, never a crash.
#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "aecodec/colour.h"
#include "aecodec/error.h"
#include "aecodec/image.h"
#include "test_images.h"

#include "stb_write_static.h"

#if AEC_HAVE_LCMS2
#include <lcms2.h>
#endif

using namespace aec;
using Catch::Contains;

namespace {

using Bytes = std::vector<uint8_t>;

Bytes to_jpeg(const Image& im) {
  Bytes out;
  auto sink = [](void* ctx, void* data, int n) {
    auto* v = static_cast<Bytes*>(ctx);
    v->insert(v->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + n);
  };
  // Quality 100: stb then keeps full-resolution chroma, so a flat 8x8-aligned patch comes back within a
  // level.
  REQUIRE(stbi_write_jpg_to_func(sink, &out, im.width, im.height, 3, im.rgb.data(), 100) != 0);
  return out;
}

// comp 1: one grey channel (the image's red).
Bytes to_png(const Image& im, int comp = 3) {
  Bytes out;
  auto sink = [](void* ctx, void* data, int n) {
    auto* v = static_cast<Bytes*>(ctx);
    v->insert(v->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + n);
  };
  std::vector<uint8_t> px;
  if (comp == 1)
    for (size_t i = 0; i < im.rgb.size(); i += 3) px.push_back(im.rgb[i]);
  REQUIRE(stbi_write_png_to_func(sink, &out, im.width, im.height, comp, comp == 1 ? px.data() : im.rgb.data(),
                                 im.width * comp) != 0);
  return out;
}

// APP2 ICC_PROFILE segments holding `profile` in pieces of at most `piece` bytes, numbered 1..n of n.
std::vector<Bytes> icc_segments(const Bytes& profile, size_t piece) {
  const size_t n = (profile.size() + piece - 1) / piece;
  std::vector<Bytes> segs;
  for (size_t i = 0; i < n; ++i) {
    Bytes s = {0xff, 0xe2, 0, 0, 'I', 'C', 'C', '_', 'P', 'R', 'O', 'F', 'I', 'L', 'E', 0};
    s.push_back(uint8_t(i + 1));
    s.push_back(uint8_t(n));
    const size_t from = i * piece, to = std::min(profile.size(), from + piece);
    s.insert(s.end(), profile.begin() + long(from), profile.begin() + long(to));
    s[2] = uint8_t((s.size() - 2) >> 8), s[3] = uint8_t(s.size() - 2);
    segs.push_back(s);
  }
  return segs;
}

// The JPEG with `segments` inserted right after its SOI marker, in the order given.
Bytes with_segments(const Bytes& jpeg, const std::vector<Bytes>& segments) {
  Bytes out(jpeg.begin(), jpeg.begin() + 2);
  for (const Bytes& s : segments) out.insert(out.end(), s.begin(), s.end());
  out.insert(out.end(), jpeg.begin() + 2, jpeg.end());
  return out;
}

// A PNG chunk (length, type, data, CRC) inserted after the IHDR chunk.
Bytes with_png_chunk(const Bytes& png, const char* type, const Bytes& data) {
  Bytes chunk;
  for (int s : {24, 16, 8, 0}) chunk.push_back(uint8_t(data.size() >> s));
  for (int i = 0; i < 4; ++i) chunk.push_back(uint8_t(type[i]));
  for (uint8_t b : data) chunk.push_back(b);
  const unsigned crc = stbiw__crc32(chunk.data() + 4, int(chunk.size() - 4));
  for (int s : {24, 16, 8, 0}) chunk.push_back(uint8_t(crc >> s));
  Bytes out = png;
  out.insert(out.begin() + 33, chunk.begin(), chunk.end());  // after the signature (8) and IHDR (25)
  return out;
}

// An iCCP payload: name, zero, compression method 0, the zlib stream of `profile`.
Bytes iccp_payload(const Bytes& profile) {
  Bytes p = {'t', 'e', 's', 't', 0, 0};
  int n = 0;
  unsigned char* z = stbi_zlib_compress(const_cast<uint8_t*>(profile.data()), int(profile.size()), &n, 8);
  REQUIRE(z != nullptr);
  p.insert(p.end(), z, z + n);
  STBIW_FREE(z);
  return p;
}

Image decode(const Bytes& b, LoadedImageInfo* info = nullptr) {
  return decode_image(b.data(), b.size(), {}, AlphaPolicy::refuse, info);
}

int max_diff(const Image& a, const Image& b) {
  REQUIRE(a.rgb.size() == b.rgb.size());
  int d = 0;
  for (size_t i = 0; i < a.rgb.size(); ++i) d = std::max(d, std::abs(int(a.rgb[i]) - int(b.rgb[i])));
  return d;
}

// A made-up profile's bytes (extraction does not look inside).
Bytes fake_profile(size_t n) {
  Bytes p(n);
  for (size_t i = 0; i < n; ++i) p[i] = uint8_t(i * 7 + 3);
  return p;
}

// A 200-byte profile of nothing but a header that declares `declared` bytes, class `cls`, colour space
// `space`.
Bytes header_only(uint32_t declared, const char* cls, const char* space, const char* magic = "acsp") {
  Bytes p(200, 0);
  for (int i = 0; i < 4; ++i) p[size_t(i)] = uint8_t(declared >> (24 - 8 * i));
  std::memcpy(&p[12], cls, 4);
  std::memcpy(&p[16], space, 4);
  std::memcpy(&p[36], magic, 4);
  return p;
}

}  // namespace

TEST_CASE("embedded_icc_profile joins a JPEG's ICC_PROFILE segments in sequence order") {
  const Bytes jpeg = to_jpeg(testing::synthetic_image(16, 16));
  CHECK_FALSE(embedded_icc_profile(jpeg.data(), jpeg.size()).present);
  CHECK_FALSE(has_icc_profile(jpeg.data(), jpeg.size()));
  const Bytes profile = fake_profile(1000);
  for (size_t piece : {size_t(1000), size_t(400), size_t(333), size_t(65519)}) {
    std::vector<Bytes> segs = icc_segments(profile, piece);
    std::reverse(segs.begin(), segs.end());  // out of order in the file: the sequence numbers count
    const Bytes tagged = with_segments(jpeg, segs);
    const EmbeddedIcc icc = embedded_icc_profile(tagged.data(), tagged.size());
    CHECK(has_icc_profile(tagged.data(), tagged.size()));
    CHECK(icc.present);
    CHECK(icc.problem.empty());
    CHECK(icc.bytes == profile);
  }
  // A profile over one segment's 65519 bytes: the way real large profiles are stored.
  const Bytes big = fake_profile(150000);
  const Bytes tagged = with_segments(jpeg, icc_segments(big, 65519));
  CHECK(embedded_icc_profile(tagged.data(), tagged.size()).bytes == big);
}

TEST_CASE("embedded_icc_profile: missing, repeated or inconsistent segments are a problem, not a profile") {
  const Bytes jpeg = to_jpeg(testing::synthetic_image(16, 16));
  const std::vector<Bytes> segs = icc_segments(fake_profile(900), 300);  // 3 segments
  auto problem = [&](const std::vector<Bytes>& s) {
    const Bytes f = with_segments(jpeg, s);
    const EmbeddedIcc icc = embedded_icc_profile(f.data(), f.size());
    CHECK(icc.present);
    CHECK(icc.bytes.empty());
    return icc.problem;
  };
  CHECK_THAT(problem({segs[0], segs[2]}), Contains("2 of the ICC profile's 3"));
  CHECK_THAT(problem({segs[0], segs[1], segs[1], segs[2]}), Contains("segment 2 twice"));
  Bytes bad_count = segs[1];
  bad_count[17] = 4;  // "of 4" where the others say 3
  CHECK_THAT(problem({segs[0], bad_count, segs[2]}), Contains("inconsistently"));
  Bytes zero = segs[0];
  zero[16] = 0;  // sequence numbers start at 1
  CHECK_THAT(problem({zero}), Contains("inconsistently"));
  Bytes header_only = {0xff, 0xe2, 0, 14, 'I', 'C', 'C', '_', 'P', 'R', 'O', 'F', 'I', 'L', 'E', 0};
  CHECK_THAT(problem({header_only}), Contains("inconsistently"));
}

TEST_CASE("embedded_icc_profile inflates a PNG's iCCP chunk, and refuses one that does not inflate") {
  const Bytes png = to_png(testing::synthetic_image(16, 16));
  CHECK_FALSE(embedded_icc_profile(png.data(), png.size()).present);
  const Bytes profile = fake_profile(5000);
  const Bytes tagged = with_png_chunk(png, "iCCP", iccp_payload(profile));
  CHECK(has_icc_profile(tagged.data(), tagged.size()));
  const EmbeddedIcc icc = embedded_icc_profile(tagged.data(), tagged.size());
  CHECK(icc.bytes == profile);

  Bytes corrupt = iccp_payload(profile);
  for (size_t i = 8; i < corrupt.size(); ++i) corrupt[i] ^= 0x5a;
  const Bytes bad = with_png_chunk(png, "iCCP", corrupt);
  const EmbeddedIcc b = embedded_icc_profile(bad.data(), bad.size());
  CHECK(b.present);
  CHECK(b.bytes.empty());
  CHECK_THAT(b.problem, Contains("does not inflate"));
  const Bytes no_name = with_png_chunk(png, "iCCP", Bytes{0, 0, 1, 2, 3});
  CHECK_THAT(embedded_icc_profile(no_name.data(), no_name.size()).problem, Contains("malformed"));
  // Still an image: the pixels are read as they are.
  LoadedImageInfo info;
  CHECK(decode(bad, &info).rgb == decode(png).rgb);
  CHECK(info.ignored_icc);
  CHECK_FALSE(info.icc_note.empty());
}

TEST_CASE(
    "check_icc_header tells broken and unsupported profiles by their header, with or without a colour "
    "engine") {
  auto check = [](const Bytes& p, bool grey = false) { return check_icc_header(p.data(), p.size(), grey); };
  CHECK(check(header_only(200, "mntr", "RGB ")).result == IccConversion::unavailable);
  CHECK(check(header_only(200, "mntr", "RGB ")).note.empty());
  CHECK(check(header_only(180, "scnr", "GRAY"), true).result == IccConversion::unavailable);
  CHECK(check_icc_header(nullptr, 0, false).result == IccConversion::broken);
  CHECK_THAT(check(Bytes(100, 0)).note, Contains("shorter than an ICC header"));
  CHECK_THAT(check(header_only(200, "mntr", "RGB ", "ascp")).note, Contains("'acsp'"));
  CHECK_THAT(check(header_only(4000, "mntr", "RGB ")).note, Contains("its header declares 4000"));
  CHECK_THAT(check(header_only(100, "mntr", "RGB ")).note, Contains("its header declares 100"));
  CHECK(check(header_only(200, "prtr", "CMYK")).result == IccConversion::unsupported);
  CHECK_THAT(check(header_only(200, "prtr", "CMYK")).note, Contains("CMYK profile"));
  CHECK_THAT(check(header_only(200, "link", "RGB ")).note, Contains("device link"));
  CHECK_THAT(check(header_only(200, "abst", "Lab ")).note, Contains("abstract profile"));
  CHECK_THAT(check(header_only(200, "mntr", "GRAY")).note, Contains("greyscale profile on a colour image"));
  CHECK_THAT(check(header_only(200, "mntr", "\x1b[2J")).note,
             Contains("?[2J profile"));  // no escape sequence printed
}

#if AEC_HAVE_LCMS2

namespace {

// sRGB's transfer curve, which Display P3 shares: as an ICC parametric curve (type 4) and as functions.
const cmsFloat64Number kSrgbCurve[5] = {2.4, 1.0 / 1.055, 0.055 / 1.055, 1.0 / 12.92, 0.04045};
double srgb_to_linear(double v) {
  return v <= 0.04045 ? v / 12.92 : std::pow((v + 0.055) / 1.055, 2.4);
}
double linear_to_srgb(double v) {
  return v <= 0.0031308 ? v * 12.92 : 1.055 * std::pow(v, 1 / 2.4) - 0.055;
}

struct Primaries {
  double r[2], g[2], b[2];
};
const Primaries kDisplayP3 = {{0.680, 0.320}, {0.265, 0.690}, {0.150, 0.060}};
const Primaries kAdobeRgb = {{0.640, 0.330}, {0.210, 0.710}, {0.150, 0.060}};
const Primaries kSrgb = {{0.640, 0.330}, {0.300, 0.600}, {0.150, 0.060}};
const double kD65[2] = {0.3127, 0.3290};

Bytes save(cmsHPROFILE p) {
  cmsUInt32Number n = 0;
  REQUIRE(cmsSaveProfileToMem(p, nullptr, &n));
  Bytes out(n);
  REQUIRE(cmsSaveProfileToMem(p, out.data(), &n));
  cmsCloseProfile(p);
  return out;
}

// An RGB matrix-shaper profile, as a phone or camera embeds: D65 white, these primaries, one curve per
// channel (sRGB's, or a pure gamma).
Bytes rgb_profile(const Primaries& pr, double gamma, const char* name) {
  const cmsCIExyY white = {kD65[0], kD65[1], 1.0};
  const cmsCIExyYTRIPLE prim = {{pr.r[0], pr.r[1], 1.0}, {pr.g[0], pr.g[1], 1.0}, {pr.b[0], pr.b[1], 1.0}};
  cmsToneCurve* curve =
      gamma > 0 ? cmsBuildGamma(nullptr, gamma) : cmsBuildParametricToneCurve(nullptr, 4, kSrgbCurve);
  cmsToneCurve* curves[3] = {curve, curve, curve};
  cmsHPROFILE p = cmsCreateRGBProfile(&white, &prim, curves);
  cmsFreeToneCurve(curve);
  REQUIRE(p);
  cmsMLU* mlu = cmsMLUalloc(nullptr, 1);
  cmsMLUsetASCII(mlu, "en", "US", name);
  cmsWriteTag(p, cmsSigProfileDescriptionTag, mlu);
  cmsMLUfree(mlu);
  return save(p);
}

// The RGB -> XYZ matrix of primaries with a D65 white (rows X, Y, Z).
std::array<std::array<double, 3>, 3> to_xyz(const Primaries& pr) {
  auto xyz = [](const double* xy) {
    return std::array<double, 3>{xy[0] / xy[1], 1.0, (1 - xy[0] - xy[1]) / xy[1]};
  };
  const auto R = xyz(pr.r), G = xyz(pr.g), B = xyz(pr.b), W = xyz(kD65);
  // Solve [R G B] * s = W for the primaries' scales (Cramer's rule).
  auto det = [](const std::array<double, 3>& a, const std::array<double, 3>& b,
                const std::array<double, 3>& c) {
    return a[0] * (b[1] * c[2] - b[2] * c[1]) - b[0] * (a[1] * c[2] - a[2] * c[1]) +
           c[0] * (a[1] * b[2] - a[2] * b[1]);
  };
  const double d = det(R, G, B);
  const double s[3] = {det(W, G, B) / d, det(R, W, B) / d, det(R, G, W) / d};
  std::array<std::array<double, 3>, 3> m{};
  for (int i = 0; i < 3; ++i) m[i] = {R[i] * s[0], G[i] * s[1], B[i] * s[2]};
  return m;
}

std::array<std::array<double, 3>, 3> inverse(const std::array<std::array<double, 3>, 3>& m) {
  std::array<std::array<double, 3>, 3> r{};
  const double d = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) -
                   m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
                   m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      const int a = (j + 1) % 3, b = (j + 2) % 3, c = (i + 1) % 3, e = (i + 2) % 3;
      r[i][j] = (m[a][c] * m[b][e] - m[a][e] * m[b][c]) / d;
    }
  return r;
}

// What an 8-bit colour in a D65 RGB space (these primaries, sRGB's curve or a gamma) is in sRGB, computed
// from the primaries alone: linearise, to XYZ, to linear sRGB, clip, encode. Both spaces share the D65 white,
// so no chromatic adaptation is involved (Little CMS adapts to the D50 connection space and back, which
// cancels).
std::array<int, 3> expected_srgb(const Primaries& pr, double gamma, const std::array<int, 3>& rgb) {
  const auto m = to_xyz(pr), back = inverse(to_xyz(kSrgb));
  double lin[3], xyz[3] = {0, 0, 0};
  for (int c = 0; c < 3; ++c)
    lin[c] = gamma > 0 ? std::pow(rgb[size_t(c)] / 255.0, gamma) : srgb_to_linear(rgb[size_t(c)] / 255.0);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) xyz[i] += m[size_t(i)][size_t(j)] * lin[j];
  std::array<int, 3> out{};
  for (int i = 0; i < 3; ++i) {
    double v = 0;
    for (int j = 0; j < 3; ++j) v += back[size_t(i)][size_t(j)] * xyz[j];
    out[size_t(i)] = int(std::lround(255 * linear_to_srgb(std::clamp(v, 0.0, 1.0))));
  }
  return out;
}

// Flat 16x16 patches of these colours in a row (whole JPEG blocks, so the JPEG keeps them within a level).
const std::vector<std::array<int, 3>> kPatches = {{255, 0, 0},   {200, 60, 60},   {60, 160, 60},
                                                  {50, 80, 200}, {128, 128, 128}, {230, 180, 40},
                                                  {20, 200, 220}};

Image patches() {
  Image im(16 * int(kPatches.size()), 16);
  for (int y = 0; y < im.height; ++y)
    for (int x = 0; x < im.width; ++x)
      for (int c = 0; c < 3; ++c)
        im.rgb[(size_t(y) * im.width + x) * 3 + c] = uint8_t(kPatches[size_t(x / 16)][size_t(c)]);
  return im;
}

// Each patch's centre against the expected sRGB colour; returns the largest difference between the source
// colours and their sRGB ones (how much the conversion had to change).
int check_patches(const Image& im, const Primaries& pr, double gamma, int tolerance) {
  int moved = 0;
  for (size_t i = 0; i < kPatches.size(); ++i) {
    const std::array<int, 3> want = expected_srgb(pr, gamma, kPatches[i]);
    const uint8_t* px = &im.rgb[(size_t(8) * im.width + i * 16 + 8) * 3];
    INFO("patch " << i << " (" << kPatches[i][0] << "," << kPatches[i][1] << "," << kPatches[i][2]
                  << "): got " << int(px[0]) << "," << int(px[1]) << "," << int(px[2]) << ", want " << want[0]
                  << "," << want[1] << "," << want[2]);
    for (int c = 0; c < 3; ++c) {
      CHECK(std::abs(int(px[c]) - want[size_t(c)]) <= tolerance);
      moved = std::max(moved, std::abs(want[size_t(c)] - kPatches[i][size_t(c)]));
    }
  }
  return moved;
}

}  // namespace

TEST_CASE("a Display P3 JPEG's colours are converted to sRGB, the profile in one segment or several") {
  REQUIRE(colour_management_available());
  const Bytes p3 = rgb_profile(kDisplayP3, 0, "Display P3 (test)");
  const Bytes jpeg = to_jpeg(patches());
  const Image plain = decode(jpeg);
  const Bytes tagged = with_segments(jpeg, icc_segments(p3, 65519));
  LoadedImageInfo info;
  const Image im = decode(tagged, &info);
  CHECK(info.converted_icc);
  CHECK_FALSE(info.ignored_icc);
  CHECK(info.icc_name == "Display P3 (test)");
  CHECK(info.icc_note.empty());
  // P3's saturated red is outside sRGB (clipped to sRGB's red); the others move by up to tens of levels.
  const int moved = check_patches(im, kDisplayP3, 0, 3);
  CHECK(moved >= 30);
  CHECK(max_diff(im, plain) >= 30);

  std::vector<Bytes> segs = icc_segments(p3, p3.size() / 3 + 1);
  REQUIRE(segs.size() == 3);
  std::swap(segs[0], segs[2]);
  LoadedImageInfo split_info;
  CHECK(decode(with_segments(jpeg, segs), &split_info).rgb == im.rgb);
  CHECK(split_info.converted_icc);
}

TEST_CASE("an Adobe RGB PNG (iCCP) is converted to sRGB within a level of the exact colours") {
  const Bytes adobe = rgb_profile(kAdobeRgb, 563.0 / 256, "Adobe RGB (test)");
  const Bytes png = with_png_chunk(to_png(patches()), "iCCP", iccp_payload(adobe));
  LoadedImageInfo info;
  const Image im = decode(png, &info);
  CHECK(info.converted_icc);
  CHECK(info.icc_name == "Adobe RGB (test)");
  CHECK(check_patches(im, kAdobeRgb, 563.0 / 256, 1) >= 30);
}

TEST_CASE("the conversion runs by rows on the core's threads and equals one whole-image transform") {
  const Bytes p3 = rgb_profile(kDisplayP3, 0, "P3");
  const Image src = testing::synthetic_image(301, 97, 5);
  Image im = src;
  REQUIRE(convert_icc_to_srgb(im, p3.data(), p3.size(), false).result == IccConversion::converted);
  cmsHPROFILE in = cmsOpenProfileFromMem(p3.data(), cmsUInt32Number(p3.size()));
  cmsHPROFILE out = cmsCreate_sRGBProfile();
  cmsHTRANSFORM t = cmsCreateTransform(in, TYPE_RGB_8, out, TYPE_RGB_8, INTENT_PERCEPTUAL, cmsFLAGS_NOCACHE);
  REQUIRE(t);
  Image ref(src.width, src.height);
  cmsDoTransform(t, src.rgb.data(), ref.rgb.data(), cmsUInt32Number(src.width * src.height));
  cmsDeleteTransform(t);
  cmsCloseProfile(in);
  cmsCloseProfile(out);
  CHECK(im.rgb == ref.rgb);
}

TEST_CASE("icc_profile_is_srgb knows sRGB profiles by their colorants and curves, without a colour engine") {
  CHECK(icc_profile_is_srgb(nullptr, 0) == false);
  const Bytes builtin = save(cmsCreate_sRGBProfile());  // parametric curves
  CHECK(icc_profile_is_srgb(builtin.data(), builtin.size()));
  // As the ICC's own sRGB profile stores it: 1024-entry tables, the primaries from Little CMS's profile.
  std::vector<cmsUInt16Number> table(1024);
  for (size_t i = 0; i < table.size(); ++i)
    table[i] = cmsUInt16Number(std::lround(65535 * srgb_to_linear(double(i) / 1023)));
  cmsToneCurve* t = cmsBuildTabulatedToneCurve16(nullptr, cmsUInt32Number(table.size()), table.data());
  cmsToneCurve* curves[3] = {t, t, t};
  const cmsCIExyY white = {kD65[0], kD65[1], 1.0};
  const cmsCIExyYTRIPLE prim = {{0.64, 0.33, 1.0}, {0.30, 0.60, 1.0}, {0.15, 0.06, 1.0}};
  const Bytes tabulated = save(cmsCreateRGBProfile(&white, &prim, curves));
  cmsFreeToneCurve(t);
  CHECK(icc_profile_is_srgb(tabulated.data(), tabulated.size()));
  const Bytes srgb_gamma22 = rgb_profile(kSrgb, 2.2, "sRGB primaries, gamma 2.2");  // up to 3 levels off
  CHECK_FALSE(icc_profile_is_srgb(srgb_gamma22.data(), srgb_gamma22.size()));
  const Bytes p3 = rgb_profile(kDisplayP3, 0, "P3");
  CHECK_FALSE(icc_profile_is_srgb(p3.data(), p3.size()));
  const Bytes adobe = rgb_profile(kAdobeRgb, 563.0 / 256, "Adobe RGB");
  CHECK_FALSE(icc_profile_is_srgb(adobe.data(), adobe.size()));
  // Cut short or with its tag table pointing anywhere: no, and nothing read out of bounds.
  for (size_t n = 0; n < builtin.size(); n += 7) CHECK_FALSE(icc_profile_is_srgb(builtin.data(), n));
  Bytes forged = builtin;
  for (size_t i = 132; i + 12 <= forged.size() && i < 132 + 12 * 10; i += 12) forged[i + 4] = 0x7f;
  CHECK_FALSE(icc_profile_is_srgb(forged.data(), forged.size()));
}

TEST_CASE("an sRGB profile leaves the pixels exactly as decoded") {
  const Bytes srgb = save(cmsCreate_sRGBProfile());
  const Bytes jpeg = to_jpeg(testing::synthetic_image(64, 48, 2));
  LoadedImageInfo info;
  CHECK(decode(with_segments(jpeg, icc_segments(srgb, 65519)), &info).rgb == decode(jpeg).rgb);
  CHECK_FALSE(info.converted_icc);
  CHECK_FALSE(info.ignored_icc);
  CHECK_FALSE(info.icc_name.empty());
}

TEST_CASE("a greyscale PNG's grey profile is applied; a grey profile on a colour image is not") {
  // A linear grey profile: stored value v is v/255 of the light, which sRGB encodes with its curve.
  cmsToneCurve* linear = cmsBuildGamma(nullptr, 1.0);
  const Bytes grey = save(cmsCreateGrayProfile(cmsD50_xyY(), linear));
  cmsFreeToneCurve(linear);
  Image g(64, 16);
  for (int x = 0; x < 64; ++x)
    for (int y = 0; y < 16; ++y)
      for (int c = 0; c < 3; ++c) g.rgb[(size_t(y) * 64 + x) * 3 + c] = uint8_t((x / 16) * 60 + 20);
  LoadedImageInfo info;
  const Image im = decode(with_png_chunk(to_png(g, 1), "iCCP", iccp_payload(grey)), &info);
  CHECK(info.converted_icc);
  for (int x = 8; x < 64; x += 16) {
    const int v = (x / 16) * 60 + 20, want = int(std::lround(255 * linear_to_srgb(v / 255.0)));
    for (int c = 0; c < 3; ++c) CHECK(std::abs(int(im.rgb[(size_t(8) * 64 + x) * 3 + c]) - want) <= 1);
  }

  const Bytes colour = to_jpeg(patches());
  LoadedImageInfo cinfo;
  CHECK(decode(with_segments(colour, icc_segments(grey, 65519)), &cinfo).rgb == decode(colour).rgb);
  CHECK(cinfo.ignored_icc);
  CHECK_THAT(cinfo.icc_note, Contains("greyscale profile on a colour image"));
}

TEST_CASE("broken, truncated and forged profiles are ignored with the reason, the pixels read as they are") {
  const Bytes p3 = rgb_profile(kDisplayP3, 0, "Display P3 (test)");
  const Bytes jpeg = to_jpeg(patches());
  const Image plain = decode(jpeg);
  auto ignored = [&](const Bytes& profile) {
    LoadedImageInfo info;
    const Image im = decode(with_segments(jpeg, icc_segments(profile, 65519)), &info);
    CHECK(im.rgb == plain.rgb);
    CHECK(info.ignored_icc);
    CHECK_FALSE(info.converted_icc);
    CHECK_FALSE(info.icc_note.empty());
    return info.icc_note;
  };
  CHECK_THAT(ignored(Bytes(p3.begin(), p3.begin() + 100)), Contains("shorter than an ICC header"));
  ignored(Bytes(p3.begin(), p3.begin() + long(p3.size() / 2)));  // the tag table points past the end
  ignored(fake_profile(600));                                    // not a profile at all
  Bytes zero_tags = p3;                                          // a header and an empty tag table
  zero_tags.resize(132);
  zero_tags[128] = zero_tags[129] = zero_tags[130] = zero_tags[131] = 0;
  zero_tags[0] = 0, zero_tags[1] = 0, zero_tags[2] = 0, zero_tags[3] = 132;
  ignored(zero_tags);
  Bytes cmyk = p3;  // the header's colour space says CMYK
  std::memcpy(&cmyk[16], "CMYK", 4);
  CHECK_THAT(ignored(cmyk), Contains("CMYK profile"));
  Bytes link = p3;  // the header's class says device link
  std::memcpy(&link[12], "link", 4);
  CHECK_THAT(ignored(link), Contains("device link"));
  Bytes garbage_tags = p3;  // every tag's data overwritten
  for (size_t i = 200; i < garbage_tags.size(); ++i) garbage_tags[i] = uint8_t(i * 31);
  ignored(garbage_tags);
}

#else

TEST_CASE("without colour management an embedded profile is reported as ignored") {
  CHECK_FALSE(colour_management_available());
  const Bytes jpeg = to_jpeg(testing::synthetic_image(16, 16));
  LoadedImageInfo info;
  const Bytes profile =
      header_only(200, "mntr", "RGB ");  // a valid header: only a colour engine could say more
  CHECK(decode(with_segments(jpeg, icc_segments(profile, 65519)), &info).rgb == decode(jpeg).rgb);
  CHECK(info.ignored_icc);
  CHECK_THAT(info.icc_note, Contains("no colour management"));
}

#endif
