// What the buttons and the page's API do: load an image or an .aec file, encode + decode with the core,
// cross-decode.
#include <emscripten.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <map>
#include <cmath>
#include <cstdio>

#include "aecodec/error.h"
#include "aecodec/file_io.h"
#include "aecodec/metrics.h"
#include "aecodec/quality.h"
#include "aecodec/rate_target.h"
#include "aecodec/refine.h"
#include "aecodec/tile.h"
#include "app.h"

namespace web {

App& app() {
  static App a;
  return a;
}

double now_ms() {
  return emscripten_get_now();
}

std::string fmt_quality(double q) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", q);
  std::string s = buf;
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

// Frames still to draw. A few, not one: ImGui settles some layouts (tables, wrapped text, popups) a frame
// after the state that causes them.
int g_redraw_frames = 3;

void request_redraw() {
  g_redraw_frames = std::max(g_redraw_frames, 3);
}

void publish() {
  request_redraw();
  aec_js_publish();
}

const ModelEntry* App::model_named(const std::string& name) const {
  const int i = model_index(name);
  return i < 0 ? nullptr : &models[size_t(i)];
}

namespace {

bool is_codec_arch(const std::string& arch) {
  return arch == "factorized" || arch == "hyperprior" || arch == "channel";
}

// "hyperprior-q5" -> ("hyperprior", 5); a name with no level suffix -> (name, -1). As the CLI's codec_of.
std::pair<std::string, int> codec_level(const std::string& name) {
  size_t i = name.size();
  while (i > 0 && std::isdigit(static_cast<unsigned char>(name[i - 1]))) --i;
  if (i == name.size() || i < 3 || name[i - 1] != 'q' || (name[i - 2] != '-' && name[i - 2] != '_'))
    return {name, -1};
  return {name.substr(0, i - 2), std::atoi(name.c_str() + i)};
}

}  // namespace

std::vector<ModelGroup> model_groups(const std::vector<ModelEntry>& models) {
  std::map<std::string, std::vector<int>> codecs, families;
  std::vector<int> demos;
  for (size_t i = 0; i < models.size(); ++i) {
    const ModelEntry& m = models[i];
    if (!m.family_id.empty())
      families[m.family_id].push_back(int(i));
    else if (is_codec_arch(m.arch))
      codecs[codec_level(m.name).first].push_back(int(i));
    else
      demos.push_back(int(i));
  }
  std::vector<ModelGroup> out;
  for (auto& [codec, v] : codecs) {
    std::vector<int> levels;
    for (int i : v)
      if (models[size_t(i)].variable_rate)
        out.push_back({"codec", models[size_t(i)].name, {i}});
      else
        levels.push_back(i);
    std::stable_sort(levels.begin(), levels.end(), [&](int x, int y) {
      return codec_level(models[size_t(x)].name).second < codec_level(models[size_t(y)].name).second;
    });
    if (levels.size() == 1)
      out.push_back({"codec", models[size_t(levels[0])].name, levels});
    else if (!levels.empty())
      out.push_back({"codec", codec, levels});
  }
  for (auto& [id, v] : families) {
    // "family-high" (role high) -> "family"
    const ModelEntry& m = models[size_t(v[0])];
    const std::string suffix = "-" + m.role;
    const bool cut = m.name.size() > suffix.size() &&
                     m.name.compare(m.name.size() - suffix.size(), suffix.size(), suffix) == 0;
    out.push_back({"family", cut ? m.name.substr(0, m.name.size() - suffix.size()) : m.name, v});
  }
  for (int i : demos) out.push_back({"demo", models[size_t(i)].name, {i}});
  return out;
}

int group_of(const std::vector<ModelGroup>& groups, int i) {
  for (size_t g = 0; g < groups.size(); ++g)
    for (int m : groups[g].members)
      if (m == i) return int(g);
  return -1;
}

int App::model_index(const std::string& name) const {
  for (size_t i = 0; i < models.size(); ++i)
    if (models[i].name == name) return int(i);
  return -1;
}

bool App::family_pair(std::string& family, int& high, int& medium) const {
  // Prefer the family of the selected model, else the first complete one.
  std::vector<std::string> order;
  if (const ModelEntry* m = current_model(); m && !m->family_id.empty()) order.push_back(m->family_id);
  for (const ModelEntry& m : models)
    if (!m.family_id.empty()) order.push_back(m.family_id);
  for (const std::string& f : order) {
    high = medium = -1;
    for (size_t i = 0; i < models.size(); ++i) {
      const ModelEntry& m = models[i];
      if (m.family_id != f || m.state != ModelEntry::Loaded) continue;
      if (m.role == "high" && high < 0) high = int(i);
      if (m.role == "medium" && medium < 0) medium = int(i);
    }
    if (high >= 0 && medium >= 0) {
      family = f;
      return true;
    }
  }
  return false;
}

void App::set_error(const std::string& e) {
  error = e;
  ++error_serial;
  publish();
}

void build_latent_view(CodecRun& run) {
  LatentView& v = run.latent_view;
  const aec::Tensor& t = run.latent;
  v.channels = t.c;
  if (t.c <= 0 || t.h <= 0 || t.w <= 0) return;
  // Tiles at least 24 px on the short side (nearest-neighbour upscaled), at most 128; a photo's latent
  // (250 x 375 at 24 Mpx) is sampled every `step` positions instead, so the atlas stays within a texture.
  int scale = std::max(1, 24 / std::max(1, std::min(t.h, t.w)));
  while (scale > 1 && std::max(t.h, t.w) * scale > 128) --scale;
  const int step = std::max(1, (std::max(t.h, t.w) + 127) / 128);
  if (step > 1) scale = 1;
  v.tile_w = (t.w + step - 1) / step * scale, v.tile_h = (t.h + step - 1) / step * scale;
  v.cols = std::max(1, int(std::ceil(std::sqrt(double(t.c) * v.tile_h / v.tile_w))));
  v.cols = std::min(v.cols, std::max(1, 8192 / (v.tile_w + 1)));
  const int rows = (t.c + v.cols - 1) / v.cols;
  v.atlas = aec::Image(v.cols * (v.tile_w + 1), rows * (v.tile_h + 1));
  std::fill(v.atlas.rgb.begin(), v.atlas.rgb.end(), uint8_t(20));
  v.lo.assign(size_t(t.c), 0), v.hi.assign(size_t(t.c), 0);
  // A perceptual dark-blue -> magenta -> orange -> yellow ramp (like "inferno").
  static const float stops[6][3] = {{0.00f, 0.00f, 0.02f}, {0.23f, 0.04f, 0.44f}, {0.58f, 0.15f, 0.40f},
                                    {0.87f, 0.32f, 0.18f}, {0.99f, 0.65f, 0.04f}, {0.98f, 1.00f, 0.64f}};
  for (int k = 0; k < t.c; ++k) {
    const float* p = t.channel(k);
    float lo = p[0], hi = p[0];
    for (size_t i = 0; i < t.plane(); ++i) lo = std::min(lo, p[i]), hi = std::max(hi, p[i]);
    v.lo[size_t(k)] = lo, v.hi[size_t(k)] = hi;
    const float inv = hi > lo ? 1.0f / (hi - lo) : 0.0f;
    const int ox = (k % v.cols) * (v.tile_w + 1), oy = (k / v.cols) * (v.tile_h + 1);
    for (int y = 0; y < v.tile_h; ++y)
      for (int x = 0; x < v.tile_w; ++x) {
        const float u = (p[size_t(y / scale * step) * t.w + size_t(x / scale * step)] - lo) * inv * 5.0f;
        const int s = std::min(4, int(u));
        const float f = std::min(1.0f, u - float(s));
        uint8_t* d = &v.atlas.rgb[(size_t(oy + y) * v.atlas.width + size_t(ox + x)) * 3];
        for (int c = 0; c < 3; ++c)
          d[c] = uint8_t(std::lround(255.0f * (stops[s][c] + (stops[s + 1][c] - stops[s][c]) * f)));
      }
  }
}

void request_compare() {
  App& a = app();
  const CodecRun& r = a.last();
  if (!r.valid || !r.has_reference || a.from_aec) return;
  a.compare_running = true;
  aec_js_compare(int(r.bytes.size()));
}

void finish_run(CodecRun run) {
  App& a = app();
  run.tex.upload(run.recon);
  if (!run.latent_view.atlas.rgb.empty()) run.latent_view.tex.upload(run.latent_view.atlas);
  CodecRun& slot = run.backend == "ort" ? a.ort_run : a.core_run;
  slot.tex.release();
  slot.latent_view.tex.release();
  slot = std::move(run);
  a.last_backend = slot.backend;
  a.clear_error();
  request_compare();
}

void set_original(aec::Image im, const std::string& name, std::vector<std::string> notes, bool auto_encode) {
  App& a = app();
  a.original = std::move(im);
  a.image_name = name;
  a.image_notes = std::move(notes);
  a.from_aec = false;
  ++a.image_serial;
  a.original_tex.upload(a.original);
  for (CodecRun* r : {&a.core_run, &a.ort_run}) {
    r->tex.release();
    r->latent_view.tex.release();
    *r = CodecRun();
  }
  for (CompareRun* c : {&a.jpeg, &a.webp}) {
    c->tex.release();
    *c = CompareRun();
  }
  for (Texture* t : {&a.cross.t_h2m, &a.cross.t_h2m_ref, &a.cross.t_m2h, &a.cross.t_m2h_bicubic})
    t->release();
  a.cross = CrossRun();
  a.view.fit_pending = true;
  a.clear_error();
  publish();
  if (auto_encode) action_encode();
}

namespace {

// The error for coding the current image with model m, or "".
std::string cannot_code(const App& a, const ModelEntry* m) {
  if (a.original.width == 0) return "no image loaded";
  if (!m) return "no model selected";
  if (m->state == ModelEntry::Loading) return "model '" + m->name + "' is still loading";
  if (m->state == ModelEntry::Failed) return "model '" + m->name + "' failed to load: " + m->error;
  if (m->fixed_w && (a.original.width != m->fixed_w || a.original.height != m->fixed_h))
    return "model '" + m->name + "' codes only " + std::to_string(m->fixed_w) + "x" +
           std::to_string(m->fixed_h) + " images; this one is " + std::to_string(a.original.width) + "x" +
           std::to_string(a.original.height);
  return "";
}

}  // namespace

int effort_for(const ModelEntry& m) {
  return m.refinable ? std::clamp(app().effort, 0, aec::kMaxEffort) : 0;
}

double quality_for(const ModelEntry& m) {
  return m.variable_rate ? m.quality : 0;
}

std::shared_ptr<const aec::Model> model_for_file(const std::shared_ptr<const aec::Model>& model,
                                                 const aec::Bitstream& stream, double* quality) {
  const std::vector<uint8_t>* q = stream.find(aec::kSectionQuality);
  if (quality) *quality = q ? aec::read_quality_section(*q) / 100.0 : 0;
  if (!q || !model->variable_rate()) return model;
  return std::make_shared<aec::Model>(model->at_quality(aec::read_quality_section(*q) / 100.0));
}

bool action_encode(uint64_t target_bytes) {
  App& a = app();
  const ModelEntry* m = a.current_model();
  if (const std::string why = cannot_code(a, m); !why.empty()) {
    a.set_error(why);
    return false;
  }
  if (job_busy() || g_js_busy) {
    a.set_error("busy: wait for the current work to finish");
    return false;
  }
  if (target_bytes > 0 && !m->variable_rate) {
    a.set_error("model '" + m->name +
                "' is single-rate: a target size needs a variable-rate model (its quality is what the search "
                "moves)");
    return false;
  }
  if (a.backend == "ort") {
    if (target_bytes > 0) {
      a.set_error(
          "the size search runs in the C++ core (it encodes many times): choose the C++ core backend");
      return false;
    }
    if (!m->ort_available()) {
      a.set_error(m->ort_error.empty()
                      ? "ONNX Runtime backend unavailable for '" + m->name +
                            "': no exported ONNX graphs (aecodec-onnx) in the site"
                      : "ONNX Runtime backend failed for '" + m->name + "': " + m->ort_error);
      return false;
    }
    if (int64_t(a.original.width) * a.original.height > kOrtMaxPixels) {
      a.set_error("the ONNX Runtime backend runs whole images, up to " + std::to_string(kOrtMaxPixels >> 20) +
                  " Mpx; this one is " + std::to_string(a.original.width) + "x" +
                  std::to_string(a.original.height) + ": choose the C++ core backend (it codes photos by tiles)");
      return false;
    }
    a.clear_error();
    aec_js_run_ort(m->name.c_str());
    return true;
  }
  auto model = m->model;
  auto image = a.original_view();
  auto run = std::make_shared<CodecRun>();
  const int effort = effort_for(*m);
  const double quality = quality_for(*m);
  // A photo the core codes by tiles: the bar shows the tiles (the core's encode reports only refinement).
  const bool photo =
      effort == 0 && target_bytes == 0 && aec::use_tiles(*model, image->width, image->height);
  run->image_serial = a.image_serial;
  run->model = m->name, run->model_id = m->id, run->backend = "core", run->effort = effort;
  run->target_bytes = target_bytes;
  a.clear_error();
  std::string label =
      target_bytes > 0
          ? "Searching the quality for " + std::to_string(target_bytes) + " bytes with " + m->name
      : m->variable_rate ? "Encoding and decoding with " + m->name + " at quality " + fmt_quality(quality)
                         : "Encoding and decoding with " + m->name;
  if (effort > 0) label += " at effort " + std::to_string(effort);
  label += photo ? " (C++ core, WASM, by tiles)" : " (C++ core, WASM)";
  return start_job(
      label,
      [model, image, run, effort, quality, target_bytes, photo] {
        aec::EncodeOptions opts;
        opts.effort = effort;
        aec::EncodeResult e;
        std::shared_ptr<const aec::Model> at = model;  // the network at the file's quality
        if (target_bytes > 0) {
          // Every trial refines (at effort > 0) from 0 to 1: the bar shows trials as their share of the
          // search's at most 12 (two ends, then 10 halvings of the tenths of Q).
          int trial = 0;
          double last = 0;
          if (effort > 0)
            opts.progress = [&trial, &last](double f) {
              if (f < last) ++trial;
              last = f;
              return job_report(std::min(1.0, (trial + f) / 12.0));
            };
          aec::TargetResult t = aec::encode_to_size(*model, *image, target_bytes, opts);
          run->trials = t.trials;
          e = std::move(t.encoded);
        } else {
          // The network at Q once for both ways (encode_image at opts.quality = Q makes the same file).
          if (quality > 0) at = std::make_shared<aec::Model>(model->at_quality(quality));
          if (effort > 0) opts.progress = job_report;
          // A photo: encode 0-45 % of the bar (the analysis transform's tiles), decode 50-95 % (the synthesis
          // transform's bands of rows), the metrics the rest.
          e = photo ? encode_tiles(*at, *image, [](double f) { return job_report(0.45 * f); })
                    : aec::encode_image(*at, *image, opts);
        }
        if (photo && !job_report(0.5)) throw aec::Cancelled();
        aec::DecodeResult d =
            photo ? decode_bands(*at, e.bytes, [](double f) { return job_report(0.5 + 0.45 * f); })
                  : aec::decode_image(*at, e.bytes.data(), e.bytes.size(), page_limits());
        run->width = image->width, run->height = image->height;
        run->quality = e.quality;
        run->bytes = std::move(e.bytes);
        run->bpp = aec::bits_per_pixel(run->bytes.size(), image->width, image->height);
        run->enc = e.timings, run->dec = d.timings;
        run->recon = std::move(d.image);
        run->has_reference = true;
        measure(*image, run->recon, run->psnr, run->ms_ssim);
        run->latent = std::move(e.latent);
        run->channel_bits = std::move(e.channel_bits);
        build_latent_view(*run);
        drop_latent_values(run->latent);
        run->valid = true;
      },
      [run] {
        // A searched quality becomes the model's (the slider moves to it; later encodes use it).
        App& a = app();
        const int i = a.model_index(run->model);
        if (run->target_bytes > 0 && i >= 0 && a.models[size_t(i)].variable_rate)
          a.models[size_t(i)].quality = run->quality;
        finish_run(std::move(*run));
      },
      effort > 0 || photo);
}

void action_open_aec(const uint8_t* data, size_t size, const std::string& name) {
  App& a = app();
  auto bytes = std::make_shared<std::vector<uint8_t>>(data, data + size);
  aec::Bitstream b;
  try {
    b = aec::parse_bitstream(bytes->data(), bytes->size());
  } catch (const aec::Error& e) {
    a.set_error(name + ": " + e.what());
    return;
  }
  const aec::BitstreamHeader& h = b.header;
  const std::string id = aec::hash_hex(h.model_hash);
  int idx = -1;
  for (size_t i = 0; i < a.models.size(); ++i)
    if (a.models[i].name == h.model_name && a.models[i].state == ModelEntry::Loaded && a.models[i].model &&
        a.models[i].model->info().is_version(h.model_hash))
      idx = int(i);
  if (idx < 0) {
    const ModelEntry* same = a.model_named(h.model_name);
    a.set_error(name + ": made by model '" + h.model_name + "' version " + id +
                (same ? (same->state == ModelEntry::Loaded ? ", but the page has version " + same->id
                                                           : ", which did not load")
                      : ", which this page does not have"));
    return;
  }
  if (job_busy() || g_js_busy) {
    a.set_error("busy: wait for the current work to finish");
    return;
  }
  a.selected_model = idx;
  auto model = a.models[size_t(idx)].model;
  // Measure against the current image when it has the file's size (e.g. the original it was made from).
  auto ref = std::make_shared<const aec::Image>();
  if (!a.from_aec && a.original.width == int(h.width) && a.original.height == int(h.height))
    ref = a.original_view();
  auto run = std::make_shared<CodecRun>();
  run->model = h.model_name, run->model_id = id, run->backend = "core", run->effort = -1;
  a.clear_error();
  start_job(
      "Decoding " + name + " with " + h.model_name,
      [model, bytes, ref, run, b] {
        // A variable-rate model's file: the network at the file's quality, for the image and the latent.
        const std::shared_ptr<const aec::Model> at = model_for_file(model, b, &run->quality);
        aec::DecodeResult d = decode_bands(*at, *bytes, job_report);
        run->width = d.image.width, run->height = d.image.height;
        run->bytes = *bytes;
        run->bpp = aec::bits_per_pixel(bytes->size(), d.image.width, d.image.height);
        run->dec = d.timings;
        run->recon = std::move(d.image);
        if (ref->width) {
          run->has_reference = true;
          measure(*ref, run->recon, run->psnr, run->ms_ssim);
        }
        // The latent for the heat maps: entropy-decode again (cheap next to the synthesis transform).
        run->latent = aec::decode_latent(*at, d.stream, &run->channel_bits);
        build_latent_view(*run);
        drop_latent_values(run->latent);
        run->valid = true;
      },
      [run, name] {
        App& a = app();
        if (run->has_reference) {
          run->image_serial = a.image_serial;
          finish_run(std::move(*run));
          a.info = "opened " + name + " (PSNR against the current image)";
        } else {
          set_original(run->recon, name, {"decoded from an .aec file: no original to compare with"}, false);
          a.from_aec = true;
          run->image_serial = a.image_serial;
          finish_run(std::move(*run));
          a.info = "opened " + name;
        }
        a.view.right = 1;
      });
}

bool action_cross_decode() {
  App& a = app();
  std::string family;
  int hi = -1, med = -1;
  if (a.original.width == 0 || a.from_aec) {
    a.set_error("cross-decode needs an original image");
    return false;
  }
  if (!a.family_pair(family, hi, med)) {
    a.set_error(
        "no cross-resolution family loaded (two models with the same \"family\" id, roles high and medium)");
    return false;
  }
  if (job_busy() || g_js_busy) {
    a.set_error("busy: wait for the current work to finish");
    return false;
  }
  auto high = a.models[size_t(hi)].model, medium = a.models[size_t(med)].model;
  auto image = a.original_view();
  auto out = std::make_shared<CrossRun>();
  out->family = family, out->high = a.models[size_t(hi)].name, out->medium = a.models[size_t(med)].name;
  out->image_serial = a.image_serial;
  a.clear_error();
  return start_job(
      "Cross-decoding in family " + family,
      [high, medium, image, out] {
        const double t0 = now_ms();
        const aec::ImageLimits lim = page_limits();
        // high -> medium
        const aec::EncodeResult eh = aec::encode_image(*high, *image);
        aec::DecodeResult d1 = aec::cross_decode_image(*medium, eh.bytes.data(), eh.bytes.size(), lim);
        out->h2m_ref = aec::downscale2x_box(*image);
        out->h2m = std::move(d1.image);
        out->h2m_psnr = aec::psnr(out->h2m_ref, out->h2m);
        out->h2m_bytes = eh.bytes.size();
        out->h2m_bpp = aec::bits_per_pixel(eh.bytes.size(), image->width, image->height);
        // medium -> high
        const aec::EncodeResult em = aec::encode_image(*medium, out->h2m_ref);
        aec::DecodeResult d2 = aec::cross_decode_image(*high, em.bytes.data(), em.bytes.size(), lim);
        aec::Image up = std::move(d2.image);
        if (up.width != image->width || up.height != image->height)
          up = aec::crop(up, image->width, image->height);
        out->m2h = std::move(up);
        out->m2h_psnr = aec::psnr(*image, out->m2h);
        const aec::DecodeResult own = aec::decode_image(*medium, em.bytes.data(), em.bytes.size(), lim);
        out->m2h_bicubic = aec::resize_bicubic(own.image, image->width, image->height);
        out->m2h_bicubic_psnr = aec::psnr(*image, out->m2h_bicubic);
        out->m2h_bytes = em.bytes.size();
        out->m2h_bpp = aec::bits_per_pixel(em.bytes.size(), out->h2m_ref.width, out->h2m_ref.height);
        out->ms = now_ms() - t0;
        out->valid = true;
      },
      [out] {
        App& a = app();
        out->t_h2m.upload(out->h2m);
        out->t_h2m_ref.upload(out->h2m_ref);
        out->t_m2h.upload(out->m2h);
        out->t_m2h_bicubic.upload(out->m2h_bicubic);
        for (Texture* t : {&a.cross.t_h2m, &a.cross.t_h2m_ref, &a.cross.t_m2h, &a.cross.t_m2h_bicubic})
          t->release();
        a.cross = std::move(*out);
      });
}

}  // namespace web
