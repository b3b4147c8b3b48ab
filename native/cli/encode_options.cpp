#include "encode_options.h"

#include <unistd.h>

#include <cstdio>

#include "aecodec/refine.h"

namespace aec::cli {

void add_effort_option(CLI::App* cmd, int& effort) {
  cmd->add_option(
         "--effort", effort,
         "encoder effort 0-9: 0 is one analysis pass; higher efforts search for a latent that makes a "
         "smaller file at the same quality for the same decoder (slower; docs/effort.md)")
      ->capture_default_str()
      ->check(CLI::Range(0, kMaxEffort));
}

CLI::Option* add_quality_option(CLI::App* cmd, double& quality) {
  return cmd
      ->add_option(
          "-q,--quality", quality,
          "quality 1-100 (hundredths allowed) of a variable-rate model: more bytes and higher quality as "
          "it rises; default: the model's own")
      ->check(CLI::Range(1.0, 100.0));
}

std::string format_quality(double quality) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f", quality);
  std::string s = b;
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

EncodeOptions encode_options(int effort, bool quiet, double quality) {
  EncodeOptions o;
  o.effort = effort;
  o.quality = quality;
  o.latent = false;  // the commands write files and figures, never the latent itself
  o.rates = false;   // nor a rate per latent channel (`aecodec info` reads those from a file)
  if (effort >= 3 && !quiet) {
    const bool tty = isatty(2);
    o.progress = [tty, last = -1](double f) mutable {
      const int pct = int(f * 100);
      if (pct != last && (tty || pct % 25 == 0)) {
        std::fprintf(stderr, tty ? "\rrefining: %3d%%" : "refining: %d%%\n", pct);
        if (tty && pct >= 100) std::fprintf(stderr, "\n");
        last = pct;
      }
      return true;
    };
  }
  return o;
}

}  // namespace aec::cli
