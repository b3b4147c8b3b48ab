// The C functions the page's JavaScript calls (web/app.js; the list is exports.txt). Strings returned point
// to a buffer that stays valid until the next call of the same function.
#include <emscripten.h>
#include <emscripten/heap.h>
#include <malloc.h>

#include <algorithm>
#include <cstring>

#include "aecodec/colour.h"
#include "aecodec/error.h"
#include "aecodec/file_io.h"
#include "aecodec/metrics.h"
#include "aecodec/parallel.h"
#include "aecodec/refine.h"
#include "app.h"

using nlohmann::json;
using namespace web;

namespace {

const char* keep(std::string& slot, std::string s) {
  slot = std::move(s);
  return slot.c_str();
}

json timings_json(const aec::CodecTimings& t) {
  return {{"total_ms", t.total_ms},
          {"network_ms", t.network_ms},
          {"entropy_ms", t.entropy_ms},
          {"refine_ms", t.refine_ms}};
}

json run_json(const CodecRun& r) {
  if (!r.valid) return nullptr;
  json j = {{"model", r.model},
            {"member", r.member.empty() ? json(nullptr) : json(r.member)},
            {"model_id", r.model_id},
            {"backend", r.backend},
            {"effort", r.effort >= 0 ? json(r.effort) : json(nullptr)},
            {"quality", r.quality > 0 ? json(r.quality) : json(nullptr)},
            {"target_bytes", r.target_bytes > 0 ? json(r.target_bytes) : json(nullptr)},
            {"trials", r.target_bytes > 0 ? json(r.trials) : json(nullptr)},
            {"width", r.width},
            {"height", r.height},
            {"bytes", r.bytes.size()},
            {"bpp", r.bpp},
            {"has_reference", r.has_reference},
            {"encode_ms", r.enc.total_ms},
            {"decode_ms", r.dec.total_ms},
            {"encode", timings_json(r.enc)},
            {"decode", timings_json(r.dec)},
            {"latent", {r.latent.c, r.latent.h, r.latent.w}},
            {"channel_bits", r.channel_bits}};
  if (r.has_reference)
    j["psnr"] = r.psnr, j["ms_ssim"] = r.ms_ssim;
  else
    j["psnr"] = nullptr, j["ms_ssim"] = nullptr;
  return j;
}

json compare_json(const CompareRun& c) {
  if (!c.valid) return nullptr;
  return {{"codec", c.codec},
          {"bytes", c.bytes},
          {"target_bytes", c.target_bytes},
          {"quality", c.quality},
          {"bpp", c.bpp},
          {"psnr", c.psnr},
          {"ms_ssim", c.ms_ssim},
          {"at_min_quality", c.at_min_quality}};
}

// Agreement of the two backends' reconstructions of the same image with the same model.
json agreement_json(App& a) {
  CodecRun* o = a.other_run();
  if (!o) return nullptr;
  const CodecRun& l = a.last();
  const CodecRun& core = l.backend == "core" ? l : *o;
  const CodecRun& ort = l.backend == "ort" ? l : *o;
  int max_diff = 0;
  for (size_t i = 0; i < core.recon.rgb.size() && i < ort.recon.rgb.size(); ++i)
    max_diff = std::max(max_diff, std::abs(int(core.recon.rgb[i]) - int(ort.recon.rgb[i])));
  const double p = aec::psnr(core.recon, ort.recon);
  return {{"psnr_between", std::isinf(p) ? json(nullptr) : json(p)},
          {"identical_images", std::isinf(p)},
          {"identical_bytes", core.bytes == ort.bytes},
          {"max_abs_diff", max_diff},
          {"bpp_diff", ort.bpp - core.bpp},
          {"psnr_diff", ort.psnr - core.psnr}};
}

json render_json(const RenderInfo& r) {
  return {{"frames", r.frames},   {"progress_frames", r.progress_frames},
          {"dpr", r.dpr},         {"width", r.width},
          {"height", r.height},   {"framebuffer", {r.fb_width, r.fb_height}},
          {"font_px", r.font_px}, {"font_device_px", r.font_px * r.dpr}};
}

json rect_json(const ImVec4& r) {
  return r.z > r.x && r.w > r.y ? json{r.x, r.y, r.z, r.w} : json(nullptr);
}

json layout_json(const LayoutState& l) {
  return {{"narrow", l.narrow},
          {"title", rect_json(l.title)},
          {"status", rect_json(l.status)},
          {"top_bar", rect_json(l.top_bar)},
          {"view", rect_json(l.view)},
          {"panel", rect_json(l.panel)},
          {"panel_scroll", {l.panel_scroll, l.panel_scroll_max}}};
}

// The WASM heap: its size (it only grows, so this is the peak the page reached) and what malloc holds now.
json memory_json() {
  const struct mallinfo mi = mallinfo();
  return {{"heap_bytes", double(emscripten_get_heap_size())},
          {"heap_max_bytes", double(emscripten_get_heap_max())},
          {"in_use_bytes", double(size_t(unsigned(mi.uordblks)))}};
}

// The textures of the original (tiles within MAX_TEXTURE_SIZE, an overview for a photo).
json textures_json(const Texture& t) {
  if (!t.valid()) return nullptr;
  return {{"tiles", t.tiles.size()},
          {"tile_side", max_texture_side()},
          {"overview", t.overview ? json{t.ov_w, t.ov_h} : json(nullptr)}};
}

// The split viewer as the last drawn frame showed it.
json view_json(const App& a) {
  static const char* tabs[] = {"compare", "latent", "cross-decode", "about"};
  const ViewState& v = a.view;
  const bool shown = a.tab == 0;
  return {{"tab", tabs[std::clamp(a.tab, 0, 3)]},
          {"zoom", v.zoom},
          {"center", {v.cx, v.cy}},
          {"divider", v.divider},
          {"pixel_grid", shown && v.pixel_grid},
          {"drawn", shown ? json(v.overview ? "overview" : "tiles") : json(nullptr)},
          {"textures", textures_json(a.original_tex)},
          {"touch", a.touch},
          {"canvas", shown ? rect_json(v.canvas_rect) : json(nullptr)},
          {"image", shown ? rect_json(v.image_rect) : json(nullptr)},
          {"hover", shown && v.hover_x >= 0 ? json{v.hover_x, v.hover_y} : json(nullptr)}};
}

// The side panel's encoder controls as the last drawn frame showed them.
json controls_json(const App& a) {
  const ControlsState& c = a.controls;
  const ModelEntry* cur = a.current_model();
  return {{"model", rect_json(c.model_rect)},
          {"level", rect_json(c.member_rect)},
          {"cross_quality", rect_json(c.cross_quality_rect)},
          {"cross_run", rect_json(c.cross_run_rect)},
          {"open", rect_json(c.open_rect)},
          {"encode", rect_json(c.encode_rect)},
          {"quality", rect_json(c.quality_rect)},
          {"target_size", rect_json(c.size_rect)},
          {"fit", rect_json(c.fit_rect)},
          {"effort",
           {{"rect", rect_json(c.effort_rect)},
            {"enabled", c.effort_enabled},
            {"note", cur && !cur->refinable ? cur->effort_note : std::string()}}}};
}

// The last cross-decode: both paths with their baselines (app.h: CrossRun). A quality is null for a
// single-rate family.
json cross_json(const CrossRun& c) {
  if (!c.valid) return nullptr;
  const auto q = [](double v) { return v > 0 ? json(v) : json(nullptr); };
  const double full_ms = c.h2m_full_decode_ms + c.h2m_downscale_ms;
  const double bicubic_ms = c.m2h_own_decode_ms + c.m2h_bicubic_ms;
  return {{"family", c.family},
          {"high", c.high},
          {"high_model", c.high_model},
          {"medium", c.medium},
          {"quality", q(c.quality)},
          {"high_to_medium",
           {{"psnr", c.h2m_psnr},
            {"bytes", c.h2m_bytes},
            {"bpp", c.h2m_bpp},
            {"quality", q(c.h2m_quality)},
            {"width", c.h2m.width},
            {"height", c.h2m.height},
            {"reference", "downscale2x_box(original)"},
            {"decode_ms", c.h2m_decode_ms},
            {"full_decode",
             {{"psnr", c.h2m_full_psnr},
              {"width", c.h2m_full_down.width},
              {"height", c.h2m_full_down.height},
              {"decode_ms", c.h2m_full_decode_ms},
              {"downscale_ms", c.h2m_downscale_ms},
              {"ms", full_ms}}},
            {"gain_db", c.h2m_psnr - c.h2m_full_psnr},
            {"time_ratio", full_ms > 0 ? json(c.h2m_decode_ms / full_ms) : json(nullptr)}}},
          {"medium_to_high",
           {{"psnr", c.m2h_psnr},
            {"bicubic_psnr", c.m2h_bicubic_psnr},
            {"gain_db", c.m2h_psnr - c.m2h_bicubic_psnr},
            {"bytes", c.m2h_bytes},
            {"bpp", c.m2h_bpp},
            {"quality", q(c.m2h_quality)},
            {"width", c.m2h.width},
            {"height", c.m2h.height},
            {"reference", "original"},
            {"decode_ms", c.m2h_decode_ms},
            {"decoder", c.m2h_up_decoder ? "up_decoder" : "high"},
            {"bicubic",
             {{"decode_ms", c.m2h_own_decode_ms}, {"upscale_ms", c.m2h_bicubic_ms}, {"ms", bicubic_ms}}}}},
          {"ms", c.ms}};
}

// What the page hands back for a page job (aec_job_slot), by slot (app.h: Slot).
std::vector<std::vector<uint8_t>> g_slots(kSlots);
// The 2x box-downscaled original, while the page reads it (aec_image_rgb).
aec::Image g_half;

// The EXIF orientation of the JPEG that aec_open_file last handed to the browser (which turns it itself), for
// aec_set_image_rgba's note.
int g_browser_orientation = 1;

}  // namespace

extern "C" {

EMSCRIPTEN_KEEPALIVE const char* aec_state_json() {
  static std::string out;
  App& a = app();
  json models = json::array();
  const std::vector<ModelGroup> groups = model_groups(a.models);
  json groups_json = json::array();
  for (const ModelGroup& g : groups) {
    json names = json::array();
    for (int i : g.members) names.push_back(a.models[size_t(i)].name);
    groups_json.push_back({{"kind", g.kind}, {"name", g.name}, {"models", names}});
  }
  for (size_t mi = 0; mi < a.models.size(); ++mi) {
    const ModelEntry& m = a.models[mi];
    const int gi = group_of(groups, int(mi));
    json j = {{"name", m.name},
              {"arch", m.arch},
              {"id", m.id},
              {"stride", m.stride},
              {"state", m.state == ModelEntry::Loaded   ? "loaded"
                        : m.state == ModelEntry::Failed ? "failed"
                                                        : "loading"},
              {"error", m.error},
              {"onnx", m.ort_available()},
              {"onnx_error", m.ort_error},
              {"max_effort", m.refinable ? aec::kMaxEffort : 0},
              {"effort_note", m.effort_note},
              {"variable_rate", m.variable_rate},
              {"default_quality", m.variable_rate ? json(m.default_quality) : json(nullptr)},
              {"quality", m.variable_rate ? json(m.quality) : json(nullptr)},
              {"lambdas", m.lambdas},
              {"description", m.description}};
    if (!m.family_id.empty()) {
      j["family"] = {{"id", m.family_id}, {"role", m.role}};
      if (!m.family_high.empty())
        j["family"]["high"] = {
            {"name", m.family_high}, {"id", m.family_high_id}, {"stride", m.family_high_stride}};
      if (!m.family_member.empty()) j["family"]["member"] = m.family_member;
    }
    if (!m.families.empty()) {
      json fs = json::array();
      for (const ModelEntry::CodecFamily& f : m.families) fs.push_back({{"id", f.id}, {"member", f.member}});
      j["families"] = fs;
    }
    if (m.codec) {
      static const char* states[] = {"idle", "loading", "loaded", "failed"};
      json members = json::array();
      for (size_t k = 0; k < m.members.size(); ++k) {
        const ModelEntry::Member& x = m.members[k];
        json e = {{"name", x.name},
                  {"file", x.file},
                  {"bytes", x.file_bytes},
                  {"state", states[x.state]},
                  {"progress", x.progress},
                  {"error", x.error},
                  {"id", x.model ? json(x.model->info().id) : json(nullptr)}};
        e["onnx"] = x.has_onnx();
        if (k < m.manifest.members.size()) {
          const aec::CodecMember& c = m.manifest.members[k];
          e["quality"] = {c.from, c.to}, e["model_quality"] = {c.member_from, c.member_to};
        }
        members.push_back(e);
      }
      j["codec"] = {{"file", m.file}, {"members", members}};
    }
    if (gi >= 0) j["group"] = {{"kind", groups[size_t(gi)].kind}, {"name", groups[size_t(gi)].name}};
    if (m.fixed_w) j["input_size"] = {m.fixed_w, m.fixed_h};
    models.push_back(j);
  }
  const ModelEntry* cur = a.current_model();
  json j = {
      {"threads", a.threads},
      {"threaded", a.threaded},
      {"models", models},
      {"groups", groups_json},
      {"model", cur ? json(cur->name) : json(nullptr)},
      {"group", cur && group_of(groups, a.selected_model) >= 0
                    ? json(groups[size_t(group_of(groups, a.selected_model))].name)
                    : json(nullptr)},
      {"backend", a.backend},
      {"effort", a.effort},
      {"quality", cur && cur->variable_rate ? json(cur->quality) : json(nullptr)},
      {"member", cur && cur->codec && cur->variable_rate
                     ? json(cur->members[size_t(cur->member_at(cur->quality))].name)
                     : json(nullptr)},
      {"controls", controls_json(a)},
      {"busy", job_busy() || g_js_busy > 0},
      {"busy_label", job_busy() ? job_label() : g_js_busy_label},
      {"progress", job_progress() >= 0 ? json(job_progress()) : json(nullptr)},
      {"cancellable", job_cancellable() && !job_cancelling()},
      {"completed", a.completed},
      {"cancelled", a.cancelled},
      {"error", a.error},
      {"error_serial", a.error_serial},
      {"info", a.info},
      {"image", a.original.width ? json{{"name", a.image_name},
                                        {"width", a.original.width},
                                        {"height", a.original.height},
                                        {"serial", a.image_serial},
                                        {"from_aec", a.from_aec},
                                        {"notes", a.image_notes}}
                                 : json(nullptr)},
      {"result", run_json(a.last())},
      {"core", run_json(a.core_run)},
      {"ort", run_json(a.ort_run)},
      {"agreement", agreement_json(a)},
      {"jpeg", compare_json(a.jpeg)},
      {"webp", compare_json(a.webp)},
      {"limits", {{"max_side", kMaxSide}, {"max_pixels", kMaxPixels}, {"ort_max_pixels", kOrtMaxPixels}}},
      {"render", render_json(a.render)},
      {"layout", layout_json(a.layout)},
      {"memory", memory_json()},
      {"view", view_json(a)}};
  j["cross"] = cross_json(a.cross);
  std::string fam;
  int hi, med;
  const bool pair = a.family_pair(fam, hi, med);
  j["family"] = pair ? json(fam) : json(nullptr);
  j["cross_family"] = nullptr;
  if (pair) {
    // The pair the Cross-decode tab codes with, the model of the high path (a codec's member, or the high
    // entry's own) and the qualities its slider spans (null for a single-rate family).
    const int k = a.family_high_member(hi, med);
    double lo = 0, up = 0;
    const bool vr = a.cross_span(hi, med, lo, up);
    j["cross_family"] = {
        {"id", fam},
        {"high", a.models[size_t(hi)].name},
        {"high_model", k >= 0 ? a.models[size_t(hi)].members[size_t(k)].name : a.models[size_t(hi)].name},
        {"medium", a.models[size_t(med)].name},
        {"quality", vr ? json(a.family_quality(hi, med)) : json(nullptr)},
        {"qualities", vr ? json::array({lo, up}) : json(nullptr)}};
  }
  return keep(out, j.dump());
}

// Models: the manifest (web/stage.mjs writes it), then each file's bytes or the reason it failed.
EMSCRIPTEN_KEEPALIVE int aec_set_manifest(const char* text) {
  App& a = app();
  try {
    const json m = json::parse(text);
    a.models.clear();
    for (const json& e : m.at("models")) {
      ModelEntry me;
      me.name = e.at("name").get<std::string>();
      me.file = e.value("file", "");
      me.arch = e.value("arch", "");
      me.description = e.value("description", "");
      me.file_bytes = e.value("bytes", size_t(0));
      if (e.contains("family") && e["family"].is_object()) {
        const json& f = e["family"];
        me.family_id = f.value("id", "");
        me.role = f.value("role", "");
        me.family_member = f.value("member", "");
        if (e.contains("families") && e["families"].is_array())
          for (const json& x : e["families"])
            if (x.is_object()) me.families.push_back({x.value("id", ""), x.value("member", "")});
        if (f.contains("high") && f["high"].is_object()) {
          me.family_high = f["high"].value("name", "");
          me.family_high_id = f["high"].value("id", "");
          me.family_high_stride = f["high"].value("stride", 0);
        }
      }
      if (e.contains("onnx") && e["onnx"].is_object()) {
        me.encoder_onnx = e["onnx"].value("encoder", "");
        me.decoder_onnx = e["onnx"].value("decoder", "");
      }
      if (e.value("codec", false)) {
        me.codec = true;
        for (const json& x : e.at("members")) {
          ModelEntry::Member mm;
          mm.name = x.at("name").get<std::string>();
          mm.file = x.value("file", "");
          mm.file_bytes = x.value("bytes", size_t(0));
          if (x.contains("onnx") && x["onnx"].is_object()) {
            mm.encoder_onnx = x["onnx"].value("encoder", "");
            mm.decoder_onnx = x["onnx"].value("decoder", "");
          }
          me.members.push_back(mm);
        }
      }
      a.models.push_back(me);
    }
    a.manifest_note = m.value("note", "");
    a.manifest_loaded = true;
    const std::string def = m.value("default", "");
    a.selected_model = a.models.empty() ? -1 : std::max(0, a.model_index(def));
    publish();
    return int(a.models.size());
  } catch (const std::exception& e) {
    a.set_error(std::string("bad model manifest: ") + e.what());
    return -1;
  }
}

EMSCRIPTEN_KEEPALIVE int aec_model_bytes(int index, const uint8_t* data, int size) {
  App& a = app();
  if (index < 0 || index >= int(a.models.size())) return -1;
  ModelEntry& m = a.models[size_t(index)];
  try {
    auto model =
        std::make_shared<aec::Model>(aec::Model::from_file(aec::ModelFile::parse(data, size_t(size))));
    const aec::ModelInfo& i = model->info();
    if (i.name != m.name)
      throw aec::Error("the file holds model '" + i.name + "', the manifest says '" + m.name + "'");
    m.id = i.id, m.arch = i.arch, m.stride = i.stride, m.latent_channels = i.latent_channels;
    m.fixed_w = i.fixed_width, m.fixed_h = i.fixed_height;
    // The file's family, when it names one; a model in no family keeps the manifest's (the high member of a
    // family built on it, which the site's manifest marks).
    if (!i.family_id.empty()) {
      m.family_id = i.family_id, m.role = i.family_role, m.family_member.clear();
      m.family_high = i.family_high, m.family_high_id = i.family_high_id;
      m.family_high_stride = i.family_high_stride;
    }
    if (m.description.empty()) m.description = i.description;
    m.variable_rate = model->variable_rate();
    m.lambdas = i.lambdas;
    m.default_quality = m.quality = m.variable_rate ? i.default_quality : 0;
    // A variable-rate model refines at each quality's lambda: asked of the network at its default quality.
    m.effort_note = m.variable_rate ? aec::refine_refusal(model->at_quality(i.default_quality))
                                    : aec::refine_refusal(*model);
    m.refinable = m.effort_note.empty();
    m.model = model;
    m.state = ModelEntry::Loaded;
    m.file_bytes = size_t(size);
    publish();
    return 0;
  } catch (const std::exception& e) {
    m.state = ModelEntry::Failed;
    m.error = e.what();
    publish();
    return -1;
  }
}

EMSCRIPTEN_KEEPALIVE void aec_model_failed(int index, const char* why) {
  App& a = app();
  if (index < 0 || index >= int(a.models.size())) return;
  a.models[size_t(index)].state = ModelEntry::Failed;
  a.models[size_t(index)].error = why;
  publish();
}

// A codec entry's manifest (NAME.codec.json), read and checked by the core (aec::CodecManifest): the knob's
// spans and members. Returns the member the default quality needs (the page fetches it with the page), or -1
// when the manifest is refused (the entry fails with the core's message).
EMSCRIPTEN_KEEPALIVE int aec_codec_manifest(int index, const char* text) {
  App& a = app();
  if (index < 0 || index >= int(a.models.size()) || !a.models[size_t(index)].codec) return -1;
  ModelEntry& m = a.models[size_t(index)];
  try {
    aec::CodecManifest cm = aec::CodecManifest::parse(text);
    // The members the site staged, in the manifest's order (the core's member indices).
    std::vector<ModelEntry::Member> members;
    for (const aec::CodecMember& c : cm.members) {
      const int k = m.member_named(c.model);
      aec::require(k >= 0, "codec '" + cm.name + "': member '" + c.model + "' is not on this site");
      members.push_back(m.members[size_t(k)]);
    }
    m.members = std::move(members);
    if (m.description.empty()) m.description = cm.description;
    m.manifest = std::move(cm);
    m.variable_rate = true;
    m.default_quality = m.quality = m.manifest.default_quality;
    m.follow_quality();
    publish();
    return m.member_at(m.default_quality);
  } catch (const std::exception& e) {
    m.state = ModelEntry::Failed;
    m.error = e.what();
    publish();
    return -1;
  }
}

// A codec member's download: state 1 loading (progress 0..1), 3 failed (`why`).
EMSCRIPTEN_KEEPALIVE void aec_member_state(int index, int member, int state, double progress,
                                           const char* why) {
  App& a = app();
  if (index < 0 || index >= int(a.models.size())) return;
  ModelEntry& m = a.models[size_t(index)];
  if (member < 0 || member >= int(m.members.size())) return;
  ModelEntry::Member& x = m.members[size_t(member)];
  if (x.state == ModelEntry::Member::Loaded) return;
  x.state = state == 3 ? ModelEntry::Member::Failed : ModelEntry::Member::Loading;
  x.progress = std::clamp(progress, 0.0, 1.0);
  x.error = state == 3 && why ? why : "";
  // The default quality's member failing fails the entry.
  if (state == 3 && m.state == ModelEntry::Loading && member == m.member_at(m.default_quality))
    m.state = ModelEntry::Failed, m.error = x.name + ": " + x.error;
  publish();
}

// A codec member's model file. The entry takes its description from the first member that arrives (the
// default quality's). Returns 0, or -1 (the member fails with the reason).
EMSCRIPTEN_KEEPALIVE int aec_member_bytes(int index, int member, const uint8_t* data, int size) {
  App& a = app();
  if (index < 0 || index >= int(a.models.size())) return -1;
  ModelEntry& m = a.models[size_t(index)];
  if (member < 0 || member >= int(m.members.size())) return -1;
  ModelEntry::Member& x = m.members[size_t(member)];
  try {
    auto model =
        std::make_shared<aec::Model>(aec::Model::from_file(aec::ModelFile::parse(data, size_t(size))));
    const aec::ModelInfo& i = model->info();
    if (i.name != x.name)
      throw aec::Error("the file holds model '" + i.name + "', the codec's manifest says '" + x.name + "'");
    if (!model->variable_rate())
      throw aec::Error("model '" + i.name + "' is single-rate; a codec's members need a quality knob");
    x.model = model;
    x.state = ModelEntry::Member::Loaded;
    x.progress = 1;
    x.file_bytes = size_t(size);
    if (m.state != ModelEntry::Loaded) {
      m.id = i.id, m.arch = i.arch, m.stride = i.stride, m.latent_channels = i.latent_channels;
      m.effort_note = aec::refine_refusal(model->at_quality(i.default_quality));
      m.refinable = m.effort_note.empty();
      m.model = model;
      m.state = ModelEntry::Loaded;
    }
    publish();
    return 0;
  } catch (const std::exception& e) {
    x.state = ModelEntry::Member::Failed;
    x.error = e.what();
    if (m.state == ModelEntry::Loading) m.state = ModelEntry::Failed, m.error = x.name + ": " + x.error;
    publish();
    return -1;
  }
}

// The running page job's label (the page downloading a codec member the job needs).
EMSCRIPTEN_KEEPALIVE void aec_job_label(const char* label) {
  job_set_label(label);
}

EMSCRIPTEN_KEEPALIVE void aec_set_ort_error(const char* model, const char* why) {
  App& a = app();
  const int i = a.model_index(model);
  if (i >= 0) a.models[size_t(i)].ort_error = why;
  publish();
}

EMSCRIPTEN_KEEPALIVE int aec_select(const char* model, const char* backend) {
  App& a = app();
  if (model && *model) {
    int i = a.model_index(model);
    if (i < 0) {  // a group's name (a codec with levels, a family): what its picker entry selects
      for (const ModelGroup& g : model_groups(a.models))
        if (g.name == model) i = default_member(g);
    }
    if (i < 0) {
      a.set_error(std::string("no model '") + model + "' on this page");
      return -1;
    }
    a.selected_model = i;
  }
  if (backend && *backend) {
    const std::string b = backend;
    if (b != "core" && b != "ort") {
      a.set_error("unknown backend '" + b + "' (core or ort)");
      return -1;
    }
    a.backend = b;
  }
  publish();
  return 0;
}

// The encoder effort of the next encodes (0 .. aec::kMaxEffort; models that cannot refine use 0).
EMSCRIPTEN_KEEPALIVE int aec_set_effort(int effort) {
  App& a = app();
  if (effort < 0 || effort > aec::kMaxEffort) {
    a.set_error("effort " + std::to_string(effort) + " is out of range (0 to " +
                std::to_string(aec::kMaxEffort) + ")");
    return -1;
  }
  a.effort = effort;
  publish();
  return 0;
}

// The quality of the next encodes with the selected model, which must be variable-rate: Q from 1 to 100
// (hundredths; the model keeps its own, starting at its default).
EMSCRIPTEN_KEEPALIVE int aec_set_quality(double quality) {
  App& a = app();
  ModelEntry* m = a.selected_model >= 0 && a.selected_model < int(a.models.size())
                      ? &a.models[size_t(a.selected_model)]
                      : nullptr;
  if (!m || m->state != ModelEntry::Loaded) {
    a.set_error(m ? "model '" + m->name + "' is not loaded" : std::string("no model selected"));
    return -1;
  }
  if (!m->variable_rate) {
    a.set_error("model '" + m->name + "' is single-rate: it has no quality knob");
    return -1;
  }
  if (!(quality >= 1 && quality <= 100)) {
    a.set_error("quality must be a number from 1 to 100, not " + std::to_string(quality));
    return -1;
  }
  set_model_quality(a.selected_model, std::round(quality * 100) / 100);  // what the file records (Q x 100)
  publish();
  return 0;
}

// The quality of the next cross-decodes (and encodes with its members) of the family the cross-decode tab
// shows, which must be variable-rate: Q from 1 to 100 (hundredths), both members'.
EMSCRIPTEN_KEEPALIVE int aec_set_cross_quality(double quality) {
  App& a = app();
  std::string family;
  int hi = -1, med = -1;
  if (!a.family_pair(family, hi, med)) {
    a.set_error("no cross-resolution family loaded");
    return -1;
  }
  double lo = 0, up = 0;
  if (!a.cross_span(hi, med, lo, up)) {
    a.set_error("family " + family + " is single-rate: it has no quality knob");
    return -1;
  }
  if (!(quality >= 1 && quality <= 100)) {
    a.set_error("quality must be a number from 1 to 100, not " + std::to_string(quality));
    return -1;
  }
  const double q = std::round(quality * 100) / 100;
  if (q < lo || q > up) {
    // A family built on a codec's member: the codec uses that member only for part of its knob.
    const ModelEntry& h = a.models[size_t(hi)];
    a.set_error("family " + family + " takes quality " + fmt_quality(lo) + " to " + fmt_quality(up) +
                ", where codec '" + h.name + "' codes with its member '" +
                h.members[size_t(a.family_high_member(hi, med))].name + "', not " + fmt_quality(q));
    return -1;
  }
  set_cross_quality(hi, q);
  publish();
  return 0;
}

// Encodes with the selected variable-rate model at the largest quality whose file has at most `bytes` bytes
// (aec::encode_to_size; the C++ core backend); the model's quality becomes the one found.
EMSCRIPTEN_KEEPALIVE int aec_encode_to_size(double bytes) {
  App& a = app();
  if (!(bytes >= 1 && bytes <= 1e12) || bytes != std::floor(bytes)) {
    a.set_error("target size must be a whole number of bytes, not " + std::to_string(bytes));
    return -1;
  }
  return action_encode(uint64_t(bytes)) ? 0 : -1;
}

// Asks the running encode to stop (at its next progress report); 0 when there was one to cancel.
EMSCRIPTEN_KEEPALIVE int aec_cancel() {
  return job_cancel() ? 0 : -1;
}

EMSCRIPTEN_KEEPALIVE int aec_encode() {
  return action_encode() ? 0 : -1;
}
EMSCRIPTEN_KEEPALIVE int aec_cross_decode() {
  return action_cross_decode() ? 0 : -1;
}
EMSCRIPTEN_KEEPALIVE int aec_busy() {
  return job_busy() || g_js_busy > 0;
}
EMSCRIPTEN_KEEPALIVE int aec_completed() {
  return app().completed;
}

EMSCRIPTEN_KEEPALIVE void aec_set_error(const char* message) {
  app().set_error(message);
}

EMSCRIPTEN_KEEPALIVE void aec_set_js_busy(int delta, const char* label) {
  if (g_js_busy == 0 && delta > 0) g_js_busy_started = now_ms();
  g_js_busy = std::max(0, g_js_busy + delta);
  if (delta > 0) g_js_busy_label = label;
  publish();
}

EMSCRIPTEN_KEEPALIVE void aec_set_view(int tab) {
  if (tab >= 0 && tab <= 3) app().request_tab = tab;
  publish();
}

// Opens a file's bytes: an .aec file is decoded; PNG, JPEG, BMP and TGA are decoded by stb_image (as the CLI
// does, so the numbers match it). Returns 0 when handled (or when it failed with the error shown), 1 when the
// page should try the browser's image decoder (WebP, GIF, AVIF, ...), 2 when a PNG or JPEG embeds an ICC
// profile: the core has no colour management here (Little CMS is not in the WebAssembly build), so the page
// decodes it with the browser's, which converts the profile to sRGB as the CLI does with Little CMS.
EMSCRIPTEN_KEEPALIVE int aec_open_file(const uint8_t* data, int size, const char* name, int auto_encode) {
  App& a = app();
  const std::string n = name;
  if (size >= 4 && std::memcmp(data, "AEC\x1A", 4) == 0) {
    action_open_aec(data, size_t(size), n);
    return 0;
  }
  const bool png = size >= 8 && std::memcmp(data, "\x89PNG\r\n\x1a\n", 8) == 0;
  const bool jpeg = size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF;
  const bool bmp = size >= 2 && data[0] == 'B' && data[1] == 'M';
  const std::string lower = [&] {
    std::string s = n;
    for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
  }();
  const bool tga = lower.size() > 4 && lower.compare(lower.size() - 4, 4, ".tga") == 0;
  if (!png && !jpeg && !bmp && !tga) return 1;
  if (job_busy() || g_js_busy) {
    a.set_error("busy: wait for the current work to finish");
    return 0;
  }
  // An sRGB profile (what browsers' encoders and many cameras embed) needs nothing: the core decodes the
  // file, as the CLI does. A profile the header says is broken, CMYK or the like is ignored by the core, with
  // the reason in the note (a browser would ignore it too, without saying so).
  if ((png || jpeg) && !aec::colour_management_available() && aec::has_icc_profile(data, size_t(size))) {
    const aec::EmbeddedIcc icc = aec::embedded_icc_profile(data, size_t(size));
    if (!icc.bytes.empty() &&
        aec::check_icc_header(icc.bytes.data(), icc.bytes.size(), true).result ==
            aec::IccConversion::unavailable &&
        !aec::icc_profile_is_srgb(icc.bytes.data(), icc.bytes.size())) {
      g_browser_orientation = jpeg ? aec::jpeg_exif_orientation(data, size_t(size)) : 1;
      return 2;
    }
  }
  try {
    aec::LoadedImageInfo li;
    aec::Image im = aec::decode_image(data, size_t(size), page_limits(), aec::AlphaPolicy::drop, &li);
    std::vector<std::string> notes;
    if (li.converted_grey) notes.push_back("greyscale image coded as RGB");
    if (li.dropped_alpha) notes.push_back("alpha channel dropped");
    // As the CLI's notes (aecodec encode).
    if (li.orientation != 1)
      notes.push_back("EXIF orientation " + std::to_string(li.orientation) +
                      " applied (the image was turned the right way up)");
    const std::string profile = li.icc_name.empty() ? "" : " ('" + li.icc_name + "')";
    if (li.converted_icc)
      notes.push_back("colours converted to sRGB from the embedded ICC profile" + profile);
    if (li.ignored_icc)
      notes.push_back(
          "the image's embedded ICC colour profile" + profile + " was ignored (" + li.icc_note +
          "): its colours were taken as sRGB (a wide-gamut photo, e.g. Display P3, comes out less "
          "saturated)");
    set_original(std::move(im), n, notes, auto_encode != 0);
  } catch (const std::exception& e) {
    a.set_error(n + ": " + e.what());
  }
  return 0;
}

// An image the browser decoded (RGBA, straight alpha, converted to sRGB by its colour management); `icc` 1:
// a PNG or JPEG with an ICC profile that aec_open_file handed over (returned 2).
EMSCRIPTEN_KEEPALIVE int aec_set_image_rgba(const uint8_t* rgba, int w, int h, const char* name,
                                            int auto_encode, int icc) {
  App& a = app();
  if (w <= 0 || h <= 0) {
    a.set_error(std::string(name) + ": empty image");
    return -1;
  }
  if (w > kMaxSide || h > kMaxSide || int64_t(w) * h > kMaxPixels) {
    a.set_error(std::string(name) + ": " + std::to_string(w) + "x" + std::to_string(h) +
                " is over the page's limit (" + std::to_string(kMaxSide) + " px a side, " +
                std::to_string(kMaxPixels >> 20) + " Mpx)");
    return -1;
  }
  if (job_busy() || g_js_busy > 1) {  // the page holds one busy count while it decodes
    a.set_error("busy: wait for the current work to finish");
    return -1;
  }
  aec::Image im(w, h);
  bool alpha = false;
  for (size_t i = 0; i < size_t(w) * h; ++i) {
    im.rgb[i * 3] = rgba[i * 4], im.rgb[i * 3 + 1] = rgba[i * 4 + 1], im.rgb[i * 3 + 2] = rgba[i * 4 + 2];
    alpha |= rgba[i * 4 + 3] != 255;
  }
  std::vector<std::string> notes = {"decoded by the browser"};
  if (icc) {
    if (g_browser_orientation != 1)
      notes.push_back("EXIF orientation " + std::to_string(g_browser_orientation) +
                      " applied (the image was turned the right way up)");
    notes.push_back(
        "colours converted to sRGB from the embedded ICC profile by the browser's colour management");
  }
  if (alpha) notes.push_back("alpha channel dropped");
  set_original(std::move(im), name, notes, auto_encode != 0);
  return 0;
}

// RGBA copy of an image for the page (0 original, 1 last reconstruction); width/height via the state. -1
// frees the copy (4 bytes a pixel: 96 MB of a 24 Mpx photo) once the page has its own.
EMSCRIPTEN_KEEPALIVE const uint8_t* aec_image_rgba(int which) {
  static std::vector<uint8_t> buf;
  App& a = app();
  if (which < 0) {
    std::vector<uint8_t>().swap(buf);
    return nullptr;
  }
  const aec::Image& im = which == 0 ? a.original : a.last().recon;
  buf.resize(size_t(im.width) * im.height * 4);
  for (size_t i = 0; i < size_t(im.width) * im.height; ++i) {
    buf[i * 4] = im.rgb[i * 3], buf[i * 4 + 1] = im.rgb[i * 3 + 1], buf[i * 4 + 2] = im.rgb[i * 3 + 2];
    buf[i * 4 + 3] = 255;
  }
  return buf.data();
}

EMSCRIPTEN_KEEPALIVE const uint8_t* aec_result_bytes() {
  return app().last().bytes.data();
}
EMSCRIPTEN_KEEPALIVE int aec_result_size() {
  return int(app().last().bytes.size());
}

EMSCRIPTEN_KEEPALIVE void aec_download() {
  App& a = app();
  CodecRun& r = a.last();
  if (!r.valid) {
    a.set_error("nothing to download yet: encode an image first");
    return;
  }
  std::string base = a.image_name;
  if (const size_t dot = base.rfind('.'); dot != std::string::npos) base.resize(dot);
  if (base.empty()) base = "image";
  const std::string name = base + "." + r.model + ".aec";
  aec_js_download(r.bytes.data(), int(r.bytes.size()), name.c_str());
}

// The browser's JPEG/WebP encoding of the original at the .aec size (kind 0 JPEG, 1 WebP): its decoded RGBA.
// Returns 0 when measured, 1 when a job measures it (a photo: PSNR and MS-SSIM take a while, off the page's
// thread; the page waits for it to complete before it hands over the next), -1 when the image changed
// meanwhile.
EMSCRIPTEN_KEEPALIVE int aec_set_compare(int kind, const uint8_t* rgba, int w, int h, int bytes, int target,
                                         double quality, int at_min) {
  App& a = app();
  if (w != a.original.width || h != a.original.height) return -1;  // the image changed meanwhile
  auto c = std::make_shared<CompareRun>();
  c->codec = kind == 0 ? "jpeg" : "webp";
  c->image = aec::Image(w, h);
  for (size_t i = 0; i < size_t(w) * h; ++i)
    c->image.rgb[i * 3] = rgba[i * 4], c->image.rgb[i * 3 + 1] = rgba[i * 4 + 1],
                     c->image.rgb[i * 3 + 2] = rgba[i * 4 + 2];
  c->bytes = size_t(bytes), c->target_bytes = size_t(target), c->quality = quality,
  c->at_min_quality = at_min != 0;
  c->bpp = aec::bits_per_pixel(c->bytes, w, h);
  c->image_serial = a.image_serial;
  auto install = [c, kind] {
    App& a = app();
    if (c->image_serial != a.image_serial) return;
    CompareRun& slot = kind == 0 ? a.jpeg : a.webp;
    slot.tex.release();  // its texture is made when the view first shows it (ui.cpp)
    slot = std::move(*c);
    slot.valid = true;
    publish();
  };
  auto ref = a.original_view();
  if (int64_t(w) * h > 2'000'000 &&
      start_job(
          std::string("Measuring the ") + (kind == 0 ? "JPEG" : "WebP") + " file against the original",
          [c, ref] { measure(*ref, c->image, c->psnr, c->ms_ssim); }, install))
    return 1;
  measure(*ref, c->image, c->psnr, c->ms_ssim);
  install();
  return 0;
}

EMSCRIPTEN_KEEPALIVE void aec_compare_done() {
  app().compare_running = false;
  publish();
}

// --- Page jobs: the page codes with the aecodec package, then hands the results back ----------------------

// The buffer of a slot, resized to `size` bytes, for the page to write its result into (valid until the next
// call; a heap over 2 GiB: the page reads the pointer unsigned).
EMSCRIPTEN_KEEPALIVE uint8_t* aec_job_slot(int slot, double size) {
  if (slot < 0 || slot >= kSlots || !(size >= 0)) return nullptr;
  std::vector<uint8_t>& v = g_slots[size_t(slot)];
  try {
    v.assign(size_t(size), 0);
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
  return v.data();
}

// The page's results for the running page job (meta: JSON, with the slots filled): the job goes on with the
// app's work on them (measuring, the latent's heat maps), then shows them.
EMSCRIPTEN_KEEPALIVE void aec_job_result(const char* meta) {
  std::vector<std::vector<uint8_t>> slots(kSlots);
  slots.swap(g_slots);
  g_slots.assign(kSlots, {});
  page_result(meta, slots);
}

// Ends the running page job without results: cancelled (1) or with the error message.
EMSCRIPTEN_KEEPALIVE void aec_job_end(int cancelled, const char* error) {
  g_slots.assign(kSlots, {});
  job_end_page(cancelled != 0, error ? error : "");
}

// The running page job's progress (0..1).
EMSCRIPTEN_KEEPALIVE void aec_job_progress(double fraction) {
  job_report(fraction);
}

// An image's RGB bytes for the page, {"ptr","width","height"}: 0 the original (the app's own buffer, read at
// once), 2 the original 2x box-downscaled (as the cross-resolution family's medium member codes it); -1 frees
// that copy.
EMSCRIPTEN_KEEPALIVE const char* aec_image_rgb(int which) {
  static std::string out;
  App& a = app();
  if (which < 0) {
    g_half = aec::Image();
    return "";
  }
  if (which == 2) g_half = aec::downscale2x_box(a.original);
  const aec::Image& im = which == 2 ? g_half : a.original;
  return keep(out,
              json{{"ptr", uintptr_t(im.rgb.data())}, {"width", im.width}, {"height", im.height}}.dump());
}

// The ONNX Runtime backend's encoder input: the original padded to the model's stride as the core pads it,
// 3 x H x W floats in [0, 1]: {"ptr","c","h","w"} (valid until the next call), or {"error"}. For a codec,
// `member` names the member whose graphs run (its stride; the page fetched it first).
EMSCRIPTEN_KEEPALIVE const char* aec_ort_input(const char* model, const char* member) {
  static std::string out;
  static std::vector<float> input;
  App& a = app();
  const ModelEntry* m = a.model_named(model);
  try {
    aec::require(m && m->state == ModelEntry::Loaded, std::string("model '") + model + "' is not loaded");
    aec::require(a.original.width > 0, "no image loaded");
    int stride = m->stride;
    if (m->codec) {
      const int k = m->member_named(member);
      aec::require(k >= 0 && m->members[size_t(k)].model,
                   "member '" + std::string(member) + "' of codec '" + m->name + "' is not loaded");
      stride = m->members[size_t(k)].model->info().stride;
    }
    const int pw = (a.original.width + stride - 1) / stride * stride;
    const int ph = (a.original.height + stride - 1) / stride * stride;
    input = aec::image_to_tensor(aec::pad_edge(a.original, pw, ph)).data;
    return keep(out, json{{"ptr", uintptr_t(input.data())}, {"c", 3}, {"h", ph}, {"w", pw}}.dump());
  } catch (const std::exception& e) {
    input.clear();
    return keep(out, json{{"error", e.what()}}.dump());
  }
}

}  // extern "C"
