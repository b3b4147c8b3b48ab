// The core's side of the ONNX parity test: runs a model on a deterministic synthetic image and writes what
// parity.mjs compares ONNX Runtime against.
//   aec_core_forward MODEL.aem WIDTH HEIGHT OUTDIR
// writes OUTDIR/input.f32 (image [1,3,H,W] in [0,1]), latent.f32 (encoder output y), latent_hat.f32 (y
// quantised and dequantised: the decoder's input), recon.f32 (decoder output, not clamped), all raw
// little-endian float32 in (C,H,W) order, and shapes.json. Fixed-size models use their own size; a size of
// 0 0 means about 256x192, rounded up to the model's stride.
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "aecodec/codec.h"
#include "aecodec/error.h"
#include "aecodec/file_io.h"
#include "aecodec/image.h"
#include "aecodec/model.h"
#include "test_images.h"

namespace {

void write_floats(const std::string& path, const aec::Tensor& t) {
  aec::write_file_atomic(path, reinterpret_cast<const uint8_t*>(t.data.data()), t.size() * sizeof(float));
}

nlohmann::json shape(const aec::Tensor& t) {
  return {1, t.c, t.h, t.w};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: aec_core_forward MODEL.aem WIDTH HEIGHT OUTDIR\n");
    return 2;
  }
  try {
    const aec::Model model = aec::Model::load(argv[1]);
    const aec::ModelInfo& info = model.info();
    int w = std::stoi(argv[2]), h = std::stoi(argv[3]);
    if (info.fixed_width) w = info.fixed_width, h = info.fixed_height;
    const int s = info.stride;
    if (w == 0 && h == 0) w = (256 + s - 1) / s * s, h = (192 + s - 1) / s * s;
    aec::require(w > 0 && h > 0 && w % info.stride == 0 && h % info.stride == 0,
                 "size must be a positive multiple of the stride " + std::to_string(info.stride));
    const std::string dir = argv[4];

    const aec::Tensor image = aec::image_to_tensor(aec::testing::synthetic_image(w, h, 3));
    const aec::Tensor y = model.analysis(image);
    const aec::Tensor y_hat = aec::code_latent(model, y).latent;  // a hyperprior's too
    const aec::Tensor recon = model.synthesis(y_hat);

    write_floats(dir + "/input.f32", image);
    write_floats(dir + "/latent.f32", y);
    write_floats(dir + "/latent_hat.f32", y_hat);
    write_floats(dir + "/recon.f32", recon);
    const std::string meta =
        nlohmann::json{
            {"model", info.name}, {"input", shape(image)}, {"latent", shape(y)}, {"recon", shape(recon)}}
            .dump() +
        "\n";
    aec::write_file_atomic(dir + "/shapes.json", reinterpret_cast<const uint8_t*>(meta.data()), meta.size());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "aec_core_forward: %s\n", e.what());
    return 1;
  }
  return 0;
}
