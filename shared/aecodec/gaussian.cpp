#include "aecodec/gaussian.h"

#include <cmath>
#include <utility>

#include "aecodec/error.h"

namespace aec {

namespace {

// P(N(0,1) > x), accurate in the far tail where 1 - Phi would cancel.
double upper_tail(double x) {
  return 0.5 * std::erfc(x / std::sqrt(2.0));
}

// x with upper_tail(x) = p, by bisection (p in (0, 1/2)).
double upper_quantile(double p) {
  double lo = 0, hi = 40;
  for (int i = 0; i < 200; ++i) {
    const double mid = 0.5 * (lo + hi);
    (upper_tail(mid) > p ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

}  // namespace

std::vector<double> default_scale_table() {
  const int n = 64;
  const double a = std::log(0.11), b = std::log(256.0);
  std::vector<double> s(n);
  for (int i = 0; i < n; ++i) s[size_t(i)] = std::exp(a + (b - a) * i / (n - 1));
  return s;
}

CdfTables gaussian_tables(const std::vector<double>& scales, double tail_mass, int precision) {
  require(!scales.empty(), "gaussian_tables: empty scale table");
  require(tail_mass > 0 && tail_mass < 1, "gaussian_tables: tail mass outside (0, 1)");
  const double z = upper_quantile(tail_mass / 2);
  CdfTables t;
  t.precision = precision;
  for (double s : scales) {
    require(std::isfinite(s) && s > 0 && s < 4096, "gaussian_tables: scale outside (0, 4096)");
    const int c = int(std::ceil(s * z));
    std::vector<double> pmf(size_t(2 * c + 1));
    for (int j = -c; j <= c; ++j) {
      const double a = (std::abs(j) - 0.5) / s, b = (std::abs(j) + 0.5) / s;  // symmetric: use the upper tail
      pmf[size_t(j + c)] = upper_tail(a) - upper_tail(b);
    }
    t.cdf.push_back(pmf_to_cdf(pmf, 2 * upper_tail((c + 0.5) / s), precision));
    t.offset.push_back(-c);
  }
  t.validate();
  return t;
}

std::vector<int32_t> scale_thresholds(const std::vector<double>& scales, int fraction_bits) {
  require(fraction_bits >= 0 && fraction_bits <= 20, "scale_thresholds: fraction bits outside [0, 20]");
  std::vector<int32_t> t;
  for (size_t i = 0; i + 1 < scales.size(); ++i)
    t.push_back(int32_t(std::floor(std::ldexp(scales[i], fraction_bits))));
  return t;
}

std::vector<int32_t> log_scale_fixed(const std::vector<double>& scales, int fraction_bits) {
  require(fraction_bits >= 0 && fraction_bits <= 20, "log_scale_fixed: fraction bits outside [0, 20]");
  std::vector<int32_t> t;
  for (double s : scales) {
    require(s > 0, "log_scale_fixed: scales must be positive");
    t.push_back(int32_t(std::lround(std::ldexp(std::log(s), fraction_bits))));
  }
  return t;
}

SortedCounter::SortedCounter(std::vector<int32_t> a) : a_(std::move(a)) {
  require(a_.size() < 65536, "SortedCounter: too many entries");
  for (size_t i = 1; i < a_.size(); ++i)
    require(a_[i] >= a_[i - 1], "SortedCounter: entries must not decrease");
  if (a_.empty()) return;
  const int64_t range = int64_t(a_.back()) - a_.front();
  while ((range >> shift_) + 1 > 16384) ++shift_;
  first_.resize(size_t(range >> shift_) + 1);
  size_t k = 0;
  for (size_t b = 0; b < first_.size(); ++b) {
    const int64_t start = int64_t(a_.front()) + (int64_t(b) << shift_);
    while (k < a_.size() && a_[k] < start) ++k;
    first_[b] = uint16_t(k);
  }
}

}  // namespace aec
