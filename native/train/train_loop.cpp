#include "train_loop.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "aecodec/error.h"
#include "aecodec/model_file.h"
#include "aecodec/parallel.h"
#include "gain_map.h"
#include "progress_plot.h"
#include "provenance.h"
#include "sample_noise.h"
#include "train_state.h"
#include "weight_average.h"

namespace aect {

namespace fs = std::filesystem;

namespace {

std::atomic<int> g_signal{0};
extern "C" void on_signal(int sig) {
  g_signal.store(sig);
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

uint64_t mix(uint64_t a, uint64_t b) {
  uint64_t z = a * 0x9E3779B97F4A7C15ull + b + 0x632BE59BD9B4E019ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

torch::optim::AdamOptions& adam_options(torch::optim::Optimizer& opt, size_t group = 0) {
  return static_cast<torch::optim::AdamOptions&>(opt.param_groups()[group].options());
}

bool all_finite(CodecImpl& model) {
  torch::NoGradGuard ng;
  for (const torch::Tensor& p : model.parameters())
    if (!torch::isfinite(p).all().item<bool>()) return false;
  return true;
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string eta_str(double seconds) {
  if (!(seconds >= 0) || seconds > 1e7) return "?";
  const int s = int(seconds);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
  return buf;
}

void append_line(const std::string& path, const std::string& line, const char* header) {
  const bool fresh = !fs::exists(path);
  std::ofstream f(path, std::ios::app);
  if (fresh) f << header << "\n";
  f << line << "\n";
}

const char* kCsvHeader = "kind,step,wall_s,cpu_s,lr,loss,bpp,psnr,images_per_s,quality,extra";

}  // namespace

void set_threads(int threads) {
  const int n = threads > 0 ? threads : int(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(n);
  aec::set_num_threads(n);
}

ValidSet prepare_valid(const ImageSet& set, const CodecImpl& model, int max_images) {
  ValidSet v;
  const int fixed = model.fixed_size();
  for (size_t i = 0; i < set.images.size(); ++i) {
    if (max_images > 0 && int(i) >= max_images) break;
    aec::Image im = fixed ? center_crop(set.images[i], fixed, fixed) : set.images[i];
    int pw = 0, ph = 0;
    std::vector<float> planes = image_planes(im, model.stride(), pw, ph);
    v.images.push_back(torch::from_blob(planes.data(), {1, 3, ph, pw}, torch::kFloat).clone());
    v.widths.push_back(im.width);
    v.heights.push_back(im.height);
  }
  return v;
}

nlohmann::json validate(CodecImpl& model, const ValidSet& valid, torch::Device device) {
  torch::NoGradGuard ng;
  model.eval();
  nlohmann::json out = nlohmann::json::object();
  const int Q = model.qualities();
  for (int q = 0; q < Q; ++q) {
    double bpp = 0, psnr = 0;
    std::map<std::string, double> extra;
    for (size_t i = 0; i < valid.images.size(); ++i) {
      const EvalOut e = model.evaluate(valid.images[i].to(device), valid.heights[i], valid.widths[i], q);
      bpp += e.bits / (double(valid.widths[i]) * valid.heights[i]);
      psnr += psnr_of(e.sq_err, e.samples);
      for (const auto& kv : e.psnr) extra[kv.first] += kv.second;
    }
    const double n = double(std::max<size_t>(1, valid.images.size()));
    nlohmann::json r = {{"images", valid.images.size()}, {"psnr", psnr / n}};
    if (model.rate_distortion()) r["bpp"] = bpp / n;
    for (const auto& kv : extra) r[kv.first] = kv.second / n;
    if (Q == 1)
      out = r;
    else
      out["q" + std::to_string(q + 1)] = r;
  }
  return out;
}

LoadedRun load_run(const std::string& run_dir, torch::Device device, bool averaged) {
  LoadedRun r;
  r.cfg = read_json(run_dir + "/config.json").get<TrainConfig>();
  r.model = make_codec(r.cfg);
  r.model->to(device);
  WeightAverage avg(*r.model, averaged ? r.cfg.ema : 0.0);
  aec::require(load_checkpoint(run_dir, *r.model, nullptr, nullptr, r.state, &avg),
               "no checkpoint in " + run_dir);
  avg.swap();  // a checkpoint without an average reset it to the loaded weights: then a no-op
  r.model->eval();
  if (fs::exists(run_dir + "/valid.json")) r.valid = read_json(run_dir + "/valid.json");
  return r;
}

TrainState train_run(const TrainConfig& cfg_in, bool resume) {
  aec::require(!cfg_in.out.empty(), "train: --out RUN_DIR is required");
  TrainConfig cfg = cfg_in;
  const std::string run = cfg.out;
  const bool have_ckpt = fs::exists(checkpoint_path(run));
  if (resume && have_ckpt) {
    // The run's own config, except how long to go on and how many threads to use.
    nlohmann::json saved = read_json(run + "/config.json");
    for (const char* key : {"steps", "minutes", "threads", "checkpoint_minutes", "log_every", "valid_every",
                            "valid_max_images", "valid", "device", "decay_start", "decay_factor", "bf16",
                            "channels_last", "ema", "lr", "gain_prior", "batch", "crop", "data"})
      if (cfg_in.overrides.contains(key)) saved[key] = cfg_in.overrides[key];
    cfg = saved.get<TrainConfig>();
    cfg.out = run;
    if (cfg_in.steps > 0 || cfg_in.minutes > 0) cfg.steps = cfg_in.steps, cfg.minutes = cfg_in.minutes;
    if (cfg_in.threads > 0) cfg.threads = cfg_in.threads;
    cfg.inject_nan_step = cfg_in.inject_nan_step;
  } else {
    aec::require(!have_ckpt, "train: " + run + " already holds a checkpoint; use --resume or another --out");
  }
  aec::require(!cfg.data.empty(), "train: --data DIR is required");
  aec::require(cfg.steps > 0 || cfg.minutes > 0, "train: give --steps or --minutes");
  aec::require(!cfg.lambdas.empty(), "train: no lambda");
  default_sizes(cfg.arch, cfg.N, cfg.M);
  fs::create_directories(run);
  set_threads(cfg.threads);
  const torch::Device device = pick_device(cfg.device);
  // Training shapes are fixed (one crop size, one batch): let cuDNN time its algorithms once and keep the
  // fastest.
  if (device.is_cuda()) at::globalContext().setBenchmarkCuDNN(true);
  torch::manual_seed(cfg.seed);  // initial weights

  auto model = make_codec(cfg);
  model->to(device);
  const int crop = model->fixed_size()
                       ? model->fixed_size()
                       : std::max(model->stride(), cfg.crop / model->stride() * model->stride());
  torch::optim::Adam opt(model->main_parameters(), torch::optim::AdamOptions(cfg.lr));
  std::unique_ptr<torch::optim::Adam> aux;
  if (model->rate_distortion())
    aux =
        std::make_unique<torch::optim::Adam>(model->aux_parameters(), torch::optim::AdamOptions(cfg.aux_lr));

  TrainState st;
  WeightAverage avg(*model, cfg.ema);
  if (resume && have_ckpt) {
    load_checkpoint(run, *model, &opt, aux.get(), st, &avg);
    if (st.optimizer_restarted && cfg.warmup_steps <= 0) cfg.warmup_steps = 200;
    std::fprintf(stderr, "resumed %s at step %lld%s\n", run.c_str(), (long long)st.step,
                 !avg.enabled()      ? ""
                 : avg.updates() > 0 ? " (with its weight average)"
                                     : " (its weight average starts at these weights)");
  } else {
    if (!cfg.init.empty() && fs::is_directory(cfg.init)) {
      // From another run's checkpoint: every parameter and buffer whose name and shape match, the learned
      // prior included (a model file holds only its tables), so e.g. a variable-rate network starts from a
      // single-rate run without relearning the prior. Optimizer state starts fresh.
      const LoadedRun src = load_run(cfg.init, device);
      torch::NoGradGuard ng;
      auto from = src.model->named_parameters();
      int copied = 0, kept = 0, mapped = 0;
      auto copy_matching = [&](torch::OrderedDict<std::string, torch::Tensor> dst,
                               const torch::OrderedDict<std::string, torch::Tensor>& srcs) {
        for (auto& kv : dst) {
          const torch::Tensor* t = srcs.find(kv.key());
          const bool gains = kv.key() == "gain" || kv.key() == "inv_gain";
          if (t && t->sizes() == kv.value().sizes() && !(gains && src.cfg.lambdas != cfg.lambdas)) {
            kv.value().copy_(*t);
            ++copied;
          } else if (t && gains && t->dim() == 2 && t->size(0) >= 2 && t->size(1) == kv.value().size(1)) {
            // Other quality levels: each new one's gains from the trained levels' (gain_map.h).
            kv.value().copy_(map_gains(*t, src.cfg.lambdas, cfg.lambdas));
            ++copied, ++mapped;
          } else if (!t && gains && src.cfg.lambdas.size() == 1 && kv.value().dim() == 2) {
            // From a single-rate run: its lambda keeps gain 1 (the run's own latent), the others start at
            // the step that lambda's rate suggests, sqrt(lambda_q / lambda) (as init_gains).
            for (int64_t q = 0; q < kv.value().size(0); ++q) {
              const double g = std::sqrt(cfg.lambdas[size_t(q)] / src.cfg.lambdas[0]);
              kv.value()[q].fill_(kv.key() == "gain" ? g : 1.0 / g);
            }
            ++copied, ++mapped;
          } else {
            ++kept;
          }
        }
      };
      copy_matching(model->named_parameters(), from);
      copy_matching(model->named_buffers(), src.model->named_buffers());
      if (cfg.warmup_steps <= 0) cfg.warmup_steps = 200;
      if (cfg.provenance.empty())
        cfg.provenance = provenance_from_run(src.cfg.provenance, src.state.step, cfg.init);
      std::fprintf(stderr, "warm start: %d tensors from run %s (step %lld), %d kept (lr warm-up %d steps)\n",
                   copied, cfg.init.c_str(), (long long)src.state.step, kept, cfg.warmup_steps);
      if (mapped)
        std::fprintf(stderr, "warm start: gains of %zu qualities mapped to %zu (by log lambda)\n",
                     src.cfg.lambdas.size(), cfg.lambdas.size());
    } else if (!cfg.init.empty()) {
      const aec::ModelFile f = aec::ModelFile::read(cfg.init);
      int loaded = 0;
      for (Member& m : model->members()) loaded += m.load_from(f);
      loaded += model->load_entropy_networks(f);
      const std::string state = load_train_state(f, *model);
      if (cfg.warmup_steps <= 0) cfg.warmup_steps = 500;
      if (cfg.provenance.empty()) cfg.provenance = provenance_from_model_file(f.meta, cfg.init);
      std::fprintf(stderr, "warm start: %d layers%s from %s (lr warm-up %d steps)\n", loaded,
                   state.empty() ? ", prior restarts" : (", " + state).c_str(), cfg.init.c_str(),
                   cfg.warmup_steps);
    }
  }
  if (!(resume && have_ckpt)) avg.reset();  // from the warm start's weights
  write_json_atomic(run + "/config.json", nlohmann::json(cfg));
  if (cfg.channels_last)
    for (torch::Tensor& p : model->parameters())
      if (p.dim() == 4) p.set_data(p.data().contiguous(torch::MemoryFormat::ChannelsLast));

  const ImageSet train_set = load_images(cfg.data, cfg.downscale_prob > 0);
  ValidSet valid;
  if (!cfg.valid.empty()) valid = prepare_valid(load_images(cfg.valid, false), *model, cfg.valid_max_images);
  std::fprintf(
      stderr,
      "%s: %zu training images (%.1f Mpx), %zu validation images, crop %d, batch %d, %s, %d threads\n",
      cfg.arch.c_str(), train_set.images.size(), train_set.pixels() / 1e6, valid.images.size(), crop,
      cfg.batch, device.str().c_str(), torch::get_num_threads());

  BatchSpec spec;
  spec.batch = cfg.batch, spec.crop = crop, spec.downscale_prob = cfg.downscale_prob;
  auto prefetch = [&](int64_t index) {
    return std::async(std::launch::async, [&train_set, spec, seed = cfg.seed, index] {
      return make_batch(train_set, spec, seed, index);
    });
  };

  g_signal.store(0);
  auto old_int = std::signal(SIGINT, on_signal);
  auto old_term = std::signal(SIGTERM, on_signal);

  const double wall0 = now_s(), cpu0 = cpu_seconds();
  const double wall_base = st.wall_s, cpu_base = st.cpu_s;
  auto update_clock = [&] {
    st.wall_s = wall_base + now_s() - wall0;
    st.cpu_s = cpu_base + cpu_seconds() - cpu0;
  };
  const std::string csv = run + "/log.csv";
  std::string good =
      checkpoint_bytes(*model, opt, aux.get(), st, &avg);  // last known-good state (NaN recovery)
  double last_ckpt = now_s();
  const int64_t start_step = st.step;
  double window_t = now_s();
  int64_t window_images = 0;
  double sum_loss = 0, sum_bpp = 0, sum_mse = 0;
  int sum_n = 0;

  auto progress = [&]() {
    double p = 0;
    if (cfg.steps > 0) p = std::max(p, double(st.step) / double(cfg.steps));
    if (cfg.minutes > 0) p = std::max(p, st.wall_s / (cfg.minutes * 60));
    return p;
  };
  auto finished = [&]() {
    return (cfg.steps > 0 && st.step >= cfg.steps) || (cfg.minutes > 0 && st.wall_s >= cfg.minutes * 60);
  };
  auto lr_now = [&]() {
    double lr = cfg.lr * st.lr_scale;
    if (cfg.warmup_steps > 0 && st.step - st.warmup_from < cfg.warmup_steps)
      lr *= double(st.step - st.warmup_from + 1) / double(cfg.warmup_steps);
    if (progress() >= cfg.decay_start) lr *= cfg.decay_factor;
    return lr;
  };
  auto run_validation = [&]() {
    if (valid.images.empty()) return;
    const double t0 = now_s();
    nlohmann::json v;
    {
      WeightAverage::Applied averaged(avg);  // validation scores what export would write
      v = validate(*model, valid, device);
    }
    model->train();
    update_clock();
    v["step"] = st.step, v["wall_s"] = st.wall_s, v["cpu_s"] = st.cpu_s, v["seconds"] = now_s() - t0;
    write_json_atomic(run + "/valid.json", v);
    auto row = [&](const nlohmann::json& r, int q) {
      std::string extra;
      for (auto it = r.begin(); it != r.end(); ++it)
        if (it.value().is_number() && it.key() != "psnr" && it.key() != "bpp" && it.key() != "images" &&
            it.key() != "step" && it.key() != "wall_s" && it.key() != "cpu_s" && it.key() != "seconds")
          extra += (extra.empty() ? "" : ";") + it.key() + "=" + fmt("%.4f", it.value().get<double>());
      append_line(csv,
                  "valid," + std::to_string(st.step) + "," + fmt("%.1f", st.wall_s) + "," +
                      fmt("%.1f", st.cpu_s) + "," + fmt("%.3g", lr_now()) + ",," +
                      fmt("%.5f", r.value("bpp", 0.0)) + "," + fmt("%.4f", r.value("psnr", 0.0)) + ",," +
                      std::to_string(q) + "," + extra,
                  kCsvHeader);
      std::fprintf(stderr, "valid step %lld q%d: bpp %.4f PSNR %.3f dB %s (cpu %.1f min)\n",
                   (long long)st.step, q, r.value("bpp", 0.0), r.value("psnr", 0.0), extra.c_str(),
                   st.cpu_s / 60);
    };
    if (model->qualities() == 1)
      row(v, 1);
    else
      for (int q = 0; q < model->qualities(); ++q) row(v["q" + std::to_string(q + 1)], q + 1);
  };

  model->train();
  auto next = prefetch(st.step);
  while (!finished() && g_signal.load() == 0) {
    std::vector<float> batch = next.get();
    next = prefetch(st.step + 1);
    if (st.step == cfg.inject_nan_step) batch[batch.size() / 2] = std::numeric_limits<float>::quiet_NaN();
    const uint64_t rs = mix(cfg.seed, uint64_t(st.step));
    torch::manual_seed(rs);
    const int q = int(rs % uint64_t(model->qualities()));
    const double lr = lr_now();
    adam_options(opt).lr(lr);

    torch::Tensor x = torch::from_blob(batch.data(), {cfg.batch, 3, crop, crop}, torch::kFloat).to(device);
    if (cfg.channels_last) x = x.contiguous(torch::MemoryFormat::ChannelsLast);
    opt.zero_grad();
    StepOut out;
    {
      // The step's noise, sample by sample by the sample's index in the batch (sample_noise.h).
      SampleNoiseScope noise(rs, 0);
      AutocastGuard ac(cfg.bf16, device.type());
      out = model->train_step(x, q, cfg.lambdas[size_t(q)]);
    }
    const double loss = out.loss.item<double>();
    bool ok = std::isfinite(loss);
    double gnorm = 0;
    if (ok) {
      out.loss.backward();
      gnorm = torch::nn::utils::clip_grad_norm_(model->main_parameters(), cfg.clip > 0 ? cfg.clip : 1e30);
      ok = std::isfinite(gnorm);
    }
    if (ok) {
      opt.step();
      if (aux) {
        aux->zero_grad();
        model->aux_loss().backward();
        aux->step();
      }
      avg.update();
    }
    ++st.step;
    st.images += cfg.batch;
    if (!ok || (st.step % 100 == 0 && !all_finite(*model))) {
      // Roll back to the last good state (its step counter aside) and go on at half the learning rate.
      TrainState keep = st;
      restore_checkpoint_bytes(good, *model, &opt, aux.get(), st, &avg);
      st.step = keep.step, st.images = keep.images, st.wall_s = keep.wall_s, st.cpu_s = keep.cpu_s;
      st.lr_scale = keep.lr_scale * 0.5;
      st.nan_events = keep.nan_events + 1;
      std::fprintf(stderr, "step %lld: non-finite %s; restored the last good state, lr scale now %.3g\n",
                   (long long)st.step, std::isfinite(loss) ? "gradient" : "loss", st.lr_scale);
      append_line(csv, "nan," + std::to_string(st.step) + ",,,,,,,,,", kCsvHeader);
      continue;
    }
    if (st.step % 100 == 0) good = checkpoint_bytes(*model, opt, aux.get(), st, &avg);

    sum_loss += loss;
    sum_mse += out.mse.item<double>();
    sum_bpp += out.bpp.defined() ? out.bpp.item<double>() : 0.0;
    ++sum_n;
    window_images += cfg.batch;
    if (st.step % cfg.log_every == 0 || finished()) {
      update_clock();
      const double dt = now_s() - window_t, ips = window_images / std::max(1e-9, dt);
      const double mse = sum_mse / sum_n;
      const double psnr = 10 * std::log10(1.0 / std::max(1e-12, mse));
      double eta = -1;
      const double per_step = (st.wall_s - wall_base) / std::max<int64_t>(1, st.step - start_step);
      if (cfg.steps > 0) eta = double(cfg.steps - st.step) * per_step;
      if (cfg.minutes > 0)
        eta = eta < 0 ? cfg.minutes * 60 - st.wall_s : std::min(eta, cfg.minutes * 60 - st.wall_s);
      std::fprintf(
          stderr, "step %lld  loss %.4f  bpp %.4f  PSNR %.2f  %.1f img/s  lr %.2g  gnorm %.3g  ETA %s\n",
          (long long)st.step, sum_loss / sum_n, sum_bpp / sum_n, psnr, ips, lr, gnorm, eta_str(eta).c_str());
      append_line(csv,
                  "train," + std::to_string(st.step) + "," + fmt("%.1f", st.wall_s) + "," +
                      fmt("%.1f", st.cpu_s) + "," + fmt("%.3g", lr) + "," + fmt("%.5f", sum_loss / sum_n) +
                      "," + fmt("%.5f", sum_bpp / sum_n) + "," + fmt("%.4f", psnr) + "," + fmt("%.2f", ips) +
                      "," + std::to_string(q + 1) + ",",
                  kCsvHeader);
      sum_loss = sum_bpp = sum_mse = 0, sum_n = 0, window_images = 0, window_t = now_s();
    }
    if (cfg.valid_every > 0 && st.step % cfg.valid_every == 0) run_validation();
    if (now_s() - last_ckpt >= cfg.checkpoint_minutes * 60) {
      update_clock();
      save_checkpoint(run, *model, opt, aux.get(), st, &avg);
      last_ckpt = now_s();
    }
  }
  next.wait();
  if (g_signal.load() != 0)
    std::fprintf(stderr, "signal %d: saving the checkpoint and stopping\n", g_signal.load());
  if (g_signal.load() == 0 && (cfg.valid_every <= 0 || st.step % cfg.valid_every != 0)) run_validation();
  update_clock();
  save_checkpoint(run, *model, opt, aux.get(), st, &avg);
  std::signal(SIGINT, old_int);
  std::signal(SIGTERM, old_term);
  std::fprintf(stderr, "saved %s at step %lld (%.1f CPU min)\n", checkpoint_path(run).c_str(),
               (long long)st.step, st.cpu_s / 60);
  try {
    for (const std::string& p : write_progress_plots(run)) std::fprintf(stderr, "plotted %s\n", p.c_str());
  } catch (const std::exception& e) {  // a picture is not worth failing a finished run for
    std::fprintf(stderr, "warning: no progress plots: %s\n", e.what());
  }
  return st;
}

int run_validate(const std::string& run_dir, const std::string& valid_dir, bool last_weights, int threads) {
  set_threads(threads);
  const LoadedRun r = load_run(run_dir, torch::kCPU, !last_weights);
  const std::string dir = valid_dir.empty() ? r.cfg.valid : valid_dir;
  aec::require(!dir.empty(), "validate: the run has no validation folder; give --valid DIR");
  const ValidSet v = prepare_valid(load_images(dir, false), *r.model, 0);
  nlohmann::json j = validate(*r.model, v, torch::kCPU);
  j["step"] = r.state.step, j["weights"] = last_weights ? "last step" : "moving average";
  std::printf("%s\n", j.dump(2).c_str());
  return 0;
}

int run_train(const TrainConfig& cfg, bool resume) {
  train_run(cfg, resume);
  return 0;
}

}  // namespace aect
