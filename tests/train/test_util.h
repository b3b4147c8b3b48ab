// Shared by the trainer tests: a temp folder of generated PNGs and a tiny training config.
#pragma once
#include <cmath>
#include <filesystem>
#include <random>
#include <string>

#include <unistd.h>

#include "aecodec/image.h"
#include "config.h"

namespace aect_test {

namespace fs = std::filesystem;

// Smooth gradients, a disc and a little noise: enough structure for a few training steps.
inline aec::Image synthetic_image(int w, int h, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  const double fx = 2 + 6 * u(rng), fy = 2 + 6 * u(rng), cx = w * u(rng), cy = h * u(rng),
               r = 0.2 * w + 10 * u(rng);
  aec::Image im(w, h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const bool disc = (x - cx) * (x - cx) + (y - cy) * (y - cy) < r * r;
      for (int c = 0; c < 3; ++c) {
        double v =
            0.5 + 0.3 * std::sin(fx * x / w + c) * std::cos(fy * y / h + 2 * c) + (disc ? 0.2 * (c - 1) : 0);
        v += 0.03 * (u(rng) - 0.5);
        im.rgb[(size_t(y) * w + x) * 3 + c] = uint8_t(std::lround(255 * std::min(1.0, std::max(0.0, v))));
      }
    }
  return im;
}

// A fresh folder under the system temp dir holding `count` PNGs (sizes vary, not multiples of 16).
inline std::string make_image_dir(const std::string& tag, int count = 4) {
  const fs::path dir = fs::temp_directory_path() / ("aect-test-" + tag + "-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "sub");
  for (int i = 0; i < count; ++i) {
    const std::string name = (i % 2 ? "sub/" : "") + std::string("img") + std::to_string(i) + ".png";
    aec::write_png((dir / name).string(), synthetic_image(72 + 8 * i, 66 + 4 * i, unsigned(i + 1)));
  }
  return dir.string();
}

inline aect::TrainConfig tiny_config(const std::string& arch, const std::string& data,
                                     const std::string& out) {
  aect::TrainConfig c;
  c.arch = arch;
  c.data = data;
  c.valid = data;
  c.out = out;
  c.steps = 3;
  c.batch = 2;
  c.crop = 64;
  c.N = arch == "fc" ? 64 : 16;
  c.M = arch == "fc" ? 24 : 8;
  c.lr = 1e-3;
  c.threads = 2;
  c.valid_every = 0;
  c.valid_max_images = 2;
  c.checkpoint_minutes = 100;
  c.log_every = 1;
  c.device = "cpu";
  return c;
}

}  // namespace aect_test
