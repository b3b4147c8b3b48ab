#include "aecodec/layers.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "aecodec/error.h"
#include "aecodec/gemm.h"
#include "aecodec/pool.h"

namespace aec {

// ---------------------------------------------------------------------------------------------------------
// Reference path.

namespace {
// Output pixels per im2col tile: bounds the column buffer to in*k*k*kTile floats per thread.
constexpr int kTile = 512;
}  // namespace

Tensor conv2d_reference(const Tensor& x, const float* weight, const float* bias, const ConvShape& s) {
  require(x.c == s.in,
          "conv2d: input has " + std::to_string(x.c) + " channels, layer expects " + std::to_string(s.in));
  const int k = s.kernel;
  const int oh = (x.h + 2 * s.padding - k) / s.stride + 1, ow = (x.w + 2 * s.padding - k) / s.stride + 1;
  require(oh > 0 && ow > 0,
          "conv2d: input " + std::to_string(x.w) + "x" + std::to_string(x.h) + " is smaller than the kernel");
  Tensor y(s.out, oh, ow);
  const int kdim = s.in * k * k, npix = oh * ow, tiles = (npix + kTile - 1) / kTile;
  parallel_for(tiles, [&](int t0, int t1) {
    std::vector<float> cols(size_t(kdim) * kTile);
    std::vector<float> out(size_t(s.out) * kTile);
    for (int t = t0; t < t1; ++t) {
      const int p0 = t * kTile, np = std::min(kTile, npix - p0);
      for (int ci = 0; ci < s.in; ++ci) {
        const float* src = x.channel(ci);
        for (int ky = 0; ky < k; ++ky)
          for (int kx = 0; kx < k; ++kx) {
            float* row = cols.data() + size_t((ci * k + ky) * k + kx) * np;
            for (int j = 0; j < np; ++j) {
              const int p = p0 + j, oy = p / ow, ox = p % ow;
              const int iy = oy * s.stride - s.padding + ky, ix = ox * s.stride - s.padding + kx;
              row[j] = (iy >= 0 && iy < x.h && ix >= 0 && ix < x.w) ? src[iy * x.w + ix] : 0.0f;
            }
          }
      }
      gemm_reference(s.out, np, kdim, weight, kdim, cols.data(), np, out.data(), np, false);
      for (int co = 0; co < s.out; ++co) {
        const float b = bias ? bias[co] : 0.0f;
        float* dst = y.channel(co) + p0;
        const float* o = out.data() + size_t(co) * np;
        for (int j = 0; j < np; ++j) dst[j] = o[j] + b;
      }
    }
  });
  return y;
}

Tensor conv_transpose2d_reference(const Tensor& x, const float* weight, const float* bias,
                                  const ConvShape& s) {
  require(x.c == s.in, "conv_transpose2d: input has " + std::to_string(x.c) + " channels, layer expects " +
                           std::to_string(s.in));
  const int k = s.kernel;
  const int oh = (x.h - 1) * s.stride - 2 * s.padding + k + s.output_padding;
  const int ow = (x.w - 1) * s.stride - 2 * s.padding + k + s.output_padding;
  require(oh > 0 && ow > 0, "conv_transpose2d: empty output");
  Tensor y(s.out, oh, ow);
  // Weights as A[(co,ky,kx) x ci] so that cols = A * x gives every tap's contribution; each thread owns a
  // block of output channels and scatters only into them, so no two threads write the same pixel.
  const int kk = k * k, rows = s.out * kk;
  std::vector<float> wt(size_t(rows) * s.in);
  for (int ci = 0; ci < s.in; ++ci)
    for (int co = 0; co < s.out; ++co)
      for (int t = 0; t < kk; ++t)
        wt[size_t(co * kk + t) * s.in + ci] = weight[(size_t(ci) * s.out + co) * kk + t];
  const int npix = x.h * x.w;
  const int co_block = 8, blocks = (s.out + co_block - 1) / co_block;
  parallel_for(blocks, [&](int b0, int b1) {
    std::vector<float> cols(size_t(co_block) * kk * std::min(npix, kTile));
    for (int blk = b0; blk < b1; ++blk) {
      const int c0 = blk * co_block, nc = std::min(co_block, s.out - c0);
      for (int co = c0; co < c0 + nc; ++co) std::fill_n(y.channel(co), y.plane(), bias ? bias[co] : 0.0f);
      for (int p0 = 0; p0 < npix; p0 += kTile) {
        const int np = std::min(kTile, npix - p0);
        gemm_reference(nc * kk, np, s.in, wt.data() + size_t(c0) * kk * s.in, s.in, x.data.data() + p0, npix,
                       cols.data(), np, false);
        for (int co = 0; co < nc; ++co) {
          float* dst = y.channel(c0 + co);
          for (int ky = 0; ky < k; ++ky)
            for (int kx = 0; kx < k; ++kx) {
              const float* row = cols.data() + size_t((co * k + ky) * k + kx) * np;
              for (int j = 0; j < np; ++j) {
                const int p = p0 + j, iy = p / x.w, ix = p % x.w;
                const int oy = iy * s.stride - s.padding + ky, ox = ix * s.stride - s.padding + kx;
                if (oy >= 0 && oy < oh && ox >= 0 && ox < ow) dst[oy * ow + ox] += row[j];
              }
            }
        }
      }
    }
  });
  return y;
}

void gdn_reference(Tensor& x, const float* beta, const float* gamma, bool inverse) {
  const int c = x.c, npix = int(x.plane());
  const int tiles = (npix + kTile - 1) / kTile;
  parallel_for(tiles, [&](int t0, int t1) {
    std::vector<float> sq(size_t(c) * kTile), norm(size_t(c) * kTile);
    for (int t = t0; t < t1; ++t) {
      const int p0 = t * kTile, np = std::min(kTile, npix - p0);
      for (int i = 0; i < c; ++i) {
        const float* src = x.channel(i) + p0;
        for (int j = 0; j < np; ++j) sq[size_t(i) * np + j] = src[j] * src[j];
      }
      gemm_reference(c, np, c, gamma, c, sq.data(), np, norm.data(), np, false);
      for (int i = 0; i < c; ++i) {
        float* dst = x.channel(i) + p0;
        const float* n = norm.data() + size_t(i) * np;
        for (int j = 0; j < np; ++j) {
          const float r = std::sqrt(n[j] + beta[i]);
          dst[j] = inverse ? dst[j] * r : dst[j] / r;
        }
      }
    }
  });
}

// ---------------------------------------------------------------------------------------------------------
// Fast path: packed weights, B gathered from the input (gemm.h: im2col without the buffer), tiles of output
// pixels per thread, GDN optionally run on each conv output tile.

namespace {

int ceil_div(int a, int b) {
  return a >= 0 ? (a + b - 1) / b : -(-a / b);
}

void check_conv_shape(const ConvShape& s) {
  require(s.in > 0 && s.out > 0 && s.kernel > 0 && s.stride > 0 && s.padding >= 0 && s.output_padding >= 0,
          "conv: bad shape");
}

// An output tensor on pooled storage (pool.h): every element is written by the layer.
Tensor pooled_tensor(int c, int h, int w) {
  Tensor t;
  t.c = c, t.h = h, t.w = w;
  t.data = pool_take(size_t(c) * h * w);
  return t;
}

std::vector<float> bias_or_zero(const float* bias, int n) {
  return bias ? std::vector<float>(bias, bias + n) : std::vector<float>(size_t(n), 0.0f);
}

// A thread's scratch: the packing workspace, the tile's C block and, with a GDN epilogue, its norm block.
// Kept per thread (parallel_for's threads live on), so a layer call allocates nothing once the sizes are
// seen.
struct TileScratch {
  GemmWorkspace ws;
  AlignedFloats c, norm;
};

// Runs tile(t, scratch) for t < tiles in parallel, C blocks of rows x cols.
template <class Tile>
void run_tiles(int tiles, int rows, int cols, bool with_norm, const Tile& tile) {
  parallel_for(tiles, [&](int t0, int t1) {
    thread_local TileScratch s;
    s.c.resize(size_t(rows) * cols);
    if (with_norm) s.norm.resize(size_t(rows) * cols);
    for (int t = t0; t < t1; ++t) tile(t, s);
  });
}

// C block (row stride cols, np columns, bias added) -> GDN of it, in place: norm = gamma * c^2 is one more
// GEMM whose B is read from the block itself, while it is still in cache.
void gdn_block(const PreparedGdn& g, const int64_t* taps, float* c, int cols, int np, TileScratch& s) {
  GatherB b;  // one "row" of cols pixels, tap i = channel i
  b.src = c, b.tap = taps, b.width = cols, b.pitch = 0, b.square = true;
  gemm_tile(g.gamma, b, 0, np, s.norm.data(), cols, s.ws);
  for (int i = 0; i < g.channels; ++i)
    sqrt_scale(c + size_t(i) * cols, s.norm.data() + size_t(i) * cols, g.beta[size_t(i)], np, g.inverse);
}

// Offsets of a C block's rows, as GatherB taps (GDN's B is the block's channels).
std::vector<int64_t> row_taps(const PreparedGdn* g, int cols) {
  std::vector<int64_t> t(g ? size_t(g->channels) : 0);
  for (size_t i = 0; i < t.size(); ++i) t[i] = int64_t(i) * cols;
  return t;
}

void check_post(const PreparedGdn* post, int channels, const char* op) {
  require(!post || post->channels == channels, std::string(op) + ": GDN epilogue has " +
                                                   std::to_string(post ? post->channels : 0) +
                                                   " channels, layer makes " + std::to_string(channels));
}

}  // namespace

PreparedConv prepare_conv2d(const float* weight, const float* bias, const ConvShape& s) {
  check_conv_shape(s);
  PreparedConv p;
  p.shape = s, p.transposed = false, p.bias = bias_or_zero(bias, s.out);
  p.phases.resize(1);
  const int kdim = s.in * s.kernel * s.kernel;
  p.phases[0].taps_y = p.phases[0].taps_x = s.kernel;
  p.phases[0].a = pack_a(s.out, kdim, weight, kdim);  // [out x (in, ky, kx)]: PyTorch's layout as it is
  return p;
}

PreparedConv prepare_conv_transpose2d(const float* weight, const float* bias, const ConvShape& s) {
  check_conv_shape(s);
  PreparedConv p;
  p.shape = s, p.transposed = true, p.bias = bias_or_zero(bias, s.out);
  const int st = s.stride, k = s.kernel;
  // Output row oy = st*a + ey gets kernel rows ky = ry + st*t from input rows iy = a + dy - t, with
  // ry = (ey + padding) % st and dy = (ey + padding) / st (from oy = iy*st - padding + ky); same for columns.
  std::vector<float> a;
  for (int ey = 0; ey < st; ++ey)
    for (int ex = 0; ex < st; ++ex) {
      PreparedConv::Phase ph;
      ph.ey = ey, ph.ex = ex;
      const int ry = (ey + s.padding) % st, rx = (ex + s.padding) % st;
      ph.dy = (ey + s.padding) / st, ph.dx = (ex + s.padding) / st;
      ph.taps_y = ry < k ? ceil_div(k - ry, st) : 0;
      ph.taps_x = rx < k ? ceil_div(k - rx, st) : 0;
      const int kdim = s.in * ph.taps_y * ph.taps_x;
      a.assign(size_t(s.out) * kdim, 0.0f);
      for (int co = 0; co < s.out; ++co)
        for (int ci = 0; ci < s.in; ++ci)
          for (int t = 0; t < ph.taps_y; ++t)
            for (int u = 0; u < ph.taps_x; ++u)
              a[size_t(co) * kdim + (size_t(ci) * ph.taps_y + t) * ph.taps_x + u] =
                  weight[((size_t(ci) * s.out + co) * k + ry + st * t) * k + rx + st * u];
      ph.a = pack_a(s.out, kdim, a.data(), kdim);
      p.phases.push_back(std::move(ph));
    }
  return p;
}

Tensor conv2d(const Tensor& x, const PreparedConv& w) {
  return conv2d(x, w, nullptr);
}

namespace {

// The geometry of the source planes that the regular conv of shape s reads a c x h x w input from (no data).
ConvSource source_shape(int c, int h, int w, const ConvShape& s) {
  const int k = s.kernel, st = s.stride, pad = s.padding;
  ConvSource src;
  src.c = c, src.h = h, src.w = w, src.kernel = k, src.stride = st, src.padding = pad;
  src.oh = (h + 2 * pad - k) / st + 1, src.ow = (w + 2 * pad - k) / st + 1;
  require(src.oh > 0 && src.ow > 0,
          "conv2d: input " + std::to_string(w) + "x" + std::to_string(h) + " is smaller than the kernel");
  const int q = (k - 1) / st;
  src.ph = src.oh + q, src.pw = src.ow + q;
  return src;
}

void check_source(const ConvSource& x, const PreparedConv& w) {
  const ConvShape& s = w.shape;
  require(!w.transposed, "conv2d: weights prepared for a transposed conv");
  require(x.c == s.in,
          "conv2d: input has " + std::to_string(x.c) + " channels, layer expects " + std::to_string(s.in));
  require(x.kernel == s.kernel && x.stride == s.stride && x.padding == s.padding,
          "conv2d: source planes laid out for another kernel, stride or padding");
}

// Plane i = (channel, ry, rx) of src: columns b with 0 <= st*b + rx - pad < w hold input columns, the others
// padding; likewise rows.
struct PlaneSpan {
  int ci, ry, rx, lo, hi;
};
PlaneSpan plane_span(const ConvSource& src, int i) {
  const int st = src.stride, pad = src.padding;
  PlaneSpan p;
  p.ci = i / (st * st), p.ry = i / st % st, p.rx = i % st;
  p.lo = std::min(src.pw, std::max(0, ceil_div(pad - p.rx, st)));
  p.hi = std::min(src.pw, std::max(p.lo, ceil_div(src.w + pad - p.rx, st)));
  return p;
}

// The conv's tiles: C = A * B for a block of output pixels, + bias, GDN (post), then store(c, cols, p0, np)
// takes the finished block (row stride cols, np pixels from p0).
template <class Store>
void conv_tiles(const ConvSource& x, const PreparedConv& w, const PreparedGdn* post, const Store& store) {
  const ConvShape& s = w.shape;
  check_post(post, s.out, "conv2d");
  const int k = s.kernel, st = s.stride, pw = x.pw, ow = x.ow;
  const size_t plane = size_t(x.ph) * pw;
  std::vector<int64_t> taps(size_t(s.in) * k * k);
  for (int ci = 0; ci < s.in; ++ci)
    for (int ky = 0; ky < k; ++ky)
      for (int kx = 0; kx < k; ++kx)
        taps[(size_t(ci) * k + ky) * k + kx] =
            int64_t((ci * st + ky % st) * st + kx % st) * int64_t(plane) + (ky / st) * pw + kx / st;
  GatherB g;
  g.src = x.data.data(), g.tap = taps.data(), g.width = ow, g.pitch = pw;

  const PackedA& a = w.phases[0].a;
  const int npix = x.oh * ow, cols = gemm_tile_columns(a, npix, num_threads());
  const std::vector<int64_t> post_taps = row_taps(post, cols);
  run_tiles((npix + cols - 1) / cols, s.out, cols, post != nullptr, [&](int t, TileScratch& sc) {
    const int p0 = t * cols, np = std::min(cols, npix - p0);
    float* c = sc.c.data();
    gemm_tile(a, g, p0, np, c, cols, sc.ws);
    for (int co = 0; co < s.out; ++co) {
      float* cr = c + size_t(co) * cols;
      const float b = w.bias[size_t(co)];
      for (int j = 0; j < np; ++j) cr[j] += b;
    }
    if (post) gdn_block(*post, post_taps.data(), c, cols, np, sc);
    store(c, cols, p0, np);
  });
}

}  // namespace

// Source planes: the zero-padded input split into its st x st phases (plane (ci, ry, rx) holds
// xpad[st*a + ry][st*b + rx]). Tap (ky, kx) of output pixel (oy, ox) is then element (oy + ky/st,
// ox + kx/st) of plane (ci, ky%st, kx%st): a strided conv reads contiguous runs and never needs a bounds
// check, so B's gather is plain copies. (Gathering from x itself, with bounds checks for the panels at the
// border and a deinterleave for stride 2, saves this pass and buffer but measured 3-4% slower overall; a conv
// that feeds another writes its output straight into these planes instead, conv2d_to_source.)
ConvSource conv_source(const Tensor& x, const PreparedConv& w) {
  const ConvShape& s = w.shape;
  require(!w.transposed, "conv2d: weights prepared for a transposed conv");
  require(x.c == s.in,
          "conv2d: input has " + std::to_string(x.c) + " channels, layer expects " + std::to_string(s.in));
  ConvSource src = source_shape(x.c, x.h, x.w, s);
  const int st = s.stride, pad = s.padding, ph = src.ph, pw = src.pw, planes = x.c * st * st;
  const size_t plane = size_t(ph) * pw;
  src.data = pool_take(size_t(planes) * plane);
  parallel_for(planes, [&](int i0, int i1) {
    for (int i = i0; i < i1; ++i) {
      const PlaneSpan p = plane_span(src, i);
      float* dst = src.data.data() + size_t(i) * plane;
      for (int a = 0; a < ph; ++a) {
        float* row = dst + size_t(a) * pw;
        const int iy = st * a + p.ry - pad;
        if (iy < 0 || iy >= x.h) {
          std::fill_n(row, pw, 0.0f);
          continue;
        }
        const float* xr = x.channel(p.ci) + size_t(iy) * x.w + p.rx - pad;
        std::fill_n(row, p.lo, 0.0f);
        if (st == 1)
          std::copy(xr + p.lo, xr + p.hi, row + p.lo);
        else if (st == 2)  // a constant stride: the compiler vectorises the deinterleave
          for (int b = p.lo; b < p.hi; ++b) row[b] = xr[2 * b];
        else
          for (int b = p.lo; b < p.hi; ++b) row[b] = xr[b * st];
        std::fill(row + p.hi, row + pw, 0.0f);
      }
    }
  });
  return src;
}

Tensor conv2d(const Tensor& x, const PreparedConv& w, const PreparedGdn* post) {
  ConvSource src = conv_source(x, w);
  Tensor y = conv2d(src, w, post);
  pool_give(std::move(src.data));
  return y;
}

Tensor conv2d(const ConvSource& x, const PreparedConv& w, const PreparedGdn* post) {
  check_source(x, w);
  Tensor y = pooled_tensor(w.shape.out, x.oh, x.ow);
  conv_tiles(x, w, post, [&](const float* c, int cols, int p0, int np) {
    for (int co = 0; co < y.c; ++co) std::copy_n(c + size_t(co) * cols, np, y.channel(co) + p0);
  });
  return y;
}

ConvSource conv2d_to_source(const ConvSource& x, const PreparedConv& w, const PreparedGdn* post,
                            const PreparedConv& next) {
  check_source(x, w);
  require(!next.transposed && next.shape.in == w.shape.out,
          "conv2d_to_source: the next layer is not a conv reading this one's channels");
  ConvSource y = source_shape(w.shape.out, x.oh, x.ow, next.shape);
  const int st = y.stride, pad = y.padding, ph = y.ph, pw = y.pw, planes = y.c * st * st, ow = x.ow;
  const size_t plane = size_t(ph) * pw;
  y.data = pool_take(size_t(planes) * plane);
  // The padding first (the tiles write every other element)...
  parallel_for(planes, [&](int i0, int i1) {
    for (int i = i0; i < i1; ++i) {
      const PlaneSpan p = plane_span(y, i);
      float* dst = y.data.data() + size_t(i) * plane;
      for (int a = 0; a < ph; ++a) {
        float* row = dst + size_t(a) * pw;
        const int iy = st * a + p.ry - pad;
        if (iy < 0 || iy >= y.h) {
          std::fill_n(row, pw, 0.0f);
          continue;
        }
        std::fill_n(row, p.lo, 0.0f);
        std::fill(row + p.hi, row + pw, 0.0f);
      }
    }
  });
  // ...then each output row run of a tile, split over the planes of its column phases: output pixel
  // (oy, ox) is element ((oy + pad) / st, (ox + pad) / st) of plane (co, (oy + pad) % st, (ox + pad) % st),
  // where that lies inside the planes (the next conv reads no more).
  conv_tiles(x, w, post, [&](const float* c, int cols, int p0, int np) {
    for (int j = 0; j < np;) {
      const int pix = p0 + j, oy = pix / ow, ox0 = pix - oy * ow, len = std::min(np - j, ow - ox0);
      const int a = (oy + pad) / st, ry = (oy + pad) % st;
      if (a < ph)
        for (int rx = 0; rx < st; ++rx) {
          const int ox = ox0 + ((rx - (ox0 + pad) % st) % st + st) % st;  // first with (ox + pad) % st == rx
          const int end = std::min(ox0 + len, pw * st - pad);             // (ox + pad) / st < pw
          if (ox >= end) continue;
          const int n = (end - ox + st - 1) / st;
          for (int co = 0; co < y.c; ++co) {
            float* d =
                y.data.data() + size_t((co * st + ry) * st + rx) * plane + size_t(a) * pw + (ox + pad) / st;
            const float* cr = c + size_t(co) * cols + j + (ox - ox0);
            if (st == 1)
              std::copy_n(cr, n, d);
            else if (st == 2)
              for (int i = 0; i < n; ++i) d[i] = cr[2 * i];
            else
              for (int i = 0; i < n; ++i) d[i] = cr[i * st];
          }
        }
      j += len;
    }
  });
  return y;
}

Tensor conv_transpose2d(const Tensor& x, const PreparedConv& w) {
  return conv_transpose2d(x, w, nullptr);
}

Tensor conv_transpose2d(const Tensor& x, const PreparedConv& w, const PreparedGdn* post) {
  const ConvShape& s = w.shape;
  require(w.transposed, "conv_transpose2d: weights prepared for a regular conv");
  check_post(post, s.out, "conv_transpose2d");
  require(x.c == s.in, "conv_transpose2d: input has " + std::to_string(x.c) + " channels, layer expects " +
                           std::to_string(s.in));
  const int st = s.stride;
  const int oh = (x.h - 1) * st - 2 * s.padding + s.kernel + s.output_padding;
  const int ow = (x.w - 1) * st - 2 * s.padding + s.kernel + s.output_padding;
  require(oh > 0 && ow > 0, "conv_transpose2d: empty output");
  Tensor y = pooled_tensor(s.out, oh, ow);  // every pixel belongs to one phase, which writes it

  // Each phase's output grid and the zero border x needs so that every phase's taps read inside it.
  const int nph = int(w.phases.size());
  std::vector<int> rows(static_cast<size_t>(nph)), cols(static_cast<size_t>(nph));
  int top = 0, left = 0, bottom = x.h, right = x.w;  // padded extent, in x's coordinates
  for (int i = 0; i < nph; ++i) {
    const PreparedConv::Phase& p = w.phases[size_t(i)];
    rows[size_t(i)] = p.ey < oh ? ceil_div(oh - p.ey, st) : 0;
    cols[size_t(i)] = p.ex < ow ? ceil_div(ow - p.ex, st) : 0;
    if (rows[size_t(i)] == 0 || cols[size_t(i)] == 0 || p.taps_y == 0 || p.taps_x == 0) continue;
    top = std::max(top, p.taps_y - 1 - p.dy), left = std::max(left, p.taps_x - 1 - p.dx);
    bottom = std::max(bottom, rows[size_t(i)] + p.dy), right = std::max(right, cols[size_t(i)] + p.dx);
  }
  // x zero-padded once, so that every tap of every phase reads plain memory.
  const int ph = top + bottom, pw = left + right;
  const size_t plane = size_t(ph) * pw;
  std::vector<float> src = pool_take(size_t(s.in) * plane);
  parallel_for(s.in, [&](int c0, int c1) {
    for (int ci = c0; ci < c1; ++ci) {
      float* dst = src.data() + size_t(ci) * plane;
      std::fill_n(dst, size_t(top) * pw, 0.0f);
      for (int iy = 0; iy < x.h; ++iy) {
        float* row = dst + size_t(top + iy) * pw;
        std::fill_n(row, left, 0.0f);
        std::copy_n(x.channel(ci) + size_t(iy) * x.w, x.w, row + left);
        std::fill(row + left + x.w, row + pw, 0.0f);
      }
      std::fill(dst + size_t(top + x.h) * pw, dst + plane, 0.0f);
    }
  });
  std::vector<std::vector<int64_t>> taps(static_cast<size_t>(nph));
  std::vector<GatherB> g(static_cast<size_t>(nph));
  int max_pix = 1;
  for (int i = 0; i < nph; ++i) {
    const PreparedConv::Phase& p = w.phases[size_t(i)];
    std::vector<int64_t>& t = taps[size_t(i)];
    for (int ci = 0; ci < s.in; ++ci)
      for (int ty = 0; ty < p.taps_y; ++ty)
        for (int tx = 0; tx < p.taps_x; ++tx)
          t.push_back(int64_t(ci) * int64_t(plane) + int64_t(p.dy - ty + top) * pw + (p.dx - tx + left));
    g[size_t(i)].src = src.data(), g[size_t(i)].tap = t.data();
    g[size_t(i)].width = std::max(1, cols[size_t(i)]), g[size_t(i)].pitch = pw;
    max_pix = std::max(max_pix, rows[size_t(i)] * cols[size_t(i)]);
  }

  // Work items interleave the phases (item = tile * nph + phase): phases differ in cost (9, 6, 6, 4 taps
  // for a 5x5 stride-2 kernel), so contiguous ranges of items stay balanced across threads.
  const int tile_cols = gemm_tile_columns(w.phases[0].a, max_pix, std::max(1, num_threads() / nph));
  const int tiles = (max_pix + tile_cols - 1) / tile_cols;
  const std::vector<int64_t> post_taps = row_taps(post, tile_cols);
  run_tiles(tiles * nph, s.out, tile_cols, post != nullptr, [&](int item, TileScratch& sc) {
    const int i = item % nph, p0 = item / nph * tile_cols, npix = rows[size_t(i)] * cols[size_t(i)];
    if (p0 >= npix) return;
    const PreparedConv::Phase& p = w.phases[size_t(i)];
    const int np = std::min(tile_cols, npix - p0), pc = cols[size_t(i)];
    float* c = sc.c.data();
    gemm_tile(p.a, g[size_t(i)], p0, np, c, tile_cols, sc.ws);
    for (int co = 0; co < s.out; ++co) {
      float* cr = c + size_t(co) * tile_cols;
      const float b = w.bias[size_t(co)];
      for (int j = 0; j < np; ++j) cr[j] += b;
    }
    if (post) gdn_block(*post, post_taps.data(), c, tile_cols, np, sc);  // a phase tile has every channel
    // Interleave the phase's pixels into y, one run per output row crossed.
    for (int j = 0; j < np;) {
      const int pix = p0 + j, a = pix / pc, b = pix - a * pc, len = std::min(np - j, pc - b);
      const size_t at = size_t(st * a + p.ey) * ow + size_t(st) * b + p.ex;
      for (int co = 0; co < s.out; ++co) {
        float* dst = y.channel(co) + at;
        const float* cr = c + size_t(co) * tile_cols + j;
        for (int r = 0; r < len; ++r) dst[size_t(r) * st] = cr[r];
      }
      j += len;
    }
  });
  pool_give(std::move(src));
  return y;
}

PreparedGdn prepare_gdn(int channels, const float* beta, const float* gamma, bool inverse) {
  PreparedGdn g;
  g.channels = channels, g.inverse = inverse;
  g.beta.assign(beta, beta + channels);
  g.gamma = pack_a(channels, channels, gamma, channels);
  return g;
}

void gdn(Tensor& x, const PreparedGdn& g) {
  require(x.c == g.channels,
          "gdn: input has " + std::to_string(x.c) + " channels, layer expects " + std::to_string(g.channels));
  const int c = x.c, npix = int(x.plane());
  if (npix == 0) return;
  // norm = gamma * x^2 is a 1x1 conv: B is x's channels with the squaring done while packing. A tile reads
  // only its own pixels (all channels) before its epilogue overwrites them, so it runs in place.
  std::vector<int64_t> taps(static_cast<size_t>(c));
  for (int i = 0; i < c; ++i) taps[size_t(i)] = int64_t(i) * npix;
  GatherB b;
  b.src = x.data.data(), b.tap = taps.data(), b.width = npix, b.pitch = 0, b.square = true;
  const int cols = gemm_tile_columns(g.gamma, npix, num_threads());
  run_tiles((npix + cols - 1) / cols, c, cols, false, [&](int t, TileScratch& sc) {
    const int p0 = t * cols, np = std::min(cols, npix - p0);
    float* norm = sc.c.data();
    gemm_tile(g.gamma, b, p0, np, norm, cols, sc.ws);
    for (int i = 0; i < c; ++i)
      sqrt_scale(x.channel(i) + p0, norm + size_t(i) * cols, g.beta[size_t(i)], np, g.inverse);
  });
}

Tensor conv2d(const Tensor& x, const float* weight, const float* bias, const ConvShape& s) {
  return conv2d(x, prepare_conv2d(weight, bias, s));
}

Tensor conv_transpose2d(const Tensor& x, const float* weight, const float* bias, const ConvShape& s) {
  return conv_transpose2d(x, prepare_conv_transpose2d(weight, bias, s));
}

void gdn(Tensor& x, const float* beta, const float* gamma, bool inverse) {
  gdn(x, prepare_gdn(x.c, beta, gamma, inverse));
}

Tensor linear(const Tensor& x, const float* weight, const float* bias, int out) {
  const int in = int(x.size());
  Tensor y(out, 1, 1);
  parallel_for(out, [&](int o0, int o1) {
    for (int o = o0; o < o1; ++o) {
      const float* w = weight + size_t(o) * in;
      double acc = 0;  // long dot products of the fc model: keep the sum accurate
      for (int i = 0; i < in; ++i) acc += double(w[i]) * x.data[i];
      y.data[o] = float(acc) + (bias ? bias[o] : 0.0f);
    }
  });
  return y;
}

void relu(Tensor& x) {
  for (float& v : x.data) v = v > 0 ? v : 0;
}
void leaky_relu(Tensor& x, float slope) {
  for (float& v : x.data) v = v > 0 ? v : v * slope;
}
void sigmoid(Tensor& x) {
  for (float& v : x.data) v = 1.0f / (1.0f + std::exp(-v));
}
void tanh_inplace(Tensor& x) {
  for (float& v : x.data) v = std::tanh(v);
}

}  // namespace aec
