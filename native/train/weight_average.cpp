#include "weight_average.h"

#include <algorithm>
#include <string>

#include "models.h"

namespace aect {

WeightAverage::WeightAverage(CodecImpl& model, double decay) : decay_(decay) {
  if (!enabled()) return;
  for (const torch::Tensor& p : model.parameters()) params_.push_back(p);
  reset();
}

void WeightAverage::reset() {
  torch::NoGradGuard ng;
  avg_.clear();
  for (const torch::Tensor& p : params_) avg_.push_back(p.detach().clone());
  updates_ = 0;
}

void WeightAverage::update() {
  if (!enabled()) return;
  torch::NoGradGuard ng;
  const double d = std::min(decay_, (1.0 + double(updates_)) / (10.0 + double(updates_)));
  // A frozen weight never moves; averaging it anyway would round it away from itself step by step.
  for (size_t i = 0; i < params_.size(); ++i)
    if (params_[i].requires_grad()) avg_[i].mul_(d).add_(params_[i].detach(), 1.0 - d);
  ++updates_;
}

void WeightAverage::swap() {
  if (!enabled()) return;
  torch::NoGradGuard ng;
  for (size_t i = 0; i < params_.size(); ++i) {
    torch::Tensor live = params_[i].detach().clone();
    params_[i].detach().copy_(avg_[i]);
    avg_[i].copy_(live);
  }
}

void WeightAverage::save(torch::serialize::OutputArchive& archive) const {
  if (!enabled()) return;
  torch::serialize::OutputArchive a;
  for (size_t i = 0; i < avg_.size(); ++i) a.write("p" + std::to_string(i), avg_[i], /*is_buffer=*/true);
  a.write("updates", torch::tensor(updates_, torch::kLong));
  archive.write("weight_average", a);
}

bool WeightAverage::load(torch::serialize::InputArchive& archive) {
  if (!enabled()) return false;
  torch::serialize::InputArchive a;
  bool ok = archive.try_read("weight_average", a);
  std::vector<torch::Tensor> got;
  for (size_t i = 0; ok && i < params_.size(); ++i) {
    torch::Tensor t;
    ok = a.try_read("p" + std::to_string(i), t, /*is_buffer=*/true) && t.sizes() == params_[i].sizes();
    if (ok) got.push_back(t.to(params_[i].device(), params_[i].scalar_type()));
  }
  torch::Tensor n;
  ok = ok && a.try_read("updates", n);
  if (!ok) {
    reset();
    return false;
  }
  torch::NoGradGuard ng;
  for (size_t i = 0; i < avg_.size(); ++i) avg_[i].copy_(got[i]);
  updates_ = n.to(torch::kLong).item<int64_t>();
  return true;
}

}  // namespace aect
