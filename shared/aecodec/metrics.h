// Quality metrics on 8-bit RGB images.
#pragma once
#include "aecodec/image.h"

namespace aec {

// Mean squared error over all RGB samples, in [0,255] units.
double mse(const Image& a, const Image& b);
// PSNR in dB over RGB with peak 255; +infinity for identical images. Throws aec::Error on size mismatch.
double psnr(const Image& a, const Image& b);
// MS-SSIM, the standard 5-scale definition (Wang et al. 2003): 11x11 Gaussian window, sigma 1.5, K1 0.01,
// K2 0.03, scale weights 0.0448 0.2856 0.3001 0.2363 0.1333, 2x2 average pooling between scales, computed per
// RGB channel on [0,255] and averaged (as pytorch_msssim / CompressAI report it). Images too small for five
// scales (shorter side < 161) use as many scales as fit with the weights renormalised; below 11 px, the window
// shrinks to the image.
double ms_ssim(const Image& a, const Image& b);

// Bits per pixel of a file of `bytes` bytes for a width x height image.
inline double bits_per_pixel(size_t bytes, int width, int height) {
  return double(bytes) * 8.0 / (double(width) * double(height));
}

}  // namespace aec
