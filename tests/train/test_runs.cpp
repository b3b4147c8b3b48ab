// Run-directory behaviour: exact resume, crash-safe checkpoints, NaN/inf recovery.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "export.h"
#include "optimizer_state.h"
#include "progress_plot.h"
#include "test_util.h"
#include "torch_test_util.h"
#include "train_loop.h"

// LibTorch's c10 defines a glog-style CHECK (aborts, not a Catch assertion): Catch's must win.
#undef CHECK
#include <catch2/catch.hpp>

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
  CHECK_FALSE(st.optimizer_restarted);
  CHECK_FALSE(st2.optimizer_restarted);

  // What LibTorch 2.x makes of a 1.13 checkpoint's optimizer (checkpoint.h): entries without a state. They
  // are dropped, and the optimizer then steps from a fresh state instead of dereferencing them.
  REQUIRE(opt2.state().size() == model2->main_parameters().size());
  CHECK_FALSE(drop_unusable_optimizer_state(opt2));
  CHECK(opt2.state().size() == model2->main_parameters().size());
  for (auto it = std::next(opt2.state().begin()); it != opt2.state().end(); ++it) it->second.reset();
  CHECK(drop_unusable_optimizer_state(opt2));
  CHECK(opt2.state().empty());
  model2->train();
  torch::Tensor x = torch::rand({2, 3, 64, 64});
  opt2.zero_grad();
  model2->train_step(x, 0, 0.013).loss.backward();
  opt2.step();
  CHECK(opt2.state().size() == model2->main_parameters().size());
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

TEST_CASE("optimizer state by position: the moments come back, old checkpoints load, misfits restart",
          "[train][resume]") {
  const std::string data = make_image_dir("optstate");
  TrainConfig cfg = tiny_config("factorized", data, data + "/run");
  cfg.steps = 3;
  train_run(cfg, false);
  const TrainConfig mc = load_run(cfg.out).cfg;
  auto model = make_codec(mc);
  torch::optim::Adam opt(model->main_parameters(), torch::optim::AdamOptions(1e-4));
  TrainState st;
  REQUIRE(load_checkpoint(cfg.out, *model, &opt, nullptr, st));
  CHECK_FALSE(st.optimizer_restarted);
  REQUIRE(opt.state().size() == model->main_parameters().size());

  // One step from the checkpoint, with its optimizer (restored = true) or a fresh one.
  const torch::Tensor x = torch::rand({2, 3, 64, 64});
  auto step_from_checkpoint = [&](bool restored) {
    auto m = make_codec(mc);
    torch::optim::Adam o(m->main_parameters(), torch::optim::AdamOptions(1e-3));
    TrainState s;
    REQUIRE(load_checkpoint(cfg.out, *m, restored ? &o : nullptr, nullptr, s));
    m->train();
    torch::manual_seed(5);
    o.zero_grad();
    m->train_step(x, 0, 0.013).loss.backward();
    o.step();
    return m;
  };
  auto a = step_from_checkpoint(true), b = step_from_checkpoint(true), fresh = step_from_checkpoint(false);
  CHECK(max_param_diff(*a, *b) == 0.0);
  CHECK(max_param_diff(*a, *fresh) > 1e-7);  // the restored moments changed the step

  // By position, through an archive: every parameter gets a state of its own shape.
  torch::serialize::OutputArchive out;
  save_adam_state(opt, out);
  std::ostringstream bytes;
  out.save_to(bytes);
  auto load_into = [&](torch::optim::Optimizer& o) {
    torch::serialize::InputArchive in;
    std::istringstream is(bytes.str());
    in.load_from(is);
    return load_adam_state(o, in);
  };
  torch::optim::Adam opt2(model->main_parameters(), torch::optim::AdamOptions(1e-4));
  REQUIRE(load_into(opt2));
  CHECK(opt2.state().size() == model->main_parameters().size());
  CHECK_FALSE(drop_unusable_optimizer_state(opt2));

  // A checkpoint in LibTorch's own optimizer format (written before optimizer_state.h) still loads.
  {
    torch::serialize::OutputArchive root, m, o;
    model->save(m);
    opt.save(o);
    root.write("model", m);
    root.write("optimizer", o);
    for (const char* key : {"step", "images", "warmup_from", "nan_events"})
      root.write(key, torch::tensor(int64_t(3)));
    for (const char* key : {"lr_scale", "wall_s", "cpu_s"})
      root.write(key, torch::tensor(1.0, torch::kDouble));
    std::ostringstream old;
    root.save_to(old);
    auto m4 = make_codec(mc);
    torch::optim::Adam o4(m4->main_parameters(), torch::optim::AdamOptions(1e-4));
    TrainState s4;
    restore_checkpoint_bytes(old.str(), *m4, &o4, nullptr, s4);
    CHECK_FALSE(s4.optimizer_restarted);
    CHECK(o4.state().size() == m4->main_parameters().size());
  }

  // Another model's state (other widths) does not fit: nothing is loaded.
  TrainConfig wide = mc;
  wide.N = 24;
  auto m5 = make_codec(wide);
  torch::optim::Adam o5(m5->main_parameters(), torch::optim::AdamOptions(1e-4));
  CHECK_FALSE(load_into(o5));
  CHECK(o5.state().empty());
}

TEST_CASE("a resumed run takes a new batch, crop and data folder, and keeps its provenance",
          "[train][resume]") {
  // What moving a run to a GPU and back does: bigger batches there, the CPU's batch here, other data paths.
  const std::string data = make_image_dir("move");
  const std::string other = make_image_dir("move-other", 3);
  TrainConfig cfg = tiny_config("factorized", data, data + "/run");
  cfg.steps = 2;
  train_run(cfg, false);
  nlohmann::json saved = read_json(cfg.out + "/config.json");
  saved["provenance"] = "steps 0-2 elsewhere";
  write_json_atomic(cfg.out + "/config.json", saved);

  TrainConfig again = tiny_config("factorized", other, cfg.out);
  again.steps = 4, again.batch = 3, again.crop = 48, again.lr = 5e-4;
  again.overrides = {{"batch", 3}, {"crop", 48}, {"data", other}, {"steps", 4}};  // lr: given, not overridden
  const TrainState st = train_run(again, true);
  CHECK(st.step == 4);
  CHECK(st.images == 2 * 2 + 2 * 3);  // two steps of 2 images, then two of 3
  const nlohmann::json now = read_json(cfg.out + "/config.json");
  CHECK(now["batch"] == 3);
  CHECK(now["crop"] == 48);
  CHECK(now["data"] == other);
  CHECK(now["lr"] == Approx(cfg.lr));  // not in the overrides: the run's own
  CHECK(now["provenance"] == "steps 0-2 elsewhere");

  LoadedRun run = load_run(cfg.out);
  ExportOptions opt;
  const auto files = export_models(run, "moved", opt);
  REQUIRE(files.size() == 1);
  // The description says what the model is in a line; the history is in training.*.
  const nlohmann::json& doc = files[0].second.meta;
  CHECK(doc["description"].get<std::string>().size() <= 200);
  CHECK(doc["training"]["steps"] == 4);
  CHECK(doc["training"]["provenance"] == "steps 0-2 elsewhere");
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
  const double worst = max_weight_diff(a, b, "g_");
  std::printf("warm start: max |weight difference| over g_a/g_s = %.3g\n", worst);
  CHECK(worst < 1e-6);
}

TEST_CASE("a warm start carries its source's training history into the next export", "[train][init]") {
  const std::string data = make_image_dir("init-history");
  TrainConfig cfg = tiny_config("factorized", data, data + "/gpu");
  cfg.steps = 2;
  cfg.provenance = "steps 0-2 on a lent GPU";
  train_run(cfg, false);
  ExportOptions opt;
  LoadedRun first = load_run(cfg.out);
  auto files = export_models(first, "gpu", opt);
  REQUIRE(files.size() == 1);
  CHECK(files[0].second.meta["training"]["provenance"] == "steps 0-2 on a lent GPU");
  const std::string path = data + "/gpu.aem";
  files[0].second.write(path);

  // The history an export carries (training.provenance; the description only says what the model is).
  auto description_after = [&](const std::string& init, const std::string& out, const std::string& given) {
    TrainConfig warm = tiny_config("factorized", data, data + "/" + out);
    warm.init = init;
    warm.steps = 1;
    warm.provenance = given;
    train_run(warm, false);
    LoadedRun run = load_run(warm.out);
    auto again = export_models(run, out, opt);
    REQUIRE(again.size() == 1);
    CHECK(again[0].second.meta["training"]["steps"] == 1);
    CHECK(again[0].second.meta["description"].get<std::string>().size() <= 200);
    return again[0].second.meta["training"]["provenance"].get<std::string>();
  };
  SECTION("from a model file: its history, then the file and the step it was exported at") {
    const std::string d = description_after(path, "cpu", "");
    INFO(d);
    CHECK(d.find("steps 0-2 on a lent GPU; then continued from gpu.aem (exported at its step 2)") !=
          std::string::npos);
  }
  SECTION("from an older file without training.provenance: its whole description") {
    aec::ModelFile old = aec::ModelFile::read(path);
    old.meta["training"].erase("provenance");
    old.write(data + "/old.aem");
    const std::string d = description_after(data + "/old.aem", "from-old", "");
    INFO(d);
    CHECK(d.find("old.aem was: " + old.meta["description"].get<std::string>() +
                 "; then continued from old.aem") != std::string::npos);
  }
  SECTION("from a run directory: the run's history, then the run and its step") {
    const std::string d = description_after(cfg.out, "from-run", "");
    INFO(d);
    CHECK(d.find("steps 0-2 on a lent GPU; then warm-started from run gpu at its step 2") !=
          std::string::npos);
  }
  SECTION("a history given for the new run is kept as given") {
    const std::string d = description_after(path, "given", "distilled by hand");
    INFO(d);
    CHECK(d == "distilled by hand");
    CHECK(d.find("lent GPU") == std::string::npos);
  }
}

TEST_CASE("a family warm-started from a factorized model shares its latent space exactly",
          "[train][family]") {
  const std::string data = make_image_dir("family-init");
  TrainConfig cfg = tiny_config("factorized", data, data + "/medium");
  cfg.steps = 2;
  train_run(cfg, false);
  LoadedRun first = load_run(cfg.out);
  ExportOptions opt;
  opt.codec_scores = false;
  auto files = export_models(first, "medium", opt);
  const std::string path = data + "/medium.aem";
  files[0].second.write(path);

  TrainConfig fam = tiny_config("family", data, data + "/family");
  fam.init = path;
  fam.freeze_shared = true;  // only the upscaler and the prior learn
  fam.steps = 3;
  train_run(fam, false);
  LoadedRun run = load_run(fam.out);
  auto members = run.model->members();
  REQUIRE(members.size() == 2);
  Member& high = members[0];
  Member& medium = members[1];
  REQUIRE(high.role == "high");
  torch::NoGradGuard ng;

  // The high encoder is the learned downscaler (still the 2x2 box: frozen) in front of the medium encoder, so
  // a high latent is the medium latent of the half-size image: cross-decoding needs no retraining to be
  // valid.
  const aec::Image im = synthetic_image(96, 64, 11);
  int pw = 0, ph = 0;
  std::vector<float> planes = image_planes(im, 32, pw, ph);
  torch::Tensor x = torch::from_blob(planes.data(), {1, 3, ph, pw}, torch::kFloat).clone();
  torch::Tensor x_half = torch::nn::functional::avg_pool2d(x, torch::nn::functional::AvgPool2dFuncOptions(2));
  const double d_latent = (high.encode(x) - medium.encode(x_half)).abs().max().item<double>();
  std::printf("family: max |high latent - medium latent of the 2x box downscale| = %.3g\n", d_latent);
  CHECK(d_latent < 1e-5);

  // The shared medium networks are exactly the warm-start model's; only the high member carries the
  // resamplers.
  auto exported = export_models(run, "fam", opt);
  REQUIRE(exported.size() == 2);
  const aec::ModelFile& a = files[0].second;
  const aec::ModelFile& med = exported[1].second;
  const double worst = max_weight_diff(a, med, "g_");
  CHECK(worst < 1e-6);
  CHECK(exported[0].second.has("u_s.0.weight"));
  CHECK(exported[0].second.has("d_a.0.weight"));
  CHECK_FALSE(med.has("u_s.0.weight"));
  CHECK(run.state.step == 3);
}

TEST_CASE("warm start from a run directory takes every matching tensor, the prior included",
          "[train][init]") {
  const std::string data = make_image_dir("init-run");
  TrainConfig cfg = tiny_config("factorized", data, data + "/single");
  cfg.steps = 2;
  train_run(cfg, false);

  TrainConfig vr = tiny_config("factorized", data, data + "/variable");
  vr.init = cfg.out;                 // a run directory, not a model file
  vr.lambdas = {0.005, 0.01, 0.02};  // adds gain vectors the single-rate run does not have
  vr.steps = 1;
  vr.seed = 2;
  vr.lr = 0;
  vr.aux_lr = 0;
  train_run(vr, false);
  LoadedRun a = load_run(cfg.out), b = load_run(vr.out);
  auto pa = a.model->named_parameters(), pb = b.model->named_parameters();
  int compared = 0;
  double worst = 0;
  for (const auto& kv : pa) {
    const torch::Tensor* t = pb.find(kv.key());
    REQUIRE(t != nullptr);
    worst = std::max(worst, (kv.value() - *t).abs().max().item<double>());
    ++compared;
  }
  REQUIRE(pb.find("gain") != nullptr);
  REQUIRE(pb.size() == pa.size() + 2);  // + gain, inv_gain
  std::printf("warm start from a run: %d tensors, max |difference| %.3g\n", compared, worst);
  REQUIRE(worst < 1e-6);
}

TEST_CASE("a finished run draws its loss and validation RD progress", "[train][plot]") {
  const std::string data = make_image_dir("plot");
  TrainConfig cfg = tiny_config("factorized", data, data + "/run");
  cfg.lambdas = {0.004, 0.05};
  cfg.steps = 4;
  cfg.valid_every = 2;
  train_run(cfg, false);
  auto slurp = [](const std::string& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  const std::string loss = slurp(cfg.out + "/loss.svg"), rd = slurp(cfg.out + "/rd.svg");
  REQUIRE(loss.rfind("<svg", 0) == 0);
  REQUIRE(rd.rfind("<svg", 0) == 0);
  // Both qualities drawn in each: the picture is of this run, not an empty frame.
  for (const std::string* s : {&loss, &rd}) {
    CHECK(s->find("quality 1") != std::string::npos);
    CHECK(s->find("quality 2") != std::string::npos);
    CHECK(s->find("<polyline") != std::string::npos);
  }
  // A run directory without a log is an error, not an empty picture.
  CHECK_THROWS_WITH(write_progress_plots(data + "/nothing-here"), Catch::Contains("cannot read"));
}
