// BD-rate (Bjøntegaard, PCHIP fit of log-rate over PSNR) and the PCHIP interpolant it rests on, against
// hand-computed values (native/cli/bd_rate.cpp; `aecodec rd` uses it).
#include <catch2/catch.hpp>

#include <cmath>
#include <stdexcept>
#include <vector>

#include "bd_rate.h"

using aec::rd::bd_psnr;
using aec::rd::bd_rate;
using aec::rd::Pchip;
using aec::rd::psnr_at_rate;
using aec::rd::RatePoint;

namespace {

std::vector<RatePoint> curve(const std::vector<double>& rate, const std::vector<double>& psnr) {
  std::vector<RatePoint> c;
  for (size_t i = 0; i < rate.size(); ++i) c.push_back({rate[i], psnr[i]});
  return c;
}

// A JPEG-like curve: concave log-rate over PSNR, uneven PSNR spacing.
const std::vector<double> kRate = {0.21, 0.44, 0.83, 1.52, 2.61};
const std::vector<double> kPsnr = {27.1, 30.4, 33.0, 35.9, 38.2};

}  // namespace

TEST_CASE("pchip is exact at the knots and matches hand-computed slopes", "[bd_rate]") {
  // Secants 0.5 and 1 on equal intervals h = 2. Interior: weighted harmonic mean 6h / (3h/0.5 + 3h/1) = 2/3.
  // Ends (three-point): ((2h+h)*0.5 - h*1) / 2h = 0.25 and ((2h+h)*1 - h*0.5) / 2h = 1.25.
  const Pchip p({30, 32, 34}, {0, 1, 3});
  REQUIRE(p.slopes().size() == 3);
  CHECK(p.slopes()[0] == Approx(0.25).epsilon(1e-12));
  CHECK(p.slopes()[1] == Approx(2.0 / 3.0).epsilon(1e-12));
  CHECK(p.slopes()[2] == Approx(1.25).epsilon(1e-12));
  CHECK(p(30) == 0);
  CHECK(p(32) == Approx(1).margin(1e-12));
  CHECK(p(34) == Approx(3).margin(1e-12));
  // Hermite integral per interval: h (y0 + y1) / 2 + h^2 (d0 - d1) / 12 -> 1 - 5/36 + 4 - 7/36 = 14/3.
  CHECK(p.integral(30, 34) == Approx(14.0 / 3.0).epsilon(1e-12));
  CHECK(p.integral(30, 32) == Approx(1 - 5.0 / 36).epsilon(1e-12));

  const Pchip q(kPsnr, {std::log(0.21), std::log(0.44), std::log(0.83), std::log(1.52), std::log(2.61)});
  for (size_t i = 0; i < kPsnr.size(); ++i) CHECK(q(kPsnr[i]) == Approx(std::log(kRate[i])).margin(1e-12));
}

TEST_CASE("pchip is monotone on monotone data and does not overshoot", "[bd_rate]") {
  // A step: a cubic spline would overshoot past 5.2 and dip below 0 here.
  const std::vector<double> x = {0, 1, 2, 3, 4, 5, 7}, y = {0, 0, 0.1, 5, 5.2, 5.2, 5.3};
  const Pchip p(x, y);
  for (size_t i = 0; i < x.size(); ++i) CHECK(p(x[i]) == Approx(y[i]).margin(1e-12));
  double prev = p(0);
  for (int i = 1; i <= 7000; ++i) {
    const double v = p(i / 1000.0);
    REQUIRE(v >= prev - 1e-12);
    REQUIRE(v >= -1e-12);
    REQUIRE(v <= 5.3 + 1e-12);
    prev = v;
  }
  // Decreasing data: monotone the other way. Flat intervals stay flat.
  const Pchip d({1, 2, 4, 5}, {9, 3, 3, -1});
  prev = d(1);
  for (int i = 1; i <= 4000; ++i) {
    const double v = d(1 + i / 1000.0);
    REQUIRE(v <= prev + 1e-12);
    prev = v;
  }
  CHECK(d(3) == Approx(3).margin(1e-12));
  // A local extremum gets slope 0.
  const Pchip e({0, 1, 2}, {0, 1, 0});
  CHECK(e.slopes()[1] == 0);
}

TEST_CASE("pchip integral agrees with numerical integration", "[bd_rate]") {
  const Pchip p(kPsnr, {0.3, 0.1, 2.0, 2.2, 4.0});
  const double a = 28.3, b = 37.4;
  // Simpson's rule is exact for cubics within an interval; the knots are off the grid: allow a small error.
  const int n = 20000;
  double s = p(a) + p(b);
  for (int i = 1; i < n; ++i) s += (i % 2 ? 4 : 2) * p(a + (b - a) * i / n);
  CHECK(p.integral(a, b) == Approx(s * (b - a) / (3.0 * n)).epsilon(1e-9));
  CHECK(p.integral(a, a) == 0);
}

TEST_CASE("pchip rejects bad knots", "[bd_rate]") {
  CHECK_THROWS_AS(Pchip({1}, {1}), std::invalid_argument);
  CHECK_THROWS_AS(Pchip({1, 1}, {1, 2}), std::invalid_argument);
  CHECK_THROWS_AS(Pchip({2, 1}, {1, 2}), std::invalid_argument);
  CHECK_THROWS_AS(Pchip({1, 2}, {1, NAN}), std::invalid_argument);
}

TEST_CASE("BD-rate of a curve against itself is 0", "[bd_rate]") {
  const auto c = curve(kRate, kPsnr);
  const auto r = bd_rate(c, c);
  REQUIRE(r.ok());
  CHECK(r.value == Approx(0).margin(1e-12));
  CHECK(r.lo == Approx(27.1));
  CHECK(r.hi == Approx(38.2));
  CHECK(bd_psnr(c, c).value == Approx(0).margin(1e-12));
}

TEST_CASE("BD-rate of the same curve at 0.9x the rates is -10%", "[bd_rate]") {
  std::vector<double> r90;
  for (double r : kRate) r90.push_back(0.9 * r);
  const auto r = bd_rate(curve(kRate, kPsnr), curve(r90, kPsnr));
  REQUIRE(r.ok());
  CHECK(r.value == Approx(-10).epsilon(1e-9));
  // and the other way round: 1/0.9 the rate = +11.1%
  CHECK(bd_rate(curve(r90, kPsnr), curve(kRate, kPsnr)).value == Approx((1 / 0.9 - 1) * 100).epsilon(1e-9));
}

TEST_CASE("BD-rate of a curve shifted +1 dB matches the hand-computed value", "[bd_rate]") {
  // Rate doubles every 6 dB: log R = log 0.25 + (P - 30) ln2 / 6, a straight line that PCHIP reproduces.
  // Shifted +1 dB, the test curve needs 2^(-1/6) times the rate at every PSNR of the shared range [31, 39]:
  // BD-rate = 2^(-1/6) - 1 = -10.910%.
  std::vector<double> rate, psnr, psnr_up;
  for (double p : {30.0, 33.0, 36.0, 39.0}) {
    rate.push_back(0.25 * std::pow(2.0, (p - 30) / 6));
    psnr.push_back(p);
    psnr_up.push_back(p + 1);
  }
  const auto r = bd_rate(curve(rate, psnr), curve(rate, psnr_up));
  REQUIRE(r.ok());
  CHECK(r.value == Approx((std::pow(2.0, -1.0 / 6) - 1) * 100).epsilon(1e-9));
  CHECK(r.value == Approx(-10.910).margin(0.001));
  CHECK(r.lo == Approx(31));
  CHECK(r.hi == Approx(39));
  // BD-PSNR of the same pair: +1 dB over the shared rate range.
  CHECK(bd_psnr(curve(rate, psnr), curve(rate, psnr_up)).value == Approx(1).epsilon(1e-9));

  // A curved anchor (log-rate 0, 1, 3 at 30, 32, 34 dB; integral 14/3, see the pchip test) against a straight
  // test curve (log-rate 0 to 2; integral 4): mean difference -1/6, BD-rate e^(-1/6) - 1 = -15.35%.
  const auto a = curve({1, std::exp(1.0), std::exp(3.0)}, {30, 32, 34});
  const auto t = curve({1, std::exp(2.0)}, {30, 34});
  CHECK(bd_rate(a, t).value == Approx((std::exp(-1.0 / 6) - 1) * 100).epsilon(1e-9));

  // The realistic curve shifted +1 dB is cheaper too, by less than the local slope would say at worst.
  std::vector<double> up;
  for (double p : kPsnr) up.push_back(p + 1);
  const double v = bd_rate(curve(kRate, kPsnr), curve(kRate, up)).value;
  CHECK(v < -5);
  CHECK(v > -30);
}

TEST_CASE("BD-rate input handling", "[bd_rate]") {
  // Order does not matter; equal PSNR values are merged; non-positive rates are dropped.
  const auto c = curve(kRate, kPsnr);
  auto shuffled = curve({kRate[3], kRate[0], kRate[4], kRate[1], kRate[2], -1.0},
                        {kPsnr[3], kPsnr[0], kPsnr[4], kPsnr[1], kPsnr[2], 50});
  CHECK(bd_rate(c, shuffled).value == Approx(0).margin(1e-12));
  auto dup = c;
  dup.push_back({kRate[2] * 1.0001, kPsnr[2]});
  CHECK(bd_rate(c, dup).ok());
  // No overlap, or too few points: NaN with a reason.
  const auto low = curve({0.1, 0.2}, {20, 22}), high = curve({1, 2}, {30, 32});
  const auto r = bd_rate(low, high);
  CHECK_FALSE(r.ok());
  CHECK(std::isnan(r.value));
  CHECK(r.note == "PSNR ranges do not overlap");
  CHECK_FALSE(bd_rate(curve({1}, {30}), c).ok());  // a one-point anchor has no fit
  CHECK(bd_rate(curve({1}, {30}), c).note == "fewer than 2 distinct points");
}

TEST_CASE("BD-rate of a one-point curve is the rate difference at its PSNR", "[bd_rate]") {
  // The straight anchor of the test above (rate doubles every 6 dB), and single-rate models on and off it.
  std::vector<double> rate, psnr;
  for (double p : {30.0, 33.0, 36.0, 39.0})
    rate.push_back(0.25 * std::pow(2.0, (p - 30) / 6)), psnr.push_back(p);
  const auto anchor = curve(rate, psnr);
  const double at34 = 0.25 * std::pow(2.0, 4.0 / 6);  // the anchor's rate at 34 dB, between two knots
  auto one = bd_rate(anchor, curve({0.9 * at34}, {34}));
  REQUIRE(one.ok());
  CHECK(one.value == Approx(-10).epsilon(1e-9));
  CHECK(one.lo == Approx(34));
  CHECK(one.hi == Approx(34));
  CHECK(bd_rate(anchor, curve({at34}, {34})).value == Approx(0).margin(1e-9));
  // Two rates at one PSNR are one point (mean log-rate): sqrt(0.5 * 2) = 1x the anchor's rate.
  CHECK(bd_rate(anchor, curve({0.5 * at34, 2 * at34}, {34, 34})).value == Approx(0).margin(1e-9));
  // BD-PSNR of one point: the PSNR difference at its rate (1 dB above the anchor at the same rate).
  CHECK(bd_psnr(anchor, curve({at34}, {35})).value == Approx(1).epsilon(1e-9));
  // Outside the anchor's PSNR range: NaN with a reason.
  const auto out = bd_rate(anchor, curve({1}, {41}));
  CHECK_FALSE(out.ok());
  CHECK(std::isnan(out.value));
  CHECK(out.note == "PSNR outside the anchor's range");
}

TEST_CASE("psnr_at_rate reads a curve linearly between its points, and only inside them", "[bd_rate]") {
  const std::vector<RatePoint> jpeg = {{1.2, 31.5}, {0.4, 25.8}, {2.0, 34.5}, {0.8, 29.6}};  // unsorted
  CHECK(psnr_at_rate(jpeg, 0.8) == Approx(29.6));                                            // a point
  CHECK(psnr_at_rate(jpeg, 1.0) == Approx(30.55));                   // halfway 0.8-1.2
  CHECK(psnr_at_rate(jpeg, 1.4) == Approx(31.5 + 3.0 * 0.2 / 0.8));  // a quarter of 1.2-2.0
  CHECK(psnr_at_rate(jpeg, 0.4) == Approx(25.8));                    // the ends are inside
  CHECK(psnr_at_rate(jpeg, 2.0) == Approx(34.5));
  CHECK(std::isnan(psnr_at_rate(jpeg, 0.39)));  // no extrapolation
  CHECK(std::isnan(psnr_at_rate(jpeg, 2.01)));
  CHECK(std::isnan(psnr_at_rate({}, 1.0)));
  CHECK(psnr_at_rate({{1.0, 30.0}}, 1.0) == Approx(30.0));
  CHECK(std::isnan(psnr_at_rate({{1.0, 30.0}}, 1.1)));
  CHECK(psnr_at_rate({{1.0, 30.0}, {1.0, 31.0}, {2.0, 33.0}}, 1.5) == Approx(31.75));  // equal rates: 30.5
}
