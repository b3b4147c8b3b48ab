// Coding by tiles (tile.h): on the shipped models, an image cut into many tiles gives the same latent
// symbols, the same file and the same decoded pixels as the whole image; the halo comes from the layer list.
#include <catch2/catch.hpp>
#include <map>

#include "aecodec/codec.h"
#include "aecodec/error.h"
#include "aecodec/hyperprior.h"
#include "aecodec/tile.h"
#include "random_model.h"
#include "test_images.h"

using namespace aec;
using aec::testing::synthetic_image;

namespace {

const Model& shipped(const std::string& name) {
  static std::map<std::string, Model> models;
  auto it = models.find(name);
  if (it == models.end())
    it = models.emplace(name, Model::load(std::string(AEC_TEST_DATA) + "/../../models/" + name + ".aem"))
             .first;
  return it->second;
}

// Restores the process-wide tile options when a test ends, whatever it set.
struct TileOptionsGuard {
  TileOptions saved = tile_options();
  ~TileOptionsGuard() { set_tile_options(saved); }
};

size_t count_differences(const std::vector<float>& a, const std::vector<float>& b) {
  size_t n = 0;
  for (size_t i = 0; i < a.size(); ++i) n += a[i] != b[i];
  return n;
}

}  // namespace

TEST_CASE("the halo comes from the layer list: input_range and strides of the shipped networks") {
  const Model& m = shipped("hyperprior-q5");
  int down, up;
  REQUIRE(m.encoder().strides(down, up));
  CHECK(down == 16);
  CHECK(up == 1);
  REQUIRE(m.decoder().strides(down, up));
  CHECK(down == 1);
  CHECK(up == 16);
  // Four 5x5 stride-2 convolutions with padding 2: latent position j reads pixels 16j - 30 .. 16j + 30.
  int64_t lo = 10, hi = 10;
  REQUIRE(m.encoder().input_range(lo, hi));
  CHECK(lo == 160 - 30);
  CHECK(hi == 160 + 30);
  // The decoder's pixels read a few latent positions around their own.
  lo = 160, hi = 175;
  REQUIRE(m.decoder().input_range(lo, hi));
  CHECK(lo >= 7);
  CHECK(lo <= 10);
  CHECK(hi >= 10);
  CHECK(hi <= 13);
  // A fixed-size model (linear layers) cannot be tiled and is never tiled.
  aec::testing::RandomModelSpec spec;
  spec.arch = "fc";
  const Model fc = Model::from_file(aec::testing::make_random_model(spec));
  CHECK_FALSE(fc.encoder().strides(down, up));
  CHECK_FALSE(use_tiles(fc, 4096, 4096, TileOptions{0, 64}));
}

TEST_CASE(
    "tile_side: wider networks get tiles of proportionally smaller area, the narrow ones the tile asked") {
  // The narrow networks (64 channels at half resolution: 16 floats per pixel) keep the tile.
  const Model& narrow = shipped("hyperprior-q5");
  CHECK(tile_side(narrow.encoder(), 3, 1024) == 1024);
  CHECK(tile_side(narrow.decoder(), narrow.info().latent_channels, 1024) == 1024);
  // The wide ones (128 channels: 32 floats per pixel) get half the area, rounded down to the stride:
  // 1024 / sqrt(2) = 724 -> 720.
  const Model& wide = shipped("hyperprior-q6");
  CHECK(tile_side(wide.encoder(), 3, 1024) == 720);
  CHECK(tile_side(wide.decoder(), wide.info().latent_channels, 1024) == 720);
  // Never below one stride.
  CHECK(tile_side(wide.encoder(), 3, 8) == 16);
}

TEST_CASE("tiled analysis and synthesis equal the whole-image transforms on the shipped models") {
  for (const char* name : {"hyperprior-q5", "factorized-q3", "hyperprior-q6"}) {
    const Model& m = shipped(name);
    // Not a multiple of the stride (the padding is replicated), and tiles of 64 pixels: 6 x 4 tiles, most
    // with halos on every side.
    const Image img = synthetic_image(331, 213, 5);
    const int pw = 336, ph = 224;
    INFO(name);
    const Tensor y_whole = m.analysis(image_to_tensor(pad_edge(img, pw, ph)));
    for (int tile : {64, 50, 160}) {
      INFO("tile " << tile);
      const Tensor y_tiled = analysis_tiled(m, img, tile);
      REQUIRE(y_tiled.c == y_whole.c);
      REQUIRE(y_tiled.h == y_whole.h);
      REQUIRE(y_tiled.w == y_whole.w);
      CHECK(count_differences(y_tiled.data, y_whole.data) == 0);
      // The symbols and so the file: equal.
      const LatentCode a = code_latent(m, y_whole), b = code_latent(m, y_tiled);
      CHECK(a.stream.sections.size() == b.stream.sections.size());
      for (size_t i = 0; i < a.stream.sections.size() && i < b.stream.sections.size(); ++i)
        CHECK(a.stream.sections[i].bytes == b.stream.sections[i].bytes);
    }

    const Tensor latent = code_latent(m, y_whole).latent;
    const Image whole = crop(tensor_to_image(m.synthesis(latent)), img.width, img.height);
    for (int tile : {64, 48, 1000}) {
      INFO("decoder tile " << tile);
      Image tiled(img.width, img.height);
      int next_row = 0;
      synthesis_tiled(m.decoder(), latent, img.width, img.height, tile,
                      [&](int w, int h, int y0, int rows, const uint8_t* rgb) {
                        REQUIRE(w == img.width);
                        REQUIRE(h == img.height);
                        REQUIRE(y0 == next_row);  // bands in order, each row once
                        REQUIRE(rows > 0);
                        next_row += rows;
                        std::copy_n(rgb, size_t(w) * rows * 3, tiled.rgb.data() + size_t(y0) * w * 3);
                      });
      CHECK(next_row == img.height);
      int worst = 0;
      for (size_t i = 0; i < whole.rgb.size(); ++i)
        worst = std::max(worst, std::abs(whole.rgb[i] - tiled.rgb[i]));
      CHECK(worst == 0);  // the same arithmetic on every pixel: exact, not merely within tolerance
    }
  }
}

TEST_CASE("encode_image and decode_image tile large images and give the same file and pixels") {
  TileOptionsGuard guard;
  const Model& m = shipped("hyperprior-q5");
  const Image img = synthetic_image(300, 190, 9);
  set_tile_options(TileOptions{int64_t(1) << 40, 1024});  // never tiled
  REQUIRE_FALSE(use_tiles(m, img.width, img.height));
  const EncodeResult whole = encode_image(m, img);
  const DecodeResult whole_dec = decode_image(m, whole.bytes.data(), whole.bytes.size());

  set_tile_options(TileOptions{0, 64});  // everything tiled, small tiles
  REQUIRE(use_tiles(m, img.width, img.height));
  const EncodeResult tiled = encode_image(m, img);
  CHECK(tiled.bytes == whole.bytes);
  const DecodeResult tiled_dec = decode_image(m, whole.bytes.data(), whole.bytes.size());
  CHECK(tiled_dec.image.rgb == whole_dec.image.rgb);

  // Handing the image over (the CLI's way: its pixels are freed once analysed) gives the same file, tiled
  // or not, and leaves the caller's image without pixels.
  for (int64_t min_pixels : {int64_t(0), int64_t(1) << 40}) {
    set_tile_options(TileOptions{min_pixels, 64});
    Image handed = img;
    CHECK(encode_image(m, std::move(handed)).bytes == whole.bytes);
    CHECK(handed.rgb.empty());
  }
  set_tile_options(TileOptions{0, 64});

  // The tiles are the encode's progress: 5 x 3 tiles of 64 pixels, each reported before it runs, then 1;
  // a false answer cancels.
  std::vector<double> heard;
  EncodeOptions watched;
  watched.progress = [&](double f) {
    heard.push_back(f);
    return true;
  };
  CHECK(encode_image(m, img, watched).bytes == whole.bytes);
  REQUIRE(heard.size() == 16);
  for (size_t i = 0; i < 15; ++i) CHECK(heard[i] == Approx(double(i) / 15));
  CHECK(heard.back() == 1.0);
  EncodeOptions cancelled;
  int calls = 0;
  cancelled.progress = [&](double) { return ++calls < 3; };
  CHECK_THROWS_AS(encode_image(m, img, cancelled), Cancelled);
  CHECK(calls == 3);

  // By rows: the same pixels, in bands.
  std::vector<uint8_t> rows;
  const DecodeResult by_rows = decode_image_rows(m, whole.bytes.data(), whole.bytes.size(),
                                                 [&](int w, int, int y0, int n, const uint8_t* rgb) {
                                                   REQUIRE(size_t(y0) * w * 3 == rows.size());
                                                   rows.insert(rows.end(), rgb, rgb + size_t(w) * n * 3);
                                                 });
  CHECK(by_rows.image.rgb.empty());
  CHECK(rows == whole_dec.image.rgb);

  // The untiled path hands the same image over as one band.
  set_tile_options(TileOptions{int64_t(1) << 40, 1024});
  rows.clear();
  decode_image_rows(m, whole.bytes.data(), whole.bytes.size(),
                    [&](int w, int h, int y0, int n, const uint8_t* rgb) {
                      CHECK(y0 == 0);
                      CHECK(n == h);
                      rows.insert(rows.end(), rgb, rgb + size_t(w) * n * 3);
                    });
  CHECK(rows == whole_dec.image.rgb);
}

TEST_CASE("tiled hyper analysis (forward_tiled) equals the whole network") {
  const Model& m = shipped("hyperprior-q5");
  const Tensor y = m.analysis(image_to_tensor(synthetic_image(320, 224, 3)));
  const Network& h_a = m.hyperprior()->hyper_analysis();
  const Tensor whole = h_a.forward(y);
  const Tensor tiled = forward_tiled(h_a, y, 4);
  REQUIRE(tiled.c == whole.c);
  REQUIRE(tiled.h == whole.h);
  REQUIRE(tiled.w == whole.w);
  CHECK(count_differences(tiled.data, whole.data) == 0);
}
