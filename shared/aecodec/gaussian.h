// The Gaussian conditional entropy model of a hyperprior model (CompressAI's GaussianConditional): a table
// of scales, one integer CDF per scale for a zero-mean Gaussian of that scale convolved with a unit box, and
// integer thresholds that pick a table for a fixed-point scale. The tables are built at export (here, so the
// trainer and the test models share one definition) and stored in the model file; decoding only reads them
// and compares integers (scale_index), so which table codes a symbol never depends on float arithmetic.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "aecodec/entropy.h"

namespace aec {

// CompressAI's default: 64 scales exp(linspace(log 0.11, log 256)).
std::vector<double> default_scale_table();

// Per scale s: symbols -c..c with c = ceil(s * z), z the standard normal's (1 - tail_mass / 2) quantile,
// pmf(j) = Phi((j + 1/2) / s) - Phi((j - 1/2) / s), both tails (tail_mass in all) behind the escape symbol;
// table offset -c. Deterministic in IEEE double, but only ever run at export.
CdfTables gaussian_tables(const std::vector<double>& scales, double tail_mass = 1e-9,
                          int precision = kCdfPrecision);

// t_i = floor(scales[i] * 2^fraction_bits) for i < S - 1.
std::vector<int32_t> scale_thresholds(const std::vector<double>& scales, int fraction_bits);

// A context model's scales in the log domain (channel_context.h): l_i = round(ln(scales[i]) *
// 2^fraction_bits) for every scale; a log scale L picks table #{i < S - 1 : L > l_i}, so L = l_k picks table
// k. Computed at export and stored in the model file, as the thresholds are.
std::vector<int32_t> log_scale_fixed(const std::vector<double>& scales, int fraction_bits);

// #{i < n : a[i] < v} for a non-decreasing a: a bisection without branches (the step compiles to a
// conditional move), so that a table choice per latent element costs the same however unpredictable the
// values are; it takes ceil(log2 n) + 1 comparisons where a branching search mispredicts about half of them.
template <class T, class V>
inline size_t count_below(const T* a, size_t n, V v) {
  if (n == 0) return 0;
  const T* base = a;
  while (n > 1) {
    const size_t half = n / 2;
    base = base[half] < v ? base + half : base;
    n -= half;
  }
  return size_t(base - a) + size_t(*base < v);
}

// count_below for one fixed non-decreasing table, by lookup: the range a[0]..a[n-1] cut into at most 16384
// buckets of 2^shift values, each knowing how many entries lie below its start; a value's count is its
// bucket's plus the entries inside the bucket below it (a bucket narrower than the entries' gaps holds at
// most one). The same count as count_below, in one table load and a compare or two instead of a chain of
// dependent ones: the table choice per latent element.
class SortedCounter {
 public:
  SortedCounter() = default;
  explicit SortedCounter(std::vector<int32_t> a);
  const std::vector<int32_t>& entries() const { return a_; }
  size_t count(int64_t v) const {
    if (a_.empty() || v <= a_.front()) return 0;
    if (v > a_.back()) return a_.size();
    size_t k = first_[size_t((v - a_.front()) >> shift_)];
    while (a_[k] < v) ++k;  // stops at the last entry at the latest: a_.back() >= v
    return k;
  }

 private:
  std::vector<int32_t> a_;
  std::vector<uint16_t> first_;  // per bucket: #{i : a[i] < the bucket's first value}
  int shift_ = 0;
};

// The table for a scale given in fixed point with the thresholds' fraction bits: #{i : v > t_i}, i.e. the
// smallest table scale >= v (the last table above the largest, the first below the smallest, which is
// CompressAI's lower bound on scales). thresholds must be non-decreasing (checked when a model loads).
inline int32_t scale_index(int32_t v, const std::vector<int32_t>& thresholds) {
  return int32_t(count_below(thresholds.data(), thresholds.size(), v));
}

}  // namespace aec
