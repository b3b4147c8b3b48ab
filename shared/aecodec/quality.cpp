#include "aecodec/quality.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <mutex>
#include <string>

#include "aecodec/error.h"
#include "aecodec/model.h"
#include "aecodec/ops.h"

namespace aec {

int quality_code(double quality) {
  require(std::isfinite(quality) && quality >= 1.0 && quality <= 100.0,
          "quality must be a number from 1 to 100, not " + std::to_string(quality));
  return int(std::lround(quality * 100.0));
}

double quality_lambda(const std::vector<double>& lambdas, int code) {
  require(lambdas.size() >= 2, "quality_lambda: a variable-rate model needs at least two lambdas");
  require(code >= kMinQualityCode && code <= kMaxQualityCode, "quality code outside [100, 10000]");
  const double t = double(code - kMinQualityCode) / double(kMaxQualityCode - kMinQualityCode);
  const double lo = std::log(lambdas.front()), hi = std::log(lambdas.back());
  return std::exp(lo + t * (hi - lo));
}

double quality_of_lambda(const std::vector<double>& lambdas, double lambda) {
  require(lambdas.size() >= 2 && lambda > 0, "quality_of_lambda: needs two lambdas and a positive lambda");
  const double t = std::log(lambda / lambdas.front()) / std::log(lambdas.back() / lambdas.front());
  return std::clamp(std::round(100.0 * (1.0 + 99.0 * t)) / 100.0, 1.0, 100.0);
}

std::vector<float> interpolate_gains(const std::vector<double>& lambdas, const std::vector<float>& gains,
                                     int M, double lambda) {
  const size_t K = lambdas.size();
  require(K >= 2 && gains.size() == K * size_t(M), "interpolate_gains: one row of M gains per lambda");
  const double l = std::log(lambda);
  size_t i = 0;  // rows i and i + 1 bracket lambda (the end pair beyond the range, clamped)
  while (i + 2 < K && std::log(lambdas[i + 1]) < l) ++i;
  const double l0 = std::log(lambdas[i]), l1 = std::log(lambdas[i + 1]);
  const double t = std::clamp((l - l0) / (l1 - l0), 0.0, 1.0);
  std::vector<float> g(static_cast<size_t>(M), 0.0f);
  for (int c = 0; c < M; ++c) {
    const double a = std::log(double(gains[i * size_t(M) + size_t(c)]));
    const double b = std::log(double(gains[(i + 1) * size_t(M) + size_t(c)]));
    g[size_t(c)] = float(std::exp(a + t * (b - a)));
  }
  return g;
}

std::vector<uint8_t> quality_section(int code) {
  require(code >= kMinQualityCode && code <= kMaxQualityCode, "quality code outside [100, 10000]");
  std::vector<uint8_t> out;
  put_varint(out, uint64_t(code));
  return out;
}

int read_quality_section(const std::vector<uint8_t>& bytes) {
  uint64_t v = 0;
  size_t i = 0;
  for (; i < bytes.size() && i < 3; ++i) {
    v |= uint64_t(bytes[i] & 0x7f) << (7 * i);
    if (!(bytes[i] & 0x80)) break;
  }
  require(i < bytes.size() && i + 1 == bytes.size(), "corrupt .aec file: bad quality section");
  require(v >= uint64_t(kMinQualityCode) && v <= uint64_t(kMaxQualityCode),
          "corrupt .aec file: quality " + std::to_string(v) + " outside [100, 10000] (Q x 100)");
  return int(v);
}

namespace {

// Multiplies the weights (and bias) of the weighted layer at `index` of a layer list by per-channel scales:
// its output channels (out = true) or its input channels. The folded tensors are stored as F32.
void fold_layer(ModelFile& f, const nlohmann::json& layer, const std::vector<float>& s, bool out) {
  const std::string op = layer.at("op").get<std::string>(), name = layer.at("name").get<std::string>();
  require(f.has(name + ".weight"), "variable-rate model: no tensor '" + name + ".weight'");
  const std::vector<int64_t> shape = f.tensors.at(name + ".weight").shape;
  std::vector<float> w = f.floats(name + ".weight", shape);
  require(shape.size() >= 2, "variable-rate model: layer '" + name + "' has no channels to scale");
  // conv2d / linear: [out, in, ...]; conv_transpose2d: [in, out, ...].
  const bool tr = op == op::kConvTranspose2d;
  const int dim = (out != tr) ? 0 : 1;
  require(shape[size_t(dim)] == int64_t(s.size()),
          "variable-rate model: layer '" + name + "' does not have the latent's channel count");
  int64_t inner = 1;
  for (size_t d = 2; d < shape.size(); ++d) inner *= shape[d];
  for (int64_t a = 0; a < shape[0]; ++a)
    for (int64_t b = 0; b < shape[1]; ++b) {
      const float k = s[size_t(dim == 0 ? a : b)];
      float* p = w.data() + (a * shape[1] + b) * inner;
      for (int64_t i = 0; i < inner; ++i) p[i] *= k;
    }
  f.put_floats(name + ".weight", shape, w.data(), DType::F32);
  if (out) {
    std::vector<float> bias = f.floats(name + ".bias", {int64_t(s.size())});
    for (size_t c = 0; c < s.size(); ++c) bias[c] *= s[c];
    f.put_floats(name + ".bias", {int64_t(s.size())}, bias.data(), DType::F32);
  }
}

const nlohmann::json& weighted_layer(const nlohmann::json& list, bool last) {
  const nlohmann::json* found = nullptr;
  for (const nlohmann::json& l : list) {
    const std::string op = l.value("op", "");
    if (op::weighted(op)) {
      found = &l;
      if (!last) break;
    }
  }
  require(found != nullptr, "variable-rate model: a transform without a weighted layer");
  return *found;
}

}  // namespace

std::shared_ptr<const Model> Model::at_quality_cached(double quality) const {
  const int code = quality_code(quality);
  QualityCache& c = *quality_cache_;
  {
    std::lock_guard<std::mutex> lock(c.mu);
    if (c.model && c.code == code) return c.model;
  }
  // Built outside the lock: two threads asking for new qualities at once each build their own.
  auto m = std::make_shared<const Model>(at_quality(quality));
  std::lock_guard<std::mutex> lock(c.mu);
  c.code = code, c.model = m;
  return m;
}

Model Model::at_quality(double quality) const {
  require(variable_rate(), "model '" + info_.name + "' is single-rate: it has no quality knob (-q); " +
                               "use a variable-rate model or pick another model for another rate");
  const int code = quality_code(quality);
  const int M = info_.latent_channels;
  const double lambda = quality_lambda(info_.lambdas, code);
  const int64_t K = int64_t(info_.lambdas.size());
  const std::vector<float> gain =
      interpolate_gains(info_.lambdas, file_.floats("latent.gain", {K, M}), M, lambda);
  const std::vector<float> inv =
      interpolate_gains(info_.lambdas, file_.floats("latent.inv_gain", {K, M}), M, lambda);
  // The transforms' tensors (the two folded ones among them), not the entropy model's: "hyper.*", the
  // hyperprior's and a context model's, 70 % of a channel model's bytes, stay with the latent codec that the
  // quality's model shares (copying them made the fold 3 ms slower a call).
  ModelFile f;
  f.meta = file_.meta;
  for (const auto& [name, t] : file_.tensors)
    if (name.rfind("hyper.", 0) != 0) f.tensors.emplace_hint(f.tensors.end(), name, t);
  fold_layer(f, weighted_layer(f.meta["encoder"], true), gain, true);
  fold_layer(f, weighted_layer(f.meta["decoder"], false), inv, false);
  if (f.meta.contains("up_decoder")) fold_layer(f, weighted_layer(f.meta["up_decoder"], false), inv, false);
  f.meta.erase("variable_rate");
  f.meta["training"]["lambda"] = lambda;  // what encoder refinement trades rate against
  Model m = build(std::move(f), false, latent_codec_, up_latent_codec_);
  // The same model to the container (its identity is the variable-rate file's) at this quality.
  m.info_.model_hash = info_.model_hash, m.info_.id = info_.id, m.info_.entropy_hash = info_.entropy_hash;
  m.info_.content_hash = info_.content_hash;
  m.info_.lambdas = info_.lambdas, m.info_.default_quality = info_.default_quality;
  m.info_.quality_code = code;
  return m;
}

}  // namespace aec
