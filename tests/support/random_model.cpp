#include "random_model.h"

#include <cmath>
#include <random>

#include "aecodec/entropy.h"

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
    weights(name + ".weight", transposed ? std::vector<int64_t>{in, out, k, k} : std::vector<int64_t>{out, in, k, k},
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
void entropy_tables(ModelFile& f, int channels, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> scale(0.3, 4.0);
  const int R = 24, n = 2 * R + 1, L = n + 2;
  std::vector<int32_t> cdf(size_t(channels) * L, 0), lengths(size_t(channels), L), offsets(size_t(channels), -R);
  std::vector<float> step(size_t(channels), 1.0f), offset(size_t(channels), 0.0f);
  for (int c = 0; c < channels; ++c) {
    const double b = scale(rng);
    std::vector<double> pmf(static_cast<size_t>(n));
    double total = 0;
    for (int i = 0; i < n; ++i) total += pmf[size_t(i)] = std::exp(-std::abs(i - R) / b);
    for (double& p : pmf) p = p / total * 0.999;
    const std::vector<uint32_t> t = pmf_to_cdf(pmf, 0.001);
    for (int i = 0; i < L; ++i) cdf[size_t(c) * L + i] = int32_t(t[size_t(i)]);
  }
  f.put_ints("entropy.cdf", {channels, L}, cdf.data());
  f.put_ints("entropy.cdf_length", {channels}, lengths.data());
  f.put_ints("entropy.offset", {channels}, offsets.data());
  f.put_floats("latent.step", {channels}, step.data());
  f.put_floats("latent.offset", {channels}, offset.data());
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
    const bool gdn = s.arch == "factorized";
    const int last = s.arch == "vae" ? 2 * s.m : s.m;
    for (int i = 0; i < s.stages; ++i) {
      const int in = i == 0 ? 3 : s.n, out = i + 1 == s.stages ? last : s.n;
      enc.push_back(b.conv("enc." + std::to_string(2 * i), in, out, false));
      if (i + 1 < s.stages) enc.push_back(gdn ? b.gdn("enc." + std::to_string(2 * i + 1), out, false) : json{{"op", "relu"}});
    }
    if (s.arch == "vae") enc.push_back({{"op", "slice_channels"}, {"begin", 0}, {"end", s.m}});
    for (int i = 0; i < s.stages; ++i) {
      const int in = i == 0 ? s.m : s.n, out = i + 1 == s.stages ? 3 : s.n;
      dec.push_back(b.conv("dec." + std::to_string(2 * i), in, out, true));
      if (i + 1 < s.stages) dec.push_back(gdn ? b.gdn("dec." + std::to_string(2 * i + 1), out, true) : json{{"op", "relu"}});
    }
    if (!gdn) dec.push_back({{"op", "tanh"}});
  }
  entropy_tables(f, s.m, s.entropy_seed);
  f.meta = {{"format", ModelFile::kFormat},
            {"format_version", ModelFile::kFormatVersion},
            {"name", s.name},
            {"arch", s.arch},
            {"description", "random weights, for tests"},
            {"input", input},
            {"latent", {{"channels", s.m}}},
            {"encoder", enc},
            {"decoder", dec},
            {"quantizer", {{"kind", "uniform"}}},
            {"entropy", {{"kind", "factorized"}, {"precision", 16}}},
            {"training", {{"note", "untrained: random weights"}, {"seed", s.seed}}}};
  if (!s.family_id.empty()) f.meta["family"] = {{"id", s.family_id}, {"role", s.family_role}, {"stride", stride}};
  return f;
}

}  // namespace aec::testing
