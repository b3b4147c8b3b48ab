// A codec behind one quality knob (codec_manifest.h): its member networks, loaded when first needed, and
// encoding at a knob quality, which picks the member and the member's own quality. A single model is a codec
// too (its own knob, or none when it is single-rate), so the CLI, the library and the page treat both alike.
#pragma once
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "aecodec/codec.h"
#include "aecodec/codec_manifest.h"
#include "aecodec/model.h"

namespace aec {

class QualityCodec {
 public:
  // Loads a member by its model name (e.g. from the manifest's folder); called at most once per member.
  using Loader = std::function<Model(const std::string& model_name)>;

  QualityCodec(CodecManifest manifest, Loader loader);
  // One model as a codec: a variable-rate model's knob is its own quality; a single-rate model has none.
  explicit QualityCodec(Model model);
  // The same for a model the caller keeps (it must outlive the codec).
  static QualityCodec borrowing(const Model& model);

  const CodecManifest& manifest() const { return manifest_; }
  const std::string& name() const { return manifest_.name; }
  // Whether the knob exists: false only for a single single-rate model.
  bool variable_rate() const { return variable_rate_; }
  // The knob quality used when none is asked for (0 for a single-rate model).
  double default_quality() const { return manifest_.default_quality; }
  size_t members() const { return manifest_.members.size(); }
  // Member i, loaded on first use (safe from several threads). The loaded model must be variable-rate when
  // the codec has more than one member.
  const Model& member(size_t i) const;
  // The member and its own quality for knob quality `quality` (0: the default); member 0 at quality 0 for a
  // single-rate model. Loads nothing.
  CodecManifest::Setting setting(double quality) const;

  // Encodes at knob quality options.quality (0: the default). EncodeResult::quality is the knob's Q; the
  // file records the member and the member's quality, so any decoder of that member reads it.
  EncodeResult encode(const Image& image, const EncodeOptions& options = {}) const;
  EncodeResult encode(Image&& image, const EncodeOptions& options = {}) const;
  // The member that made a file with this header; throws naming the model the file needs when none did.
  const Model& decoder_for(const BitstreamHeader& header) const;
  DecodeResult decode(const uint8_t* data, size_t size, const ImageLimits& limits = {}) const;

 private:
  explicit QualityCodec(std::shared_ptr<const Model> model);
  template <class Img>
  EncodeResult encode_with(Img&& image, const EncodeOptions& options) const;

  CodecManifest manifest_;
  Loader loader_;
  bool variable_rate_ = true;
  std::shared_ptr<std::mutex> mutex_ = std::make_shared<std::mutex>();  // movable
  mutable std::vector<std::shared_ptr<const Model>> loaded_;
};

}  // namespace aec
