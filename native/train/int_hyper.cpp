#include "int_hyper.h"

#include <algorithm>
#include <cmath>

#include "aecodec/error.h"
#include "aecodec/ops.h"

namespace aect {

IntHyperSynthesis IntHyperSynthesis::quantize(const LayerStackImpl& h_s) {
  // The stack's own export gives the float layers in the model file's terms (weights in PyTorch layout).
  aec::ModelFile scratch;
  nlohmann::json list = nlohmann::json::array();
  h_s.export_to(scratch, list);
  IntHyperSynthesis r;
  int in_bits = aec::kHyperZBits;
  for (size_t i = 0; i < list.size(); ++i) {
    const nlohmann::json& l = list[i];
    const std::string op = l.at("op").get<std::string>();
    if (op == aec::op::kRelu) continue;
    aec::require(
        op == aec::op::kConv2d || op == aec::op::kConvTranspose2d,
        "integer hyper-synthesis: op '" + op + "' has no integer form (conv, transposed conv, relu)");
    const bool tr = op == aec::op::kConvTranspose2d;
    aec::ConvShape s;
    s.in = l.at("in"), s.out = l.at("out"), s.kernel = l.at("kernel"), s.stride = l.at("stride"),
    s.padding = l.at("padding"), s.output_padding = tr ? l.at("output_padding").get<int>() : 0;
    const bool relu = i + 1 < list.size() && list[i + 1].at("op") == aec::op::kRelu;
    const bool last = [&] {
      for (size_t j = i + 1; j < list.size(); ++j)
        if (list[j].at("op") != aec::op::kRelu) return false;
      return true;
    }();
    const int out_bits = last ? aec::kHyperOutBits : aec::kHyperHiddenBits;
    const int64_t k = s.kernel;
    const std::string name = l.at("name");
    const std::vector<float> w =
        scratch.floats(name + ".weight", tr ? std::vector<int64_t>{s.in, s.out, k, k}
                                            : std::vector<int64_t>{s.out, s.in, k, k});
    const std::vector<float> b = scratch.floats(name + ".bias", {s.out});
    r.layers.push_back(aec::quantize_conv(w.data(), b.data(), s, tr, relu, in_bits, out_bits));
    in_bits = out_bits;
  }
  aec::require(!r.layers.empty(), "integer hyper-synthesis: no layers");
  return r;
}

torch::Tensor int_conv_forward(const aec::IntConv& l, const torch::Tensor& x_in) {
  namespace F = torch::nn::functional;
  const auto opt = torch::TensorOptions().dtype(torch::kDouble);
  torch::Tensor x = x_in.to(torch::kCPU, torch::kDouble);
  const double kSat = std::ldexp(1.0, 31) - 1;
  const aec::ConvShape& s = l.shape;
  std::vector<int64_t> wshape = l.transposed ? std::vector<int64_t>{s.in, s.out, s.kernel, s.kernel}
                                             : std::vector<int64_t>{s.out, s.in, s.kernel, s.kernel};
  std::vector<double> wd(l.weight.begin(), l.weight.end());
  torch::Tensor w = torch::from_blob(wd.data(), wshape, opt).clone();
  torch::Tensor b = torch::tensor(std::vector<double>(l.bias.begin(), l.bias.end()), opt);
  // Exactness: |partial sums| <= max|x| * max over outputs of sum|w| + |b| + the rounding term must stay
  // below 2^53.
  const int64_t out_dim = l.transposed ? 1 : 0;
  torch::Tensor wsum = w.abs().transpose(0, out_dim).reshape({s.out, -1}).sum(1);
  const double bound =
      x.abs().max().item<double>() * wsum.max().item<double>() + b.abs().max().item<double>();
  aec::require(bound < std::ldexp(1.0, 51), "integer network reference: sums could exceed 2^51");
  torch::Tensor acc =
      l.transposed ? F::conv_transpose2d(
                         x, w,
                         F::ConvTranspose2dFuncOptions().stride(s.stride).padding(s.padding).output_padding(
                             s.output_padding))
                   : F::conv2d(x, w, F::Conv2dFuncOptions().stride(s.stride).padding(s.padding));
  acc = acc + b.view({1, -1, 1, 1});
  std::vector<double> pow2(size_t(s.out)), half(size_t(s.out));
  for (int o = 0; o < s.out; ++o) {
    // |acc| < 2^51 rounds to 0 at every shift from 52 up, as at 52, where acc + 2^51 is still exact.
    const int sh = std::min(l.shift[size_t(o)], 52);
    pow2[size_t(o)] = std::ldexp(1.0, sh);
    half[size_t(o)] = sh > 0 ? std::ldexp(1.0, sh - 1) : 0.0;
  }
  // floor((acc + 2^(s-1)) / 2^s): the sum is an exact integer below 2^53 and the division a power of two.
  x = torch::floor((acc + torch::tensor(half, opt).view({1, -1, 1, 1})) /
                   torch::tensor(pow2, opt).view({1, -1, 1, 1}));
  if (l.relu) x = x.clamp_min(0);
  return x.clamp(-kSat, kSat);
}

torch::Tensor IntHyperSynthesis::forward(const torch::Tensor& z_int) const {
  torch::Tensor x = z_int.to(torch::kCPU, torch::kDouble);
  for (const aec::IntConv& l : layers) x = int_conv_forward(l, x);
  return x;
}

nlohmann::json IntHyperSynthesis::put(aec::ModelFile& file) const {
  nlohmann::json list = nlohmann::json::array();
  for (size_t i = 0; i < layers.size(); ++i)
    list.push_back(aec::put_int_conv(file, "hyper.h_s." + std::to_string(i), layers[i]));
  return list;
}

}  // namespace aect
