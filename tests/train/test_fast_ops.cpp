// The trainer's faster replacements of LibTorch ops compute the same function and gradients as the ops they
// replace (to float rounding).

#include "conv_transpose.h"
#include "entropy_bottleneck.h"
#include "torch_util.h"

// LibTorch's c10 defines a glog-style CHECK (aborts, not a Catch assertion): Catch's must win.
#undef CHECK
#include <catch2/catch.hpp>

using namespace aect;

namespace {

double rel_err(const torch::Tensor& a, const torch::Tensor& b) {
  const torch::Tensor x = a.to(torch::kDouble), y = b.to(torch::kDouble);
  return (x - y).abs().max().item<double>() / std::max(1e-30, y.abs().max().item<double>());
}

struct Grads {
  torch::Tensor y, gx, gw, gb;
};

template <class F>
Grads run(F conv, const torch::Tensor& x0, const torch::Tensor& w0, const torch::Tensor& b0,
          const torch::Tensor& gy) {
  torch::Tensor x = x0.detach().clone().requires_grad_(true);
  torch::Tensor w = w0.detach().clone().requires_grad_(true);
  torch::Tensor b = b0.detach().clone().requires_grad_(true);
  Grads g;
  g.y = conv(x, w, b);
  (g.y * gy).sum().backward();
  g.gx = x.grad(), g.gw = w.grad(), g.gb = b.grad();
  return g;
}

}  // namespace

TEST_CASE("conv_transpose2d_fast: the transposed convolution and its gradients", "[train][fast_ops]") {
  torch::manual_seed(3);
  struct Case {
    int in, out, size;
    torch::ScalarType type;
    bool channels_last;
    double tolerance;
  };
  const Case cases[] = {
      {24, 20, 6, torch::kDouble, false, 1e-12},  // the reference kernels: the algebra only
      {24, 20, 6, torch::kFloat, false, 1e-5},    // oneDNN
      {24, 20, 6, torch::kFloat, true, 1e-5},     // oneDNN, channels-last
      {24, 3, 6, torch::kFloat, false, 1e-5},     // few output channels: the fallback's forward
      {24, 3, 6, torch::kFloat, true, 1e-5},
  };
  for (const Case& c : cases) {
    INFO("in " << c.in << " out " << c.out << " " << c10::toString(c.type) << (c.channels_last ? " CL" : ""));
    const auto opt = torch::TensorOptions().dtype(c.type);
    const auto fmt = c.channels_last ? torch::MemoryFormat::ChannelsLast : torch::MemoryFormat::Contiguous;
    torch::Tensor x = torch::randn({3, c.in, c.size, c.size + 1}, opt).contiguous(fmt);
    torch::Tensor w = (0.1 * torch::randn({c.in, c.out, 5, 5}, opt)).contiguous(fmt);
    torch::Tensor b = torch::randn({c.out}, opt);
    torch::Tensor gy = torch::randn({3, c.out, 2 * c.size, 2 * c.size + 2}, opt);
    const Grads ref =
        run([](auto x, auto w, auto b) { return torch::conv_transpose2d(x, w, b, 2, 2, 1); }, x, w, b, gy);
    const Grads got =
        run([](auto x, auto w, auto b) { return conv_transpose2d_fast(x, w, b, 2, 2, 1); }, x, w, b, gy);
    REQUIRE(got.y.sizes() == ref.y.sizes());
    CHECK(got.y.scalar_type() == c.type);
    CHECK(rel_err(got.y, ref.y) < c.tolerance);
    CHECK(rel_err(got.gx, ref.gx) < c.tolerance);
    CHECK(rel_err(got.gw, ref.gw) < c.tolerance);
    CHECK(rel_err(got.gb, ref.gb) < c.tolerance);
  }
}

TEST_CASE("conv_transpose2d_fast under bf16 autocast computes in float32, gradients in the inputs' types",
          "[train][fast_ops]") {
  torch::manual_seed(4);
  torch::Tensor x = torch::randn({2, 16, 4, 4}).to(torch::kBFloat16).requires_grad_(true);
  torch::Tensor w = (0.1 * torch::randn({16, 32, 5, 5})).requires_grad_(true);
  torch::Tensor b = torch::randn({32}).requires_grad_(true);
  torch::Tensor y;
  {
    AutocastGuard ac(true, torch::kCPU);
    y = conv_transpose2d_fast(x, w, b, 2, 2, 1);
  }
  CHECK(y.scalar_type() == torch::kFloat);
  const torch::Tensor ref =
      torch::conv_transpose2d(x.detach().to(torch::kFloat), w.detach(), b.detach(), 2, 2, 1);
  CHECK(rel_err(y.detach(), ref) < 1e-5);
  y.sum().backward();
  CHECK(x.grad().scalar_type() == torch::kBFloat16);
  CHECK(w.grad().scalar_type() == torch::kFloat);
  CHECK(b.grad().scalar_type() == torch::kFloat);
}

TEST_CASE("the entropy bottleneck's likelihood and gradients match the batched-matmul formulation",
          "[train][fast_ops]") {
  torch::manual_seed(5);
  EntropyBottleneck eb(6);
  {
    torch::NoGradGuard ng;  // away from the initial values, so every term matters
    for (auto& p : eb->named_parameters())
      if (p.key() != "quantiles") p.value().add_(0.3 * torch::randn_like(p.value()));
  }
  torch::Tensor y = (4 * torch::randn({2, 6, 3, 5})).requires_grad_(true);
  // CompressAI's _logits_cumulative, with torch::matmul.
  auto param = [&](const std::string& name) { return eb->named_parameters()[name]; };
  auto reference = [&](const torch::Tensor& yy) {
    torch::Tensor v = yy.transpose(0, 1).reshape({6, 1, -1});
    auto logits = [&](torch::Tensor l) {
      for (int i = 0; i < 4; ++i) {
        const std::string k = std::to_string(i);
        l = torch::matmul(torch::softplus(param("matrix" + k)), l) + param("bias" + k);
        if (i < 3) l = l + torch::tanh(param("factor" + k)) * torch::tanh(l);
      }
      return l;
    };
    torch::Tensor lower = logits(v - 0.5), upper = logits(v + 0.5);
    torch::Tensor sign = -torch::sign(lower + upper).detach();
    torch::Tensor lik = torch::abs(torch::sigmoid(sign * upper) - torch::sigmoid(sign * lower));
    return lower_bound(lik, 1e-9).reshape({6, 2, 3, 5}).transpose(0, 1);
  };
  auto grads = [&](const torch::Tensor& lik) {
    eb->zero_grad();
    y.mutable_grad() = torch::Tensor();
    torch::log2(lik).sum().backward();
    std::vector<torch::Tensor> g{y.grad().clone()};
    for (auto& p : eb->named_parameters())
      if (p.key() != "quantiles") g.push_back(p.value().grad().clone());
    return g;
  };
  const torch::Tensor ref = reference(y), got = eb->likelihood(y);
  CHECK(rel_err(got.detach(), ref.detach()) < 1e-5);  // float rounding: a difference of two sigmoids
  const auto g_ref = grads(ref), g_got = grads(eb->likelihood(y));
  REQUIRE(g_ref.size() == g_got.size());
  for (size_t i = 0; i < g_ref.size(); ++i) {
    INFO("gradient " << i);
    CHECK(rel_err(g_got[i], g_ref[i]) < 1e-5);
  }
}
