// A run's progress as pictures, from its log.csv: loss.svg (training loss per quality over the steps,
// smoothed) and rd.svg (each validation's bpp / PSNR per quality, joined in step order, so the curve's way
// towards fewer bits and more dB is visible). Written at the end of every `train` and by `aecodec-train
// plot`.
#pragma once
#include <string>
#include <vector>

namespace aect {

// Writes RUN/loss.svg and RUN/rd.svg (atomically) and returns their paths; a log without validation rows
// gives no rd.svg, one without training rows nothing. Throws aec::Error when RUN/log.csv cannot be read.
std::vector<std::string> write_progress_plots(const std::string& run_dir);

}  // namespace aect
