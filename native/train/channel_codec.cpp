#include "channel_codec.h"

#include <chrono>
#include <cmath>

#include "aecodec/entropy.h"
#include "aecodec/error.h"
#include "aecodec/gaussian.h"
#include "aecodec/hyperprior.h"
#include "gaussian_conditional.h"
#include "int_channel.h"
#include "sample_noise.h"

namespace aect {

namespace nn = torch::nn;

namespace {

// The slice nets start from scratch while everything else is warm-started, all in one Adam at one learning
// rate. Adam moves each weight by about lr per step whatever its gradient's size, so a layer computed as
// kFresh * conv(x; w / kFresh) is the same function with kFresh times the learning rate: the fresh nets learn
// at 10x the transforms' rate (1e-3 at the recipe's 1e-4), a usual rate for new layers, without a second
// optimizer or parameter group in the checkpoint.
constexpr double kFresh = 10.0;

nn::Conv2d fresh_conv(int in, int out, int kernel, bool zero = false) {
  nn::Conv2d c(nn::Conv2dOptions(in, out, kernel).padding(kernel / 2));
  torch::NoGradGuard ng;
  if (zero) c->weight.zero_(), c->bias.zero_();
  c->weight.div_(kFresh), c->bias.div_(kFresh);
  return c;
}

nn::Functional fresh_gain() {
  return nn::Functional([](torch::Tensor x) { return x * kFresh; });
}

// conv 3x3 -> ReLU -> conv 3x3, the last one zero (the net starts as "no correction").
nn::Sequential small_net(int in, int hidden, int out) {
  return nn::Sequential(fresh_conv(in, hidden, 3), fresh_gain(), nn::ReLU(), fresh_conv(hidden, out, 3, true),
                        fresh_gain());
}

torch::Tensor ste_round(const torch::Tensor& x) {
  return x + (torch::round(x) - x).detach();
}

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

std::vector<int> ChannelCodecImpl::slice_sizes(int M) {
  // ELIC's 16, 16, 32, 64, 192 of 320 flattened a little: with only five slices the last one would otherwise
  // hold most of y and see the least context. Cumulative twelfths 1, 2, 4, 8, 12; empty slices dropped.
  const int cum[] = {1, 2, 4, 8, 12};
  std::vector<int> out;
  int prev = 0;
  for (int c : cum) {
    const int end = int(std::lround(double(M) * c / 12.0));
    if (end > prev) out.push_back(end - prev), prev = end;
  }
  return out;
}

ChannelCodecImpl::ChannelCodecImpl(int N_, int M_, const std::vector<double>& lambdas, bool checkerboard)
    : HyperpriorCodecImpl(N_, M_, lambdas), checkerboard_(checkerboard) {
  sizes = slice_sizes(M);
  // The hyperprior's 2M parameters go through one shared 3x3 conv to E features that every slice net reads:
  // each slice reading all 2M channels itself cost about three times as many multiply-adds (and CPU time
  // per training step) for no more information. E and the hidden width: two thirds of M (64 for M = 96).
  const int E = std::max(8, 2 * M / 3), hidden = E;
  hyper_embed =
      register_module("slice_hyper", nn::Sequential(fresh_conv(2 * M, E, 3), fresh_gain(), nn::ReLU()));
  int off = 0;
  for (size_t k = 0; k < sizes.size(); ++k) {
    const int c = sizes[k];
    const int ctx = checkerboard_ ? 2 * c : 0;
    param_nets.push_back(
        register_module("slice_param_" + std::to_string(k), small_net(E + off + ctx, hidden, 2 * c)));
    lrp_nets.push_back(register_module("slice_lrp_" + std::to_string(k), small_net(E + off + c, hidden, c)));
    if (checkerboard_)
      ctx_convs.push_back(register_module("slice_ctx_" + std::to_string(k),
                                          nn::Sequential(fresh_conv(c, ctx, 5), fresh_gain())));
    off += c;
  }
}

std::pair<torch::Tensor, torch::Tensor> ChannelCodecImpl::slice_params(int k, const torch::Tensor& hyper,
                                                                       const torch::Tensor& prefix,
                                                                       const torch::Tensor& ctx) {
  const int c = sizes[size_t(k)];
  std::vector<torch::Tensor> in{hyper};
  if (prefix.defined()) in.push_back(prefix);
  if (checkerboard_)
    in.push_back(ctx.defined()
                     ? ctx
                     : torch::zeros({hyper.size(0), 2 * c, hyper.size(2), hyper.size(3)}, hyper.options()));
  torch::Tensor d = param_nets[size_t(k)]->forward(torch::cat(in, 1));
  return {d.narrow(1, c, c), d.narrow(1, 0, c)};
}

torch::Tensor ChannelCodecImpl::log_scale_table(torch::Device dev) {
  const std::vector<int32_t> l = aec::log_scale_fixed(aec::default_scale_table(), aec::kHyperOutBits);
  std::vector<double> v;
  for (int32_t x : l) v.push_back(std::ldexp(double(x), -aec::kHyperOutBits));
  return torch::tensor(v, torch::kDouble).to(dev, torch::kFloat);
}

torch::Tensor ChannelCodecImpl::table_index(const torch::Tensor& scales) {
  const std::vector<int32_t> thr = aec::scale_thresholds(aec::default_scale_table(), aec::kHyperOutBits);
  torch::Tensor thr_t =
      torch::tensor(std::vector<double>(thr.begin(), thr.end()), torch::kDouble).to(scales.device());
  // #{i : scale * 2^kHyperOutBits > threshold_i}, as aec::scale_index on the codec's fixed-point scale.
  return (scales.detach().to(torch::kDouble).mul(std::ldexp(1.0, aec::kHyperOutBits)).unsqueeze(-1) > thr_t)
      .sum(-1);
}

ChannelCodecImpl::SlicesOut ChannelCodecImpl::code_slices(const torch::Tensor& y,
                                                          const torch::Tensor& hyper_in, bool training) {
  // The nets see the hyperprior's scales as the log of the table scale they pick (what the codec's integer
  // path has: a table index), with a straight-through gradient to the continuous scales.
  const torch::Tensor log_table = log_scale_table(y.device());
  torch::Tensor s_h = hyper_in.narrow(1, 0, M).clamp_min(1e-2), mu_h = hyper_in.narrow(1, M, M);
  torch::Tensor log_q = log_table.index({table_index(s_h)});
  torch::Tensor log_h = training ? torch::log(s_h) + (log_q - torch::log(s_h)).detach() : log_q;
  torch::Tensor hyper = hyper_embed->forward(torch::cat({log_h, mu_h}, 1));
  torch::Tensor anchor, other;
  if (checkerboard_) {
    torch::Tensor i = torch::arange(y.size(2), y.options()).view({-1, 1});
    torch::Tensor j = torch::arange(y.size(3), y.options()).view({1, -1});
    anchor = ((i + j).remainder(2) == 0).to(y.scalar_type()).view({1, 1, y.size(2), y.size(3)});
    other = 1.0 - anchor;
  }
  const torch::Tensor table_t =
      torch::tensor(aec::default_scale_table(), torch::kDouble).to(y.device(), torch::kFloat);
  const torch::Tensor inner = log_table.narrow(0, 0, log_table.size(0) - 1);
  auto quant = [&](const torch::Tensor& v, const torch::Tensor& mu) {
    return training ? ste_round(v - mu) + mu : torch::round(v - mu) + mu;
  };

  std::vector<torch::Tensor> decoded, corrected;
  torch::Tensor bits = torch::zeros({}, y.options());
  int off = 0;
  for (size_t k = 0; k < sizes.size(); ++k) {
    const int c = sizes[k];
    torch::Tensor yk = y.narrow(1, off, c), mu_k = mu_h.narrow(1, off, c);
    torch::Tensor prefix = decoded.empty() ? torch::Tensor() : torch::cat(decoded, 1);
    torch::Tensor dmu, dlog;
    if (!checkerboard_) {
      std::tie(dmu, dlog) = slice_params(int(k), hyper, prefix, torch::Tensor());
    } else {
      auto [dmu0, dlog0] = slice_params(int(k), hyper, prefix, torch::Tensor());
      torch::Tensor ctx = ctx_convs[k]->forward(quant(yk, mu_k + dmu0) * anchor) * other;
      auto [dmu1, dlog1] = slice_params(int(k), hyper, prefix, ctx);
      dmu = dmu0 * anchor + dmu1 * other;
      dlog = dlog0 * anchor + dlog1 * other;
    }
    torch::Tensor mu = mu_k + dmu, log_s = log_h.narrow(1, off, c) + dlog;
    torch::Tensor yh = quant(yk, mu);
    if (training) {
      torch::Tensor noisy = yk + uniform_noise_like(yk, -0.5, 0.5, yk.scalar_type());
      bits = bits - torch::log2(gaussian_likelihood(noisy, mu, torch::exp(log_s))).sum();
    } else {
      // The codec's table: #{i < 63 : log scale > log table scale i}; a zero correction keeps the
      // hyperprior's table.
      torch::Tensor idx = (log_s.unsqueeze(-1) > inner).sum(-1);
      bits = bits - torch::log2(gaussian_likelihood(yh, mu, table_t.index({idx}))).sum();
    }
    // Later slices see the decoded values before LRP: those are exact integers in the codec, while LRP
    // runs in float and only reaches g_s.
    decoded.push_back(yh);
    std::vector<torch::Tensor> in{hyper};
    if (prefix.defined()) in.push_back(prefix);
    in.push_back(yh);
    corrected.push_back(yh + 0.5 * torch::tanh(lrp_nets[k]->forward(torch::cat(in, 1))));
    off += c;
  }
  return {torch::cat(corrected, 1), bits, torch::cat(decoded, 1)};
}

StepOut ChannelCodecImpl::train_step(const torch::Tensor& x, int quality, double lambda) {
  torch::Tensor y = encode(x, quality).to(torch::kFloat);
  auto rz = eb->forward(h_a->forward(y));
  torch::Tensor params = h_s->forward(rz.y_hat).narrow(2, 0, y.size(2)).narrow(3, 0, y.size(3));
  const SlicesOut s = code_slices(y, params.to(torch::kFloat), true);
  torch::Tensor x_hat = g_s->forward(remove_gain(s.y_hat, quality));
  const double pixels = double(x.size(0)) * x.size(2) * x.size(3);
  StepOut o;
  o.bpp = (s.bits - torch::log2(rz.likelihood).sum()) / pixels;
  o.mse = (x_hat.to(torch::kFloat) - x.to(torch::kFloat)).pow(2).mean();
  o.loss = lambda * 255.0 * 255.0 * o.mse + o.bpp;
  return o;
}

EvalOut ChannelCodecImpl::evaluate(const torch::Tensor& x, int h, int w, int quality) {
  torch::NoGradGuard ng;
  const torch::Device dev = x.device();
  torch::Tensor y = encode(x, quality).to(torch::kFloat);
  const int64_t yh = y.size(2), yw = y.size(3);
  // z around the fixed-point medians and the integer h_s, as HyperpriorCodecImpl::code.
  torch::Tensor z_int = quantize_z(y);
  torch::Tensor z_hat = (z_int / std::ldexp(1.0, aec::kHyperZBits)).to(dev, torch::kFloat);
  const double bits_z = -torch::log2(eb->likelihood(z_hat)).sum().item<double>();
  torch::Tensor p = IntHyperSynthesis::quantize(*h_s).forward(z_int).narrow(2, 0, yh).narrow(3, 0, yw);
  torch::Tensor hyper = (p / std::ldexp(1.0, aec::kHyperOutBits)).to(dev, torch::kFloat);

  // Decode-side cost of the entropy model: the float h_s (what the hyperprior alone runs) and the slices.
  auto t0 = std::chrono::steady_clock::now();
  torch::Tensor unused = h_s->forward(z_hat);
  const double hs_ms = ms_since(t0);
  t0 = std::chrono::steady_clock::now();
  // The codec's own path: the integer slice nets (the checkerboard variant, which has none, in float).
  const SlicesOut s =
      checkerboard_ ? code_slices(y, hyper, false) : IntChannelContext::quantize(*this).code(*this, y, p);
  const double slices_ms = ms_since(t0);
  t0 = std::chrono::steady_clock::now();
  torch::Tensor x_hat = g_s->forward(remove_gain(s.y_hat, quality));
  const double gs_ms = ms_since(t0);

  EvalOut o;
  o.bits = s.bits.item<double>() + bits_z;
  o.sq_err = sq_err_8bit(x_hat, x, h, w);
  o.samples = int64_t(3) * h * w;
  o.psnr["hyper_bpp"] = bits_z / (double(h) * w);
  o.psnr["hs_ms"] = hs_ms;
  o.psnr["gs_ms"] = gs_ms;
  o.psnr["entropy_ms"] = hs_ms + slices_ms;
  return o;
}

std::pair<torch::Tensor, torch::Tensor> ChannelCodecImpl::conv_weights(const torch::nn::Sequential& net,
                                                                       int index) {
  torch::NoGradGuard ng;
  auto* conv = net->ptr(size_t(index))->as<nn::Conv2dImpl>();
  aec::require(conv != nullptr, "channel model: layer " + std::to_string(index) + " is not a conv");
  return {(conv->weight * kFresh).to(torch::kCPU, torch::kFloat).contiguous(),
          (conv->bias * kFresh).to(torch::kCPU, torch::kFloat).contiguous()};
}

int ChannelCodecImpl::load_entropy_networks(const aec::ModelFile& file) {
  int loaded = HyperpriorCodecImpl::load_entropy_networks(file);
  if (checkerboard_ || !file.has("hyper.context.embed.weight")) return loaded;
  torch::NoGradGuard ng;
  // quantize_conv stores weight * 2^f and bias * 2^(in_bits + f), f = shift + out_bits - in_bits, per output
  // channel; the module holds the conv divided by kFresh (fresh_conv).
  auto load_int = [&](const torch::nn::Sequential& net, int index, const std::string& name, int in_bits,
                      int out_bits) {
    auto* conv = net->ptr(size_t(index))->as<nn::Conv2dImpl>();
    const std::vector<int64_t> ws(conv->weight.sizes().begin(), conv->weight.sizes().end());
    const std::vector<int32_t> w = file.ints(name + ".weight", ws);
    const std::vector<int32_t> b = file.ints(name + ".bias", {ws[0]});
    const std::vector<int32_t> shift = file.ints(name + ".shift", {ws[0]});
    const int64_t per_out = ws[1] * ws[2] * ws[3];
    std::vector<float> wf(w.size()), bf(b.size());
    for (size_t k = 0; k < w.size(); ++k)
      wf[k] = float(std::ldexp(double(w[k]), -(shift[size_t(int64_t(k) / per_out)] + out_bits - in_bits)) /
                    kFresh);
    for (size_t o = 0; o < b.size(); ++o)
      bf[o] = float(std::ldexp(double(b[o]), -(shift[o] + out_bits)) / kFresh);
    conv->weight.copy_(torch::from_blob(wf.data(), conv->weight.sizes(), torch::kFloat));
    conv->bias.copy_(torch::from_blob(bf.data(), conv->bias.sizes(), torch::kFloat));
    ++loaded;
  };
  auto load_float = [&](const torch::nn::Sequential& net, int index, const std::string& name) {
    auto* conv = net->ptr(size_t(index))->as<nn::Conv2dImpl>();
    const std::vector<int64_t> ws(conv->weight.sizes().begin(), conv->weight.sizes().end());
    std::vector<float> w = file.floats(name + ".weight", ws), b = file.floats(name + ".bias", {ws[0]});
    for (float& v : w) v = float(v / kFresh);
    for (float& v : b) v = float(v / kFresh);
    conv->weight.copy_(torch::from_blob(w.data(), conv->weight.sizes(), torch::kFloat));
    conv->bias.copy_(torch::from_blob(b.data(), conv->bias.sizes(), torch::kFloat));
    ++loaded;
  };
  const int F = IntChannelContext::kFeatureBits, H = aec::kHyperHiddenBits, B = aec::kHyperOutBits;
  load_int(hyper_embed, 0, "hyper.context.embed", F, F);
  for (size_t k = 0; k < sizes.size(); ++k) {
    const std::string pk = "hyper.context.param." + std::to_string(k);
    load_int(param_nets[k], 0, pk + ".0", F, H);
    load_int(param_nets[k], 3, pk + ".1", H, B);
    for (int i : {0, 3})
      load_float(lrp_nets[k], i, "hyper.context.lrp." + std::to_string(k) + "." + std::to_string(i));
  }
  return loaded;
}

void ChannelCodecImpl::export_entropy(aec::ModelFile& f, nlohmann::json& d, const WeightStorage& storage) {
  HyperpriorCodecImpl::export_entropy(f, d, storage);
  d["entropy"]["kind"] = "channel";
  d["entropy"]["context"] = IntChannelContext::quantize(*this).put(f, *this, storage);
}

}  // namespace aect
