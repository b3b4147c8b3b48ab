#include "progress_plot.h"

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include "aecodec/error.h"
#include "svg_plot.h"

namespace aect {

namespace {

struct Row {
  std::string kind;
  double step = 0, cpu_s = 0, loss = NAN, bpp = NAN, psnr = NAN;
  int quality = 1;
};

double number(const std::string& s) {
  if (s.empty()) return NAN;
  try {
    return std::stod(s);
  } catch (const std::exception&) {
    return NAN;
  }
}

// kind,step,wall_s,cpu_s,lr,loss,bpp,psnr,images_per_s,quality,extra (train_loop.cpp)
std::vector<Row> read_log(const std::string& path) {
  std::ifstream in(path);
  aec::require(bool(in), "cannot read " + path);
  std::vector<Row> rows;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, ',')) f.push_back(cell);
    if (f.size() < 10) continue;
    Row r;
    r.kind = f[0], r.step = number(f[1]), r.cpu_s = number(f[3]), r.loss = number(f[5]), r.bpp = number(f[6]);
    r.psnr = number(f[7]);
    const double q = number(f[9]);
    r.quality = std::isfinite(q) && q >= 1 ? int(q) : 1;
    rows.push_back(r);
  }
  return rows;
}

void write_atomic(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    aec::require(bool(out), "cannot write " + tmp);
  }
  aec::require(std::rename(tmp.c_str(), path.c_str()) == 0, "cannot rename " + tmp + " to " + path);
}

}  // namespace

std::vector<std::string> write_progress_plots(const std::string& run_dir) {
  const std::vector<Row> rows = read_log(run_dir + "/log.csv");
  std::map<int, aec::rd::PlotSeries> loss, rd;
  std::map<int, double> smoothed;
  for (const Row& r : rows) {
    if (r.kind == "train" && std::isfinite(r.loss)) {
      // Exponential moving average per quality: single rows are averages of a few noisy steps.
      auto [it, fresh] = smoothed.emplace(r.quality, r.loss);
      if (!fresh) it->second = 0.9 * it->second + 0.1 * r.loss;
      loss[r.quality].points.emplace_back(r.step, it->second);
    } else if (r.kind == "valid" && std::isfinite(r.bpp) && std::isfinite(r.psnr) && r.bpp > 0) {
      rd[r.quality].points.emplace_back(r.bpp, r.psnr);
    }
  }
  std::vector<std::string> written;
  auto finish = [&](std::map<int, aec::rd::PlotSeries>& series, aec::rd::PlotSpec spec,
                    const std::string& file) {
    if (series.empty()) return;
    for (auto& [q, s] : series) {
      // At most ~300 points a series (a long run logs thousands of rows): keep every k-th and the last.
      if (const size_t k = s.points.size() / 300 + 1; k > 1) {
        std::vector<std::pair<double, double>> kept;
        for (size_t i = 0; i < s.points.size(); i += k) kept.push_back(s.points[i]);
        if (kept.back() != s.points.back()) kept.push_back(s.points.back());
        s.points = std::move(kept);
      }
      s.name =
          series.size() > 1 ? "quality " + std::to_string(q) : (file == "loss.svg" ? "loss" : "validation");
      s.color = aec::rd::plot_color(size_t(q - 1));
      spec.series.push_back(s);
    }
    const std::string path = run_dir + "/" + file;
    write_atomic(path, aec::rd::svg_line_plot(spec));
    written.push_back(path);
  };
  aec::rd::PlotSpec ls;
  ls.title = "training loss (moving average) - " + run_dir;
  ls.x_label = "step";
  ls.y_label = "loss";
  finish(loss, ls, "loss.svg");
  aec::rd::PlotSpec rs;
  rs.title = "validation RD over training (points in step order) - " + run_dir;
  rs.x_label = "bits per pixel";
  rs.y_label = "PSNR (dB)";
  finish(rd, rs, "rd.svg");
  return written;
}

}  // namespace aect
