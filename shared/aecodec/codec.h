// Whole-image compression with one model: pad, analyse, quantise, entropy-code, wrap in the container; and
// back. The CLI and the browser both call these.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "aecodec/bitstream.h"
#include "aecodec/image.h"
#include "aecodec/latent_codec.h"
#include "aecodec/model.h"

namespace aec {

struct CodecTimings {
  double network_ms = 0;  // analysis or synthesis transform
  double entropy_ms = 0;  // quantisation + entropy coding
  double refine_ms = 0;   // encoder refinement (effort > 0)
  double total_ms = 0;
};

struct EncodeResult {
  std::vector<uint8_t> bytes;        // the complete .aec file
  Tensor latent;                     // dequantised latent (for display; empty with options.latent false)
  std::vector<double> channel_bits;  // ideal bits spent per latent channel (empty with options.rates false)
  double hyper_bits = 0;             // ideal bits of the hyper latent (hyperprior models; 0 otherwise)
  double quality = 0;                // a variable-rate model's quality Q (quality.h); 0 for single-rate
  CodecTimings timings;              // a hyperprior's hyper networks count as entropy coding
};

// How hard the encoder works (docs/effort.md). effort 0 is one analysis pass and a rounding; higher efforts
// search for a better latent for the same decoder (refine.h): smaller files at the same quality, same
// decoder.
struct EffortPlan;  // refine.h

struct EncodeOptions {
  int effort = 0;
  // A variable-rate model's quality Q, 1 to 100 in hundredths (quality.h); 0 = the model's default. A
  // single-rate model refuses any other.
  double quality = 0;
  const EffortPlan* plan = nullptr;  // with effort > 0: this refinement plan instead of the effort's own
  // Threads: the core's pool (aec::set_num_threads, parallel.h); the bytes do not depend on their number.
  // Called now and then during a slow encode with the fraction done (0..1): the analysis' tiles of a large
  // image at effort 0, refinement at effort > 0. Returning false cancels the encode (encode_image then throws
  // aec::Cancelled).
  std::function<bool(double)> progress;
  // Whether EncodeResult::latent is wanted (to show it). false leaves it empty and skips what only the
  // decoded latent needs: a context model's LRP nets, 8 % of channel's encode. The file is the same.
  bool latent = true;
  // Whether EncodeResult::channel_bits is wanted (a rate map per channel). false skips the bit accounting,
  // 1 % of channel's encode. The file is the same.
  bool rates = true;
  // The payload's row bands (substreams.h): 0 = by the latent's size (substream_bands); N = N bands, at
  // most one per latent row and kMaxBands, so that N threads can decode them at once (about 6 bytes each).
  int bands = 0;
};

EncodeResult encode_image(const Model& model, const Image& image, const EncodeOptions& options = {});
// The same, releasing the image's pixels as soon as the analysis transform has read them (the caller's
// image is left empty): less peak memory for a large photo.
EncodeResult encode_image(const Model& model, Image&& image, const EncodeOptions& options = {});

// The entropy stage on its own, between the analysis transform and the container (for callers that run the
// networks elsewhere, e.g. ONNX Runtime in the browser): the model's latent codec quantises the latent y --
// around the means that a hyperprior model's hyper latent gives -- and entropy-codes it.
// `qz`, when given, is the side information's symbols (the hyper latent's) to use instead of the codec's own
// choice (encoder refinement keeps z, and so every mean and table, fixed while it searches y).
// latent = false: code.latent may be left empty, rates = false: code.channel_bits (LatentCodec::encode), for
// callers that only write the file.
// bands: EncodeOptions::bands.
LatentCode code_latent(const Model& model, const Tensor& y, const std::vector<int32_t>* qz = nullptr,
                       bool latent = true, bool rates = true, int bands = 0);
// Wraps a coded latent into the container (version 3): the model's identity, the image size (before
// padding) and the family section for family models. Returns the file's bytes.
std::vector<uint8_t> write_stream(const Model& model, int width, int height, Bitstream& stream);
// Parses a file and checks it against the decoding model: identity (or, with `cross`, family), the image
// size against `limits`, and the latent grid the image size implies (stored in versions 1 and 2, derived in
// version 3); fills header.latent_c/h/w with that grid for decode_latent.
Bitstream open_stream(const Model& model, const uint8_t* data, size_t size, bool cross,
                      const ImageLimits& limits = {});
// The inverse of code_latent, on a stream from open_stream (decode_image does both): refuses a stream that
// lacks a section the model's latent codec needs or has a required one it does not read, then entropy-decodes
// and dequantises; fills channel_bits (ideal bits per latent channel) when given.
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
DecodeResult decode_image(const Model& model, const uint8_t* data, size_t size,
                          const ImageLimits& limits = {});
// What a decode makes of a file: the image the model coded (decode_image), the image at another family
// member's size (cross_decode_image), or a medium member's own file at twice its size through the member's
// up decoder (up_decode_image).
enum class DecodeAs { own, cross, up };
// decode_image, cross_decode_image or up_decode_image, handing the image to `sink` in bands of rows, top to
// bottom, instead of returning it (r.image stays empty): a large image is synthesised by tiles (tile.h) and
// can be written out as it comes, never held whole. network_ms leaves out the time spent in the sink.
DecodeResult decode_image_rows(const Model& model, const uint8_t* data, size_t size, const RowSink& sink,
                               const ImageLimits& limits = {}, DecodeAs as = DecodeAs::own);
// Decodes with the decoder of another member of the encoder's cross-resolution family. The output size is
// the original size scaled by decoder stride / encoder stride. Refuses models outside the family.
DecodeResult cross_decode_image(const Model& decoder, const uint8_t* data, size_t size,
                                const ImageLimits& limits = {});
// Decodes a file of a family's medium member (a half-size image's latent) at twice the image's size with
// the member's up decoder (Model::up_decoder; docs/family.md): the up path's full-size decoder trained for
// these latents. Refuses another model's file and a member without an up decoder.
DecodeResult up_decode_image(const Model& medium, const uint8_t* data, size_t size,
                             const ImageLimits& limits = {});

// Checks whether `decoder` can decode a stream with this header (same model, or same family and entropy
// model); returns an empty string when it can, else the reason.
std::string decoder_mismatch(const Model& decoder, const BitstreamHeader& h, bool allow_family);

}  // namespace aec
