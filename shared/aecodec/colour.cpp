#include "aecodec/colour.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <vector>

#include "aecodec/parallel.h"

#if AEC_HAVE_LCMS2
#include <lcms2.h>
#endif

namespace aec {

namespace {

uint32_t be32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}

// A header signature as text ("RGB", "CMYK", "link"); it comes from the file, so only printable characters.
std::string signature_name(const uint8_t* p) {
  std::string s;
  for (int i = 0; i < 4; ++i) s += p[i] >= 0x20 && p[i] < 0x7f ? char(p[i]) : '?';
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

}  // namespace

IccConversion check_icc_header(const uint8_t* p, size_t n, bool grey) {
  IccConversion r;
  r.result = IccConversion::broken;
  if (!p || n < 128) {
    r.note = "the profile is " + std::to_string(n) + " bytes, shorter than an ICC header";
    return r;
  }
  if (std::string(reinterpret_cast<const char*>(p) + 36, 4) != "acsp") {
    r.note = "it is not an ICC profile (no 'acsp' signature)";
    return r;
  }
  const uint32_t declared = be32(p);
  if (declared < 128 || declared > n) {
    r.note =
        "the profile has " + std::to_string(n) + " bytes, its header declares " + std::to_string(declared);
    return r;
  }
  r.result = IccConversion::unsupported;
  const std::string cls = signature_name(p + 12), space = signature_name(p + 16);
  if (cls == "link" || cls == "abst" || cls == "nmcl") {
    r.note = std::string("it is ") +
             (cls == "link"   ? "a device link"
              : cls == "abst" ? "an abstract profile"
                              : "a named-colour profile") +
             ", not an image's colour space";
    return r;
  }
  if (space != "RGB" && space != "GRAY") {
    r.note = "it is a " + space + " profile and aecodec reads the pixels as RGB";
    return r;
  }
  if (space == "GRAY" && !grey) {
    r.note = "it is a greyscale profile on a colour image";
    return r;
  }
  r.result = IccConversion::unavailable;
  return r;
}

bool icc_profile_is_srgb(const uint8_t* p, size_t n) {
  if (check_icc_header(p, n, false).result != IccConversion::unavailable) return false;
  if (n < 132 || signature_name(p + 16) != "RGB" || signature_name(p + 20) != "XYZ") return false;
  // The tag table: a count, then (signature, offset, size) per tag; every range is checked against n.
  const uint32_t count = be32(p + 128);
  if (count > (n - 132) / 12) return false;
  auto find = [&](const char* sig, size_t min_size, size_t* at, size_t* len) {
    for (uint32_t i = 0; i < count; ++i) {
      const uint8_t* e = p + 132 + 12 * size_t(i);
      if (std::string(reinterpret_cast<const char*>(e), 4) != sig) continue;
      const uint64_t off = be32(e + 4), size = be32(e + 8);
      if (size < min_size || off + size > n) return false;
      *at = size_t(off), *len = size_t(size);
      return true;
    }
    return false;
  };
  size_t at = 0, len = 0;
  if (find("A2B0", 0, &at, &len) || find("A2B1", 0, &at, &len)) return false;  // a lookup table would be used
  auto s15 = [&](size_t i) { return double(int32_t(be32(p + i))) / 65536.0; };
  // sRGB's primaries adapted to D50 (Bradford), as the ICC's sRGB profile and Little CMS have them.
  static const char* kColorants[3] = {"rXYZ", "gXYZ", "bXYZ"};
  static const double kSrgb[3][3] = {
      {0.436066, 0.222488, 0.013916}, {0.385147, 0.716873, 0.097076}, {0.143066, 0.060608, 0.714096}};
  for (int c = 0; c < 3; ++c) {
    if (!find(kColorants[c], 20, &at, &len) ||
        std::string(reinterpret_cast<const char*>(p + at), 4) != "XYZ ")
      return false;
    for (int k = 0; k < 3; ++k)
      if (std::abs(s15(at + 8 + 4 * size_t(k)) - kSrgb[c][k]) > 0.001) return false;
  }
  static const char* kCurves[3] = {"rTRC", "gTRC", "bTRC"};
  for (const char* name : kCurves) {
    if (!find(name, 12, &at, &len)) return false;
    const std::string type(reinterpret_cast<const char*>(p + at), 4);
    std::function<double(double)> curve;  // stored value (0-1) -> linear light
    if (type == "curv") {
      const uint32_t entries = be32(p + at + 8);
      if (entries < 2 || entries > (len - 12) / 2)
        return false;  // identity or a pure gamma: not sRGB's curve
      curve = [&, entries, at](double x) {
        const double pos = x * (entries - 1);
        const size_t i = std::min(size_t(pos), size_t(entries) - 2);
        auto v = [&](size_t k) {
          return double(uint32_t(p[at + 12 + 2 * k]) << 8 | p[at + 13 + 2 * k]) / 65535.0;
        };
        return v(i) + (pos - double(i)) * (v(i + 1) - v(i));
      };
    } else if (type == "para") {
      if (len < 16) return false;
      const int fn = int(uint32_t(p[at + 8]) << 8 | p[at + 9]);
      static const int kParams[5] = {1, 3, 4, 5, 7};
      if (fn < 0 || fn > 4 || len < 12 + 4 * size_t(kParams[fn])) return false;
      double g[7] = {0, 1, 0, 0, 0, 0, 0};
      for (int k = 0; k < kParams[fn]; ++k) g[k] = s15(at + 12 + 4 * size_t(k));
      curve = [fn, g](double x) {
        auto pw = [](double b, double e) { return b > 0 ? std::pow(b, e) : 0.0; };
        switch (fn) {
          case 0:
            return pw(x, g[0]);
          case 1:
            return x >= -g[2] / g[1] ? pw(g[1] * x + g[2], g[0]) : 0.0;
          case 2:
            return x >= -g[2] / g[1] ? pw(g[1] * x + g[2], g[0]) + g[3] : g[3];
          case 3:
            return x >= g[4] ? pw(g[1] * x + g[2], g[0]) : g[3] * x;
          default:
            return x >= g[4] ? pw(g[1] * x + g[2], g[0]) + g[5] : g[3] * x + g[6];
        }
      };
    } else {
      return false;
    }
    for (int v = 0; v < 256; ++v) {
      const double y = std::clamp(curve(v / 255.0), 0.0, 1.0);
      const double encoded = y <= 0.0031308 ? 12.92 * y : 1.055 * std::pow(y, 1 / 2.4) - 0.055;
      if (std::abs(255 * encoded - v) > 0.75) return false;
    }
  }
  return true;
}

#if !AEC_HAVE_LCMS2

bool colour_management_available() {
  return false;
}

IccConversion convert_icc_to_srgb(Image&, const uint8_t* profile, size_t size, bool grey) {
  IccConversion r = check_icc_header(profile, size, grey);
  if (r.result == IccConversion::unavailable && icc_profile_is_srgb(profile, size))
    r.result = IccConversion::srgb;
  if (r.result == IccConversion::unavailable)
    r.note = "this build of aecodec has no colour management (it was built without Little CMS 2)";
  return r;
}

#else

bool colour_management_available() {
  return true;
}

namespace {

// One Little CMS context per conversion: its error handler writes to this call's own message (Little CMS's
// global handler would be shared by every thread), and everything it allocates goes when it is deleted.
struct Lcms {
  cmsContext ctx = nullptr;
  std::string error;
  std::vector<cmsHPROFILE> profiles;
  cmsHTRANSFORM transform = nullptr;
  Lcms() {
    ctx = cmsCreateContext(nullptr, this);
    if (ctx)
      cmsSetLogErrorHandlerTHR(ctx, [](cmsContext c, cmsUInt32Number, const char* text) {
        auto* self = static_cast<Lcms*>(cmsGetContextUserData(c));
        if (self && self->error.empty() && text) self->error = text;
      });
  }
  ~Lcms() {
    if (transform) cmsDeleteTransform(transform);
    for (cmsHPROFILE p : profiles) cmsCloseProfile(p);
    if (ctx) cmsDeleteContext(ctx);
  }
  cmsHPROFILE keep(cmsHPROFILE p) {
    if (p) profiles.push_back(p);
    return p;
  }
};

// The profile's description for a message: it comes from the file, so control characters (a terminal's
// escape sequences) are replaced and the length is bounded.
std::string description(cmsHPROFILE p) {
  char buf[256] = {0};
  if (cmsGetProfileInfoASCII(p, cmsInfoDescription, "en", "US", buf, sizeof buf) == 0) return "";
  std::string s(buf);
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  while (!s.empty() && s.back() == ' ') s.pop_back();
  if (s.size() > 80) s = s.substr(0, 77) + "...";
  return s;
}

}  // namespace

IccConversion convert_icc_to_srgb(Image& image, const uint8_t* profile, size_t size, bool grey) {
  // The header first: the same reasons as a build without Little CMS gives, and a profile shorter than its
  // header declares is refused, as browsers refuse it (Little CMS would read what is there).
  const IccConversion header = check_icc_header(profile, size, grey);
  if (header.result != IccConversion::unavailable) return header;

  IccConversion r;
  r.result = IccConversion::broken;
  const size_t n = size_t(image.width) * size_t(image.height);
  if (n == 0 || image.rgb.size() != n * 3) {
    r.note = "no pixels to convert";
    return r;
  }
  Lcms lcms;
  if (!lcms.ctx) {
    r.note = "Little CMS could not start";
    return r;
  }
  auto reason = [&](const std::string& what) { return lcms.error.empty() ? what : what + ": " + lcms.error; };
  cmsHPROFILE in = lcms.keep(cmsOpenProfileFromMemTHR(lcms.ctx, profile, cmsUInt32Number(size)));
  if (!in) {
    r.note = reason("the profile cannot be read");
    return r;
  }
  r.name = description(in);
  const cmsColorSpaceSignature space = cmsGetColorSpace(in);
  const bool grey_profile = space == cmsSigGrayData;
  if (space != cmsSigRgbData && !grey_profile) {  // check_icc_header read the same field: a backstop
    r.result = IccConversion::unsupported;
    r.note = "Little CMS does not read it as an RGB or grey profile";
    return r;
  }

  cmsHPROFILE srgb = lcms.keep(cmsCreate_sRGBProfileTHR(lcms.ctx));
  if (!srgb) {
    r.note = reason("Little CMS could not make its sRGB profile");
    return r;
  }
  // NOCACHE: the transform is then safe to run from several threads at once (below).
  lcms.transform = cmsCreateTransformTHR(lcms.ctx, in, grey_profile ? TYPE_GRAY_8 : TYPE_RGB_8, srgb,
                                         TYPE_RGB_8, INTENT_PERCEPTUAL, cmsFLAGS_NOCACHE);
  if (!lcms.transform) {
    r.note = reason("Little CMS cannot build a transform from it");
    return r;
  }

  // A profile that maps every colour to within one level of itself is sRGB's (phones and cameras often embed
  // it): the pixels are kept exactly as decoded. Probed on every grey and a 16-step grid of colours.
  {
    std::vector<uint8_t> probe, out;
    for (int v = 0; v < 256; ++v)
      for (int c = 0; c < (grey_profile ? 1 : 3); ++c) probe.push_back(uint8_t(v));
    if (!grey_profile)
      for (int a = 0; a < 256; a += 17)
        for (int b = 0; b < 256; b += 17)
          for (int c = 0; c < 256; c += 17) probe.insert(probe.end(), {uint8_t(a), uint8_t(b), uint8_t(c)});
    const size_t count = grey_profile ? probe.size() : probe.size() / 3;
    out.resize(count * 3);
    cmsDoTransform(lcms.transform, probe.data(), out.data(), cmsUInt32Number(count));
    bool same = true;
    for (size_t i = 0; i < count * 3 && same; ++i) {
      const int in_v = grey_profile ? probe[i / 3] : probe[i];
      same = std::abs(int(out[i]) - in_v) <= 1;
    }
    if (same) {
      r.result = IccConversion::srgb;
      return r;
    }
  }

  // In place, by bands of rows on the core's threads. A grey file's pixels were expanded to R = G = B: the
  // grey profile reads one of them.
  const int w = image.width;
  parallel_for(image.height, [&](int y0, int y1) {
    std::vector<uint8_t> grey_row(grey_profile ? size_t(w) : 0);
    for (int y = y0; y < y1; ++y) {
      uint8_t* row = image.rgb.data() + size_t(y) * w * 3;
      if (grey_profile) {
        for (int x = 0; x < w; ++x) grey_row[size_t(x)] = row[size_t(x) * 3];
        cmsDoTransform(lcms.transform, grey_row.data(), row, cmsUInt32Number(w));
      } else {
        cmsDoTransform(lcms.transform, row, row, cmsUInt32Number(w));
      }
    }
  });
  r.result = IccConversion::converted;
  return r;
}

#endif

}  // namespace aec
