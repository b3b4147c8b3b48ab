#include "bd_rate.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <utility>

namespace aec::rd {

namespace {

int sign(double v) {
  return (v > 0) - (v < 0);
}

// End slope: the one-sided three-point estimate, kept in the shape of the data (SciPy's _edge_case).
double edge_slope(double h0, double h1, double m0, double m1) {
  const double d = ((2 * h0 + h1) * m0 - h0 * m1) / (h0 + h1);
  if (sign(d) != sign(m0)) return 0;
  if (sign(m0) != sign(m1) && std::fabs(d) > 3 * std::fabs(m0)) return 3 * m0;
  return d;
}

// Integral over [0, s*h] of the Hermite cubic of one interval (s in [0,1]).
double segment_integral(double y0, double y1, double d0, double d1, double h, double s) {
  const double s2 = s * s, s3 = s2 * s, s4 = s3 * s;
  const double i00 = s4 / 2 - s3 + s;               // of 2t^3 - 3t^2 + 1
  const double i10 = s4 / 4 - 2 * s3 / 3 + s2 / 2;  // of t^3 - 2t^2 + t
  const double i01 = -s4 / 2 + s3;                  // of -2t^3 + 3t^2
  const double i11 = s4 / 4 - s3 / 3;               // of t^3 - t^2
  return h * (i00 * y0 + i10 * h * d0 + i01 * y1 + i11 * h * d1);
}

}  // namespace

Pchip::Pchip(std::vector<double> x, std::vector<double> y) : x_(std::move(x)), y_(std::move(y)) {
  const size_t n = x_.size();
  if (n < 2 || y_.size() != n)
    throw std::invalid_argument("pchip: needs at least 2 knots and as many values");
  for (size_t i = 0; i < n; ++i)
    if (!std::isfinite(x_[i]) || !std::isfinite(y_[i]) || (i > 0 && !(x_[i] > x_[i - 1])))
      throw std::invalid_argument("pchip: knots must be finite and strictly increasing");
  std::vector<double> h(n - 1), m(n - 1);
  for (size_t i = 0; i + 1 < n; ++i) h[i] = x_[i + 1] - x_[i], m[i] = (y_[i + 1] - y_[i]) / h[i];
  d_.assign(n, 0);
  if (n == 2) {
    d_[0] = d_[1] = m[0];
  } else {
    for (size_t k = 1; k + 1 < n; ++k) {
      if (sign(m[k - 1]) * sign(m[k]) <= 0) continue;  // extremum or flat: slope 0
      const double w1 = 2 * h[k] + h[k - 1], w2 = h[k] + 2 * h[k - 1];
      d_[k] = (w1 + w2) / (w1 / m[k - 1] + w2 / m[k]);
    }
    d_[0] = edge_slope(h[0], h[1], m[0], m[1]);
    d_[n - 1] = edge_slope(h[n - 2], h[n - 3], m[n - 2], m[n - 3]);
  }
  cum_.assign(n, 0);
  for (size_t i = 0; i + 1 < n; ++i)
    cum_[i + 1] = cum_[i] + segment_integral(y_[i], y_[i + 1], d_[i], d_[i + 1], h[i], 1.0);
}

double Pchip::operator()(double x) const {
  x = std::clamp(x, x_.front(), x_.back());
  size_t i = size_t(std::upper_bound(x_.begin(), x_.end(), x) - x_.begin());
  i = std::min(i == 0 ? 0 : i - 1, x_.size() - 2);
  const double h = x_[i + 1] - x_[i], t = (x - x_[i]) / h, t2 = t * t, t3 = t2 * t;
  return (2 * t3 - 3 * t2 + 1) * y_[i] + (t3 - 2 * t2 + t) * h * d_[i] + (-2 * t3 + 3 * t2) * y_[i + 1] +
         (t3 - t2) * h * d_[i + 1];
}

double Pchip::cumulative(double x) const {
  x = std::clamp(x, x_.front(), x_.back());
  size_t i = size_t(std::upper_bound(x_.begin(), x_.end(), x) - x_.begin());
  i = std::min(i == 0 ? 0 : i - 1, x_.size() - 2);
  const double h = x_[i + 1] - x_[i];
  return cum_[i] + segment_integral(y_[i], y_[i + 1], d_[i], d_[i + 1], h, (x - x_[i]) / h);
}

double Pchip::integral(double a, double b) const {
  return cumulative(b) - cumulative(a);
}

namespace {

// (x, y) knots for a fit of y over x: finite points only, sorted by x, equal x merged by averaging y.
bool knots(std::vector<std::pair<double, double>> p, std::vector<double>& x, std::vector<double>& y) {
  p.erase(std::remove_if(p.begin(), p.end(),
                         [](const auto& q) { return !std::isfinite(q.first) || !std::isfinite(q.second); }),
          p.end());
  std::sort(p.begin(), p.end());
  x.clear(), y.clear();
  for (size_t i = 0; i < p.size();) {
    size_t j = i;
    double sum = 0;
    while (j < p.size() && p[j].first == p[i].first) sum += p[j++].second;
    x.push_back(p[i].first), y.push_back(sum / double(j - i));
    i = j;
  }
  return x.size() >= 2;
}

enum class Axis { rate_over_psnr, psnr_over_rate };

BdResult bd(const std::vector<RatePoint>& anchor, const std::vector<RatePoint>& test, Axis axis) {
  BdResult r;
  std::vector<double> xa, ya, xt, yt;
  auto pairs = [axis](const std::vector<RatePoint>& c) {
    std::vector<std::pair<double, double>> p;
    for (const RatePoint& q : c) {
      if (!(q.rate > 0)) continue;
      const double lr = std::log(q.rate);
      p.emplace_back(axis == Axis::rate_over_psnr ? q.psnr : lr, axis == Axis::rate_over_psnr ? lr : q.psnr);
    }
    return p;
  };
  const double nan = std::numeric_limits<double>::quiet_NaN();
  r.value = nan;
  const bool rate_x = axis == Axis::psnr_over_rate;
  const bool anchor_ok = knots(pairs(anchor), xa, ya), test_ok = knots(pairs(test), xt, yt);
  if (anchor_ok && !test_ok && xt.size() == 1) {
    // A one-point test curve (a single-rate model): the difference at its own PSNR (rate), read off the
    // anchor's fit there; lo = hi = that PSNR (rate).
    r.lo = r.hi = rate_x ? std::exp(xt[0]) : xt[0];
    if (xt[0] < xa.front() || xt[0] > xa.back()) {
      r.note = rate_x ? "rate outside the anchor's range" : "PSNR outside the anchor's range";
      return r;
    }
    const double diff = yt[0] - Pchip(xa, ya)(xt[0]);
    r.value = rate_x ? diff : (std::exp(diff) - 1) * 100;
    return r;
  }
  if (!anchor_ok || !test_ok) {
    r.note = "fewer than 2 distinct points";
    return r;
  }
  const double lo = std::max(xa.front(), xt.front()), hi = std::min(xa.back(), xt.back());
  r.lo = rate_x ? std::exp(lo) : lo, r.hi = rate_x ? std::exp(hi) : hi;
  if (!(hi > lo)) {
    r.note = rate_x ? "rate ranges do not overlap" : "PSNR ranges do not overlap";
    return r;
  }
  const Pchip fa(xa, ya), ft(xt, yt);
  const double mean_diff = (ft.integral(lo, hi) - fa.integral(lo, hi)) / (hi - lo);
  r.value = rate_x ? mean_diff : (std::exp(mean_diff) - 1) * 100;
  return r;
}

}  // namespace

BdResult bd_rate(const std::vector<RatePoint>& anchor, const std::vector<RatePoint>& test) {
  return bd(anchor, test, Axis::rate_over_psnr);
}

BdResult bd_psnr(const std::vector<RatePoint>& anchor, const std::vector<RatePoint>& test) {
  return bd(anchor, test, Axis::psnr_over_rate);
}

double psnr_at_rate(const std::vector<RatePoint>& curve, double rate) {
  std::vector<std::pair<double, double>> p;  // (rate, psnr), finite only
  for (const RatePoint& q : curve)
    if (std::isfinite(q.rate) && std::isfinite(q.psnr)) p.emplace_back(q.rate, q.psnr);
  std::sort(p.begin(), p.end());
  std::vector<std::pair<double, double>> merged;  // equal rates: their mean PSNR
  for (size_t i = 0; i < p.size();) {
    size_t j = i;
    double sum = 0;
    for (; j < p.size() && p[j].first == p[i].first; ++j) sum += p[j].second;
    merged.emplace_back(p[i].first, sum / double(j - i));
    i = j;
  }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (merged.empty() || !(rate >= merged.front().first) || !(rate <= merged.back().first)) return nan;
  for (size_t i = 1; i < merged.size(); ++i)
    if (rate <= merged[i].first) {
      const auto [r0, q0] = merged[i - 1];
      const auto [r1, q1] = merged[i];
      return q0 + (q1 - q0) * (rate - r0) / (r1 - r0);
    }
  return merged.front().second;  // one point, at exactly its rate
}

}  // namespace aec::rd
