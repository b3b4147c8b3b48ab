// A model as the core runs it: the encoder and decoder networks built from the layer lists in the model
// file's document (one generic definition for every architecture -- no per-model C++), and the latent codec
// (latent_codec.h) that quantises and entropy-codes the latent: per-channel factorized tables, or a
// mean-scale hyperprior (hyperprior.h).
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "aecodec/entropy.h"
#include "aecodec/model_file.h"
#include "aecodec/network.h"
#include "aecodec/tensor.h"

namespace aec {

class Hyperprior;
class LatentCodec;
class FactorizedCodec;
class HyperpriorCodec;

struct ModelInfo {
  std::string name, id, arch, description;
  int input_channels = 3;
  int stride = 1;                         // image size must be a multiple (the codec pads)
  int fixed_width = 0, fixed_height = 0;  // non-zero for fixed-size models (fc)
  int latent_channels = 0;
  std::string family_id, family_role;  // empty when not in a cross-resolution family
  // A member built on a model outside any family (the family's high member is that model's own file, which
  // names no family): that model's name, decode id and stride, from the document's family.high. Its files
  // cross-decode with this member, and this member's files with it (they share the entropy model).
  std::string family_high, family_high_id;
  int family_high_stride = 0;
  uint64_t model_hash = 0;  // identity written into bitstreams: ModelFile::decode_hash, as `id`
  // ModelFile::content_hash: the id that files written before decode ids name (is_version accepts both),
  // and what tells apart two files that decode the same (other encoders, descriptions).
  uint64_t content_hash = 0;
  uint64_t entropy_hash = 0;  // identity of the entropy model (shared across a family)
  std::string entropy_kind;   // "factorized", "hyperprior" or "channel"
  // Channel models: whether the decoder reads the latent after the context's latent residual prediction
  // (the default) or the coded latent, symbol + mean (the document's "decoder_lrp": false).
  bool decoder_lrp = true;
  // A family's medium member with an up decoder (the document's "up_decoder", docs/family.md): its own
  // files, of half-size images, also decode at twice their size (up_decode_image, codec.h).
  bool up_decoder = false;
  // Variable-rate models (quality.h): the trained lambdas, ascending (empty for a single-rate model), and the
  // quality the codec uses when none is asked for. A model made by at_quality keeps them and has its
  // quality code (Q x 100); 0 otherwise.
  std::vector<double> lambdas;
  double default_quality = 0;
  int quality_code = 0;

  // Whether a file naming model id `hash` decodes with this model: today's id, or the older whole-file one.
  bool is_version(uint64_t hash) const { return hash == model_hash || hash == content_hash; }
  bool is_version(const std::string& id_hex) const;
  // Whether this member names the model `name` at decode id `id_hex` as its family's high member.
  bool names_as_high(const std::string& name, const std::string& id_hex) const {
    return !family_high.empty() && name == family_high && id_hex == family_high_id;
  }
};

class Model {
 public:
  Model();
  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;
  ~Model();
  static Model from_file(ModelFile file);
  static Model load(const std::string& path);

  const ModelInfo& info() const { return info_; }
  // A variable-rate model's file, not yet at a quality: the codec (encode_image, decode_image) codes with
  // at_quality(Q), the same network with Q's gains folded into its transforms and the same identity. It
  // shares this model's entropy model, and its file() holds the transforms' tensors, not the "hyper.*"
  // ones of the entropy model.
  bool variable_rate() const { return !info_.lambdas.empty() && info_.quality_code == 0; }
  Model at_quality(double quality) const;  // quality.cpp
  // at_quality, kept for the next call at the same quality: a program, a page or an rd run codes many images
  // at one quality, and folding the gains rebuilds the transforms (4 ms for the narrow context model at
  // 768x512, 29 ms for the wide one). Shared, so a caller keeps its model while another quality replaces it
  // here. Safe from several threads.
  std::shared_ptr<const Model> at_quality_cached(double quality) const;  // quality.cpp
  const ModelFile& file() const { return file_; }
  // What turns the latent into symbols and back (latent_codec.h); the codec pipeline calls only this.
  const LatentCodec& latent_codec() const { return *latent_codec_; }
  // The factorized entropy model's per-channel tables (empty for a hyperprior model).
  const CdfTables& tables() const;
  // The hyperprior entropy model, or null for a factorized one.
  const Hyperprior* hyperprior() const;
  const Network& encoder() const { return encoder_; }
  const Network& decoder() const { return decoder_; }
  // The up decoder (info().up_decoder): the member's latent, after the context's latent residual prediction,
  // to an image of twice the size its encoder reads; and the latent codec that decodes that latent (the
  // member's own when its decoder reads LRP's latent too).
  const Network& up_decoder() const;
  const LatentCodec& up_latent_codec() const;

  // image tensor [3,H,W] in [0,1] (H, W multiples of stride) -> latent y
  Tensor analysis(const Tensor& image) const { return encoder_.forward(image); }
  // quantised latent -> image tensor (not clamped)
  Tensor synthesis(const Tensor& latent) const { return decoder_.forward(latent); }
  // Factorized models: q = round((y - offset_c) / step_c) ; dequantize: q * step_c + offset_c. A hyperprior
  // model quantises around means from its hyper latent: these throw, use aec::code_latent (codec.h).
  std::vector<int32_t> quantize(const Tensor& y) const;
  Tensor dequantize(const std::vector<int32_t>& q, int c, int h, int w) const;

 private:
  // from_file, optionally without hashing the file's content for its identity (at_quality keeps the
  // variable-rate file's), and with `entropy` as the latent codec instead of one built from the file
  // (at_quality shares the variable-rate model's: the quality moves only the transforms' gains).
  static Model build(ModelFile file, bool identity, std::shared_ptr<const LatentCodec> entropy = nullptr,
                     std::shared_ptr<const LatentCodec> up_entropy = nullptr);

  struct QualityCache {  // the last at_quality_cached result
    std::mutex mu;
    int code = 0;
    std::shared_ptr<const Model> model;
  };
  ModelInfo info_;
  std::shared_ptr<QualityCache> quality_cache_ = std::make_shared<QualityCache>();
  ModelFile file_;
  Network encoder_, decoder_;
  std::shared_ptr<const LatentCodec> latent_codec_;
  std::shared_ptr<const Network> up_decoder_;  // null without an up decoder
  std::shared_ptr<const LatentCodec> up_latent_codec_;
  // latent_codec_ as its kind, or null (heap objects: these stay valid when the Model moves).
  const FactorizedCodec* factorized_ = nullptr;
  const HyperpriorCodec* hyperprior_ = nullptr;
};

// Reads tables stored as NAME.cdf [T, L], NAME.cdf_length [T], NAME.offset [T] (the layout of the factorized
// entropy.* tensors, docs/model-format.md) and validates them; `tables` is T, or 0 for any T >= 1.
CdfTables read_cdf_tables(const ModelFile& file, const std::string& name, int64_t tables);
// The writer's side (export and test models): rows padded with zeros to the longest table.
void put_cdf_tables(ModelFile& file, const std::string& name, const CdfTables& tables);

}  // namespace aec
