// A shipped model file carries the trainer state that its tables and folded weights lose (train_state.h), so
// a warm start from the file alone continues the run: the same prior, the same gains, the same unfolded
// weights.

#include <cstdio>

#include "aecodec/codec.h"
#include "aecodec/model.h"
#include "export.h"
#include "test_util.h"
#include "torch_test_util.h"
#include "train_loop.h"
#include "train_state.h"

// LibTorch's c10 defines a glog-style CHECK (aborts, not a Catch assertion): Catch's must win.
#undef CHECK
#include <catch2/catch.hpp>

using namespace aect;
using namespace aect_test;

namespace {

double max_diff(const torch::OrderedDict<std::string, torch::Tensor>& a,
                const torch::OrderedDict<std::string, torch::Tensor>& b, int* compared) {
  double d = 0;
  for (const auto& kv : a) {
    const torch::Tensor* t = b.find(kv.key());
    REQUIRE(t != nullptr);
    d = std::max(d, max_abs(kv.value(), *t));
    ++*compared;
  }
  return d;
}

}  // namespace

TEST_CASE("a variable-rate model file restores the prior, every gain and the unfolded weights",
          "[train][state]") {
  const std::string data = make_image_dir("train-state");
  TrainConfig cfg = tiny_config("factorized", data, data + "/run");
  cfg.lambdas = {0.004, 0.013, 0.05};
  cfg.steps = 4;
  train_run(cfg, false);
  LoadedRun run = load_run(cfg.out);
  {  // the trained gains differ from their initial values, so restoring them is not a coincidence
    auto fresh = make_codec(run.cfg);
    CHECK(max_abs(fresh->gain, run.model->gain) > 1e-5);
  }

  ExportOptions opt;
  opt.codec_scores = false;
  auto files = export_models(run, "vr", opt);
  REQUIRE(files.size() == 3);
  const aec::ModelFile& q2 = files[1].second;
  REQUIRE(q2.meta["training"]["state"]["gains"]["folded_quality"] == 2);
  CHECK(q2.has("train.prior.quantiles"));
  // The core ignores the state: the file codes an image as before.
  const aec::Model core = aec::Model::from_file(q2);
  const aec::Image im = synthetic_image(64, 48, 5);
  const aec::EncodeResult e = aec::encode_image(core, im);
  CHECK(aec::decode_image(core, e.bytes.data(), e.bytes.size()).image.width == 64);

  auto model = make_codec(run.cfg);
  for (Member& m : model->members()) m.load_from(q2);
  const std::string what = load_train_state(q2, *model);
  INFO(what);
  CHECK(what.find("prior") != std::string::npos);
  CHECK(what.find("3 qualities' gains") != std::string::npos);
  int compared = 0;
  CHECK(max_diff(run.model->eb->named_parameters(), model->eb->named_parameters(), &compared) == 0.0);
  CHECK(max_abs(run.model->gain, model->gain) == 0.0);
  CHECK(max_abs(run.model->inv_gain, model->inv_gain) == 0.0);
  // Every network weight, the gain-folded first and last layers included, back to the run's (float rounding
  // of one multiply and one divide).
  auto nets = [](CodecImpl& c) {
    torch::OrderedDict<std::string, torch::Tensor> out;
    for (const auto& kv : c.named_parameters())
      if (kv.key().rfind("eb.", 0) != 0 && kv.key().find("gain") == std::string::npos)
        out.insert(kv.key(), kv.value());
    return out;
  };
  compared = 0;
  const double worst = max_diff(nets(*run.model), nets(*model), &compared);
  std::printf("train state: %d network tensors, max |unfolded - trained| %.3g\n", compared, worst);
  CHECK(compared > 10);
  CHECK(worst < 1e-5);

  // Same validation through the warm-started run with nothing moving (lr 0): what the run itself measured.
  TrainConfig warm = tiny_config("factorized", data, data + "/warm");
  warm.lambdas = cfg.lambdas;
  warm.init = data + "/vr-q2.aem";
  q2.write(warm.init);
  warm.steps = 1;
  warm.lr = 0;
  warm.aux_lr = 0;
  train_run(warm, false);
  LoadedRun w = load_run(warm.out);
  for (int q = 1; q <= 3; ++q) {
    const std::string k = "q" + std::to_string(q);
    const nlohmann::json v0 =
        validate(*run.model, prepare_valid(load_images(data, false, 2), *run.model, 2), torch::kCPU)[k];
    CHECK(std::abs(w.valid[k].value("bpp", 0.0) - v0.value("bpp", 0.0)) < 1e-3);
    CHECK(std::abs(w.valid[k].value("psnr", 0.0) - v0.value("psnr", 0.0)) < 1e-3);
  }
}

TEST_CASE("a model file without trainer state warm-starts the prior by fitting it to the file's tables",
          "[train][state]") {
  const std::string data = make_image_dir("train-state-none");
  TrainConfig cfg = tiny_config("factorized", data, data + "/run");
  cfg.steps = 3;
  train_run(cfg, false);
  LoadedRun run = load_run(cfg.out);
  {  // A 3-step prior has not found its quantiles yet: widen the tabled range so the tables hold its whole
     // mass
    // (as a trained prior's do, whose tails beyond the range are 1e-9), else there is no pmf to fit.
    torch::NoGradGuard ng;
    torch::Tensor q = run.model->eb->quantiles();
    q.select(2, 0).copy_(q.select(2, 1) - 40);
    q.select(2, 2).copy_(q.select(2, 1) + 40);
  }
  ExportOptions opt;
  opt.codec_scores = false;
  aec::ModelFile f = export_models(run, "one", opt)[0].second;
  REQUIRE(f.meta["training"].contains("state"));
  // What files exported before the state existed look like.
  f.meta["training"].erase("state");
  for (auto it = f.tensors.begin(); it != f.tensors.end();)
    it = it->first.rfind("train.", 0) == 0 ? f.tensors.erase(it) : std::next(it);
  auto model = make_codec(run.cfg);
  for (Member& m : model->members()) m.load_from(f);
  const ValidSet valid = prepare_valid(load_images(data, false, 2), *run.model, 2);
  const double fresh_bpp = validate(*model, valid, torch::kCPU).value("bpp", 0.0);
  const std::string what = load_train_state(f, *model);
  INFO(what);
  CHECK(what.find("prior fitted") != std::string::npos);
  const double trained = validate(*run.model, valid, torch::kCPU).value("bpp", 0.0);
  const double fitted = validate(*model, valid, torch::kCPU).value("bpp", 0.0);
  std::printf("prior fit: validation bpp %.4f with the run's prior, %.4f fitted to the tables, %.4f fresh\n",
              trained, fitted, fresh_bpp);
  CHECK(std::abs(fitted - trained) < 0.02 * trained + 0.01);
  CHECK(fresh_bpp > fitted);
}
