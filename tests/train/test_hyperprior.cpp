// The hyperprior through the whole chain: train a few steps, export, and check that the core computes the
// same model -- g_a, h_a and g_s within float tolerance, the integer h_s bit for bit against the trainer's
// own LibTorch reference of it, the scale indices the trainer's validation uses equal to the core's -- and
// that the trainer's validation bits are the codec's; then a warm start from a factorized model file.
#include <cstdio>

#include "aecodec/codec.h"
#include "aecodec/gaussian.h"
#include "aecodec/hyperprior.h"
#include "aecodec/metrics.h"
#include "aecodec/model.h"
#include "export.h"
#include "hyperprior_codec.h"
#include "test_util.h"
#include "torch_test_util.h"
#include "train_loop.h"

// LibTorch's headers bring glog's CHECK (a failure aborts the process): Catch's must win.
#undef CHECK
#include <catch2/catch.hpp>

using namespace aect;
using namespace aect_test;

namespace {}  // namespace

TEST_CASE("hyperprior: LibTorch and the core compute the same model, the integer h_s bit for bit",
          "[train][parity][hyperprior]") {
  const std::string data = make_image_dir("parity-hyperprior");
  TrainConfig cfg = tiny_config("hyperprior", data, data + "/run");
  cfg.lambdas = {0.01};
  train_run(cfg, false);

  LoadedRun run = load_run(cfg.out);
  auto& model = dynamic_cast<HyperpriorCodecImpl&>(*run.model);
  {
    // Three steps leave h_a / h_s near their initialisation, where every scale lands in the first table and
    // z is all zeros: redraw them larger so that z spans many values and the scales the whole table.
    torch::NoGradGuard ng;
    torch::manual_seed(5);
    for (LayerStack* s : {&model.h_a, &model.h_s})
      for (torch::Tensor& p : (*s)->parameters()) {
        if (p.dim() == 4) {
          const double fan_in = double(p.numel()) / double(p.size(0));
          p.normal_(0, 2.0 / std::sqrt(fan_in));
        } else {
          p.uniform_(-0.5, 1.5);
        }
      }
    // The last layer (conv 3x3 N->2M) gives scales, then means: scales up into the table, means near y's
    // range (means far off y would make most symbols escapes, which the rate comparison below is not about).
    REQUIRE(model.h_s->parameters().back().size(0) == 2 * model.M);
  }
  scales_into_table(model);
  auto files = export_models(run, "test-hyperprior", ExportOptions());
  REQUIRE(files.size() == 1);
  const std::string path = data + "/test-hyperprior.aem";
  files[0].second.write(path);
  const aec::Model core = aec::Model::load(path);
  REQUIRE(core.hyperprior());
  const aec::Hyperprior& hp = *core.hyperprior();
  CHECK(core.info().arch == "hyperprior");
  CHECK(core.info().entropy_kind == "hyperprior");
  CHECK(hp.channels() == cfg.N);

  torch::NoGradGuard ng;
  const aec::Image im = synthetic_image(155, 117, 99);
  int pw = 0, ph = 0;
  std::vector<float> planes = image_planes(im, 16, pw, ph);
  torch::Tensor x = torch::from_blob(planes.data(), {1, 3, ph, pw}, torch::kFloat).clone();

  // Float networks: g_a, h_a.
  const torch::Tensor y_torch = model.encode(x, 0);
  const aec::Tensor y_core = core.analysis(to_core(x));
  const double d_analysis = max_abs(y_torch, to_torch(y_core));
  const aec::Tensor z_core = hp.analysis(y_core);
  const double d_hyper = max_abs(model.h_a->forward(to_torch(y_core)), to_torch(z_core));

  // The integer h_s: the core's loops against the trainer's LibTorch reference, on the core's z symbols.
  CHECK(hp.z_median() == model.z_median_fixed());
  const std::vector<int32_t> qz = hp.quantize_z(z_core);
  const aec::IntTensor p_core = hp.synthesis(qz, z_core.h, z_core.w);
  torch::Tensor qz_t = torch::tensor(std::vector<double>(qz.begin(), qz.end()), torch::kDouble)
                           .view({1, z_core.c, z_core.h, z_core.w});
  const std::vector<int32_t> med = model.z_median_fixed();
  torch::Tensor z_int =
      qz_t * std::ldexp(1.0, aec::kHyperZBits) +
      torch::tensor(std::vector<double>(med.begin(), med.end()), torch::kDouble).view({1, -1, 1, 1});
  const IntHyperSynthesis ref = IntHyperSynthesis::quantize(*model.h_s);
  REQUIRE(ref.layers.size() == hp.hyper_synthesis().layers().size());
  for (size_t i = 0; i < ref.layers.size(); ++i) {
    CHECK(ref.layers[i].weight == hp.hyper_synthesis().layers()[i].weight);
    CHECK(ref.layers[i].bias == hp.hyper_synthesis().layers()[i].bias);
    CHECK(ref.layers[i].shift == hp.hyper_synthesis().layers()[i].shift);
  }
  const torch::Tensor p_ref = ref.forward(z_int).contiguous();
  REQUIRE(p_ref.size(1) == p_core.c);
  REQUIRE(p_ref.size(2) == p_core.h);
  REQUIRE(p_ref.size(3) == p_core.w);
  const torch::Tensor p_core_t =
      torch::tensor(std::vector<double>(p_core.data.begin(), p_core.data.end()), torch::kDouble)
          .view_as(p_ref);
  const int64_t mismatches = (p_ref != p_core_t).sum().item<int64_t>();
  std::printf(
      "hyperprior parity: analysis %.3g, hyper-analysis %.3g; integer h_s: %lld of %lld values differ "
      "(|output| max %.0f)\n",
      d_analysis, d_hyper, (long long)mismatches, (long long)p_ref.numel(), p_ref.abs().max().item<double>());
  CHECK(d_analysis < 1e-3);
  CHECK(d_hyper < 1e-3);
  CHECK(mismatches == 0);

  // The scale indices the trainer's validation picks (thresholds on the reference) are the core's.
  const int64_t M = core.info().latent_channels, yh = y_core.h, yw = y_core.w;
  const std::vector<int32_t> thr = aec::scale_thresholds(aec::default_scale_table(), aec::kHyperOutBits);
  const torch::Tensor index_ref = (p_ref.narrow(1, 0, M).narrow(2, 0, yh).narrow(3, 0, yw).unsqueeze(-1) >
                                   torch::tensor(std::vector<double>(thr.begin(), thr.end()), torch::kDouble))
                                      .sum(-1)
                                      .contiguous();
  const aec::Hyperprior::Conditional cond = hp.conditional(qz, z_core.h, z_core.w, int(yh), int(yw));
  const torch::Tensor index_core =
      torch::tensor(std::vector<int64_t>(cond.index.begin(), cond.index.end()), torch::kLong)
          .view_as(index_ref);
  CHECK(torch::equal(index_ref, index_core));
  const int64_t distinct = std::get<0>(torch::_unique(index_core)).numel();
  std::printf("hyperprior parity: z symbols in [%d, %d], %lld distinct scale indices of 64\n",
              *std::min_element(qz.begin(), qz.end()), *std::max_element(qz.begin(), qz.end()),
              (long long)distinct);
  CHECK(distinct >= 8);

  // g_s on the core's dequantised latent.
  const aec::LatentCode code = aec::code_latent(core, y_core);
  const double d_synthesis =
      max_abs(model.g_s->forward(to_torch(code.latent)), to_torch(core.synthesis(code.latent)));
  std::printf("hyperprior parity: synthesis %.3g\n", d_synthesis);
  CHECK(d_synthesis < 1e-3);

  // The codec round trip, and the trainer's validation bits against the codec's ideal bits.
  const aec::EncodeResult enc = aec::encode_image(core, im);
  const aec::DecodeResult dec = aec::decode_image(core, enc.bytes.data(), enc.bytes.size());
  const aec::Image direct = aec::crop(aec::tensor_to_image(core.synthesis(enc.latent)), im.width, im.height);
  CHECK(aec::mse(dec.image, direct) == 0.0);
  double codec_bits = enc.hyper_bits;
  for (double b : enc.channel_bits) codec_bits += b;
  model.eval();
  const EvalOut ev = model.evaluate(x, im.height, im.width, 0);
  std::printf(
      "hyperprior: trainer validation %.1f bits (z %.1f), codec %.1f ideal bits (z %.1f), %zu bytes, "
      "PSNR %.2f / %.2f dB\n",
      ev.bits, ev.psnr.at("hyper_bpp") * im.width * im.height, codec_bits, enc.hyper_bits, enc.bytes.size(),
      psnr_of(ev.sq_err, ev.samples), aec::psnr(dec.image, im));
  // The same symbols under the same distributions: only the tables' 16-bit quantisation differs.
  CHECK(std::abs(ev.bits - codec_bits) <= 0.01 * codec_bits + 8);
  CHECK(std::abs(psnr_of(ev.sq_err, ev.samples) - aec::psnr(dec.image, im)) < 0.05);
}

TEST_CASE("hyperprior trains from a factorized model file's g_a / g_s and validates through the integer path",
          "[train][hyperprior][init]") {
  const std::string data = make_image_dir("hyperprior-init");
  TrainConfig fcfg = tiny_config("factorized", data, data + "/factorized");
  fcfg.steps = 1;
  train_run(fcfg, false);
  LoadedRun first = load_run(fcfg.out);
  auto files = export_models(first, "first", ExportOptions());
  const std::string path = data + "/first.aem";
  files[0].second.write(path);

  TrainConfig cfg = tiny_config("hyperprior", data, data + "/hyper");
  cfg.init = path;
  cfg.steps = 2;
  cfg.lr = 0;  // nothing moves: g_a / g_s hold exactly what the file had
  const TrainState st = train_run(cfg, false);
  CHECK(st.step == 2);
  LoadedRun run = load_run(cfg.out);
  REQUIRE(run.valid.is_object());
  CHECK(run.valid.value("bpp", 0.0) > 0);
  CHECK(run.valid.value("hyper_bpp", 0.0) > 0);
  CHECK(run.valid.value("psnr", 0.0) > 5);
  auto again = export_models(run, "hyper", ExportOptions());
  const aec::ModelFile& a = files[0].second;
  const aec::ModelFile& b = again[0].second;
  int compared = 0;
  const double worst = max_weight_diff(a, b, "g_", &compared);
  std::printf("hyperprior warm start: %d tensors, max |weight difference| %.3g\n", compared, worst);
  CHECK(compared > 10);
  CHECK(worst < 1e-6);
  // And the exported hyperprior codes an image.
  const aec::Model core = aec::Model::from_file(b);
  const aec::Image im = synthetic_image(64, 48, 3);
  const aec::EncodeResult e = aec::encode_image(core, im);
  CHECK(aec::decode_image(core, e.bytes.data(), e.bytes.size()).image.width == 64);
}

TEST_CASE("a hyperprior warm-started from its own model file codes as the file did (h_a, dequantised h_s)",
          "[train][hyperprior][init]") {
  const std::string data = make_image_dir("hyperprior-self-init");
  TrainConfig first_cfg = tiny_config("hyperprior", data, data + "/first");
  first_cfg.steps = 3;
  train_run(first_cfg, false);
  LoadedRun first = load_run(first_cfg.out);
  auto files = export_models(first, "first", ExportOptions());
  const std::string path = data + "/first.aem";
  files[0].second.write(path);

  TrainConfig cfg = tiny_config("hyperprior", data, data + "/again");
  cfg.init = path;
  cfg.steps = 1;
  cfg.lr = 0;
  train_run(cfg, false);
  LoadedRun run = load_run(cfg.out);
  auto again = export_models(run, "again", ExportOptions());
  const aec::Model a = aec::Model::from_file(files[0].second), b = aec::Model::from_file(again[0].second);
  int compared = 0;
  CHECK(max_weight_diff(files[0].second, again[0].second, "hyper.h_a", &compared) < 1e-6);
  CHECK(compared == 6);  // three convolutions' weights and biases
  // Dequantised and quantised again, h_s is the same integer network.
  const auto& la = a.hyperprior()->hyper_synthesis().layers();
  const auto& lb = b.hyperprior()->hyper_synthesis().layers();
  REQUIRE(la.size() == lb.size());
  for (size_t i = 0; i < la.size(); ++i) {
    CHECK(la[i].weight == lb[i].weight);
    CHECK(la[i].bias == lb[i].bias);
    CHECK(la[i].shift == lb[i].shift);
  }
  // So the rate is the file's: the same validation bits as the run that made it (a random h_s costs bits).
  REQUIRE(first.valid.is_object());
  REQUIRE(run.valid.is_object());
  CHECK(run.valid.value("bpp", 0.0) == Approx(first.valid.value("bpp", -1.0)).epsilon(1e-4));
  CHECK(run.valid.value("psnr", 0.0) == Approx(first.valid.value("psnr", -1.0)).epsilon(1e-4));
}

TEST_CASE("a variable-rate hyperprior exports one file per quality, each coding as the trainer validates it",
          "[train][hyperprior][variable-rate]") {
  const std::string data = make_image_dir("hyperprior-vr");
  TrainConfig cfg = tiny_config("hyperprior", data, data + "/run");
  cfg.lambdas = {0.002, 0.05};
  train_run(cfg, false);
  LoadedRun run = load_run(cfg.out);
  auto& model = dynamic_cast<HyperpriorCodecImpl&>(*run.model);
  REQUIRE(model.qualities() == 2);
  REQUIRE(run.valid.contains("q1"));
  REQUIRE(run.valid.contains("q2"));
  scales_into_table(model);  // three steps leave h_s's scales tiny
  auto files = export_models(run, "vr", ExportOptions());
  REQUIRE(files.size() == 2);
  CHECK(files[0].first == "vr-q1");
  CHECK(files[1].first == "vr-q2");
  // The gains are folded into g_a and g_s; the entropy model (h_a, h_s, z tables) is the same in both.
  const aec::Model q1 = aec::Model::from_file(files[0].second), q2 = aec::Model::from_file(files[1].second);
  CHECK(q1.info().entropy_hash == q2.info().entropy_hash);
  CHECK(files[0].second.tensors.at("g_a.6.weight").bytes != files[1].second.tensors.at("g_a.6.weight").bytes);

  torch::NoGradGuard ng;
  model.eval();
  const aec::Image im = synthetic_image(96, 80, 4);
  int pw = 0, ph = 0;
  std::vector<float> planes = image_planes(im, 16, pw, ph);
  torch::Tensor x = torch::from_blob(planes.data(), {1, 3, ph, pw}, torch::kFloat).clone();
  for (int q = 0; q < 2; ++q) {
    const aec::Model& core = q == 0 ? q1 : q2;
    const aec::EncodeResult enc = aec::encode_image(core, im);
    const aec::DecodeResult dec = aec::decode_image(core, enc.bytes.data(), enc.bytes.size());
    double codec_bits = enc.hyper_bits;
    for (double b : enc.channel_bits) codec_bits += b;
    // The file's encoder is the trainer's gained g_a; its decoder undoes the gain.
    const torch::Tensor y = model.encode(x, q);
    const aec::Tensor y_core = core.analysis(to_core(x));
    CHECK(max_abs(y, to_torch(y_core)) < 1e-3);
    CHECK(max_abs(model.g_s->forward(model.remove_gain(y, q)), to_torch(core.synthesis(y_core))) < 1e-3);
    const EvalOut ev = model.evaluate(x, im.height, im.width, q);
    std::printf(
        "variable-rate hyperprior q%d: trainer %.1f bits, codec %.1f ideal bits, PSNR %.2f / %.2f dB\n",
        q + 1, ev.bits, codec_bits, psnr_of(ev.sq_err, ev.samples), aec::psnr(dec.image, im));
    CHECK(std::abs(ev.bits - codec_bits) <= 0.01 * codec_bits + 8);
    CHECK(std::abs(psnr_of(ev.sq_err, ev.samples) - aec::psnr(dec.image, im)) < 0.05);
  }
}
