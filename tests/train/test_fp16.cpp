// fp16 export (`aecodec-train export --fp16`) and conversion (`aecodec-train convert --fp16`): network
// weights stored as F16, the quantiser and entropy tables unchanged; the core loads the file, and its outputs
// stay within a stated tolerance of the F32 model's.
#include <cstdio>
#include <cstdlib>

#include "aecodec/codec.h"
#include "aecodec/metrics.h"
#include "aecodec/model.h"
#include "data.h"
#include "export.h"
#include "test_util.h"
#include "train_loop.h"

// LibTorch's c10 defines a glog-style CHECK (aborts on failure, not a Catch assertion); Catch's must win
// here, so catch.hpp comes after the LibTorch headers.
#undef CHECK
#include <catch2/catch.hpp>

using namespace aect;
using namespace aect_test;

namespace {

// Outputs of the F16 model against the F32 one, on [0,1] images: below a quarter of an 8-bit level
// (0.25/255 = 9.8e-4) for the decoder, and below 1e-2 absolute for the latent (whose values are O(1)).
constexpr double kSynthesisTolerance = 0.25 / 255;
constexpr double kAnalysisTolerance = 1e-2;

double max_abs(const aec::Tensor& a, const aec::Tensor& b) {
  REQUIRE(a.data.size() == b.data.size());
  double m = 0;
  for (size_t i = 0; i < a.data.size(); ++i) m = std::max(m, double(std::abs(a.data[i] - b.data[i])));
  return m;
}

// The trainer state (train.*: the prior's parameters, the gains) is stored F32 whatever the weights' storage.
bool is_network_tensor(const std::string& name) {
  return name.rfind("latent.", 0) != 0 && name.rfind("entropy.", 0) != 0 && name.rfind("train.", 0) != 0;
}

void check_fp16(const std::string& arch) {
  const std::string data = make_image_dir("fp16-" + arch);
  TrainConfig cfg = tiny_config(arch, data, data + "/run");
  cfg.lambdas = {0.01};
  train_run(cfg, false);
  LoadedRun run = load_run(cfg.out);
  ExportOptions o32, o16, o16g;  // o16g: F16 weights, F32 GDN
  o16.fp16 = o16g.fp16 = true;
  o16g.gdn_f32 = true;
  const aec::ModelFile f32 = export_models(run, "t-" + arch, o32)[0].second;
  const aec::ModelFile f16 = export_models(run, "t-" + arch, o16)[0].second;
  const aec::ModelFile f16g = export_models(run, "t-" + arch, o16g)[0].second;

  // Storage: network tensors F16 (GDN beta/gamma F32 when asked), everything else byte-identical.
  REQUIRE(f16.tensors.size() == f32.tensors.size());
  for (const auto& [name, t] : f32.tensors) {
    const aec::StoredTensor& h = f16.tensors.at(name);
    const bool gdn = name.size() > 5 && (name.substr(name.size() - 5) == ".beta" ||
                                         (name.size() > 6 && name.substr(name.size() - 6) == ".gamma"));
    INFO(name);
    CHECK(h.shape == t.shape);
    if (is_network_tensor(name) && !gdn) {
      CHECK(h.dtype == aec::DType::F16);
      CHECK(f16g.tensors.at(name).dtype == aec::DType::F16);
    } else if (gdn) {
      CHECK(h.dtype == aec::DType::F16);
      CHECK(f16g.tensors.at(name).dtype == aec::DType::F32);
      CHECK(f16g.tensors.at(name).bytes == t.bytes);
    } else {
      CHECK(h.dtype == t.dtype);
      CHECK(h.bytes == t.bytes);
    }
  }
  CHECK(f16.meta["training"]["weights_dtype"] == "F16");
  CHECK(f16.meta["training"].contains("gdn_dtype") == (arch == "factorized"));
  CHECK(!f32.meta["training"].contains("weights_dtype"));
  const size_t s32 = f32.serialize().size(), s16 = f16.serialize().size();
  std::printf("fp16 %-10s: %zu -> %zu bytes\n", arch.c_str(), s32, s16);
  CHECK(double(s16) < 0.6 * double(s32));

  // `convert` on the F32 file stores exactly the same tensors as the F16 export.
  aec::ModelFile conv = f32;
  store_network_as(conv, weight_storage(true, false));
  if (arch == "factorized") CHECK(conv.meta["training"]["gdn_dtype"] == "F16");
  for (const auto& [name, t] : f16.tensors) CHECK(conv.tensors.at(name).bytes == t.bytes);

  // The core loads it: same name and entropy model, another version.
  const aec::Model m32 = aec::Model::from_file(f32), m16 = aec::Model::from_file(f16),
                   m16g = aec::Model::from_file(f16g);
  CHECK(m16.info().name == m32.info().name);
  CHECK(m16.info().entropy_hash == m32.info().entropy_hash);
  CHECK(m16.info().model_hash != m32.info().model_hash);
  CHECK(m16.info().id == f16.meta["id"].get<std::string>());

  const int fixed = run.model->fixed_size();
  const aec::Image im = synthetic_image(fixed ? fixed : 96, fixed ? fixed : 64, 11);
  const aec::Tensor x = aec::image_to_tensor(im);
  const aec::Tensor y32 = m32.analysis(x);
  const std::vector<int32_t> q = m32.quantize(y32);
  const aec::Tensor y_hat = m32.dequantize(q, y32.c, y32.h, y32.w);
  CHECK(max_abs(y_hat, m16.dequantize(q, y32.c, y32.h, y32.w)) == 0.0);  // the quantiser is exact
  const aec::Tensor x32 = m32.synthesis(y_hat);
  const double da = max_abs(y32, m16.analysis(x)), ds = max_abs(x32, m16.synthesis(y_hat)),
               dsg = max_abs(x32, m16g.synthesis(y_hat));
  std::printf("fp16 %-10s: analysis max|diff| %.3g, synthesis max|diff| %.3g (GDN F32: %.3g)\n", arch.c_str(),
              da, ds, dsg);
  CHECK(da < kAnalysisTolerance);
  CHECK(ds < kSynthesisTolerance);
  CHECK(dsg < kSynthesisTolerance);

  // Bitstreams: the F16 model round-trips its own files; an F32 model's file names the F32 version, and the
  // F16 model refuses it with a message naming both versions.
  const aec::EncodeResult e16 = aec::encode_image(m16, im);
  CHECK(aec::decode_image(m16, e16.bytes.data(), e16.bytes.size()).image.width == im.width);
  const aec::EncodeResult e32 = aec::encode_image(m32, im);
  CHECK_THROWS_WITH(aec::decode_image(m16, e32.bytes.data(), e32.bytes.size()),
                    Catch::Contains("version " + m32.info().id) && Catch::Contains(m16.info().id));
}

}  // namespace

TEST_CASE("fp16 export of a factorized model: F16 weights, exact tables, outputs within tolerance",
          "[train][fp16]") {
  check_fp16("factorized");
}

TEST_CASE("fp16 export of an fc model", "[train][fp16]") {
  check_fp16("fc");
}

TEST_CASE("aecodec-train convert --fp16 rewrites a model file with a new id", "[train][fp16]") {
  const std::string data = make_image_dir("fp16-convert");
  TrainConfig cfg = tiny_config("conv", data, data + "/run");
  train_run(cfg, false);
  LoadedRun run = load_run(cfg.out);
  ExportOptions opt;
  opt.codec_scores = false;
  const std::string in = data + "/m.aem", out = data + "/m16.aem";
  export_models(run, "m", opt)[0].second.write(in);
  const std::string cmd = std::string(AECT_TRAIN_BIN) + " convert --fp16 " + in + " " + out + " 2>/dev/null";
  REQUIRE(std::system(cmd.c_str()) == 0);
  const aec::ModelFile a = aec::ModelFile::read(in), b = aec::ModelFile::read(out);
  CHECK(b.meta["name"] == a.meta["name"]);
  CHECK(b.meta["id"] != a.meta["id"]);
  CHECK(b.meta["training"]["converted_from"] == a.meta["id"]);
  CHECK(b.meta["id"].get<std::string>() == hex16(b.decode_hash()));
  CHECK(b.tensors.at("g_a.0.weight").dtype == aec::DType::F16);
  CHECK(b.tensors.at("latent.step").bytes == a.tensors.at("latent.step").bytes);
  const aec::Model ma = aec::Model::load(in), mb = aec::Model::load(out);
  CHECK(mb.info().entropy_hash == ma.info().entropy_hash);
  // Nothing to convert without --fp16 or --name: refused.
  CHECK(std::system(
            (std::string(AECT_TRAIN_BIN) + " convert " + in + " " + out + ".x 2>/dev/null").c_str()) != 0);
  // --name alone renames (a run trained under another name): same tensors, new name and id.
  const std::string renamed = data + "/renamed.aem";
  REQUIRE(std::system(
              (std::string(AECT_TRAIN_BIN) + " convert --name other " + out + " " + renamed + " 2>/dev/null")
                  .c_str()) == 0);
  const aec::ModelFile c = aec::ModelFile::read(renamed);
  CHECK(c.meta["name"] == "other");
  CHECK(c.meta["id"] != b.meta["id"]);
  CHECK(c.meta["id"].get<std::string>() == hex16(c.decode_hash()));
  CHECK(c.tensors.at("g_a.0.weight").bytes == b.tensors.at("g_a.0.weight").bytes);
  CHECK(aec::Model::load(renamed).info().name == "other");
  // --valid replaces the scores with the codec's own numbers on that folder.
  const std::string rescored = data + "/rescored.aem";
  REQUIRE(std::system((std::string(AECT_TRAIN_BIN) + " convert --valid " + data + " " + renamed + " " +
                       rescored + " 2>/dev/null")
                          .c_str()) == 0);
  const aec::ModelFile r = aec::ModelFile::read(rescored);
  const aec::Model mr = aec::Model::load(rescored);
  const ImageSet images = load_images(data, false);
  double bpp = 0, psnr = 0;
  for (const aec::Image& im : images.images) {
    const aec::EncodeResult e = aec::encode_image(mr, im);
    bpp += aec::bits_per_pixel(e.bytes.size(), im.width, im.height);
    psnr += aec::psnr(aec::decode_image(mr, e.bytes.data(), e.bytes.size()).image, im);
  }
  const double n = double(images.images.size());
  CHECK(r.meta["scores"]["codec_images"] == images.images.size());
  CHECK(r.meta["scores"]["codec_bpp"].get<double>() == Approx(bpp / n).epsilon(1e-9));
  CHECK(r.meta["scores"]["codec_psnr"].get<double>() == Approx(psnr / n).epsilon(1e-9));
  CHECK_FALSE(r.meta["scores"].contains("source"));  // the trainer's own validation numbers are gone
  CHECK(r.meta["id"].get<std::string>() == hex16(r.decode_hash()));
  CHECK(r.meta["id"] == c.meta["id"]);  // new scores decode the same: files made before still decode
  // --description rewrites what a person reads, not the id.
  const std::string described = data + "/described.aem";
  REQUIRE(std::system((std::string(AECT_TRAIN_BIN) + " convert --description 'a test model' " + rescored +
                       " " + described + " 2>/dev/null")
                          .c_str()) == 0);
  const aec::ModelFile d = aec::ModelFile::read(described);
  CHECK(d.meta["description"] == "a test model");
  CHECK(d.meta["id"] == r.meta["id"]);
  CHECK(aec::Model::load(described).info().id == mr.info().id);
  const aec::EncodeResult before = aec::encode_image(mr, images.images[0]);
  CHECK_NOTHROW(aec::decode_image(aec::Model::load(described), before.bytes.data(), before.bytes.size()));
}
