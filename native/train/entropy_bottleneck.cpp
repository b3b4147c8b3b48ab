#include "entropy_bottleneck.h"

#include <cmath>

#include "sample_noise.h"

namespace aect {

namespace {

// Per channel c: m[c] [fo, fi] times x[c] [fi, K], as fi broadcast multiply-adds. torch::matmul would run
// one tiny GEMM per channel (with a select and a kernel call each, forward and backward): several times
// slower for these 3x3 matrices.
torch::Tensor channel_matmul(const torch::Tensor& m, const torch::Tensor& x) {
  torch::Tensor out = m.narrow(2, 0, 1) * x.narrow(1, 0, 1);
  for (int64_t j = 1; j < m.size(2); ++j) out = torch::addcmul(out, m.narrow(2, j, 1), x.narrow(1, j, 1));
  return out;
}

}  // namespace

EntropyBottleneckImpl::EntropyBottleneckImpl(int channels, double init_scale, double tail_mass)
    : channels_(channels), tail_mass_(tail_mass) {
  const std::vector<int> filters{1, 3, 3, 3, 1};
  const double scale = std::pow(init_scale, 1.0 / double(filters.size() - 1));
  for (size_t i = 0; i + 1 < filters.size(); ++i) {
    const double init = std::log(std::expm1(1.0 / scale / filters[i + 1]));
    matrices_.push_back(register_parameter("matrix" + std::to_string(i),
                                           torch::full({channels, filters[i + 1], filters[i]}, init)));
    biases_.push_back(
        register_parameter("bias" + std::to_string(i), torch::rand({channels, filters[i + 1], 1}) - 0.5));
    if (i + 2 < filters.size())
      factors_.push_back(
          register_parameter("factor" + std::to_string(i), torch::zeros({channels, filters[i + 1], 1})));
  }
  quantiles_ = register_parameter(
      "quantiles", torch::tensor({-init_scale, 0.0, init_scale}, torch::kFloat).repeat({channels, 1, 1}));
}

torch::Tensor EntropyBottleneckImpl::logits_cumulative(const torch::Tensor& x, bool stop_gradient) {
  torch::Tensor logits = x;
  for (size_t i = 0; i < matrices_.size(); ++i) {
    torch::Tensor m = torch::softplus(stop_gradient ? matrices_[i].detach() : matrices_[i]);
    logits = channel_matmul(m, logits);
    logits = logits + (stop_gradient ? biases_[i].detach() : biases_[i]);
    if (i < factors_.size()) {
      torch::Tensor f = torch::tanh(stop_gradient ? factors_[i].detach() : factors_[i]);
      logits = logits + f * torch::tanh(logits);
    }
  }
  return logits;
}

torch::Tensor EntropyBottleneckImpl::medians() const {
  return quantiles_.select(2, 1).view({channels_});
}

namespace {

// The scale as [C, 1, 1] float, bounded away from zero (a gain learned down to ~0 would divide by it).
torch::Tensor channel_scale(const torch::Tensor& scale, int channels) {
  return lower_bound(scale.to(torch::kFloat).view({channels, 1, 1}), 1e-3);
}

}  // namespace

torch::Tensor EntropyBottleneckImpl::likelihood(const torch::Tensor& y_hat, const torch::Tensor& scale) {
  // [B, C, H, W] -> [C, 1, B*H*W]
  const auto sizes = y_hat.sizes();
  torch::Tensor v = y_hat.to(torch::kFloat).transpose(0, 1).reshape({channels_, 1, -1});
  const int64_t n = v.size(2);
  // Both edges of each bin through the small networks at once: half the op calls.
  torch::Tensor edges = torch::cat({v - 0.5, v + 0.5}, 2);
  if (scale.defined()) edges = edges / channel_scale(scale, channels_);
  torch::Tensor both = logits_cumulative(edges, false);
  torch::Tensor lower = both.narrow(2, 0, n), upper = both.narrow(2, n, n);
  torch::Tensor sign = -torch::sign(lower + upper).detach();
  torch::Tensor lik = torch::abs(torch::sigmoid(sign * upper) - torch::sigmoid(sign * lower));
  lik = lower_bound(lik, 1e-9);
  return lik.reshape({channels_, sizes[0], sizes[2], sizes[3]}).transpose(0, 1);
}

EntropyBottleneckImpl::Result EntropyBottleneckImpl::forward(const torch::Tensor& y_in,
                                                             const torch::Tensor& scale) {
  AutocastGuard off(false, y_in.device().type());
  torch::Tensor y = y_in.to(torch::kFloat);
  Result r;
  if (is_training()) {
    r.y_hat = y + uniform_noise_like(y, -0.5, 0.5, y.scalar_type());
  } else {
    torch::Tensor med = medians().detach().view({1, channels_, 1, 1});
    if (scale.defined()) med = med * channel_scale(scale.detach(), channels_).view({1, channels_, 1, 1});
    r.y_hat = torch::round(y - med) + med;
  }
  r.likelihood = likelihood(r.y_hat, scale);
  return r;
}

torch::Tensor EntropyBottleneckImpl::aux_loss() {
  const double t = std::log(2.0 / tail_mass_ - 1.0);
  torch::Tensor target = torch::tensor({-t, 0.0, t}, quantiles_.options());
  torch::Tensor logits = logits_cumulative(quantiles_, true);
  return torch::abs(logits - target).sum();
}

std::vector<torch::Tensor> EntropyBottleneckImpl::main_parameters() {
  std::vector<torch::Tensor> p;
  for (auto& t : matrices_) p.push_back(t);
  for (auto& t : biases_) p.push_back(t);
  for (auto& t : factors_) p.push_back(t);
  return p;
}

EntropyTables EntropyBottleneckImpl::tabulate(const torch::Tensor& scale) {
  torch::NoGradGuard ng;
  AutocastGuard off(false, quantiles_.device().type());
  torch::Tensor q = quantiles_.detach().to(torch::kCPU).view({channels_, 3});
  // In the coded domain: the quantiles times the scale, the density's edges divided by it.
  const torch::Tensor s = scale.defined() ? channel_scale(scale.detach(), channels_).to(torch::kCPU)
                                          : torch::ones({channels_, 1, 1});
  q = q * s.view({channels_, 1});
  torch::Tensor med = q.select(1, 1);
  torch::Tensor minima = torch::ceil(med - q.select(1, 0)).clamp_min(0).to(torch::kLong);
  torch::Tensor maxima = torch::ceil(q.select(1, 2) - med).clamp_min(0).to(torch::kLong);
  torch::Tensor length = maxima + minima + 1;
  const int64_t max_length = length.max().item<int64_t>();
  torch::Tensor start = med - minima.to(torch::kFloat);  // pmf_start
  torch::Tensor samples = torch::arange(max_length, torch::kFloat).view({1, -1}) + start.view({-1, 1});
  samples = samples.view({channels_, 1, max_length});
  const torch::Tensor dev_s = s.to(quantiles_.device());
  torch::Tensor lower = logits_cumulative((samples - 0.5).to(quantiles_.device()) / dev_s, true);
  torch::Tensor upper = logits_cumulative((samples + 0.5).to(quantiles_.device()) / dev_s, true);
  torch::Tensor sign = -torch::sign(lower + upper);
  torch::Tensor pmf =
      torch::abs(torch::sigmoid(sign * upper) - torch::sigmoid(sign * lower)).view({channels_, -1});
  // CompressAI's tail mass: below the first sample's lower edge plus above the last sample's upper edge.
  torch::Tensor lower0 = lower.select(2, 0).view({channels_});
  torch::Tensor upper_all = upper.view({channels_, max_length});
  pmf = pmf.to(torch::kCPU, torch::kDouble);
  lower0 = lower0.to(torch::kCPU, torch::kDouble);
  upper_all = upper_all.to(torch::kCPU, torch::kDouble);

  pmf = pmf.contiguous();
  upper_all = upper_all.contiguous();
  const auto pa = pmf.accessor<double, 2>();
  const auto ua = upper_all.accessor<double, 2>();
  const auto la = lower0.accessor<double, 1>();
  const auto len = length.accessor<int64_t, 1>();
  const auto mins = minima.accessor<int64_t, 1>();
  EntropyTables t;
  for (int c = 0; c < channels_; ++c) {
    const int64_t n = len[c];
    std::vector<double> p(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) p[size_t(i)] = pa[c][i];
    const double tail = 1.0 / (1.0 + std::exp(-la[c])) + 1.0 / (1.0 + std::exp(ua[c][n - 1]));
    t.pmf.push_back(std::move(p));
    t.tail.push_back(tail);
    t.offset.push_back(-int(mins[c]));
  }
  t.median = to_floats(med);
  return t;
}

}  // namespace aect
