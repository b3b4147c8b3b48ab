// What the buttons and the page's API do: load an image or an .aec file, encode + decode, cross-decode. The
// coding itself is the page's, through the aecodec package (packages/aecodec, web/app.js): an action checks
// what it can, starts a page job with a request (start_coding), and turns what the page hands back into a
// run, measured against the original on the job's thread.
#include <emscripten.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>

#include <nlohmann/json.hpp>

#include "aecodec/bitstream.h"
#include "aecodec/error.h"
#include "aecodec/file_io.h"
#include "aecodec/metrics.h"
#include "aecodec/refine.h"
#include "aecodec/tile.h"
#include "app.h"

using nlohmann::json;

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
  std::vector<ModelGroup> manifests;  // codecs of member models: an entry each, first
  for (size_t i = 0; i < models.size(); ++i) {
    const ModelEntry& m = models[i];
    if (m.codec) manifests.push_back({"codec", m.name, {int(i)}});
    // A model that is a family's high member by name (its file names no family) is listed with the
    // codecs, as the CLI lists it.
    else if (!m.family_id.empty() && m.family_member.empty())
      families[m.family_id].push_back(int(i));
    else if (is_codec_arch(m.arch))
      codecs[codec_level(m.name).first].push_back(int(i));
    else
      demos.push_back(int(i));
  }
  std::vector<ModelGroup> out = manifests;
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
  if (const ModelEntry* m = current_model(); m && !m->family_id.empty()) {
    // One of the families a codec holds per member: the codec's family at its quality, which the knob moves
    // from one to the next.
    std::string f = m->family_id;
    for (const ModelEntry& h : models)
      if (h.codec && !h.families.empty() && h.in_family(f)) f = h.family_id;
    order.push_back(f);
  }
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
    if (medium < 0) continue;
    const ModelEntry& med = models[size_t(medium)];
    if (!med.family_high.empty()) {
      // A family built on a model in no family: the entry holding the model the medium member names (the
      // manifest's mark, else found by that name), while the model's decode id is the one named.
      if (high < 0)
        for (size_t i = 0; i < models.size() && high < 0; ++i) {
          const ModelEntry& m = models[i];
          if (m.state == ModelEntry::Loaded &&
              (m.codec ? m.member_named(med.family_high) >= 0 : m.name == med.family_high))
            high = int(i);
        }
      if (high < 0) continue;
      const ModelEntry& h = models[size_t(high)];
      const int k = family_high_member(high, medium);
      if (h.codec ? k < 0 : h.name != med.family_high) continue;
      const std::shared_ptr<const aec::Model>& net = h.codec ? h.members[size_t(k)].model : h.model;
      if (net && net->info().id != med.family_high_id) continue;  // another version of that model
    }
    if (high >= 0) {
      family = f;
      return true;
    }
  }
  return false;
}

int App::family_high_member(int high, int medium) const {
  const ModelEntry& h = models[size_t(high)];
  if (!h.codec) return -1;
  const std::string& name = models[size_t(medium)].family_high;
  return h.member_named(name.empty() ? h.family_member : name);
}

bool App::cross_span(int high, int medium, double& lo, double& hi) const {
  if (!family_span(high, medium, lo, hi)) return false;
  const ModelEntry& h = models[size_t(high)];
  for (const ModelEntry::CodecFamily& f : h.families) {
    const int k = h.member_named(f.member);
    if (k < 0 || size_t(k) >= h.manifest.members.size() || !family_medium_loaded(f.id)) continue;
    const aec::CodecMember& c = h.manifest.members[size_t(k)];
    lo = std::min(lo, k == 0 ? c.from : c.from + 0.01), hi = std::max(hi, c.to);
  }
  return true;
}

bool App::family_medium_loaded(const std::string& id) const {
  for (const ModelEntry& m : models)
    if (m.family_id == id && m.role == "medium" && m.state == ModelEntry::Loaded) return true;
  return false;
}

bool App::family_span(int high, int medium, double& lo, double& hi) const {
  const ModelEntry &h = models[size_t(high)], &m = models[size_t(medium)];
  if (!h.variable_rate || !m.variable_rate) return false;
  lo = 1, hi = 100;
  const int k = family_high_member(high, medium);
  if (k >= 0 && size_t(k) < h.manifest.members.size()) {
    const aec::CodecMember& c = h.manifest.members[size_t(k)];
    lo = k == 0 ? c.from : c.from + 0.01, hi = c.to;  // the knob's hundredths
  }
  return true;
}

double App::family_model_quality(int high, int medium, double q) const {
  const int k = family_high_member(high, medium);
  return k >= 0 ? models[size_t(high)].manifest.at(q).quality : q;
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

namespace {

// A decoded run's last step on the job thread: its metrics against the reference (when there is one), the
// latent's view, then the latent's values dropped (the view holds what the page shows of them).
void finish_measuring(CodecRun& run, const aec::Image& reference) {
  if (reference.width) {
    run.has_reference = true;
    measure(reference, run.recon, run.psnr, run.ms_ssim);
  }
  build_latent_view(run);
  drop_latent_values(run.latent);
  run.valid = true;
}

}  // namespace

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
  a.cross.release_textures();
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

void set_model_quality(int i, double q) {
  App& a = app();
  if (i < 0 || i >= int(a.models.size())) return;
  ModelEntry& m = a.models[size_t(i)];
  if (!m.variable_rate) return;
  m.quality = q;
  if (m.codec) want_member(i, m.member_at(q));
  m.follow_quality();  // a codec with a family per member: the family of the member at q
  if (m.family_id.empty()) return;
  // A family built on a codec's member shares the knob only where the codec uses that member: there, a
  // knob quality and the member's own quality (the medium member's) correspond by the codec's mapping.
  const std::string family = m.family_id;
  const auto member = [&](const ModelEntry& e) {
    if (!e.codec) return -1;
    for (const ModelEntry::CodecFamily& f : e.families)
      if (f.id == family) return e.member_named(f.member);
    return e.member_named(e.family_member);
  };
  double own = q;  // the member's own quality for q
  if (const int k = member(m); k >= 0) {
    if (m.member_at(q) != k) return;
    own = m.manifest.at(q).quality;
  }
  for (size_t j = 0; j < a.models.size(); ++j) {
    ModelEntry& o = a.models[j];
    if (int(j) == i || !o.in_family(family) || !o.variable_rate) continue;
    if (const int k = member(o); k >= 0) {
      const double knob = o.manifest.knob_quality(size_t(k), own);
      if (knob < 0) continue;
      o.quality = knob;
      o.follow_quality();
      want_member(int(j), k);
    } else {
      o.quality = own;
    }
  }
}

void set_cross_quality(int high, double q) {
  App& a = app();
  set_model_quality(high, q);
  std::string family;
  int hi = high, med = -1;
  if (a.family_pair(family, hi, med)) a.models[size_t(med)].quality = a.family_model_quality(hi, med, q);
}

void want_member(int model, int member) {
  App& a = app();
  if (model < 0 || model >= int(a.models.size())) return;
  ModelEntry& m = a.models[size_t(model)];
  if (member < 0 || member >= int(m.members.size())) return;
  ModelEntry::Member& x = m.members[size_t(member)];
  if (x.state == ModelEntry::Member::Loading || x.state == ModelEntry::Member::Loaded) return;
  x.state = ModelEntry::Member::Loading, x.progress = 0, x.error.clear();
  aec_js_fetch_member(model, member);
  publish();
}

namespace {

PageResult g_on_result;  // what the running page job does with the page's results

aec::CodecTimings timings_of(const json& j) {
  aec::CodecTimings t;
  if (!j.is_object()) return t;
  t.total_ms = j.value("total_ms", 0.0), t.network_ms = j.value("network_ms", 0.0);
  t.entropy_ms = j.value("entropy_ms", 0.0), t.refine_ms = j.value("refine_ms", 0.0);
  return t;
}

// The latent the page handed over (slot kSlotLatent, shape meta.latent) and its channels' bits.
void take_latent(CodecRun& run, const json& meta, std::vector<std::vector<uint8_t>>& slots) {
  const json& l = meta.at("latent");
  run.latent = latent_tensor(slots[kSlotLatent], l.at(0).get<int>(), l.at(1).get<int>(), l.at(2).get<int>());
  run.channel_bits = meta.at("channel_bits").get<std::vector<double>>();
}

}  // namespace

bool start_coding(const std::string& label, bool cancellable, const std::string& request,
                  PageResult on_result, const uint8_t* data, size_t size) {
  if (!start_page_job(label, cancellable)) return false;
  g_on_result = std::move(on_result);
  aec_js_code(request.c_str(), data, int(size));
  return true;
}

// The page's results for the running page job (api.cpp: aec_job_result).
void page_result(const std::string& meta, std::vector<std::vector<uint8_t>>& slots) {
  PageResult f = std::move(g_on_result);
  g_on_result = nullptr;
  if (!job_on_page() || !f) return;
  try {
    f(meta, slots);
  } catch (const std::exception& e) {
    job_end_page(false, e.what());
  }
}

namespace {

// A codec's run: the member that made the file (the page's meta.member) and its version.
void set_member(CodecRun& run, const json& meta) {
  run.member = meta.value("member", "");
  if (run.member.empty()) return;
  const ModelEntry* m = app().model_named(run.model);
  const int k = m ? m->member_named(run.member) : -1;
  if (k >= 0 && m->members[size_t(k)].model) run.model_id = m->members[size_t(k)].model->info().id;
}

// The page entry that decodes a file with this header: the model of its name and version, or a codec with a
// member of that name (whose version the package checks once the member is loaded).
bool decodes(const ModelEntry& m, const aec::BitstreamHeader& h) {
  if (m.codec) {
    const int k = m.member_named(h.model_name);
    if (k < 0) return false;
    const ModelEntry::Member& x = m.members[size_t(k)];
    return !x.model || x.model->info().is_version(h.model_hash);
  }
  return m.name == h.model_name && m.state == ModelEntry::Loaded && m.model &&
         m.model->info().is_version(h.model_hash);
}

}  // namespace

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
  auto image = a.original_view();
  auto run = std::make_shared<CodecRun>();
  const int effort = effort_for(*m);
  const double quality = quality_for(*m);
  run->image_serial = a.image_serial;
  run->model = m->name, run->model_id = m->id, run->effort = effort;
  run->width = image->width, run->height = image->height;
  std::string at = m->variable_rate ? " at quality " + fmt_quality(quality) : "";
  if (effort > 0) at += (at.empty() ? " at effort " : ", effort ") + std::to_string(effort);
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
                  std::to_string(a.original.height) +
                  ": choose the C++ core backend (it codes photos by tiles)");
      return false;
    }
    a.clear_error();
    run->backend = "ort";
    // ONNX Runtime runs the model's exported graphs; the package codes the latent between them (and refines
    // it at effort > 0: the search needs the synthesis transform's backward pass, which only the core has).
    // A codec runs the graphs of the member that serves the quality (the page asks the package which).
    const json req = {{"op", "ort"}, {"model", m->name}, {"quality", quality}, {"effort", effort}};
    const std::string by =
        m->codec ? m->name + " (" + m->members[size_t(m->member_at(quality))].name + ")" : m->name;
    return start_coding("Running " + by + " in ONNX Runtime Web" + at, effort > 0, req.dump(),
                        [run, image](const std::string& text, std::vector<std::vector<uint8_t>>& slots) {
                          const json meta = json::parse(text);
                          run->quality = meta.value("quality", 0.0);
                          set_member(*run, meta);
                          run->bytes = std::move(slots[kSlotFile]);
                          run->bpp = aec::bits_per_pixel(run->bytes.size(), run->width, run->height);
                          run->enc = timings_of(meta["encode"]), run->dec = timings_of(meta["decode"]);
                          take_latent(*run, meta, slots);
                          const json& x =
                              meta.at("x");  // the decoder graph's output, 3 x H x W floats (not clamped)
                          auto xt = std::make_shared<aec::Tensor>(latent_tensor(
                              slots[kSlotImage], x.at(0).get<int>(), x.at(1).get<int>(), x.at(2).get<int>()));
                          job_resume(
                              [run, image, xt] {
                                const double t0 = now_ms();
                                aec::require(xt->c == 3 && xt->w >= run->width && xt->h >= run->height,
                                             "the ONNX decoder's output is smaller than the image");
                                aec::Image full = aec::tensor_to_image(*xt);
                                run->recon = (full.width == run->width && full.height == run->height)
                                                 ? std::move(full)
                                                 : aec::crop(full, run->width, run->height);
                                run->dec.total_ms += now_ms() - t0;
                                finish_measuring(*run, *image);
                              },
                              [run] {
                                if (run->image_serial != app().image_serial)
                                  return;  // the image changed meanwhile
                                finish_run(std::move(*run));
                              });
                        });
  }
  // A photo the package codes by tiles: the bar shows its tiles (the encoder's, then the decoder's bands of
  // rows); else the refinement's progress at effort > 0.
  const bool photo =
      effort == 0 && target_bytes == 0 && aec::use_tiles(*m->model, image->width, image->height);
  run->backend = "core";
  run->target_bytes = target_bytes;
  a.clear_error();
  std::string label = target_bytes > 0 ? "Searching the quality for " + std::to_string(target_bytes) +
                                             " bytes with " + m->name
                                       : "Encoding and decoding with " + m->name + at;
  if (target_bytes > 0 && effort > 0) label += " at effort " + std::to_string(effort);
  label += photo ? " (C++ core, WASM, by tiles)" : " (C++ core, WASM)";
  const json req = {{"op", "encode"},   {"model", m->name},     {"quality", quality},
                    {"effort", effort}, {"size", target_bytes}, {"photo", photo}};
  return start_coding(label, effort > 0 || photo, req.dump(),
                      [run, image](const std::string& text, std::vector<std::vector<uint8_t>>& slots) {
                        const json meta = json::parse(text);
                        run->quality = meta.value("quality", 0.0);
                        set_member(*run, meta);
                        run->trials = meta.value("trials", 0);
                        run->bytes = std::move(slots[kSlotFile]);
                        run->bpp = aec::bits_per_pixel(run->bytes.size(), run->width, run->height);
                        run->enc = timings_of(meta["encode"]), run->dec = timings_of(meta["decode"]);
                        take_latent(*run, meta, slots);
                        auto rgba = std::make_shared<std::vector<uint8_t>>(std::move(slots[kSlotImage]));
                        job_resume(
                            [run, image, rgba] {
                              run->recon = rgba_image(*rgba, run->width, run->height);
                              finish_measuring(*run, *image);
                            },
                            [run] {
                              // A searched quality becomes the model's (the slider moves to it; later
                              // encodes use it).
                              App& a = app();
                              const int i = a.model_index(run->model);
                              if (run->target_bytes > 0 && i >= 0 && a.models[size_t(i)].variable_rate)
                                set_model_quality(i, run->quality);
                              finish_run(std::move(*run));
                            });
                      });
}

void action_open_aec(const uint8_t* data, size_t size, const std::string& name) {
  App& a = app();
  aec::Bitstream b;
  try {
    b = aec::parse_bitstream(data, size);
  } catch (const aec::Error& e) {
    a.set_error(name + ": " + e.what());
    return;
  }
  const aec::BitstreamHeader& h = b.header;
  const std::string id = aec::hash_hex(h.model_hash);
  int idx = -1;
  for (size_t i = 0; i < a.models.size(); ++i)
    if (a.models[i].state == ModelEntry::Loaded && decodes(a.models[i], h)) idx = int(i);
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
  // Measure against the current image when it has the file's size (e.g. the original it was made from).
  auto ref = std::make_shared<const aec::Image>();
  if (!a.from_aec && a.original.width == int(h.width) && a.original.height == int(h.height))
    ref = a.original_view();
  auto run = std::make_shared<CodecRun>();
  const std::string entry = a.models[size_t(idx)].name;  // a codec's name, or the model's
  run->model = entry, run->model_id = id, run->backend = "core", run->effort = -1;
  a.clear_error();
  const json req = {{"op", "decode"}, {"model", entry}, {"name", name}};
  start_coding(
      "Decoding " + name + " with " + h.model_name + (entry != h.model_name ? " (codec " + entry + ")" : ""),
      false, req.dump(),
      [run, ref, name](const std::string& text, std::vector<std::vector<uint8_t>>& slots) {
        const json meta = json::parse(text);
        run->quality = meta.value("quality", 0.0);
        set_member(*run, meta);
        run->width = meta.at("width").get<int>(), run->height = meta.at("height").get<int>();
        run->bytes = std::move(slots[kSlotFile]);
        run->bpp = aec::bits_per_pixel(run->bytes.size(), run->width, run->height);
        run->dec = timings_of(meta["decode"]);
        take_latent(*run, meta, slots);
        auto rgba = std::make_shared<std::vector<uint8_t>>(std::move(slots[kSlotImage]));
        job_resume(
            [run, ref, rgba] {
              run->recon = rgba_image(*rgba, run->width, run->height);
              finish_measuring(*run, *ref);
            },
            [run, name] {
              App& a = app();
              if (run->has_reference) {
                run->image_serial = a.image_serial;
                finish_run(std::move(*run));
                a.info = "opened " + name + " (PSNR against the current image)";
              } else {
                set_original(run->recon, name, {"decoded from an .aec file: no original to compare with"},
                             false);
                a.from_aec = true;
                run->image_serial = a.image_serial;
                finish_run(std::move(*run));
                a.info = "opened " + name;
              }
              a.view.right = 1;
            });
      },
      data, size);
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
  auto image = a.original_view();
  auto out = std::make_shared<CrossRun>();
  const ModelEntry& h = a.models[size_t(hi)];
  const int member = a.family_high_member(hi, med);
  out->family = family, out->high = h.name, out->medium = a.models[size_t(med)].name;
  out->high_model = member >= 0 ? h.members[size_t(member)].name : h.name;
  out->quality = a.family_quality(hi, med);
  out->image_serial = a.image_serial;
  a.clear_error();
  // The page: the original encoded by the high member and the 2x box-downscaled original by the medium one
  // (at the family's quality, for a variable-rate family); then high -> medium (the high file cross-decoded
  // by the medium member), its baseline (the same file decoded at full size by the high member), medium ->
  // high (the medium file cross-decoded by the high member) and its baseline (the medium file decoded by the
  // medium member itself, for the bicubic upscale). Where the high member is a codec's member, the page
  // codes the high path with that member's network (`high_member`), at its own quality for the family's.
  json req = {{"op", "cross"},
              {"high", out->high},
              {"medium", out->medium},
              {"quality", out->quality > 0 ? a.family_model_quality(hi, med, out->quality) : 0.0}};
  if (member >= 0) req["high_member"] = out->high_model;
  const std::string at = out->quality > 0 ? " at quality " + fmt_quality(out->quality) : "";
  return start_coding(
      "Cross-decoding in family " + family + at, false, req.dump(),
      [image, out](const std::string& text, std::vector<std::vector<uint8_t>>& slots) {
        const json meta = json::parse(text);
        const auto size = [&](const char* k) {
          return std::make_pair(meta.at(k).at(0).get<int>(), meta.at(k).at(1).get<int>());
        };
        out->ms = meta.value("ms", 0.0);
        out->h2m_bytes = meta.value("h2m_bytes", size_t(0));
        out->m2h_bytes = meta.value("m2h_bytes", size_t(0));
        out->h2m_quality = meta.value("h2m_quality", 0.0);
        out->m2h_quality = meta.value("m2h_quality", 0.0);
        out->h2m_decode_ms = meta.value("h2m_decode_ms", 0.0);
        out->h2m_full_decode_ms = meta.value("full_decode_ms", 0.0);
        out->m2h_decode_ms = meta.value("m2h_decode_ms", 0.0);
        out->m2h_own_decode_ms = meta.value("own_decode_ms", 0.0);
        out->m2h_up_decoder = meta.value("up_decoder", false);
        auto images = std::make_shared<std::vector<std::vector<uint8_t>>>(
            std::vector<std::vector<uint8_t>>{std::move(slots[kSlotImage]), std::move(slots[kSlotImage2]),
                                              std::move(slots[kSlotImage3]), std::move(slots[kSlotImage4])});
        const auto h2m = size("h2m"), m2h = size("m2h"), own = size("own"), full = size("full");
        job_resume(
            [image, out, images, h2m, m2h, own, full] {
              const double t0 = now_ms();
              out->h2m = rgba_image((*images)[0], h2m.first, h2m.second);
              out->h2m_ref = aec::downscale2x_box(*image);
              out->h2m_psnr = aec::psnr(out->h2m_ref, out->h2m);
              out->h2m_bpp = aec::bits_per_pixel(out->h2m_bytes, image->width, image->height);
              {
                // The baseline: the high member's full-size decode, box-downscaled as the reference is.
                const aec::Image decoded = rgba_image((*images)[3], full.first, full.second);
                const double t1 = now_ms();
                out->h2m_full_down = aec::downscale2x_box(decoded);
                out->h2m_downscale_ms = now_ms() - t1;
                out->h2m_full_psnr = aec::psnr(out->h2m_ref, out->h2m_full_down);
              }
              aec::Image up = rgba_image((*images)[1], m2h.first, m2h.second);
              if (up.width != image->width || up.height != image->height)
                up = aec::crop(up, image->width, image->height);
              out->m2h = std::move(up);
              out->m2h_psnr = aec::psnr(*image, out->m2h);
              // The baseline: the medium member's decode upscaled 2x bicubic, cropped to the original's size
              // (an odd side's half-size image is one pixel larger than half), as `aecodec rd` scores it.
              const aec::Image own_image = rgba_image((*images)[2], own.first, own.second);
              const double t2 = now_ms();
              aec::Image bicubic = aec::resize_bicubic(own_image, 2 * own_image.width, 2 * own_image.height);
              if (bicubic.width != image->width || bicubic.height != image->height)
                bicubic = aec::crop(bicubic, image->width, image->height);
              out->m2h_bicubic = std::move(bicubic);
              out->m2h_bicubic_ms = now_ms() - t2;
              out->m2h_bicubic_psnr = aec::psnr(*image, out->m2h_bicubic);
              out->m2h_bpp = aec::bits_per_pixel(out->m2h_bytes, out->h2m_ref.width, out->h2m_ref.height);
              out->ms += now_ms() - t0;
              out->valid = true;
            },
            [out] {
              App& a = app();
              out->t_h2m.upload(out->h2m);
              out->t_h2m_ref.upload(out->h2m_ref);
              out->t_h2m_full_down.upload(out->h2m_full_down);
              out->t_m2h.upload(out->m2h);
              out->t_m2h_bicubic.upload(out->m2h_bicubic);
              a.cross.release_textures();
              a.cross = std::move(*out);
            });
      });
}

}  // namespace web
