// compare: the quality metrics of one image against a reference, over the whole image or a region of it (for
// another codec's output, or to see where in a picture a codec loses: the README's demo sample).
#include <cstdio>
#include <cstring>
#include <string>

#include "aecodec/error.h"
#include "aecodec/image.h"
#include "aecodec/metrics.h"
#include "commands.h"

namespace aec::cli {

namespace {

struct CompareOptions {
  std::string reference, image;
  std::vector<int> region;  // x, y, width, height
};

Image cut(const Image& im, int x, int y, int w, int h) {
  Image out(w, h);
  for (int r = 0; r < h; ++r)
    std::memcpy(&out.rgb[size_t(r) * w * 3], &im.rgb[(size_t(y + r) * im.width + x) * 3], size_t(w) * 3);
  return out;
}

void run_compare(const CompareOptions& o, const GlobalOptions&) {
  Image ref = load_image(o.reference, {}, AlphaPolicy::drop);
  Image im = load_image(o.image, {}, AlphaPolicy::drop);
  require(ref.width == im.width && ref.height == im.height,
          "'" + o.image + "' is " + std::to_string(im.width) + "x" + std::to_string(im.height) +
              ", the reference '" + o.reference + "' is " + std::to_string(ref.width) + "x" +
              std::to_string(ref.height));
  std::string where = "whole image";
  double whole_sq = -1, whole_px = 0;  // with a region: the whole image's squared error and pixel count
  if (!o.region.empty()) {
    require(o.region.size() == 4, "--region takes X,Y,WIDTH,HEIGHT");
    const int x = o.region[0], y = o.region[1], w = o.region[2], h = o.region[3];
    require(x >= 0 && y >= 0 && w > 0 && h > 0 && int64_t(x) + w <= ref.width && int64_t(y) + h <= ref.height,
            "--region " + std::to_string(x) + "," + std::to_string(y) + "," + std::to_string(w) + "," +
                std::to_string(h) + " is not inside the " + std::to_string(ref.width) + "x" +
                std::to_string(ref.height) + " image");
    whole_px = double(ref.width) * ref.height, whole_sq = mse(ref, im) * whole_px;
    ref = cut(ref, x, y, w, h), im = cut(im, x, y, w, h);
    where =
        std::to_string(w) + "x" + std::to_string(h) + " at " + std::to_string(x) + "," + std::to_string(y);
  }
  const double e = mse(ref, im);
  // With a region, its share of the whole image's squared error: what tells a region that dominates a PSNR.
  std::string share;
  if (whole_sq >= 0) {
    const double px = double(ref.width) * ref.height;
    char buf[96];
    std::snprintf(buf, sizeof buf, "; %.1f %% of the image's squared error on %.1f %% of its pixels",
                  whole_sq > 0 ? 100 * e * px / whole_sq : 0.0, 100 * px / whole_px);
    share = buf;
  }
  std::printf("%s vs %s (%s): PSNR %.3f dB, MS-SSIM %.5f, MSE %.3f%s\n", o.image.c_str(), o.reference.c_str(),
              where.c_str(), psnr(ref, im), ms_ssim(ref, im), e, share.c_str());
}

}  // namespace

void add_compare_command(CLI::App& app, const GlobalOptions& g) {
  auto o = std::make_shared<CompareOptions>();
  CLI::App* c = app.add_subcommand("compare",
                                   "PSNR, MS-SSIM and MSE of an image against a reference (PNG, JPEG, "
                                   "BMP, TGA; alpha ignored), whole or in a region");
  c->add_option("reference", o->reference, "the original image")->required();
  c->add_option("image", o->image, "the image to measure, the reference's size")->required();
  c->add_option("--region", o->region, "X,Y,WIDTH,HEIGHT: measure only this rectangle")
      ->delimiter(',')
      ->expected(4);
  c->callback([o, &g] { run_compare(*o, g); });
}

}  // namespace aec::cli
