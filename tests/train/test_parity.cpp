// For every architecture: train a few steps, export, load with the core (aec::Model) and run the same
// weights through LibTorch and through the core's analysis and synthesis; then an export -> bitstream round
// trip through the core codec.

#include <cstdio>
#include <cstdlib>

#include "aecodec/codec.h"
#include "aecodec/metrics.h"
#include "aecodec/model.h"
#include "export.h"
#include "test_util.h"
#include "torch_test_util.h"
#include "train_loop.h"

// LibTorch's c10 defines a glog-style CHECK (aborts, not a Catch assertion): Catch's must win.
#undef CHECK
#include <catch2/catch.hpp>

using namespace aect;
using namespace aect_test;

namespace {

// Returns the exported files' paths.
std::vector<std::string> check_parity(const std::string& arch, const std::vector<double>& lambdas = {0.01},
                                      const std::string& gain_prior = "scaled") {
  const std::string data = make_image_dir("parity-" + arch + "-" + gain_prior);
  TrainConfig cfg = tiny_config(arch, data, data + "/run");
  cfg.lambdas = lambdas;
  cfg.gain_prior = gain_prior;
  if (arch == "vae") cfg.lambdas = {1.0};
  train_run(cfg, false);

  LoadedRun run = load_run(cfg.out);
  CodecImpl& model = *run.model;
  ExportOptions opt;
  auto files = export_models(run, "test-" + arch, opt);
  REQUIRE(files.size() == size_t(model.members().size() * size_t(model.qualities())));
  std::vector<std::string> paths;
  torch::NoGradGuard ng;
  size_t k = 0;
  for (Member& mem : model.members()) {
    for (int q = 0; q < model.qualities(); ++q, ++k) {
      const std::string path = data + "/" + files[k].first + ".aem";
      files[k].second.write(path);
      paths.push_back(path);
      const aec::Model core = aec::Model::load(path);
      CHECK(core.info().arch == (arch == "family" ? "factorized" : arch));
      CHECK(core.info().stride == mem.stride);

      // An image whose size is not a multiple of the stride, padded as the codec pads it.
      const int fixed = model.fixed_size();
      aec::Image im = synthetic_image(fixed ? fixed : 75, fixed ? fixed : 53, 99);
      int pw = 0, ph = 0;
      std::vector<float> planes = image_planes(im, mem.stride, pw, ph);
      torch::Tensor x = torch::from_blob(planes.data(), {1, 3, ph, pw}, torch::kFloat).clone();

      torch::Tensor y_torch = model.encode(x, q, mem.role);
      const aec::Tensor y_core = core.analysis(to_core(x));
      const double d_analysis = max_abs(y_torch, to_torch(y_core));

      // The same quantised latent through both decoders.
      const std::vector<int32_t> qv = core.quantize(y_core);
      const aec::Tensor y_hat = core.dequantize(qv, y_core.c, y_core.h, y_core.w);
      torch::Tensor z = to_torch(y_hat);
      if (model.inv_gain.defined()) z = z * model.inv_gain[q].view({1, -1, 1, 1});
      const torch::Tensor x_torch = mem.decode(z);
      const double d_synthesis = max_abs(x_torch, to_torch(core.synthesis(y_hat)));
      std::printf("parity %-10s %-7s q%d: analysis max|diff| %.3g (|y| max %.3g), synthesis max|diff| %.3g\n",
                  arch.c_str(), mem.role.c_str(), q + 1, d_analysis, y_torch.abs().max().item<double>(),
                  d_synthesis);
      CHECK(d_analysis < 1e-3);
      CHECK(d_synthesis < 1e-3);

      // RD models: the exported quantiser is the one training evaluates with (rounding around the medians).
      if (model.rate_distortion()) {
        torch::Tensor med = model.eb->medians();
        if (model.prior_scale(q).defined()) med = med * model.prior_scale(q);  // the coded domain's medians
        med = med.view({1, -1, 1, 1});
        torch::Tensor q_torch = torch::round(y_torch - med);
        torch::Tensor q_core =
            torch::from_blob(const_cast<int32_t*>(qv.data()), q_torch.sizes(), torch::kInt);
        // Values within float noise of a .5 boundary may round differently; nearly all must agree.
        const double agree = (q_torch.to(torch::kInt) == q_core).to(torch::kFloat).mean().item<double>();
        CHECK(agree > 0.999);
      }

      // Bitstream round trip through the core codec: decodes to what the core's synthesis gives.
      const aec::EncodeResult enc = aec::encode_image(core, im);
      const aec::DecodeResult dec = aec::decode_image(core, enc.bytes.data(), enc.bytes.size());
      REQUIRE(dec.image.width == im.width);
      REQUIRE(dec.image.height == im.height);
      const aec::Image direct = aec::crop(aec::tensor_to_image(core.synthesis(y_hat)), im.width, im.height);
      CHECK(aec::mse(dec.image, direct) == 0.0);
      std::printf("round trip %-10s %-7s q%d: %zu bytes, PSNR %.2f dB\n", arch.c_str(), mem.role.c_str(),
                  q + 1, enc.bytes.size(), aec::psnr(dec.image, im));
      // The factorized prior's tables (per quality when the prior is scaled) price the symbols as the
      // trainer's likelihood does: only the tables' 16-bit quantisation differs.
      if (arch == "factorized") {
        double codec_bits = 0;
        for (double b : enc.channel_bits) codec_bits += b;
        const EvalOut ev = model.evaluate(x, im.height, im.width, q);
        std::printf("bits %-10s q%d: trainer %.1f, codec %.1f (ideal)\n", arch.c_str(), q + 1, ev.bits,
                    codec_bits);
        CHECK(std::abs(ev.bits - codec_bits) <= 0.01 * codec_bits + 8);
      }
    }
  }
  return paths;
}

}  // namespace

TEST_CASE("factorized: LibTorch and the core compute the same model", "[train][parity]") {
  check_parity("factorized");
}

TEST_CASE("factorized variable-rate: gains fold into the exported weights, each quality its own tables",
          "[train][parity]") {
  const auto paths = check_parity("factorized", {0.005, 0.02, 0.08});
  REQUIRE(paths.size() == 3);
  // One prior over the ungained latent, tabulated for each quality's bins: different tables per file.
  const aec::Model a = aec::Model::load(paths[0]), b = aec::Model::load(paths[2]);
  CHECK(a.info().entropy_hash != b.info().entropy_hash);
  CHECK(a.info().model_hash != b.info().model_hash);
}

TEST_CASE("factorized variable-rate with the shared prior (older runs): one table set for every quality",
          "[train][parity]") {
  const auto paths = check_parity("factorized", {0.005, 0.02, 0.08}, "shared");
  REQUIRE(paths.size() == 3);
  const aec::Model a = aec::Model::load(paths[0]), b = aec::Model::load(paths[2]);
  CHECK(a.info().entropy_hash == b.info().entropy_hash);
  CHECK(a.info().model_hash != b.info().model_hash);
}

TEST_CASE("fc: LibTorch and the core compute the same model", "[train][parity]") {
  check_parity("fc");
}
TEST_CASE("conv: LibTorch and the core compute the same model", "[train][parity]") {
  check_parity("conv");
}
TEST_CASE("vae: LibTorch and the core compute the same model", "[train][parity]") {
  check_parity("vae");
}

TEST_CASE("family: both members share the entropy model and cross-decode", "[train][parity]") {
  const auto paths = check_parity("family");
  REQUIRE(paths.size() == 2);
  const aec::Model high = aec::Model::load(paths[0]), medium = aec::Model::load(paths[1]);
  CHECK(high.info().family_role == "high");
  CHECK(medium.info().family_role == "medium");
  CHECK(high.info().family_id == medium.info().family_id);
  CHECK(high.info().entropy_hash == medium.info().entropy_hash);
  // A high-encoded stream decodes with the medium decoder at half the size.
  const aec::Image im = synthetic_image(96, 64, 7);
  const aec::EncodeResult enc = aec::encode_image(high, im);
  const aec::DecodeResult half = aec::cross_decode_image(medium, enc.bytes.data(), enc.bytes.size());
  CHECK(half.image.width == 48);
  CHECK(half.image.height == 32);
}

// Hidden (run by hand): parity on a real run's weights, e.g.
//   AECT_PARITY_RUN=runs/factorized-q3 train_tests "[.realrun]"
TEST_CASE("parity on a real run directory", "[.realrun]") {
  const char* dir = std::getenv("AECT_PARITY_RUN");
  if (!dir) return;
  LoadedRun run = load_run(dir);
  auto files = export_models(run, "real", ExportOptions());
  torch::NoGradGuard ng;
  Member mem = run.model->members()[0];
  const aec::Model core = aec::Model::from_file(files[0].second);
  const aec::Image im = synthetic_image(200, 136, 5);
  int pw = 0, ph = 0;
  std::vector<float> planes = image_planes(im, mem.stride, pw, ph);
  torch::Tensor x = torch::from_blob(planes.data(), {1, 3, ph, pw}, torch::kFloat).clone();
  torch::Tensor y = run.model->encode(x, 0, mem.role);
  const aec::Tensor y_core = core.analysis(to_core(x));
  const aec::Tensor y_hat = core.dequantize(core.quantize(y_core), y_core.c, y_core.h, y_core.w);
  torch::Tensor z = to_torch(y_hat);
  if (run.model->inv_gain.defined()) z = z * run.model->inv_gain[0].view({1, -1, 1, 1});
  const double da = max_abs(y, to_torch(y_core)),
               ds = max_abs(mem.decode(z), to_torch(core.synthesis(y_hat)));
  std::printf("real run %s: analysis max|diff| %.3g (|y| max %.3g), synthesis max|diff| %.3g\n", dir, da,
              y.abs().max().item<double>(), ds);
  CHECK(da < 1e-3);
  CHECK(ds < 1e-3);
}
