// Small LibTorch helpers shared by the trainer's files: the bound-with-gradient op, autocast switches that
// compile against LibTorch 1.13 and 2.x, process CPU time, and the device choice.
#pragma once
#include <torch/torch.h>

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include <ctime>
#include <string>

namespace aect {

// max(x, bound) whose gradient passes where x >= bound or where it pushes x upwards (CompressAI's
// LowerBound).
torch::Tensor lower_bound(const torch::Tensor& x, double bound);

inline double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

inline torch::Device pick_device(const std::string& wanted) {
  if (!wanted.empty()) return torch::Device(wanted);
  return torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
}

// bf16 autocast (CPU with AVX512-BF16 or AMX; CUDA: bf16 too, so no loss scaling is needed) for the duration
// of a scope; a disabled guard only restores the previous state.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define AECT_NEW_AUTOCAST_API 1
#endif

class AutocastGuard {
 public:
  AutocastGuard(bool enable, torch::DeviceType type) : type_(type) {
#ifdef AECT_NEW_AUTOCAST_API
    prev_ = at::autocast::is_autocast_enabled(type_);
    if (enable) at::autocast::set_autocast_dtype(type_, at::kBFloat16);
    at::autocast::set_autocast_enabled(type_, enable);
#else
    if (type_ == torch::kCUDA) {
      prev_ = at::autocast::is_enabled();
      if (enable) at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
      at::autocast::set_enabled(enable);
    } else {
      prev_ = at::autocast::is_cpu_enabled();
      if (enable) at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
      at::autocast::set_cpu_enabled(enable);
    }
#endif
  }
  ~AutocastGuard() {
#ifdef AECT_NEW_AUTOCAST_API
    at::autocast::set_autocast_enabled(type_, prev_);
#else
    if (type_ == torch::kCUDA)
      at::autocast::set_enabled(prev_);
    else
      at::autocast::set_cpu_enabled(prev_);
#endif
    at::autocast::clear_cache();
  }
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  torch::DeviceType type_;
  bool prev_ = false;
};

// Copies a float tensor (any device/dtype) into a contiguous CPU float vector.
inline std::vector<float> to_floats(const torch::Tensor& t) {
  torch::Tensor c = t.detach().to(torch::kCPU, torch::kFloat).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

}  // namespace aect
