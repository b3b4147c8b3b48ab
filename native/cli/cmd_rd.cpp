// rd: the rate-distortion evaluation. On a folder of images: every quality level of the learned codec (the
// models given with -m, or every model of an architecture or family found on the model path), and JPEG,
// WebP and AVIF at a sweep of qualities, all decoded and scored with the same PSNR / MS-SSIM code; BD-rates
// of every curve against the classic ones; for each cross-resolution family, the cross-decoding paths next to
// plain resampling. Writes CSV, JSON, SVG plots and a markdown summary (rd_report.h).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <regex>
#include <set>

#include "aecodec/codec.h"
#include "aecodec/codec_manifest.h"
#include "aecodec/error.h"
#include "aecodec/metrics.h"
#include "aecodec/quality.h"
#include "aecodec/refine.h"
#include "classic_codecs.h"
#include "commands.h"
#include "encode_options.h"
#include "image_files.h"
#include "model_registry.h"
#include "rd_report.h"

namespace fs = std::filesystem;

namespace aec::cli {

namespace {

using rd::ClassicCodec;

struct RdOptions {
  std::string dir, out, models_dir, family;
  std::vector<std::string> archs = {"factorized", "hyperprior", "channel"};
  // A variable-rate model's levels: these qualities, or (empty) its trained lambdas' qualities.
  std::vector<double> qualities;
  std::vector<std::string> anchors;  // learned curves to compare the others with (--anchor)
  std::vector<std::string> models;
  std::vector<std::string> codecs = {"jpeg", "webp", "avif"};
  std::vector<int> jpeg_q = {10, 22, 34, 46, 59, 71, 83, 95};
  std::vector<int> webp_q = {5, 18, 31, 44, 56, 69, 82, 95};
  std::vector<int> avif_cq = {61, 54, 47, 40, 33, 26, 19, 12};
  std::vector<int> efforts = {0};
  int limit = 0;
  double plot_max_bpp = 0;
  std::string made_by;
  std::string command;  // as typed (or --made-by), for the report
};

struct LoadedModel {
  std::string path;
  std::unique_ptr<Model> model;
};

// "a,b,c", for the report's command line and notes.
std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& x : v) s += (s.empty() ? "" : ",") + x;
  return s;
}
std::string join(const std::vector<int>& v) {
  std::vector<std::string> s;
  for (int x : v) s.push_back(std::to_string(x));
  return join(s);
}

// -m models as given; else every readable model file in --models-dir (or on the model path) of the family
// (--family) or of the architecture (--arch). The same model reached twice is kept once.
std::vector<LoadedModel> find_models(const RdOptions& o, std::vector<std::string>& notes, bool quiet) {
  std::vector<LoadedModel> out;
  std::set<uint64_t> seen;
  auto add = [&](const std::string& path, Model m) {
    if (!seen.insert(m.info().content_hash).second) return;  // not the id: other encoders are other points
    out.push_back({path, std::make_unique<Model>(std::move(m))});
  };
  if (!o.models.empty()) {
    for (const std::string& p : o.models) {
      const std::string manifest = codec_manifest_path(p);
      if (!manifest.empty()) {
        // Its members, found as load_codec finds them.
        for (const CodecMember& c : CodecManifest::read(manifest).members) {
          const std::string file = codec_member_file(manifest, c.model);
          add(file, load_model(file));
        }
      } else {
        add(p, load_model(p));
      }
    }
    return out;
  }
  std::vector<std::string> files;
  if (!o.models_dir.empty()) {
    std::error_code ec;
    require(fs::is_directory(o.models_dir, ec), "--models-dir '" + o.models_dir + "' is not a folder");
    for (const auto& e : fs::directory_iterator(o.models_dir, ec))
      if (e.path().extension() == ".aem") files.push_back(e.path().string());
    std::sort(files.begin(), files.end());
  } else {
    files = installed_model_files();
  }
  std::vector<std::pair<std::string, Model>> loaded;
  for (const std::string& p : files) {
    try {
      loaded.emplace_back(p, Model::load(p));
    } catch (const Error& e) {
      if (!quiet) std::fprintf(stderr, "rd: skipping %s: %s\n", p.c_str(), e.what());
    }
  }
  // A family's members, and the model file that a family built on one names as its high member.
  std::vector<ModelInfo> members;
  for (const auto& [p, m] : loaded)
    if (!o.family.empty() && m.info().family_id == o.family) members.push_back(m.info());
  for (auto& [p, m] : loaded) {
    const auto named_high = [&](const ModelInfo& member) {
      return member.names_as_high(m.info().name, m.info().id);
    };
    const bool keep = o.family.empty() ? std::count(o.archs.begin(), o.archs.end(), m.info().arch) > 0
                                       : m.info().family_id == o.family ||
                                             std::any_of(members.begin(), members.end(), named_high);
    if (keep) add(p, std::move(m));
  }
  if (out.empty()) {
    const std::string what = o.family.empty() ? "arch '" + join(o.archs) + "'" : "family '" + o.family + "'";
    const std::string where = o.models_dir.empty() ? "the model path" : "'" + o.models_dir + "'";
    notes.push_back("No models of " + what + " found in " + where + ".");
  }
  return out;
}

// The codecs whose members make one curve each (codec_manifest.h): a manifest given with -m, else those in
// --models-dir or on the model path. Only manifests of more than one member: a single model is its own
// curve anyway.
std::vector<CodecManifest> find_manifests(const RdOptions& o) {
  std::vector<std::string> paths;
  if (!o.models.empty()) {
    for (const std::string& p : o.models)
      if (!codec_manifest_path(p).empty()) paths.push_back(codec_manifest_path(p));
  } else if (!o.models_dir.empty()) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(o.models_dir, ec))
      if (CodecManifest::is_path(e.path().string())) paths.push_back(e.path().string());
    std::sort(paths.begin(), paths.end());
  } else {
    paths = installed_codec_manifests();
  }
  std::vector<CodecManifest> out;
  for (const std::string& p : paths) {
    CodecManifest m = CodecManifest::read(p);
    if (m.members.size() > 1) out.push_back(std::move(m));
  }
  return out;
}

// The curve a model belongs to: its family, or its name without a trailing quality suffix
// ("factorized-q3" -> "factorized", "mymodel-4" -> "mymodel").
std::string curve_of(const ModelInfo& i) {
  if (!i.family_id.empty()) return "family " + i.family_id;
  static const std::regex suffix("[-_](q|l|lambda)?[0-9]+$");
  const std::string base = std::regex_replace(i.name, suffix, "");
  return base.empty() ? i.name : base;
}

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// Identical images: 100 dB, not inf (which would poison the means).
double capped_psnr(double p) {
  return std::isfinite(p) ? p : 100.0;
}

rd::Measure score(const std::string& name, const Image& ref, const Image& decoded, size_t bytes) {
  rd::Measure m;
  m.image = name, m.width = ref.width, m.height = ref.height;
  m.bytes = double(bytes);
  m.bpp = bits_per_pixel(bytes, ref.width, ref.height);
  m.psnr = capped_psnr(psnr(ref, decoded));
  m.ms_ssim = ms_ssim(ref, decoded);
  return m;
}

rd::PathScore path_score(const Image& ref, const Image& out, double ms) {
  return {capped_psnr(psnr(ref, out)), ms_ssim(ref, out), ms};
}

struct Family {
  const Model* high = nullptr;
  const Model* medium = nullptr;
  rd::FamilyResult result;
};

// quality: where both members are variable-rate, the quality both encode at (0: their default).
rd::FamilyImage eval_family(const Model& high, const Model& medium, const Image& image,
                            const std::string& name, double quality) {
  rd::FamilyImage f;
  f.image = name, f.width = image.width, f.height = image.height;
  const Image half = downscale2x_box(image);
  const EncodeOptions opt = encode_options(0, true, quality);

  // Down: high latent of the original -> medium decoder, vs the box-downscaled original.
  const EncodeResult eh = encode_image(high, image, opt);
  f.down_bpp = bits_per_pixel(eh.bytes.size(), image.width, image.height);
  const DecodeResult cross_down = cross_decode_image(medium, eh.bytes.data(), eh.bytes.size());
  f.down_cross = path_score(half, cross_down.image, cross_down.timings.total_ms);
  {
    const auto t0 = std::chrono::steady_clock::now();
    const DecodeResult full = decode_image(high, eh.bytes.data(), eh.bytes.size());
    f.high = path_score(image, full.image, full.timings.total_ms);
    const Image down = downscale2x_box(full.image);
    f.down_ref = path_score(half, down, ms_since(t0));
    const auto t1 = std::chrono::steady_clock::now();
    const Image bicubic = resize_bicubic(full.image, half.width, half.height);
    f.down_bicubic = path_score(half, bicubic, full.timings.total_ms + ms_since(t1));
  }

  // Up: medium latent of the box-downscaled original -> the family's full-size decoder (the medium member's
  // up decoder where it has one, else the high member's), vs the original. The up path makes
  // 2 x ceil(w/2) x 2 x ceil(h/2); both paths are cropped to the original size.
  const EncodeResult em = encode_image(medium, half, opt);
  f.up_bpp = bits_per_pixel(em.bytes.size(), image.width, image.height);
  {
    const auto t0 = std::chrono::steady_clock::now();
    const DecodeResult d = medium.info().up_decoder
                               ? up_decode_image(medium, em.bytes.data(), em.bytes.size())
                               : cross_decode_image(high, em.bytes.data(), em.bytes.size());
    const Image up = (d.image.width == image.width && d.image.height == image.height)
                         ? d.image
                         : crop(d.image, image.width, image.height);
    f.up_cross = path_score(image, up, ms_since(t0));
  }
  {
    const auto t0 = std::chrono::steady_clock::now();
    const DecodeResult d = decode_image(medium, em.bytes.data(), em.bytes.size());
    Image up = resize_bicubic(d.image, 2 * d.image.width, 2 * d.image.height);
    if (up.width != image.width || up.height != image.height) up = crop(up, image.width, image.height);
    f.up_ref = path_score(image, up, ms_since(t0));
  }
  return f;
}

void run_rd(const RdOptions& o, const GlobalOptions& g) {
  rd::RdResults res;
  res.images_dir = o.dir;
  res.command = o.command;
  res.learned_anchors = o.anchors;

  std::vector<std::string> files = image_files(o.dir);
  if (o.limit > 0 && int(files.size()) > o.limit) files.resize(size_t(o.limit));
  for (const std::string& f : files) res.images.push_back(fs::relative(f, o.dir).string());

  // Classic codecs: check the tools before any work.
  std::vector<std::pair<ClassicCodec, std::vector<int>>> classic;
  for (const std::string& c : o.codecs) {
    if (c == "none") continue;
    const ClassicCodec codec = c == "jpeg"   ? ClassicCodec::jpeg
                               : c == "webp" ? ClassicCodec::webp
                                             : ClassicCodec::avif;
    rd::require_tools(codec);
    const std::vector<int>& q = codec == ClassicCodec::jpeg   ? o.jpeg_q
                                : codec == ClassicCodec::webp ? o.webp_q
                                                              : o.avif_cq;
    require(!q.empty(), std::string("no quality levels for ") + rd::codec_name(codec));
    for (int x : q)
      require(x >= 0 && x <= (codec == ClassicCodec::avif ? 63 : 100),
              std::string("quality ") + std::to_string(x) + " out of range for " + rd::codec_name(codec));
    classic.emplace_back(codec, q);
  }

  // Models, grouped into curves (first appearance order).
  const std::vector<LoadedModel> models = find_models(o, res.notes, g.quiet);
  // Members of a codec of several networks: model name -> (codec, member).
  const std::vector<CodecManifest> manifests = find_manifests(o);
  std::map<std::string, std::pair<const CodecManifest*, size_t>> member_of;
  for (const CodecManifest& m : manifests)
    for (size_t k = 0; k < m.members.size(); ++k)
      member_of.emplace(m.members[k].model, std::make_pair(&m, k));
  // Cross-resolution families: a "high" and a "medium" member (found before the curves: a family's medium
  // member is scored in the family table, on the half-size images it is made for, not as a curve).
  std::map<std::string, Family> families;
  for (const LoadedModel& lm : models) {
    const ModelInfo& i = lm.model->info();
    if (i.family_id.empty()) continue;
    Family& f = families[i.family_id];
    f.result.id = i.family_id;
    if (i.family_role == "high" && !f.high) f.high = lm.model.get();
    if (i.family_role == "medium" && !f.medium) f.medium = lm.model.get();
  }
  // A family built on a model file: its high member is that model, which names no family.
  for (auto& [id, f] : families)
    if (!f.high && f.medium)
      for (const LoadedModel& lm : models)
        if (f.medium->info().names_as_high(lm.model->info().name, lm.model->info().id))
          f.high = lm.model.get();
  for (auto it = families.begin(); it != families.end();) {
    if (it->second.high && it->second.medium) {
      it->second.result.high = it->second.high->info().name;
      it->second.result.medium = it->second.medium->info().name;
      it->second.result.up_decoder = it->second.medium->info().up_decoder;
      ++it;
    } else {
      res.notes.push_back("Family " + it->first +
                          " lacks a \"high\" or \"medium\" member: no cross-path table.");
      it = families.erase(it);
    }
  }

  // A variable-rate pair at several qualities (--qualities, else the high's trained lambdas'): the rate a
  // user picks. A high member that serves part of a codec's knob (the family on the default codec's narrow
  // network) is measured where the codec uses it: its trained qualities inside its span, and the span's end.
  std::vector<Family> family_runs;
  for (const auto& [id, f] : families) {
    if (!f.high->variable_rate() || !f.medium->variable_rate()) {
      family_runs.push_back(f);
      continue;
    }
    std::vector<double> qs = o.qualities;
    const auto member = member_of.find(f.high->info().name);
    if (qs.empty()) {
      double lo = 0, hi = 100;
      if (member != member_of.end()) {
        const CodecMember& span = member->second.first->members[member->second.second];
        lo = span.member_from, hi = span.member_to;
      }
      for (double lam : f.high->info().lambdas)
        if (const double q = quality_of_lambda(f.high->info().lambdas, lam); q >= lo - 1e-9 && q <= hi + 1e-9)
          qs.push_back(q);
      if (member != member_of.end() && (qs.empty() || qs.back() < hi - 1e-9)) qs.push_back(hi);
    }
    for (double q : qs) {
      family_runs.push_back(f);
      family_runs.back().result.quality = q;
      if (member != member_of.end()) {
        // The knob's quality for the member's q (the manifest's mapping); the member's first quality is the
        // knob's hand-over itself, which the manifest gives to the member below.
        const auto& [manifest, k] = member->second;
        const CodecMember& c = manifest->members[k];
        const double knob = std::abs(q - c.member_from) < 1e-9 ? c.from : manifest->knob_quality(k, q);
        if (knob > 0 && std::abs(knob - q) > 1e-9) family_runs.back().result.knob_quality = knob;
      }
    }
  }

  std::vector<std::vector<const Model*>> level_models;  // per curve, per level
  std::vector<int> efforts = o.efforts;                 // each effort once, in order
  std::sort(efforts.begin(), efforts.end());
  efforts.erase(std::unique(efforts.begin(), efforts.end()), efforts.end());
  for (int effort : efforts)
    for (const LoadedModel& lm : models) {
      const ModelInfo& i = lm.model->info();
      if (i.family_role == "medium" && families.count(i.family_id)) continue;
      // Models that cannot be refined have effort 0 only.
      if (effort > 0 && !refine_refusal(*lm.model).empty()) continue;
      const auto member = member_of.find(i.name);
      const CodecManifest* codec = member == member_of.end() ? nullptr : member->second.first;
      const std::string base = codec ? codec->name : curve_of(i);
      const std::string name =
          effort > 0 || efforts.size() > 1 ? base + " effort " + std::to_string(effort) : base;
      auto it = std::find_if(res.curves.begin(), res.curves.end(),
                             [&](const rd::Curve& c) { return c.name == name; });
      if (it == res.curves.end()) {
        rd::Curve c;
        c.name = name;
        c.base = base;
        c.effort = effort;
        c.codec = "aecodec";
        res.curves.push_back(c);
        level_models.emplace_back();
        it = res.curves.end() - 1;
      }
      rd::Level l;
      l.label = i.name;
      l.model_path = lm.path;
      l.model_id = i.id;
      if (!lm.model->variable_rate()) {
        it->levels.push_back(l);
        level_models[size_t(it - res.curves.begin())].push_back(lm.model.get());
        continue;
      }
      if (codec && lm.model->variable_rate()) {
        // A codec's member: its levels at the knob's qualities it serves (--qualities are the knob's), by
        // default its trained lambdas' qualities inside its span and the span's ends.
        const size_t k = member->second.second;
        std::vector<std::pair<double, double>> knob;  // (knob Q, member Q)
        if (!o.qualities.empty()) {
          for (double q : o.qualities)
            if (const CodecManifest::Setting s = codec->at(q); s.member == k) knob.emplace_back(q, s.quality);
        } else {
          // The ends of its span too: the knob's points on either side of a hand-over are both real.
          const CodecMember& span = codec->members[k];
          const double first = k == 0 ? span.from : std::min(span.to, span.from + 0.01);
          std::set<double> qs = {first, span.to};
          for (double lam : i.lambdas) {
            const double q = codec->knob_quality(k, quality_of_lambda(i.lambdas, lam));
            if (q > 0) qs.insert(q);
          }
          for (double q : qs) knob.emplace_back(q, codec->at(q).quality);
        }
        for (const auto& [q, mq] : knob) {
          rd::Level lq = l;
          lq.label = codec->name + " Q" + format_quality(q) + " (" + i.name + " Q" + format_quality(mq) + ")";
          lq.model_quality = mq;
          it->levels.push_back(lq);
          level_models[size_t(it - res.curves.begin())].push_back(lm.model.get());
        }
        continue;
      }
      // A variable-rate model: one level per quality, by default the qualities of its trained lambdas
      // (where Q's interpolated gains are the trained ones).
      std::vector<double> qs = o.qualities;
      if (qs.empty())
        for (double lam : i.lambdas) qs.push_back(quality_of_lambda(i.lambdas, lam));
      for (double q : qs) {
        rd::Level lq = l;
        lq.label = i.name + " Q" + format_quality(q);
        lq.model_quality = q;
        it->levels.push_back(lq);
        level_models[size_t(it - res.curves.begin())].push_back(lm.model.get());
      }
    }
  for (size_t c = 0; c < res.curves.size(); ++c) {
    if (std::none_of(manifests.begin(), manifests.end(),
                     [&](const CodecManifest& m) { return m.name == res.curves[c].base; }))
      continue;
    // Knob order, the models kept beside their levels: the members in span order, each by its own quality
    // (which rises with the knob's inside its span).
    std::vector<size_t> order(res.curves[c].levels.size());
    for (size_t k = 0; k < order.size(); ++k) order[k] = k;
    auto knob_order = [&](size_t k) {
      const auto m = member_of.find(level_models[c][k]->info().name);  // a model outside the codec: last
      return std::make_pair(m == member_of.end() ? SIZE_MAX : m->second.second,
                            res.curves[c].levels[k].model_quality);
    };
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return knob_order(a) < knob_order(b); });
    std::vector<rd::Level> levels;
    std::vector<const Model*> lm;
    for (size_t k : order) {
      levels.push_back(res.curves[c].levels[k]);
      lm.push_back(level_models[c][k]);
    }
    res.curves[c].levels = std::move(levels);
    level_models[c] = std::move(lm);
  }
  for (size_t c = 0; c < res.curves.size(); ++c) {
    std::set<std::string> archs;
    for (const Model* m : level_models[c]) archs.insert(m->info().arch);
    std::string a;
    for (const std::string& x : archs) a += (a.empty() ? "" : ", ") + x;
    res.curves[c].settings =
        "aecodec models (" + a + "): " + std::to_string(level_models[c].size()) + " levels";
  }
  for (const std::string& a : o.anchors)
    if (std::none_of(res.curves.begin(), res.curves.end(), [&](const rd::Curve& c) { return c.name == a; }))
      res.notes.push_back("No learned curve named '" + a + "' to compare with (--anchor).");
  const size_t first_classic = res.curves.size();
  for (const auto& [codec, qs] : classic) {
    rd::Curve c;
    c.name = rd::codec_name(codec);
    c.codec = rd::codec_name(codec);
    c.settings = rd::codec_settings(codec) + "; Q = " + join(qs);
    for (int q : qs) {
      rd::Level l;
      l.label = rd::level_label(codec, q);
      l.quality = q;
      c.levels.push_back(l);
    }
    res.curves.push_back(c);
    const std::string v = rd::tool_version(codec);
    if (!v.empty()) res.tool_versions.push_back(v);
  }

  std::unique_ptr<rd::TempDir> tmp;
  if (!classic.empty()) tmp = std::make_unique<rd::TempDir>();
  bool any_grey = false;
  const bool tty = ::isatty(2);
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string& name = res.images[i];
    // On a terminal, one updating line; in a log, one line per image.
    auto progress = [&](const std::string& what) {
      if (!g.quiet && tty)
        std::fprintf(stderr, "\r[%zu/%zu] %s: %s\033[K", i + 1, files.size(), name.c_str(), what.c_str());
    };
    if (!g.quiet && !tty) std::fprintf(stderr, "rd: [%zu/%zu] %s\n", i + 1, files.size(), name.c_str());
    LoadedImageInfo info;
    const Image image = load_image(files[i], {}, AlphaPolicy::drop, &info);
    any_grey |= info.converted_grey;

    for (size_t c = 0; c < first_classic; ++c)
      for (size_t l = 0; l < res.curves[c].levels.size(); ++l) {
        const Model& m = *level_models[c][l];
        progress(m.info().name);
        const EncodeResult e = encode_image(
            m, image, encode_options(res.curves[c].effort, true, res.curves[c].levels[l].model_quality));
        const DecodeResult d = decode_image(m, e.bytes.data(), e.bytes.size());
        rd::Measure s = score(name, image, d.image, e.bytes.size());
        s.encode_ms = e.timings.total_ms, s.decode_ms = d.timings.total_ms;
        res.curves[c].levels[l].images.push_back(s);
      }

    if (tmp) {
      const rd::ClassicInput input = rd::write_classic_input(image, tmp->path());
      for (size_t k = 0; k < classic.size(); ++k) {
        rd::Curve& c = res.curves[first_classic + k];
        for (rd::Level& l : c.levels) {
          progress(c.name + " " + l.label);
          const rd::ClassicResult r = rd::run_classic(classic[k].first, l.quality, input, tmp->path());
          rd::Measure s = score(name, image, r.decoded, r.bytes);
          s.encode_ms = r.encode_ms, s.decode_ms = r.decode_ms;
          l.images.push_back(s);
        }
      }
    }

    for (Family& f : family_runs) {
      progress("family " + f.result.id);
      f.result.images.push_back(eval_family(*f.high, *f.medium, image, name, f.result.quality));
    }
  }
  if (!g.quiet && tty) std::fprintf(stderr, "\r\033[K");
  if (any_grey) res.notes.push_back("Greyscale images are expanded to RGB and coded as RGB by every codec.");
  for (Family& f : family_runs) res.families.push_back(std::move(f.result));

  rd::finish_results(res);
  if (!o.out.empty()) {
    rd::write_outputs(res, o.out, o.plot_max_bpp);
    if (!g.quiet)
      std::fprintf(stderr,
                   "rd: wrote %s/{README.md,rd.json,rd-points.csv,rd-curves.csv,rd-psnr.svg,rd-msssim.svg}\n",
                   o.out.c_str());
  }
  if (!g.quiet) std::printf("%s", rd::markdown_summary(res, false).c_str());
}

}  // namespace

void add_rd_command(CLI::App& app, const GlobalOptions& g) {
  auto o = std::make_shared<RdOptions>();
  CLI::App* r = app.add_subcommand(
      "rd",
      "rate-distortion evaluation: the learned codec's quality levels vs JPEG, WebP, AVIF on a folder of "
      "images (CSV, JSON, SVG plots, BD-rates, cross-resolution family table)");
  r->add_option("dir", o->dir, "folder of images (searched recursively)")->required();
  r->add_option("-o,--out", o->out, "folder for README.md, rd.json, rd-points.csv, rd-curves.csv, rd-*.svg");
  r->add_option("-m,--model", o->models,
                "a model file or name, or a codec manifest (NAME.codec.json: one curve over its members; "
                "repeat for each quality level); default: every model of --arch on the "
                "model path");
  r->add_option("--models-dir", o->models_dir,
                "look for models (*.aem) in this folder instead of the model path")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  r->add_option("--arch", o->archs,
                "without -m: evaluate the models of these architectures (comma-separated), a curve per model "
                "name without its -qN suffix")
      ->delimiter(',')
      ->capture_default_str();
  r->add_option("--family", o->family, "without -m: evaluate the members of this cross-resolution family");
  r->add_option("--codecs", o->codecs, "classic codecs to compare with (jpeg, webp, avif; none)")
      ->delimiter(',')
      ->check(CLI::IsMember({"jpeg", "webp", "avif", "none"}))
      ->capture_default_str();
  r->add_option("--jpeg-q", o->jpeg_q, "cjpeg -quality sweep")->delimiter(',')->capture_default_str();
  r->add_option("--webp-q", o->webp_q, "cwebp -q sweep")->delimiter(',')->capture_default_str();
  r->add_option("--avif-cq", o->avif_cq, "avifenc cq-level sweep (0-63, lower is better)")
      ->delimiter(',')
      ->capture_default_str();
  r->add_option("--limit", o->limit, "use at most this many images (sorted by path)");
  r->add_option(
       "--effort", o->efforts,
       "encoder efforts to measure the learned codecs at (0-9, comma-separated; more than one adds a "
       "table of each effort's BD-rate against effort 0)")
      ->delimiter(',')
      ->check(CLI::Range(0, kMaxEffort));
  r->add_option("--plot-max-bpp", o->plot_max_bpp, "end the plots' rate axis here (0: fit all points)");
  r->add_option("--anchor", o->anchors,
                "learned curves (by name, e.g. hyperprior) to compare the other learned curves with: BD-rate "
                "and BD-PSNR against each")
      ->delimiter(',');
  r->add_option("--qualities", o->qualities,
                "variable-rate models: the qualities to measure (1-100, comma-separated; default: those of "
                "the model's trained lambdas)")
      ->delimiter(',')
      ->check(CLI::Range(1.0, 100.0));
  r->add_option("--made-by", o->made_by,
                "the command the report names as its origin (default: this command line)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  r->callback([o, r, &g] {
    // The command line, for the report (paths as given).
    std::string cmd = "aecodec rd " + o->dir;
    if (!o->out.empty()) cmd += " -o " + o->out;
    for (const std::string& m : o->models) cmd += " -m " + m;
    if (!o->models_dir.empty()) cmd += " --models-dir " + o->models_dir;
    if (r->count("--arch")) cmd += " --arch " + join(o->archs);
    if (!o->family.empty()) cmd += " --family " + o->family;
    if (r->count("--codecs")) cmd += " --codecs " + join(o->codecs);
    if (r->count("--jpeg-q")) cmd += " --jpeg-q " + join(o->jpeg_q);
    if (r->count("--webp-q")) cmd += " --webp-q " + join(o->webp_q);
    if (r->count("--avif-cq")) cmd += " --avif-cq " + join(o->avif_cq);
    if (o->limit) cmd += " --limit " + std::to_string(o->limit);
    if (!o->anchors.empty()) cmd += " --anchor " + join(o->anchors);
    if (!o->qualities.empty()) {
      std::vector<std::string> qs;
      for (double q : o->qualities) qs.push_back(format_quality(q));
      cmd += " --qualities " + join(qs);
    }
    o->command = o->made_by.empty() ? cmd : o->made_by;
    run_rd(*o, g);
  });
}

}  // namespace aec::cli
