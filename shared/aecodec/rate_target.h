// Encoding to a target instead of a quality (as cwebp -size / -psnr): a codec's quality knob
// (quality_codec.h) searched by bisection for the largest file that fits a byte budget, or the smallest that
// reaches a PSNR. Every trial is a full encode at the options' effort; the result is the best trial that
// meets the target, so the answer holds even where size is not monotone in Q.
#pragma once
#include <cstdint>
#include <string>

#include "aecodec/codec.h"
#include "aecodec/quality_codec.h"

namespace aec {

struct TargetResult {
  EncodeResult encoded;  // encoded.quality: the chosen Q
  double psnr = 0;       // of the decoded image against the input (encode_to_psnr only)
  int trials = 0;        // encodes made
};

// The largest knob quality whose file has at most max_bytes bytes. Throws aec::Error when even quality 1
// does not fit, naming the smallest size the codec reaches for this image.
TargetResult encode_to_size(const QualityCodec& codec, const Image& image, uint64_t max_bytes,
                            const EncodeOptions& options = {});
// The smallest knob quality whose decoded image reaches psnr_db. Throws aec::Error when even quality 100
// does not, naming the PSNR it reaches.
TargetResult encode_to_psnr(const QualityCodec& codec, const Image& image, double psnr_db,
                            const EncodeOptions& options = {});
// The same for one variable-rate model (its own knob).
TargetResult encode_to_size(const Model& model, const Image& image, uint64_t max_bytes,
                            const EncodeOptions& options = {});
TargetResult encode_to_psnr(const Model& model, const Image& image, double psnr_db,
                            const EncodeOptions& options = {});

}  // namespace aec
