#include "aecodec/quality_codec.h"

#include <utility>

#include "aecodec/error.h"
#include "aecodec/file_io.h"
#include "aecodec/quality.h"

namespace aec {

QualityCodec::QualityCodec(CodecManifest manifest, Loader loader)
    : manifest_(std::move(manifest)), loader_(std::move(loader)), loaded_(manifest_.members.size()) {}

QualityCodec::QualityCodec(std::shared_ptr<const Model> model)
    : manifest_(CodecManifest::single(model->info().name, model->info().default_quality)),
      variable_rate_(model->variable_rate()),
      loaded_{std::move(model)} {}

QualityCodec::QualityCodec(Model model) : QualityCodec(std::make_shared<const Model>(std::move(model))) {}

QualityCodec QualityCodec::borrowing(const Model& model) {
  return QualityCodec(std::shared_ptr<const Model>(&model, [](const Model*) {}));
}

const Model& QualityCodec::member(size_t i) const {
  require(i < loaded_.size(), "codec '" + name() + "' has no member " + std::to_string(i));
  std::lock_guard<std::mutex> lock(*mutex_);
  if (!loaded_[i]) {
    Model m = loader_(manifest_.members[i].model);
    require(m.info().name == manifest_.members[i].model,
            "codec '" + name() + "': member '" + manifest_.members[i].model + "' loaded a model named '" +
                m.info().name + "'");
    require(m.variable_rate(), "codec '" + name() + "': member '" + m.info().name +
                                   "' is single-rate; a codec's members need a quality knob");
    loaded_[i] = std::make_shared<const Model>(std::move(m));
  }
  return *loaded_[i];
}

CodecManifest::Setting QualityCodec::setting(double quality) const {
  if (!variable_rate_) return {};
  return manifest_.at(quality > 0 ? quality : manifest_.default_quality);
}

// `image` as the caller passed it: an rvalue lets encode_image free its pixels early.
template <class Img>
EncodeResult QualityCodec::encode_with(Img&& image, const EncodeOptions& options) const {
  EncodeOptions o = options;
  if (!variable_rate_) return encode_image(member(0), std::forward<Img>(image), o);  // it refuses a quality
  const CodecManifest::Setting s = setting(options.quality);
  o.quality = s.quality;
  EncodeResult r = encode_image(member(s.member), std::forward<Img>(image), o);
  r.quality = quality_code(options.quality > 0 ? options.quality : default_quality()) / 100.0;
  return r;
}

EncodeResult QualityCodec::encode(const Image& image, const EncodeOptions& options) const {
  return encode_with(image, options);
}

EncodeResult QualityCodec::encode(Image&& image, const EncodeOptions& options) const {
  return encode_with(std::move(image), options);
}

const Model& QualityCodec::decoder_for(const BitstreamHeader& h) const {
  // One model: decoding checks the file against it and says what is wrong.
  if (manifest_.members.size() == 1 && loaded_[0]) return *loaded_[0];
  std::string installed;
  for (size_t i = 0; i < manifest_.members.size(); ++i) {
    if (manifest_.members[i].model != h.model_name) continue;
    const Model& m = member(i);
    if (decoder_mismatch(m, h, false).empty()) return m;
    installed = m.info().id;
  }
  if (!installed.empty())
    throw Error("the file needs model '" + h.model_name + "' version " + hash_hex(h.model_hash) +
                ", but codec '" + name() + "' has version " + installed);
  std::string list;
  for (const CodecMember& c : manifest_.members) list += (list.empty() ? "" : ", ") + c.model;
  throw Error("the file was made by model '" + h.model_name + "', which is not a member of codec '" + name() +
              "' (" + list + ")");
}

DecodeResult QualityCodec::decode(const uint8_t* data, size_t size, const ImageLimits& limits) const {
  const Bitstream header = parse_bitstream(data, size);
  return decode_image(decoder_for(header.header), data, size, limits);
}

}  // namespace aec
