// Whole-image compression with one model: pad, analyse, quantise, entropy-code, wrap in the container; and
// back. The CLI and the browser both call these.
#pragma once
#include <cstdint>
#include <vector>

#include "aecodec/bitstream.h"
#include "aecodec/image.h"
#include "aecodec/model.h"

namespace aec {

struct CodecTimings {
  double network_ms = 0;  // analysis or synthesis transform
  double entropy_ms = 0;  // quantisation + entropy coding
  double total_ms = 0;
};

struct EncodeResult {
  std::vector<uint8_t> bytes;  // the complete .aec file
  Tensor latent;               // dequantised latent (for display)
  std::vector<double> channel_bits;  // ideal bits spent per latent channel
  double hyper_bits = 0;             // ideal bits of the hyper latent (hyperprior models; 0 otherwise)
  CodecTimings timings;              // a hyperprior's hyper networks count as entropy coding
};

EncodeResult encode_image(const Model& model, const Image& image);

// The entropy stage on its own, between the analysis transform and the container (for callers that run the
// networks elsewhere, e.g. ONNX Runtime in the browser): quantises the latent y -- around the means that a
// hyperprior model's hyper latent gives -- and entropy-codes it.
struct LatentCode {
  Bitstream stream;  // version, latent (and hyper latent) shape and payloads; the caller sets the rest
  Tensor latent;     // the dequantised latent, exactly what decode_latent gives the decoder
  std::vector<double> channel_bits;
  double hyper_bits = 0;
};
LatentCode code_latent(const Model& model, const Tensor& y);
// The inverse, on a parsed stream whose header was checked against the model (decode_image does both):
// entropy-decodes and dequantises; fills channel_bits (ideal bits per latent channel) when given.
Tensor decode_latent(const Model& model, const Bitstream& stream,
                     std::vector<double>* channel_bits = nullptr);

struct DecodeResult {
  Image image;
  Bitstream stream;
  CodecTimings timings;
};

// Decodes with the model that made the file; refuses a file made by another model (name and id in message).
// `limits` bounds the output image (checked before any network runs, so a forged header cannot allocate
// gigabytes of activations).
DecodeResult decode_image(const Model& model, const uint8_t* data, size_t size, const ImageLimits& limits = {});
// Decodes with the decoder of another member of the encoder's cross-resolution family. The output size is
// the original size scaled by decoder stride / encoder stride. Refuses models outside the family.
DecodeResult cross_decode_image(const Model& decoder, const uint8_t* data, size_t size,
                                const ImageLimits& limits = {});

// Checks whether `decoder` can decode a stream with this header (same model, or same family and entropy
// model); returns an empty string when it can, else the reason.
std::string decoder_mismatch(const Model& decoder, const BitstreamHeader& h, bool allow_family);

}  // namespace aec
