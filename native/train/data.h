// Training and validation images: every PNG/JPEG under a folder (recursively), decoded once and kept in
// memory as 8-bit RGB; batches of random crops (with flips and optional 2x box downscale) as float CHW
// planes. No LibTorch here: the training loop wraps the floats in a tensor.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "aecodec/image.h"

namespace aect {

// Paths of the images under `dir` (recursive; .png .jpg .jpeg, any case), sorted so runs are reproducible.
std::vector<std::string> list_images(const std::string& dir);

struct ImageSet {
  std::vector<aec::Image> images;
  std::vector<aec::Image> half;  // 2x box-downscaled copies (only when asked for)
  std::vector<std::string> names;
  int64_t pixels() const;
};

// Loads every image (greyscale expanded to RGB, alpha dropped). Skips unreadable files with a warning
// on stderr; throws when nothing loads. `with_half` also keeps the downscaled copies.
ImageSet load_images(const std::string& dir, bool with_half, int max_images = 0);

struct BatchSpec {
  int batch = 8, crop = 128;
  double downscale_prob = 0;
};

// Samples [first, first + count) of batch `index` of a run with `seed` (count < 0: to the end of the batch of
// spec.batch). Each sample's crop, flips and downscale are drawn from its own generator, seeded by (seed,
// index, the sample's place in the batch): the same (seed, index) always gives the same crops, so a resumed
// run sees exactly the batches it would have seen, and a rank of a data-parallel run that takes samples
// [first, first + count) gets exactly those crops of the global batch. Returns count*3*crop*crop floats in
// [0,1], NCHW.
std::vector<float> make_batch(const ImageSet& set, const BatchSpec& spec, uint64_t seed, int64_t index,
                              int first = 0, int count = -1);

// [3,H,W] floats of an image, edge-padded to multiples of `stride`.
std::vector<float> image_planes(const aec::Image& image, int stride, int& padded_w, int& padded_h);
// A central crop of w x h (edge-padded when the image is smaller).
aec::Image center_crop(const aec::Image& image, int w, int h);

}  // namespace aect
