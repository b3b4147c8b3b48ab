// The results of `aecodec rd` and their outputs: BD-rates against the classic anchors, CSV, JSON, the SVG RD
// plots and the markdown summary.
#pragma once
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "bd_rate.h"

namespace aec::rd {

struct Measure {  // one image at one quality level, or the mean over the images
  std::string image;
  int width = 0, height = 0;
  double bytes = 0, bpp = 0, psnr = 0, ms_ssim = 0, encode_ms = 0, decode_ms = 0;
};

struct Level {        // one quality level: a model, or a classic codec at one quality setting
  std::string label;  // model name, or "q75" / "cq30"
  std::string model_path, model_id;
  int quality = -1;          // classic codecs only
  double model_quality = 0;  // a variable-rate model's Q (0: a single-rate model)
  std::vector<Measure> images;
  Measure mean;  // per-image mean of bpp, PSNR, MS-SSIM, times
  // Learned levels: PSNR minus each classic codec's (codec name) at this level's bpp, read linearly between
  // that codec's points (psnr_at_rate); NaN outside them.
  std::map<std::string, double> psnr_gain_at_rate;
};

struct Curve {
  std::string name;                                  // "factorized", "family fam-x", "jpeg", ...
  std::string codec;                                 // "aecodec", "jpeg", "webp", "avif"
  std::string settings;                              // how the points were made
  std::vector<Level> levels;                         // sorted by mean bpp once measured
  std::string base;                                  // learned curves: the curve's name at effort 0
  int effort = -1;                                   // learned curves: the encoder effort (-1: classic)
  std::map<std::string, BdResult> bd_rate, bd_psnr;  // against each anchor (codec name)
};

struct PathScore {
  double psnr = 0, ms_ssim = 0, decode_ms = 0;
};

struct FamilyImage {
  std::string image;
  int width = 0, height = 0;
  // high latent of the original -> medium decoder, against downscale2x_box(original); and the reference paths
  // from the same bitstream: high decoder at full size, then downscale2x_box (the reference's own filter) or
  // plain bicubic resampling to half size (resize_bicubic).
  double down_bpp = 0;  // bits of the high bitstream per original pixel
  PathScore down_cross, down_ref, down_bicubic;
  // medium latent of downscale2x_box(original) -> high decoder, against the original; and the reference path:
  // medium decoder at half size, then resize_bicubic x2.
  double up_bpp = 0;  // bits of the medium bitstream per original pixel
  PathScore up_cross, up_ref;
  PathScore high;  // the high model's own decode of its bitstream, against the original (at down_bpp)
};

struct FamilyResult {
  std::string id, high, medium;  // family id, model names
  bool up_decoder = false;       // the up path through the medium member's up decoder (else the high's)
  double quality = 0;            // variable-rate members: the quality both code at (0: single-rate)
  // A family on a codec's member whose knob maps onto other qualities of the member (channel-wide: the knob's
  // 74-100 onto its 1-100): the knob's quality for `quality`, read linearly on the member's span; else 0.
  double knob_quality = 0;
  std::vector<FamilyImage> images;
  FamilyImage mean;
  // The high model as a codec: the best other learned curve (effort 0, not a family's) at the high's mean
  // rate, read linearly between that curve's points; NaN where no curve reaches that rate.
  std::string best_curve;
  double best_psnr = std::numeric_limits<double>::quiet_NaN();
  // The same at the up path's mean rate: how the up path (a half-size image's file decoded at full size)
  // compares with the best full-size codec at its rate, the bound on its lead over bicubic (docs/family.md).
  std::string up_best_curve;
  double up_best_psnr = std::numeric_limits<double>::quiet_NaN();
};

struct RdResults {
  std::string images_dir, command;
  std::vector<std::string> images;
  std::vector<Curve> curves;
  std::vector<FamilyResult> families;
  std::vector<std::string> tool_versions, notes;
  // Learned curves (by name) that the other learned curves are also compared with: BD-rate and BD-PSNR
  // against each, over the range both cover (rd --anchor).
  std::vector<std::string> learned_anchors;
};

// Means over the images, level order by mean bpp, and the BD-rate / BD-PSNR of every curve against each
// classic curve present (jpeg, webp, avif), on the mean points.
void finish_results(RdResults& r);

// rd-points.csv (every image at every level), rd-curves.csv (the mean points), rd.json (everything),
// rd-psnr.svg and rd-msssim.svg (bpp vs PSNR / MS-SSIM), README.md (the summary). `plot_max_bpp` > 0 ends
// the plots' rate axis there.
void write_outputs(const RdResults& r, const std::string& dir, double plot_max_bpp);

// The markdown summary (also what README.md holds): per-curve table with BD-rates, the mean points, the
// family table, settings.
std::string markdown_summary(const RdResults& r, bool with_plots);

}  // namespace aec::rd
