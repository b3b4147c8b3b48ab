// Encoder refinement's gradients against LibTorch autograd on a real shipped model: the synthesis transform's
// input gradient (the core's backward pass) and the Gaussian conditional's rate term.
#include <torch/torch.h>

#include <cmath>

#include "aecodec/backprop.h"
#include "aecodec/latent_codec.h"
#include "aecodec/model.h"

// LibTorch's c10 defines a glog-style CHECK (aborts, not a Catch assertion): Catch's must win.
#undef CHECK
#include <catch2/catch.hpp>

namespace {

torch::Tensor from_vec(const std::vector<float>& v, std::vector<int64_t> shape) {
  return torch::from_blob(const_cast<float*>(v.data()), shape, torch::kFloat32).clone().to(torch::kFloat64);
}

// The decoder of the document, in LibTorch (double precision), from the same weights the core reads.
torch::Tensor torch_decoder(const aec::ModelFile& f, const nlohmann::json& layers, torch::Tensor x) {
  for (const auto& j : layers) {
    const std::string op = j["op"], name = j.value("name", "");
    if (op == "conv_transpose2d") {
      const int64_t in = j["in"], out = j["out"], k = j["kernel"];
      const auto w = from_vec(f.floats(name + ".weight", {in, out, k, k}), {in, out, k, k});
      const auto b = from_vec(f.floats(name + ".bias", {out}), {out});
      x = torch::conv_transpose2d(x, w, b, int64_t(j["stride"]), int64_t(j["padding"]),
                                  int64_t(j["output_padding"]));
    } else if (op == "gdn") {
      const int64_t c = j["channels"];
      const auto beta = from_vec(f.floats(name + ".beta", {c}), {c});
      const auto gamma = from_vec(f.floats(name + ".gamma", {c, c}), {c, c, 1, 1});
      const auto norm = torch::sqrt(torch::conv2d(x * x, gamma, beta));
      x = j.value("inverse", false) ? x * norm : x / norm;
    } else {
      FAIL("unexpected op " << op << " in the shipped decoder");
    }
  }
  return x;
}

}  // namespace

TEST_CASE("the synthesis transform's input gradient equals LibTorch autograd on hyperprior-q5") {
  const aec::Model m = aec::Model::load(std::string(AECT_SOURCE_DIR) + "/models/hyperprior-q5.aem");
  const nlohmann::json& layers = m.file().meta["decoder"];
  const int c = m.info().latent_channels, h = 6, w = 9;
  torch::manual_seed(3);
  const torch::Tensor y = torch::randn({1, c, h, w}, torch::kFloat64) * 3.0;
  aec::Tensor yc(c, h, w);
  for (size_t i = 0; i < yc.size(); ++i) yc.data[i] = float(y.data_ptr<double>()[i]);

  aec::GradNetwork net = aec::GradNetwork::build(layers, m.file(), "decoder");
  const aec::Tensor out = net.forward(yc);
  const torch::Tensor wt = torch::randn({1, out.c, out.h, out.w}, torch::kFloat64);
  aec::Tensor wc(out.c, out.h, out.w);
  for (size_t i = 0; i < wc.size(); ++i) wc.data[i] = float(wt.data_ptr<double>()[i]);
  const aec::Tensor g = net.backward(wc);

  torch::Tensor yt = y.clone().requires_grad_(true);
  const torch::Tensor ot = torch_decoder(m.file(), layers, yt);
  REQUIRE(ot.size(1) == out.c);
  REQUIRE(ot.size(2) == out.h);
  REQUIRE(ot.size(3) == out.w);
  (ot * wt).sum().backward();
  const torch::Tensor gt = yt.grad().contiguous();
  double num = 0, den = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    const double r = gt.data_ptr<double>()[i];
    num += (g.data[i] - r) * (g.data[i] - r), den += r * r;
  }
  INFO("relative error " << std::sqrt(num / den));
  CHECK(std::sqrt(num / den) < 1e-4);  // float kernels against double autograd
}

TEST_CASE("the Gaussian conditional's rate gradient equals LibTorch autograd") {
  for (double s : {0.11, 0.7, 3.0, 40.0})
    for (double r : {-7.3, -1.6, -0.49, -0.1, 0.0, 0.2, 0.5, 1.25, 4.0}) {
      torch::Tensor rt = torch::tensor({r}, torch::kFloat64).requires_grad_(true);
      const torch::Tensor a = torch::abs(rt);
      const auto phi = [](const torch::Tensor& x) { return 0.5 * torch::erfc(-x / std::sqrt(2.0)); };
      const torch::Tensor mass = phi((0.5 - a) / s) - phi((-0.5 - a) / s);
      if (mass.item<double>() < 1e-9) continue;  // the floor: no gradient to compare
      const torch::Tensor bits = -torch::log2(mass);
      bits.backward();
      double d = 0;
      const double b = aec::gaussian_rate_bits(r, s, d);
      INFO("r " << r << " s " << s);
      CHECK(b == Approx(bits.item<double>()).epsilon(1e-9).margin(1e-12));
      if (r != 0) CHECK(d == Approx(rt.grad().item<double>()).epsilon(1e-6).margin(1e-9));
    }
}
