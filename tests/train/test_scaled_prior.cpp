// The factorized prior with a per-channel scale (a variable-rate model's gain): quality q codes y*g_q with
// unit bins against the one density of y, i.e. bins [k - 1/2, k + 1/2] / g_q. These check that this is a
// proper, consistent distribution for every scale, and that its tables are what the likelihood computes;
// and how a warm start with other lambdas derives each quality's gains.

#include <cmath>

#include "entropy_bottleneck.h"
#include "gain_map.h"
#include "torch_util.h"

// LibTorch's c10 defines a glog-style CHECK (aborts, not a Catch assertion): Catch's must win.
#undef CHECK
#include <catch2/catch.hpp>

using namespace aect;

namespace {

// A prior moved away from its initial values, with quantiles that cover it (as the aux loss would place
// them).
EntropyBottleneck trained_looking_prior(int channels) {
  torch::manual_seed(11);
  EntropyBottleneck eb(channels);
  {
    torch::NoGradGuard ng;
    for (auto& p : eb->named_parameters())
      if (p.key() != "quantiles") p.value().add_(0.3 * torch::randn_like(p.value()));
  }
  for (int i = 0; i < 2000; ++i) {  // towards the aux loss's fixed point, by plain gradient steps
    eb->quantiles().mutable_grad() = torch::Tensor();
    eb->aux_loss().backward();
    torch::NoGradGuard ng;
    eb->quantiles().sub_(0.05 * eb->quantiles().grad());
  }
  return eb;
}

}  // namespace

TEST_CASE("a scaled prior is a distribution over the unit bins for every scale, and scale 1 is the prior",
          "[train][prior]") {
  const int C = 3;
  EntropyBottleneck eb = trained_looking_prior(C);
  torch::NoGradGuard ng;
  // Every integer k in a wide range, for each channel: [1, C, 1, K]
  const int64_t K = 801;
  const torch::Tensor k = (torch::arange(K, torch::kFloat) - 400).view({1, 1, 1, K}).expand({1, C, 1, K});
  CHECK(torch::equal(eb->likelihood(k, torch::ones({C})), eb->likelihood(k)));
  double previous_bits = -1;
  for (double s : {0.25, 1.0, 4.0}) {
    const torch::Tensor p = eb->likelihood(k, torch::full({C}, s));
    const torch::Tensor mass = p.sum(3).view({C});
    INFO("scale " << s << ": mass per channel " << mass);
    CHECK((mass - 1).abs().max().item<double>() < 1e-4);
    // A larger scale spreads the same density over more bins: more bits per symbol.
    const double bits = -(p * torch::log2(p)).sum().item<double>() / C;
    CHECK(bits > previous_bits + 0.5);
    previous_bits = bits;
  }
}

TEST_CASE("a scaled prior's tables are its likelihood at the coded values, around the scaled medians",
          "[train][prior]") {
  const int C = 3;
  EntropyBottleneck eb = trained_looking_prior(C);
  torch::NoGradGuard ng;
  const torch::Tensor scale = torch::tensor({0.3f, 1.0f, 2.5f});
  const EntropyTables t = eb->tabulate(scale);
  const EntropyTables plain = eb->tabulate();
  REQUIRE(t.pmf.size() == size_t(C));
  for (int c = 0; c < C; ++c) {
    const float s = scale[c].item<float>();
    const float med = eb->medians()[c].item<float>();
    INFO("channel " << c << " scale " << s);
    CHECK(t.median[size_t(c)] == Approx(med * s).margin(1e-5));
    // The range follows the scale: the scaled quantiles' span, give or take the rounding up of each side.
    const double span = (eb->quantiles()[c][0][2] - eb->quantiles()[c][0][0]).item<double>() * s;
    CHECK(double(t.pmf[size_t(c)].size()) >= span);
    CHECK(double(t.pmf[size_t(c)].size()) <= span + 3);
    // Each tabulated probability is the likelihood of its value y = median + offset + i.
    const int64_t n = int64_t(t.pmf[size_t(c)].size());
    torch::Tensor v = torch::zeros({1, C, 1, n});
    v[0][c][0] = torch::arange(n, torch::kFloat) + t.median[size_t(c)] + float(t.offset[size_t(c)]);
    const torch::Tensor lik = eb->likelihood(v, scale)[0][c][0];
    double mass = t.tail[size_t(c)], worst = 0;
    for (int64_t i = 0; i < n; ++i) {
      mass += t.pmf[size_t(c)][size_t(i)];
      worst = std::max(worst, std::abs(lik[i].item<double>() - t.pmf[size_t(c)][size_t(i)]));
    }
    CHECK(worst < 1e-6);
    CHECK(mass == Approx(1.0).margin(1e-4));
  }
  // Scale 1 tabulates exactly as the unscaled prior.
  const EntropyTables one = eb->tabulate(torch::ones({C}));
  CHECK(one.pmf == plain.pmf);
  CHECK(one.offset == plain.offset);
}

TEST_CASE("gains for other lambdas: trained levels kept exactly, new ones log-interpolated or extrapolated",
          "[train][prior]") {
  const std::vector<double> from{0.002, 0.008, 0.032};
  const torch::Tensor g = torch::tensor({0.5f, 0.4f, 1.0f, 1.0f, 2.0f, 4.0f}).view({3, 2});
  const torch::Tensor m = map_gains(g, from, {0.001, 0.002, 0.004, 0.032});
  REQUIRE(m.sizes() == torch::IntArrayRef({4, 2}));
  CHECK(torch::equal(m[1], g[0]));  // trained: the same row
  CHECK(torch::equal(m[3], g[2]));
  // 0.004 is halfway (in log lambda) from 0.002 to 0.008: the geometric mean of their gains.
  CHECK(m[2][0].item<float>() == Approx(std::sqrt(0.5 * 1.0)).epsilon(1e-5));
  CHECK(m[2][1].item<float>() == Approx(std::sqrt(0.4 * 1.0)).epsilon(1e-5));
  // 0.001 is half a step below 0.002: the first pair's ratio continued (per channel).
  CHECK(m[0][0].item<float>() == Approx(0.5 / std::sqrt(2.0)).epsilon(1e-5));
  CHECK(m[0][1].item<float>() == Approx(0.4 / std::sqrt(2.5)).epsilon(1e-5));
  CHECK_THROWS(map_gains(g, {0.002}, {0.001}));  // one level: no direction to map along
}
