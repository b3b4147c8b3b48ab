#include "svg_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace aec::rd {

namespace {

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

// Round-number axis: a step of 1, 2 or 5 x 10^k giving about `target` intervals, and the range widened to
// multiples of it.
struct Axis {
  double lo = 0, hi = 1, step = 0.2;
  int decimals = 1;
};

Axis nice_axis(double lo, double hi, int target) {
  if (!(hi > lo)) {
    const double pad = std::max(std::fabs(lo) * 0.05, 0.5);
    lo -= pad, hi += pad;
  }
  const double raw = (hi - lo) / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / mag;
  const double step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
  Axis a;
  a.step = step;
  a.lo = std::floor(lo / step + 1e-9) * step;
  a.hi = std::ceil(hi / step - 1e-9) * step;
  a.decimals = std::max(0, int(-std::floor(std::log10(step) + 1e-9)));
  return a;
}

std::vector<double> ticks(const Axis& a) {
  std::vector<double> t;
  const int n = int(std::lround((a.hi - a.lo) / a.step));
  for (int k = 0; k <= n; ++k) t.push_back(a.lo + k * a.step);
  return t;
}

std::string tick_label(double v, int decimals) {
  char buf[32];
  if (std::fabs(v) < 1e-12) return "0";
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

}  // namespace

const char* plot_color(size_t index) {
  static const char* const palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                        "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
  return palette[index % 10];
}

std::string svg_line_plot(const PlotSpec& spec) {
  double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
  for (const PlotSeries& s : spec.series)
    for (const auto& [x, y] : s.points) {
      if (!std::isfinite(x) || !std::isfinite(y)) continue;
      xmin = std::min(xmin, x), xmax = std::max(xmax, x), ymin = std::min(ymin, y), ymax = std::max(ymax, y);
    }
  if (!std::isfinite(xmin)) xmin = 0, xmax = 1, ymin = 0, ymax = 1;
  if (spec.x_from_zero) xmin = std::min(xmin, 0.0);
  if (spec.x_max > xmin) {
    xmax = spec.x_max;
    // the y range of what is left in view
    double lo = INFINITY, hi = -INFINITY;
    for (const PlotSeries& s : spec.series)
      for (const auto& [x, y] : s.points)
        if (std::isfinite(x) && std::isfinite(y) && x <= xmax) lo = std::min(lo, y), hi = std::max(hi, y);
    if (std::isfinite(lo)) ymin = lo, ymax = hi;
  }
  const Axis ax = nice_axis(xmin, xmax, 8), ay = nice_axis(ymin, ymax, 6);

  const double W = spec.width, H = spec.height;
  const double left = 70, right = 200, top = 40, bottom = 55;  // legend on the right
  const double pw = W - left - right, ph = H - top - bottom;
  auto px = [&](double x) { return left + (x - ax.lo) / (ax.hi - ax.lo) * pw; };
  auto py = [&](double y) { return top + (1 - (y - ay.lo) / (ay.hi - ay.lo)) * ph; };

  std::string o;
  o += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + num(W) + "\" height=\"" + num(H) +
       "\" viewBox=\"0 0 " + num(W) + " " + num(H) + "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  o += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  o += "<text x=\"" + num(left + pw / 2) + "\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">" +
       xml_escape(spec.title) + "</text>\n";
  // grid and ticks
  o += "<g stroke=\"#e0e0e0\" stroke-width=\"1\">\n";
  for (double v : ticks(ax))
    o += "<line x1=\"" + num(px(v)) + "\" y1=\"" + num(top) + "\" x2=\"" + num(px(v)) + "\" y2=\"" +
         num(top + ph) + "\"/>\n";
  for (double v : ticks(ay))
    o += "<line x1=\"" + num(left) + "\" y1=\"" + num(py(v)) + "\" x2=\"" + num(left + pw) + "\" y2=\"" +
         num(py(v)) + "\"/>\n";
  o += "</g>\n<g fill=\"#333\">\n";
  for (double v : ticks(ax))
    o += "<text x=\"" + num(px(v)) + "\" y=\"" + num(top + ph + 18) + "\" text-anchor=\"middle\">" +
         tick_label(v, ax.decimals) + "</text>\n";
  for (double v : ticks(ay))
    o += "<text x=\"" + num(left - 8) + "\" y=\"" + num(py(v) + 4) + "\" text-anchor=\"end\">" +
         tick_label(v, ay.decimals) + "</text>\n";
  o += "</g>\n";
  o += "<rect x=\"" + num(left) + "\" y=\"" + num(top) + "\" width=\"" + num(pw) + "\" height=\"" + num(ph) +
       "\" fill=\"none\" stroke=\"#333\"/>\n";
  o += "<text x=\"" + num(left + pw / 2) + "\" y=\"" + num(H - 14) + "\" text-anchor=\"middle\">" +
       xml_escape(spec.x_label) + "</text>\n";
  o += "<text transform=\"translate(18," + num(top + ph / 2) + ") rotate(-90)\" text-anchor=\"middle\">" +
       xml_escape(spec.y_label) + "</text>\n";

  // series, clipped to the plot area
  o += "<clipPath id=\"plot-area\"><rect x=\"" + num(left - 4) + "\" y=\"" + num(top - 4) + "\" width=\"" +
       num(pw + 8) + "\" height=\"" + num(ph + 8) + "\"/></clipPath>\n";
  for (size_t i = 0; i < spec.series.size(); ++i) {
    const PlotSeries& s = spec.series[i];
    const std::string color = s.color.empty() ? plot_color(i) : s.color;
    std::string pts;
    for (const auto& [x, y] : s.points)
      if (std::isfinite(x) && std::isfinite(y)) pts += num(px(x)) + "," + num(py(y)) + " ";
    o += "<g clip-path=\"url(#plot-area)\"><title>" + xml_escape(s.name) + "</title>\n";
    if (!pts.empty()) {
      pts.pop_back();
      o += "<polyline fill=\"none\" stroke=\"" + color + "\" stroke-width=\"2\"" +
           (s.dashed ? " stroke-dasharray=\"6,4\"" : "") + " points=\"" + pts + "\"/>\n";
    }
    for (const auto& [x, y] : s.points)
      if (std::isfinite(x) && std::isfinite(y))
        o += "<circle cx=\"" + num(px(x)) + "\" cy=\"" + num(py(y)) + "\" r=\"3\" fill=\"" + color + "\"/>\n";
    o += "</g>\n";
    // legend entry
    const double ly = top + 10 + 20 * double(i), lx = left + pw + 14;
    o += "<line x1=\"" + num(lx) + "\" y1=\"" + num(ly) + "\" x2=\"" + num(lx + 26) + "\" y2=\"" + num(ly) +
         "\" stroke=\"" + color + "\" stroke-width=\"2\"" + (s.dashed ? " stroke-dasharray=\"6,4\"" : "") +
         "/>\n";
    o += "<circle cx=\"" + num(lx + 13) + "\" cy=\"" + num(ly) + "\" r=\"3\" fill=\"" + color + "\"/>\n";
    o += "<text x=\"" + num(lx + 32) + "\" y=\"" + num(ly + 4) + "\">" + xml_escape(s.name) + "</text>\n";
  }
  o += "</svg>\n";
  return o;
}

}  // namespace aec::rd
