#include "aecodec/hyperprior.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "aecodec/document_fields.h"
#include "aecodec/error.h"
#include "aecodec/gaussian.h"
#include "aecodec/model.h"
#include "aecodec/ops.h"
#include "aecodec/parallel.h"

namespace aec {

using nlohmann::json;

namespace {

int32_t saturate(int64_t v) {
  constexpr int64_t kMax = (int64_t(1) << 31) - 1;
  return int32_t(std::clamp(v, -kMax, kMax));
}

}  // namespace

IntNetwork IntNetwork::build(const json& layers, const ModelFile& f, const std::string& where) {
  require(layers.is_array() && !layers.empty() && layers.size() <= 64,
          "model document: '" + where + "' must be a list of 1 to 64 integer layers");
  IntNetwork net;
  for (size_t i = 0; i < layers.size(); ++i) {
    const json& j = layers[i];
    const std::string at = where + " layer " + std::to_string(i);
    require(j.is_object() && j.contains("op") && j["op"].is_string(), at + ": layer without \"op\"");
    const std::string op = j["op"].get<std::string>();
    require(op == op::kIntConv2d || op == op::kIntConvTranspose2d,
            at + ": op '" + op + "' is not an integer layer (int_conv2d, int_conv_transpose2d)");
    require(j.contains("name") && j["name"].is_string() && !j["name"].get<std::string>().empty(),
            at + ": layer has no name");
    const std::string name = j["name"].get<std::string>();
    IntConv l;
    l.transposed = op == op::kIntConvTranspose2d;
    ConvShape& s = l.shape;
    s.in = document_int(j, "in", at, 1, 4096);
    s.out = document_int(j, "out", at, 1, 4096);
    s.kernel = document_int(j, "kernel", at, 1, 15);
    s.stride = document_int(j, "stride", at, 1, 8);
    s.padding = document_int(j, "padding", at, 0, 15);
    s.output_padding = l.transposed ? document_int(j, "output_padding", at, 0, s.stride - 1) : 0;
    require(!j.contains("relu") || j["relu"].is_boolean(), at + ": 'relu' must be true or false");
    l.relu = j.value("relu", false);
    const int64_t k = s.kernel;
    l.weight = f.ints(name + ".weight", l.transposed ? std::vector<int64_t>{s.in, s.out, k, k}
                                                     : std::vector<int64_t>{s.out, s.in, k, k});
    l.bias = f.ints(name + ".bias", {s.out});
    l.shift = f.ints(name + ".shift", {s.out});
    l.validate(name);
    net.layers_.push_back(std::move(l));
    net.names_.push_back(name);
  }
  return net;
}

IntNetwork IntNetwork::from_layers(std::vector<IntConv> layers, std::vector<std::string> names) {
  require(names.size() == layers.size(), "IntNetwork::from_layers: a name per layer");
  for (size_t i = 0; i < layers.size(); ++i) layers[i].validate(names[i]);
  IntNetwork net;
  net.layers_ = std::move(layers);
  net.names_ = std::move(names);
  return net;
}

void IntNetwork::output_shape(int& c, int& h, int& w) const {
  for (size_t i = 0; i < layers_.size(); ++i) {
    const ConvShape& s = layers_[i].shape;
    require(c == s.in, "integer layer '" + names_[i] + "' expects " + std::to_string(s.in) +
                           " input channels, gets " + std::to_string(c));
    int64_t oh, ow;
    if (layers_[i].transposed) {
      oh = int64_t(h - 1) * s.stride - 2 * s.padding + s.kernel + s.output_padding;
      ow = int64_t(w - 1) * s.stride - 2 * s.padding + s.kernel + s.output_padding;
    } else {
      oh = (int64_t(h) + 2 * s.padding - s.kernel) / s.stride + 1;
      ow = (int64_t(w) + 2 * s.padding - s.kernel) / s.stride + 1;
    }
    require(h > 0 && w > 0 && oh > 0 && ow > 0 && oh <= 65536 && ow <= 65536,
            "integer layer '" + names_[i] + "': input too small or output too large");
    c = s.out, h = int(oh), w = int(ow);
  }
}

IntTensor IntNetwork::forward(const IntTensor& x) const {
  if (layers_.empty()) return x;
  IntTensor y = int_conv(x, layers_[0]);
  for (size_t i = 1; i < layers_.size(); ++i) y = int_conv(y, layers_[i]);
  return y;
}

json put_int_conv(ModelFile& f, const std::string& name, const IntConv& l) {
  l.validate(name);
  const ConvShape& s = l.shape;
  const int64_t k = s.kernel;
  f.put_ints(name + ".weight",
             l.transposed ? std::vector<int64_t>{s.in, s.out, k, k} : std::vector<int64_t>{s.out, s.in, k, k},
             l.weight.data());
  f.put_ints(name + ".bias", {s.out}, l.bias.data());
  f.put_ints(name + ".shift", {s.out}, l.shift.data());
  json j = {{"op", l.transposed ? op::kIntConvTranspose2d : op::kIntConv2d},
            {"name", name},
            {"in", s.in},
            {"out", s.out},
            {"kernel", s.kernel},
            {"stride", s.stride},
            {"padding", s.padding},
            {"relu", l.relu}};
  if (l.transposed) j["output_padding"] = s.output_padding;
  return j;
}

Hyperprior::Hyperprior() = default;
Hyperprior::Hyperprior(Hyperprior&&) noexcept = default;
Hyperprior::~Hyperprior() = default;

std::unique_ptr<Hyperprior> Hyperprior::build(const json& e, const ModelFile& f, int latent_channels) {
  auto hp = std::make_unique<Hyperprior>();
  const std::string where = "entropy (hyperprior)";
  hp->latent_channels_ = latent_channels;
  hp->channels_ = document_int(e, "hyper_channels", where, 1, 4096);
  hp->z_bits_ = document_int(e, "z_fraction_bits", where, 0, 16);
  hp->mean_bits_ = document_int(e, "mean_fraction_bits", where, 0, 24);
  hp->mean_scale_ = std::ldexp(1.0f, -hp->mean_bits_);
  require(e.contains("hyper_encoder") && e.contains("hyper_decoder"),
          where + ": needs \"hyper_encoder\" and \"hyper_decoder\"");
  hp->h_a_ = std::make_unique<Network>(Network::build(e["hyper_encoder"], f, "hyper_encoder"));
  hp->h_s_ = IntNetwork::build(e["hyper_decoder"], f, "hyper_decoder");
  const int64_t N = hp->channels_;
  hp->z_median_ = f.ints("hyper.z.median", {N});
  hp->z_tables_ = read_cdf_tables(f, "hyper.z", N);
  hp->y_tables_ = read_cdf_tables(f, "hyper.gaussian", 0);
  const int64_t S = int64_t(hp->y_tables_.count());
  std::vector<int32_t> thresholds = f.ints("hyper.gaussian.threshold", {S - 1});
  for (size_t i = 1; i < thresholds.size(); ++i)
    require(thresholds[i] >= thresholds[i - 1], "hyper.gaussian.threshold must be non-decreasing");
  hp->table_counter_ = SortedCounter(std::move(thresholds));
  if (f.has("hyper.gaussian.scale")) {
    hp->scales_ = f.floats("hyper.gaussian.scale", {S});
  } else {
    for (int32_t t : hp->scale_thresholds()) hp->scales_.push_back((float(t) + 0.5f) / 4096.0f);
    hp->scales_.push_back(hp->scales_.empty() ? 1.0f : 2.0f * hp->scales_.back());
  }
  for (float v : hp->scales_) require(v > 0 && std::isfinite(v), "hyper.gaussian.scale must be positive");
  return hp;
}

void Hyperprior::hyper_shape(int yh, int yw, int& zc, int& zh, int& zw) const {
  zc = latent_channels_, zh = yh, zw = yw;
  h_a_->output_shape(zc, zh, zw);
  require(zc == channels_, "hyper_encoder makes " + std::to_string(zc) + " channels, hyper_channels says " +
                               std::to_string(channels_));
  int c = zc, h = zh, w = zw;
  h_s_.output_shape(c, h, w);
  require(c == 2 * latent_channels_, "hyper_decoder makes " + std::to_string(c) +
                                         " channels; it must make 2 x latent channels (scales, means)");
  require(h >= yh && w >= yw, "hyper_decoder's output " + std::to_string(w) + "x" + std::to_string(h) +
                                  " does not cover the latent grid " + std::to_string(yw) + "x" +
                                  std::to_string(yh));
}

Tensor Hyperprior::analysis(const Tensor& y) const {
  return h_a_->forward(y);
}

std::vector<int32_t> Hyperprior::quantize_z(const Tensor& z) const {
  require(z.c == channels_,
          "hyper latent has " + std::to_string(z.c) + " channels, expected " + std::to_string(channels_));
  std::vector<int32_t> q(z.size());
  const size_t plane = z.plane();
  for (int c = 0; c < z.c; ++c) {
    const double median = std::ldexp(double(z_median_[size_t(c)]), -z_bits_);
    const float* src = z.channel(c);
    for (size_t i = 0; i < plane; ++i) {
      double v = std::nearbyint(double(src[i]) - median);
      // As Model::quantize: clamp to what the escape can carry; NaN (a broken model) becomes 0.
      v = std::isfinite(v) ? std::clamp(v, -double(kMaxEscape / 2), double(kMaxEscape / 2)) : 0.0;
      q[size_t(c) * plane + i] = int32_t(v);
    }
  }
  return q;
}

IntTensor Hyperprior::synthesis(const std::vector<int32_t>& qz, int zh, int zw) const {
  IntTensor x(channels_, zh, zw);
  require(qz.size() == x.size(), "hyper latent size mismatch");
  // The input is z_hat = symbol + median exactly, in fixed point: symbol * 2^z_bits + median.
  const size_t plane = x.plane();
  for (int c = 0; c < channels_; ++c)
    for (size_t i = 0; i < plane; ++i)
      x.data[size_t(c) * plane + i] =
          saturate(int64_t(qz[size_t(c) * plane + i]) * (int64_t(1) << z_bits_) + z_median_[size_t(c)]);
  return h_s_.forward(std::move(x));
}

Hyperprior::Conditional Hyperprior::conditional(const std::vector<int32_t>& qz, int zh, int zw, int yh,
                                                int yw) const {
  const IntTensor p = synthesis(qz, zh, zw);
  require(p.c == 2 * latent_channels_ && p.h >= yh && p.w >= yw,
          "hyper_decoder output does not fit the latent");
  Conditional r;
  const size_t plane = size_t(yh) * yw;
  r.index.resize(size_t(latent_channels_) * plane);
  r.mean.resize(r.index.size());
  parallel_for(latent_channels_, [&](int c0, int c1) {  // per element: the same for any thread count
    for (int c = c0; c < c1; ++c)
      for (int y = 0; y < yh; ++y) {
        const int32_t* scale = p.channel(c) + size_t(y) * p.w;
        const int32_t* mean = p.channel(latent_channels_ + c) + size_t(y) * p.w;
        const size_t o = size_t(c) * plane + size_t(y) * yw;
        for (int x = 0; x < yw; ++x) {
          r.index[o + size_t(x)] = table_of(scale[x]);
          r.mean[o + size_t(x)] = mean[x];
        }
      }
  });
  return r;
}

}  // namespace aec
