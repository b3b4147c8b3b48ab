// Latent codecs (as CompressAI's latent_codecs): what turns the analysis transform's latent into symbols in
// the container's sections and back. A Model composes one, chosen by its document's entropy.kind; the codec
// pipeline (codec.h) calls only this interface, so a new entropy model -- a context model, coding by tiles
// into substreams -- is a new implementation with its own sections (docs/bitstream.md), not a branch there.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "aecodec/bitstream.h"
#include "aecodec/entropy.h"
#include "aecodec/model_file.h"
#include "aecodec/tensor.h"

namespace aec {

class Hyperprior;

// A coded latent: the codec's sections, the latent the decoder will see and the ideal rates.
struct LatentCode {
  Bitstream stream;  // the codec's sections (payloads); write_stream (codec.h) adds the header
  Tensor latent;     // the dequantised latent, exactly what decoding the sections gives
  std::vector<double> channel_bits;  // ideal bits per latent channel
  double hyper_bits = 0;             // ideal bits of the side information (a hyperprior's z)
};

class LatentCodec {
 public:
  virtual ~LatentCodec() = default;
  // From the document's "entropy" object and the file's tensors, checking every shape and table.
  static std::unique_ptr<LatentCodec> build(const nlohmann::json& entropy, const ModelFile& file,
                                            int latent_channels);

  virtual const char* kind() const = 0;  // the document's entropy.kind: "factorized", "hyperprior"
  // The section types the codec writes and the decoder needs, all required (even) types. Decoding refuses a
  // stream that lacks one, or that has a required section not in this list.
  virtual std::vector<uint32_t> sections() const = 0;
  // Side information: symbols that the encoder chooses for y before coding it and that select y's tables
  // (a hyperprior's z). Empty when the codec has none. Encoder refinement keeps them fixed while it searches
  // y.
  virtual std::vector<int32_t> side_symbols(const Tensor& y) const = 0;
  // Quantises y and codes it into sections. `side`, when given, replaces side_symbols(y).
  virtual LatentCode encode(const Tensor& y, const std::vector<int32_t>* side = nullptr) const = 0;
  // Decodes the sections of a stream whose latent grid is c x h x w into the dequantised latent; fills
  // channel_bits (ideal bits per latent channel) when given. Damaged sections throw aec::Error.
  virtual Tensor decode(const Bitstream& stream, int c, int h, int w,
                        std::vector<double>* channel_bits = nullptr) const = 0;
};

// Per-channel factorized tables (Balle et al. 2017): q = round((y - offset[c]) / step[c]) coded with table c.
class FactorizedCodec : public LatentCodec {
 public:
  // latent.step, latent.offset and the entropy.* tables.
  FactorizedCodec(const ModelFile& file, int latent_channels);
  const char* kind() const override { return "factorized"; }
  std::vector<uint32_t> sections() const override { return {kSectionPayload}; }
  std::vector<int32_t> side_symbols(const Tensor&) const override { return {}; }
  LatentCode encode(const Tensor& y, const std::vector<int32_t>* side = nullptr) const override;
  Tensor decode(const Bitstream& stream, int c, int h, int w,
                std::vector<double>* channel_bits = nullptr) const override;

  std::vector<int32_t> quantize(const Tensor& y) const;
  Tensor dequantize(const std::vector<int32_t>& q, int c, int h, int w) const;
  const CdfTables& tables() const { return tables_; }

 private:
  std::vector<float> step_, offset_;
  CdfTables tables_;
};

// The mean-scale hyperprior (hyperprior.h): z's symbols in the hyper payload, then y around the means that
// the integer h_s gives, with the Gaussian tables its scales pick.
class HyperpriorCodec : public LatentCodec {
 public:
  explicit HyperpriorCodec(std::unique_ptr<Hyperprior> hyperprior);
  ~HyperpriorCodec() override;
  const char* kind() const override { return "hyperprior"; }
  std::vector<uint32_t> sections() const override { return {kSectionPayload, kSectionHyperPayload}; }
  std::vector<int32_t> side_symbols(const Tensor& y) const override;
  LatentCode encode(const Tensor& y, const std::vector<int32_t>* side = nullptr) const override;
  Tensor decode(const Bitstream& stream, int c, int h, int w,
                std::vector<double>* channel_bits = nullptr) const override;

  const Hyperprior& hyperprior() const { return *hp_; }

 private:
  std::unique_ptr<Hyperprior> hp_;
};

// Helpers the codecs share: the per-element table index of per-channel tables, ideal bits per channel, and
// a section the codec needs.
std::vector<int32_t> channel_index(int c, int h, int w);
std::vector<double> bits_per_channel(const std::vector<int32_t>& q, const int32_t* table_index, int c,
                                     size_t plane, const CdfTables& tables);
const std::vector<uint8_t>& required_section(const Bitstream& stream, uint32_t type);

}  // namespace aec
