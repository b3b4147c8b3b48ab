// Tries one refinement plan (SGA steps, step size, temperatures, RDO passes) on a few photos and prints, per
// photo and on average, the change of bpp, PSNR and the exact RD loss against effort 0: how the ladder in
// shared/aecodec/refine.cpp was chosen (docs/effort.md).
//   aecodec-effort-ladder MODEL STEPS LR TAU0 TAU_END RDO_PASSES IMAGE...
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "aecodec/codec.h"
#include "aecodec/error.h"
#include "aecodec/file_io.h"
#include "aecodec/image.h"
#include "aecodec/latent_codec.h"
#include "aecodec/metrics.h"
#include "aecodec/parallel.h"
#include "aecodec/refine.h"

using namespace aec;

namespace {

struct Point {
  double bpp = 0, psnr = 0, loss = 0;
};

Point measure(const Model& m, const Image& im, const std::vector<uint8_t>& bytes, double lambda) {
  const DecodeResult d = decode_image(m, bytes.data(), bytes.size());
  Point p;
  p.bpp = double(bytes.size()) * 8 / (double(im.width) * im.height);
  p.psnr = psnr(im, d.image);
  p.loss = p.bpp + lambda * mse(im, d.image);  // mse on the 0-255 scale: lambda * 255^2 * MSE in [0, 1]
  return p;
}

}  // namespace

int main(int argc, char** argv) try {
  if (argc < 8) {
    std::fprintf(stderr, "usage: aecodec-effort-ladder MODEL STEPS LR TAU0 TAU_END RDO_PASSES IMAGE...\n");
    return 2;
  }
  const Model m = Model::load(argv[1]);
  EffortPlan plan;
  plan.sga_steps = std::atoi(argv[2]);
  plan.lr = float(std::atof(argv[3]));
  plan.tau0 = float(std::atof(argv[4]));
  plan.tau_end = float(std::atof(argv[5]));
  plan.rdo_passes = std::atoi(argv[6]);
  require(m.file().meta.contains("training") && m.file().meta["training"].contains("lambda"),
          "the model gives no training.lambda");
  const double lambda = m.file().meta["training"]["lambda"].get<double>();
  Point s0, s1;
  double ms_sum = 0;
  const int n = argc - 7;
  for (int i = 7; i < argc; ++i) {
    const Image im = load_image(argv[i], {}, AlphaPolicy::drop);
    const std::vector<uint8_t> e0 = encode_image(m, im).bytes;
    EncodeOptions o;
    o.effort = 1;
    o.plan = &plan;
    const auto t0 = std::chrono::steady_clock::now();
    const EncodeResult e1 = encode_image(m, im, o);
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    const Point a = measure(m, im, e0, lambda), b = measure(m, im, e1.bytes, lambda);
    std::printf("%s: bpp %.4f -> %.4f (%+.2f %%), PSNR %.3f -> %.3f (%+.3f dB), loss %+.2f %%, %.0f ms\n",
                argv[i], a.bpp, b.bpp, 100 * (b.bpp / a.bpp - 1), a.psnr, b.psnr, b.psnr - a.psnr,
                100 * (b.loss / a.loss - 1), ms);
    s0.bpp += a.bpp, s0.psnr += a.psnr, s0.loss += a.loss;
    s1.bpp += b.bpp, s1.psnr += b.psnr, s1.loss += b.loss;
    ms_sum += ms;
  }
  std::printf(
      "mean over %d: steps %d, lr %g, tau %g-%g, rdo %d: bpp %+.2f %%, PSNR %+.3f dB, loss %+.2f %%, %.0f "
      "ms\n",
      n, plan.sga_steps, plan.lr, plan.tau0, plan.tau_end, plan.rdo_passes, 100 * (s1.bpp / s0.bpp - 1),
      (s1.psnr - s0.psnr) / n, 100 * (s1.loss / s0.loss - 1), ms_sum / n);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "aecodec-effort-ladder: error: %s\n", e.what());
  return 1;
}
