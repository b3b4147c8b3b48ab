#include "int_channel.h"

#include <cmath>

#include "aecodec/entropy.h"
#include "aecodec/error.h"
#include "aecodec/gaussian.h"
#include "aecodec/hyperprior.h"
#include "aecodec/ops.h"
#include "gaussian_conditional.h"
#include "int_hyper.h"

namespace aect {

namespace {

aec::IntConv quantize(const ChannelCodecImpl& m, const torch::nn::Sequential& net, int index, bool relu,
                      int in_bits, int out_bits) {
  auto [w, b] = ChannelCodecImpl::conv_weights(net, index);
  aec::ConvShape s;
  s.out = int(w.size(0)), s.in = int(w.size(1)), s.kernel = int(w.size(2)), s.stride = 1,
  s.padding = s.kernel / 2;
  (void)m;
  return aec::quantize_conv(w.data_ptr<float>(), b.data_ptr<float>(), s, false, relu, in_bits, out_bits);
}

torch::Tensor ints_tensor(const std::vector<int32_t>& v) {
  return torch::tensor(std::vector<double>(v.begin(), v.end()), torch::kDouble);
}

// aec::rounding_shift on integer-valued doubles: floor((v + 2^(s-1)) / 2^s).
torch::Tensor rounding_shift(const torch::Tensor& v, int s) {
  return s == 0 ? v : torch::floor((v + std::ldexp(1.0, s - 1)) / std::ldexp(1.0, s));
}

}  // namespace

IntChannelContext IntChannelContext::quantize(const ChannelCodecImpl& m) {
  torch::NoGradGuard ng;
  aec::require(!m.checkerboard(), "export: the checkerboard context (channel-cb) has no integer form");
  const int B = aec::kHyperOutBits, H = aec::kHyperHiddenBits, F = kFeatureBits;
  IntChannelContext r;
  r.embed = aect::quantize(m, m.hyper_embed, 0, true, F, F);
  for (const torch::nn::Sequential& net : m.param_nets)
    r.param.push_back({aect::quantize(m, net, 0, true, F, H), aect::quantize(m, net, 3, false, H, B)});
  return r;
}

ChannelCodecImpl::SlicesOut IntChannelContext::code(ChannelCodecImpl& m, const torch::Tensor& y,
                                                    const torch::Tensor& p_in) const {
  torch::NoGradGuard ng;
  const int M = m.M, B = aec::kHyperOutBits, drop = B - kFeatureBits;
  const double unit = std::ldexp(1.0, -B), feature_unit = std::ldexp(1.0, -kFeatureBits);
  const double sat = std::ldexp(1.0, 31) - 1;
  const std::vector<double> table = aec::default_scale_table();
  const torch::Tensor thr = ints_tensor(aec::scale_thresholds(table, B));
  const torch::Tensor logt = ints_tensor(aec::log_scale_fixed(table, B));
  const torch::Tensor inner = logt.narrow(0, 0, logt.size(0) - 1);
  const torch::Tensor table_t = torch::tensor(table, torch::kDouble).to(torch::kFloat);
  torch::Tensor p = p_in.to(torch::kCPU, torch::kDouble);
  torch::Tensor idx_h = (p.narrow(1, 0, M).unsqueeze(-1) > thr).sum(-1);
  torch::Tensor L = logt.index({idx_h}), mean_h = p.narrow(1, M, M);
  torch::Tensor E =
      int_conv_forward(embed, torch::cat({rounding_shift(L, drop), rounding_shift(mean_h, drop)}, 1));
  torch::Tensor yc = y.to(torch::kCPU, torch::kFloat);

  std::vector<torch::Tensor> decoded{E}, corrected, coded;
  double bits = 0;
  int off = 0;
  for (size_t k = 0; k < m.sizes.size(); ++k) {
    const int c = m.sizes[k];
    torch::Tensor d = int_conv_forward(param[k][1], int_conv_forward(param[k][0], torch::cat(decoded, 1)));
    torch::Tensor mu = (mean_h.narrow(1, off, c) + d.narrow(1, c, c)).clamp(-sat, sat);
    torch::Tensor ls = L.narrow(1, off, c) + d.narrow(1, 0, c);
    torch::Tensor idx = (ls.unsqueeze(-1) > inner).sum(-1);
    // As the codec: round in float32 (half to even), clamped to what the escape carries.
    const double lim = double(aec::kMaxEscape / 2);
    torch::Tensor q = torch::round(yc.narrow(1, off, c) - (mu * unit).to(torch::kFloat)).clamp(-lim, lim);
    bits -=
        torch::log2(gaussian_likelihood(q, torch::zeros_like(q), table_t.index({idx}))).sum().item<double>();
    decoded.push_back(rounding_shift(q.to(torch::kDouble) * std::ldexp(1.0, B) + mu, drop).clamp(-sat, sat));
    torch::Tensor lin = (torch::cat(decoded, 1) * feature_unit).to(y.device(), torch::kFloat);
    torch::Tensor lrp = 0.5 * torch::tanh(m.lrp_nets[k]->forward(lin));
    coded.push_back((q + (mu * unit).to(torch::kFloat)).to(y.device()));
    corrected.push_back(coded.back() + lrp);
    off += c;
  }
  return {torch::cat(corrected, 1), torch::tensor(bits), torch::cat(coded, 1)};
}

nlohmann::json IntChannelContext::put(aec::ModelFile& f, const ChannelCodecImpl& m,
                                      const WeightStorage& storage) const {
  torch::NoGradGuard ng;
  const std::vector<int32_t> logt = aec::log_scale_fixed(aec::default_scale_table(), aec::kHyperOutBits);
  f.put_ints("hyper.context.log_scale", {int64_t(logt.size())}, logt.data());
  nlohmann::json ctx = {{"slices", m.sizes}, {"feature_bits", kFeatureBits}};
  ctx["embed"] = nlohmann::json::array({aec::put_int_conv(f, "hyper.context.embed", embed)});
  ctx["param"] = nlohmann::json::array();
  ctx["lrp"] = nlohmann::json::array();
  for (size_t k = 0; k < param.size(); ++k) {
    const std::string pk = "hyper.context.param." + std::to_string(k);
    ctx["param"].push_back(
        {aec::put_int_conv(f, pk + ".0", param[k][0]), aec::put_int_conv(f, pk + ".1", param[k][1])});
    nlohmann::json lrp = nlohmann::json::array();
    for (int i : {0, 3}) {
      auto [w, b] = ChannelCodecImpl::conv_weights(m.lrp_nets[k], i);
      const std::string name = "hyper.context.lrp." + std::to_string(k) + "." + std::to_string(i);
      put_weights(f, name + ".weight", {w.size(0), w.size(1), w.size(2), w.size(3)}, w.data_ptr<float>(),
                  storage.weights);
      put_weights(f, name + ".bias", {b.size(0)}, b.data_ptr<float>(), storage.weights);
      lrp.push_back({{"op", aec::op::kConv2d},
                     {"name", name},
                     {"in", w.size(1)},
                     {"out", w.size(0)},
                     {"kernel", w.size(2)},
                     {"stride", 1},
                     {"padding", w.size(2) / 2}});
      if (i == 0) lrp.push_back({{"op", aec::op::kRelu}});
    }
    ctx["lrp"].push_back(lrp);
  }
  return ctx;
}

}  // namespace aect
