// A small SVG line-plot writer (axes with round-number ticks, grid, one polyline + markers per series,
// legend) for the rate-distortion plots of `aecodec rd`. No plotting dependencies; the output is a standalone
// SVG file.
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace aec::rd {

struct PlotSeries {
  std::string name;
  std::string color;    // any SVG colour ("#1f77b4")
  bool dashed = false;  // classic codecs dashed, learned models solid
  std::vector<std::pair<double, double>>
      points;  // (x, y), drawn in the given order; non-finite points skipped
};

struct PlotSpec {
  std::string title, x_label, y_label;
  std::vector<PlotSeries> series;
  int width = 860, height = 560;
  bool x_from_zero = true;  // start the x axis at 0 (rates)
  double x_max = 0;         // > 0: end the x axis here and clip what lies beyond (0: fit the data)
};

std::string svg_line_plot(const PlotSpec& spec);

// A colour per series index, from a 10-colour palette (Tableau 10).
const char* plot_color(size_t index);

}  // namespace aec::rd
