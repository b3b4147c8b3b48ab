// Run-directory behaviour: exact resume, crash-safe checkpoints, NaN/inf recovery.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include "export.h"
#include "test_util.h"
#include "train_loop.h"

using namespace aect;
using namespace aect_test;

namespace {

double max_param_diff(CodecImpl& a, CodecImpl& b) {
  auto pa = a.named_parameters(), pb = b.named_parameters();
  REQUIRE(pa.size() == pb.size());
  double d = 0;
  for (const auto& kv : pa) d = std::max(d, (kv.value() - pb[kv.key()]).abs().max().item<double>());
  return d;
}

}  // namespace

TEST_CASE("resume continues exactly where the checkpoint stopped", "[train][resume]") {
  const std::string data = make_image_dir("resume");
  TrainConfig straight = tiny_config("factorized", data, data + "/straight");
  straight.steps = 6;
  train_run(straight, false);

  TrainConfig split = tiny_config("factorized", data, data + "/split");
  split.steps = 3;
  const TrainState mid = train_run(split, false);
  CHECK(mid.step == 3);
  // A stale temporary from a killed write sits beside the checkpoint; it must be ignored.
  { std::ofstream(split.out + "/checkpoint.pt.tmp-424242") << "garbage from a killed write"; }
  split.steps = 6;
  const TrainState end = train_run(split, true);
  CHECK(end.step == 6);

  // Identical parameters after 3 more steps can only come from identical Adam moments and step counts.
  LoadedRun a = load_run(straight.out), b = load_run(split.out);
  const double d = max_param_diff(*a.model, *b.model);
  std::printf("resume: max |param(straight 6) - param(3 + resumed 3)| = %.3g\n", d);
  CHECK(d < 1e-6);

  auto model = make_codec(b.cfg);
  torch::optim::Adam opt(model->main_parameters(), torch::optim::AdamOptions(1e-4));
  torch::optim::Adam aux(model->aux_parameters(), torch::optim::AdamOptions(1e-3));
  TrainState st;
  REQUIRE(load_checkpoint(split.out, *model, &opt, &aux, st));
  CHECK(st.step == 6);
  // Round trip through the in-memory serialiser used for NaN recovery.
  const std::string once = checkpoint_bytes(*model, opt, &aux, st);
  auto model2 = make_codec(b.cfg);
  torch::optim::Adam opt2(model2->main_parameters(), torch::optim::AdamOptions(1e-4));
  torch::optim::Adam aux2(model2->aux_parameters(), torch::optim::AdamOptions(1e-3));
  TrainState st2;
  restore_checkpoint_bytes(once, *model2, &opt2, &aux2, st2);
  CHECK(max_param_diff(*model, *model2) == 0.0);
  CHECK(st2.step == 6);
  CHECK(st2.lr_scale == st.lr_scale);
}

TEST_CASE("a checkpoint write killed midway never leaves a corrupt checkpoint", "[train][checkpoint]") {
  const std::string data = make_image_dir("kill");
  TrainConfig cfg = tiny_config("factorized", data, data + "/run");
  cfg.steps = 2;
  train_run(cfg, false);
  // Kill the real binary at arbitrary moments while it checkpoints after every step.
  for (int attempt = 0; attempt < 3; ++attempt) {
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      const std::string steps = std::to_string(1000);
      execl(AECT_TRAIN_BIN, AECT_TRAIN_BIN, "train", "--out", cfg.out.c_str(), "--resume", "--steps",
            steps.c_str(), "--checkpoint-minutes", "0", "--threads", "1", "--log-every", "1000",
            (char*)nullptr);
      _exit(127);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1500 + 700 * attempt));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    REQUIRE(WIFSIGNALED(status));
    auto model = make_codec(load_run(cfg.out).cfg);
    TrainState st;
    REQUIRE_NOTHROW(load_checkpoint(cfg.out, *model, nullptr, nullptr, st));
    std::printf("killed run %d: checkpoint intact at step %lld\n", attempt, (long long)st.step);
    CHECK(st.step >= 2);
  }
}

TEST_CASE("SIGTERM saves the checkpoint and stops", "[train][checkpoint]") {
  const std::string data = make_image_dir("term");
  TrainConfig cfg = tiny_config("factorized", data, data + "/run");
  cfg.steps = 1;
  train_run(cfg, false);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    execl(AECT_TRAIN_BIN, AECT_TRAIN_BIN, "train", "--out", cfg.out.c_str(), "--resume", "--steps", "100000",
          "--threads", "1", "--log-every", "1000", (char*)nullptr);
    _exit(127);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  LoadedRun run = load_run(cfg.out);
  std::printf("SIGTERM: stopped and saved at step %lld\n", (long long)run.state.step);
  CHECK(run.state.step > 1);
}

TEST_CASE("a NaN in a batch is caught and training recovers", "[train][nan]") {
  const std::string data = make_image_dir("nan");
  TrainConfig cfg = tiny_config("factorized", data, data + "/run");
  cfg.steps = 5;
  cfg.inject_nan_step = 2;
  const TrainState st = train_run(cfg, false);
  CHECK(st.step == 5);
  CHECK(st.nan_events == 1);
  CHECK(st.lr_scale == 0.5);
  LoadedRun run = load_run(cfg.out);
  for (const torch::Tensor& p : run.model->parameters()) REQUIRE(torch::isfinite(p).all().item<bool>());
}

TEST_CASE("warm start from a model file takes its weights", "[train][init]") {
  const std::string data = make_image_dir("init");
  TrainConfig cfg = tiny_config("factorized", data, data + "/first");
  cfg.steps = 2;
  train_run(cfg, false);
  LoadedRun first = load_run(cfg.out);
  ExportOptions opt;
  auto files = export_models(first, "first", opt);
  REQUIRE(files.size() == 1);
  const std::string path = data + "/first.aem";
  files[0].second.write(path);

  TrainConfig warm = tiny_config("factorized", data, data + "/warm");
  warm.init = path;
  warm.steps = 1;
  warm.seed = 2;  // other initial weights, so equality can only come from the file
  warm.lr = 0;    // nothing moves: the run holds exactly what it loaded
  train_run(warm, false);
  LoadedRun second = load_run(warm.out);
  auto again = export_models(second, "first", opt);
  const aec::ModelFile& a = files[0].second;
  const aec::ModelFile& b = again[0].second;
  double worst = 0;
  for (const auto& kv : a.tensors) {
    if (kv.first.rfind("g_", 0) != 0) continue;
    const std::vector<float> va = a.floats(kv.first, kv.second.shape),
                             vb = b.floats(kv.first, kv.second.shape);
    for (size_t i = 0; i < va.size(); ++i) worst = std::max(worst, double(std::abs(va[i] - vb[i])));
  }
  std::printf("warm start: max |weight difference| over g_a/g_s = %.3g\n", worst);
  CHECK(worst < 1e-6);
}
