// The package's results as the app's images and tensors, and how the page measures them: PSNR and MS-SSIM
// (the core's; MS-SSIM by bands of rows, so a photo needs a band's memory).
#include <cstring>
#include <vector>

#include "aecodec/error.h"
#include "aecodec/metrics.h"
#include "app.h"

namespace web {

void measure(const aec::Image& a, const aec::Image& b, double& psnr, double& ms_ssim) {
  psnr = aec::psnr(a, b);
  ms_ssim = aec::ms_ssim(a, b);
}

aec::Image rgba_image(std::vector<uint8_t>& rgba, int width, int height) {
  aec::require(
      width > 0 && height > 0 && rgba.size() == size_t(width) * size_t(height) * 4,
      "the package's image is not " + std::to_string(width) + "x" + std::to_string(height) + " RGBA");
  aec::Image im(width, height);
  const size_t n = size_t(width) * size_t(height);
  for (size_t i = 0; i < n; ++i)
    im.rgb[i * 3] = rgba[i * 4], im.rgb[i * 3 + 1] = rgba[i * 4 + 1], im.rgb[i * 3 + 2] = rgba[i * 4 + 2];
  std::vector<uint8_t>().swap(rgba);
  return im;
}

aec::Tensor latent_tensor(std::vector<uint8_t>& floats, int c, int h, int w) {
  aec::Tensor t;
  if (c <= 0 || h <= 0 || w <= 0) return t;
  t = aec::Tensor(c, h, w);
  aec::require(floats.size() == t.size() * sizeof(float), "the package's latent does not have its shape");
  std::memcpy(t.data.data(), floats.data(), floats.size());
  std::vector<uint8_t>().swap(floats);
  return t;
}

}  // namespace web
