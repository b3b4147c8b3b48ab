#include <cmath>

#include "aecodec/error.h"
#include "aecodec/latent_codec.h"
#include "aecodec/model.h"
#include "aecodec/substreams.h"

namespace aec {

FactorizedCodec::FactorizedCodec(const ModelFile& file, int latent_channels) {
  const int64_t C = latent_channels;
  step_ = file.floats("latent.step", {C});
  offset_ = file.floats("latent.offset", {C});
  for (float s : step_)
    if (!(s > 1e-6f && s < 1e6f)) throw Error("latent.step values must be positive and finite");
  tables_ = read_cdf_tables(file, "entropy", C);
}

ConditionalRate FactorizedCodec::conditional_rate(int c, int h, int w, const std::vector<int32_t>& side,
                                                  const Tensor*) const {
  require(side.empty(), "a factorized latent has no side information");
  require(size_t(c) == step_.size(),
          "latent has " + std::to_string(c) + " channels, the quantiser " + std::to_string(step_.size()));
  const size_t plane = size_t(h) * w;
  ConditionalRate r;
  r.base.resize(plane * size_t(c)), r.step.resize(plane * size_t(c));
  r.table = channel_index(c, h, w);
  for (size_t i = 0; i < r.base.size(); ++i) r.base[i] = offset_[i / plane], r.step[i] = step_[i / plane];
  r.tables = &tables_;
  return r;
}

std::vector<int32_t> FactorizedCodec::quantize(const Tensor& y) const {
  require(size_t(y.c) == step_.size(),
          "latent has " + std::to_string(y.c) + " channels, the quantiser " + std::to_string(step_.size()));
  std::vector<int32_t> q(y.size());
  const size_t plane = y.plane();
  for (int c = 0; c < y.c; ++c) {
    const float inv = 1.0f / step_[size_t(c)], off = offset_[size_t(c)];
    const float* src = y.channel(c);
    for (size_t i = 0; i < plane; ++i) {
      float v = std::nearbyint((src[i] - off) * inv);
      // Clamp to what the entropy coder's escape can carry; NaN (a broken model) becomes 0.
      v = std::isfinite(v) ? std::fmax(-float(kMaxEscape / 2), std::fmin(float(kMaxEscape / 2), v)) : 0.0f;
      q[size_t(c) * plane + i] = int32_t(v);
    }
  }
  return q;
}

Tensor FactorizedCodec::dequantize(const std::vector<int32_t>& q, int c, int h, int w) const {
  require(size_t(c) == step_.size(),
          "latent has " + std::to_string(c) + " channels, the quantiser " + std::to_string(step_.size()));
  Tensor t(c, h, w);
  require(q.size() == t.size(), "latent size mismatch");
  const size_t plane = t.plane();
  for (int k = 0; k < c; ++k)
    for (size_t i = 0; i < plane; ++i)
      t.data[size_t(k) * plane + i] = float(q[size_t(k) * plane + i]) * step_[size_t(k)] + offset_[size_t(k)];
  return t;
}

LatentCode FactorizedCodec::encode(const Tensor& y, const std::vector<int32_t>* side, bool, bool rates,
                                   int bands) const {
  require(!side || side->empty(), "a factorized entropy model takes no side information");
  LatentCode r;
  const std::vector<int32_t> q = quantize(y);
  const std::vector<int32_t> idx = channel_index(y.c, y.h, y.w);
  encode_payload(q.data(), idx.data(), y.c, y.h, y.w, tables_, r.stream, bands);
  if (rates) r.channel_bits = bits_per_channel(q, idx.data(), y.c, y.plane(), tables_);
  r.latent = dequantize(q, y.c, y.h, y.w);
  return r;
}

Tensor FactorizedCodec::decode(const Bitstream& stream, int c, int h, int w,
                               std::vector<double>* channel_bits) const {
  const std::vector<int32_t> idx = channel_index(c, h, w);
  const std::vector<int32_t> q = decode_payload(stream, c, h, w, idx.data(), tables_);
  if (channel_bits) *channel_bits = bits_per_channel(q, idx.data(), c, size_t(h) * w, tables_);
  return dequantize(q, c, h, w);
}

}  // namespace aec
