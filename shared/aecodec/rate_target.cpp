#include "aecodec/rate_target.h"

#include <algorithm>
#include <cstdio>
#include <functional>

#include "aecodec/error.h"
#include "aecodec/metrics.h"
#include "aecodec/quality.h"

namespace aec {

namespace {

// Qualities in tenths (Q 1.0 .. 100.0): ten bisection steps, finer than any difference in bytes worth a
// trial.
constexpr int kStep = 10;

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

// Bisects codes in [lo, hi] (multiples of kStep) for the boundary of `ok`, assumed to hold at one end:
// `want_high` = true looks for the highest code where ok holds (size budgets), false for the lowest (PSNR).
// found = false when `ok` fails at the end where it must hold.
TargetResult bisect(const QualityCodec& codec, const Image& image, const EncodeOptions& options,
                    bool want_high, const std::function<bool(const EncodeResult&, double&)>& ok,
                    bool& found) {
  require(codec.variable_rate(), "model '" + codec.name() +
                                     "' is single-rate: a size or PSNR target needs a variable-rate model "
                                     "(its quality is what the search moves)");
  TargetResult best;
  found = false;
  auto trial = [&](int code) {
    EncodeOptions o = options;
    o.quality = code / 100.0;
    TargetResult t;
    t.encoded = codec.encode(image, o);
    ++best.trials;
    const bool good = ok(t.encoded, t.psnr);
    if (good) {
      const bool better = !found || (want_high ? t.encoded.quality > best.encoded.quality
                                               : t.encoded.quality < best.encoded.quality);
      if (better) {
        const int n = best.trials;
        best = std::move(t);
        best.trials = n;
        found = true;
      }
    }
    return good;
  };
  int lo = kMinQualityCode / kStep, hi = kMaxQualityCode / kStep;  // in steps
  // The end that must hold first: the lowest quality for a size budget, the highest for a PSNR.
  if (!trial((want_high ? lo : hi) * kStep)) return best;
  if (trial((want_high ? hi : lo) * kStep)) return best;  // the other end holds too
  // Invariant: ok at the `good` end, not at the other.
  int good = want_high ? lo : hi, bad = want_high ? hi : lo;
  while (std::abs(good - bad) > 1) {
    const int mid = (good + bad) / 2;
    (trial(mid * kStep) ? good : bad) = mid;
  }
  return best;
}

}  // namespace

TargetResult encode_to_size(const QualityCodec& codec, const Image& image, uint64_t max_bytes,
                            const EncodeOptions& options) {
  uint64_t smallest = UINT64_MAX;
  auto fits = [&](const EncodeResult& e, double&) {
    smallest = std::min<uint64_t>(smallest, e.bytes.size());
    return e.bytes.size() <= max_bytes;
  };
  bool found = false;
  TargetResult r = bisect(codec, image, options, true, fits, found);
  require(found, "cannot fit the image in " + std::to_string(max_bytes) + " bytes with model '" +
                     codec.name() + "': its smallest file, at quality 1, has " + std::to_string(smallest) +
                     " bytes");
  return r;
}

TargetResult encode_to_psnr(const QualityCodec& codec, const Image& image, double psnr_db,
                            const EncodeOptions& options) {
  require(psnr_db > 0 && psnr_db < 200, "target PSNR must be between 0 and 200 dB");
  double best_psnr = -1;
  auto reaches = [&](const EncodeResult& e, double& out) {
    const DecodeResult d = codec.decode(e.bytes.data(), e.bytes.size());
    out = psnr(d.image, image);
    best_psnr = std::max(best_psnr, out);
    return out >= psnr_db;
  };
  bool found = false;
  TargetResult r = bisect(codec, image, options, false, reaches, found);
  require(found, "model '" + codec.name() + "' cannot reach " + fmt("%.2f", psnr_db) +
                     " dB on this image: at quality 100 it reaches " + fmt("%.2f", best_psnr) + " dB");
  return r;
}

TargetResult encode_to_size(const Model& model, const Image& image, uint64_t max_bytes,
                            const EncodeOptions& options) {
  return encode_to_size(QualityCodec::borrowing(model), image, max_bytes, options);
}

TargetResult encode_to_psnr(const Model& model, const Image& image, double psnr_db,
                            const EncodeOptions& options) {
  return encode_to_psnr(QualityCodec::borrowing(model), image, psnr_db, options);
}

}  // namespace aec
