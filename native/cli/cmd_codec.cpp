// encode, decode, cross-decode: one image in, one file out, through the core's codec.
#include <cstdio>
#include <optional>
#include <string>

#include "aecodec/codec.h"
#include "aecodec/error.h"
#include "aecodec/file_io.h"
#include "aecodec/metrics.h"
#include "aecodec/quality_codec.h"
#include "aecodec/rate_target.h"
#include "commands.h"
#include "encode_options.h"
#include "image_files.h"
#include "model_registry.h"

namespace aec::cli {

namespace {

struct LimitOptions {
  int max_side = ImageLimits{}.max_side;
  int64_t max_pixels = ImageLimits{}.max_pixels;
  void add(CLI::App* cmd) {
    cmd->add_option("--max-side", max_side, "refuse images wider or taller than this")
        ->check(CLI::Range(1, 65536));
    cmd->add_option("--max-pixels", max_pixels, "refuse images with more pixels than this")
        ->check(CLI::Range(int64_t(1), int64_t(1) << 32));
  }
  ImageLimits limits() const { return {max_side, max_pixels}; }
};

struct EncodeArgs {
  std::string input, output, model = "default", alpha = "refuse";
  int effort = 0;
  int bands = 0;  // --bands: the payload's row bands (0: by size)
  double quality = 0;
  uint64_t size = 0;  // --size: a byte budget
  double psnr = 0;    // --psnr: a quality target in dB
  LimitOptions limits;
};

struct DecodeOptions {
  std::string input, output, model, reference;
  LimitOptions limits;
};

void run_encode(const EncodeArgs& o, const GlobalOptions& g) {
  LoadedImageInfo li;
  Image image = load_image(o.input, o.limits.limits(),
                           o.alpha == "drop" ? AlphaPolicy::drop : AlphaPolicy::refuse, &li);
  const int width = image.width, height = image.height;
  const QualityCodec codec = load_codec(o.model);
  EncodeOptions eo = encode_options(o.effort, g.quiet, o.quality);
  eo.bands = o.bands;
  std::string target;
  EncodeResult r;
  if (o.size > 0) {
    TargetResult t = encode_to_size(codec, image, o.size, eo);
    target = " for at most " + std::to_string(o.size) + " bytes (" + std::to_string(t.trials) + " trials)";
    r = std::move(t.encoded);
  } else if (o.psnr > 0) {
    TargetResult t = encode_to_psnr(codec, image, o.psnr, eo);
    char b[96];
    std::snprintf(b, sizeof b, " for %.2f dB: %.2f dB (%d trials)", o.psnr, t.psnr, t.trials);
    target = b;
    r = std::move(t.encoded);
  } else {
    r = codec.encode(std::move(image), eo);  // its pixels are freed before the entropy stage
  }
  // The member that made the file (the codec itself when it is one model).
  const CodecManifest::Setting member = codec.setting(r.quality);
  const Model& model = codec.member(member.member);
  write_file_atomic(o.output, r.bytes);
  if (g.quiet) return;
  if (li.converted_grey) std::fprintf(stderr, "note: greyscale image coded as RGB\n");
  if (li.dropped_alpha) std::fprintf(stderr, "note: alpha channel dropped\n");
  if (li.orientation != 1)
    std::fprintf(stderr, "note: EXIF orientation %d applied (the image was turned the right way up)\n",
                 li.orientation);
  const std::string profile = li.icc_name.empty() ? "" : " ('" + li.icc_name + "')";
  if (li.converted_icc)
    std::fprintf(stderr, "note: colours converted to sRGB from the embedded ICC profile%s\n",
                 profile.c_str());
  if (li.ignored_icc)
    std::fprintf(
        stderr,
        "note: the image's embedded ICC colour profile%s was ignored (%s): its colours were taken as "
        "sRGB (a wide-gamut photo, e.g. Display P3, comes out less saturated)\n",
        profile.c_str(), li.icc_note.c_str());
  std::string quality = r.quality > 0 ? ", quality " + format_quality(r.quality) + target : "";
  if (codec.members() > 1)
    quality += " (codec " + codec.name() + ": " + model.info().name + " at its quality " +
               format_quality(member.quality) + ")";
  std::printf(
      "%s: %dx%d -> %s: %zu bytes, %.4f bpp (model %s %s%s, effort %d, encode %.1f ms: network %.1f, "
      "refine %.1f, entropy %.1f)\n",
      o.input.c_str(), width, height, o.output.c_str(), r.bytes.size(),
      bits_per_pixel(r.bytes.size(), width, height), model.info().name.c_str(), model.info().id.c_str(),
      quality.c_str(), o.effort, r.timings.total_ms, r.timings.network_ms, r.timings.refine_ms,
      r.timings.entropy_ms);
}

// The installed model that cross-decodes a file, or "": a medium member's own file goes to the high member it
// names (full size); a file of that high member (which names no family) or of another member of its family to
// the medium member (half size). cross-decode uses it when no -m is given, and names it when the -m model
// refuses the file (a channel-wide file given family-medium: family-wide-medium).
std::string installed_cross_decoder(const BitstreamHeader& h) {
  for (const std::string& path : installed_model_files()) {
    try {
      const ModelFile f = ModelFile::read(path);
      const nlohmann::json fam = f.meta.value("family", nlohmann::json::object());
      if (!fam.is_object() || fam.value("role", "") != "medium") continue;
      const nlohmann::json high = fam.value("high", nlohmann::json::object());
      const std::string name = f.meta.value("name", ""),
                        high_name = high.is_object() ? high.value("name", "") : "";
      if (h.family_id.empty()) {  // a base model's file: the medium member that names that version
        if (high_name == h.model_name && high.value("id", "") == hash_hex(h.model_hash)) return name;
        continue;
      }
      if (fam.value("id", "") != h.family_id) continue;
      return name != h.model_name ? name : high_name;
    } catch (const std::exception&) {
      continue;  // a broken file on the path does not stop the search
    }
  }
  return "";
}

void run_decode(const DecodeOptions& o, const GlobalOptions& g, bool cross) {
  const std::vector<uint8_t> bytes = read_file(o.input, uint64_t(1) << 30);
  Bitstream header_only = parse_bitstream(bytes.data(), bytes.size());
  const BitstreamHeader& h = header_only.header;
  // -m names a model or a codec; a codec decodes with the member that made the file.
  std::optional<QualityCodec> codec;
  std::optional<Model> named;
  if (o.model.empty() && cross) {
    // The installed model that cross-decodes the file: a high file's medium member (half size), a medium
    // file's high member (full size).
    const std::string other = installed_cross_decoder(h);
    require(!other.empty(), "no installed model cross-decodes this file (made by '" + h.model_name +
                                "', in no family with an installed model): name one with -m");
    named = load_model(other);
  } else if (o.model.empty())
    named = find_model_for(h.model_name, hash_hex(h.model_hash));
  else if (cross)
    named = load_model(o.model);
  else
    codec = load_codec(o.model);
  // A medium member's file to its high member's size: through the member's up decoder when the member is
  // installed and has one (docs/family.md), else through the high member's own decoder.
  std::optional<Model> up_member;
  if (cross && named && !h.family_id.empty() && h.model_name != named->info().name) {
    try {
      Model m = find_model_for(h.model_name, hash_hex(h.model_hash));
      const ModelInfo& mi = m.info();
      if (mi.up_decoder && (mi.names_as_high(named->info().name, named->info().id) ||
                            (!mi.family_id.empty() && mi.family_id == named->info().family_id)))
        up_member = std::move(m);
    } catch (const Error&) {  // not installed: the high member decodes it
    }
  }
  if (cross && named && !up_member) {
    const std::string why = decoder_mismatch(*named, h, true);
    const std::string other = why.empty() ? "" : installed_cross_decoder(h);
    if (!other.empty() && other != named->info().name)
      throw Error(why + "; the installed model that cross-decodes it is '" + other + "' (-m " + other + ")");
  }
  const Model& model = up_member ? *up_member : codec ? codec->decoder_for(h) : *named;
  const DecodeAs as = up_member ? DecodeAs::up : cross ? DecodeAs::cross : DecodeAs::own;
  DecodeResult r;
  int out_w = 0, out_h = 0;
  if (o.reference.empty()) {  // the PNG written by bands of rows as the decoder makes them
    PngRowWriter png(o.output);
    r = decode_image_rows(
        model, bytes.data(), bytes.size(),
        [&](int w, int h, int y0, int n, const uint8_t* rgb) {
          out_w = w, out_h = h;
          png.rows(w, h, y0, n, rgb);
        },
        o.limits.limits(), as);
    png.finish();
  }
  // The whole image, to compare with the reference, which is checked before the PNG is written. A half-size
  // cross-decode compares with the reference box-downscaled, as the family's measurements do
  // (docs/family.md).
  std::optional<Image> ref;
  bool ref_downscaled = false;
  if (!o.reference.empty()) {
    r = as == DecodeAs::up      ? up_decode_image(model, bytes.data(), bytes.size(), o.limits.limits())
        : as == DecodeAs::cross ? cross_decode_image(model, bytes.data(), bytes.size(), o.limits.limits())
                                : decode_image(model, bytes.data(), bytes.size(), o.limits.limits());
    ref = load_image(o.reference, o.limits.limits(), AlphaPolicy::drop);
    if (cross && ref->width != r.image.width && (ref->width + 1) / 2 == r.image.width &&
        (ref->height + 1) / 2 == r.image.height)
      ref = downscale2x_box(*ref), ref_downscaled = true;
    require(ref->width == r.image.width && ref->height == r.image.height,
            "reference '" + o.reference + "' is " + std::to_string(ref->width) + "x" +
                std::to_string(ref->height) + ", the decoded image is " + std::to_string(r.image.width) +
                "x" + std::to_string(r.image.height));
    write_png(o.output, r.image);
    out_w = r.image.width, out_h = r.image.height;
  }
  if (g.quiet) return;
  std::printf("%s -> %s: %dx%d, %.4f bpp, decode %.1f ms (network %.1f, entropy %.1f), model %s %s",
              o.input.c_str(), o.output.c_str(), out_w, out_h,
              bits_per_pixel(bytes.size(), int(h.width), int(h.height)), r.timings.total_ms,
              r.timings.network_ms, r.timings.entropy_ms, model.info().name.c_str(), model.info().id.c_str());
  if (up_member) std::printf(" (its up decoder)");
  if (ref)
    std::printf(", PSNR %.3f dB, MS-SSIM %.5f%s", psnr(*ref, r.image), ms_ssim(*ref, r.image),
                ref_downscaled ? " (against the reference box-downscaled to half size)" : "");
  std::printf("\n");
}

}  // namespace

void add_codec_commands(CLI::App& app, const GlobalOptions& g) {
  auto enc = std::make_shared<EncodeArgs>();
  CLI::App* e = app.add_subcommand("encode", "compress an image (PNG, JPEG, BMP, TGA) into an .aec file");
  e->add_option("input", enc->input, "image to compress")->required();
  e->add_option("-o,--output", enc->output, "the .aec file to write")->required();
  e->add_option("-m,--model", enc->model,
                "codec or model: a name from the model path (a codec's NAME.codec.json, else NAME.aem), or a "
                "file")
      ->capture_default_str();
  e->add_option("--alpha", enc->alpha, "images with transparency: refuse, or drop the alpha channel")
      ->capture_default_str()
      ->check(CLI::IsMember({"refuse", "drop"}));
  add_effort_option(e, enc->effort);
  auto* qopt = add_quality_option(e, enc->quality);
  auto* sopt =
      e->add_option("--size", enc->size,
                    "the largest quality whose file has at most this many bytes (variable-rate models; "
                    "as cwebp -size)")
          ->check(CLI::Range(uint64_t(1), uint64_t(1) << 40));
  auto* popt =
      e->add_option("--psnr", enc->psnr,
                    "the smallest file whose decoded image reaches this PSNR in dB (variable-rate models)")
          ->check(CLI::Range(1.0, 199.0));
  e->add_option("--bands", enc->bands,
                "the payload's row bands, coded and decoded by that many threads at once (about 6 bytes "
                "each; at most one per latent row): 0 = one per 65,536 latent symbols (docs/bitstream.md)")
      ->capture_default_str()
      ->check(CLI::Range(0, 256));
  qopt->excludes(sopt)->excludes(popt);
  sopt->excludes(popt);
  enc->limits.add(e);
  e->callback([enc, &g] { run_encode(*enc, g); });

  for (bool cross : {false, true}) {
    auto dec = std::make_shared<DecodeOptions>();
    CLI::App* d = cross ? app.add_subcommand("cross-decode",
                                             "decode an .aec file with the decoder of another member of the "
                                             "encoder's cross-resolution family")
                        : app.add_subcommand("decode", "decompress an .aec file into a PNG");
    d->add_option("input", dec->input, ".aec file")->required();
    d->add_option("-o,--output", dec->output, "the PNG to write")->required();
    d->add_option(
        "-m,--model", dec->model,
        cross ? "the decoding model, file or name (default: the installed one that cross-decodes the "
                "file: a high file's medium member, half size; a medium file's high member, full size)"
              : "model file or name (default: the installed model the file names)");
    d->add_option("--reference", dec->reference,
                  cross ? "original image: also print PSNR and MS-SSIM against it (box-downscaled when the "
                          "decoded image is half its size)"
                        : "original image: also print PSNR and MS-SSIM against it");
    dec->limits.add(d);
    d->callback([dec, &g, cross] { run_decode(*dec, g, cross); });
  }
}

}  // namespace aec::cli
