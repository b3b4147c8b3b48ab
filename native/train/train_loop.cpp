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
#include "distributed.h"
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

// train_run's body; dist: this process's place in a data-parallel run, or null. Rank 0 (the lead) resolves
// the run as a single process does; the others take its config and state.
static TrainState train_ranked(const TrainConfig& cfg_in, bool resume, const DistOptions& dist_opt,
                               DistGroup* dist) {
  const bool lead = !dist || dist->rank() == 0;
  const int world = dist ? dist->world() : 1, rank = dist ? dist->rank() : 0;
  TrainConfig cfg = cfg_in;
  const std::string run = cfg.out;
  const bool have_ckpt = lead && fs::exists(checkpoint_path(run));
  std::shared_ptr<CodecImpl> model;
  std::unique_ptr<torch::optim::Adam> opt, aux;
  std::unique_ptr<WeightAverage> avg;
  TrainState st;
  torch::Device device = torch::kCPU;
  int crop = 0;
  // This process's model and optimizers for cfg, with fresh weights from cfg.seed.
  auto build = [&] {
    set_threads(cfg.threads);
    device = pick_device(cfg.device);
    if (dist && device.is_cuda() && !device.has_index()) {  // one GPU per rank of a machine
      const int local = dist_opt.local_rank >= 0 ? dist_opt.local_rank : rank;
      device = torch::Device(torch::kCUDA,
                             c10::DeviceIndex(local % std::max<int>(1, int(torch::cuda::device_count()))));
    }
    // Training shapes are fixed (one crop size, one batch): let cuDNN time its algorithms once and keep the
    // fastest.
    if (device.is_cuda()) at::globalContext().setBenchmarkCuDNN(true);
    torch::manual_seed(cfg.seed);  // initial weights
    model = make_codec(cfg);
    model->to(device);
    crop = model->fixed_size() ? model->fixed_size()
                               : std::max(model->stride(), cfg.crop / model->stride() * model->stride());
    opt = std::make_unique<torch::optim::Adam>(model->main_parameters(), torch::optim::AdamOptions(cfg.lr));
    if (model->rate_distortion())
      aux = std::make_unique<torch::optim::Adam>(model->aux_parameters(),
                                                 torch::optim::AdamOptions(cfg.aux_lr));
    avg = std::make_unique<WeightAverage>(*model, cfg.ema);
  };
  if (lead) {
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
      aec::require(!have_ckpt,
                   "train: " + run + " already holds a checkpoint; use --resume or another --out");
    }
    aec::require(!cfg.data.empty(), "train: --data DIR is required");
    aec::require(cfg.steps > 0 || cfg.minutes > 0, "train: give --steps or --minutes");
    aec::require(!cfg.lambdas.empty(), "train: no lambda");
    aec::require(cfg.batch > 0 && cfg.batch % world == 0,
                 "train: --batch " + std::to_string(cfg.batch) +
                     " is the global batch, split evenly over the " + std::to_string(world) +
                     " ranks: give a multiple of " + std::to_string(world));
    default_sizes(cfg.arch, cfg.N, cfg.M);
    fs::create_directories(run);
    build();
    if (resume && have_ckpt) {
      load_checkpoint(run, *model, opt.get(), aux.get(), st, avg.get());
      if (st.optimizer_restarted && cfg.warmup_steps <= 0) cfg.warmup_steps = 200;
      std::fprintf(stderr, "resumed %s at step %lld%s\n", run.c_str(), (long long)st.step,
                   !avg->enabled()      ? ""
                   : avg->updates() > 0 ? " (with its weight average)"
                                        : " (its weight average starts at these weights)");
    } else {
      if (!cfg.init.empty() && fs::is_directory(cfg.init)) {
        // From another run's checkpoint: every parameter and buffer whose name and shape match, the learned
        // prior included (a model file holds only its tables), so e.g. a variable-rate network starts from
        // a single-rate run without relearning the prior. Optimizer state starts fresh.
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
        std::fprintf(stderr,
                     "warm start: %d tensors from run %s (step %lld), %d kept (lr warm-up %d steps)\n",
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
    if (!(resume && have_ckpt)) avg->reset();  // from the warm start's weights
    write_json_atomic(run + "/config.json", nlohmann::json(cfg));
  }
  if (dist) {
    // Every rank trains rank 0's run: its resolved config (through the store), then its whole state in
    // memory (weights, optimizers, counters, moving average: what a checkpoint holds). So a run resumes,
    // or starts warm, whatever the world size, and only rank 0 needs the run directory and --init.
    const std::string shared = dist->share_text("config", nlohmann::json(cfg).dump());
    if (!lead) {
      TrainConfig c = nlohmann::json::parse(shared).get<TrainConfig>();
      // This machine's own threads, device and data folder, where given here.
      if (cfg_in.threads > 0) c.threads = cfg_in.threads;
      if (cfg_in.overrides.contains("device")) c.device = cfg_in.device;
      if (cfg_in.overrides.contains("data")) c.data = cfg_in.data;
      c.inject_nan_step = cfg_in.inject_nan_step;
      cfg = c;
      build();
    }
    dist->connect(device);
    std::string state = lead ? checkpoint_bytes(*model, *opt, aux.get(), st, avg.get()) : std::string();
    dist->broadcast_bytes(state, "handing out rank 0's training state");
    if (!lead) restore_checkpoint_bytes(state, *model, opt.get(), aux.get(), st, avg.get());
  }
  const int local_batch = cfg.batch / world, first_sample = rank * local_batch;
  if (cfg.channels_last)
    for (torch::Tensor& p : model->parameters())
      if (p.dim() == 4) p.set_data(p.data().contiguous(torch::MemoryFormat::ChannelsLast));

  const ImageSet train_set = load_images(cfg.data, cfg.downscale_prob > 0);
  ValidSet valid;
  if (lead && !cfg.valid.empty())
    valid = prepare_valid(load_images(cfg.valid, false), *model, cfg.valid_max_images);
  if (lead)
    std::fprintf(
        stderr,
        "%s: %zu training images (%.1f Mpx), %zu validation images, crop %d, batch %d, %s, %d threads\n",
        cfg.arch.c_str(), train_set.images.size(), train_set.pixels() / 1e6, valid.images.size(), crop,
        cfg.batch, device.str().c_str(), torch::get_num_threads());
  if (dist)
    std::fprintf(stderr, "data-parallel rank %d of %d (%s): crops %d-%d of each step's %d, %s, %d threads\n",
                 rank, world, dist->backend().c_str(), first_sample, first_sample + local_batch - 1,
                 cfg.batch, device.str().c_str(), torch::get_num_threads());

  BatchSpec spec;
  spec.batch = cfg.batch, spec.crop = crop, spec.downscale_prob = cfg.downscale_prob;
  auto prefetch = [&](int64_t index) {
    return std::async(std::launch::async,
                      [&train_set, spec, seed = cfg.seed, index, first_sample, local_batch] {
                        return make_batch(train_set, spec, seed, index, first_sample, local_batch);
                      });
  };

  g_signal.store(0);
  auto old_int = std::signal(SIGINT, on_signal);
  auto old_term = std::signal(SIGTERM, on_signal);

  const double wall0 = now_s(), cpu0 = cpu_seconds();
  const double wall_base = st.wall_s, cpu_base = st.cpu_s;
  double others_cpu = 0;  // data-parallel: the other ranks' CPU time, which rank 0's cpu_s includes
  auto update_clock = [&] {
    st.wall_s = wall_base + now_s() - wall0;
    st.cpu_s = cpu_base + cpu_seconds() - cpu0 + others_cpu;
  };
  const std::string csv = run + "/log.csv";
  std::string good =
      checkpoint_bytes(*model, *opt, aux.get(), st, avg.get());  // last known-good state (NaN recovery)
  double last_ckpt = now_s();
  const int64_t start_step = st.step;
  double window_t = now_s();
  int64_t window_images = 0;
  double sum_loss = 0, sum_bpp = 0, sum_mse = 0;
  int sum_n = 0;

  auto step_progress = [&]() { return cfg.steps > 0 ? double(st.step) / double(cfg.steps) : 0.0; };
  auto time_progress = [&]() { return cfg.minutes > 0 ? st.wall_s / (cfg.minutes * 60) : 0.0; };
  auto progress = [&]() { return std::max(step_progress(), time_progress()); };
  auto steps_done = [&]() { return cfg.steps > 0 && st.step >= cfg.steps; };
  auto time_up = [&]() { return cfg.minutes > 0 && st.wall_s >= cfg.minutes * 60; };
  auto finished = [&]() { return steps_done() || time_up(); };
  // Data-parallel: whatever depends on a clock is rank 0's decision, handed out with each step's all-reduce
  // (stop_time; time_decayed: --minutes' lr decay), so every rank steps with the same learning rate and stops
  // after the same step, one step after rank 0's clock says so. stop_signal: some rank got SIGINT/SIGTERM.
  // All start from the state every rank holds.
  bool stop_time = time_up(), stop_signal = false, time_decayed = time_progress() >= cfg.decay_start;
  auto lr_now = [&]() {
    double lr = cfg.lr * st.lr_scale;
    if (cfg.warmup_steps > 0 && st.step - st.warmup_from < cfg.warmup_steps)
      lr *= double(st.step - st.warmup_from + 1) / double(cfg.warmup_steps);
    if (dist ? step_progress() >= cfg.decay_start || time_decayed : progress() >= cfg.decay_start)
      lr *= cfg.decay_factor;
    return lr;
  };
  auto run_validation = [&]() {
    if (valid.images.empty()) return;
    const double t0 = now_s();
    nlohmann::json v;
    {
      WeightAverage::Applied averaged(*avg);  // validation scores what export would write
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
  double last_cpu = cpu_seconds();
  while (dist ? !(steps_done() || stop_time || stop_signal) : !finished() && g_signal.load() == 0) {
    std::vector<float> batch = next.get();
    next = prefetch(st.step + 1);
    if (st.step == cfg.inject_nan_step) batch[batch.size() / 2] = std::numeric_limits<float>::quiet_NaN();
    const uint64_t rs = mix(cfg.seed, uint64_t(st.step));
    torch::manual_seed(rs);
    const int q = int(rs % uint64_t(model->qualities()));
    const double lr = lr_now();
    adam_options(*opt).lr(lr);

    torch::Tensor x = torch::from_blob(batch.data(), {local_batch, 3, crop, crop}, torch::kFloat).to(device);
    if (cfg.channels_last) x = x.contiguous(torch::MemoryFormat::ChannelsLast);
    opt->zero_grad();
    StepOut out;
    {
      // The step's noise, sample by sample by the sample's index in the global batch (sample_noise.h).
      SampleNoiseScope noise(rs, first_sample);
      AutocastGuard ac(cfg.bf16, device.type());
      out = model->train_step(x, q, cfg.lambdas[size_t(q)]);
    }
    double loss = out.loss.item<double>();
    double mse = out.mse.item<double>(), bpp = out.bpp.defined() ? out.bpp.item<double>() : 0.0;
    bool ok = std::isfinite(loss);
    double gnorm = 0;
    if (dist) {
      // Every rank takes part in every all-reduce, a non-finite loss included (then all restore together).
      // The step's numbers ride in the float gradients' buffer: the losses (averaged), the stop requests,
      // rank 0's clock's lr decay and each rank's CPU time.
      out.loss.backward();
      const double cpu_now = cpu_seconds(), cpu_step = cpu_now - last_cpu;
      last_cpu = cpu_now;
      if (lead) update_clock();
      torch::Tensor stats =
          torch::tensor({loss, mse, bpp, g_signal.load() != 0 ? 1.0 : 0.0, lead && time_up() ? 1.0 : 0.0,
                         lead && time_progress() >= cfg.decay_start ? 1.0 : 0.0, cpu_step},
                        torch::kDouble)
              .to(device, torch::kFloat);
      dist->average_gradients(model->main_parameters(), &stats,
                              "the gradient all-reduce of step " + std::to_string(st.step + 1));
      const std::vector<float> s = to_floats(stats);
      loss = s[0] / world, mse = s[1] / world, bpp = s[2] / world;
      stop_signal = stop_signal || s[3] > 0;
      stop_time = stop_time || s[4] > 0;
      time_decayed = time_decayed || s[5] > 0;
      others_cpu += s[6] - cpu_step;
      ok = std::isfinite(loss);
    } else if (ok) {
      out.loss.backward();
    }
    if (ok) {
      gnorm = torch::nn::utils::clip_grad_norm_(model->main_parameters(), cfg.clip > 0 ? cfg.clip : 1e30);
      ok = std::isfinite(gnorm);
    }
    if (ok) {
      opt->step();
      if (aux) {
        aux->zero_grad();
        model->aux_loss().backward();
        if (dist)
          dist->average_gradients(model->aux_parameters(), nullptr,
                                  "the aux gradient all-reduce of step " + std::to_string(st.step + 1));
        aux->step();
      }
      avg->update();
    }
    ++st.step;
    st.images += cfg.batch;
    if (!ok || (st.step % 100 == 0 && !all_finite(*model))) {
      // Roll back to the last good state (its step counter aside) and go on at half the learning rate.
      TrainState keep = st;
      restore_checkpoint_bytes(good, *model, opt.get(), aux.get(), st, avg.get());
      st.step = keep.step, st.images = keep.images, st.wall_s = keep.wall_s, st.cpu_s = keep.cpu_s;
      st.lr_scale = keep.lr_scale * 0.5;
      st.nan_events = keep.nan_events + 1;
      if (lead) {
        std::fprintf(stderr, "step %lld: non-finite %s; restored the last good state, lr scale now %.3g\n",
                     (long long)st.step, std::isfinite(loss) ? "gradient" : "loss", st.lr_scale);
        append_line(csv, "nan," + std::to_string(st.step) + ",,,,,,,,,", kCsvHeader);
      }
      continue;
    }
    if (st.step % 100 == 0) {
      good = lead ? checkpoint_bytes(*model, *opt, aux.get(), st, avg.get()) : std::string();
      if (dist) {
        // Every rank takes rank 0's state again: replicas that round differently (other CPUs, other thread
        // counts in the gradient norm) cannot drift apart. On one machine they are identical anyway.
        dist->broadcast_bytes(good, "re-synchronising the ranks at step " + std::to_string(st.step));
        if (!lead) {
          const TrainState keep = st;
          restore_checkpoint_bytes(good, *model, opt.get(), aux.get(), st, avg.get());
          st.wall_s = keep.wall_s, st.cpu_s = keep.cpu_s;
        }
      }
    }
    if (!lead) continue;  // rank 0 alone logs, validates and checkpoints

    sum_loss += loss;
    sum_mse += mse;
    sum_bpp += bpp;
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
      save_checkpoint(run, *model, *opt, aux.get(), st, avg.get());
      last_ckpt = now_s();
    }
  }
  next.wait();
  const bool signalled = g_signal.load() != 0 || stop_signal;
  if (!lead) {
    std::signal(SIGINT, old_int);
    std::signal(SIGTERM, old_term);
    std::fprintf(stderr, "data-parallel rank %d of %d: done at step %lld\n", rank, world, (long long)st.step);
    return st;
  }
  if (g_signal.load() != 0)
    std::fprintf(stderr, "signal %d: saving the checkpoint and stopping\n", g_signal.load());
  else if (signalled)
    std::fprintf(stderr, "another rank was signalled: saving the checkpoint and stopping\n");
  if (!signalled && (cfg.valid_every <= 0 || st.step % cfg.valid_every != 0)) run_validation();
  update_clock();
  save_checkpoint(run, *model, *opt, aux.get(), st, avg.get());
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

TrainState train_run(const TrainConfig& cfg_in, bool resume, const DistOptions& dist_opt) {
  aec::require(!cfg_in.out.empty(), "train: --out RUN_DIR is required");
  // Data-parallel: join the other ranks first (rank 0 hosts the rendezvous and waits for all of them).
  std::unique_ptr<DistGroup> dist;
  if (dist_opt.world_size > 1) dist = std::make_unique<DistGroup>(dist_opt);
  try {
    return train_ranked(cfg_in, resume, dist_opt, dist.get());
  } catch (const std::exception& e) {
    // Rank 0 failed before it handed out the run: the others stop with its message instead of waiting.
    if (dist) dist->publish_failure("config", e.what());
    throw;
  }
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

int run_train(const TrainConfig& cfg, bool resume, const DistOptions& dist) {
  train_run(cfg, resume, dist);
  return 0;
}

}  // namespace aect
