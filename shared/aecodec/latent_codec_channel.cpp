#include <cmath>

#include "aecodec/channel_context.h"
#include "aecodec/error.h"
#include "aecodec/hyperprior.h"
#include "aecodec/latent_codec.h"
#include "aecodec/parallel.h"
#include "aecodec/substreams.h"

namespace aec {

ChannelCodec::ChannelCodec(std::shared_ptr<const Hyperprior> hyperprior,
                           std::shared_ptr<const ChannelContext> context, bool lrp)
    : HyperpriorCodec(std::move(hyperprior)), ctx_(std::move(context)), lrp_(lrp) {}
ChannelCodec::~ChannelCodec() = default;

std::unique_ptr<ChannelCodec> ChannelCodec::with_lrp(bool lrp) const {
  return std::make_unique<ChannelCodec>(hp_, ctx_, lrp);
}

// The sections are the hyperprior's: z's symbols in the hyper payload, y's in the payload, channel after
// channel in each of its row bands' streams (substreams.h): the decoder reads each slice's symbols, from
// every band at once, before it can pick the next one's tables.
LatentCode ChannelCodec::encode(const Tensor& y, const std::vector<int32_t>* side, bool latent, bool rates,
                                int bands) const {
  const Hyperprior& hp = hyperprior();
  LatentCode r;
  const Hyperprior::Conditional cond = encode_side(y, side, r);
  const size_t plane = y.plane();
  std::vector<int32_t> q(y.size()), index(y.size());
  r.latent = ctx_->run(
      cond, y.h, y.w,
      [&](int c0, int c, const int32_t* table, const int32_t* mean, int32_t* symbols) {
        const size_t base = size_t(c0) * plane;
        parallel_for(c, [&](int k0, int k1) {  // per element: any thread count
          for (size_t j = size_t(k0) * plane; j < size_t(k1) * plane; ++j) {
            symbols[j] = q[base + j] = round_symbol(y.data[base + j] - hp.mean_value(mean[j]));
            index[base + j] = table[j];
          }
        });
      },
      0, nullptr, latent, lrp_);
  encode_payload(q.data(), index.data(), y.c, y.h, y.w, hp.y_tables(), r.stream, bands);
  if (rates) r.channel_bits = bits_per_channel(q, index.data(), y.c, plane, hp.y_tables());
  return r;
}

ConditionalRate ChannelCodec::conditional_rate(int c, int h, int w, const std::vector<int32_t>& side,
                                               const Tensor* y) const {
  require(y && y->c == c && y->h == h && y->w == w,
          "context model: refinement's rate model needs the latent it starts from");
  const Hyperprior& hp = hyperprior();
  ConditionalRate r = HyperpriorCodec::conditional_rate(c, h, w, side);
  int zc, zh, zw;
  hp.hyper_shape(h, w, zc, zh, zw);
  const Hyperprior::Conditional cond = hp.conditional(side, zh, zw, h, w);
  const size_t plane = size_t(h) * w;
  // Each slice's tables and means with the slices before it rounded as the plain encoder rounds them.
  ctx_->run(
      cond, h, w,
      [&](int c0, int k, const int32_t* table, const int32_t* mean, int32_t* symbols) {
        const size_t base = size_t(c0) * plane, m = size_t(k) * plane;
        for (size_t j = 0; j < m; ++j) {
          r.base[base + j] = hp.mean_value(mean[j]);
          r.table[base + j] = table[j];
          r.scale[base + j] = hp.scale_table()[size_t(table[j])];
          symbols[j] = round_symbol(y->data[base + j] - r.base[base + j]);
        }
      },
      0, nullptr, false);  // the rates need the tables and means, not the decoded latent
  return r;
}

Tensor ChannelCodec::decode(const Bitstream& stream, int c, int h, int w,
                            std::vector<double>* channel_bits) const {
  const Hyperprior& hp = hyperprior();
  const Hyperprior::Conditional cond = decode_side(stream, h, w);
  const size_t plane = size_t(h) * w;
  // The whole latent's symbols and tables only for the per-channel rates (`aecodec info`); decoding itself
  // needs one slice at a time, and on a large photo these two copies would be a third of its memory.
  std::vector<int32_t> q, index;
  if (channel_bits) q.resize(size_t(c) * plane), index.resize(q.size());
  PayloadDecoder dec(stream, c, h, w, hp.y_tables());
  Tensor latent = ctx_->run(
      cond, h, w,
      [&](int c0, int k, const int32_t* table, const int32_t*, int32_t* symbols) {
        const size_t base = size_t(c0) * plane, m = size_t(k) * plane;
        dec.decode_channels(k, table, symbols);
        if (!channel_bits) return;
        std::copy(symbols, symbols + m, q.begin() + std::ptrdiff_t(base));
        std::copy(table, table + m, index.begin() + std::ptrdiff_t(base));
      },
      0, nullptr, true, lrp_);
  dec.finish();
  if (channel_bits) *channel_bits = bits_per_channel(q, index.data(), c, plane, hp.y_tables());
  return latent;
}

}  // namespace aec
