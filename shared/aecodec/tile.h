// Running the networks by tiles, so that memory is bounded by the tile size rather than the image size (a
// 50 MP photo would otherwise need gigabytes of feature maps).
//
// Each tile is the network's input cropped around a core region with a halo as wide as the receptive field
// (Network::input_range, from the layer list) and its origin aligned to the network's total stride, so every
// layer samples the same grid as the whole image does; at the image's borders the tile ends where the image
// does and sees the same zero padding. The core's outputs then depend only on inputs inside the tile and are
// computed with the same arithmetic: the latent symbols equal the untiled ones, and so do decoded pixels.
#pragma once
#include <cstdint>
#include <functional>

#include "aecodec/image.h"
#include "aecodec/model.h"
#include "aecodec/tensor.h"

namespace aec {

struct TileOptions {
  // Images with more pixels than this are coded by tiles; smaller ones run whole, as they always have.
  int64_t min_pixels = 2'000'000;
  // Side of a tile's core in image pixels (rounded to the model's stride) for the narrow networks (N=64,
  // whose largest activation holds 16 floats per image pixel); a wider network gets a proportionally smaller
  // tile area (tile_side), so a tile needs the same memory. Larger tiles spend less on halos and more memory:
  // with hyperprior-q5 at 4000x3000 (2 threads), 512 peaks at 200 MB to encode and 120 MB to decode, 1024 at
  // 280 MB each with about 7 % less CPU time.
  int tile = 1024;
};
// Process-wide (the CLI, tests and benchmarks set them before coding).
TileOptions tile_options();
void set_tile_options(const TileOptions& options);

// Whether the codec tiles a width x height image with this model: over options.min_pixels and both networks
// fully convolutional.
bool use_tiles(const Model& model, int width, int height, const TileOptions& options = tile_options());

// The tile side (image pixels) for `net` reading `c_in` channels: `tile` when the net's largest activation
// holds at most 16 floats per image pixel, else tile x sqrt(16 / floats per pixel), rounded down to the
// net's stride (at least one stride).
int tile_side(const Network& net, int c_in, int tile);

// The analysis transform of an image by tiles: the same latent as
// model.analysis(image_to_tensor(pad_edge(image, pw, ph))) with pw, ph the size rounded up to the stride,
// without the padded copy or the whole float image. `progress`, when given, hears the fraction of tiles done
// before each tile and 1 at the end; false cancels (throws aec::Cancelled).
Tensor analysis_tiled(const Model& model, const Image& image, int tile = tile_options().tile,
                      const std::function<bool(double)>& progress = {});

// The synthesis transform of a latent by tiles, cropped to out_w x out_h and converted to bytes as
// tensor_to_image does, handed to `sink` in bands of rows, top to bottom.
void synthesis_tiled(const Network& decoder, const Tensor& latent, int out_w, int out_h, int tile,
                     const RowSink& sink);

// Any fully convolutional network on a whole tensor, by tiles of about `tile` output positions a side: the
// same output as net.forward(x) (which it calls when the network cannot be tiled).
Tensor forward_tiled(const Network& net, const Tensor& x, int tile);

// The general form the others use. The network reads a c_in x h_in x w_in input; fetch fills a tile's
// input tensor (its c, h, w set, data sized) with the input region whose top-left corner is (x0, y0);
// emit receives each tile's output with the core region it is responsible for: rows [oy, oy + h) and
// columns [ox, ox + w) of the whole output, found in the tile's output at (ox - tx, oy - ty). Tiles come row
// by row, left to right; row_done(y0, rows) follows each row of tiles (null: not needed).
struct TileCore {
  int ox, oy, w, h;  // in the whole output
  int tx, ty;        // the tile output's origin in the whole output
};
void run_tiled(const Network& net, int c_in, int h_in, int w_in, int tile_out,
               const std::function<void(Tensor& in, int x0, int y0)>& fetch,
               const std::function<void(const Tensor& out, const TileCore& core)>& emit,
               const std::function<void(int y0, int rows)>& row_done = nullptr);
// The same over only the top-left limit_h x limit_w of the output (0: all of it): what is cropped away
// is not computed.
void run_tiled(const Network& net, int c_in, int h_in, int w_in, int tile_out, int limit_h, int limit_w,
               const std::function<void(Tensor& in, int x0, int y0)>& fetch,
               const std::function<void(const Tensor& out, const TileCore& core)>& emit,
               const std::function<void(int y0, int rows)>& row_done = nullptr);

}  // namespace aec
