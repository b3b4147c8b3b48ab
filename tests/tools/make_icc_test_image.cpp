// Writes what the CLI's colour-management test (tests/cli/icc.sh) needs, made with Little CMS:
//   make_icc_test_image OUTDIR
// OUTDIR/p3.icc       a Display P3 matrix-shaper profile (D65, sRGB's curve), as phones embed
// OUTDIR/p3-lut.icc   the same colour space as a 33-point lookup table to Lab (v4, over 200 kB: a JPEG holds
// it
//                     in several APP2 segments)
// OUTDIR/patches.ppm  64 flat 16x16 patches of colours over the RGB cube (128x128), the values a P3 photo
// stores OUTDIR/expected.png those pixels converted from Display P3 to sRGB (16-bit transform, rounded once)
#include <lcms2.h>

#include <cstdio>
#include <string>
#include <vector>

#include "aecodec/error.h"
#include "aecodec/file_io.h"
#include "aecodec/image.h"

namespace {

cmsHPROFILE display_p3() {
  const cmsCIExyY white = {0.3127, 0.3290, 1.0};
  const cmsCIExyYTRIPLE prim = {{0.680, 0.320, 1.0}, {0.265, 0.690, 1.0}, {0.150, 0.060, 1.0}};
  const cmsFloat64Number srgb_curve[5] = {2.4, 1.0 / 1.055, 0.055 / 1.055, 1.0 / 12.92, 0.04045};
  cmsToneCurve* c = cmsBuildParametricToneCurve(nullptr, 4, srgb_curve);
  cmsToneCurve* curves[3] = {c, c, c};
  cmsHPROFILE p = cmsCreateRGBProfile(&white, &prim, curves);
  cmsFreeToneCurve(c);
  return p;
}

void describe(cmsHPROFILE p, const char* name) {
  cmsMLU* mlu = cmsMLUalloc(nullptr, 1);
  cmsMLUsetASCII(mlu, "en", "US", name);
  cmsWriteTag(p, cmsSigProfileDescriptionTag, mlu);
  cmsMLUfree(mlu);
}

void save(cmsHPROFILE p, const std::string& path) {
  cmsUInt32Number n = 0;
  aec::require(cmsSaveProfileToMem(p, nullptr, &n) != 0, "cannot size the profile");
  std::vector<uint8_t> bytes(n);
  aec::require(cmsSaveProfileToMem(p, bytes.data(), &n) != 0, "cannot save the profile");
  aec::write_file_atomic(path, bytes);
}

int sample(const cmsUInt16Number in[], cmsUInt16Number out[], void* transform) {
  cmsDoTransform(static_cast<cmsHTRANSFORM>(transform), in, out, 1);
  return TRUE;
}

// Display P3 as an input profile whose AToB0 (perceptual) and AToB1 (colorimetric) tags are one CLUT to Lab,
// the form of profiles made by measurement rather than from primaries.
cmsHPROFILE display_p3_lut(cmsHPROFILE p3) {
  cmsHPROFILE lab = cmsCreateLab4Profile(nullptr);
  cmsHTRANSFORM t = cmsCreateTransform(p3, TYPE_RGB_16, lab, TYPE_Lab_16, INTENT_RELATIVE_COLORIMETRIC,
                                       cmsFLAGS_NOCACHE | cmsFLAGS_NOOPTIMIZE);
  aec::require(t != nullptr, "cannot make the P3 -> Lab transform");
  cmsHPROFILE p = cmsCreateProfilePlaceholder(nullptr);
  cmsSetProfileVersion(p, 4.3);
  cmsSetDeviceClass(p, cmsSigDisplayClass);
  cmsSetColorSpace(p, cmsSigRgbData);
  cmsSetPCS(p, cmsSigLabData);
  cmsWriteTag(p, cmsSigMediaWhitePointTag, cmsD50_XYZ());
  cmsPipeline* pipe = cmsPipelineAlloc(nullptr, 3, 3);
  cmsStage* clut = cmsStageAllocCLut16bit(nullptr, 33, 3, 3, nullptr);
  cmsStageSampleCLut16bit(clut, sample, t, 0);
  // A, CLUT, B: the lutAToBType layout (identity curves around the table).
  cmsPipelineInsertStage(pipe, cmsAT_END, cmsStageAllocToneCurves(nullptr, 3, nullptr));
  cmsPipelineInsertStage(pipe, cmsAT_END, clut);
  cmsPipelineInsertStage(pipe, cmsAT_END, cmsStageAllocToneCurves(nullptr, 3, nullptr));
  cmsWriteTag(p, cmsSigAToB0Tag, pipe);
  cmsWriteTag(p, cmsSigAToB1Tag, pipe);
  cmsPipelineFree(pipe);
  cmsDeleteTransform(t);
  cmsCloseProfile(lab);
  describe(p, "Display P3 LUT (test)");
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_icc_test_image OUTDIR\n");
    return 2;
  }
  try {
    const std::string dir = std::string(argv[1]) + "/";
    cmsHPROFILE p3 = display_p3();
    describe(p3, "Display P3 (test)");
    save(p3, dir + "p3.icc");
    cmsHPROFILE lut = display_p3_lut(p3);
    save(lut, dir + "p3-lut.icc");
    cmsCloseProfile(lut);

    const int side = 128, patch = 16, levels[4] = {0, 85, 170, 255};
    aec::Image im(side, side);
    for (int y = 0; y < side; ++y)
      for (int x = 0; x < side; ++x) {
        const int i = (y / patch) * (side / patch) + x / patch;  // 0..63
        const int rgb[3] = {levels[i % 4], levels[(i / 4) % 4], levels[i / 16]};
        for (int c = 0; c < 3; ++c) im.rgb[(size_t(y) * side + x) * 3 + c] = uint8_t(rgb[c]);
      }
    std::string ppm = "P6\n" + std::to_string(side) + " " + std::to_string(side) + "\n255\n";
    std::vector<uint8_t> bytes(ppm.begin(), ppm.end());
    bytes.insert(bytes.end(), im.rgb.begin(), im.rgb.end());
    aec::write_file_atomic(dir + "patches.ppm", bytes);

    cmsHPROFILE srgb = cmsCreate_sRGBProfile();
    cmsHTRANSFORM t = cmsCreateTransform(p3, TYPE_RGB_16, srgb, TYPE_RGB_16, INTENT_PERCEPTUAL,
                                         cmsFLAGS_NOCACHE | cmsFLAGS_NOOPTIMIZE);
    aec::require(t != nullptr, "cannot make the P3 -> sRGB transform");
    std::vector<cmsUInt16Number> in(im.rgb.size()), out(im.rgb.size());
    for (size_t i = 0; i < in.size(); ++i) in[i] = cmsUInt16Number(im.rgb[i] * 257);
    cmsDoTransform(t, in.data(), out.data(), cmsUInt32Number(side * side));
    aec::Image expected(side, side);
    for (size_t i = 0; i < out.size(); ++i) expected.rgb[i] = uint8_t((out[i] + 128) / 257);
    aec::write_png(dir + "expected.png", expected);
    cmsDeleteTransform(t);
    cmsCloseProfile(srgb);
    cmsCloseProfile(p3);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_icc_test_image: %s\n", e.what());
    return 1;
  }
  return 0;
}
