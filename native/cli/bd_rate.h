// Bjøntegaard delta rate (BD-rate) between two rate-distortion curves, with the piecewise cubic Hermite
// (PCHIP, Fritsch-Carlson) interpolation of the JVET/VCEG tools: log-rate is fitted as a function of PSNR on
// each curve, both fits are integrated over the PSNR range the curves share, and the mean log-rate difference
// is turned into a percentage: negative = the test curve needs fewer bits for the same PSNR.
// Plain math on doubles; no aecodec types (the core tests link this file on its own).
#pragma once
#include <string>
#include <vector>

namespace aec::rd {

// Monotone piecewise cubic Hermite interpolant through (x[i], y[i]), x strictly increasing, at least 2 knots.
// Slopes as MATLAB's pchip and SciPy's PchipInterpolator: at interior knots the weighted harmonic mean of the
// neighbouring secants (0 where they differ in sign or one is 0), at the ends the one-sided three-point
// formula limited to keep the shape; with 2 knots, the straight line. Exact at the knots, and monotone on
// every interval where the data are.
class Pchip {
 public:
  Pchip(std::vector<double> x, std::vector<double> y);  // throws std::invalid_argument on bad knots
  double operator()(double x) const;                    // x is clamped into [x.front(), x.back()]
  double integral(double a, double b) const;  // integral from a to b (a <= b, both within the knots)
  const std::vector<double>& slopes() const { return d_; }
  double x_min() const { return x_.front(); }
  double x_max() const { return x_.back(); }

 private:
  double cumulative(double x) const;  // integral from x_min to x
  std::vector<double> x_, y_, d_, cum_;
};

struct RatePoint {
  double rate = 0;  // bits per pixel (any positive rate unit; the ratio is what counts)
  double psnr = 0;  // dB
};

struct BdResult {
  double value = 0;       // BD-rate in %, BD-PSNR in dB; NaN when not computable (see `note`)
  double lo = 0, hi = 0;  // the interval both curves cover: PSNR in dB (bd_rate), rate (bd_psnr)
  std::string note;       // why it is NaN, else empty
  bool ok() const { return note.empty(); }
};

// BD-rate of `test` against `anchor`. Points are sorted by PSNR; points of equal PSNR are merged (mean
// log-rate); points with a non-positive rate or a non-finite value are dropped. Needs 2 distinct PSNR values
// on each curve and an overlapping PSNR range, except that a test curve of one point (a single-rate model)
// gets the rate difference at its PSNR, read off the anchor's fit (lo = hi = that PSNR; NaN outside the
// anchor's range).
BdResult bd_rate(const std::vector<RatePoint>& anchor, const std::vector<RatePoint>& test);

// BD-PSNR (dB): the mean PSNR difference over the shared log-rate range, the same PCHIP fit with the axes
// swapped. Positive = the test curve has the higher PSNR at the same rate.
BdResult bd_psnr(const std::vector<RatePoint>& anchor, const std::vector<RatePoint>& test);

// The PSNR of `curve` at `rate`, read linearly between its two points around that rate (points sorted by
// rate; points of equal rate merged by their mean PSNR): what "x dB above JPEG at this rate" means in the
// report, with no fit beyond the measured points. NaN outside the curve's rate range or with no point.
double psnr_at_rate(const std::vector<RatePoint>& curve, double rate);

}  // namespace aec::rd
