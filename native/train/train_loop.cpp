#include "train_loop.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <limits>
#include <thread>

#include "aecodec/error.h"
#include "aecodec/model_file.h"
#include "aecodec/parallel.h"
#include "distributed.h"
#include "progress_plot.h"
#include "sample_noise.h"
#include "train_state.h"
#include "warm_start.h"
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
  r.dir = run_dir;
  if (fs::exists(run_dir + "/valid.json")) r.valid = read_json(run_dir + "/valid.json");
  return r;
}

namespace {

// One process's part of train_run, in its steps: the run's config, its first weights (resumed, warm-started
// or fresh), then per step the batch, forward and backward (and the ranks' all-reduce), the optimizers, and
// on rank 0 the log, validation and checkpoints. dist: this process's place in a data-parallel run, or null.
// Rank 0 (the lead) resolves the run as a single process does; the others take its config and state.
class Trainer {
 public:
  Trainer(const TrainConfig& cfg_in, bool resume, const DistOptions& dist_opt, DistGroup* dist)
      : cfg_in_(cfg_in),
        resume_(resume),
        dist_opt_(dist_opt),
        dist_(dist),
        lead_(!dist || dist->rank() == 0),
        world_(dist ? dist->world() : 1),
        rank_(dist ? dist->rank() : 0),
        cfg_(cfg_in),
        run_(cfg_in.out),
        have_ckpt_(lead_ && fs::exists(checkpoint_path(run_))) {}

  TrainState run() {
    if (lead_) start_lead();
    if (dist_) share_with_ranks();
    load_data();
    begin_loop();
    model_->train();
    next_ = prefetch(st_.step);
    last_cpu_ = cpu_seconds();
    while (dist_ ? !(steps_done() || stop_time_ || stop_signal_) : !finished() && g_signal.load() == 0) {
      const Step s = step();
      if (!s.ok || (st_.step % 100 == 0 && !all_finite(*model_))) {
        roll_back(s.loss);
        continue;
      }
      if (st_.step % 100 == 0) keep_good_state();
      if (!lead_) continue;  // rank 0 alone logs, validates and checkpoints
      log(s);
      if (cfg_.valid_every > 0 && st_.step % cfg_.valid_every == 0) run_validation();
      if (now_s() - last_ckpt_ >= cfg_.checkpoint_minutes * 60) checkpoint();
    }
    next_.wait();
    return finish();
  }

 private:
  struct Step {
    double loss = 0, mse = 0, bpp = 0, lr = 0, gnorm = 0;
    int quality = 0;
    bool ok = false;
  };

  // This process's model and optimizers for cfg_, with fresh weights from cfg_.seed.
  void build() {
    set_threads(cfg_.threads);
    device_ = pick_device(cfg_.device);
    if (dist_ && device_.is_cuda() && !device_.has_index()) {  // one GPU per rank of a machine
      const int local = dist_opt_.local_rank >= 0 ? dist_opt_.local_rank : rank_;
      device_ = torch::Device(torch::kCUDA,
                              c10::DeviceIndex(local % std::max<int>(1, int(torch::cuda::device_count()))));
    }
    // Training shapes are fixed (one crop size, one batch): let cuDNN time its algorithms once and keep the
    // fastest.
    if (device_.is_cuda()) at::globalContext().setBenchmarkCuDNN(true);
    torch::manual_seed(cfg_.seed);  // initial weights
    model_ = make_codec(cfg_);
    model_->to(device_);
    crop_ = model_->fixed_size()
                ? model_->fixed_size()
                : std::max(model_->stride(), cfg_.crop / model_->stride() * model_->stride());
    opt_ =
        std::make_unique<torch::optim::Adam>(model_->main_parameters(), torch::optim::AdamOptions(cfg_.lr));
    if (model_->rate_distortion() && !model_->aux_parameters().empty())
      aux_ = std::make_unique<torch::optim::Adam>(model_->aux_parameters(),
                                                  torch::optim::AdamOptions(cfg_.aux_lr));
    avg_ = std::make_unique<WeightAverage>(*model_, cfg_.ema);
  }

  // The config: a resumed run's own, except how long to go on, how many threads to use and what the command
  // line may change on resume; else the command line's. Checked either way.
  void resolve_config() {
    if (resume_ && have_ckpt_) {
      nlohmann::json saved = read_json(run_ + "/config.json");
      for (const char* key : {"steps", "minutes", "threads", "checkpoint_minutes", "log_every", "valid_every",
                              "valid_max_images", "valid", "device", "decay_start", "decay_factor", "bf16",
                              "channels_last", "ema", "lr", "gain_prior", "batch", "crop", "data"})
        if (cfg_in_.overrides.contains(key)) saved[key] = cfg_in_.overrides[key];
      cfg_ = saved.get<TrainConfig>();
      cfg_.out = run_;
      if (cfg_in_.steps > 0 || cfg_in_.minutes > 0)
        cfg_.steps = cfg_in_.steps, cfg_.minutes = cfg_in_.minutes;
      if (cfg_in_.threads > 0) cfg_.threads = cfg_in_.threads;
      cfg_.inject_nan_step = cfg_in_.inject_nan_step;
    } else {
      aec::require(!have_ckpt_,
                   "train: " + run_ + " already holds a checkpoint; use --resume or another --out");
    }
    aec::require(!cfg_.data.empty(), "train: --data DIR is required");
    aec::require(cfg_.steps > 0 || cfg_.minutes > 0, "train: give --steps or --minutes");
    aec::require(!cfg_.lambdas.empty(), "train: no lambda");
    for (int q : cfg_.train_qualities)
      aec::require(q >= 1 && q <= cfg_.qualities(), "train: --train-qualities: no quality " +
                                                        std::to_string(q) + " (the run has " +
                                                        std::to_string(cfg_.qualities()) + ")");
    aec::require(cfg_.batch > 0 && cfg_.batch % world_ == 0,
                 "train: --batch " + std::to_string(cfg_.batch) +
                     " is the global batch, split evenly over the " + std::to_string(world_) +
                     " ranks: give a multiple of " + std::to_string(world_));
    default_sizes(cfg_.arch, cfg_.N, cfg_.M);
  }

  // Rank 0: the config, then the weights: the checkpoint's when resuming, else a warm start's (--init) or the
  // seed's; the weight average starts at them.
  void start_lead() {
    resolve_config();
    fs::create_directories(run_);
    build();
    if (resume_ && have_ckpt_) {
      load_checkpoint(run_, *model_, opt_.get(), aux_.get(), st_, avg_.get());
      if (st_.optimizer_restarted && cfg_.warmup_steps <= 0) cfg_.warmup_steps = 200;
      std::fprintf(stderr, "resumed %s at step %lld%s\n", run_.c_str(), (long long)st_.step,
                   !avg_->enabled()      ? ""
                   : avg_->updates() > 0 ? " (with its weight average)"
                                         : " (its weight average starts at these weights)");
    } else {
      if (!cfg_.init.empty() && fs::is_directory(cfg_.init))
        warm_start_from_run(cfg_, *model_, device_);
      else if (!cfg_.init.empty())
        warm_start_from_file(cfg_, *model_);
      avg_->reset();  // from the warm start's weights
    }
    write_json_atomic(run_ + "/config.json", nlohmann::json(cfg_));
  }

  // Every rank trains rank 0's run: its resolved config (through the store), then its whole state in memory
  // (weights, optimizers, counters, moving average: what a checkpoint holds). So a run resumes, or starts
  // warm, whatever the world size, and only rank 0 needs the run directory and --init.
  void share_with_ranks() {
    const std::string shared = dist_->share_text("config", nlohmann::json(cfg_).dump());
    if (!lead_) {
      TrainConfig c = nlohmann::json::parse(shared).get<TrainConfig>();
      // This machine's own threads, device and data folder, where given here.
      if (cfg_in_.threads > 0) c.threads = cfg_in_.threads;
      if (cfg_in_.overrides.contains("device")) c.device = cfg_in_.device;
      if (cfg_in_.overrides.contains("data")) c.data = cfg_in_.data;
      c.inject_nan_step = cfg_in_.inject_nan_step;
      cfg_ = c;
      build();
    }
    dist_->connect(device_);
    std::string state = lead_ ? checkpoint_bytes(*model_, *opt_, aux_.get(), st_, avg_.get()) : std::string();
    dist_->broadcast_bytes(state, "handing out rank 0's training state");
    if (!lead_) restore_checkpoint_bytes(state, *model_, opt_.get(), aux_.get(), st_, avg_.get());
  }

  void load_data() {
    local_batch_ = cfg_.batch / world_, first_sample_ = rank_ * local_batch_;
    if (cfg_.channels_last)
      for (torch::Tensor& p : model_->parameters())
        if (p.dim() == 4) p.set_data(p.data().contiguous(torch::MemoryFormat::ChannelsLast));
    train_set_ = load_images(cfg_.data, cfg_.downscale_prob > 0);
    if (lead_ && !cfg_.valid.empty())
      valid_ = prepare_valid(load_images(cfg_.valid, false), *model_, cfg_.valid_max_images);
    if (lead_)
      std::fprintf(
          stderr,
          "%s: %zu training images (%.1f Mpx), %zu validation images, crop %d, batch %d, %s, %d threads\n",
          cfg_.arch.c_str(), train_set_.images.size(), train_set_.pixels() / 1e6, valid_.images.size(), crop_,
          cfg_.batch, device_.str().c_str(), torch::get_num_threads());
    if (dist_)
      std::fprintf(stderr,
                   "data-parallel rank %d of %d (%s): crops %d-%d of each step's %d, %s, %d threads\n", rank_,
                   world_, dist_->backend().c_str(), first_sample_, first_sample_ + local_batch_ - 1,
                   cfg_.batch, device_.str().c_str(), torch::get_num_threads());
    spec_.batch = cfg_.batch, spec_.crop = crop_, spec_.downscale_prob = cfg_.downscale_prob;
  }

  std::future<std::vector<float>> prefetch(int64_t index) const {
    return std::async(std::launch::async, [this, index] {
      return make_batch(train_set_, spec_, cfg_.seed, index, first_sample_, local_batch_);
    });
  }

  // The signals, clocks and counters of the loop, from the state every rank now holds.
  void begin_loop() {
    g_signal.store(0);
    old_int_ = std::signal(SIGINT, on_signal);
    old_term_ = std::signal(SIGTERM, on_signal);
    wall0_ = now_s(), cpu0_ = cpu_seconds();
    wall_base_ = st_.wall_s, cpu_base_ = st_.cpu_s;
    csv_ = run_ + "/log.csv";
    good_ = checkpoint_bytes(*model_, *opt_, aux_.get(), st_,
                             avg_.get());  // last known-good state (NaN recovery)
    last_ckpt_ = now_s();
    start_step_ = st_.step;
    window_t_ = now_s();
    // Data-parallel: whatever depends on a clock is rank 0's decision, handed out with each step's all-reduce
    // (stop_time_; time_decayed_: --minutes' lr decay), so every rank steps with the same learning rate and
    // stops after the same step, one step after rank 0's clock says so. stop_signal_: some rank got
    // SIGINT/SIGTERM. All start from the state every rank holds.
    stop_time_ = time_up(), stop_signal_ = false, time_decayed_ = time_progress() >= cfg_.decay_start;
  }

  void update_clock() {
    st_.wall_s = wall_base_ + now_s() - wall0_;
    st_.cpu_s = cpu_base_ + cpu_seconds() - cpu0_ + others_cpu_;
  }
  double step_progress() const { return cfg_.steps > 0 ? double(st_.step) / double(cfg_.steps) : 0.0; }
  double time_progress() const { return cfg_.minutes > 0 ? st_.wall_s / (cfg_.minutes * 60) : 0.0; }
  double progress() const { return std::max(step_progress(), time_progress()); }
  bool steps_done() const { return cfg_.steps > 0 && st_.step >= cfg_.steps; }
  bool time_up() const { return cfg_.minutes > 0 && st_.wall_s >= cfg_.minutes * 60; }
  bool finished() const { return steps_done() || time_up(); }
  double lr_now() const {
    double lr = cfg_.lr * st_.lr_scale;
    if (cfg_.warmup_steps > 0 && st_.step - st_.warmup_from < cfg_.warmup_steps)
      lr *= double(st_.step - st_.warmup_from + 1) / double(cfg_.warmup_steps);
    if (dist_ ? step_progress() >= cfg_.decay_start || time_decayed_ : progress() >= cfg_.decay_start)
      lr *= cfg_.decay_factor;
    return lr;
  }

  // One step: the batch, forward and backward, the ranks' all-reduce, the optimizers and the weight average;
  // not ok when the loss or the gradient is not finite (then nothing was applied).
  Step step() {
    Step s;
    std::vector<float> batch = next_.get();
    next_ = prefetch(st_.step + 1);
    if (st_.step == cfg_.inject_nan_step) batch[batch.size() / 2] = std::numeric_limits<float>::quiet_NaN();
    const uint64_t rs = mix(cfg_.seed, uint64_t(st_.step));
    torch::manual_seed(rs);
    const std::vector<int>& pick = cfg_.train_qualities;
    s.quality = pick.empty() ? int(rs % uint64_t(model_->qualities())) : pick[rs % pick.size()] - 1;
    s.lr = lr_now();
    adam_options(*opt_).lr(s.lr);

    torch::Tensor x =
        torch::from_blob(batch.data(), {local_batch_, 3, crop_, crop_}, torch::kFloat).to(device_);
    if (cfg_.channels_last) x = x.contiguous(torch::MemoryFormat::ChannelsLast);
    opt_->zero_grad();
    StepOut out;
    {
      // The step's noise, sample by sample by the sample's index in the global batch (sample_noise.h).
      SampleNoiseScope noise(rs, first_sample_);
      AutocastGuard ac(cfg_.bf16, device_.type());
      out = model_->train_step(x, s.quality, cfg_.lambdas[size_t(s.quality)]);
    }
    s.loss = out.loss.item<double>();
    s.mse = out.mse.item<double>(), s.bpp = out.bpp.defined() ? out.bpp.item<double>() : 0.0;
    s.ok = std::isfinite(s.loss);
    if (dist_) {
      // Every rank takes part in every all-reduce, a non-finite loss included (then all restore together).
      // The step's numbers ride in the float gradients' buffer: the losses (averaged), the stop requests,
      // rank 0's clock's lr decay and each rank's CPU time.
      out.loss.backward();
      const double cpu_now = cpu_seconds(), cpu_step = cpu_now - last_cpu_;
      last_cpu_ = cpu_now;
      if (lead_) update_clock();
      torch::Tensor stats =
          torch::tensor(
              {s.loss, s.mse, s.bpp, g_signal.load() != 0 ? 1.0 : 0.0, lead_ && time_up() ? 1.0 : 0.0,
               lead_ && time_progress() >= cfg_.decay_start ? 1.0 : 0.0, cpu_step},
              torch::kDouble)
              .to(device_, torch::kFloat);
      dist_->average_gradients(model_->main_parameters(), &stats,
                               "the gradient all-reduce of step " + std::to_string(st_.step + 1));
      const std::vector<float> v = to_floats(stats);
      s.loss = v[0] / world_, s.mse = v[1] / world_, s.bpp = v[2] / world_;
      stop_signal_ = stop_signal_ || v[3] > 0;
      stop_time_ = stop_time_ || v[4] > 0;
      time_decayed_ = time_decayed_ || v[5] > 0;
      others_cpu_ += v[6] - cpu_step;
      s.ok = std::isfinite(s.loss);
    } else if (s.ok) {
      out.loss.backward();
    }
    if (s.ok) {
      // Each group clipped to --clip on its own; the norm reported is the whole gradient's.
      double sq = 0;
      for (const std::vector<torch::Tensor>& g : model_->clip_groups()) {
        const double n = torch::nn::utils::clip_grad_norm_(g, cfg_.clip > 0 ? cfg_.clip : 1e30);
        sq += n * n;
      }
      s.gnorm = std::sqrt(sq);
      s.ok = std::isfinite(s.gnorm);
    }
    if (s.ok) {
      opt_->step();
      if (aux_) {
        aux_->zero_grad();
        model_->aux_loss().backward();
        if (dist_)
          dist_->average_gradients(model_->aux_parameters(), nullptr,
                                   "the aux gradient all-reduce of step " + std::to_string(st_.step + 1));
        aux_->step();
      }
      avg_->update();
    }
    ++st_.step;
    st_.images += cfg_.batch;
    return s;
  }

  // Rolls back to the last good state (its step counter aside) and goes on at half the learning rate.
  void roll_back(double loss) {
    TrainState keep = st_;
    restore_checkpoint_bytes(good_, *model_, opt_.get(), aux_.get(), st_, avg_.get());
    st_.step = keep.step, st_.images = keep.images, st_.wall_s = keep.wall_s, st_.cpu_s = keep.cpu_s;
    st_.lr_scale = keep.lr_scale * 0.5;
    st_.nan_events = keep.nan_events + 1;
    if (lead_) {
      std::fprintf(stderr, "step %lld: non-finite %s; restored the last good state, lr scale now %.3g\n",
                   (long long)st_.step, std::isfinite(loss) ? "gradient" : "loss", st_.lr_scale);
      append_line(csv_, "nan," + std::to_string(st_.step) + ",,,,,,,,,", kCsvHeader);
    }
  }

  void keep_good_state() {
    good_ = lead_ ? checkpoint_bytes(*model_, *opt_, aux_.get(), st_, avg_.get()) : std::string();
    if (dist_) {
      // Every rank takes rank 0's state again: replicas that round differently (other CPUs, other thread
      // counts in the gradient norm) cannot drift apart. On one machine they are identical anyway.
      dist_->broadcast_bytes(good_, "re-synchronising the ranks at step " + std::to_string(st_.step));
      if (!lead_) {
        const TrainState keep = st_;
        restore_checkpoint_bytes(good_, *model_, opt_.get(), aux_.get(), st_, avg_.get());
        st_.wall_s = keep.wall_s, st_.cpu_s = keep.cpu_s;
      }
    }
  }

  // Rank 0: the step's numbers into the log window; every log_every steps a line on stderr and in log.csv.
  void log(const Step& s) {
    sum_loss_ += s.loss;
    sum_mse_ += s.mse;
    sum_bpp_ += s.bpp;
    ++sum_n_;
    window_images_ += cfg_.batch;
    if (st_.step % cfg_.log_every != 0 && !finished()) return;
    update_clock();
    const double dt = now_s() - window_t_, ips = window_images_ / std::max(1e-9, dt);
    const double mse = sum_mse_ / sum_n_;
    const double psnr = 10 * std::log10(1.0 / std::max(1e-12, mse));
    double eta = -1;
    const double per_step = (st_.wall_s - wall_base_) / std::max<int64_t>(1, st_.step - start_step_);
    if (cfg_.steps > 0) eta = double(cfg_.steps - st_.step) * per_step;
    if (cfg_.minutes > 0)
      eta = eta < 0 ? cfg_.minutes * 60 - st_.wall_s : std::min(eta, cfg_.minutes * 60 - st_.wall_s);
    std::fprintf(stderr,
                 "step %lld  loss %.4f  bpp %.4f  PSNR %.2f  %.1f img/s  lr %.2g  gnorm %.3g  ETA %s\n",
                 (long long)st_.step, sum_loss_ / sum_n_, sum_bpp_ / sum_n_, psnr, ips, s.lr, s.gnorm,
                 eta_str(eta).c_str());
    append_line(csv_,
                "train," + std::to_string(st_.step) + "," + fmt("%.1f", st_.wall_s) + "," +
                    fmt("%.1f", st_.cpu_s) + "," + fmt("%.3g", s.lr) + "," + fmt("%.5f", sum_loss_ / sum_n_) +
                    "," + fmt("%.5f", sum_bpp_ / sum_n_) + "," + fmt("%.4f", psnr) + "," + fmt("%.2f", ips) +
                    "," + std::to_string(s.quality + 1) + ",",
                kCsvHeader);
    sum_loss_ = sum_bpp_ = sum_mse_ = 0, sum_n_ = 0, window_images_ = 0, window_t_ = now_s();
  }

  // Rank 0: the weight average's scores on the validation images, into valid.json, log.csv and stderr.
  void run_validation() {
    if (valid_.images.empty()) return;
    const double t0 = now_s();
    nlohmann::json v;
    {
      WeightAverage::Applied averaged(*avg_);  // validation scores what export would write
      v = validate(*model_, valid_, device_);
    }
    model_->train();
    update_clock();
    v["step"] = st_.step, v["wall_s"] = st_.wall_s, v["cpu_s"] = st_.cpu_s, v["seconds"] = now_s() - t0;
    write_json_atomic(run_ + "/valid.json", v);
    auto row = [&](const nlohmann::json& r, int q) {
      std::string extra;
      for (auto it = r.begin(); it != r.end(); ++it)
        if (it.value().is_number() && it.key() != "psnr" && it.key() != "bpp" && it.key() != "images" &&
            it.key() != "step" && it.key() != "wall_s" && it.key() != "cpu_s" && it.key() != "seconds")
          extra += (extra.empty() ? "" : ";") + it.key() + "=" + fmt("%.4f", it.value().get<double>());
      append_line(csv_,
                  "valid," + std::to_string(st_.step) + "," + fmt("%.1f", st_.wall_s) + "," +
                      fmt("%.1f", st_.cpu_s) + "," + fmt("%.3g", lr_now()) + ",," +
                      fmt("%.5f", r.value("bpp", 0.0)) + "," + fmt("%.4f", r.value("psnr", 0.0)) + ",," +
                      std::to_string(q) + "," + extra,
                  kCsvHeader);
      std::fprintf(stderr, "valid step %lld q%d: bpp %.4f PSNR %.3f dB %s (cpu %.1f min)\n",
                   (long long)st_.step, q, r.value("bpp", 0.0), r.value("psnr", 0.0), extra.c_str(),
                   st_.cpu_s / 60);
    };
    if (model_->qualities() == 1)
      row(v, 1);
    else
      for (int q = 0; q < model_->qualities(); ++q) row(v["q" + std::to_string(q + 1)], q + 1);
  }

  void checkpoint() {
    update_clock();
    save_checkpoint(run_, *model_, *opt_, aux_.get(), st_, avg_.get());
    last_ckpt_ = now_s();
  }

  // After the last step, or a signal: rank 0 validates (unless it just did), checkpoints and plots.
  TrainState finish() {
    const bool signalled = g_signal.load() != 0 || stop_signal_;
    if (!lead_) {
      std::signal(SIGINT, old_int_);
      std::signal(SIGTERM, old_term_);
      std::fprintf(stderr, "data-parallel rank %d of %d: done at step %lld\n", rank_, world_,
                   (long long)st_.step);
      return st_;
    }
    if (g_signal.load() != 0)
      std::fprintf(stderr, "signal %d: saving the checkpoint and stopping\n", g_signal.load());
    else if (signalled)
      std::fprintf(stderr, "another rank was signalled: saving the checkpoint and stopping\n");
    if (!signalled && (cfg_.valid_every <= 0 || st_.step % cfg_.valid_every != 0)) run_validation();
    update_clock();
    save_checkpoint(run_, *model_, *opt_, aux_.get(), st_, avg_.get());
    std::signal(SIGINT, old_int_);
    std::signal(SIGTERM, old_term_);
    std::fprintf(stderr, "saved %s at step %lld (%.1f CPU min)\n", checkpoint_path(run_).c_str(),
                 (long long)st_.step, st_.cpu_s / 60);
    try {
      for (const std::string& p : write_progress_plots(run_)) std::fprintf(stderr, "plotted %s\n", p.c_str());
    } catch (const std::exception& e) {  // a picture is not worth failing a finished run for
      std::fprintf(stderr, "warning: no progress plots: %s\n", e.what());
    }
    return st_;
  }

  const TrainConfig& cfg_in_;
  const bool resume_;
  const DistOptions& dist_opt_;
  DistGroup* const dist_;
  const bool lead_;
  const int world_, rank_;
  TrainConfig cfg_;
  const std::string run_;
  const bool have_ckpt_;

  std::shared_ptr<CodecImpl> model_;
  std::unique_ptr<torch::optim::Adam> opt_, aux_;
  std::unique_ptr<WeightAverage> avg_;
  TrainState st_;
  torch::Device device_ = torch::kCPU;
  int crop_ = 0;

  int local_batch_ = 0, first_sample_ = 0;
  ImageSet train_set_;
  ValidSet valid_;
  BatchSpec spec_;
  std::future<std::vector<float>> next_;

  void (*old_int_)(int) = nullptr;
  void (*old_term_)(int) = nullptr;
  double wall0_ = 0, cpu0_ = 0, wall_base_ = 0, cpu_base_ = 0;
  double others_cpu_ = 0;  // data-parallel: the other ranks' CPU time, which rank 0's cpu_s includes
  double last_cpu_ = 0;
  std::string csv_;
  std::string good_;
  double last_ckpt_ = 0;
  int64_t start_step_ = 0;
  double window_t_ = 0;
  int64_t window_images_ = 0;
  double sum_loss_ = 0, sum_bpp_ = 0, sum_mse_ = 0;
  int sum_n_ = 0;
  bool stop_time_ = false, stop_signal_ = false, time_decayed_ = false;
};

}  // namespace

TrainState train_run(const TrainConfig& cfg_in, bool resume, const DistOptions& dist_opt) {
  aec::require(!cfg_in.out.empty(), "train: --out RUN_DIR is required");
  // Data-parallel: join the other ranks first (rank 0 hosts the rendezvous and waits for all of them).
  std::unique_ptr<DistGroup> dist;
  if (dist_opt.world_size > 1) dist = std::make_unique<DistGroup>(dist_opt);
  try {
    return Trainer(cfg_in, resume, dist_opt, dist.get()).run();
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
