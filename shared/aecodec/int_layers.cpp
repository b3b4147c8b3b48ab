#include "aecodec/int_layers.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <mutex>
#include <string>

#include "aecodec/error.h"
#include "aecodec/int_gemm.h"
#include "aecodec/parallel.h"

namespace aec {

namespace {

constexpr int64_t kSaturate = (int64_t(1) << 31) - 1;

int64_t out_size(int in, const ConvShape& s, bool transposed) {
  return transposed ? int64_t(in - 1) * s.stride - 2 * s.padding + s.kernel + s.output_padding
                    : (int64_t(in) + 2 * s.padding - s.kernel) / s.stride + 1;
}

// The taps of every output coordinate along one axis, as (kernel index, input index) pairs, only those that
// land inside the input: conv reads input o * stride - padding + t; a transposed conv's output o receives
// input i from tap t when i * stride - padding + t = o. Stored as offsets into flat arrays.
struct Taps {
  std::vector<int> begin, kernel, input;  // taps of output o: [begin[o], begin[o + 1])
  Taps(int out, int in, const ConvShape& s, bool transposed) {
    for (int o = 0; o < out; ++o) {
      begin.push_back(int(kernel.size()));
      for (int t = 0; t < s.kernel; ++t) {
        int i = o * s.stride - s.padding + t;
        if (transposed) {
          const int n = o + s.padding - t;
          if (n < 0 || n % s.stride) continue;
          i = n / s.stride;
        }
        if (i < 0 || i >= in) continue;
        kernel.push_back(t);
        input.push_back(i);
      }
    }
    begin.push_back(int(kernel.size()));
  }
};

constexpr int kBlock = 4;  // output channels computed together: one input load feeds four accumulators

// a_c += sum over the n non-zero inputs (channel ch[i], value x[i]) of w[4 ch[i] + c] * x[i], for c < 4: the
// loop every output runs. A function of its own, with local sums, so that the compiler keeps the four sums in
// registers (in the caller's lambda they were spilled to the stack).
void dot4(const int32_t* ch, const int32_t* x, int n, const int32_t* w, int64_t& a0, int64_t& a1, int64_t& a2,
          int64_t& a3) {
  int64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (int i = 0; i < n; ++i) {
    const int64_t v = x[i];
    const int32_t* wc = w + size_t(ch[i]) * kBlock;
    s0 += wc[0] * v, s1 += wc[1] * v, s2 += wc[2] * v, s3 += wc[3] * v;
  }
  a0 += s0, a1 += s1, a2 += s2, a3 += s3;
}

int32_t finish(int64_t acc, int shift, bool relu) {
  const int64_t v = rounding_shift(acc, shift);
  return int32_t(std::clamp(v, relu ? 0 : -kSaturate, kSaturate));
}

}  // namespace

void IntConv::validate(const std::string& name) const {
  const ConvShape& s = shape;
  const std::string where = "integer layer '" + name + "': ";
  require(
      s.in >= 1 && s.out >= 1 && s.kernel >= 1 && s.stride >= 1 && s.padding >= 0 && s.output_padding >= 0,
      where + "bad shape");
  require(int64_t(s.in) * s.kernel * s.kernel <= kMaxIntFanIn,
          where + "fan-in " + std::to_string(int64_t(s.in) * s.kernel * s.kernel) + " over " +
              std::to_string(kMaxIntFanIn) + " (the int64 accumulator bound)");
  require(weight.size() == size_t(s.in) * s.out * s.kernel * s.kernel && bias.size() == size_t(s.out) &&
              shift.size() == size_t(s.out),
          where + "tensor sizes do not match the shape");
  // (messages built only on failure: a model has about a million weights)
  for (int32_t v : weight)
    if (v < -kMaxIntWeight || v > kMaxIntWeight)
      throw Error(where + "weight " + std::to_string(v) + " beyond +-" + std::to_string(kMaxIntWeight));
  for (int32_t v : shift)
    if (v < 0 || v > kMaxIntShift)
      throw Error(where + "shift " + std::to_string(v) + " outside [0, " + std::to_string(kMaxIntShift) +
                  "]");
}

IntTensor int_conv_reference(const IntTensor& x, const IntConv& l) {
  const ConvShape& s = l.shape;
  require(x.c == s.in, "integer conv: input has " + std::to_string(x.c) + " channels, layer expects " +
                           std::to_string(s.in));
  const int64_t oh64 = out_size(x.h, s, l.transposed), ow64 = out_size(x.w, s, l.transposed);
  require(oh64 > 0 && ow64 > 0 && oh64 <= 65536 && ow64 <= 65536, "integer conv: bad output size");
  const int oh = int(oh64), ow = int(ow64), k = s.kernel, in = s.in;
  const Taps ty(oh, x.h, s, l.transposed), tx(ow, x.w, s, l.transposed);
  // Gather form for both kinds: every output pixel sums weight * input over its taps and input channels. Each
  // input pixel's channels are listed once as (channel, value) pairs, zeros left out: after a ReLU most
  // inputs are zero, and an exact integer sum does not depend on which zero terms it skips. The weights are
  // laid out as [channel block][ky][kx][in][4] (zero past the last output channel).
  const size_t plane = x.plane();
  std::vector<int32_t> nz_begin(plane + 1), nz_ch, nz_val;
  for (size_t i = 0; i < plane; ++i) {
    nz_begin[i] = int32_t(nz_ch.size());
    for (int ci = 0; ci < in; ++ci)
      if (const int32_t v = x.data[size_t(ci) * plane + i]) nz_ch.push_back(ci), nz_val.push_back(v);
  }
  nz_begin[plane] = int32_t(nz_ch.size());
  const int blocks = (s.out + kBlock - 1) / kBlock;
  std::vector<int32_t> wp(size_t(blocks) * k * k * in * kBlock, 0);
  for (int co = 0; co < s.out; ++co)
    for (int ci = 0; ci < in; ++ci)
      for (int t = 0; t < k * k; ++t)
        wp[((size_t(co / kBlock) * k * k + t) * in + ci) * kBlock + co % kBlock] =
            l.transposed ? l.weight[(size_t(ci) * s.out + co) * k * k + t]
                         : l.weight[(size_t(co) * in + ci) * k * k + t];

  IntTensor y(s.out, oh, ow);
  // Threads take (channel block, output row) pairs; each output is computed whole by one thread, so the work
  // split cannot change a result (integer sums are exact anyway).
  parallel_for(blocks * oh, [&](int j0, int j1) {
    for (int j = j0; j < j1; ++j) {
      const int b = j / oh, oy = j % oh, c0 = b * kBlock, nc = std::min(kBlock, s.out - c0);
      for (int ox = 0; ox < ow; ++ox) {
        int64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        for (int u = ty.begin[oy]; u < ty.begin[oy + 1]; ++u)
          for (int v = tx.begin[ox]; v < tx.begin[ox + 1]; ++v) {
            const size_t p = size_t(ty.input[u]) * x.w + tx.input[v];
            const int32_t* w =
                wp.data() + ((size_t(b) * k * k + size_t(ty.kernel[u]) * k + tx.kernel[v]) * in) * kBlock;
            dot4(nz_ch.data() + nz_begin[p], nz_val.data() + nz_begin[p], nz_begin[p + 1] - nz_begin[p], w,
                 a0, a1, a2, a3);
          }
        const int64_t a[kBlock] = {a0, a1, a2, a3};
        for (int c = 0; c < nc; ++c)
          y.channel(c0 + c)[size_t(oy) * ow + ox] =
              finish(a[c] + l.bias[size_t(c0 + c)], l.shift[size_t(c0 + c)], l.relu);
      }
    }
  });
  return y;
}

namespace {

// ---- The SIMD path ----
//
// Each input x (int32) is split into P pieces of b bits: x = sum_q piece_q * 2^(b q), pieces q < P - 1 the
// unsigned low bits ([0, 2^b)), the top piece floor(x / 2^(b (P-1))) signed; every piece must fit int16. A
// kernel multiplies int16 weights by one piece's int16 values, pairs of products summed into int32 lanes
// (pmaddwd and its kin), and widens a lane to int64 (scaled by 2^(b q)) at the end of each run of pairs.
// With X_q = max |piece_q|, a lane's run sums at most X_q * (the sum of |weight| over the run for that output
// channel); runs are cut so that this stays <= 2^31 - 1 for every channel of the block, so no int32 lane can
// overflow. A single pair is at most 2 max|w| X_q <= 2^31 - 1 (the plan checks it), which also excludes
// pmaddwd's one wrapping case, -32768 * -32768 twice. The int64 sums are exact too: every partial sum is
// bounded by fan_in * max|w| * sum_q X_q 2^(b q) + |bias|, which the plan keeps within 2^62 (so adding the
// rounding term, at most 2^61, still fits). Integer sums in any order are then the reference's sum exactly.

constexpr int kMaxPieces = 4;

struct Plan {
  int pieces = 0, bits = 0;
  int64_t xmax[kMaxPieces] = {};  // max |piece_q|
};

int64_t floor_shift(int64_t v, int s) {
  return s == 0 ? v : rounding_shift(v - (int64_t(1) << (s - 1)), s);
}

// The split of inputs in [lo, hi] under weights of magnitude <= wmax with the fewest pieces (each piece is a
// pass over all the weights) and, among those, the smallest largest piece (the longest runs); pieces = 0
// when none is exact.
Plan plan_pieces(int64_t lo, int64_t hi, int64_t wmax, int64_t fan_in, int64_t bias_max) {
  const auto largest = [](const Plan& x) { return *std::max_element(x.xmax, x.xmax + x.pieces); };
  for (int p = 1; p <= kMaxPieces; ++p) {
    Plan best;
    for (int b = (p == 1 ? 16 : 1); b <= (p == 1 ? 16 : 15); ++b) {
      const int top = b * (p - 1);
      if (top > 30) break;
      const int64_t tlo = floor_shift(lo, top), thi = floor_shift(hi, top);
      if (tlo < INT16_MIN || thi > INT16_MAX) continue;
      Plan c;
      c.pieces = p, c.bits = b;
      double place_sum = 0;
      bool ok = true;
      for (int q = 0; q < p; ++q) {
        c.xmax[q] = q < p - 1 ? (int64_t(1) << b) - 1 : std::max(-tlo, thi);
        ok = ok && 2 * wmax * c.xmax[q] <= INT32_MAX;
        place_sum += std::ldexp(double(c.xmax[q]), b * q);
      }
      if (!ok || double(fan_in) * double(wmax) * place_sum + double(bias_max) > std::ldexp(1.0, 62)) continue;
      if (!best.pieces || largest(c) < largest(best)) best = c;
    }
    if (best.pieces) return best;
  }
  return Plan{};
}

std::atomic<int> g_int_kernel{int(IntKernel::kAuto)};

const intgemm::Kernel* kernel_for(IntKernel k) {
  switch (k) {
    case IntKernel::kScalar:
      return nullptr;
    case IntKernel::kVec128:
      if (const intgemm::Kernel* r = intgemm::vec128_kernel()) return r;
      break;
    case IntKernel::kAvx2:
      if (const intgemm::Kernel* r = intgemm::avx2_kernel()) return r;
      break;
    case IntKernel::kAvx512Vnni:
      if (const intgemm::Kernel* r = intgemm::avx512_kernel()) return r;
      break;
    default:
      break;
  }
  if (const intgemm::Kernel* r = intgemm::avx512_kernel()) return r;
  if (const intgemm::Kernel* r = intgemm::avx2_kernel()) return r;
  return intgemm::vec128_kernel();
}

const intgemm::Kernel* current_int_kernel() {
  return kernel_for(IntKernel(g_int_kernel.load(std::memory_order_relaxed)));
}

}  // namespace

// What a SIMD kernel needs of a layer's weights that does not depend on the input's values: the weights of
// the input channels it packs (`live`, in order: the channels that are not zero everywhere in the input) as
// the kernel reads them, [block][tap][channel pair][lane][2] (zero past the last channel of either kind), per
// group of kernel blocks, tap and channel pair the sum |w0| + |w1| of each of the group's lanes (what bounds
// a run), and the largest |weight| and |bias|.
struct PackedWeights {
  const intgemm::Kernel* kernel = nullptr;
  uint64_t fingerprint = 0;
  std::vector<int> live;
  bool int16 = true;  // every weight fits int16 (else the layer takes the reference loops)
  int64_t wmax = 0, bias_max = 0;
  int64_t block_stride = 0;
  std::vector<int16_t> wp;
  std::vector<int32_t> pair_abs;  // [group][tap][channel pair][nb x lanes]
};

// A layer's packings, most recent first: one per set of live input channels it met (a model's nets meet one
// or two: the channels a trained ReLU never opens are the same on every image).
struct IntConvPanel {
  std::mutex mu;
  std::vector<std::shared_ptr<const PackedWeights>> packed;
};

namespace {

constexpr size_t kKeptPackings = 4;

// A cheap fingerprint of the weights and biases: a layer whose weights were changed after its first call is
// packed again. It runs on every call, so it is sums of 32-bit lanes that the compiler vectorises (a sum, and
// a sum of each value xor its position): any change of one value changes the first, and changes that cancel
// in the first move the second.
uint64_t fingerprint_of(const IntConv& l) {
  const auto sums = [](const std::vector<int32_t>& v, uint32_t& a, uint32_t& b) {
    const uint32_t* p = reinterpret_cast<const uint32_t*>(v.data());
    for (size_t i = 0; i < v.size(); ++i) a += p[i], b += p[i] ^ uint32_t(i);
  };
  uint32_t a = 0, b = 0, c = 0, d = 0;
  sums(l.weight, a, b);
  sums(l.bias, c, d);
  return ((uint64_t(a) << 32 | b) ^ (uint64_t(c) << 32 | d) * 0xD6E8FEB86659FD93ull) + l.weight.size();
}

// The output channels in groups of the kernel's nb blocks of `lanes` channels (the last group zero-padded).
int channel_groups(int out, const intgemm::Kernel& kr) {
  const int blocks = (out + kr.lanes - 1) / kr.lanes;
  return (blocks + kr.nb - 1) / kr.nb;
}

std::shared_ptr<const PackedWeights> pack_weights(const IntConv& l, const intgemm::Kernel& kr, uint64_t fp,
                                                  const std::vector<int>& live) {
  auto p = std::make_shared<PackedWeights>();
  p->kernel = &kr, p->fingerprint = fp, p->live = live;
  for (int32_t v : l.weight) {
    if (v < INT16_MIN || v > INT16_MAX)
      p->int16 = false;  // only a hand-made layer: the exporter writes 15 bits
    p->wmax = std::max<int64_t>(p->wmax, v < 0 ? -int64_t(v) : v);
  }
  for (int32_t v : l.bias) p->bias_max = std::max<int64_t>(p->bias_max, v < 0 ? -int64_t(v) : v);
  if (!p->int16) return p;
  const ConvShape& s = l.shape;
  const int kk = s.kernel * s.kernel, in = int(live.size()), cpairs = (in + 1) / 2, lanes = kr.lanes,
            gw = kr.nb * lanes;
  const int groups = channel_groups(s.out, kr);
  p->block_stride = int64_t(kk) * cpairs * 2 * lanes;
  if (in == 0) return p;  // a zero input: int_conv_simd gives the biases without the weights
  p->wp.assign(size_t(groups) * kr.nb * size_t(p->block_stride), 0);
  for (int co = 0; co < s.out; ++co) {
    int16_t* block = p->wp.data() + size_t(co / lanes) * p->block_stride + size_t(co % lanes) * 2;
    for (int j = 0; j < in; ++j) {
      const size_t ci = size_t(live[size_t(j)]);
      for (int t = 0; t < kk; ++t)
        block[(size_t(t) * cpairs + j / 2) * 2 * lanes + j % 2] =
            int16_t(l.transposed ? l.weight[(ci * s.out + co) * kk + t]
                                 : l.weight[(co * size_t(s.in) + ci) * kk + t]);
    }
  }
  p->pair_abs.assign(size_t(groups) * kk * cpairs * gw, 0);
  for (int g = 0; g < groups; ++g)
    for (int t = 0; t < kk; ++t)
      for (int cp = 0; cp < cpairs; ++cp) {
        int32_t* dst = p->pair_abs.data() + ((size_t(g) * kk + t) * cpairs + cp) * gw;
        for (int i = 0; i < gw; ++i) {
          const int16_t* pr = p->wp.data() + (size_t(g) * kr.nb + i / lanes) * p->block_stride +
                              (size_t(t) * cpairs + cp) * 2 * lanes + (i % lanes) * 2;
          dst[i] = std::abs(int32_t(pr[0])) + std::abs(int32_t(pr[1]));
        }
      }
  return p;
}

// The layer's weights of the live channels packed for kernel kr: a kept packing when one matches, else packed
// now and kept.
std::shared_ptr<const PackedWeights> packed_for(const IntConv& l, const intgemm::Kernel& kr,
                                                const std::vector<int>& live) {
  const uint64_t fp = fingerprint_of(l);
  std::shared_ptr<IntConvPanel> holder = std::atomic_load(&l.panel);
  if (!holder) {  // the first call: two threads may race to create it, one wins
    auto fresh = std::make_shared<IntConvPanel>();
    if (std::atomic_compare_exchange_strong(&l.panel, &holder, fresh)) holder = fresh;
  }
  IntConvPanel& panel = *holder;
  const auto matches = [&](const PackedWeights& p) {
    return p.kernel == &kr && p.fingerprint == fp && p.live == live;
  };
  {
    std::lock_guard<std::mutex> lock(panel.mu);
    for (const auto& p : panel.packed)
      if (matches(*p)) return p;
  }
  std::shared_ptr<const PackedWeights> p = pack_weights(l, kr, fp, live);
  std::lock_guard<std::mutex> lock(panel.mu);
  // Packings of other weights (the layer was changed) are dropped; other channel sets are kept.
  panel.packed.erase(std::remove_if(panel.packed.begin(), panel.packed.end(),
                                    [&](const auto& q) { return q->kernel != &kr || q->fingerprint != fp; }),
                     panel.packed.end());
  panel.packed.insert(panel.packed.begin(), p);
  if (panel.packed.size() > kKeptPackings) panel.packed.pop_back();
  return p;
}

// Each input channel's smallest and largest value, and the channels that are not zero everywhere (the
// others add nothing to any sum, exactly, so the kernels skip them: a ReLU that a trained net never opens
// leaves whole channels at zero, most of the context model's features on a photo).
struct InputRange {
  std::vector<int32_t> lo, hi;
  std::vector<int> live;
  int32_t min = 0, max = 0;
};

InputRange input_range(const IntTensor& x, const intgemm::Kernel& kr) {
  InputRange r;
  r.lo.assign(size_t(x.c), 0), r.hi.assign(size_t(x.c), 0);
  const size_t plane = x.plane();
  const auto scan = [&](int c0, int c1) {
    for (int c = c0; c < c1; ++c) kr.range(x.channel(c), plane, r.lo[size_t(c)], r.hi[size_t(c)]);
  };
  // On the threads only where that pays for waking them: a context net's input (a few hundred thousand
  // values) scans faster on one.
  if (x.size() >= (size_t(1) << 21))
    parallel_for(x.c, scan);
  else
    scan(0, x.c);
  for (int c = 0; c < x.c; ++c) {
    if (r.lo[size_t(c)] != 0 || r.hi[size_t(c)] != 0) r.live.push_back(c);
    r.min = std::min(r.min, r.lo[size_t(c)]), r.max = std::max(r.max, r.hi[size_t(c)]);
  }
  return r;
}

// The plan for this layer and input, or pieces = 0 for the reference loops.
Plan plan_for(const InputRange& r, const IntConv& l, const PackedWeights& pw) {
  if (!pw.int16) return Plan{};
  const int64_t fan_in = int64_t(l.shape.in) * l.shape.kernel * l.shape.kernel;
  return plan_pieces(r.min, r.max, pw.wmax, fan_in, pw.bias_max);
}

// One axis of the gather: for every output coordinate, all the taps of its class as (kernel index, input
// index in the zero-padded input). Unlike Taps, taps that land in the padding are kept: every output of a
// class then has the same tap list, the inputs shifted by istep per class period, so the kernel can run
// several outputs at once, and the padding's zeros add nothing.
struct GatherAxis {
  int period = 1, istep = 1, pad = 0, padded = 0;
  std::vector<int> begin, kernel, input;
  GatherAxis(int out, int in, const ConvShape& s, bool transposed)
      : period(transposed ? s.stride : 1), istep(transposed ? 1 : s.stride) {
    int lo = 0, hi = in - 1;
    for (int o = 0; o < out; ++o) {
      begin.push_back(int(kernel.size()));
      for (int t = 0; t < s.kernel; ++t) {
        int i = o * s.stride - s.padding + t;
        if (transposed) {
          const int n = o + s.padding - t;
          if (n % s.stride) continue;
          i = n / s.stride;  // exact, also for negative n
        }
        kernel.push_back(t);
        input.push_back(i);
        lo = std::min(lo, i), hi = std::max(hi, i);
      }
    }
    begin.push_back(int(kernel.size()));
    pad = -lo, padded = hi - lo + 1;
    for (int& i : input) i += pad;
  }
};

// The SIMD path over the live input channels (pw.live; r.live is the same list).
IntTensor int_conv_simd(const IntTensor& x, const IntConv& l, const intgemm::Kernel& kr,
                        const PackedWeights& pw, const Plan& plan, const InputRange& r) {
  const ConvShape& s = l.shape;
  const int64_t oh64 = out_size(x.h, s, l.transposed), ow64 = out_size(x.w, s, l.transposed);
  require(oh64 > 0 && ow64 > 0 && oh64 <= 65536 && ow64 <= 65536, "integer conv: bad output size");
  const int oh = int(oh64), ow = int(ow64), k = s.kernel, kk = k * k, in = int(pw.live.size());
  if (in == 0) {  // a zero input: every output is its bias, shifted
    IntTensor y(s.out, oh, ow);
    for (int co = 0; co < s.out; ++co)
      std::fill_n(y.channel(co), y.plane(), finish(l.bias[size_t(co)], l.shift[size_t(co)], l.relu));
    return y;
  }
  const GatherAxis ay(oh, x.h, s, l.transposed), ax(ow, x.w, s, l.transposed);
  const int cpairs = (in + 1) / 2, c2 = 2 * cpairs, lanes = kr.lanes, gw = kr.nb * lanes;
  const int groups = channel_groups(s.out, kr);
  const auto used_in = [&](int g) { return std::min(gw, s.out - g * gw); };  // group g's output channels

  const int64_t block_stride = pw.block_stride;
  const std::vector<int16_t>& wp = pw.wp;

  // The input's pieces, each zero-padded and pixel-major with the channels innermost.
  const size_t piece_size = size_t(ay.padded) * ax.padded * c2;
  std::vector<int16_t> xp(size_t(plan.pieces) * piece_size, 0);
  const uint32_t low_mask = (uint32_t(1) << plan.bits) - 1;
  const int top = plan.bits * (plan.pieces - 1);
  // Row by row (on the threads), so that the row being written (channels innermost) stays in the L1 cache.
  parallel_for(x.h, [&](int y0, int y1) {
    for (int iy = y0; iy < y1; ++iy)
      for (int ci = 0; ci < in; ++ci) {
        const int32_t* src = x.channel(pw.live[size_t(ci)]) + size_t(iy) * x.w;
        const size_t at0 = (size_t(iy + ay.pad) * ax.padded + size_t(ax.pad)) * c2 + size_t(ci);
        if (plan.pieces == 1) {  // the usual case: the input fits 16 bits as it is
          int16_t* dst = xp.data() + at0;
          for (int ix = 0; ix < x.w; ++ix) dst[size_t(ix) * c2] = int16_t(src[ix]);
          continue;
        }
        for (int ix = 0; ix < x.w; ++ix) {
          const int32_t v = src[ix];
          const size_t at = at0 + size_t(ix) * c2;
          for (int q = 0; q + 1 < plan.pieces; ++q)
            xp[q * piece_size + at] = int16_t((uint32_t(v) >> (plan.bits * q)) & low_mask);
          xp[(plan.pieces - 1) * piece_size + at] = int16_t(floor_shift(v, top));
        }
      }
  });

  // The taps of output (oy, ox) in the order the kernel walks them (channel pairs innermost within a tap):
  // offsets of the first output's input pixel and of the tap's weights.
  auto output_taps = [&](int oy, int ox, std::vector<int64_t>& tx, std::vector<int64_t>& tw) {
    tx.clear(), tw.clear();
    for (int u = ay.begin[oy]; u < ay.begin[oy + 1]; ++u)
      for (int v = ax.begin[ox]; v < ax.begin[ox + 1]; ++v) {
        tx.push_back((int64_t(ay.input[u]) * ax.padded + ax.input[v]) * c2);
        tw.push_back((int64_t(ay.kernel[u]) * k + ax.kernel[v]) * cpairs * 2 * lanes);
      }
  };
  // The int32 runs for every channel group, output class (y, x) and piece (all outputs of a class share
  // their taps): a run ends before the pair that would take some lane's bound past 2^31 - 1, the bound being
  // the sum over the run's pairs of (|w0| + |w1|) x the larger of the pair's two largest |piece_q|. The top
  // piece's largest values are the channels' own (inputs differ by channel: a feature map's channels span
  // orders of magnitude), the lower pieces' 2^bits - 1.
  std::vector<int64_t> pair_max(size_t(plan.pieces) * cpairs);
  for (int q = 0; q < plan.pieces; ++q)
    for (int cp = 0; cp < cpairs; ++cp) {
      int64_t m = 0;
      for (int j = 2 * cp; j < std::min(2 * cp + 2, in); ++j) {
        const size_t ci = size_t(pw.live[size_t(j)]);
        m = std::max(m, q + 1 < plan.pieces
                            ? plan.xmax[q]
                            : std::max(-floor_shift(r.lo[ci], top), floor_shift(r.hi[ci], top)));
      }
      pair_max[size_t(q) * cpairs + cp] = m;
    }
  const int ncy = std::min(ay.period, oh), ncx = std::min(ax.period, ow);
  auto runs_at = [&](int g, int cy, int cx, int q) {
    return ((size_t(g) * ncy + cy) * ncx + cx) * plan.pieces + q;
  };
  std::vector<std::vector<int>> runs(size_t(groups) * ncy * ncx * plan.pieces);
  {
    // The bounds in doubles: integers below 2^53 (a sum stays below 2^31 + 2^17 * 2^31), so exact, and the
    // lane loops vectorise (int64 products and compares do not on baseline x86-64).
    const double limit = double(INT32_MAX);
    const int64_t tap_panel = int64_t(cpairs) * 2 * lanes;  // a tap's weights in a block's panel
    std::vector<int64_t> tx, tw;
    std::vector<double> sum(static_cast<size_t>(gw));
    for (int g = 0; g < groups; ++g) {
      const int used = used_in(g);
      for (int cy = 0; cy < ncy; ++cy)
        for (int cx = 0; cx < ncx; ++cx) {
          output_taps(cy, cx, tx, tw);
          for (int q = 0; q < plan.pieces; ++q) {
            std::vector<int>& rl = runs[runs_at(g, cy, cx, q)];
            const int64_t* pm = pair_max.data() + size_t(q) * cpairs;
            std::fill(sum.begin(), sum.end(), 0.0);
            int len = 0;
            for (int64_t t : tw)
              for (int cp = 0; cp < cpairs; ++cp) {
                const int32_t* pair =
                    pw.pair_abs.data() + ((size_t(g) * kk + size_t(t / tap_panel)) * cpairs + cp) * gw;
                const double m = double(pm[cp]);
                bool over = false;
                for (int i = 0; i < used; ++i) over |= sum[size_t(i)] + double(pair[i]) * m > limit;
                if (over) rl.push_back(len), len = 0, std::fill(sum.begin(), sum.end(), 0.0);
                for (int i = 0; i < used; ++i) sum[size_t(i)] += double(pair[i]) * m;
                ++len;
              }
            if (len) rl.push_back(len);
          }
        }
    }
  }

  IntTensor y(s.out, oh, ow);
  // Threads take (channel group, output row) pairs; each output is computed whole by one thread, in an order
  // that does not depend on the split (and exact integer sums would not depend on it anyway).
  // Each block's sums land in its outputs' places in a row of sums per channel, and each channel's row is
  // finished by the kernel's loop: contiguous loads and stores, the same shift and bias along it.
  parallel_for(groups * oh, [&](int j0, int j1) {
    std::vector<int64_t> tap_x, tap_w, acc(size_t(gw) * kr.np), row(size_t(ow) * gw);
    for (int job = j0; job < j1; ++job) {
      const int g = job / oh, oy = job % oh;
      const int used = used_in(g);
      for (int r = 0; r < ncx; ++r)
        for (int ox0 = r; ox0 < ow; ox0 += ax.period * kr.np) {
          const int np = std::min(kr.np, (ow - 1 - ox0) / ax.period + 1);
          output_taps(oy, ox0, tap_x, tap_w);
          std::fill(acc.begin(), acc.end(), 0);
          intgemm::BlockArgs a;
          a.tap_x = tap_x.data(), a.tap_w = tap_w.data(), a.taps = int(tap_x.size());
          a.px_step = int64_t(ax.istep) * c2, a.np = np, a.cpairs = cpairs;
          a.w = wp.data() + size_t(g) * kr.nb * block_stride, a.block_stride = block_stride;
          a.out = acc.data();
          for (int q = 0; q < plan.pieces; ++q) {
            const std::vector<int>& rl = runs[runs_at(g, oy % ay.period, r, q)];
            a.x = xp.data() + q * piece_size, a.shift = plan.bits * q;
            a.runs = rl.data(), a.nruns = int(rl.size());
            kr.block(a);
          }
          for (int j = 0; j < np; ++j) {
            const int64_t* from = acc.data() + size_t(j) * gw;
            int64_t* to = row.data() + size_t(ox0 + j * ax.period);
            for (int c = 0; c < used; ++c) to[size_t(c) * ow] = from[c];
          }
        }
      for (int c = 0; c < used; ++c) {
        const int co = g * gw + c;
        kr.finish(row.data() + size_t(c) * ow, size_t(ow), l.bias[size_t(co)], l.shift[size_t(co)], l.relu,
                  kSaturate, y.channel(co) + size_t(oy) * ow);
      }
    }
  });
  return y;
}

}  // namespace

void set_int_kernel(IntKernel kernel) {
  g_int_kernel.store(int(kernel), std::memory_order_relaxed);
}

const char* int_kernel_name() {
  const intgemm::Kernel* k = current_int_kernel();
  return k ? k->name : "scalar";
}

int int_conv_pieces(const IntTensor& x, const IntConv& l) {
  const intgemm::Kernel* k = current_int_kernel();
  if (!k) return 0;
  const InputRange r = input_range(x, *k);
  return plan_for(r, l, *packed_for(l, *k, r.live)).pieces;
}

IntTensor int_conv(const IntTensor& x, const IntConv& l) {
  require(x.c == l.shape.in, "integer conv: input has " + std::to_string(x.c) + " channels, layer expects " +
                                 std::to_string(l.shape.in));
  if (const intgemm::Kernel* k = current_int_kernel()) {
    const InputRange r = input_range(x, *k);
    const std::shared_ptr<const PackedWeights> pw = packed_for(l, *k, r.live);
    const Plan plan = plan_for(r, l, *pw);
    if (plan.pieces) return int_conv_simd(x, l, *k, *pw, plan, r);
  }
  return int_conv_reference(x, l);
}

IntConv quantize_conv(const float* weight, const float* bias, const ConvShape& s, bool transposed, bool relu,
                      int in_bits, int out_bits, int weight_bits) {
  require(weight_bits >= 2 && weight_bits <= 16, "quantize_conv: weight_bits outside [2, 16]");
  IntConv l;
  l.shape = s;
  l.transposed = transposed;
  l.relu = relu;
  const int kk = s.kernel * s.kernel;
  const size_t n = size_t(s.in) * s.out * kk;
  l.weight.resize(n);
  l.bias.resize(size_t(s.out));
  l.shift.resize(size_t(s.out));
  // Index of weight (o, i, t) in the layout.
  auto at = [&](int o, int i, int t) {
    return transposed ? (size_t(i) * s.out + o) * kk + t : (size_t(o) * s.in + i) * kk + t;
  };
  const double wmax = std::ldexp(1.0, weight_bits) - 1;
  for (int o = 0; o < s.out; ++o) {
    double m = 0;
    for (int i = 0; i < s.in; ++i)
      for (int t = 0; t < kk; ++t) m = std::max(m, std::fabs(double(weight[at(o, i, t)])));
    const double b = bias ? double(bias[o]) : 0.0;
    require(std::isfinite(m) && std::isfinite(b), "quantize_conv: non-finite weights");
    // The largest f with m * 2^f <= wmax and |b| * 2^(in_bits + f) <= 2^30, within the shift range.
    int f = kMaxIntShift + out_bits - in_bits;
    if (m > 0) f = std::min(f, int(std::floor(std::log2(wmax / m))));
    if (b != 0) f = std::min(f, int(std::floor(std::log2(std::ldexp(1.0, 30) / std::fabs(b)))) - in_bits);
    while (m * std::ldexp(1.0, f) > wmax || std::fabs(b) * std::ldexp(1.0, in_bits + f) > std::ldexp(1.0, 30))
      --f;  // guards log2's last-bit rounding
    const int shift = in_bits + f - out_bits;
    require(shift >= 0, "quantize_conv: output channel " + std::to_string(o) +
                            " has weights or bias too large for " + std::to_string(out_bits) +
                            " output fraction bits");
    l.shift[size_t(o)] = shift;
    for (int i = 0; i < s.in; ++i)
      for (int t = 0; t < kk; ++t)
        l.weight[at(o, i, t)] = int32_t(std::nearbyint(std::ldexp(double(weight[at(o, i, t)]), f)));
    l.bias[size_t(o)] = int32_t(std::nearbyint(std::ldexp(b, in_bits + f)));
  }
  l.validate("quantize_conv");
  return l;
}

}  // namespace aec
