// `aecodec-train bench`: training-step speed of an architecture, fp32 and bf16 autocast + channels-last.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <vector>

#include <torch/csrc/autograd/profiler_legacy.h>

#include "config.h"
#include "models.h"
#include "train_loop.h"

namespace aect {

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void sync(const torch::Device& d) {
  if (d.is_cuda()) torch::cuda::synchronize();  // declared by CPU-only LibTorch too; only reached on CUDA
}

}  // namespace

int run_bench(const BenchOptions& o) {
  set_threads(o.threads);
  const torch::Device device = pick_device("");
  TrainConfig cfg;
  cfg.arch = o.arch, cfg.N = o.N, cfg.M = o.M;
  default_sizes(cfg.arch, cfg.N, cfg.M);
  torch::manual_seed(1);
  auto probe = make_codec(cfg);
  const int crop = probe->fixed_size() ? probe->fixed_size() : o.crop;
  // Forward multiply-accumulates of every encoder/decoder pass of one image (family: its four decodes and
  // two encodes are approximated by one pass of each member).
  double macs = 0;
  for (Member& m : probe->members()) {
    int c = 3, h = crop, w = crop;
    if (m.role == "medium") h /= 2, w /= 2;
    macs += m.macs(c, h, w);
  }
  const double train_flops = 3.0 * 2.0 * macs * o.batch;  // forward + backward ~ 3x forward
  int64_t params = 0;
  for (const torch::Tensor& p : probe->parameters()) params += p.numel();
  std::printf(
      "bench %s N=%d M=%d batch %d x %dx%d on %s, %d threads: %lld parameters, %.2f GMAC forward per image\n",
      cfg.arch.c_str(), cfg.N, cfg.M, o.batch, crop, crop, device.str().c_str(), torch::get_num_threads(),
      static_cast<long long>(params), macs / 1e9);
  for (int mode = 0; mode < 2; ++mode) {
    const bool bf16 = mode == 1;
    if ((bf16 && !o.bf16) || (!bf16 && !o.fp32)) continue;
    torch::manual_seed(1);
    auto model = make_codec(cfg);
    model->to(device);
    model->train();
    if (bf16)
      for (torch::Tensor& p : model->parameters())
        if (p.dim() == 4) p.set_data(p.data().contiguous(torch::MemoryFormat::ChannelsLast));
    torch::optim::Adam opt(model->main_parameters(), torch::optim::AdamOptions(1e-4));
    torch::Tensor x =
        torch::nn::functional::avg_pool2d(torch::rand({o.batch, 3, crop + 3, crop + 3}),
                                          torch::nn::functional::AvgPool2dFuncOptions(4).stride(1));
    x = x.to(device);
    if (bf16) x = x.contiguous(torch::MemoryFormat::ChannelsLast);
    double total = 0, cpu = 0;
    std::vector<double> times;
    std::unique_ptr<torch::autograd::profiler::RecordProfile> profile;
    for (int i = 0; i < o.warmup + o.steps; ++i) {
      if (i == o.warmup && !o.profile.empty())
        profile = std::make_unique<torch::autograd::profiler::RecordProfile>(
            o.profile + (bf16 ? ".bf16.json" : ".fp32.json"));
      sync(device);
      const double t0 = now_s(), c0 = cpu_seconds();
      opt.zero_grad();
      StepOut out;
      {
        AutocastGuard ac(bf16, device.type());
        out = model->train_step(x, 0, 0.013);
      }
      out.loss.backward();
      opt.step();
      sync(device);
      if (i >= o.warmup) times.push_back(now_s() - t0), total += times.back(), cpu += cpu_seconds() - c0;
    }
    profile.reset();
    const double per = total / o.steps;
    std::sort(times.begin(), times.end());
    const size_t n = times.size();
    const double median = n == 0 ? 0 : n % 2 ? times[n / 2] : 0.5 * (times[n / 2 - 1] + times[n / 2]);
    std::printf("  %-22s %8.1f ms/step (median %.1f)  %10.0f pixels/s  %7.1f GFLOP/s  (%.2f CPU s/step)\n",
                bf16 ? "bf16 + channels-last" : "fp32", per * 1e3, median * 1e3,
                double(o.batch) * crop * crop / per, train_flops / per / 1e9, cpu / o.steps);
  }
  return 0;
}

}  // namespace aect
