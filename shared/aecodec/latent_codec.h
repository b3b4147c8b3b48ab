// Latent codecs (as CompressAI's latent_codecs): what turns the analysis transform's latent into symbols in
// the container's sections and back. A Model composes one, chosen by its document's entropy.kind; the codec
// pipeline (codec.h) calls only this interface, so a new entropy model -- a context model, coding by tiles
// into substreams -- is a new implementation with its own sections (docs/bitstream.md), not a branch there.
#pragma once
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "aecodec/bitstream.h"
#include "aecodec/entropy.h"
#include "aecodec/hyperprior.h"
#include "aecodec/model_file.h"
#include "aecodec/tensor.h"

namespace aec {

class ChannelContext;

// A coded latent: the codec's sections, the latent the decoder will see and the ideal rates.
struct LatentCode {
  Bitstream stream;  // the codec's sections (payloads); write_stream (codec.h) adds the header
  Tensor latent;     // the dequantised latent, exactly what decoding the sections gives
  std::vector<double> channel_bits;  // ideal bits per latent channel
  double hyper_bits = 0;             // ideal bits of the side information (a hyperprior's z)
};

// What encoder refinement (refine.h) needs of a latent codec for given side information: each element of y
// as y = base + step * v, where the codec codes round(v) with table `table`, and the rate of a continuous v.
struct ConditionalRate {
  std::vector<float> base, step;
  std::vector<int32_t> table;
  const CdfTables* tables = nullptr;
  // The Gaussian's scale per element, where the codec is a Gaussian conditional: the rate is then its closed
  // form (the trainer's likelihood). Empty: the tables' log-mass, interpolated between integers.
  std::vector<float> scale;
  double side_bits = 0;  // ideal bits of the side information itself (constant while it is fixed)

  // Bits of element i at the continuous value v, and the derivative in v. `integer_bits(t, k)` gives the
  // tables' exact cost of integer k under table t (the interpolation's knots).
  template <class IntegerBits>
  double bits(size_t i, double v, double& dbits, const IntegerBits& integer_bits) const;
};

// -log2 of a Gaussian's mass on the unit bin around r (symbol space, the mean subtracted) at scale s:
// CompressAI's likelihood with its 1e-9 floor; dbits receives its derivative in r.
double gaussian_rate_bits(double r, double s, double& dbits);

template <class IntegerBits>
double ConditionalRate::bits(size_t i, double v, double& dbits, const IntegerBits& integer_bits) const {
  if (!scale.empty()) return gaussian_rate_bits(v, scale[i], dbits);
  const double f = std::floor(v);
  const double b0 = integer_bits(table[i], int32_t(f)), b1 = integer_bits(table[i], int32_t(f) + 1);
  dbits = b1 - b0;
  return b0 + (v - f) * dbits;
}

class LatentCodec {
 public:
  virtual ~LatentCodec() = default;
  // From the document's "entropy" object and the file's tensors, checking every shape and table.
  // lrp: a context model's latent residual prediction applies to the latent it returns (false: the decoder
  // reads the coded latent, ModelInfo::decoder_lrp).
  static std::unique_ptr<LatentCodec> build(const nlohmann::json& entropy, const ModelFile& file,
                                            int latent_channels, bool lrp = true);

  virtual const char* kind() const = 0;  // the document's entropy.kind: "factorized", "hyperprior"
  // The section types the codec writes and the decoder needs, all required (even) types. Decoding refuses a
  // stream that lacks one, or that has a required section not in this list.
  virtual std::vector<uint32_t> sections() const = 0;
  // Side information: symbols that the encoder chooses for y before coding it and that select y's tables
  // (a hyperprior's z). Empty when the codec has none. Encoder refinement keeps them fixed while it searches
  // y.
  virtual std::vector<int32_t> side_symbols(const Tensor& y) const = 0;
  // The symbol space and rate model of a c x h x w latent given its side information (refinement's search).
  // y: the latent being refined, for codecs whose tables also depend on y itself (a context model: its
  // tables and means at y's own rounding, a linearisation that holds while the search moves y little).
  virtual ConditionalRate conditional_rate(int c, int h, int w, const std::vector<int32_t>& side,
                                           const Tensor* y = nullptr) const = 0;
  // Whether conditional_rate is such a linearisation: the encoder then checks a refined latent against the
  // plain one by coding both (codec.cpp).
  virtual bool context_adaptive() const { return false; }
  // Quantises y and codes it into sections. `side`, when given, replaces side_symbols(y). latent = false:
  // the caller has no use for the decoded latent, so r.latent may be left empty (a context model then skips
  // its LRP nets). rates = false: nor for r.channel_bits, left empty (no bit accounting). bands: the
  // payload's row bands (encode_payload).
  virtual LatentCode encode(const Tensor& y, const std::vector<int32_t>* side = nullptr, bool latent = true,
                            bool rates = true, int bands = 0) const = 0;
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
  ConditionalRate conditional_rate(int c, int h, int w, const std::vector<int32_t>& side,
                                   const Tensor* y = nullptr) const override;
  LatentCode encode(const Tensor& y, const std::vector<int32_t>* side = nullptr, bool latent = true,
                    bool rates = true, int bands = 0) const override;
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
  explicit HyperpriorCodec(std::shared_ptr<const Hyperprior> hyperprior);
  ~HyperpriorCodec() override;
  const char* kind() const override { return "hyperprior"; }
  std::vector<uint32_t> sections() const override { return {kSectionPayload, kSectionHyperPayload}; }
  std::vector<int32_t> side_symbols(const Tensor& y) const override;
  ConditionalRate conditional_rate(int c, int h, int w, const std::vector<int32_t>& side,
                                   const Tensor* y = nullptr) const override;
  LatentCode encode(const Tensor& y, const std::vector<int32_t>* side = nullptr, bool latent = true,
                    bool rates = true, int bands = 0) const override;
  Tensor decode(const Bitstream& stream, int c, int h, int w,
                std::vector<double>* channel_bits = nullptr) const override;

  const Hyperprior& hyperprior() const { return *hp_; }
  // The quantiser: round half to even, clamped to what the escape can carry; NaN and infinities (a broken
  // model) become 0. Inline and branch-free, so the codecs' per-element loops vectorise: the residual is
  // clamped to +-kMaxEscape / 2 first (rounding commutes with that clamp, an integer), then rounded by adding
  // and subtracting 1.5 * 2^23, exact for |x| < 2^22 in the default round-to-nearest-even mode, as
  // std::nearbyint (tests/core/test_latent_codec.cpp compares the two).
  static int32_t round_symbol(float residual) {
    const float limit = float(kMaxEscape / 2), magic = 12582912.0f;  // 1.5 * 2^23
    const float x = residual - residual == 0.0f ? residual : 0.0f;   // NaN and +-inf: x - x is NaN
    const float c = x < -limit ? -limit : x > limit ? limit : x;
    return int32_t((c + magic) - magic);
  }

 protected:
  // The side information, shared with the context model: z's symbols into the hyper payload (r.hyper_bits
  // too), and back from it; both give every element's hyperprior table and mean for an h x w latent.
  Hyperprior::Conditional encode_side(const Tensor& y, const std::vector<int32_t>* side, LatentCode& r) const;
  Hyperprior::Conditional decode_side(const Bitstream& stream, int h, int w) const;

  std::shared_ptr<const Hyperprior> hp_;  // shared with a channel codec's with_lrp twin
};

// The channel-conditional context model (channel_context.h) on the hyperprior: z as the hyperprior codes it,
// then y's slices in one stream, each slice's tables and means from the hyperprior's and from the slices
// decoded before it. Its rate model for refinement is the context's tables and means at y's own rounding.
class ChannelCodec : public HyperpriorCodec {
 public:
  // lrp = false: encode's and decode's latent is the coded one, without latent residual prediction.
  ChannelCodec(std::shared_ptr<const Hyperprior> hyperprior, std::shared_ptr<const ChannelContext> context,
               bool lrp = true);
  ~ChannelCodec() override;
  const char* kind() const override { return "channel"; }
  ConditionalRate conditional_rate(int c, int h, int w, const std::vector<int32_t>& side,
                                   const Tensor* y = nullptr) const override;
  bool context_adaptive() const override { return true; }
  LatentCode encode(const Tensor& y, const std::vector<int32_t>* side = nullptr, bool latent = true,
                    bool rates = true, int bands = 0) const override;
  Tensor decode(const Bitstream& stream, int c, int h, int w,
                std::vector<double>* channel_bits = nullptr) const override;

  const ChannelContext& context() const { return *ctx_; }
  bool lrp() const { return lrp_; }
  // This entropy model (its hyperprior and context shared, not copied) with `lrp` as the latent it gives: for
  // a model's second decoder that reads the other latent (a family member's up decoder, model.h).
  std::unique_ptr<ChannelCodec> with_lrp(bool lrp) const;

 private:
  std::shared_ptr<const ChannelContext> ctx_;
  bool lrp_ = true;
};

// Helpers the codecs share: the per-element table index of per-channel tables, ideal bits per channel, and
// a section the codec needs.
std::vector<int32_t> channel_index(int c, int h, int w);
std::vector<double> bits_per_channel(const std::vector<int32_t>& q, const int32_t* table_index, int c,
                                     size_t plane, const CdfTables& tables);
const std::vector<uint8_t>& required_section(const Bitstream& stream, uint32_t type);

}  // namespace aec
