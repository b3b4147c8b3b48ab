#include <cmath>

#include "aecodec/error.h"
#include "aecodec/hyperprior.h"
#include "aecodec/latent_codec.h"
#include "aecodec/substreams.h"

namespace aec {

namespace {

// y_hat = symbol + mean: one expression for the encoder and the decoder, so both get the same floats.
Tensor dequantize_conditional(const Hyperprior& hp, const std::vector<int32_t>& q,
                              const Hyperprior::Conditional& cond, int c, int h, int w) {
  Tensor t(c, h, w);
  require(q.size() == t.size() && cond.mean.size() == t.size(), "latent size mismatch");
  for (size_t i = 0; i < t.size(); ++i) t.data[i] = float(q[i]) + hp.mean_value(cond.mean[i]);
  return t;
}

}  // namespace

HyperpriorCodec::HyperpriorCodec(std::shared_ptr<const Hyperprior> hyperprior) : hp_(std::move(hyperprior)) {}
HyperpriorCodec::~HyperpriorCodec() = default;

// z = h_a(y) is float (any backend may compute it: the encoder's choice is written into the file); from its
// symbols on everything is the integer path the decoder repeats.
std::vector<int32_t> HyperpriorCodec::side_symbols(const Tensor& y) const {
  return hp_->quantize_z(hp_->analysis(y));
}

ConditionalRate HyperpriorCodec::conditional_rate(int c, int h, int w, const std::vector<int32_t>& side,
                                                  const Tensor*) const {
  const Hyperprior& hp = *hp_;
  int zc, zh, zw;
  hp.hyper_shape(h, w, zc, zh, zw);
  require(side.size() == size_t(zc) * zh * zw, "hyper latent size does not match the latent");
  const Hyperprior::Conditional cond = hp.conditional(side, zh, zw, h, w);
  const size_t n = size_t(c) * h * w;
  ConditionalRate r;
  r.base.resize(n), r.step.assign(n, 1.0f), r.scale.resize(n);
  r.table = cond.index;
  for (size_t i = 0; i < n; ++i) {
    r.base[i] = hp.mean_value(cond.mean[i]);
    r.scale[i] = hp.scale_table()[size_t(cond.index[i])];
  }
  r.tables = &hp.y_tables();
  const std::vector<int32_t> zidx = channel_index(zc, zh, zw);
  r.side_bits = entropy_bits(side.data(), zidx.data(), side.size(), hp.z_tables());
  return r;
}

Hyperprior::Conditional HyperpriorCodec::encode_side(const Tensor& y, const std::vector<int32_t>* side,
                                                     LatentCode& r) const {
  const Hyperprior& hp = *hp_;
  int zc, zh, zw;
  hp.hyper_shape(y.h, y.w, zc, zh, zw);
  const std::vector<int32_t> qz = side ? *side : side_symbols(y);
  require(qz.size() == size_t(zc) * zh * zw, "hyper latent size does not match the latent");
  const std::vector<int32_t> zidx = channel_index(zc, zh, zw);
  r.stream.section(kSectionHyperPayload) = entropy_encode(qz.data(), zidx.data(), qz.size(), hp.z_tables());
  r.hyper_bits = entropy_bits(qz.data(), zidx.data(), qz.size(), hp.z_tables());
  return hp.conditional(qz, zh, zw, y.h, y.w);
}

Hyperprior::Conditional HyperpriorCodec::decode_side(const Bitstream& stream, int h, int w) const {
  const Hyperprior& hp = *hp_;
  int zc, zh, zw;
  hp.hyper_shape(h, w, zc, zh, zw);
  const BitstreamHeader& hd = stream.header;  // version 2 stores z's shape; it must be the derived one
  require(hd.hyper_c == 0 ||
              (hd.hyper_c == uint32_t(zc) && hd.hyper_h == uint32_t(zh) && hd.hyper_w == uint32_t(zw)),
          "corrupt .aec file: hyper latent shape does not match the latent");
  const std::vector<uint8_t>& hyper = required_section(stream, kSectionHyperPayload);
  const std::vector<int32_t> zidx = channel_index(zc, zh, zw);
  const std::vector<int32_t> qz =
      entropy_decode(hyper.data(), hyper.size(), zidx.data(), zidx.size(), hp.z_tables());
  return hp.conditional(qz, zh, zw, h, w);
}

LatentCode HyperpriorCodec::encode(const Tensor& y, const std::vector<int32_t>* side, bool, bool rates,
                                   int bands) const {
  const Hyperprior& hp = *hp_;
  LatentCode r;
  const Hyperprior::Conditional cond = encode_side(y, side, r);
  std::vector<int32_t> q(y.size());
  for (size_t i = 0; i < q.size(); ++i) q[i] = round_symbol(y.data[i] - hp.mean_value(cond.mean[i]));
  encode_payload(q.data(), cond.index.data(), y.c, y.h, y.w, hp.y_tables(), r.stream, bands);
  if (rates) r.channel_bits = bits_per_channel(q, cond.index.data(), y.c, y.plane(), hp.y_tables());
  r.latent = dequantize_conditional(hp, q, cond, y.c, y.h, y.w);
  return r;
}

Tensor HyperpriorCodec::decode(const Bitstream& stream, int c, int h, int w,
                               std::vector<double>* channel_bits) const {
  const Hyperprior& hp = *hp_;
  const Hyperprior::Conditional cond = decode_side(stream, h, w);
  const std::vector<int32_t> q = decode_payload(stream, c, h, w, cond.index.data(), hp.y_tables());
  if (channel_bits) *channel_bits = bits_per_channel(q, cond.index.data(), c, size_t(h) * w, hp.y_tables());
  return dequantize_conditional(hp, q, cond, c, h, w);
}

}  // namespace aec
