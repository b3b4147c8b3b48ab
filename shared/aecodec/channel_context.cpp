#include "aecodec/channel_context.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "aecodec/document_fields.h"
#include "aecodec/error.h"
#include "aecodec/model.h"

namespace aec {

using json = nlohmann::json;

namespace {

constexpr int64_t kSat = (int64_t(1) << 31) - 1;

int32_t saturate(int64_t v) {
  return int32_t(std::clamp(v, -kSat, kSat));
}

// The channels an integer network makes from `c` input channels on a 1 x 1 grid (its convs are stride 1
// with "same" padding here, which the shape check below also confirms on a real grid at run time).
int int_out_channels(const IntNetwork& net, int c, const std::string& what) {
  int h = 8, w = 8;
  net.output_shape(c, h, w);
  require(h == 8 && w == 8, what + " must keep the latent grid's size (stride 1, same padding)");
  return c;
}

int float_out_channels(const Network& net, int c, const std::string& what) {
  int h = 8, w = 8;
  net.output_shape(c, h, w);
  require(h == 8 && w == 8, what + " must keep the latent grid's size (stride 1, same padding)");
  return c;
}

}  // namespace

ChannelContext::ChannelContext() = default;
ChannelContext::ChannelContext(ChannelContext&&) noexcept = default;
ChannelContext::~ChannelContext() = default;

std::unique_ptr<ChannelContext> ChannelContext::build(const json& e, const ModelFile& f, int latent_channels,
                                                      int tables, int fraction_bits) {
  const std::string where = "entropy.context";
  require(e.is_object(), where + " must be an object");
  require(fraction_bits >= 0 && fraction_bits <= 20, where + ": mean fraction bits outside [0, 20]");
  auto cc = std::make_unique<ChannelContext>();
  cc->channels_ = latent_channels;
  cc->bits_ = fraction_bits;
  // The nets' inputs and features: fewer fraction bits than the means keep them inside 16 bits, which the
  // integer kernels multiply in one piece instead of two (docs/model-format.md).
  cc->feature_bits_ =
      e.contains("feature_bits") ? document_int(e, "feature_bits", where, 0, fraction_bits) : fraction_bits;
  require(e.contains("slices") && e["slices"].is_array() && !e["slices"].empty() && e["slices"].size() <= 64,
          where + ": 'slices' must be a list of 1 to 64 channel counts");
  int total = 0;
  for (const json& s : e["slices"]) {
    require(s.is_number_integer() && s.get<int64_t>() >= 1 && s.get<int64_t>() <= latent_channels,
            where + ": every slice must have 1 to " + std::to_string(latent_channels) + " channels");
    cc->slices_.push_back(s.get<int>());
    total += cc->slices_.back();
  }
  require(total == latent_channels, where + ": the slices hold " + std::to_string(total) +
                                        " channels; the latent has " + std::to_string(latent_channels));
  cc->log_scale_ = f.ints("hyper.context.log_scale", {int64_t(tables)});
  for (size_t i = 1; i < cc->log_scale_.size(); ++i)
    require(cc->log_scale_[i] > cc->log_scale_[i - 1], "hyper.context.log_scale must increase");

  require(e.contains("embed"), where + ": needs 'embed'");
  cc->embed_ = IntNetwork::build(e["embed"], f, "entropy.context.embed");
  const int E = int_out_channels(cc->embed_, 2 * latent_channels, "entropy.context.embed");
  const size_t K = cc->slices_.size();
  require(e.contains("param") && e["param"].is_array() && e["param"].size() == K && e.contains("lrp") &&
              e["lrp"].is_array() && e["lrp"].size() == K,
          where + ": needs 'param' and 'lrp', one network per slice");
  int off = 0;
  for (size_t k = 0; k < K; ++k) {
    const int c = cc->slices_[k];
    const std::string pk = "entropy.context.param[" + std::to_string(k) + "]";
    cc->param_.push_back(IntNetwork::build(e["param"][k], f, pk));
    require(int_out_channels(cc->param_.back(), E + off, pk) == 2 * c,
            pk + " must make 2 x the slice's channels (log scale and mean corrections)");
    const std::string lk = "entropy.context.lrp[" + std::to_string(k) + "]";
    cc->lrp_.push_back(std::make_unique<Network>(Network::build(e["lrp"][k], f, lk)));
    require(float_out_channels(*cc->lrp_.back(), E + off + c, lk) == c,
            lk + " must make the slice's channels");
    off += c;
  }
  return cc;
}

Tensor ChannelContext::run(const Hyperprior::Conditional& hyper, int h, int w, const SliceCoder& code) const {
  const int M = channels_;
  const size_t plane = size_t(h) * w, n = size_t(M) * plane;
  require(hyper.index.size() == n && hyper.mean.size() == n, "context model: conditional size mismatch");
  // Means and log scales have bits_ fraction bits; the nets read them, and the decoded slices, with
  // feature_bits_ (rounded half up, as every integer layer rounds).
  const int drop = bits_ - feature_bits_;
  IntTensor x0(2 * M, h, w);
  for (size_t i = 0; i < n; ++i) {
    const int32_t t = hyper.index[i];
    require(t >= 0 && size_t(t) < log_scale_.size(), "context model: table index out of range");
    x0.data[i] = int32_t(rounding_shift(log_scale_[size_t(t)], drop));
    x0.data[n + i] = int32_t(rounding_shift(hyper.mean[i], drop));
  }
  const IntTensor feat = embed_.forward(x0);
  const int E = feat.c;
  // The features, then each slice's decoded values as it is decoded: the first E + off channels are what
  // slice k's network reads (channel-major, so a prefix of the buffer).
  IntTensor ctx(E + M, h, w);
  std::copy(feat.data.begin(), feat.data.end(), ctx.data.begin());
  Tensor latent(M, h, w);
  const float unit = std::ldexp(1.0f, -bits_), feature_unit = std::ldexp(1.0f, -feature_bits_);
  const int64_t one = int64_t(1) << bits_;
  // Tables strictly below the last: a log scale above all of them picks the last table.
  const auto inner_end = log_scale_.end() - 1;
  std::vector<int32_t> table, mean, sym;
  int off = 0;
  for (size_t k = 0; k < slices_.size(); ++k) {
    const int c = slices_[k];
    const size_t m = size_t(c) * plane;
    IntTensor in(E + off, h, w);
    std::copy(ctx.data.begin(), ctx.data.begin() + std::ptrdiff_t(in.size()), in.data.begin());
    const IntTensor d = param_[k].forward(in);
    table.resize(m), mean.resize(m), sym.assign(m, 0);
    const size_t base = size_t(off) * plane;
    for (size_t j = 0; j < m; ++j) {
      mean[j] = saturate(int64_t(hyper.mean[base + j]) + d.data[m + j]);
      const int64_t ls = int64_t(log_scale_[size_t(hyper.index[base + j])]) + d.data[j];
      table[j] = int32_t(std::lower_bound(log_scale_.begin(), inner_end, ls,
                                          [](int32_t a, int64_t v) { return int64_t(a) < v; }) -
                         log_scale_.begin());
    }
    code(off, c, table.data(), mean.data(), sym.data());
    int32_t* decoded = ctx.channel(E + off);
    for (size_t j = 0; j < m; ++j)
      decoded[j] = saturate(rounding_shift(int64_t(sym[j]) * one + mean[j], drop));

    Tensor lin(E + off + c, h, w);
    for (size_t i = 0; i < lin.size(); ++i) lin.data[i] = float(ctx.data[i]) * feature_unit;
    const Tensor r = lrp_[k]->forward(lin);
    float* out = latent.channel(off);
    for (size_t j = 0; j < m; ++j)
      out[j] = float(sym[j]) + float(mean[j]) * unit + 0.5f * std::tanh(r.data[j]);
    off += c;
  }
  return latent;
}

}  // namespace aec
