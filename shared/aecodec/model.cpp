#include "aecodec/model.h"

#include <algorithm>
#include <cmath>

#include "aecodec/document_fields.h"
#include "aecodec/error.h"
#include "aecodec/file_io.h"
#include "aecodec/hyperprior.h"
#include "aecodec/latent_codec.h"
#include "aecodec/layers.h"
#include "aecodec/pool.h"

namespace aec {

using nlohmann::json;

static uint64_t entropy_identity(const ModelFile& f, bool hyperprior) {
  uint64_t h = 0xcbf29ce484222325ull;
  if (hyperprior) {  // every tensor of the entropy model is named "hyper.*" (std::map: sorted, so stable)
    for (const auto& [name, t] : f.tensors)
      if (name.rfind("hyper.", 0) == 0) {
        h = fnv1a64(reinterpret_cast<const uint8_t*>(name.data()), name.size(), h);
        h = fnv1a64(t.bytes.data(), t.bytes.size(), h);
      }
    return h;
  }
  for (const char* name :
       {"entropy.cdf", "entropy.cdf_length", "entropy.offset", "latent.step", "latent.offset"}) {
    const auto& t = f.tensors.at(name);
    h = fnv1a64(t.bytes.data(), t.bytes.size(), h);
  }
  return h;
}

CdfTables read_cdf_tables(const ModelFile& file, const std::string& name, int64_t tables) {
  const std::string cdf_name = name + ".cdf";
  require(file.has(cdf_name), "model has no entropy tables (tensor '" + cdf_name + "')");
  const auto& cdf_t = file.tensors.at(cdf_name);
  require(cdf_t.shape.size() == 2 && cdf_t.shape[0] >= 1 && (tables == 0 || cdf_t.shape[0] == tables) &&
              cdf_t.shape[0] <= 65536 && cdf_t.shape[1] >= 3 && cdf_t.shape[1] <= 65538,
          "tensor '" + cdf_name + "' must be [" + (tables ? std::to_string(tables) : std::string("T")) +
              ", L] with 3 <= L <= 65538");
  const int64_t T = cdf_t.shape[0], L = cdf_t.shape[1];
  const std::vector<int32_t> cdf = file.ints(cdf_name, {T, L});
  const std::vector<int32_t> lengths = file.ints(name + ".cdf_length", {T});
  CdfTables out;
  out.offset = file.ints(name + ".offset", {T});
  out.cdf.resize(size_t(T));
  for (int64_t k = 0; k < T; ++k) {
    require(lengths[size_t(k)] >= 3 && lengths[size_t(k)] <= L,
            name + ".cdf_length of table " + std::to_string(k) + " out of range");
    for (int32_t i = 0; i < lengths[size_t(k)]; ++i) {
      const int32_t v = cdf[size_t(k * L + i)];
      if (v < 0) throw Error(cdf_name + " has a negative entry");  // (message built only on failure)
      out.cdf[size_t(k)].push_back(uint32_t(v));
    }
  }
  out.validate();
  return out;
}

void put_cdf_tables(ModelFile& file, const std::string& name, const CdfTables& tables) {
  tables.validate();
  const int64_t T = int64_t(tables.count());
  size_t L = 0;
  for (const auto& c : tables.cdf) L = std::max(L, c.size());
  std::vector<int32_t> cdf(size_t(T) * L, 0), length(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t) {
    std::copy(tables.cdf[size_t(t)].begin(), tables.cdf[size_t(t)].end(),
              cdf.begin() + ptrdiff_t(size_t(t) * L));
    length[size_t(t)] = int32_t(tables.cdf[size_t(t)].size());
  }
  file.put_ints(name + ".cdf", {T, int64_t(L)}, cdf.data());
  file.put_ints(name + ".cdf_length", {T}, length.data());
  file.put_ints(name + ".offset", {T}, tables.offset.data());
}

Model::Model() = default;
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;
Model::~Model() = default;

Model Model::from_file(ModelFile file) {
  return build(std::move(file), true);
}

Model Model::build(ModelFile file, bool identity, std::shared_ptr<const LatentCodec> entropy,
                   std::shared_ptr<const LatentCodec> up_entropy) {
  const json& m = file.meta;
  Model model;
  ModelInfo& info = model.info_;
  auto str = [&](const char* key) {
    return m.contains(key) && m[key].is_string() ? m[key].get<std::string>() : "";
  };
  info.name = str("name");
  info.arch = str("arch");
  info.description = str("description");
  require(!info.name.empty() && info.name.size() <= 255, "model document: missing or too long \"name\"");
  require(m.contains("input") && m["input"].is_object(), "model document: missing \"input\"");
  info.input_channels = document_int(m["input"], "channels", "model input", 1, 4);
  require(info.input_channels == 3, "model document: only 3-channel (RGB) models are supported");
  info.stride = document_int(m["input"], "stride", "model input", 1, 1024);
  if (m["input"].contains("size") && !m["input"]["size"].is_null()) {
    const json& s = m["input"]["size"];
    require(s.is_array() && s.size() == 2 && s[0].is_number_integer() && s[1].is_number_integer(),
            "model input: size must be [width, height]");
    const int64_t fw = s[0].get<int64_t>(), fh = s[1].get<int64_t>();  // (int would wrap 2^32 + 8 to 8)
    require(fw > 0 && fh > 0 && fw <= 4096 && fh <= 4096, "model input: bad fixed size");
    info.fixed_width = int(fw), info.fixed_height = int(fh);
  }
  require(m.contains("latent") && m["latent"].is_object(), "model document: missing \"latent\"");
  info.latent_channels = document_int(m["latent"], "channels", "model latent", 1, 4096);
  if (m.contains("family") && m["family"].is_object()) {
    const json& fam = m["family"];
    require(fam.contains("id") && fam["id"].is_string() && !fam["id"].get<std::string>().empty() &&
                fam["id"].get<std::string>().size() <= 255,
            "model family: missing id");
    info.family_id = fam["id"].get<std::string>();
    require(!fam.contains("role") || fam["role"].is_string(), "model family: role must be a string");
    info.family_role = fam.value("role", "");
    require(document_int(fam, "stride", "model family", 1, 1024) == info.stride,
            "model family: stride differs from input.stride");
    if (fam.contains("high")) {
      const json& hi = fam["high"];
      require(hi.is_object() && hi.contains("name") && hi["name"].is_string() && hi.contains("id") &&
                  hi["id"].is_string(),
              "model family: high must be an object with a name and an id");
      info.family_high = hi["name"].get<std::string>();
      info.family_high_id = hi["id"].get<std::string>();
      require(!info.family_high.empty() && info.family_high.size() <= 255, "model family: bad high name");
      require(info.family_high_id.size() == 16 &&
                  info.family_high_id.find_first_not_of("0123456789abcdef") == std::string::npos,
              "model family: high id must be 16 lower-case hex digits");
      info.family_high_stride = document_int(hi, "stride", "model family high", 1, 1024);
    }
  }
  require(m.contains("encoder") && m.contains("decoder"),
          "model document: needs \"encoder\" and \"decoder\"");
  model.encoder_ = Network::build(m["encoder"], file, "encoder");
  model.decoder_ = Network::build(m["decoder"], file, "decoder");

  // The encoder must map a stride-sized (or the fixed-size) image to a latent of latent_channels, and the
  // decoder must map that latent back to an RGB image of the same size.
  const int test_w = info.fixed_width ? info.fixed_width : info.stride * 2;
  const int test_h = info.fixed_height ? info.fixed_height : info.stride * 2;
  int c = 3, h = test_h, w = test_w;
  model.encoder_.output_shape(c, h, w);
  require(c == info.latent_channels, "encoder makes " + std::to_string(c) +
                                         " latent channels, document says " +
                                         std::to_string(info.latent_channels));
  if (!info.fixed_width)
    require(h * info.stride == test_h && w * info.stride == test_w,
            "encoder's total stride does not match input.stride " + std::to_string(info.stride));
  model.decoder_.output_shape(c, h, w);
  require(c == 3 && h == test_h && w == test_w, "decoder does not map the latent back to a " +
                                                    std::to_string(test_w) + "x" + std::to_string(test_h) +
                                                    " RGB image");
  // A medium member's up decoder: its latents at twice the size (the family's high member's).
  if (m.contains("up_decoder")) {
    require(info.family_role == "medium" && !info.fixed_width,
            "model document: an up_decoder belongs to a cross-resolution family's medium member");
    auto up = std::make_shared<Network>(Network::build(m["up_decoder"], file, "up_decoder"));
    c = info.latent_channels, h = test_h / info.stride, w = test_w / info.stride;
    up->output_shape(c, h, w);
    require(c == 3 && h == 2 * test_h && w == 2 * test_w, "up_decoder does not map the latent to a " +
                                                              std::to_string(2 * test_w) + "x" +
                                                              std::to_string(2 * test_h) + " RGB image");
    model.up_decoder_ = std::move(up);
    info.up_decoder = true;
  }

  if (m.contains("variable_rate")) {
    const json& vr = m["variable_rate"];
    const std::string where = "model document: variable_rate";
    require(vr.is_object() && vr.contains("lambdas") && vr["lambdas"].is_array() &&
                vr["lambdas"].size() >= 2 && vr["lambdas"].size() <= 64,
            where + ": needs 'lambdas', 2 to 64 of them");
    for (const json& l : vr["lambdas"]) {
      require(l.is_number() && l.get<double>() > 0 && std::isfinite(l.get<double>()) &&
                  (info.lambdas.empty() || l.get<double>() > info.lambdas.back()),
              where + ": lambdas must be positive and ascending");
      info.lambdas.push_back(l.get<double>());
    }
    require(vr.contains("default_quality") && vr["default_quality"].is_number() &&
                vr["default_quality"].get<double>() >= 1 && vr["default_quality"].get<double>() <= 100,
            where + ": default_quality must be from 1 to 100");
    info.default_quality = vr["default_quality"].get<double>();
    const int64_t K = int64_t(info.lambdas.size()), M = info.latent_channels;
    for (const char* name : {"latent.gain", "latent.inv_gain"})
      for (float g : file.floats(name, {K, M}))
        require(g > 0 && std::isfinite(g), std::string("tensor '") + name + "' must be positive and finite");
  }

  const json none = json::object();
  const json& doc = m.contains("entropy") && m["entropy"].is_object() ? m["entropy"] : none;
  // A context model's decoder reads the latent after latent residual prediction unless the document says
  // otherwise: a cheaper decoder trained on the coded latent (a family's medium member, docs/family.md).
  if (m.contains("decoder_lrp")) {
    require(m["decoder_lrp"].is_boolean(), "model document: decoder_lrp must be true or false");
    info.decoder_lrp = m["decoder_lrp"].get<bool>();
  }
  model.latent_codec_ =
      entropy ? std::move(entropy) : LatentCodec::build(doc, file, info.latent_channels, info.decoder_lrp);
  info.entropy_kind = model.latent_codec_->kind();
  // The up decoder reads the latent after latent residual prediction, as the high member's decoder does: the
  // member's own entropy model, with LRP on where its decoder reads the coded latent (decoder_lrp false is a
  // channel model's only).
  if (model.up_decoder_ && up_entropy)
    model.up_latent_codec_ = std::move(up_entropy);
  else if (model.up_decoder_ && info.decoder_lrp)
    model.up_latent_codec_ = model.latent_codec_;
  else if (model.up_decoder_)
    model.up_latent_codec_ = dynamic_cast<const ChannelCodec&>(*model.latent_codec_).with_lrp(true);
  // The knob moves only the transforms' gains: its entropy model must not depend on Q (a Gaussian
  // conditional around shared tables does; per-channel factorized tables fitted to one rate do not).
  require(info.lambdas.empty() || info.entropy_kind != "factorized",
          "model document: variable_rate needs a hyperprior or channel entropy model, not factorized tables");
  model.factorized_ = dynamic_cast<const FactorizedCodec*>(model.latent_codec_.get());
  model.hyperprior_ = dynamic_cast<const HyperpriorCodec*>(model.latent_codec_.get());
  if (model.hyperprior_) {
    int lc = 3, lh = test_h, lw = test_w, zc, zh, zw;  // the hyper path must fit the test image's latent
    model.encoder_.output_shape(lc, lh, lw);
    model.hyperprior_->hyperprior().hyper_shape(lh, lw, zc, zh, zw);
  }
  if (identity) {
    info.entropy_hash = entropy_identity(file, model.hyperprior_ != nullptr);
    info.model_hash = file.decode_hash();
    info.content_hash = file.content_hash();
    info.id = hash_hex(info.model_hash);
  }
  model.file_ = std::move(file);
  return model;
}

const Network& Model::up_decoder() const {
  require(up_decoder_ != nullptr, "model '" + info_.name + "' has no up decoder");
  return *up_decoder_;
}

const LatentCodec& Model::up_latent_codec() const {
  require(up_latent_codec_ != nullptr, "model '" + info_.name + "' has no up decoder");
  return *up_latent_codec_;
}

bool ModelInfo::is_version(const std::string& id_hex) const {
  return id_hex == id || id_hex == hash_hex(content_hash);
}

Model Model::load(const std::string& path) {
  try {
    return from_file(ModelFile::read(path));
  } catch (const Error& e) {
    const std::string msg = e.what();
    if (msg.rfind("'" + path + "'", 0) == 0) throw;
    throw Error("'" + path + "': " + msg);
  }
}

const CdfTables& Model::tables() const {
  static const CdfTables none;
  return factorized_ ? factorized_->tables() : none;
}

const Hyperprior* Model::hyperprior() const {
  return hyperprior_ ? &hyperprior_->hyperprior() : nullptr;
}

std::vector<int32_t> Model::quantize(const Tensor& y) const {
  require(factorized_, "model '" + info_.name +
                           "' has a hyperprior: its latent is quantised around the means of "
                           "its hyper latent (aec::code_latent), not by a per-channel quantiser");
  require(y.c == info_.latent_channels, "latent has " + std::to_string(y.c) + " channels, model '" +
                                            info_.name + "' expects " +
                                            std::to_string(info_.latent_channels));
  return factorized_->quantize(y);
}

Tensor Model::dequantize(const std::vector<int32_t>& q, int c, int h, int w) const {
  require(factorized_, "model '" + info_.name + "' has a hyperprior: dequantise with aec::decode_latent");
  require(c == info_.latent_channels, "latent has " + std::to_string(c) + " channels, model '" + info_.name +
                                          "' expects " + std::to_string(info_.latent_channels));
  return factorized_->dequantize(q, c, h, w);
}

}  // namespace aec
