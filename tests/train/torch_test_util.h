// Shared by the trainer tests that compare LibTorch with the core: tensor conversions and differences.
// (test_util.h stays free of LibTorch.)
#pragma once
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include <torch/torch.h>

#include "aecodec/model_file.h"
#include "aecodec/tensor.h"

namespace aect_test {

inline torch::Tensor to_torch(const aec::Tensor& t) {
  return torch::from_blob(const_cast<float*>(t.data.data()), {1, t.c, t.h, t.w}, torch::kFloat).clone();
}

inline aec::Tensor to_core(const torch::Tensor& x) {
  torch::Tensor c = x.detach().to(torch::kFloat).contiguous();
  aec::Tensor t(int(c.size(1)), int(c.size(2)), int(c.size(3)));
  std::copy(c.data_ptr<float>(), c.data_ptr<float>() + c.numel(), t.data.begin());
  return t;
}

// Largest |a - b|. Different shapes throw, which fails the calling test case (Catch is included after the
// LibTorch headers in each test file, so not here).
inline double max_abs(const torch::Tensor& a, const torch::Tensor& b) {
  if (a.sizes() != b.sizes()) throw std::runtime_error("max_abs: tensors of different shapes");
  return (a.to(torch::kFloat) - b.to(torch::kFloat)).abs().max().item<double>();
}

// Largest |difference| over the float tensors of `a` whose names start with `prefix`, read from both model
// files (b must hold each of them with the same shape); `compared` counts them.
inline double max_weight_diff(const aec::ModelFile& a, const aec::ModelFile& b, const std::string& prefix,
                              int* compared = nullptr) {
  double worst = 0;
  for (const auto& kv : a.tensors) {
    if (kv.first.rfind(prefix, 0) != 0) continue;
    const std::vector<float> va = a.floats(kv.first, kv.second.shape),
                             vb = b.floats(kv.first, kv.second.shape);
    for (size_t i = 0; i < va.size(); ++i) worst = std::max(worst, double(std::abs(va[i] - vb[i])));
    if (compared) ++*compared;
  }
  return worst;
}

// A hyperprior after a few training steps has h_s's scales tiny, so most symbols would be escapes, which the
// codec and the trainer's likelihood count differently: scales up into the table, means near zero.
template <class HyperpriorModel>
void scales_into_table(HyperpriorModel& model) {
  torch::NoGradGuard ng;
  const auto p = model.h_s->parameters();
  torch::Tensor last_w = p[p.size() - 2], last_b = p.back();
  last_b.narrow(0, 0, model.M).add_(4.0);
  last_w.narrow(0, model.M, model.M).mul_(0.05);
  last_b.narrow(0, model.M, model.M).zero_();
}

}  // namespace aect_test
