#include "rd_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "aecodec/error.h"
#include "aecodec/file_io.h"
#include "svg_plot.h"

namespace fs = std::filesystem;

namespace aec::rd {

namespace {

const char* const kAnchors[] = {"jpeg", "webp", "avif"};

std::string anchor_title(const std::string& codec) {
  return codec == "jpeg" ? "JPEG" : codec == "webp" ? "WebP" : codec == "avif" ? "AVIF" : codec;
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

// A family row's Q: the quality both members code at, and the codec knob's where that differs (a family on
// channel-wide: "50.78 (knob 87.07)").
std::string family_quality_label(const FamilyResult& f) {
  if (f.quality <= 0) return "–";
  const bool knob = f.knob_quality > 0 && std::abs(f.knob_quality - f.quality) > 1e-9;
  return fmt("%g", f.quality) + (knob ? " (knob " + fmt("%g", f.knob_quality) + ")" : "");
}

void write_text(const std::string& path, const std::string& text) {
  write_file_atomic(path, reinterpret_cast<const uint8_t*>(text.data()), text.size());
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

nlohmann::json measure_json(const Measure& m) {
  nlohmann::json j;
  if (!m.image.empty()) j["image"] = m.image;
  if (m.width) j["width"] = m.width, j["height"] = m.height;
  j["bytes"] = m.bytes;
  j["bpp"] = m.bpp;
  j["psnr"] = m.psnr;
  j["ms_ssim"] = m.ms_ssim;
  j["encode_ms"] = m.encode_ms;
  j["decode_ms"] = m.decode_ms;
  return j;
}

nlohmann::json bd_json(const BdResult& b, const char* key, const char* range) {
  if (!b.ok()) return {{key, nullptr}, {"note", b.note}};
  return {{key, b.value}, {range, {b.lo, b.hi}}};
}

nlohmann::json path_json(const PathScore& p) {
  return {{"psnr", p.psnr}, {"ms_ssim", p.ms_ssim}, {"decode_ms", p.decode_ms}};
}

nlohmann::json family_image_json(const FamilyImage& f) {
  nlohmann::json j;
  if (!f.image.empty()) j["image"] = f.image, j["width"] = f.width, j["height"] = f.height;
  j["high_to_medium"] = {{"bpp", f.down_bpp},
                         {"cross_decode", path_json(f.down_cross)},
                         {"decode_then_downscale2x_box", path_json(f.down_ref)},
                         {"decode_then_bicubic_half", path_json(f.down_bicubic)}};
  j["medium_to_high"] = {{"bpp", f.up_bpp},
                         {"cross_decode", path_json(f.up_cross)},
                         {"decode_then_bicubic_x2", path_json(f.up_ref)}};
  j["high"] = {{"bpp", f.down_bpp}, {"decode", path_json(f.high)}};
  return j;
}

std::string bd_cell(const Curve& c, const std::string& anchor, const std::vector<Curve>& curves) {
  const bool present =
      std::any_of(curves.begin(), curves.end(), [&](const Curve& a) { return a.codec == anchor; });
  if (!present) return "–";
  if (c.codec == anchor) return "(anchor)";
  const auto it = c.bd_rate.find(anchor);
  if (it == c.bd_rate.end()) return "–";
  const BdResult& b = it->second;
  if (!b.ok())
    return "n/a (" + std::string(b.note == "PSNR ranges do not overlap" ? "no PSNR overlap" : b.note) + ")";
  if (b.lo == b.hi)
    return fmt("%+.1f %%", b.value) + " [at " + fmt("%.1f", b.lo) + " dB]";  // a one-point curve
  return fmt("%+.1f %%", b.value) + " [" + fmt("%.1f", b.lo) + "–" + fmt("%.1f", b.hi) + " dB]";
}

// Fixed colours for the anchors, so plots of different runs compare; the learned curves take the others.
std::string curve_color(const Curve& c, size_t& model_index) {
  if (c.codec == "jpeg") return "#7f7f7f";
  if (c.codec == "webp") return "#ff7f0e";
  if (c.codec == "avif") return "#9467bd";
  static const char* const palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#17becf",
                                        "#e377c2", "#8c564b", "#bcbd22"};
  return palette[model_index++ % 7];
}

std::vector<RatePoint> mean_points(const Curve& c) {
  std::vector<RatePoint> p;
  for (const Level& l : c.levels) p.push_back({l.mean.bpp, l.mean.psnr});
  return p;
}

std::string at_rate_section(const RdResults& r) {
  std::vector<std::string> anchors;
  for (const char* a : kAnchors)
    if (std::any_of(r.curves.begin(), r.curves.end(), [&](const Curve& c) { return c.codec == a; }))
      anchors.push_back(a);
  if (anchors.empty()) return "";
  std::string md = "## Each level against the classic codecs at its rate\n\n";
  md +=
      "PSNR difference (dB) against each classic curve read linearly between its two points around the "
      "level's bpp; positive = the learned level is better. \"–\": outside the classic codec's measured "
      "range.\n\n| curve | level | bpp | PSNR (dB)";
  std::string rule = "|---|---|---:|---:";
  for (const std::string& a : anchors) md += " | vs " + anchor_title(a), rule += "|---:";
  md += " |\n" + rule + "|\n";
  for (const Curve& c : r.curves) {
    if (c.codec != "aecodec") continue;
    for (const Level& l : c.levels) {
      const std::map<std::string, double>& g = l.psnr_gain_at_rate;
      md += "| " + c.name + " | " + l.label + " | " + fmt("%.3f", l.mean.bpp) + " | " +
            fmt("%.2f", l.mean.psnr);
      for (const std::string& a : anchors)
        md += " | " + (std::isfinite(g.at(a)) ? fmt("%+.2f", g.at(a)) : "–");
      md += " |\n";
    }
  }
  return md + "\n";
}

}  // namespace

void finish_results(RdResults& r) {
  for (Curve& c : r.curves) {
    for (Level& l : c.levels) {
      Measure m;
      const double n = double(l.images.size());
      for (const Measure& x : l.images) {
        m.bytes += x.bytes / n, m.bpp += x.bpp / n, m.psnr += x.psnr / n, m.ms_ssim += x.ms_ssim / n;
        m.encode_ms += x.encode_ms / n, m.decode_ms += x.decode_ms / n;
      }
      l.mean = m;
    }
    std::stable_sort(c.levels.begin(), c.levels.end(),
                     [](const Level& a, const Level& b) { return a.mean.bpp < b.mean.bpp; });
  }
  for (Curve& c : r.curves) {
    c.bd_rate.clear(), c.bd_psnr.clear();
    for (const Curve& a : r.curves) {
      if (a.codec == "aecodec" || &a == &c) continue;
      c.bd_rate[a.codec] = bd_rate(mean_points(a), mean_points(c));
      c.bd_psnr[a.codec] = bd_psnr(mean_points(a), mean_points(c));
    }
    // Against the learned anchors (rd --anchor): one learned curve against another, e.g. a new codec
    // against the shipped one.
    for (const Curve& a : r.curves)
      if (&a != &c && a.codec == "aecodec" && c.codec == "aecodec" &&
          std::count(r.learned_anchors.begin(), r.learned_anchors.end(), a.name)) {
        c.bd_rate["curve " + a.name] = bd_rate(mean_points(a), mean_points(c));
        c.bd_psnr["curve " + a.name] = bd_psnr(mean_points(a), mean_points(c));
      }
    // A curve at encoder effort > 0 against the same models at effort 0: what the search saves.
    for (const Curve& a : r.curves)
      if (c.effort > 0 && a.effort == 0 && a.base == c.base) {
        c.bd_rate["effort 0"] = bd_rate(mean_points(a), mean_points(c));
        c.bd_psnr["effort 0"] = bd_psnr(mean_points(a), mean_points(c));
      }
  }
  // Where each learned level stands against each classic curve at its own rate, which a BD-rate averages
  // away.
  for (Curve& c : r.curves) {
    if (c.codec != "aecodec") continue;
    for (Level& l : c.levels) {
      l.psnr_gain_at_rate.clear();
      for (const Curve& a : r.curves)
        if (a.codec != "aecodec")
          l.psnr_gain_at_rate[a.codec] = l.mean.psnr - psnr_at_rate(mean_points(a), l.mean.bpp);
    }
  }
  for (FamilyResult& f : r.families) {
    FamilyImage m;
    const double n = double(f.images.size());
    auto add = [n](PathScore& to, const PathScore& x) {
      to.psnr += x.psnr / n, to.ms_ssim += x.ms_ssim / n, to.decode_ms += x.decode_ms / n;
    };
    for (const FamilyImage& x : f.images) {
      m.down_bpp += x.down_bpp / n, m.up_bpp += x.up_bpp / n;
      add(m.down_cross, x.down_cross), add(m.down_ref, x.down_ref), add(m.down_bicubic, x.down_bicubic);
      add(m.up_cross, x.up_cross), add(m.up_ref, x.up_ref), add(m.high, x.high);
    }
    f.mean = m;
    for (const Curve& c : r.curves) {
      if (c.codec != "aecodec" || c.effort > 0 || c.base.rfind("family ", 0) == 0) continue;
      const double p = psnr_at_rate(mean_points(c), m.down_bpp);
      if (std::isfinite(p) && !(p <= f.best_psnr)) f.best_psnr = p, f.best_curve = c.name;
      const double pu = psnr_at_rate(mean_points(c), m.up_bpp);
      if (std::isfinite(pu) && !(pu <= f.up_best_psnr)) f.up_best_psnr = pu, f.up_best_curve = c.name;
    }
  }
}

std::string markdown_summary(const RdResults& r, bool with_plots) {
  std::string md;
  md += "# Rate-distortion evaluation\n\n";
  md += std::to_string(r.images.size()) + (r.images.size() == 1 ? " image" : " images") + " from `" +
        r.images_dir +
        "`; every point is the mean over the images of bpp (from the compressed file size) and of "
        "PSNR / MS-SSIM "
        "(RGB, aecodec's own metrics, the same code for every codec).\n";
  md +=
      "BD-rate: Bjøntegaard delta rate with piecewise cubic (PCHIP) interpolation of log-rate over PSNR, "
      "integrated over the PSNR range both curves cover (shown in brackets); negative = fewer bits than the "
      "anchor for the same PSNR. A curve of one point (a single-rate model) gets the rate difference at its "
      "PSNR, read off the anchor's fit (\"at\").\n\n";
  if (!r.command.empty()) md += "Made by: `" + r.command + "`\n\n";
  for (const std::string& n : r.notes) md += "> " + n + "\n\n";

  md += "| curve | points | bpp | PSNR (dB) | BD-rate vs JPEG | BD-rate vs WebP | BD-rate vs AVIF |\n";
  md += "|---|---:|---|---|---|---|---|\n";
  for (const Curve& c : r.curves) {
    std::string bpp = "–", ps = "–";
    if (!c.levels.empty()) {
      double plo = INFINITY, phi = -INFINITY;
      for (const Level& l : c.levels) plo = std::min(plo, l.mean.psnr), phi = std::max(phi, l.mean.psnr);
      bpp = fmt("%.3f", c.levels.front().mean.bpp) + "–" + fmt("%.3f", c.levels.back().mean.bpp);
      ps = fmt("%.2f", plo) + "–" + fmt("%.2f", phi);
    }
    md += "| " + c.name + " | " + std::to_string(c.levels.size()) + " | " + bpp + " | " + ps;
    for (const char* a : kAnchors) md += " | " + bd_cell(c, a, r.curves);
    md += " |\n";
  }
  md += "\n";
  bool efforts = false;
  for (const Curve& c : r.curves) efforts |= c.bd_rate.count("effort 0") != 0;
  if (efforts) {
    md += "## Encoder effort against effort 0\n\n";
    md += "| curve | BD-rate vs effort 0 | BD-PSNR vs effort 0 | mean encode ms |\n|---|---|---|---:|\n";
    for (const Curve& c : r.curves) {
      const auto it = c.bd_rate.find("effort 0");
      if (it == c.bd_rate.end()) continue;
      const BdResult& b = it->second;
      const BdResult& p = c.bd_psnr.at("effort 0");
      double ms = 0;
      for (const Level& l : c.levels) ms += l.mean.encode_ms / double(c.levels.size());
      md += "| " + c.name + " | " +
            (b.ok() ? fmt("%+.2f %%", b.value) + fmt(" [%.2f–", b.lo) + fmt("%.2f dB]", b.hi)
                    : "– (" + b.note + ")") +
            " | " + (p.ok() ? fmt("%+.3f dB", p.value) : "–") + " | " + fmt("%.0f", ms) + " |\n";
    }
    md += "\n";
  }
  for (const std::string& anchor : r.learned_anchors) {
    const std::string key = "curve " + anchor;
    std::string rows;
    for (const Curve& c : r.curves) {
      const auto it = c.bd_rate.find(key);
      if (it == c.bd_rate.end()) continue;
      const BdResult& b = it->second;
      const BdResult& p = c.bd_psnr.at(key);
      rows += "| " + c.name + " | " +
              (b.ok() ? fmt("%+.2f %%", b.value) + fmt(" [%.2f–", b.lo) + fmt("%.2f dB]", b.hi)
                      : "– (" + b.note + ")") +
              " | " + (p.ok() ? fmt("%+.3f dB", p.value) : "–") + " |\n";
    }
    if (rows.empty()) continue;
    md += "## Against " + anchor + "\n\n| curve | BD-rate vs " + anchor + " | BD-PSNR vs " + anchor +
          " |\n|---|---|---|\n" + rows + "\n";
  }
  if (with_plots) md += "![bpp vs PSNR](rd-psnr.svg)\n\n![bpp vs MS-SSIM](rd-msssim.svg)\n\n";
  md += at_rate_section(r);

  if (!r.families.empty()) {
    md += "## Cross-resolution families\n\n";
    md +=
        "Means over the images. *Down*: the high model's bitstream of the original, scored against "
        "`downscale2x_box(original)`. *Up*: the medium model's bitstream of `downscale2x_box(original)`, "
        "scored against the original. bpp per original pixel; decode time includes the resampling. The "
        "bicubic "
        "rows are plain bicubic resampling (Keys, a = -0.75, no antialiasing), as PyTorch's "
        "`interpolate`.\n\n";
    // Where the three questions are answered at a glance: the high model against the best single model at its
    // rate, the down path against decoding at full size and downscaling (PSNR and time), the up path against
    // bicubic upscaling of the medium decode.
    md +=
        "Per family and quality (the members' own; for a family on a codec's member that serves other knob "
        "qualities, the knob's in brackets, read linearly on the member's span): *high*, the high model's "
        "own decode against the best other learned curve at the same rate (read linearly between its "
        "points); *down*, the cross-decode against "
        "full-size decode then `downscale2x_box`, in PSNR and in decode time; *up*, the medium file "
        "decoded at full size (by the medium member's up decoder where it has one, else by the high model) "
        "against the medium decode then bicubic x2, and against the best other learned curve at the up "
        "path's rate (below zero: the half-size image's file, decoded at full size, is behind that codec "
        "coding the full image at that rate).\n\n"
        "| family | Q | high bpp | high PSNR | best single at that rate | high − best | down Δ dB | down "
        "time / reference | up bpp | up Δ dB | up − best at its rate |\n"
        "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|\n";
    for (const FamilyResult& f : r.families) {
      const FamilyImage& m = f.mean;
      const bool best = std::isfinite(f.best_psnr);
      md += "| " + f.id + " | " + family_quality_label(f) + " | " + fmt("%.4f", m.down_bpp) + " | " +
            fmt("%.2f", m.high.psnr) + " | " +
            (best ? f.best_curve + " " + fmt("%.2f", f.best_psnr) : "– (no curve at that rate)") + " | " +
            (best ? fmt("%+.2f", m.high.psnr - f.best_psnr) : "–") + " | " +
            fmt("%+.2f", m.down_cross.psnr - m.down_ref.psnr) + " | " +
            fmt("%.2f", m.down_cross.decode_ms / m.down_ref.decode_ms) + " | " + fmt("%.4f", m.up_bpp) +
            " | " + fmt("%+.2f", m.up_cross.psnr - m.up_ref.psnr) + " | " +
            (std::isfinite(f.up_best_psnr)
                 ? fmt("%+.2f", m.up_cross.psnr - f.up_best_psnr) + " (" + f.up_best_curve + ")"
                 : "–") +
            " |\n";
    }
    md +=
        "\n| family | Q | path | bpp | PSNR (dB) | MS-SSIM | decode ms "
        "|\n|---|---:|---|---:|---:|---:|---:|\n";
    for (const FamilyResult& f : r.families) {
      const FamilyImage& m = f.mean;
      const std::string q = family_quality_label(f);
      auto row = [&](const std::string& path, double bpp, const PathScore& p) {
        md += "| " + f.id + " | " + q + " | " + path + " | " + fmt("%.4f", bpp) + " | " +
              fmt("%.2f", p.psnr) + " | " + fmt("%.4f", p.ms_ssim) + " | " + fmt("%.1f", p.decode_ms) +
              " |\n";
      };
      row("down: " + f.high + " latent → " + f.medium + " decoder (cross-decode)", m.down_bpp, m.down_cross);
      row("down: " + f.high + " decode at full size → downscale2x_box", m.down_bpp, m.down_ref);
      row("down: " + f.high + " decode at full size → bicubic to half size", m.down_bpp, m.down_bicubic);
      row("up: " + f.medium + " latent → " + (f.up_decoder ? f.medium + " up" : f.high) +
              " decoder (cross-decode)",
          m.up_bpp, m.up_cross);
      row("up: " + f.medium + " decode → bicubic x2", m.up_bpp, m.up_ref);
    }
    md += "\n";
  }

  md += "## Points\n\n";
  md += "| curve | level | bpp | PSNR (dB) | MS-SSIM | encode ms | decode ms |\n";
  md += "|---|---|---:|---:|---:|---:|---:|\n";
  for (const Curve& c : r.curves)
    for (const Level& l : c.levels)
      md += "| " + c.name + " | " + l.label + " | " + fmt("%.4f", l.mean.bpp) + " | " +
            fmt("%.2f", l.mean.psnr) + " | " + fmt("%.4f", l.mean.ms_ssim) + " | " +
            fmt("%.1f", l.mean.encode_ms) + " | " + fmt("%.1f", l.mean.decode_ms) + " |\n";
  md += "\nClassic codec times are the tools' wall times, process start included.\n\n";

  md += "## Settings\n\n";
  for (const Curve& c : r.curves)
    if (!c.settings.empty()) md += "- " + c.name + ": " + c.settings + "\n";
  for (const std::string& v : r.tool_versions) md += "- " + v + "\n";
  md += "\nImages: ";
  for (size_t i = 0; i < r.images.size(); ++i) md += (i ? ", " : "") + r.images[i];
  md += ".\n";
  return md;
}

void write_outputs(const RdResults& r, const std::string& dir, double plot_max_bpp) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  require(fs::is_directory(dir, ec), "cannot make the output folder '" + dir + "'");
  const std::string d = (fs::path(dir) / "").string();

  std::string pts = "curve,level,image,width,height,bytes,bpp,psnr,ms_ssim,encode_ms,decode_ms\n";
  std::string means = "curve,level,images,bytes,bpp,psnr,ms_ssim,encode_ms,decode_ms\n";
  for (const Curve& c : r.curves)
    for (const Level& l : c.levels) {
      for (const Measure& m : l.images)
        pts += csv_field(c.name) + "," + csv_field(l.label) + "," + csv_field(m.image) + "," +
               std::to_string(m.width) + "," + std::to_string(m.height) + "," + fmt("%.0f", m.bytes) + "," +
               fmt("%.6f", m.bpp) + "," + fmt("%.4f", m.psnr) + "," + fmt("%.6f", m.ms_ssim) + "," +
               fmt("%.2f", m.encode_ms) + "," + fmt("%.2f", m.decode_ms) + "\n";
      const Measure& m = l.mean;
      means += csv_field(c.name) + "," + csv_field(l.label) + "," + std::to_string(l.images.size()) + "," +
               fmt("%.1f", m.bytes) + "," + fmt("%.6f", m.bpp) + "," + fmt("%.4f", m.psnr) + "," +
               fmt("%.6f", m.ms_ssim) + "," + fmt("%.2f", m.encode_ms) + "," + fmt("%.2f", m.decode_ms) +
               "\n";
    }
  write_text(d + "rd-points.csv", pts);
  write_text(d + "rd-curves.csv", means);

  nlohmann::json j;
  j["images_dir"] = r.images_dir;
  j["images"] = r.images;
  j["command"] = r.command;
  j["tool_versions"] = r.tool_versions;
  j["notes"] = r.notes;
  j["curves"] = nlohmann::json::array();
  for (const Curve& c : r.curves) {
    nlohmann::json jc = {{"name", c.name}, {"codec", c.codec}, {"settings", c.settings}};
    jc["levels"] = nlohmann::json::array();
    for (const Level& l : c.levels) {
      nlohmann::json jl = {{"label", l.label}};
      if (!l.model_path.empty()) jl["model_path"] = l.model_path, jl["model_id"] = l.model_id;
      if (l.quality >= 0) jl["quality"] = l.quality;
      if (l.model_quality > 0) jl["model_quality"] = l.model_quality;
      jl["mean"] = measure_json(l.mean);
      for (const auto& [anchor, gain] : l.psnr_gain_at_rate)  // null outside that codec's measured rates
        jl["psnr_gain_at_rate_db"][anchor] = std::isfinite(gain) ? nlohmann::json(gain) : nlohmann::json();
      jl["images"] = nlohmann::json::array();
      for (const Measure& m : l.images) jl["images"].push_back(measure_json(m));
      jc["levels"].push_back(jl);
    }
    for (const auto& [anchor, b] : c.bd_rate) jc["bd_rate"][anchor] = bd_json(b, "percent", "psnr_range");
    for (const auto& [anchor, b] : c.bd_psnr) jc["bd_psnr"][anchor] = bd_json(b, "db", "bpp_range");
    j["curves"].push_back(jc);
  }
  j["families"] = nlohmann::json::array();
  for (const FamilyResult& f : r.families) {
    nlohmann::json jf = {{"id", f.id},
                         {"high", f.high},
                         {"medium", f.medium},
                         {"up_decoder", f.up_decoder},
                         {"mean", family_image_json(f.mean)}};
    if (f.quality > 0) jf["quality"] = f.quality;
    if (f.knob_quality > 0) jf["knob_quality"] = f.knob_quality;
    if (std::isfinite(f.best_psnr)) jf["best_single"] = {{"curve", f.best_curve}, {"psnr", f.best_psnr}};
    if (std::isfinite(f.up_best_psnr))
      jf["up_best_single"] = {{"curve", f.up_best_curve}, {"psnr", f.up_best_psnr}};
    jf["images"] = nlohmann::json::array();
    for (const FamilyImage& x : f.images) jf["images"].push_back(family_image_json(x));
    j["families"].push_back(jf);
  }
  write_text(d + "rd.json", j.dump(2) + "\n");

  for (const bool ssim : {false, true}) {
    PlotSpec s;
    s.title = std::string(ssim ? "MS-SSIM" : "PSNR") + " vs rate, mean over " +
              std::to_string(r.images.size()) + (r.images.size() == 1 ? " image" : " images");
    s.x_label = "bits per pixel";
    s.y_label = ssim ? "MS-SSIM (dB) = -10 log10(1 - MS-SSIM), RGB" : "PSNR (dB, RGB)";
    s.x_max = plot_max_bpp;
    size_t model_curves = 0;
    for (const Curve& c : r.curves) {
      PlotSeries ps;
      ps.name = c.name;
      ps.color = curve_color(c, model_curves);
      ps.dashed = c.codec != "aecodec";
      for (const Level& l : c.levels)
        ps.points.emplace_back(l.mean.bpp,
                               ssim ? -10 * std::log10(std::max(1 - l.mean.ms_ssim, 1e-10)) : l.mean.psnr);
      s.series.push_back(ps);
    }
    write_text(d + (ssim ? "rd-msssim.svg" : "rd-psnr.svg"), svg_line_plot(s));
  }
  write_text(d + "README.md", markdown_summary(r, true));
}

}  // namespace aec::rd
