#include "aecodec/channel_context.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "aecodec/document_fields.h"
#include "aecodec/error.h"
#include "aecodec/gaussian.h"
#include "aecodec/model.h"
#include "aecodec/ops.h"
#include "aecodec/parallel.h"

namespace aec {

using json = nlohmann::json;

namespace {

constexpr int64_t kSat = (int64_t(1) << 31) - 1;

int32_t saturate(int64_t v) {
  return int32_t(std::clamp(v, -kSat, kSat));
}

// Values per band of rows (latent positions x the E + M channels the nets read at most): the nets run over
// bands of the latent with halos, so their intermediate maps are bounded by the band (a 12 MP photo's latent
// would otherwise hold a few hundred MB of them). 16384 positions of the narrow models (E + M = 64 + 96);
// wider ones get proportionally fewer rows. Integer outputs do not depend on the band; at 768x512 the whole
// latent is one band.
constexpr int64_t kBandValues = 16384 * (64 + 96);

// The channels an integer network makes from `c` input channels, and in `halo` how many rows (and columns)
// around an output it reads: its convs must be stride 1 with "same" padding, so that a band with that halo
// gives the same outputs as the whole latent.
int int_out_channels(const IntNetwork& net, int c, const std::string& what, int& halo) {
  halo = 0;
  for (const IntConv& l : net.layers()) {
    require(l.shape.stride == 1 && 2 * l.shape.padding == l.shape.kernel - 1 && l.shape.output_padding == 0,
            what + " must keep the latent grid's size (stride 1, same padding)");
    halo += l.shape.padding;
  }
  int h = 8, w = 8;
  net.output_shape(c, h, w);
  require(h == 8 && w == 8, what + " must keep the latent grid's size (stride 1, same padding)");
  return c;
}

int float_out_channels(const Network& net, int c, const std::string& what, int& halo) {
  int h = 8, w = 8;
  net.output_shape(c, h, w);
  int down = 0, up = 0;
  int64_t lo = 0, hi = 0;
  require(h == 8 && w == 8 && net.strides(down, up) && down == 1 && up == 1 && net.input_range(lo, hi) &&
              lo <= 0 && hi >= 0 && hi <= 64 && lo >= -64,
          what + " must keep the latent grid's size (stride 1, same padding)");
  halo = int(std::max(-lo, hi));
  return c;
}

// Calls fn(r0, r1, lo, hi) for bands [r0, r1) of `rows` rows covering [0, h), with [lo, hi) the band widened
// by `halo` rows on each side and cut at the latent's edges (where the nets see their own zero padding, as
// on the whole latent).
template <typename Fn>
void for_bands(int h, int rows, int halo, Fn&& fn) {
  for (int r0 = 0; r0 < h; r0 += rows) {
    const int r1 = std::min(h, r0 + rows);
    fn(r0, r1, std::max(0, r0 - halo), std::min(h, r1 + halo));
  }
}

// Copies rows [lo, hi) of the first `c` channels of src (h x w planes) into dst (c x (hi - lo) x w).
// Channels on the core's threads (each element on its own: the same values for any thread count).
template <typename T, typename U, typename Convert>
void copy_rows(const T* src, size_t plane, int c, int lo, int hi, int w, U* dst, Convert cv) {
  const size_t n = size_t(hi - lo) * w;
  parallel_for(c, [&](int c0, int c1) {
    for (int ch = c0; ch < c1; ++ch) {
      const T* s = src + size_t(ch) * plane + size_t(lo) * w;
      U* d = dst + size_t(ch) * n;
      for (size_t j = 0; j < n; ++j) d[j] = cv(s[j]);
    }
  });
}

// A float LRP net of the form conv (ReLU) conv as integer layers reading feature_bits fraction bits, or an
// empty network when it has another form or a layer does not quantise.
IntNetwork quantize_lrp(const json& layers, const ModelFile& f, int feature_bits) {
  if (!layers.is_array() || layers.size() != 3 || !layers[1].is_object() ||
      layers[1].value("op", std::string()) != op::kRelu)
    return IntNetwork();
  std::vector<IntConv> convs;
  std::vector<std::string> names;
  for (size_t i : {size_t(0), size_t(2)}) {
    const json& j = layers[i];
    if (!j.is_object() || j.value("op", std::string()) != op::kConv2d || !j.contains("name") ||
        !j["name"].is_string())
      return IntNetwork();
    ConvShape s;
    s.in = j.value("in", 0), s.out = j.value("out", 0), s.kernel = j.value("kernel", 0);
    s.stride = j.value("stride", 1), s.padding = j.value("padding", 0);
    if (s.in < 1 || s.out < 1 || s.kernel < 1 || s.stride != 1 || 2 * s.padding != s.kernel - 1)
      return IntNetwork();
    const std::string name = j["name"].get<std::string>();
    const int64_t k = s.kernel;
    const std::vector<float> w = f.floats(name + ".weight", {s.out, s.in, k, k});
    const std::vector<float> b = f.floats(name + ".bias", {s.out});
    try {
      convs.push_back(i == 0
                          ? quantize_conv(w.data(), b.data(), s, false, true, feature_bits, kHyperHiddenBits)
                          : quantize_conv(w.data(), b.data(), s, false, false, kHyperHiddenBits,
                                          ChannelContext::kLrpOutBits));
    } catch (const Error&) {
      return IntNetwork();  // weights or biases too large for these fraction bits: the float net runs
    }
    names.push_back(name + " (integer)");
  }
  return IntNetwork::from_layers(std::move(convs), std::move(names));
}

}  // namespace

ChannelContext::ChannelContext() = default;
ChannelContext::ChannelContext(ChannelContext&&) noexcept = default;
ChannelContext::~ChannelContext() = default;

std::unique_ptr<ChannelContext> ChannelContext::build(const json& e, const ModelFile& f, int latent_channels,
                                                      int tables, int fraction_bits) {
  const std::string where = "entropy.context";
  require(e.is_object(), where + " must be an object");
  require(fraction_bits >= 0 && fraction_bits <= 20, where + ": mean fraction bits outside [0, 20]");
  auto cc = std::make_unique<ChannelContext>();
  cc->channels_ = latent_channels;
  cc->bits_ = fraction_bits;
  // The nets' inputs and features: fewer fraction bits than the means keep them inside 16 bits, which the
  // integer kernels multiply in one piece instead of two (docs/model-format.md).
  cc->feature_bits_ =
      e.contains("feature_bits") ? document_int(e, "feature_bits", where, 0, fraction_bits) : fraction_bits;
  require(e.contains("slices") && e["slices"].is_array() && !e["slices"].empty() && e["slices"].size() <= 64,
          where + ": 'slices' must be a list of 1 to 64 channel counts");
  int total = 0;
  for (const json& s : e["slices"]) {
    require(s.is_number_integer() && s.get<int64_t>() >= 1 && s.get<int64_t>() <= latent_channels,
            where + ": every slice must have 1 to " + std::to_string(latent_channels) + " channels");
    cc->slices_.push_back(s.get<int>());
    total += cc->slices_.back();
  }
  require(total == latent_channels, where + ": the slices hold " + std::to_string(total) +
                                        " channels; the latent has " + std::to_string(latent_channels));
  cc->log_scale_ = f.ints("hyper.context.log_scale", {int64_t(tables)});
  for (size_t i = 1; i < cc->log_scale_.size(); ++i)
    require(cc->log_scale_[i] > cc->log_scale_[i - 1], "hyper.context.log_scale must increase");
  // Tables strictly below the last: a log scale above all of them picks the last table.
  cc->table_counter_ = SortedCounter(
      std::vector<int32_t>(cc->log_scale_.begin(), cc->log_scale_.end() - (cc->log_scale_.empty() ? 0 : 1)));

  require(e.contains("embed"), where + ": needs 'embed'");
  cc->embed_ = IntNetwork::build(e["embed"], f, "entropy.context.embed");
  const int E = int_out_channels(cc->embed_, 2 * latent_channels, "entropy.context.embed", cc->embed_halo_);
  cc->features_ = E;
  const size_t K = cc->slices_.size();
  require(e.contains("param") && e["param"].is_array() && e["param"].size() == K && e.contains("lrp") &&
              e["lrp"].is_array() && e["lrp"].size() == K,
          where + ": needs 'param' and 'lrp', one network per slice");
  int off = 0;
  for (size_t k = 0; k < K; ++k) {
    const int c = cc->slices_[k];
    const std::string pk = "entropy.context.param[" + std::to_string(k) + "]";
    cc->param_.push_back(IntNetwork::build(e["param"][k], f, pk));
    int halo = 0;
    require(int_out_channels(cc->param_.back(), E + off, pk, halo) == 2 * c,
            pk + " must make 2 x the slice's channels (log scale and mean corrections)");
    cc->param_halo_.push_back(halo);
    const std::string lk = "entropy.context.lrp[" + std::to_string(k) + "]";
    cc->lrp_.push_back(std::make_unique<Network>(Network::build(e["lrp"][k], f, lk)));
    require(float_out_channels(*cc->lrp_.back(), E + off + c, lk, halo) == c,
            lk + " must make the slice's channels");
    cc->lrp_halo_.push_back(halo);
    cc->lrp_int_.push_back(quantize_lrp(e["lrp"][k], f, cc->feature_bits_));
    off += c;
  }
  if (std::any_of(cc->lrp_int_.begin(), cc->lrp_int_.end(),
                  [](const IntNetwork& n) { return n.layers().empty(); }))
    cc->lrp_int_.clear();
  return cc;
}

Tensor ChannelContext::run(const Hyperprior::Conditional& hyper, int h, int w, const SliceCoder& code,
                           int band_rows, Timing* timing, bool want_latent, bool lrp) const {
  using Clock = std::chrono::steady_clock;
  Clock::time_point mark = timing ? Clock::now() : Clock::time_point();
  // Adds the time since the last lap to one of timing's figures (nothing without timing).
  const auto lap = [&](double Timing::*figure) {
    if (!timing) return;
    const Clock::time_point now = Clock::now();
    timing->*figure += std::chrono::duration<double, std::milli>(now - mark).count();
    mark = now;
  };
  const int M = channels_, E = features_;
  const size_t plane = size_t(h) * w, n = size_t(M) * plane;
  require(hyper.index.size() == n && hyper.mean.size() == n, "context model: conditional size mismatch");
  for (int32_t t : hyper.index)
    require(t >= 0 && size_t(t) < log_scale_.size(), "context model: table index out of range");
  const int rows = band_rows > 0 ? band_rows : int(std::clamp<int64_t>(kBandValues / (E + M) / w, 1, h));
  // Means and log scales have bits_ fraction bits; the nets read them, and the decoded slices, with
  // feature_bits_ (rounded half up, as every integer layer rounds).
  const int drop = bits_ - feature_bits_;
  // The features, then each slice's decoded values as it is decoded: the first E + off channels are what
  // slice k's network reads (channel-major, so a prefix of the buffer). The buffer grows by a slice at a time
  // inside its reserved room: on a latent of one band (768x512 and below) the nets read it, and its float
  // copy for LRP, in place instead of copying their whole input for every slice.
  const bool whole = rows >= h;
  IntTensor ctx;
  ctx.h = h, ctx.w = w, ctx.c = E;
  ctx.data.reserve(size_t(E + M) * plane);
  ctx.data.resize(size_t(E) * plane);
  Tensor fctx;  // whole: ctx as LRP reads it, in float
  const float feature_unit = std::ldexp(1.0f, -feature_bits_);
  // Appends channels [from, ctx.c) of ctx to fctx.
  const auto to_float = [&](int from) {
    if (!whole || !want_latent || !lrp || integer_lrp()) return;
    fctx.h = h, fctx.w = w, fctx.c = ctx.c;
    if (fctx.data.capacity() < size_t(E + M) * plane) fctx.data.reserve(size_t(E + M) * plane);
    fctx.data.resize(size_t(ctx.c) * plane);
    copy_rows(ctx.channel(from), plane, ctx.c - from, 0, h, w, fctx.channel(from),
              [&](int32_t v) { return float(v) * feature_unit; });
  };
  for_bands(h, rows, embed_halo_, [&](int r0, int r1, int lo, int hi) {
    IntTensor x0(2 * M, hi - lo, w);
    const size_t bn = size_t(M) * x0.plane();
    copy_rows(hyper.index.data(), plane, M, lo, hi, w, x0.data.data(),
              [&](int32_t t) { return int32_t(rounding_shift(log_scale_[size_t(t)], drop)); });
    copy_rows(hyper.mean.data(), plane, M, lo, hi, w, x0.data.data() + bn,
              [&](int32_t m) { return int32_t(rounding_shift(m, drop)); });
    lap(&Timing::copy_ms);
    const IntTensor f = embed_.forward(std::move(x0));
    lap(&Timing::embed_ms);
    require(f.c == E && f.h == hi - lo && f.w == w, "context model: features of the wrong shape");
    for (int ch = 0; ch < E; ++ch)
      std::copy_n(f.channel(ch) + size_t(r0 - lo) * w, size_t(r1 - r0) * w, ctx.channel(ch) + size_t(r0) * w);
    lap(&Timing::copy_ms);
  });
  to_float(0);
  lap(&Timing::copy_ms);

  Tensor latent = want_latent ? Tensor(M, h, w) : Tensor();
  const float unit = std::ldexp(1.0f, -bits_);
  const int64_t one = int64_t(1) << bits_;
  const size_t S = slices_.size();
  std::vector<int> first(S + 1, 0);  // slice k's first channel
  for (size_t k = 0; k < S; ++k) first[k + 1] = first[k] + slices_[k];
  // Slice k's tables, means and symbols in [k % 2]: with two threads, slice k's LRP reads its pair while the
  // next slice's param net writes the other (below).
  std::vector<int32_t> table[2], mean[2], sym[2];
  // Timing laps only where the stages run one after another (`timed`).
  const auto lap_if = [&](bool timed, double Timing::*figure) {
    if (timed) lap(figure);
  };

  // Slice k's tables and means: its param net over the features and the slices decoded before it.
  const auto params = [&](size_t k, bool timed) {
    const int c = slices_[k], off = first[k];
    const size_t m = size_t(c) * plane, base = size_t(off) * plane;
    std::vector<int32_t>&tb = table[k % 2], &mn = mean[k % 2];
    tb.resize(m), mn.resize(m);
    for_bands(h, rows, param_halo_[k], [&](int r0, int r1, int lo, int hi) {
      IntTensor in;
      if (!whole) {
        in = IntTensor(E + off, hi - lo, w);
        copy_rows(ctx.data.data(), plane, E + off, lo, hi, w, in.data.data(), [](int32_t v) { return v; });
      }
      lap_if(timed, &Timing::copy_ms);
      const IntTensor d = param_[k].forward(whole ? ctx : in);
      lap_if(timed, &Timing::param_ms);
      const size_t bp = d.plane(), skip = size_t(r0 - lo) * w, count = size_t(r1 - r0) * w;
      parallel_for(c, [&](int c0, int c1) {
        for (int ch = c0; ch < c1; ++ch) {
          const int32_t* dl = d.data.data() + size_t(ch) * bp + skip;      // log scale corrections
          const int32_t* dm = d.data.data() + size_t(c + ch) * bp + skip;  // mean corrections
          const size_t at = size_t(ch) * plane + size_t(r0) * w;
          for (size_t j = 0; j < count; ++j) {
            mn[at + j] = saturate(int64_t(hyper.mean[base + at + j]) + dm[j]);
            const int64_t ls = int64_t(log_scale_[size_t(hyper.index[base + at + j])]) + dl[j];
            tb[at + j] = int32_t(table_counter_.count(ls));
          }
        }
      });
      lap_if(timed, &Timing::pick_ms);
    });
  };

  // Slice k's decoded latent: symbol + mean, plus its LRP net's correction over the features and the slices
  // decoded up to it.
  const float lrp_unit = std::ldexp(1.0f, -ChannelContext::kLrpOutBits);
  const auto apply_lrp = [&](size_t k, bool timed) {
    const int c = slices_[k], off = first[k];
    const std::vector<int32_t>&sy = sym[k % 2], &mn = mean[k % 2];
    for_bands(h, rows, lrp_halo_[k], [&](int r0, int r1, int lo, int hi) {
      // The band's LRP output r (c x (hi - lo) x w, integer or float) into the latent's rows [r0, r1).
      const auto apply = [&](const auto* r, size_t bp, float scale) {
        const size_t skip = size_t(r0 - lo) * w, count = size_t(r1 - r0) * w;
        parallel_for(c, [&](int c0, int c1) {
          for (int ch = c0; ch < c1; ++ch) {
            const size_t at = size_t(ch) * plane + size_t(r0) * w;
            const auto* rr = r + size_t(ch) * bp + skip;
            float* out = latent.channel(off + ch) + size_t(r0) * w;
            for (size_t j = 0; j < count; ++j)
              out[j] = float(sy[at + j]) + float(mn[at + j]) * unit + 0.5f * std::tanh(float(rr[j]) * scale);
          }
        });
      };
      if (integer_lrp()) {
        IntTensor lin;
        if (!whole) {
          lin = IntTensor(E + off + c, hi - lo, w);
          copy_rows(ctx.data.data(), plane, E + off + c, lo, hi, w, lin.data.data(),
                    [](int32_t v) { return v; });
        }
        lap_if(timed, &Timing::copy_ms);
        const IntTensor r = lrp_int_[k].forward(whole ? ctx : lin);
        apply(r.data.data(), r.plane(), lrp_unit);
      } else {
        Tensor lin;
        if (!whole) {
          lin = Tensor(E + off + c, hi - lo, w);
          copy_rows(ctx.data.data(), plane, E + off + c, lo, hi, w, lin.data.data(),
                    [&](int32_t v) { return float(v) * feature_unit; });
        }
        lap_if(timed, &Timing::copy_ms);
        const Tensor r = lrp_[k]->forward(whole ? fctx : lin);
        apply(r.data.data(), r.plane(), 1.0f);
      }
      lap_if(timed, &Timing::lrp_ms);
    });
  };

  // On two threads and a latent of one band (768x512 and below), slice k's LRP and slice k+1's param net run
  // side by side, one on each thread (the nested loops inside run on their own thread): both read the
  // features and the slices decoded up to k, and each net alone is too small at this size to keep two
  // threads busy. Each gives the same numbers either way; with more threads, each net takes them all.
  const bool side_by_side = whole && want_latent && lrp && num_threads() == 2;
  params(0, true);
  for (size_t k = 0; k < S; ++k) {
    const int c = slices_[k], off = first[k];
    const size_t m = size_t(c) * plane;
    std::vector<int32_t>&sy = sym[k % 2], &mn = mean[k % 2];
    sy.assign(m, 0);
    code(off, c, table[k % 2].data(), mn.data(), sy.data());
    lap(&Timing::code_ms);
    ctx.c += c;
    ctx.data.resize(size_t(ctx.c) * plane);  // inside the reserved room: no reallocation
    int32_t* decoded = ctx.channel(E + off);
    parallel_for(c, [&](int c0, int c1) {
      for (size_t j = size_t(c0) * plane; j < size_t(c1) * plane; ++j)
        decoded[j] = saturate(rounding_shift(int64_t(sy[j]) * one + mn[j], drop));
    });
    to_float(E + off);
    lap(&Timing::feed_ms);
    const bool next = k + 1 < S;

    if (!want_latent) {
      if (next) params(k + 1, true);
      continue;
    }
    if (!lrp) {  // the coded latent: symbol + mean
      parallel_for(c, [&](int c0, int c1) {
        for (int ch = c0; ch < c1; ++ch) {
          const size_t at = size_t(ch) * plane;
          float* out = latent.channel(off + ch);
          for (size_t j = 0; j < plane; ++j) out[j] = float(sy[at + j]) + float(mn[at + j]) * unit;
        }
      });
      lap(&Timing::feed_ms);
      if (next) params(k + 1, true);
      continue;
    }
    if (side_by_side && next) {
      parallel_for(2, [&](int t0, int t1) {
        for (int t = t0; t < t1; ++t) t == 0 ? apply_lrp(k, false) : params(k + 1, false);
      });
      lap(&Timing::side_by_side_ms);
      continue;
    }
    apply_lrp(k, true);
    if (next) params(k + 1, true);
  }
  return latent;
}

}  // namespace aec
