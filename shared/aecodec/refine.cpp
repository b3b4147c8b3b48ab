#include "aecodec/refine.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>

#include "aecodec/backprop.h"
#include "aecodec/entropy.h"
#include "aecodec/error.h"
#include "aecodec/image.h"
#include "aecodec/latent_codec.h"

namespace aec {

namespace {

using nlohmann::json;

// The exact ideal code length of every integer symbol near each table's range, so the loss of a candidate
// rounding and of one element's change are table lookups (values further out ask the coder).
class TableBits {
 public:
  TableBits(const CdfTables& tables) : tables_(&tables) {
    constexpr int kMargin = 24;
    lo_.resize(tables.count());
    bits_.resize(tables.count());
    for (size_t t = 0; t < tables.count(); ++t) {
      const int n = int(tables.cdf[t].size()) - 2;
      lo_[t] = tables.offset[t] - kMargin;
      std::vector<int32_t> v(size_t(n + 2 * kMargin));
      for (size_t i = 0; i < v.size(); ++i) v[i] = lo_[t] + int32_t(i);
      bits_[t].resize(v.size());
      // One table at a time: entropy_bits checks every table it is given on each call.
      CdfTables one;
      one.precision = tables.precision;
      one.cdf = {tables.cdf[t]};
      one.offset = {tables.offset[t]};
      const int32_t zero = 0;
      for (size_t i = 0; i < v.size(); ++i) bits_[t][i] = float(entropy_bits(&v[i], &zero, 1, one));
    }
  }
  float bits(int32_t table, int32_t value) const {
    const int64_t i = int64_t(value) - lo_[size_t(table)];
    const std::vector<float>& b = bits_[size_t(table)];
    if (i >= 0 && i < int64_t(b.size())) return b[size_t(i)];
    return float(entropy_bits(&value, &table, 1, *tables_));
  }

 private:
  const CdfTables* tables_;
  std::vector<int32_t> lo_;
  std::vector<std::vector<float>> bits_;
};

uint64_t splitmix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// A uniform in (0, 1) that depends only on (seed, step, element): the same at any thread count.
inline double uniform(uint64_t seed, uint64_t step, uint64_t i) {
  const uint64_t r = splitmix(seed ^ splitmix(step * 0x100000001B3ull + i));
  return (double(r >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

uint64_t image_seed(const Tensor& x) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (float v : x.data) {
    uint32_t u;
    std::memcpy(&u, &v, 4);
    h = (h ^ u) * 0x100000001b3ull;
  }
  return h;
}

// Everything the search needs about one image and model: the latent in symbol space v, where the decoder's
// input is base + step * v and the coder codes round(v) with table `table`.
struct Problem {
  const Model* model = nullptr;
  const Tensor* image = nullptr;
  int width = 0, height = 0;  // the region that counts (the original image inside the padding)
  double lambda = 0;
  double pixels = 0;  // width * height
  int c = 0, h = 0, w = 0;
  ConditionalRate cr;  // the latent codec's symbol space and rate model, side information fixed
  std::unique_ptr<TableBits> table_bits;
  GradNetwork net;

  Tensor decoder_input(const std::vector<float>& v) const {
    Tensor t(c, h, w);
    for (size_t i = 0; i < v.size(); ++i) t.data[i] = cr.base[i] + cr.step[i] * v[i];
    return t;
  }
  // Distortion term of the loss for a decoded tensor, and (when grad) its gradient w.r.t. the decoder output.
  double distortion(const Tensor& out, Tensor* grad) const {
    const double k = lambda * 255.0 * 255.0 / (3.0 * pixels);
    if (grad) *grad = Tensor(out.c, out.h, out.w);
    double sum = 0;
    for (int ch = 0; ch < 3; ++ch)
      for (int yy = 0; yy < height; ++yy) {
        const float* o = &out.data[(size_t(ch) * out.h + yy) * out.w];
        const float* x = &image->data[(size_t(ch) * image->h + yy) * image->w];
        float* g = grad ? &grad->data[(size_t(ch) * out.h + yy) * out.w] : nullptr;
        for (int xx = 0; xx < width; ++xx) {
          const float v = std::min(1.0f, std::max(0.0f, o[xx]));
          const double d = double(v) - x[xx];
          sum += d * d;
          // The decoded image is clamped to [0, 1]: no gradient where the clamp holds.
          if (g) g[xx] = (o[xx] > 0.0f && o[xx] < 1.0f) ? float(2.0 * k * d) : 0.0f;
        }
      }
    return k * sum;
  }
  // Exact loss of integer symbols: the coder's ideal bits and the real decoder's output.
  double exact_loss(const std::vector<int32_t>& q) const {
    std::vector<float> v(q.begin(), q.end());
    const Tensor out = model->synthesis(decoder_input(v));
    double bits = cr.side_bits;
    for (size_t i = 0; i < q.size(); ++i) bits += table_bits->bits(cr.table[i], q[i]);
    return bits / pixels + distortion(out, nullptr);
  }
  // Rate of a continuous symbol-space value and its derivative, in bits.
  double rate(size_t i, double v, double& d) const {
    return cr.bits(i, v, d, [this](int32_t t, int32_t k) { return double(table_bits->bits(t, k)); });
  }
};

std::vector<int32_t> round_all(const std::vector<float>& v) {
  std::vector<int32_t> q(v.size());
  const float lim = float(kMaxEscape / 2);
  for (size_t i = 0; i < v.size(); ++i) {
    const float r = std::nearbyint(v[i]);
    q[i] = std::isfinite(r) ? int32_t(std::max(-lim, std::min(lim, r))) : 0;
  }
  return q;
}

// d(loss)/d(decoder input) and the distortion at v (symbols or soft values).
Tensor distortion_gradient(Problem& p, const std::vector<float>& v, double* dist) {
  const Tensor out = p.net.forward(p.decoder_input(v));
  Tensor g;
  const double d = p.distortion(out, &g);
  if (dist) *dist = d;
  return p.net.backward(g);
}

// Per-channel Gauss-Newton curvature of the distortion term, d^2 D / d v^2 per element averaged over each
// channel: Hutchinson's estimator delta * J^T J delta, with J delta by a finite difference of the decoder.
std::vector<double> channel_curvature(Problem& p, const std::vector<int32_t>& q, uint64_t seed) {
  std::vector<float> v(q.begin(), q.end()), vp = v;
  constexpr float kEps = 0.05f;
  std::vector<float> sign(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    sign[i] = uniform(seed, 1u << 30, i) < 0.5 ? -1.0f : 1.0f;
    vp[i] += kEps * sign[i];
  }
  const Tensor o0 = p.net.forward(p.decoder_input(v));
  const Tensor o1 = p.net.forward(p.decoder_input(vp));
  // J delta restricted to the counted region, scaled as the distortion term's Hessian: 2k (J delta).
  const double k = p.lambda * 255.0 * 255.0 / (3.0 * p.pixels);
  Tensor jd(o1.c, o1.h, o1.w);
  for (int ch = 0; ch < 3; ++ch)
    for (int yy = 0; yy < p.height; ++yy)
      for (int xx = 0; xx < p.width; ++xx) {
        const size_t i = (size_t(ch) * o1.h + yy) * o1.w + xx;
        jd.data[i] = float(2.0 * k * (o1.data[i] - o0.data[i]) / kEps);
      }
  const Tensor back = p.net.backward(jd);  // J^T (H_out J delta), in decoder-input units
  std::vector<double> curv(size_t(p.c), 0.0);
  const size_t plane = size_t(p.h) * p.w;
  for (int ch = 0; ch < p.c; ++ch) {
    double s = 0;
    for (size_t j = 0; j < plane; ++j) {
      const size_t i = size_t(ch) * plane + j;
      s += double(sign[i]) * back.data[i] * p.cr.step[i] * p.cr.step[i];
    }
    curv[size_t(ch)] = std::max(0.0, s / double(plane));
  }
  return curv;
}

// Rate-distortion-optimised rounding: for each element, the other of the two integers around its
// continuous value (or one step toward the mean, when it sits on an integer) is taken where the exact rate
// saving beats the distortion it costs, modelled by the gradient and the channel's curvature. Moves are
// checked against the exact loss, and halved until they improve it.
// `tick(units)` reports progress (a pass is three units) and may cancel between its decodes.
void rdo_round(Problem& p, const std::vector<float>& v, std::vector<int32_t>& q, double& loss, uint64_t seed,
               const std::function<void(double)>& tick) {
  const std::vector<double> curv = channel_curvature(p, q, seed);
  tick(1);
  std::vector<float> qf(q.begin(), q.end());
  const Tensor g = distortion_gradient(p, qf, nullptr);
  tick(1);
  const size_t plane = size_t(p.h) * p.w;
  struct Move {
    float gain;
    uint32_t i;
    int32_t to;
  };
  std::vector<Move> moves;
  for (size_t i = 0; i < q.size(); ++i) {
    int32_t to;
    if (v[i] > float(q[i]) + 1e-6f)
      to = q[i] + 1;
    else if (v[i] < float(q[i]) - 1e-6f)
      to = q[i] - 1;
    else if (q[i] != 0)
      to = q[i] > 0 ? q[i] - 1 : q[i] + 1;
    else
      continue;
    const double delta = double(to - q[i]);
    const double dr =
        (double(p.table_bits->bits(p.cr.table[i], to)) - p.table_bits->bits(p.cr.table[i], q[i])) / p.pixels;
    const double dd = double(g.data[i]) * p.cr.step[i] * delta + 0.5 * curv[i / plane] * delta * delta;
    if (dr + dd < 0) moves.push_back({float(dr + dd), uint32_t(i), to});
  }
  std::sort(moves.begin(), moves.end(),
            [](const Move& a, const Move& b) { return a.gain < b.gain || (a.gain == b.gain && a.i < b.i); });
  size_t take = moves.size();
  while (take > 0) {
    std::vector<int32_t> cand = q;
    for (size_t m = 0; m < take; ++m) cand[moves[m].i] = moves[m].to;
    const double l = p.exact_loss(cand);
    tick(0);  // a chance to cancel between the checks
    if (l < loss) {
      q = std::move(cand);
      loss = l;
      break;
    }
    take /= 2;
    if (take < 16) break;
  }
  tick(1);
}

}  // namespace

EffortPlan effort_plan(int effort) {
  require(effort >= 1 && effort <= kMaxEffort, "effort must be 0 to " + std::to_string(kMaxEffort));
  // Measured on validation photos (docs/effort.md): the loss falls with the number of steps; a step size
  // much above 0.02 overshoots in short searches, and the longest search is the published setting.
  struct Level {
    int steps;
    float lr;
    int rdo;
  };
  static const Level kLadder[kMaxEffort + 1] = {
      {0, 0, 0},      {0, 0, 1},      {0, 0, 2},      {10, 0.015f, 1},  {20, 0.015f, 1},
      {35, 0.02f, 1}, {50, 0.02f, 1}, {80, 0.02f, 1}, {150, 0.012f, 2}, {300, 0.005f, 2}};
  EffortPlan p;
  p.sga_steps = kLadder[effort].steps;
  p.lr = kLadder[effort].lr;
  p.rdo_passes = kLadder[effort].rdo;
  return p;
}

std::string refine_refusal(const Model& model) {
  const json& doc = model.file().meta;
  const json* train = doc.contains("training") && doc["training"].is_object() ? &doc["training"] : nullptr;
  if (!train || !train->contains("lambda") || !(*train)["lambda"].is_number() ||
      !((*train)["lambda"].get<double>() > 0))
    return "it gives no training.lambda, the rate-distortion trade-off that refinement optimises for";
  const std::string& arch = model.info().arch;
  if (arch != "factorized" && arch != "hyperprior" && arch != "channel")
    return "a " + arch +
           " model has no rate model to refine against: effort > 0 needs a factorized, hyperprior or "
           "channel codec";
  return "";
}

RefineResult refine_latent(const Model& model, const Tensor& image, const Tensor& y,
                           const std::vector<int32_t>* qz, const RefineOptions& options) {
  const EffortPlan plan = options.plan ? *options.plan : effort_plan(options.effort);
  const ModelInfo& info = model.info();
  const json& doc = model.file().meta;
  const std::string why = refine_refusal(model);
  require(why.empty(), "model '" + info.name + "' cannot be refined (effort > 0): " + why);

  // The search keeps the decoder's activations for its backward pass (about 600 bytes per pixel with the
  // narrow models): bounded here rather than by running out of memory.
  require(double(image.w) * image.h <= double(kMaxRefinePixels),
          "encoder effort > 0 is limited to " + std::to_string(kMaxRefinePixels / 1000000) +
              " megapixels (its search holds the decoder's activations); use effort 0 for larger images");

  Problem p;
  p.model = &model;
  p.image = &image;
  p.lambda = doc["training"]["lambda"].get<double>();
  p.width = options.width > 0 ? std::min(options.width, image.w) : image.w;
  p.height = options.height > 0 ? std::min(options.height, image.h) : image.h;
  p.pixels = double(p.width) * p.height;
  p.c = y.c, p.h = y.h, p.w = y.w;
  p.net = GradNetwork::build(doc["decoder"], model.file(), "decoder");
  const size_t n = y.size();
  p.cr = model.latent_codec().conditional_rate(y.c, y.h, y.w, qz ? *qz : std::vector<int32_t>{}, &y);
  p.table_bits = std::make_unique<TableBits>(*p.cr.tables);

  const uint64_t seed = image_seed(image);
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = (y.data[i] - p.cr.base[i]) / p.cr.step[i];
  const std::vector<int32_t> q0 = round_all(v);

  RefineResult r;
  r.loss_before = p.exact_loss(q0);
  const double total = double(plan.sga_steps) + 3.0 * plan.rdo_passes + 1.0;
  double done = 1;
  const std::function<void(double)> tick = [&](double units) {
    done += units;
    if (options.progress && !options.progress(std::min(1.0, done / total))) throw Cancelled();
  };
  tick(0);

  // Stochastic Gumbel annealing: each element is a relaxed choice between its floor and ceiling, whose
  // logits favour the nearer one more as the temperature falls; Adam on v through the relaxation.
  if (plan.sga_steps > 0) {
    std::vector<float> m(n, 0.0f), s2(n, 0.0f), soft(n), dsoft(n);
    constexpr double kB1 = 0.9, kB2 = 0.999, kAdamEps = 1e-8;
    const double decay = plan.sga_steps > 1 ? std::log(plan.tau_end / plan.tau0) / (plan.sga_steps - 1) : 0.0;
    for (int t = 0; t < plan.sga_steps; ++t) {
      const double tau = plan.tau0 * std::exp(decay * t);
      for (size_t i = 0; i < n; ++i) {
        const double f = std::floor(v[i]);
        constexpr double kE = 1e-5;
        const double df = std::min(1.0 - kE, std::max(kE, double(v[i]) - f)), dc = 1.0 - df;
        const double u = uniform(seed, uint64_t(t), i);
        const double noise = std::log(u) - std::log1p(-u);  // Gumbel(ceil) - Gumbel(floor): logistic
        // logits -atanh(d)/tau for each side; the relaxed sample at temperature tau picks ceil with weight
        // wc.
        const double z = ((std::atanh(df) - std::atanh(dc)) / tau + noise) / tau;
        const double wc = 1.0 / (1.0 + std::exp(-z));
        soft[i] = float(f + wc);
        const double dz = (1.0 / (1.0 - df * df) + 1.0 / (1.0 - dc * dc)) / (tau * tau);
        dsoft[i] = float(wc * (1.0 - wc) * dz);
      }
      const Tensor gd = distortion_gradient(p, soft, nullptr);
      const double b1t = 1.0 - std::pow(kB1, t + 1), b2t = 1.0 - std::pow(kB2, t + 1);
      for (size_t i = 0; i < n; ++i) {
        double dr;
        p.rate(i, soft[i], dr);
        const double g = (dr / p.pixels + double(gd.data[i]) * p.cr.step[i]) * dsoft[i];
        m[i] = float(kB1 * m[i] + (1 - kB1) * g);
        s2[i] = float(kB2 * s2[i] + (1 - kB2) * g * g);
        v[i] -= float(plan.lr * (m[i] / b1t) / (std::sqrt(s2[i] / b2t) + kAdamEps));
      }
      tick(1);
    }
  }

  std::vector<int32_t> q = round_all(v);
  double loss = plan.sga_steps > 0 ? p.exact_loss(q) : r.loss_before;
  for (int pass = 0; pass < plan.rdo_passes; ++pass) {
    rdo_round(p, v, q, loss, seed + uint64_t(pass), tick);
  }
  // Never worse than the plain encoder on the loss it optimises.
  if (!(loss < r.loss_before)) q = q0, loss = r.loss_before;
  r.loss_after = loss;
  r.latent = Tensor(y.c, y.h, y.w);
  for (size_t i = 0; i < n; ++i) r.latent.data[i] = p.cr.base[i] + p.cr.step[i] * float(q[i]);
  return r;
}

}  // namespace aec
