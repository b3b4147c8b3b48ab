// The weights' moving average (weight_average.h): the documented update, swaps that restore the live
// weights, a checkpoint that keeps it (and an old checkpoint without one), and load_run handing validation's
// and export's averaged weights to everything that reads a run.

#include "checkpoint.h"
#include "test_util.h"
#include "torch_test_util.h"
#include "train_loop.h"
#include "weight_average.h"

// LibTorch's c10 defines a glog-style CHECK (aborts, not a Catch assertion): Catch's must win.
#undef CHECK
#include <catch2/catch.hpp>

using namespace aect;
using namespace aect_test;

namespace {

std::vector<torch::Tensor> snapshot(CodecImpl& model) {
  std::vector<torch::Tensor> s;
  for (const torch::Tensor& p : model.parameters()) s.push_back(p.detach().clone());
  return s;
}

// Largest |parameter - (snapshot + offset)| over the model.
double max_diff(CodecImpl& model, const std::vector<torch::Tensor>& s, float offset = 0.0f) {
  double d = 0;
  const std::vector<torch::Tensor> p = model.parameters();
  for (size_t i = 0; i < p.size(); ++i) d = std::max(d, max_abs(p[i], s[i] + offset));
  return d;
}

void shift_all(CodecImpl& model, float by) {
  torch::NoGradGuard ng;
  for (torch::Tensor& p : model.parameters()) p.add_(by);
}

}  // namespace

TEST_CASE("the weight average follows its decay, swaps back and forth, and lives in the checkpoint",
          "[train][average]") {
  TrainConfig cfg = tiny_config("factorized", "unused", "unused");
  auto model = make_codec(cfg);
  const std::vector<torch::Tensor> w0 = snapshot(*model);
  WeightAverage avg(*model, 0.9);

  // Update n (from 0) uses decay min(0.9, (1 + n) / (10 + n)): 0.1, then 2/11.
  shift_all(*model, 1.0f);
  avg.update();  // avg = 0.1 w0 + 0.9 (w0 + 1) = w0 + 0.9
  shift_all(*model, 1.0f);
  avg.update();  // avg = 2/11 (w0 + 0.9) + 9/11 (w0 + 2) = w0 + 1.8
  const std::vector<torch::Tensor> live = snapshot(*model);  // w0 + 2
  avg.swap();
  CHECK(max_diff(*model, w0, 1.8f) < 1e-5);
  avg.swap();
  CHECK(max_diff(*model, live) == 0.0);

  torch::optim::Adam opt(model->main_parameters(), torch::optim::AdamOptions(1e-4));
  TrainState st;
  st.step = 2;
  const std::string with = checkpoint_bytes(*model, opt, nullptr, st, &avg);
  const std::string without = checkpoint_bytes(*model, opt, nullptr, st, nullptr);

  auto other = make_codec(cfg);
  torch::optim::Adam other_opt(other->main_parameters(), torch::optim::AdamOptions(1e-4));
  WeightAverage other_avg(*other, 0.9);
  TrainState other_st;
  restore_checkpoint_bytes(with, *other, &other_opt, nullptr, other_st, &other_avg);
  CHECK(other_avg.updates() == 2);
  CHECK(max_diff(*other, live) == 0.0);
  other_avg.swap();
  CHECK(max_diff(*other, w0, 1.8f) < 1e-5);

  // A checkpoint from before the average: it starts at the loaded weights.
  auto old = make_codec(cfg);
  torch::optim::Adam old_opt(old->main_parameters(), torch::optim::AdamOptions(1e-4));
  WeightAverage old_avg(*old, 0.9);
  restore_checkpoint_bytes(without, *old, &old_opt, nullptr, other_st, &old_avg);
  CHECK(old_avg.updates() == 0);
  old_avg.swap();
  CHECK(max_diff(*old, live) == 0.0);
}

TEST_CASE("a run's model, as export and warm starts read it, is its weight average", "[train][average]") {
  const std::string data = make_image_dir("weight-average");
  for (double ema : {0.9, 0.0}) {
    TrainConfig cfg = tiny_config("factorized", data, data + "/run-" + std::to_string(int(ema * 10)));
    cfg.steps = 5, cfg.ema = ema;
    train_run(cfg, false);
    const LoadedRun run = load_run(cfg.out);
    // The last step's weights, read without the average.
    auto raw = make_codec(run.cfg);
    TrainState st;
    REQUIRE(load_checkpoint(cfg.out, *raw, nullptr, nullptr, st));
    const double d = max_diff(*run.model, snapshot(*raw));
    INFO("ema " << ema << ": max |average - last weights| = " << d);
    if (ema > 0)
      CHECK(d > 1e-6);
    else
      CHECK(d == 0.0);
  }
}
