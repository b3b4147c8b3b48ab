// eval: compress every image of a folder with one model, decode it, and measure rate, quality and time.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "aecodec/codec.h"
#include "aecodec/error.h"
#include "aecodec/file_io.h"
#include "aecodec/metrics.h"
#include "aecodec/quality_codec.h"
#include "commands.h"
#include "encode_options.h"
#include "image_files.h"
#include "model_registry.h"

namespace fs = std::filesystem;

namespace aec::cli {

namespace {

struct EvalOptions {
  std::string model = "default", dir, json, csv;
  int limit = 0;
  int effort = 0;
  double quality = 0;
};

struct Row {
  std::string image;
  int width = 0, height = 0;
  size_t bytes = 0;
  double bpp = 0, psnr = 0, ms_ssim = 0, encode_ms = 0, decode_ms = 0;
};

nlohmann::json row_json(const Row& r) {
  return {{"image", r.image},
          {"width", r.width},
          {"height", r.height},
          {"bytes", r.bytes},
          {"bpp", r.bpp},
          {"psnr", r.psnr},
          {"ms_ssim", r.ms_ssim},
          {"encode_ms", r.encode_ms},
          {"decode_ms", r.decode_ms}};
}

// A fixed-size model (fc) codes exactly its input size, so eval measures the centre crop of that size of each
// image (what the trainer's validation and export measure too); a smaller image is left whole, and the codec
// refuses it with a message naming both sizes.
Image centre_crop(const Image& im, int w, int h) {
  if (im.width < w || im.height < h || (im.width == w && im.height == h)) return im;
  Image out(w, h);
  const int x0 = (im.width - w) / 2, y0 = (im.height - h) / 2;
  for (int y = 0; y < h; ++y) {
    const uint8_t* src = im.rgb.data() + (size_t(y0 + y) * size_t(im.width) + size_t(x0)) * 3;
    std::copy(src, src + size_t(w) * 3, out.rgb.data() + size_t(y) * size_t(w) * 3);
  }
  return out;
}

void run_eval(const EvalOptions& o, const GlobalOptions& g) {
  const QualityCodec codec = load_codec(o.model);
  // Every image is coded at one quality, so by one member of the codec.
  const double quality = o.quality > 0 ? o.quality : codec.default_quality();
  const CodecManifest::Setting member = codec.setting(quality);
  const Model& model = codec.member(member.member);
  std::vector<std::string> files = image_files(o.dir);
  if (o.limit > 0 && int(files.size()) > o.limit) files.resize(size_t(o.limit));
  std::vector<Row> rows;
  for (size_t i = 0; i < files.size(); ++i) {
    if (!g.quiet) std::fprintf(stderr, "\r[%zu/%zu] %s\033[K", i + 1, files.size(), files[i].c_str());
    Image image = load_image(files[i], {}, AlphaPolicy::drop);
    if (model.info().fixed_width)
      image = centre_crop(image, model.info().fixed_width, model.info().fixed_height);
    const EncodeResult e = codec.encode(image, encode_options(o.effort, true, o.quality));
    const DecodeResult d = decode_image(model, e.bytes.data(), e.bytes.size());
    Row r;
    r.image = fs::relative(files[i], o.dir).string();
    r.width = image.width, r.height = image.height;
    r.bytes = e.bytes.size();
    r.bpp = bits_per_pixel(r.bytes, image.width, image.height);
    r.psnr = psnr(image, d.image);
    r.ms_ssim = ms_ssim(image, d.image);
    r.encode_ms = e.timings.total_ms, r.decode_ms = d.timings.total_ms;
    rows.push_back(r);
  }
  if (!g.quiet) std::fprintf(stderr, "\r\033[K");
  Row mean;
  mean.image = "mean";
  for (const Row& r : rows) {
    mean.bytes += r.bytes, mean.bpp += r.bpp, mean.psnr += r.psnr, mean.ms_ssim += r.ms_ssim;
    mean.encode_ms += r.encode_ms, mean.decode_ms += r.decode_ms;
  }
  const double n = double(rows.size());
  mean.bytes = size_t(double(mean.bytes) / n + 0.5);
  mean.bpp /= n, mean.psnr /= n, mean.ms_ssim /= n, mean.encode_ms /= n, mean.decode_ms /= n;

  if (!g.quiet) {
    std::printf("model %s %s on %s (%zu images)\n", model.info().name.c_str(), model.info().id.c_str(),
                o.dir.c_str(), rows.size());
    if (codec.members() > 1)
      std::printf("codec %s at quality %s: %s at its quality %s\n", codec.name().c_str(),
                  format_quality(quality).c_str(), model.info().name.c_str(),
                  format_quality(member.quality).c_str());
    if (model.info().fixed_width)
      std::printf("fixed-size model: each image's centre %dx%d crop is coded and measured\n",
                  model.info().fixed_width, model.info().fixed_height);
    std::printf("%-28s %9s %8s %7s %9s %8s %10s %10s\n", "image", "size", "bytes", "bpp", "PSNR", "MS-SSIM",
                "enc ms", "dec ms");
    auto line = [](const Row& r) {
      const std::string size = r.width ? std::to_string(r.width) + "x" + std::to_string(r.height) : "";
      std::printf("%-28s %9s %8zu %7.4f %9.3f %8.5f %10.1f %10.1f\n", r.image.c_str(), size.c_str(), r.bytes,
                  r.bpp, r.psnr, r.ms_ssim, r.encode_ms, r.decode_ms);
    };
    for (const Row& r : rows) line(r);
    line(mean);
  }
  if (!o.json.empty()) {
    nlohmann::json j = {
        {"model", model.info().name}, {"model_id", model.info().id}, {"images", nlohmann::json::array()}};
    if (codec.members() > 1)
      j["codec"] = {{"name", codec.name()}, {"quality", quality}, {"model_quality", member.quality}};
    for (const Row& r : rows) j["images"].push_back(row_json(r));
    j["mean"] = row_json(mean);
    const std::string text = j.dump(2) + "\n";
    write_file_atomic(o.json, reinterpret_cast<const uint8_t*>(text.data()), text.size());
  }
  if (!o.csv.empty()) {
    std::string text = "image,width,height,bytes,bpp,psnr,ms_ssim,encode_ms,decode_ms\n";
    char buf[512];
    for (const Row& r : rows) {
      std::snprintf(buf, sizeof buf, "%s,%d,%d,%zu,%.6f,%.4f,%.6f,%.2f,%.2f\n", r.image.c_str(), r.width,
                    r.height, r.bytes, r.bpp, r.psnr, r.ms_ssim, r.encode_ms, r.decode_ms);
      text += buf;
    }
    write_file_atomic(o.csv, reinterpret_cast<const uint8_t*>(text.data()), text.size());
  }
}

}  // namespace

void add_eval_command(CLI::App& app, const GlobalOptions& g) {
  auto o = std::make_shared<EvalOptions>();
  CLI::App* e = app.add_subcommand("eval",
                                   "measure a model on a folder of images: bpp, PSNR, MS-SSIM, times "
                                   "(fixed-size models, e.g. fc: each image's centre crop of their size)");
  e->add_option("dir", o->dir, "folder of images (searched recursively)")->required();
  e->add_option("-m,--model", o->model, "codec or model: a name from the model path, or a file")
      ->capture_default_str();
  e->add_option("--json", o->json, "write per-image and mean results as JSON");
  e->add_option("--csv", o->csv, "write per-image results as CSV");
  e->add_option("--limit", o->limit, "evaluate at most this many images");
  add_effort_option(e, o->effort);
  add_quality_option(e, o->quality);
  e->callback([o, &g] { run_eval(*o, g); });
}

}  // namespace aec::cli
