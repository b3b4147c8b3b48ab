#include "gdn.h"

#include <cmath>

namespace aect {

namespace {

struct LowerBoundFn : torch::autograd::Function<LowerBoundFn> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, torch::Tensor x, double bound) {
    ctx->save_for_backward({x});
    ctx->saved_data["bound"] = bound;
    return x.clamp_min(bound);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad) {
    const torch::Tensor x = ctx->get_saved_variables()[0];
    const double bound = ctx->saved_data["bound"].toDouble();
    const torch::Tensor pass = (x >= bound).logical_or(grad[0] < 0);
    return {pass.to(grad[0].scalar_type()) * grad[0], torch::Tensor()};
  }
};

// CompressAI's NonNegativeParametrizer(minimum, reparam_offset = 2^-18).
constexpr double kPedestal = (1.0 / 262144.0) * (1.0 / 262144.0);
double reparam_bound(double minimum) {
  return std::sqrt(minimum + kPedestal);
}
torch::Tensor reparam_init(const torch::Tensor& x) {
  return torch::sqrt(torch::clamp_min(x + kPedestal, kPedestal));
}
torch::Tensor reparam(const torch::Tensor& x, double minimum) {
  const torch::Tensor b = lower_bound(x, reparam_bound(minimum));
  return b * b - kPedestal;
}

}  // namespace

torch::Tensor lower_bound(const torch::Tensor& x, double bound) {
  return LowerBoundFn::apply(x, bound);
}

GDNImpl::GDNImpl(int channels, bool inverse, double beta_min, double gamma_init)
    : channels_(channels), inverse_(inverse), beta_min_(beta_min) {
  beta_ = register_parameter("beta", reparam_init(torch::ones({channels})));
  gamma_ = register_parameter("gamma", reparam_init(gamma_init * torch::eye(channels)));
}

torch::Tensor GDNImpl::effective_beta() const {
  return reparam(beta_, beta_min_);
}
torch::Tensor GDNImpl::effective_gamma() const {
  return reparam(gamma_, 0.0);
}

void GDNImpl::set_effective(const torch::Tensor& beta, const torch::Tensor& gamma) {
  torch::NoGradGuard ng;
  beta_.copy_(reparam_init(beta.clamp_min(beta_min_)));
  gamma_.copy_(reparam_init(gamma.clamp_min(0)));
}

torch::Tensor GDNImpl::forward(const torch::Tensor& x) {
  const torch::Tensor beta = effective_beta();
  const torch::Tensor gamma = effective_gamma().view({channels_, channels_, 1, 1});
  torch::Tensor norm = torch::conv2d(x * x, gamma.to(x.scalar_type()), beta.to(x.scalar_type()));
  return inverse_ ? x * torch::sqrt(norm) : x * torch::rsqrt(norm);
}

}  // namespace aect
