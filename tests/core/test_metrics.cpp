// MSE / PSNR / MS-SSIM against hand-derived values and an independent numpy reference.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include "aecodec/error.h"
#include "aecodec/file_io.h"
#include "aecodec/metrics.h"

namespace {

constexpr double kC1 = (0.01 * 255) * (0.01 * 255);
const double kWeights[5] = {0.0448, 0.2856, 0.3001, 0.2363, 0.1333};

uint32_t lcg(uint32_t& s) {
  s = s * 1664525u + 1013904223u;
  return s;
}

uint8_t clamp8(int v) {
  return uint8_t(v < 0 ? 0 : v > 255 ? 255 : v);
}

aec::Image constant(int w, int h, uint8_t v) {
  aec::Image img(w, h);
  std::fill(img.rgb.begin(), img.rgb.end(), v);
  return img;
}

// Structured content (rings of varying frequency, different per channel) plus a little noise: integer-only
// arithmetic, so the bytes are the same on every platform (the reference test checks their hash).
aec::Image textured(int w, int h, uint32_t seed) {
  aec::Image img(w, h);
  uint32_t s = seed;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int k = 0; k < 3; ++k) {
        const unsigned ring = unsigned(x * x + 2 * y * y + 3 * (k + 1) * x * y) / 37u % 160u;
        img.rgb[(size_t(y) * w + x) * 3 + k] = uint8_t(48 + int(ring) + int(lcg(s) >> 29));
      }
  return img;
}

// A plausible codec error: noise everywhere and a blocky (8x8 nearest) region.
aec::Image distorted(const aec::Image& a, uint32_t seed) {
  aec::Image b = a;
  uint32_t s = seed;
  for (int y = 0; y < a.height; ++y)
    for (int x = 0; x < a.width; ++x)
      for (int k = 0; k < 3; ++k) {
        int v = a.rgb[(size_t(y) * a.width + x) * 3 + k];
        if (x >= 40 && x < 120 && y >= 30 && y < 90) v = a.rgb[(size_t(y & ~7) * a.width + (x & ~7)) * 3 + k];
        b.rgb[(size_t(y) * a.width + x) * 3 + k] = clamp8(v + int(lcg(s) % 25u) - 12);
      }
  return b;
}

// The pair behind the reference values: 203x171, odd in both dimensions so that the zero-padded pooling of
// odd sizes is exercised at several scales (171 -> 86 -> 43 -> 22 -> 11, 203 -> 102 -> 51 -> 26 -> 13).
aec::Image reference_a() {
  return textured(203, 171, 12345);
}
aec::Image reference_b() {
  return distorted(reference_a(), 777);
}

void write_ppm(const std::string& path, const aec::Image& img) {
  const std::string header =
      "P6\n" + std::to_string(img.width) + " " + std::to_string(img.height) + "\n255\n";
  std::vector<uint8_t> bytes(header.begin(), header.end());
  bytes.insert(bytes.end(), img.rgb.begin(), img.rgb.end());
  aec::write_file_atomic(path, bytes);
}

}  // namespace

TEST_CASE("mse and psnr against hand-computed values", "[metrics][psnr]") {
  const aec::Image a = textured(31, 17, 1);
  aec::Image b = a;
  for (auto& v : b.rgb) v = uint8_t(v + 3);  // textured() stays <= 222: no wrap
  CHECK(aec::mse(a, b) == 9.0);
  CHECK(aec::psnr(a, b) == Approx(10.0 * std::log10(255.0 * 255.0 / 9.0)).epsilon(1e-12));
  CHECK(aec::psnr(a, b) == Approx(38.5883785).epsilon(1e-8));

  // 2x1: one sample off by 10, one by -4 out of 6: mse = (100 + 16) / 6.
  aec::Image c(2, 1), d(2, 1);
  c.rgb = {10, 20, 30, 40, 50, 60};
  d.rgb = {10, 20, 30, 40, 46, 70};
  CHECK(aec::mse(c, d) == Approx(116.0 / 6.0).epsilon(1e-15));
  CHECK(aec::psnr(c, d) == Approx(10.0 * std::log10(65025.0 * 6.0 / 116.0)).epsilon(1e-12));
  CHECK(aec::psnr(c, d) == aec::psnr(d, c));

  // Extremes: all 0 vs all 255 is 0 dB.
  CHECK(aec::psnr(constant(3, 3, 0), constant(3, 3, 255)) == Approx(0.0).margin(1e-12));
}

TEST_CASE("psnr is +infinity for identical images and sizes must match", "[metrics][psnr]") {
  const aec::Image a = textured(8, 5, 2);
  CHECK(aec::mse(a, a) == 0.0);
  CHECK(std::isinf(aec::psnr(a, a)));
  CHECK(aec::psnr(a, a) > 0);
  CHECK_THROWS_AS(aec::psnr(a, textured(5, 8, 2)), aec::Error);
  CHECK_THROWS_AS(aec::mse(a, textured(8, 4, 2)), aec::Error);
  CHECK_THROWS_AS(aec::ms_ssim(a, textured(8, 4, 2)), aec::Error);
  CHECK_THROWS_AS(aec::psnr(aec::Image(), aec::Image()), aec::Error);
}

TEST_CASE("ms_ssim is 1 for identical images at every size", "[metrics][msssim]") {
  for (auto wh : {std::pair<int, int>{203, 171}, {64, 48}, {33, 21}, {15, 12}, {7, 9}, {1, 1}}) {
    const aec::Image a = textured(wh.first, wh.second, 3);
    CHECK(aec::ms_ssim(a, a) == Approx(1.0).margin(1e-12));
  }
}

TEST_CASE("ms_ssim of two constant images is the luminance term to its weight", "[metrics][msssim]") {
  // For constant images every variance and covariance is 0, so each cs term is C2 / C2 = 1, and the
  // luminance term at the last scale is l = (2ab + C1) / (a^2 + b^2 + C1) (even sizes keep the pooled images
  // constant). MS-SSIM is then l to the weight of the last scale used.
  const double a = 100, b = 140;
  const double l = (2 * a * b + kC1) / (a * a + b * b + kC1);  // 28006.5025 / 29606.5025
  SECTION("five scales (176 -> 88 -> 44 -> 22 -> 11): weight 0.1333") {
    CHECK(aec::ms_ssim(constant(176, 176, 100), constant(176, 176, 140)) ==
          Approx(std::pow(l, 0.1333)).epsilon(1e-12));
  }
  SECTION("two scales (shorter side 30): weight 0.2856 / (0.0448 + 0.2856)") {
    CHECK(aec::ms_ssim(constant(30, 40, 100), constant(30, 40, 140)) ==
          Approx(std::pow(l, kWeights[1] / (kWeights[0] + kWeights[1]))).epsilon(1e-12));
  }
  SECTION("one scale with the window shrunk to 5 px: plain SSIM = l") {
    CHECK(aec::ms_ssim(constant(5, 7, 100), constant(5, 7, 140)) == Approx(l).epsilon(1e-12));
  }
  SECTION("black against white is almost 0, not negative") {
    const double lbw = kC1 / (255.0 * 255.0 + kC1);
    CHECK(aec::ms_ssim(constant(5, 7, 0), constant(5, 7, 255)) == Approx(lbw).epsilon(1e-12));
  }
}

TEST_CASE("ms_ssim decreases monotonically with the noise level", "[metrics][msssim]") {
  const aec::Image a = textured(192, 176, 4);
  std::vector<int> noise(a.rgb.size());
  uint32_t s = 99;
  for (int& n : noise) n = int(lcg(s) % 33u) - 16;  // uniform in [-16, 16]
  double previous = aec::ms_ssim(a, a);
  for (int level : {1, 2, 4, 8, 16, 32, 64}) {
    aec::Image b = a;
    for (size_t i = 0; i < b.rgb.size(); ++i) b.rgb[i] = clamp8(a.rgb[i] + noise[i] * level / 16);
    const double v = aec::ms_ssim(a, b);
    INFO("noise amplitude " << level << ": ms_ssim " << v);
    CHECK(v < previous);
    CHECK(v > 0);
    CHECK(aec::ms_ssim(b, a) == Approx(v).epsilon(1e-12));  // symmetric
    previous = v;
  }
}

// Reference values from tests/tools/ms_ssim_reference.py (numpy, float64), reproduced with:
//   AEC_DUMP_DIR=/tmp core_tests "[ms_ssim_dump]"   (writes ms_ssim_a.ppm and ms_ssim_b.ppm there)
//   cd /tmp && python3 ms_ssim_reference.py ms_ssim_a.ppm ms_ssim_b.ppm 120x100 60x45 35x28 15x13 9x7 4x2 1x1
// (the script is tests/tools/ms_ssim_reference.py; python3 needs numpy: on Debian /usr/bin/python3 with
// python3-numpy). The crops are top-left and cover every scale count (5, 4, 3, 2, 1) and the shrunk window
// (7, 2, 1 px). Both sides agree to ~1e-14; 1e-6 leaves room for other compilers' libm.
TEST_CASE("ms_ssim matches the independent numpy reference", "[metrics][msssim]") {
  const aec::Image a = reference_a(), b = reference_b();
  // The reference read exactly these bytes.
  CHECK(aec::fnv1a64(a.rgb.data(), a.rgb.size()) == 0xd1f4a886b8f66487ull);
  CHECK(aec::fnv1a64(b.rgb.data(), b.rgb.size()) == 0xb7198b6cdfd18592ull);
  CHECK(aec::ms_ssim(a, b) == Approx(0.659514948537).margin(1e-6));
  const struct {
    int w, h;
    double value;
  } crops[] = {{120, 100, 0.332142397893}, {60, 45, 0.948254611319}, {35, 28, 0.944906904117},
               {15, 13, 0.618007536779},   {9, 7, 0.579405044966},   {4, 2, 0.634076572377},
               {1, 1, 0.977105464747}};
  for (const auto& c : crops) {
    INFO(c.w << "x" << c.h);
    CHECK(aec::ms_ssim(aec::crop(a, c.w, c.h), aec::crop(b, c.w, c.h)) == Approx(c.value).margin(1e-6));
  }
}

TEST_CASE("dump the ms_ssim reference pair", "[.][ms_ssim_dump]") {
  // Needs the directory named explicitly: a negated filter such as "~[image]" also runs hidden tests, and
  // they must not drop files into whatever directory the suite runs in.
  const char* dir = std::getenv("AEC_DUMP_DIR");
  if (!dir) {
    WARN("set AEC_DUMP_DIR to write the pair");
    return;
  }
  const std::string base = std::string(dir) + "/";
  write_ppm(base + "ms_ssim_a.ppm", reference_a());
  write_ppm(base + "ms_ssim_b.ppm", reference_b());
}
