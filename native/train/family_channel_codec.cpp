#include "family_channel_codec.h"

#include <algorithm>
#include <cmath>

#include "aecodec/error.h"
#include "int_channel.h"
#include "int_hyper.h"

namespace aect {

namespace F = torch::nn::functional;

namespace {

// Which taps of a 5-tap stride-2 layer land on which of three half-size positions (t = -1, 0, 1), and with
// what weight. Analysis (conv, stride 2, padding 2): output i reads x[2i + d], d = -2..2, and x[2i + d] lies
// in the 2x2 box of half-size pixel i + floor(d / 2): taps {0, 1} -> t = -1, {2, 3} -> 0, {4} -> +1,
// weight 1. Synthesis (transposed conv, stride 2, padding 2, output padding 1): output 2i + a (a = 0, 1)
// takes input i + t through tap a + 2 - 2t; the box average of outputs 2i and 2i + 1 therefore takes taps {4}
// -> t = -1, {2, 3} -> 0, {0, 1} -> +1, each with weight 1/2.
torch::Tensor fold_matrix(bool synthesis) {
  torch::Tensor A = torch::zeros({3, 5});
  const int analysis_t[5] = {0, 0, 1, 1, 2}, synthesis_t[5] = {2, 2, 1, 1, 0};
  for (int k = 0; k < 5; ++k) A[synthesis ? synthesis_t[k] : analysis_t[k]][k] = synthesis ? 0.5 : 1.0;
  return A;
}

// A layer stack's tensor name "I.rest" (or layer name "I") with its layer index I moved by `shift` when
// I >= `from`.
std::string shift_layer(const std::string& name, int from, int shift) {
  const size_t dot = std::min(name.find('.'), name.size());
  const int i = std::stoi(name.substr(0, dot));
  return i < from ? name : std::to_string(i + shift) + name.substr(dot);
}

// Module parameters (weight, bias per weighted layer, GDN's) and buffers of `src` copied into the same-shaped
// ones of `dst` (the same name, or with layer indices from `from` on moved back by `shift`: dst has `shift`
// more layers there), except those under the layer index `skip` (none when empty) and the `shift` layers
// before `from`.
void copy_stages(LayerStackImpl& dst, LayerStackImpl& src, const std::string& skip, int from = 0,
                 int shift = 0) {
  torch::NoGradGuard ng;
  auto copy = [&](torch::OrderedDict<std::string, torch::Tensor> to,
                  const torch::OrderedDict<std::string, torch::Tensor>& from_dict) {
    for (auto& kv : to) {
      if (!skip.empty() && kv.key().rfind(skip + ".", 0) == 0) continue;
      const int i = std::stoi(kv.key().substr(0, kv.key().find('.')));
      if (i >= from - shift && i < from) continue;
      const torch::Tensor* t = from_dict.find(shift_layer(kv.key(), from, -shift));
      if (t && t->sizes() == kv.value().sizes()) kv.value().copy_(*t);
    }
  };
  copy(dst.named_parameters(), src.named_parameters());
  copy(dst.named_buffers(), src.named_buffers());
}

// The medium analysis' layers: the first conv and its GDN (0, 1), the front stages (2 .. 2 + 2 front), then
// the high g_a's layers from its index 2 on.
constexpr int kFrontFirst = 2;
// The up synthesis' layers: the high g_s's first three stages (0 .. 5), the up stages (6 .. 6 + 2 stages),
// then g_s's last layer.
constexpr int kUpStagesFirst = 6;

// A handle on the stack's parameter (in-place writes reach the module's tensor).
torch::Tensor param(LayerStackImpl& s, const std::string& name) {
  const auto params = s.named_parameters();
  const torch::Tensor* t = params.find(name);
  aec::require(t != nullptr, "family-channel: no parameter " + name);
  return *t;
}

// The stride-1 stage of `stack` at layer `conv` (a 3x3 conv, then a GDN) as the identity: a centre-tap
// identity conv, beta 1, gamma 0.
void set_stage_identity(LayerStackImpl& stack, int conv, int channels) {
  torch::Tensor w = param(stack, std::to_string(conv) + ".weight");
  w.zero_();
  for (int c = 0; c < channels; ++c) w[c][c][1][1] = 1.0;
  param(stack, std::to_string(conv) + ".bias").zero_();
  const auto children = stack.named_children();
  const std::shared_ptr<torch::nn::Module>* g = children.find(std::to_string(conv + 1));
  aec::require(g != nullptr, "family-channel: no GDN after layer " + std::to_string(conv));
  (*g)->as<GDNImpl>()->set_effective(torch::ones({channels}), torch::zeros({channels, channels}));
}

}  // namespace

FamilyChannelCodecImpl::FamilyChannelCodecImpl(int N_, int M_, const std::vector<double>& lambdas,
                                               std::array<double, 4> weights, int medium_width,
                                               bool medium_lrp, int medium_front, bool up_synthesis,
                                               double up_balance, bool up_clip_apart, int up_stages,
                                               bool up_only)
    : ChannelCodecImpl(N_, M_, lambdas, false),
      w_(weights),
      medium_width_(medium_width),
      medium_lrp_(medium_lrp),
      medium_front_(medium_front),
      up_stages_(up_stages),
      up_balance_(up_balance),
      lambda_max_(*std::max_element(lambdas.begin(), lambdas.end())),
      up_clip_apart_(up_clip_apart) {
  aec::require(medium_width >= 0 && medium_width <= N_, "family-channel: the medium width must be 0 to N");
  aec::require(medium_front >= 0 && medium_front <= 8,
               "family-channel: the medium front stages must be 0 to 8");
  aec::require(up_stages >= 0 && up_stages <= 8, "family-channel: the up stages must be 0 to 8");
  aec::require(up_stages == 0 || up_synthesis, "family-channel: --up-stages needs --up-synthesis");
  aec::require(!up_only || up_synthesis, "family-channel: --up-only needs --up-synthesis");
  m_a = register_module("m_a", LayerStack("m_a"));
  m_s = register_module("m_s", LayerStack("m_s"));
  // The high g_a is conv s2, GDN, conv s2, GDN, conv s2, GDN, conv s2; the medium's first conv has stride 1
  // (its input is already half size) and the rest are the same shapes.
  m_a->conv(3, N, 5, 1), m_a->gdn(N, false);
  for (int f = 0; f < medium_front; ++f) m_a->conv(N, N, 3, 1), m_a->gdn(N, false);
  m_a->conv(N, N, 5, 2), m_a->gdn(N, false);
  m_a->conv(N, N, 5, 2), m_a->gdn(N, false);
  m_a->conv(N, M, 5, 2);
  // The high g_s's first three stages (the third narrowed to the medium width, if any), then a stride-1
  // output layer in place of its last upsampling stage.
  const int C = medium_width > 0 ? medium_width : N;
  m_s->deconv(M, N, 5, 2), m_s->gdn(N, true);
  m_s->deconv(N, N, 5, 2), m_s->gdn(N, true);
  m_s->deconv(N, C, 5, 2), m_s->gdn(C, true);
  m_s->conv(C, 3, 3, 1);
  if (up_synthesis) {  // g_s's shapes (ChannelCodecImpl)
    u_s = register_module("u_s", LayerStack("u_s"));
    u_s->deconv(M, N, 5, 2), u_s->gdn(N, true);
    u_s->deconv(N, N, 5, 2), u_s->gdn(N, true);
    u_s->deconv(N, N, 5, 2), u_s->gdn(N, true);
    for (int s = 0; s < up_stages_; ++s) u_s->conv(N, N, 3, 1), u_s->gdn(N, true);
    u_s->deconv(N, 3, 5, 2);
  }
  // The high member is the base channel codec and stays exactly as loaded (its files must keep decoding):
  // no gradient into its transforms, entropy model, prior or gains. up_only freezes the medium networks too.
  for (auto& kv : named_parameters()) {
    const bool up = kv.key().rfind("u_s.", 0) == 0;
    const bool medium = kv.key().rfind("m_a.", 0) == 0 || kv.key().rfind("m_s.", 0) == 0;
    if (!up && (up_only || !medium)) kv.value().requires_grad_(false);
  }
  init_medium_from_high();
}

void FamilyChannelCodecImpl::init_medium_from_high() {
  torch::NoGradGuard ng;
  copy_stages(*m_a, *g_a, "0", kFrontFirst + 2 * medium_front_, 2 * medium_front_);
  init_front_identity();
  copy_stages(*m_s, *g_s, "6");
  if (u_s) copy_stages(*u_s, *g_s, "", kUpStagesFirst + 2 * up_stages_, 2 * up_stages_);
  init_up_stages_identity();
  const torch::Tensor A = fold_matrix(false), S = fold_matrix(true);
  // Analysis: the 5x5 stride-2 kernel folded onto the half-size grid (its 3x3 centre; the border stays 0).
  torch::Tensor wa = param(*g_a, "0.weight").detach().to(torch::kCPU, torch::kFloat);  // [N, 3, 5, 5]
  torch::Tensor fa = torch::matmul(torch::matmul(A, wa), A.t());                       // [N, 3, 3, 3]
  torch::Tensor ma = param(*m_a, "0.weight");
  ma.zero_();
  ma.narrow(2, 1, 3).narrow(3, 1, 3).copy_(fa.to(ma.device()));
  param(*m_a, "0.bias").copy_(param(*g_a, "0.bias"));
  // Synthesis: the transposed kernel [N, 3, 5, 5] folded and box-averaged into a conv kernel [3, N, 3, 3].
  torch::Tensor ws = param(*g_s, "6.weight").detach().to(torch::kCPU, torch::kFloat);
  torch::Tensor fs = torch::matmul(torch::matmul(S, ws), S.t()).transpose(0, 1).contiguous();
  param(*m_s, "6.bias").copy_(param(*g_s, "6.bias"));
  if (medium_width_ == 0 || medium_width_ == N) {
    param(*m_s, "6.weight").copy_(fs.to(param(*m_s, "6.weight").device()));
    return;
  }
  // A narrowed third stage keeps the high's channels that the folded output layer weighs most: their
  // transposed-conv filters, their block of the inverse GDN, and their taps of the output layer.
  const torch::Tensor keep = std::get<0>(std::get<1>(fs.pow(2).sum({0, 2, 3}).topk(medium_width_)).sort());
  const torch::Tensor keep_dev = keep.to(param(*g_s, "4.weight").device());
  param(*m_s, "4.weight").copy_(param(*g_s, "4.weight").index_select(1, keep_dev));  // [N, C, 5, 5]
  param(*m_s, "4.bias").copy_(param(*g_s, "4.bias").index_select(0, keep_dev));
  param(*m_s, "5.beta").copy_(param(*g_s, "5.beta").index_select(0, keep_dev));
  param(*m_s, "5.gamma").copy_(param(*g_s, "5.gamma").index_select(0, keep_dev).index_select(1, keep_dev));
  param(*m_s, "6.weight").copy_(fs.index_select(1, keep).to(param(*m_s, "6.weight").device()));
}

void FamilyChannelCodecImpl::init_front_identity() {
  torch::NoGradGuard ng;
  for (int f = 0; f < medium_front_; ++f) set_stage_identity(*m_a, kFrontFirst + 2 * f, N);
}

void FamilyChannelCodecImpl::init_up_stages_identity() {
  torch::NoGradGuard ng;
  for (int s = 0; s < up_stages_; ++s) set_stage_identity(*u_s, kUpStagesFirst + 2 * s, N);
}

std::string FamilyChannelCodecImpl::warm_start_source(const std::string& name,
                                                      const TrainConfig& source) const {
  if (name.rfind("u_s.", 0) == 0) {
    // An up synthesis new to this run starts as the source's high synthesis; up stages new to it start as
    // the identity (the constructor's), and the layers after them move up.
    const bool own = source.arch == "family-channel" && source.up_synthesis;
    const int src_stages = own ? source.up_stages : 0;
    const std::string layer = name.substr(4);
    const int i = std::stoi(layer.substr(0, layer.find('.')));
    const std::string prefix = own ? "u_s." : "g_s.";
    if (i < kUpStagesFirst) return prefix + layer;
    if (i < kUpStagesFirst + 2 * up_stages_)
      return (i - kUpStagesFirst) / 2 < src_stages ? prefix + layer : std::string();
    return prefix + shift_layer(layer, kUpStagesFirst, 2 * (src_stages - up_stages_));
  }
  if (name.rfind("m_a.", 0) != 0) return name;
  const int src_front = source.arch == "family-channel" ? source.medium_front : 0;
  const std::string layer = name.substr(4);
  const int i = std::stoi(layer.substr(0, layer.find('.')));
  if (i < kFrontFirst) return name;
  if (i < kFrontFirst + 2 * medium_front_)  // a front stage: the source's own, or a new one
    return (i - kFrontFirst) / 2 < src_front ? name : std::string();
  return "m_a." + shift_layer(layer, kFrontFirst, 2 * (src_front - medium_front_));
}

torch::Tensor FamilyChannelCodecImpl::medium_input(const SlicesOut& s, int quality) {
  return remove_gain(medium_lrp_ ? s.y_hat : s.y_coded, quality);
}

void FamilyChannelCodecImpl::finish_warm_start(bool source_had_all) {
  if (!source_had_all) init_medium_from_high();
}

torch::Tensor FamilyChannelCodecImpl::encode(const torch::Tensor& x, int quality, const std::string& role) {
  return role == "medium" ? apply_gain(m_a->forward(x), quality) : ChannelCodecImpl::encode(x, quality);
}

std::vector<std::vector<torch::Tensor>> FamilyChannelCodecImpl::clip_groups() {
  if (!u_s || !up_clip_apart_) return {main_parameters()};
  std::vector<torch::Tensor> up = u_s->parameters(), rest;
  for (const torch::Tensor& p : main_parameters())
    if (std::none_of(up.begin(), up.end(), [&](const torch::Tensor& u) { return u.is_same(p); }))
      rest.push_back(p);
  return {rest, up};
}

std::vector<Member> FamilyChannelCodecImpl::members() {
  Member hi, me;
  hi.role = "high", hi.stride = 16, hi.enc = g_a, hi.dec = g_s;
  me.role = "medium", me.stride = 8, me.enc = m_a, me.dec = m_s;
  return {hi, me};
}

StepOut FamilyChannelCodecImpl::train_step(const torch::Tensor& x, int quality, double lambda) {
  const torch::Tensor x_ds = F::avg_pool2d(x, F::AvgPool2dFuncOptions(2));
  // The down path's input: the high latent as the decoder gets it (z and y rounded, context and LRP), with
  // no graph: nothing before m_s learns from it.
  torch::Tensor y_high, y;  // y_high: what m_s reads
  {
    torch::NoGradGuard ng;
    y = ChannelCodecImpl::encode(x, quality).to(torch::kFloat);
    const torch::Tensor z = h_a->forward(y).to(torch::kFloat);
    const torch::Tensor med = eb->medians().to(z.device()).view({1, -1, 1, 1});
    const torch::Tensor p =
        h_s->forward(torch::round(z - med) + med).narrow(2, 0, y.size(2)).narrow(3, 0, y.size(3));
    y_high = medium_input(code_slices(y, p.to(torch::kFloat), false), quality);
  }
  // The medium latent through the shared (frozen) entropy model, as the channel codec trains: noise for the
  // likelihoods, straight-through rounding for what the decoders see.
  const torch::Tensor ym = encode(x_ds, quality, "medium").to(torch::kFloat);
  auto rz = eb->forward(h_a->forward(ym));
  const torch::Tensor p = h_s->forward(rz.y_hat).narrow(2, 0, ym.size(2)).narrow(3, 0, ym.size(3));
  const SlicesOut s = code_slices(ym, p.to(torch::kFloat), true);
  const torch::Tensor y_med = remove_gain(s.y_hat, quality), y_med_in = medium_input(s, quality);

  const torch::Tensor mse_down = mse_of(m_s->forward(y_high), x_ds);
  // up_balance: u_s's gradient times s, the medium latent's as before (y_up is y_med, whose gradient is / s).
  const double s_up = u_s && up_balance_ > 0 ? std::pow(lambda_max_ / lambda, up_balance_) : 1.0;
  const torch::Tensor y_up = s_up == 1.0 ? y_med : y_med / s_up + (y_med - y_med / s_up).detach();
  const torch::Tensor mse_up = mse_of(up_synthesis()->forward(y_up), x);
  const torch::Tensor mse_med = mse_of(m_s->forward(y_med_in), x_ds);
  const double half_pixels = double(x_ds.size(0)) * x_ds.size(2) * x_ds.size(3);
  StepOut o;
  o.bpp = (s.bits - torch::log2(rz.likelihood).sum()) / half_pixels;
  o.mse = mse_med;
  o.loss = lambda * 255.0 * 255.0 * (w_[0] * mse_down + w_[1] * s_up * mse_up + w_[2] * mse_med) + o.bpp;
  if (w_[3] > 0) o.loss = o.loss + w_[3] * (ym - y).pow(2).mean();
  return o;
}

ChannelCodecImpl::SlicesOut FamilyChannelCodecImpl::code_as_codec(const torch::Tensor& y) {
  torch::NoGradGuard ng;
  const torch::Device dev = y.device();
  const torch::Tensor z_int = quantize_z(y);
  const torch::Tensor z_hat = (z_int / std::ldexp(1.0, aec::kHyperZBits)).to(dev, torch::kFloat);
  const double bits_z = -torch::log2(eb->likelihood(z_hat)).sum().item<double>();
  const torch::Tensor p =
      IntHyperSynthesis::quantize(*h_s).forward(z_int).narrow(2, 0, y.size(2)).narrow(3, 0, y.size(3));
  SlicesOut s = IntChannelContext::quantize(*this).code(*this, y, p);
  s.bits = s.bits + bits_z;
  return s;
}

EvalOut FamilyChannelCodecImpl::evaluate(const torch::Tensor& x, int h, int w, int quality) {
  torch::NoGradGuard ng;
  const int hh = (h + 1) / 2, hw = (w + 1) / 2;
  const torch::Tensor x_ds = F::avg_pool2d(x, F::AvgPool2dFuncOptions(2));
  const SlicesOut sh = code_as_codec(ChannelCodecImpl::encode(x, quality).to(torch::kFloat));
  const SlicesOut sm = code_as_codec(encode(x_ds, quality, "medium").to(torch::kFloat));
  const torch::Tensor yh = remove_gain(sh.y_hat, quality), ym = remove_gain(sm.y_hat, quality);
  const torch::Tensor x_hh = g_s->forward(yh), x_hm = m_s->forward(medium_input(sh, quality));
  const torch::Tensor x_mm = m_s->forward(medium_input(sm, quality)), x_mh = up_synthesis()->forward(ym);
  const int64_t n_full = int64_t(3) * h * w, n_half = int64_t(3) * hh * hw;

  EvalOut o;
  o.bits = sm.bits.item<double>();
  o.sq_err = sq_err_8bit(x_mh, x, h, w);
  o.samples = n_full;
  o.psnr["high"] = psnr_of(sq_err_8bit(x_hh, x, h, w), n_full);
  o.psnr["high_bpp"] = sh.bits.item<double>() / (double(h) * w);
  o.psnr["medium"] = psnr_of(sq_err_8bit(x_mm, x_ds, hh, hw), n_half);
  o.psnr["medium_bpp"] = sm.bits.item<double>() / (double(hh) * hw);
  o.psnr["cross_h2m"] = psnr_of(sq_err_8bit(x_hm, x_ds, hh, hw), n_half);
  o.psnr["cross_m2h"] = psnr_of(o.sq_err, n_full);
  const torch::Tensor box = F::avg_pool2d(x_hh.clamp(0, 1), F::AvgPool2dFuncOptions(2));
  o.psnr["baseline_h2m_box"] = psnr_of(sq_err_8bit(box, x_ds, hh, hw), n_half);
  const torch::Tensor bicubic =
      F::interpolate(x_mm.clamp(0, 1), F::InterpolateFuncOptions()
                                           .size(std::vector<int64_t>{x.size(2), x.size(3)})
                                           .mode(torch::kBicubic)
                                           .align_corners(false));
  o.psnr["baseline_m2h_bicubic"] = psnr_of(sq_err_8bit(bicubic, x, h, w), n_full);
  return o;
}

}  // namespace aect
