// bench: how fast the core runs one model at one image size -- encoder and decoder network time, whole-file
// encode and decode (entropy coding and container included), megapixels/s, GFLOP/s against the model's FLOP
// count, peak memory and threads. Prints figures; it asserts nothing (speed targets are read, not tested).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "aecodec/codec.h"
#include "aecodec/error.h"
#include "aecodec/file_io.h"
#include "aecodec/parallel.h"
#include "commands.h"
#include "model_registry.h"

namespace aec::cli {

namespace {

struct BenchOptions {
  std::string model = "default", size = "768x512", json;
  int repeat = 3;
};

double median_ms(int repeat, const std::function<void()>& fn) {
  std::vector<double> t;
  for (int i = 0; i < repeat; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

void run_bench(const BenchOptions& o) {
  const Model model = load_model(o.model);
  int w = 0, h = 0;
  require(std::sscanf(o.size.c_str(), "%dx%d", &w, &h) == 2 && w > 0 && h > 0 && w <= 8192 && h <= 8192,
          "--size must be WIDTHxHEIGHT");
  if (model.info().fixed_width) w = model.info().fixed_width, h = model.info().fixed_height;
  Image im(w, h);
  for (size_t i = 0; i < im.rgb.size(); ++i) im.rgb[i] = uint8_t((i * 2654435761u) >> 24);  // busy content
  const int s = model.info().stride;
  const int pw = model.info().fixed_width ? w : (w + s - 1) / s * s,
            ph = model.info().fixed_width ? h : (h + s - 1) / s * s;
  const Tensor x = image_to_tensor(pad_edge(im, pw, ph));
  int c = 3, lh = ph, lw = pw;
  model.encoder().output_shape(c, lh, lw);
  const double enc_gflop = 2 * model.encoder().macs(3, ph, pw) / 1e9;
  const double dec_gflop = 2 * model.decoder().macs(c, lh, lw) / 1e9;

  Tensor y;
  const double enc_ms = median_ms(o.repeat, [&] { y = model.analysis(x); });
  const double dec_ms = median_ms(o.repeat, [&] { model.synthesis(y); });
  EncodeResult e;
  const double file_enc_ms = median_ms(o.repeat, [&] { e = encode_image(model, im); });
  const double file_dec_ms =
      median_ms(o.repeat, [&] { decode_image(model, e.bytes.data(), e.bytes.size()); });
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  const double mpx = double(w) * h / 1e6;
  std::printf("model %s (%s), %dx%d, %d thread(s), median of %d\n", model.info().name.c_str(),
              model.info().id.c_str(), w, h, num_threads(), o.repeat);
  std::printf("  encoder network  %9.1f ms  %7.2f Mpx/s  %7.2f GFLOP  %7.1f GFLOP/s\n", enc_ms,
              mpx / enc_ms * 1e3, enc_gflop, enc_gflop / enc_ms * 1e3);
  std::printf("  decoder network  %9.1f ms  %7.2f Mpx/s  %7.2f GFLOP  %7.1f GFLOP/s\n", dec_ms,
              mpx / dec_ms * 1e3, dec_gflop, dec_gflop / dec_ms * 1e3);
  std::printf("  whole encode     %9.1f ms  (%.2fx the network)\n", file_enc_ms, file_enc_ms / enc_ms);
  std::printf("  whole decode     %9.1f ms  (%.2fx the network)\n", file_dec_ms, file_dec_ms / dec_ms);
  std::printf("  encode+decode    %9.1f ms  vs networks %.1f ms: %.2fx\n", file_enc_ms + file_dec_ms,
              enc_ms + dec_ms, (file_enc_ms + file_dec_ms) / (enc_ms + dec_ms));
  std::printf("  peak memory      %9.1f MiB\n", double(ru.ru_maxrss) / 1024.0);
  if (!o.json.empty()) {
    const nlohmann::json j = {{"model", model.info().name},
                              {"width", w},
                              {"height", h},
                              {"threads", num_threads()},
                              {"encoder_ms", enc_ms},
                              {"decoder_ms", dec_ms},
                              {"encode_file_ms", file_enc_ms},
                              {"decode_file_ms", file_dec_ms},
                              {"encoder_gflop", enc_gflop},
                              {"decoder_gflop", dec_gflop},
                              {"peak_rss_mib", double(ru.ru_maxrss) / 1024.0}};
    const std::string text = j.dump(2) + "\n";
    write_file_atomic(o.json, reinterpret_cast<const uint8_t*>(text.data()), text.size());
  }
}

}  // namespace

void add_bench_command(CLI::App& app, const GlobalOptions&) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* b = app.add_subcommand("bench", "time the core on one model and image size (prints figures)");
  b->add_option("-m,--model", o->model, "model file or name")->capture_default_str();
  b->add_option("--size", o->size, "image size WIDTHxHEIGHT")->capture_default_str();
  b->add_option("--repeat", o->repeat, "runs per figure (the median is printed)")->check(CLI::Range(1, 100));
  b->add_option("--json", o->json, "also write the figures as JSON");
  b->callback([o] { run_bench(*o); });
}

}  // namespace aec::cli
