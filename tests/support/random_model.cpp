#include "random_model.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "aecodec/entropy.h"
#include "aecodec/gaussian.h"
#include "aecodec/hyperprior.h"
#include "aecodec/model.h"

namespace aec::testing {

namespace {

using nlohmann::json;

struct Builder {
  ModelFile& f;
  std::mt19937& rng;
  DType stored;

  void weights(const std::string& name, std::vector<int64_t> shape, float scale) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::normal_distribution<float> d(0.0f, scale);
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) x = d(rng);
    f.put_floats(name, shape, v.data(), stored);
  }
  json conv(const std::string& name, int in, int out, bool transposed) {
    const int k = 5;
    weights(name + ".weight",
            transposed ? std::vector<int64_t>{in, out, k, k} : std::vector<int64_t>{out, in, k, k},
            1.0f / std::sqrt(float(in * k * k) / (transposed ? 4.0f : 1.0f)));
    weights(name + ".bias", {out}, 0.05f);
    json j = {{"op", transposed ? "conv_transpose2d" : "conv2d"},
              {"name", name},
              {"in", in},
              {"out", out},
              {"kernel", k},
              {"stride", 2},
              {"padding", 2}};
    if (transposed) j["output_padding"] = 1;
    return j;
  }
  json gdn(const std::string& name, int c, bool inverse) {
    std::uniform_real_distribution<float> u(0.0f, 0.1f);
    std::vector<float> beta(static_cast<size_t>(c)), gamma(size_t(c) * c);
    for (float& b : beta) b = 1.0f + u(rng);
    for (int i = 0; i < c; ++i)
      for (int j = 0; j < c; ++j) gamma[size_t(i) * c + j] = (i == j ? 0.1f : 0.0f) + u(rng) * 0.1f;
    f.put_floats(name + ".beta", {c}, beta.data(), stored);
    f.put_floats(name + ".gamma", {c, c}, gamma.data(), stored);
    return {{"op", "gdn"}, {"name", name}, {"channels", c}, {"inverse", inverse}};
  }
  json linear(const std::string& name, int in, int out) {
    weights(name + ".weight", {out, in}, 1.0f / std::sqrt(float(in)));
    weights(name + ".bias", {out}, 0.05f);
    return {{"op", "linear"}, {"name", name}, {"in", in}, {"out", out}};
  }
};

// Discretised Laplacians of random scales over [-R, R] per channel, through the real pmf_to_cdf.
CdfTables laplacian_tables(int channels, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> scale(0.3, 4.0);
  const int R = 24, n = 2 * R + 1;
  CdfTables t;
  for (int c = 0; c < channels; ++c) {
    const double b = scale(rng);
    std::vector<double> pmf(static_cast<size_t>(n));
    double total = 0;
    for (int i = 0; i < n; ++i) total += pmf[size_t(i)] = std::exp(-std::abs(i - R) / b);
    for (double& p : pmf) p = p / total * 0.999;
    t.cdf.push_back(pmf_to_cdf(pmf, 0.001));
    t.offset.push_back(-R);
  }
  return t;
}

void entropy_tables(ModelFile& f, int channels, uint32_t seed) {
  put_cdf_tables(f, "entropy", laplacian_tables(channels, seed));
  std::vector<float> step(size_t(channels), 1.0f), offset(size_t(channels), 0.0f);
  f.put_floats("latent.step", {channels}, step.data());
  f.put_floats("latent.offset", {channels}, offset.data());
}

// 16 scales up to 12 instead of the trainer's 64 up to 256: the large scales' tables dominate a file's size
// (800 KB), and a test model under 64 KB lets the fuzzers mutate all of it.
std::vector<double> test_scale_table() {
  std::vector<double> scales;
  for (int i = 0; i < 16; ++i) scales.push_back(0.11 * std::pow(12.0 / 0.11, i / 15.0));
  return scales;
}

// A mean-scale hyperprior over an m-channel latent with n hyper channels: h_a as the trainer builds it
// (float), h_s quantised from random float weights by the exporters' quantize_conv, random z tables and
// medians, and the real Gaussian tables. The last layer's scale half is biased upwards so that most scales
// land inside the table (random weights would otherwise put half of them at the smallest scale).
json hyperprior_entropy(Builder& b, int n, int m, uint32_t seed) {
  ModelFile& f = b.f;
  json h_a = json::array(), h_s = json::array();
  auto conv = [&](const std::string& name, int in, int out, int k, int stride) {
    b.weights(name + ".weight", {out, in, k, k}, 1.0f / std::sqrt(float(in * k * k)));
    b.weights(name + ".bias", {out}, 0.05f);
    return json{{"op", "conv2d"}, {"name", name},     {"in", in},        {"out", out},
                {"kernel", k},    {"stride", stride}, {"padding", k / 2}};
  };
  h_a.push_back(conv("hyper.h_a.0", m, n, 3, 1));
  h_a.push_back({{"op", "relu"}});
  h_a.push_back(conv("hyper.h_a.2", n, n, 5, 2));
  h_a.push_back({{"op", "relu"}});
  h_a.push_back(conv("hyper.h_a.4", n, n, 5, 2));

  std::mt19937 rng(seed);
  auto int_layer = [&](const std::string& name, int in, int out, int k, int stride, bool transposed,
                       bool relu, int in_bits, int out_bits) {
    std::normal_distribution<float> d(0.0f, 1.0f / std::sqrt(float(in * k * k) / (transposed ? 4.0f : 1.0f)));
    std::vector<float> w(size_t(in) * out * k * k), bias(static_cast<size_t>(out));
    for (float& v : w) v = d(rng);
    for (int o = 0; o < out; ++o) bias[size_t(o)] = !relu && o < out / 2 ? 2.0f : 0.1f;
    ConvShape s{in, out, k, stride, k / 2, transposed ? stride - 1 : 0};
    return put_int_conv(f, name,
                        quantize_conv(w.data(), bias.data(), s, transposed, relu, in_bits, out_bits));
  };
  h_s.push_back(int_layer("hyper.h_s.0", n, n, 5, 2, true, true, kHyperZBits, kHyperHiddenBits));
  h_s.push_back(int_layer("hyper.h_s.1", n, n, 5, 2, true, true, kHyperHiddenBits, kHyperHiddenBits));
  h_s.push_back(int_layer("hyper.h_s.2", n, 2 * m, 3, 1, false, false, kHyperHiddenBits, kHyperOutBits));

  put_cdf_tables(f, "hyper.z", laplacian_tables(n, seed + 1));
  std::uniform_int_distribution<int32_t> median(-(1 << kHyperZBits) / 2, (1 << kHyperZBits) / 2);
  std::vector<int32_t> medians(static_cast<size_t>(n));
  for (int32_t& v : medians) v = median(rng);
  f.put_ints("hyper.z.median", {n}, medians.data());
  const std::vector<double> scales = test_scale_table();
  put_cdf_tables(f, "hyper.gaussian", gaussian_tables(scales));
  const std::vector<int32_t> thresholds = scale_thresholds(scales, kHyperOutBits);
  f.put_ints("hyper.gaussian.threshold", {int64_t(thresholds.size())}, thresholds.data());
  std::vector<float> table(scales.begin(), scales.end());
  f.put_floats("hyper.gaussian.scale", {int64_t(table.size())}, table.data());
  return {{"kind", "hyperprior"},
          {"precision", 16},
          {"hyper_channels", n},
          {"z_fraction_bits", kHyperZBits},
          {"mean_fraction_bits", kHyperOutBits},
          {"hyper_encoder", h_a},
          {"hyper_decoder", h_s}};
}

// The channel context model (aec::ChannelContext) as the trainer exports it (native/train/int_channel.cpp),
// small: slices 1, 2, 3, ... channels (the last takes the rest) unless given, E = 4 features, 4 hidden
// channels in every slice net. The integer layers are quantised from random float weights by quantize_conv
// with the exporter's fixed-point bits; the LRP nets are float with small weights. Its own random stream, so
// the hyperprior's tensors are those of the hyperprior model with the same seeds.
json channel_context(ModelFile& f, int m, std::vector<int> slices, uint32_t seed, DType stored) {
  const int E = 4, hidden = 4;
  const int kFeatureBits = 8;  // as the exporter (IntChannelContext::kFeatureBits)
  if (slices.empty())
    for (int k = 1, left = m; left > 0; left -= slices.back(), ++k) slices.push_back(std::min(k, left));
  std::mt19937 rng(seed);
  Builder b{f, rng, stored};
  auto int_layer = [&](const std::string& name, int in, int out, bool relu, int in_bits, int out_bits) {
    const int k = 3;
    std::normal_distribution<float> d(0.0f, 1.0f / std::sqrt(float(in * k * k)));
    std::vector<float> w(size_t(in) * out * k * k), bias(static_cast<size_t>(out));
    for (float& v : w) v = d(rng);
    for (float& v : bias) v = 0.1f * d(rng);
    const ConvShape s{in, out, k, 1, k / 2, 0};
    return put_int_conv(f, name, quantize_conv(w.data(), bias.data(), s, false, relu, in_bits, out_bits));
  };
  auto float_conv = [&](const std::string& name, int in, int out) {
    const int k = 3;
    b.weights(name + ".weight", {out, in, k, k}, 0.5f / std::sqrt(float(in * k * k)));
    b.weights(name + ".bias", {out}, 0.05f);
    return json{{"op", "conv2d"}, {"name", name}, {"in", in},        {"out", out},
                {"kernel", k},    {"stride", 1},  {"padding", k / 2}};
  };
  const std::vector<int32_t> log_scale = log_scale_fixed(test_scale_table(), kHyperOutBits);
  f.put_ints("hyper.context.log_scale", {int64_t(log_scale.size())}, log_scale.data());
  json ctx = {
      {"slices", slices}, {"feature_bits", kFeatureBits}, {"param", json::array()}, {"lrp", json::array()}};
  ctx["embed"] = json::array({int_layer("hyper.context.embed", 2 * m, E, true, kFeatureBits, kFeatureBits)});
  int off = 0;
  for (size_t k = 0; k < slices.size(); ++k) {
    const int c = slices[k];
    const std::string pk = "hyper.context.param." + std::to_string(k),
                      lk = "hyper.context.lrp." + std::to_string(k);
    ctx["param"].push_back({int_layer(pk + ".0", E + off, hidden, true, kFeatureBits, kHyperHiddenBits),
                            int_layer(pk + ".1", hidden, 2 * c, false, kHyperHiddenBits, kHyperOutBits)});
    ctx["lrp"].push_back(
        {float_conv(lk + ".0", E + off + c, hidden), {{"op", "relu"}}, float_conv(lk + ".3", hidden, c)});
    off += c;
  }
  return ctx;
}

}  // namespace

ModelFile make_random_model(const RandomModelSpec& s) {
  ModelFile f;
  std::mt19937 rng(s.seed);
  Builder b{f, rng, s.stored};
  json enc = json::array(), dec = json::array();
  int stride = 1 << s.stages;
  json input = {{"channels", 3}, {"stride", stride}, {"size", nullptr}};
  if (s.arch == "fc") {
    const int side = 8, in = 3 * side * side;
    stride = 1;
    input = {{"channels", 3}, {"stride", 1}, {"size", {side, side}}};
    enc.push_back(b.linear("enc.0", in, s.n));
    enc.push_back({{"op", "relu"}});
    enc.push_back(b.linear("enc.1", s.n, s.m));
    dec.push_back(b.linear("dec.0", s.m, s.n));
    dec.push_back({{"op", "leaky_relu"}, {"slope", 0.1}});
    dec.push_back(b.linear("dec.1", s.n, in));
    dec.push_back({{"op", "reshape"}, {"shape", {3, side, side}}});
    dec.push_back({{"op", "sigmoid"}});
  } else {
    const bool gdn = s.arch == "factorized" || s.arch == "hyperprior" || s.arch == "channel";
    const int last = s.arch == "vae" ? 2 * s.m : s.m;
    for (int i = 0; i < s.stages; ++i) {
      const int in = i == 0 ? 3 : s.n, out = i + 1 == s.stages ? last : s.n;
      enc.push_back(b.conv("enc." + std::to_string(2 * i), in, out, false));
      if (i + 1 < s.stages)
        enc.push_back(gdn ? b.gdn("enc." + std::to_string(2 * i + 1), out, false) : json{{"op", "relu"}});
    }
    if (s.arch == "vae") enc.push_back({{"op", "slice_channels"}, {"begin", 0}, {"end", s.m}});
    for (int i = 0; i < s.stages; ++i) {
      const int in = i == 0 ? s.m : s.n, out = i + 1 == s.stages ? 3 : s.n;
      dec.push_back(b.conv("dec." + std::to_string(2 * i), in, out, true));
      if (i + 1 < s.stages)
        dec.push_back(gdn ? b.gdn("dec." + std::to_string(2 * i + 1), out, true) : json{{"op", "relu"}});
    }
    if (!gdn) dec.push_back({{"op", "tanh"}});
  }
  json entropy = {{"kind", "factorized"}, {"precision", 16}};
  if (s.arch == "hyperprior" || s.arch == "channel") {
    entropy = hyperprior_entropy(b, s.n, s.m, s.entropy_seed);
    if (s.arch == "channel") {
      entropy["kind"] = "channel";
      entropy["context"] = channel_context(f, s.m, s.slices, s.entropy_seed + 100, s.stored);
    }
  } else {
    entropy_tables(f, s.m, s.entropy_seed);
  }
  const bool conditional = s.arch == "hyperprior" || s.arch == "channel";
  f.meta = {{"format", ModelFile::kFormat},
            {"format_version", ModelFile::kFormatVersion},
            {"name", s.name},
            {"arch", s.arch},
            {"description", "random weights, for tests"},
            {"input", input},
            {"latent", {{"channels", s.m}}},
            {"encoder", enc},
            {"decoder", dec},
            {"quantizer", {{"kind", conditional ? "conditional_mean" : "uniform"}}},
            {"entropy", entropy},
            {"training", {{"note", "untrained: random weights"}, {"seed", s.seed}}}};
  if (!s.family_id.empty())
    f.meta["family"] = {{"id", s.family_id}, {"role", s.family_role}, {"stride", stride}};
  return f;
}

ModelFile with_up_decoder(ModelFile medium, const ModelFile& high) {
  nlohmann::json up = high.meta.at("decoder");
  for (nlohmann::json& l : up) {
    if (!l.contains("name")) continue;
    const std::string from = l["name"].get<std::string>(), to = "up_" + from;
    for (const char* part : {".weight", ".bias", ".beta", ".gamma"})
      if (high.has(from + part)) medium.tensors[to + part] = high.tensors.at(from + part);
    l["name"] = to;
  }
  medium.meta["up_decoder"] = up;
  return medium;
}

ModelFile make_random_model_of(const std::string& arch) {
  RandomModelSpec s;
  s.arch = arch, s.name = "test-" + arch;
  return make_random_model(s);
}

}  // namespace aec::testing
