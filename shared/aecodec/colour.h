// Colour management: an image's pixels converted from its embedded ICC profile to sRGB, the colour space the
// codec's models were trained in and that every viewer assumes for a file without a profile (the .aec format
// and the decoder's PNG carry none). Built with Little CMS 2 where CMake finds it (AEC_HAVE_LCMS2); without
// it (the WebAssembly build, a machine without liblcms2-dev) nothing is converted and the result says so.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "aecodec/image.h"

namespace aec {

// Whether this build converts ICC profiles.
bool colour_management_available();

struct IccConversion {
  enum Result {
    converted,    // the pixels are now sRGB
    srgb,         // the profile is sRGB's (every colour within one level of itself): the pixels were kept
    unsupported,  // a valid profile that does not describe these RGB pixels (CMYK, Lab, a device link, ...)
    broken,       // the profile cannot be read, or Little CMS cannot build a transform from it
    unavailable,  // no colour management in this build
  };
  Result result = unavailable;
  std::string name;  // the profile's description, where it has one
  std::string note;  // for unsupported, broken and unavailable: why the pixels were left as they are
};

// What a profile's 128-byte header tells without a colour engine: `broken` or `unsupported` with the reason
// (shorter than its header declares, no ICC signature, CMYK or another non-RGB space, a device link, a grey
// profile on a colour image unless `grey`), or `unavailable` with an empty note when it declares an RGB or
// grey image profile (whether its tags can be used, only a colour engine can tell). convert_icc_to_srgb
// checks this first, with or without Little CMS, so both builds give the same reasons.
IccConversion check_icc_header(const uint8_t* profile, size_t size, bool grey);

// Whether a profile is sRGB's, read without a colour engine: an RGB matrix-shaper profile (no lookup table)
// whose colorants are sRGB's (D50-adapted, within 0.001) and whose three curves give every 8-bit value within
// 0.75 of a level of sRGB's curve. Phones, cameras and browsers' encoders embed such profiles; a build
// without Little CMS then needs no conversion (and the page keeps the core's own decoder for such a file).
bool icc_profile_is_srgb(const uint8_t* profile, size_t size);

// Converts `image` (8-bit RGB) in place from the ICC profile `profile` to sRGB, perceptual intent (for the
// matrix-shaper profiles of phones and cameras, e.g. Display P3 or Adobe RGB, the same as relative
// colorimetric: colours outside sRGB are clipped). `grey` says the file stored one grey channel (expanded to
// RGB on load): a greyscale profile then applies to it. Unless the result is `converted`, the image is
// unchanged. Never throws for a bad profile: broken profiles are reported, as browsers ignore them.
IccConversion convert_icc_to_srgb(Image& image, const uint8_t* profile, size_t size, bool grey);

}  // namespace aec
