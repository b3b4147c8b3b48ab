#include "hyperprior_codec.h"

#include <cmath>

#include "aecodec/entropy.h"
#include "aecodec/gaussian.h"
#include "aecodec/model.h"
#include "gaussian_conditional.h"
#include "sample_noise.h"

namespace aect {

HyperpriorCodecImpl::HyperpriorCodecImpl(int N_, int M_, const std::vector<double>& lambdas) : N(N_), M(M_) {
  latent_channels = M;
  g_a = register_module("g_a", LayerStack("g_a"));
  g_s = register_module("g_s", LayerStack("g_s"));
  h_a = register_module("h_a", LayerStack("hyper.h_a"));
  h_s = register_module("h_s", LayerStack("hyper.h_s"));
  for (int i = 0; i < 4; ++i) {
    g_a->conv(i == 0 ? 3 : N, i == 3 ? M : N, 5, 2);
    if (i != 3) g_a->gdn(N, false);
  }
  for (int i = 0; i < 4; ++i) {
    g_s->deconv(i == 0 ? M : N, i == 3 ? 3 : N, 5, 2);
    if (i != 3) g_s->gdn(N, true);
  }
  h_a->conv(M, N, 3, 1), h_a->relu(), h_a->conv(N, N, 5, 2), h_a->relu(), h_a->conv(N, N, 5, 2);
  h_s->deconv(N, N, 5, 2), h_s->relu(), h_s->deconv(N, N, 5, 2), h_s->relu(), h_s->conv(N, 2 * M, 3, 1);
  eb = register_module("eb", EntropyBottleneck(N));
  init_gains(lambdas, M);
}

torch::Tensor HyperpriorCodecImpl::encode(const torch::Tensor& x, int quality, const std::string&) {
  return apply_gain(g_a->forward(x), quality);
}

StepOut HyperpriorCodecImpl::train_step(const torch::Tensor& x, int quality, double lambda) {
  torch::Tensor y = encode(x, quality);
  auto rz = eb->forward(h_a->forward(y));
  // h_s's output grid is 4x z's, which covers y's (z = ceil(y / 4)); crop as the codec does.
  torch::Tensor params = h_s->forward(rz.y_hat).narrow(2, 0, y.size(2)).narrow(3, 0, y.size(3));
  torch::Tensor scales = params.narrow(1, 0, M), means = params.narrow(1, M, M);
  torch::Tensor y_tilde = y.to(torch::kFloat) + uniform_noise_like(y, -0.5, 0.5, torch::kFloat);
  torch::Tensor lik_y = gaussian_likelihood(y_tilde, means, scales);
  torch::Tensor x_hat = g_s->forward(remove_gain(y_tilde, quality));
  const double pixels = double(x.size(0)) * x.size(2) * x.size(3);
  StepOut o;
  o.bpp = (-torch::log2(lik_y).sum() - torch::log2(rz.likelihood).sum()) / pixels;
  o.mse = (x_hat.to(torch::kFloat) - x.to(torch::kFloat)).pow(2).mean();
  o.loss = lambda * 255.0 * 255.0 * o.mse + o.bpp;
  return o;
}

std::vector<int32_t> HyperpriorCodecImpl::z_median_fixed() const {
  const std::vector<float> med = to_floats(eb->medians());
  std::vector<int32_t> out;
  for (float m : med) out.push_back(int32_t(std::nearbyint(std::ldexp(double(m), aec::kHyperZBits))));
  return out;
}

torch::Tensor HyperpriorCodecImpl::quantize_z(const torch::Tensor& y) {
  const std::vector<int32_t> med = z_median_fixed();
  torch::Tensor med_fixed =
      torch::tensor(std::vector<double>(med.begin(), med.end()), torch::kDouble).view({1, -1, 1, 1});
  const double zscale = std::ldexp(1.0, aec::kHyperZBits);
  torch::Tensor z = h_a->forward(y).to(torch::kCPU, torch::kDouble);
  torch::Tensor qz =
      torch::round(z - med_fixed / zscale).clamp(-double(aec::kMaxEscape / 2), double(aec::kMaxEscape / 2));
  return qz * zscale + med_fixed;
}

HyperpriorCodecImpl::Coded HyperpriorCodecImpl::code(const torch::Tensor& y_in, HsMode mode,
                                                     const IntHyperSynthesis* hs_given) {
  torch::NoGradGuard ng;
  const torch::Device dev = y_in.device();
  torch::Tensor y = y_in.to(torch::kFloat);
  const int64_t yh = y.size(2), yw = y.size(3);
  Coded c;
  c.z_int = quantize_z(y);
  const double zscale = std::ldexp(1.0, aec::kHyperZBits);
  torch::Tensor z_hat = (c.z_int / zscale).to(dev, torch::kFloat);
  c.bits_z = -torch::log2(eb->likelihood(z_hat)).sum().item<double>();

  const std::vector<double> table = aec::default_scale_table();
  torch::Tensor table_t = torch::tensor(table, torch::kDouble).to(torch::kFloat);
  torch::Tensor means, scales;
  if (mode == HsMode::integer) {
    IntHyperSynthesis local;
    if (!hs_given) local = IntHyperSynthesis::quantize(*h_s);
    const IntHyperSynthesis& hs = hs_given ? *hs_given : local;
    torch::Tensor p = hs.forward(c.z_int).narrow(2, 0, yh).narrow(3, 0, yw);
    const std::vector<int32_t> thr = aec::scale_thresholds(table, aec::kHyperOutBits);
    torch::Tensor thr_t = torch::tensor(std::vector<double>(thr.begin(), thr.end()), torch::kDouble);
    // #{i : scale > t_i}, as aec::scale_index.
    c.index = (p.narrow(1, 0, M).unsqueeze(-1) > thr_t).sum(-1);
    means = (p.narrow(1, M, M) / std::ldexp(1.0, aec::kHyperOutBits)).to(torch::kFloat);
    scales = table_t.index({c.index});
  } else {
    torch::Tensor p = h_s->forward(z_hat).narrow(2, 0, yh).narrow(3, 0, yw).to(torch::kCPU, torch::kFloat);
    means = p.narrow(1, M, M);
    scales = p.narrow(1, 0, M);
    if (mode == HsMode::float_table) {
      c.index = (scales.to(torch::kDouble).unsqueeze(-1) >
                 torch::tensor(table, torch::kDouble).narrow(0, 0, int64_t(table.size()) - 1))
                    .sum(-1);
      scales = table_t.index({c.index});
    }
  }
  torch::Tensor yc = y.to(torch::kCPU);
  torch::Tensor q = torch::round(yc - means);
  c.y_hat = (q + means).to(dev);
  c.bits_y = -torch::log2(gaussian_likelihood(q + means, means, scales)).sum().item<double>();
  return c;
}

EvalOut HyperpriorCodecImpl::evaluate(const torch::Tensor& x, int h, int w, int quality) {
  torch::NoGradGuard ng;
  const Coded c = code(encode(x, quality), HsMode::integer);
  EvalOut o;
  o.bits = c.bits_y + c.bits_z;
  o.sq_err = sq_err_8bit(g_s->forward(remove_gain(c.y_hat, quality)), x, h, w);
  o.samples = int64_t(3) * h * w;
  o.psnr["hyper_bpp"] = c.bits_z / (double(h) * w);
  return o;
}

std::vector<Member> HyperpriorCodecImpl::members() {
  Member m;
  m.stride = 16, m.enc = g_a, m.dec = g_s;
  return {m};
}

int HyperpriorCodecImpl::load_entropy_networks(const aec::ModelFile& file) {
  torch::NoGradGuard ng;
  const aec::Model model = aec::Model::from_file(file);
  if (!model.hyperprior()) return 0;
  int loaded = h_a->load_from(file);
  const std::vector<aec::IntConv>& layers = model.hyperprior()->hyper_synthesis().layers();
  std::vector<torch::Tensor> params;  // weight, bias per weighted layer, in order
  for (const torch::Tensor& p : h_s->parameters()) params.push_back(p);
  if (params.size() != 2 * layers.size()) return loaded;
  for (size_t i = 0; i < layers.size(); ++i) {
    const aec::IntConv& l = layers[i];
    torch::Tensor w = params[2 * i], b = params[2 * i + 1];
    if (int64_t(l.weight.size()) != w.numel() || int64_t(l.bias.size()) != b.numel()) return loaded;
    // quantize_conv: shift_o = in_bits + f_o - out_bits, weight = w * 2^f_o, bias = b * 2^(in_bits + f_o).
    const int in_bits = i == 0 ? aec::kHyperZBits : aec::kHyperHiddenBits;
    const int out_bits = i + 1 == layers.size() ? aec::kHyperOutBits : aec::kHyperHiddenBits;
    const int64_t kk = int64_t(l.shape.kernel) * l.shape.kernel;
    std::vector<float> wf(l.weight.size()), bf(l.bias.size());
    for (size_t k = 0; k < wf.size(); ++k) {
      // PyTorch layouts: [out, in, k, k]; transposed [in, out, k, k].
      const int64_t o = l.transposed ? (int64_t(k) / kk) % l.shape.out : int64_t(k) / (kk * l.shape.in);
      wf[k] = float(std::ldexp(double(l.weight[k]), -(l.shift[size_t(o)] - in_bits + out_bits)));
    }
    for (size_t o = 0; o < bf.size(); ++o)
      bf[o] = float(std::ldexp(double(l.bias[o]), -(l.shift[o] + out_bits)));
    w.copy_(torch::from_blob(wf.data(), w.sizes(), torch::kFloat).to(w.device()));
    b.copy_(torch::from_blob(bf.data(), b.sizes(), torch::kFloat).to(b.device()));
    ++loaded;
  }
  return loaded;
}

void HyperpriorCodecImpl::export_entropy(aec::ModelFile& f, nlohmann::json& d, const WeightStorage& storage) {
  torch::NoGradGuard ng;
  nlohmann::json ha = nlohmann::json::array();
  h_a->export_to(f, ha, nullptr, nullptr, storage);
  const nlohmann::json hs = IntHyperSynthesis::quantize(*h_s).put(f);

  EntropyTables t = eb->tabulate();
  aec::CdfTables z;
  for (size_t c = 0; c < t.pmf.size(); ++c) {
    z.cdf.push_back(aec::pmf_to_cdf(t.pmf[c], t.tail[c], aec::kCdfPrecision));
    z.offset.push_back(t.offset[c]);
  }
  aec::put_cdf_tables(f, "hyper.z", z);
  const std::vector<int32_t> med = z_median_fixed();
  f.put_ints("hyper.z.median", {N}, med.data());

  const std::vector<double> table = aec::default_scale_table();
  aec::put_cdf_tables(f, "hyper.gaussian", aec::gaussian_tables(table));
  const std::vector<int32_t> thr = aec::scale_thresholds(table, aec::kHyperOutBits);
  f.put_ints("hyper.gaussian.threshold", {int64_t(thr.size())}, thr.data());
  const std::vector<float> table_f(table.begin(), table.end());
  f.put_floats("hyper.gaussian.scale", {int64_t(table_f.size())}, table_f.data());

  d["quantizer"] = {{"kind", "conditional_mean"}};
  d["entropy"] = {{"kind", "hyperprior"},
                  {"precision", aec::kCdfPrecision},
                  {"hyper_channels", N},
                  {"z_fraction_bits", aec::kHyperZBits},
                  {"mean_fraction_bits", aec::kHyperOutBits},
                  {"hyper_encoder", ha},
                  {"hyper_decoder", hs}};
}

}  // namespace aect
