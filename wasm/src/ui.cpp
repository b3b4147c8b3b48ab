// The demo's user interface (Dear ImGui): a side panel with the image, model, backend, results and
// comparison, and a main area with the split viewer, the latent heat maps and the cross-decode results.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <numeric>

#include "aecodec/metrics.h"
#include "aecodec/refine.h"
#include "app.h"
#include "imgui_internal.h"

namespace web {

namespace {

const ImVec4 kAccent(0.33f, 0.62f, 0.98f, 1.0f);
const ImVec4 kMuted(0.60f, 0.63f, 0.68f, 1.0f);
const ImVec4 kError(1.00f, 0.45f, 0.42f, 1.0f);
const ImVec4 kGood(0.45f, 0.85f, 0.55f, 1.0f);

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string human_bytes(size_t b) {
  char buf[64];
  if (b < 10000)
    std::snprintf(buf, sizeof buf, "%zu bytes", b);
  else if (b < 10 * 1024 * 1024)
    std::snprintf(buf, sizeof buf, "%.1f KiB", double(b) / 1024.0);
  else
    std::snprintf(buf, sizeof buf, "%.1f MiB", double(b) / 1048576.0);
  return buf;
}

// s, cut to at most max_w wide with "..." (at a character boundary).
std::string fit_text(const std::string& s, float max_w) {
  if (ImGui::CalcTextSize(s.c_str()).x <= max_w) return s;
  std::string t = s;
  while (!t.empty()) {
    t.pop_back();
    while (!t.empty() && (static_cast<unsigned char>(t.back()) & 0xC0) == 0x80) t.pop_back();
    if (ImGui::CalcTextSize((t + "...").c_str()).x <= max_w) break;
  }
  return t + "...";
}

void section(const char* title) {
  ImGui::Spacing();
  ImGui::PushStyleColor(ImGuiCol_Text, kAccent);
  ImGui::TextUnformatted(title);
  ImGui::PopStyleColor();
  ImGui::Separator();
}

void muted(const std::string& s) {
  ImGui::PushStyleColor(ImGuiCol_Text, kMuted);
  ImGui::TextWrapped("%s", s.c_str());
  ImGui::PopStyleColor();
}

void spinner(float radius, float thickness) {
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const ImVec2 p = ImGui::GetCursorScreenPos();
  const ImVec2 c(p.x + radius, p.y + radius + 2);
  const float t = float(ImGui::GetTime());
  const int n = 24;
  const float start = t * 6.0f;
  dl->PathClear();
  for (int i = 0; i <= n; ++i) {
    const float a = start + float(i) / n * 4.2f;
    dl->PathLineTo(ImVec2(c.x + std::cos(a) * radius, c.y + std::sin(a) * radius));
  }
  dl->PathStroke(ImGui::GetColorU32(kAccent), 0, thickness);
  ImGui::Dummy(ImVec2(radius * 2, radius * 2 + 4));
}

bool busy() {
  return job_busy() || g_js_busy > 0;
}

bool button(const char* label, bool enabled, const ImVec2& size = ImVec2(0, 0)) {
  if (!enabled) ImGui::BeginDisabled();
  const bool r = ImGui::Button(label, size);
  if (!enabled) ImGui::EndDisabled();
  return r;
}

// The last item's rectangle (x0, y0, x1, y1) in CSS px.
ImVec4 item_rect() {
  const ImVec2 p0 = ImGui::GetItemRectMin(), p1 = ImGui::GetItemRectMax();
  return ImVec4(p0.x, p0.y, p1.x, p1.y);
}

bool primary_button(const char* label, bool enabled, const ImVec2& size) {
  ImGui::PushStyleColor(ImGuiCol_Button, ImVec4(0.20f, 0.45f, 0.85f, 1.0f));
  ImGui::PushStyleColor(ImGuiCol_ButtonHovered, ImVec4(0.27f, 0.53f, 0.93f, 1.0f));
  ImGui::PushStyleColor(ImGuiCol_ButtonActive, ImVec4(0.17f, 0.40f, 0.78f, 1.0f));
  const bool r = button(label, enabled, size);
  ImGui::PopStyleColor(3);
  return r;
}

// ---- side panel -------------------------------------------------------------------------------------------

void image_section(App& a) {
  section("Image");
  const float w = (ImGui::GetContentRegionAvail().x - ImGui::GetStyle().ItemSpacing.x) / 2;
  // The image picker takes image/* (a phone offers its photos and camera), the other .aec files.
  if (button("Open image...", !busy(), ImVec2(w, 0))) aec_js_pick_file(0);
  a.controls.open_rect = item_rect();
  ImGui::SameLine();
  if (button("Open .aec...", !busy(), ImVec2(w, 0))) aec_js_pick_file(1);
  muted(a.touch ? "a photo of up to " + std::to_string(kMaxPixels >> 20) + " Mpx"
                : "or drop a PNG, JPEG, WebP or .aec file onto the page (photos up to " +
                      std::to_string(kMaxPixels >> 20) + " Mpx)");
  if (a.original.width) {
    ImGui::Text("%s", a.image_name.c_str());
    ImGui::SameLine();
    ImGui::TextColored(kMuted, "%d x %d", a.original.width, a.original.height);
    for (const std::string& n : a.image_notes) muted("note: " + n);
  }
}

// The encoder effort, next to the model picker. Changing it does not re-encode by itself (a high effort
// takes seconds to minutes): the next encode uses it.
void effort_control(App& a, const ModelEntry* cur, float width) {
  const bool usable = cur && cur->state == ModelEntry::Loaded && cur->refinable;
  int e = usable ? a.effort : 0;
  ImGui::SetNextItemWidth(width);
  if (!usable || busy()) ImGui::BeginDisabled();
  if (ImGui::SliderInt("##effort", &e, 0, aec::kMaxEffort, "effort %d", ImGuiSliderFlags_AlwaysClamp) &&
      usable)
    a.effort = e, publish();
  if (!usable || busy()) ImGui::EndDisabled();
  a.controls.effort_rect = item_rect();
  a.controls.effort_enabled = usable;
  if (ImGui::IsItemHovered(ImGuiHoveredFlags_AllowWhenDisabled)) {
    std::string tip =
        "Encoder effort 0-9. 0 is one pass of the encoder network; higher efforts search for a latent that\n"
        "makes a smaller file at the same quality for the same decoder, and take longer (the progress bar\n"
        "shows how far it is; Cancel stops it). Files decode the same way at every effort.";
    if (cur && !cur->refinable && !cur->effort_note.empty())
      tip += "\n\nThis model: " + cur->effort_note + ".";
    ImGui::SetTooltip("%s", tip.c_str());
  }
}

// A codec's members under its slider: which span of the knob each serves and whether it is downloaded (a
// member is fetched when the knob first needs it).
void codec_members(const ModelEntry& m) {
  const int cur = m.member_at(m.quality);
  for (size_t k = 0; k < m.members.size() && k < m.manifest.members.size(); ++k) {
    const ModelEntry::Member& x = m.members[k];
    const aec::CodecMember& c = m.manifest.members[k];
    std::string line = (int(k) == cur ? "> " : "  ") + std::string("quality ") + fmt_quality(c.from) + "-" +
                       fmt_quality(c.to) + ": " + x.name + ", " + human_bytes(x.file_bytes);
    switch (x.state) {
      case ModelEntry::Member::Idle:
        line += " (downloaded when the quality first needs it)";
        break;
      case ModelEntry::Member::Loading:
        line += " (downloading" + (x.progress > 0 ? " " + std::to_string(int(x.progress * 100)) + " %" : "") +
                ")";
        break;
      case ModelEntry::Member::Loaded:
        break;
      case ModelEntry::Member::Failed:
        line += " (failed: " + x.error + ")";
        break;
    }
    if (x.state == ModelEntry::Member::Failed)
      ImGui::TextColored(kError, "%s", line.c_str());
    else
      muted(line);
  }
}

// A quality slider's label: whole numbers while dragging from one; a searched quality (tenths) or a script's
// (hundredths) as it is.
const char* quality_format(float q) {
  return std::fabs(q - std::round(q)) < 0.005f            ? "quality %.0f"
         : std::fabs(q * 10 - std::round(q * 10)) < 0.05f ? "quality %.1f"
                                                          : "quality %.2f";
}

// A variable-rate model's quality knob: a slider (Q 1-100; releasing it re-encodes) and a target size in
// bytes (Enter or "Fit size" searches the largest quality that fits, in the C++ core). Single-rate models
// show neither.
void quality_controls(App& a, ModelEntry& m) {
  const bool idle = !busy();
  const bool can_encode = idle && a.original.width && !a.from_aec;
  float q = float(m.quality);
  ImGui::SetNextItemWidth(-1);
  if (!idle) ImGui::BeginDisabled();
  if (ImGui::SliderFloat("##quality", &q, 1.0f, 100.0f, quality_format(q), ImGuiSliderFlags_AlwaysClamp)) {
    // A codec's member for this quality is fetched as soon as the slider reaches its span, while it is
    // still being dragged, so that the download has a head start on the encode that releasing it starts. A
    // family member's quality is its family's (the cross-decode tab codes at it).
    set_model_quality(a.selected_model, std::clamp(std::round(double(q) * 100) / 100, 1.0, 100.0));
    publish();
  }
  const bool released = ImGui::IsItemDeactivatedAfterEdit();
  if (!idle) ImGui::EndDisabled();
  a.controls.quality_rect = item_rect();
  if (ImGui::IsItemHovered(ImGuiHoveredFlags_AllowWhenDisabled))
    ImGui::SetTooltip(
        m.codec ? "Quality 1-100 of this codec (the CLI's aecodec encode -q): one knob over its member\n"
                  "networks, more bytes and a better image as it rises. Default %s. Releasing the\n"
                  "slider encodes again."
                : "Quality 1-100 of this variable-rate model (the CLI's aecodec encode -q): one "
                  "network, more bytes\nand a better image as it rises. Default %s. Releasing the "
                  "slider encodes again.",
        fmt_quality(m.default_quality).c_str());
  if (released && can_encode) action_encode();
  if (m.codec) codec_members(m);
  // The target size.
  const float fit_w = 90, sp = ImGui::GetStyle().ItemSpacing.x;
  ImGui::SetNextItemWidth(ImGui::GetContentRegionAvail().x - fit_w - sp);
  if (!idle) ImGui::BeginDisabled();
  const bool enter =
      ImGui::InputTextWithHint("##target-size", "target size in bytes", a.target_text, sizeof a.target_text,
                               ImGuiInputTextFlags_CharsDecimal | ImGuiInputTextFlags_EnterReturnsTrue);
  if (!idle) ImGui::EndDisabled();
  a.controls.size_rect = item_rect();
  if (ImGui::IsItemHovered(ImGuiHoveredFlags_AllowWhenDisabled))
    ImGui::SetTooltip(
        "Encode to a size (the CLI's aecodec encode --size): the largest quality whose file has at most\n"
        "this many bytes, searched by bisection in the C++ core (about 12 encodes). Enter or Fit size.");
  ImGui::SameLine(0, sp);
  const long long target = std::atoll(a.target_text);
  const bool ort = a.backend == "ort";
  const bool fit = button("Fit size", can_encode && target > 0 && !ort, ImVec2(fit_w, 0));
  a.controls.fit_rect = item_rect();
  if (ort && ImGui::IsItemHovered(ImGuiHoveredFlags_AllowWhenDisabled))
    ImGui::SetTooltip("The size search runs in the C++ core: choose the C++ core backend.");
  if ((fit || (enter && target > 0 && !ort)) && can_encode) action_encode(uint64_t(target));
}

void model_section(App& a) {
  section("Model");
  if (!a.manifest_loaded) {
    muted("loading the model list...");
    return;
  }
  if (a.models.empty()) {
    ImGui::TextColored(kError, "no models on this site (models/manifest.json is empty)");
    return;
  }
  const ModelEntry* cur = a.current_model();
  const float effort_w = 118;
  const std::vector<ModelGroup> groups = model_groups(a.models);
  const int cur_group = group_of(groups, a.selected_model);
  // Selecting model i: encodes again when it is loaded and there is an image to code.
  auto choose = [&](int i, bool encode) {
    if (i == a.selected_model) return;
    a.selected_model = i;
    const ModelEntry& m = a.models[size_t(i)];
    if (encode && m.state == ModelEntry::Loaded && a.original.width && !a.from_aec && !busy())
      action_encode();
    publish();
  };
  auto state_note = [&](const ModelGroup& g) {
    int loading = 0, failed = 0;
    for (int i : g.members) {
      loading += a.models[size_t(i)].state == ModelEntry::Loading;
      failed += a.models[size_t(i)].state == ModelEntry::Failed;
    }
    if (g.members.size() == 1)
      return std::string(failed ? "  (failed to load)" : loading ? "  (loading)" : "");
    std::string n;
    if (failed) n += "  (" + std::to_string(failed) + " failed to load)";
    if (loading) n += "  (" + std::to_string(loading) + " loading)";
    return n;
  };
  ImGui::SetNextItemWidth(ImGui::GetContentRegionAvail().x - effort_w - ImGui::GetStyle().ItemSpacing.x);
  const std::string preview = cur_group >= 0 ? groups[size_t(cur_group)].name : cur ? cur->name : "(none)";
  if (ImGui::BeginCombo("##model", preview.c_str(), ImGuiComboFlags_HeightLarge)) {
    const char* headings[][2] = {{"codec", "Codecs"},
                                 {"family", "Cross-resolution families"},
                                 {"demo", "Demonstrations (plain autoencoders)"}};
    for (const auto& h : headings) {
      bool first = true;
      for (size_t g = 0; g < groups.size(); ++g) {
        const ModelGroup& gr = groups[g];
        if (gr.kind != h[0]) continue;
        if (first) ImGui::TextDisabled("%s", h[1]), first = false;
        std::string label = "  " + gr.name;
        const ModelEntry& m0 = a.models[size_t(gr.members[0])];
        if (gr.kind == "codec" && gr.members.size() > 1)
          label += "  (" + std::to_string(gr.members.size()) + " levels)";
        else if (gr.kind == "codec" && m0.variable_rate)
          label += "  (quality 1-100)";
        else if (gr.kind == "family")
          label += "  (" + std::to_string(gr.members.size()) + " resolutions)";
        label += state_note(gr) + "##group" + std::to_string(g);
        if (ImGui::Selectable(label.c_str(), int(g) == cur_group) && int(g) != cur_group)
          choose(default_member(gr), true);
      }
    }
    ImGui::EndCombo();
  }
  a.controls.model_rect = item_rect();
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip(
        "Codecs: a variable-rate network (its quality slider) or a set of single-rate levels (a level\n"
        "choice, lowest rate first). Cross-resolution families: one latent space, a member per resolution.\n"
        "Demonstrations: the research note's plain autoencoders (as the CLI's aecodec models).");
  ImGui::SameLine();
  effort_control(a, cur, effort_w);
  cur = a.current_model();  // the combo may have chosen another
  if (!cur) return;
  const int sel_group = group_of(groups, a.selected_model);
  a.controls.member_rect = ImVec4(0, 0, 0, 0);
  if (sel_group >= 0 && groups[size_t(sel_group)].members.size() > 1) {
    // The level (or family member): a slider over the group's models, lowest rate first; releasing it
    // encodes again.
    const ModelGroup& g = groups[size_t(sel_group)];
    int k = 0;
    while (g.members[size_t(k)] != a.selected_model) ++k;
    const std::string fmt = (g.kind == "family" ? "member " : "level ") + std::to_string(k + 1) + " of " +
                            std::to_string(g.members.size()) + ": " + cur->name;
    ImGui::SetNextItemWidth(-1);
    if (busy()) ImGui::BeginDisabled();
    if (ImGui::SliderInt("##member", &k, 0, int(g.members.size()) - 1, fmt.c_str(),
                         ImGuiSliderFlags_AlwaysClamp | ImGuiSliderFlags_NoInput))
      choose(g.members[size_t(std::clamp(k, 0, int(g.members.size()) - 1))], false);
    const bool released = ImGui::IsItemDeactivatedAfterEdit();
    if (busy()) ImGui::EndDisabled();
    a.controls.member_rect = item_rect();
    if (ImGui::IsItemHovered(ImGuiHoveredFlags_AllowWhenDisabled))
      ImGui::SetTooltip(g.kind == "family" ? "The family's member (resolution) that codes the image."
                                           : "The codec's single-rate level: more bytes and a better image "
                                             "as it rises. Releasing the slider encodes again.");
    const ModelEntry& now = a.models[size_t(a.selected_model)];
    if (released && now.state == ModelEntry::Loaded && a.original.width && !a.from_aec && !busy())
      action_encode();
    cur = a.current_model();
  }
  if (cur->state == ModelEntry::Loaded && cur->variable_rate)
    quality_controls(a, a.models[size_t(a.selected_model)]);
  if (cur->state == ModelEntry::Loading) {
    muted("loading " + cur->file + " ...");
  } else if (cur->state == ModelEntry::Failed) {
    ImGui::PushStyleColor(ImGuiCol_Text, kError);
    ImGui::TextWrapped("failed to load: %s", cur->error.c_str());
    ImGui::PopStyleColor();
  } else if (cur->codec) {
    muted("codec of " + std::to_string(cur->members.size()) + " " + cur->arch +
          " networks behind one quality knob (default quality " + fmt_quality(cur->default_quality) + ")");
    if (!cur->description.empty()) muted(cur->description);
    if (a.effort > 0 && !cur->refinable) muted("effort: " + cur->effort_note + "; encodes at effort 0");
  } else {
    std::string d = cur->arch + ", stride " + std::to_string(cur->stride) + ", " +
                    std::to_string(cur->latent_channels) + " latent channels, " +
                    human_bytes(cur->file_bytes);
    if (cur->fixed_w)
      d += ", " + std::to_string(cur->fixed_w) + "x" + std::to_string(cur->fixed_h) + " input only";
    if (!cur->family_id.empty()) d += ", family " + cur->family_id + " (" + cur->role + ")";
    if (cur->variable_rate)
      d += ", variable-rate (" + std::to_string(cur->lambdas.size()) + " trained lambdas, default quality " +
           fmt_quality(cur->default_quality) + ")";
    muted(d);
    if (!cur->description.empty()) muted(cur->description);
    if (a.effort > 0 && !cur->refinable) muted("effort: " + cur->effort_note + "; encodes at effort 0");
  }
}

void backend_section(App& a) {
  section("Backend");
  const ModelEntry* cur = a.current_model();
  bool changed = false;
  if (ImGui::RadioButton("C++ core (WASM, SIMD)", a.backend == "core")) a.backend = "core", changed = true;
  ImGui::SameLine();
  ImGui::TextColored(kMuted, a.threaded ? "%d threads" : "1 thread", a.threads);
  const bool ort_ok = cur && cur->ort_available();
  if (!ort_ok) ImGui::BeginDisabled();
  if (ImGui::RadioButton("ONNX Runtime Web (wasm)", a.backend == "ort")) a.backend = "ort", changed = true;
  if (!ort_ok) ImGui::EndDisabled();
  if (cur && !ort_ok) {
    if (!cur->ort_error.empty())
      muted("ONNX Runtime: " + cur->ort_error);
    else
      muted("no ONNX graphs for this model (export them with aecodec-onnx)");
    if (a.backend == "ort") a.backend = "core", changed = true;
  }
  if (changed) {
    publish();
    if (a.original.width && !a.from_aec && !busy()) {
      CodecRun& r = a.backend == "ort" ? a.ort_run : a.core_run;
      if (r.valid && r.image_serial == a.image_serial && cur && r.model == cur->name &&
          r.effort == effort_for(*cur) && r.quality == quality_for(*cur)) {
        a.last_backend = a.backend;  // already have it: just show it
        request_compare();
      } else {
        action_encode();
      }
    }
  }
}

void actions_section(App& a) {
  ImGui::Spacing();
  const float w = ImGui::GetContentRegionAvail().x;
  const bool can = a.original.width && !a.from_aec && a.current_model() &&
                   a.current_model()->state == ModelEntry::Loaded && !busy();
  if (job_cancellable()) {
    // The running encode's own button: where the user just clicked "Encode + decode".
    if (button(job_cancelling() ? "Cancelling..." : "Cancel", !job_cancelling(), ImVec2(w * 0.5f - 4, 30)))
      job_cancel();
  } else if (primary_button("Encode + decode", can, ImVec2(w * 0.5f - 4, 30))) {
    action_encode();
  }
  a.controls.encode_rect = item_rect();
  ImGui::SameLine();
  if (button("Download .aec", a.last().valid && !busy(), ImVec2(-1, 30))) {
    aec_download();
  }
}

void metric_row(const char* name, const std::string& v, const std::string& v2 = "",
                const char* tip = nullptr) {
  ImGui::TableNextRow();
  ImGui::TableSetColumnIndex(0);
  ImGui::TextColored(kMuted, "%s", name);
  if (tip && ImGui::IsItemHovered()) ImGui::SetTooltip("%s", tip);
  ImGui::TableSetColumnIndex(1);
  ImGui::TextUnformatted(v.c_str());
  if (ImGui::TableGetColumnCount() > 2) {
    ImGui::TableSetColumnIndex(2);
    ImGui::TextUnformatted(v2.c_str());
  }
}

std::string timing(const aec::CodecTimings& t) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "%.1f ms", t.total_ms);
  return buf;
}

void results_section(App& a) {
  section("Result");
  const CodecRun& r = a.last();
  if (!r.valid) {
    muted(busy() ? "working..." : a.original.width ? "not coded yet" : "open an image to start");
    return;
  }
  CodecRun* o = a.other_run();
  const int cols = o ? 3 : 2;
  const CodecRun& core = r.backend == "core" ? r : *o;
  const CodecRun* ort = r.backend == "ort" ? &r : o;
  if (ImGui::BeginTable("results", cols, ImGuiTableFlags_SizingStretchProp | ImGuiTableFlags_RowBg)) {
    ImGui::TableSetupColumn("", ImGuiTableColumnFlags_WidthFixed, 80);
    if (o) {
      ImGui::TableSetupColumn("C++ core");
      ImGui::TableSetupColumn("ONNX Runtime");
      ImGui::TableHeadersRow();
    } else {
      ImGui::TableSetupColumn("");
    }
    const CodecRun& c0 = o ? core : r;
    auto both = [&](auto f) { return std::make_pair(f(c0), o ? f(*ort) : std::string()); };
    auto row = [&](const char* name, auto f, const char* tip = nullptr) {
      const auto v = both(f);
      metric_row(name, v.first, v.second, tip);
    };
    row("Model", [](const CodecRun& x) {
      return x.member.empty() || x.member == x.model ? x.model : x.model + " (" + x.member + ")";
    });
    if (!o)
      row("Backend", [](const CodecRun& x) {
        return std::string(x.backend == "ort" ? "ONNX Runtime Web" : "C++ core (WASM)");
      });
    row(
        "Size",
        [](const CodecRun& x) {
          return x.bytes.size() < 10000
                     ? human_bytes(x.bytes.size())
                     : human_bytes(x.bytes.size()) + " (" + std::to_string(x.bytes.size()) + ")";
        },
        "the whole .aec file: header, entropy-coded latent, checksum");
    row(
        "Rate", [](const CodecRun& x) { return fmt("%.4f bpp", x.bpp); }, "bits per pixel of the .aec file");
    row(
        "PSNR", [](const CodecRun& x) { return x.has_reference ? fmt("%.3f dB", x.psnr) : std::string("-"); },
        "RGB, peak 255, against the original");
    row("MS-SSIM",
        [](const CodecRun& x) { return x.has_reference ? fmt("%.5f", x.ms_ssim) : std::string("-"); });
    row(
        "Encode", [](const CodecRun& x) { return x.enc.total_ms > 0 ? timing(x.enc) : std::string("-"); },
        "whole encode: padding, analysis transform, refinement (effort > 0), quantisation, entropy coding");
    if (c0.quality > 0 || (o && ort->quality > 0))
      row(
          "  quality",
          [](const CodecRun& x) {
            if (x.quality <= 0) return std::string("-");
            std::string s = fmt_quality(x.quality);
            if (x.target_bytes > 0)
              s += " (for " + std::to_string(x.target_bytes) + " B, " + std::to_string(x.trials) + " trials)";
            return s;
          },
          "the variable-rate model's quality Q that made the file (the file records it)");
    row(
        "  effort",
        [](const CodecRun& x) { return x.effort >= 0 ? std::to_string(x.effort) : std::string("-"); },
        "the encoder effort that made the file (0: one pass of the encoder network)");
    row("  network", [](const CodecRun& x) {
      return x.enc.total_ms > 0 ? fmt("%.1f ms", x.enc.network_ms) : std::string("-");
    });
    if (c0.effort > 0 || (o && ort->effort > 0))
      row("  refine", [](const CodecRun& x) {
        return x.enc.total_ms > 0 ? fmt("%.1f ms", x.enc.refine_ms) : std::string("-");
      });
    row("  entropy", [](const CodecRun& x) {
      return x.enc.total_ms > 0 ? fmt("%.1f ms", x.enc.entropy_ms) : std::string("-");
    });
    row(
        "Decode", [](const CodecRun& x) { return timing(x.dec); },
        "whole decode: parsing, entropy decoding, synthesis transform, cropping");
    row("  network", [](const CodecRun& x) { return fmt("%.1f ms", x.dec.network_ms); });
    row("  entropy", [](const CodecRun& x) { return fmt("%.1f ms", x.dec.entropy_ms); });
    ImGui::EndTable();
  }
  if (o) {
    // Agreement of the two backends (tolerance: see web/API.md).
    const double p = aec::psnr(core.recon, ort->recon);
    int maxd = 0;
    for (size_t i = 0; i < core.recon.rgb.size() && i < ort->recon.rgb.size(); ++i)
      maxd = std::max(maxd, std::abs(int(core.recon.rgb[i]) - int(ort->recon.rgb[i])));
    const bool ok = (std::isinf(p) || p >= 40.0) && std::fabs(ort->psnr - core.psnr) <= 0.1 &&
                    std::fabs(ort->bpp - core.bpp) <= 0.01 * core.bpp;
    ImGui::TextColored(ok ? kGood : kError, "%s", ok ? "Backends agree" : "Backends differ");
    if (ImGui::IsItemHovered())
      ImGui::SetTooltip(
          "tolerance: reconstructions within 40 dB PSNR of each other,\nPSNR within 0.1 dB, rate within 1%%");
    muted((std::isinf(p) ? std::string("identical images") : fmt("images %.1f dB apart", p)) +
          ", max |diff| " + std::to_string(maxd) + ", " +
          (core.bytes == ort->bytes ? std::string("identical files")
                                    : fmt("rate %+.4f bpp", ort->bpp - core.bpp)));
  }
}

void compare_section(App& a) {
  section("Same size: browser JPEG and WebP");
  const CodecRun& r = a.last();
  if (!r.valid || !r.has_reference || a.from_aec) {
    muted("after encoding, the original is coded by the browser's JPEG and WebP encoders at the same size");
    return;
  }
  if (ImGui::BeginTable("cmp", 4, ImGuiTableFlags_SizingStretchProp | ImGuiTableFlags_RowBg)) {
    ImGui::TableSetupColumn("codec", ImGuiTableColumnFlags_WidthFixed, 80);
    ImGui::TableSetupColumn("bytes");
    ImGui::TableSetupColumn("PSNR");
    ImGui::TableSetupColumn("MS-SSIM");
    ImGui::TableHeadersRow();
    auto row = [&](const std::string& name, size_t bytes, double psnr, double ssim, bool best) {
      ImGui::TableNextRow();
      ImGui::TableSetColumnIndex(0);
      ImGui::TextUnformatted(name.c_str());
      ImGui::TableSetColumnIndex(1);
      ImGui::Text("%zu", bytes);
      ImGui::TableSetColumnIndex(2);
      if (best)
        ImGui::TextColored(kGood, "%.2f dB", psnr);
      else
        ImGui::Text("%.2f dB", psnr);
      ImGui::TableSetColumnIndex(3);
      ImGui::Text("%.4f", ssim);
    };
    double best = r.psnr;
    for (const CompareRun* c : {&a.jpeg, &a.webp})
      if (c->valid) best = std::max(best, c->psnr);
    row("aecodec", r.bytes.size(), r.psnr, r.ms_ssim, r.psnr >= best);
    for (const CompareRun* c : {&a.jpeg, &a.webp}) {
      if (!c->valid) continue;
      row((c->codec == "jpeg" ? "JPEG q" : "WebP q") + fmt("%.0f", c->quality * 100), c->bytes, c->psnr,
          c->ms_ssim, c->psnr >= best);
    }
    ImGui::EndTable();
  }
  if (a.compare_running) muted("coding with the browser's encoders...");
  for (const CompareRun* c : {&a.jpeg, &a.webp})
    if (c->valid && c->at_min_quality)
      muted(std::string(c->codec == "jpeg" ? "JPEG" : "WebP") +
            " cannot get this small: shown at its lowest quality");
}

void side_panel(App& a) {
  image_section(a);
  model_section(a);
  backend_section(a);
  actions_section(a);
  results_section(a);
  compare_section(a);
  if (!a.manifest_note.empty()) {
    ImGui::Spacing();
    muted(a.manifest_note);
  }
}

// ---- split viewer -----------------------------------------------------------------------------------------

struct Source {
  const char* name;
  Texture* tex;             // made when first shown (a photo's comparisons need not all sit on the GPU)
  const aec::Image* image;  // null: not available
  std::string label;
  bool ok() const { return image && image->width > 0; }
  const Texture* shown() {
    if (!ok()) return nullptr;
    if (!tex->valid()) tex->upload(*image);
    return tex;
  }
};

std::vector<Source> view_sources(App& a) {
  std::vector<Source> s;
  s.push_back({"Original", &a.original_tex, &a.original, a.from_aec ? "decoded .aec" : "original"});
  CodecRun& r = a.last();
  s.push_back({"Reconstruction", &r.tex, r.valid ? &r.recon : nullptr,
               r.valid ? (r.model + (r.backend == "ort" ? " (ORT)" : "") + fmt(", %.3f bpp", r.bpp) +
                          (r.has_reference ? fmt(", %.2f dB", r.psnr) : std::string()))
                       : std::string()});
  s.push_back(
      {"JPEG", &a.jpeg.tex, a.jpeg.valid ? &a.jpeg.image : nullptr,
       a.jpeg.valid ? fmt("JPEG %.3f bpp", a.jpeg.bpp) + fmt(", %.2f dB", a.jpeg.psnr) : std::string()});
  s.push_back(
      {"WebP", &a.webp.tex, a.webp.valid ? &a.webp.image : nullptr,
       a.webp.valid ? fmt("WebP %.3f bpp", a.webp.bpp) + fmt(", %.2f dB", a.webp.psnr) : std::string()});
  CodecRun* o = a.other_run();
  static Texture none;
  s.push_back({"Other backend", o ? &o->tex : &none, o ? &o->recon : nullptr,
               o ? std::string(o->backend == "ort" ? "ONNX Runtime" : "C++ core") + fmt(", %.2f dB", o->psnr)
                 : std::string()});
  return s;
}

void source_combo(const char* id, int& which, const std::vector<Source>& s, float width) {
  ImGui::SetNextItemWidth(width);
  if (ImGui::BeginCombo(id, s[size_t(which)].name)) {
    for (size_t i = 0; i < s.size(); ++i) {
      if (!s[i].ok()) continue;
      if (ImGui::Selectable(s[i].name, int(i) == which)) which = int(i);
    }
    ImGui::EndCombo();
  }
}

void fit_view(ViewState& v, const ImVec2& size, int w, int h) {
  v.zoom = std::min(size.x / float(w), size.y / float(h));
  if (v.zoom > 1) v.zoom = std::floor(v.zoom);  // integer magnification for small images
  v.cx = w * 0.5f, v.cy = h * 0.5f;
}

// Lines one device pixel wide on the pixel boundaries of the image at i0..i1 (zoom screen pixels per image
// pixel), where it shows inside p0..p1: a mid grey, half opaque, that shows on dark and on light pixels.
void pixel_grid(ImDrawList* dl, const ImVec2& p0, const ImVec2& p1, const ImVec2& i0, const ImVec2& i1,
                float zoom, float dpr) {
  const float x0 = std::max(p0.x, i0.x), x1 = std::min(p1.x, i1.x);
  const float y0 = std::max(p0.y, i0.y), y1 = std::min(p1.y, i1.y);
  if (x0 >= x1 || y0 >= y1) return;
  const ImU32 col = IM_COL32(128, 128, 128, 130);
  const float line = 1.0f / dpr;
  auto snap = [dpr](float x) { return std::round(x * dpr) / dpr; };  // onto the device pixel grid
  // The clip keeps the lines on the image, its right and bottom edges included, and inside the viewer.
  dl->PushClipRect(ImVec2(x0, y0), ImVec2(std::min(p1.x, x1 + line), std::min(p1.y, y1 + line)), true);
  for (int k = int(std::ceil((x0 - i0.x) / zoom)); i0.x + k * zoom <= x1; ++k) {
    const float x = snap(i0.x + k * zoom);
    dl->AddRectFilled(ImVec2(x, y0), ImVec2(x + line, y1), col);
  }
  for (int k = int(std::ceil((y0 - i0.y) / zoom)); i0.y + k * zoom <= y1; ++k) {
    const float y = snap(i0.y + k * zoom);
    dl->AddRectFilled(ImVec2(x0, y), ImVec2(x1, y + line), col);
  }
  dl->PopClipRect();
}

void compare_tab(App& a) {
  ViewState& v = a.view;
  std::vector<Source> src = view_sources(a);
  auto ok = [&](int i) { return src[size_t(i)].ok(); };
  // What is shown when a chosen source is not there (yet): the original on the left, the reconstruction
  // right.
  const int left = ok(v.left) ? v.left : 0;
  const int right = ok(v.right) ? v.right : (ok(1) ? 1 : 0);
  const bool narrow = a.layout.narrow;

  // toolbar (on a phone: the sources on one row, the zoom on the next)
  ImGui::AlignTextToFramePadding();
  ImGui::TextColored(kMuted, "Left");
  ImGui::SameLine();
  const float sp = ImGui::GetStyle().ItemSpacing.x;
  const float combo_w =
      narrow ? std::max(80.0f,
                        (ImGui::GetContentRegionAvail().x - ImGui::CalcTextSize("LeftRight").x - 4 * sp) / 2)
             : 150.0f;
  int l = left, r = right;
  source_combo("##left", l, src, combo_w);
  ImGui::SameLine();
  ImGui::TextColored(kMuted, "Right");
  ImGui::SameLine();
  source_combo("##right", r, src, combo_w);
  if (l != left) v.left = l;
  if (r != right) v.right = r;
  if (!narrow) ImGui::SameLine(0, 24);
  if (ImGui::Button("Fit")) v.fit_pending = true;
  ImGui::SameLine();
  if (ImGui::Button("1:1")) v.zoom = 1;
  ImGui::SameLine();
  if (ImGui::Button("4x")) v.zoom = 4;
  ImGui::SameLine();
  if (ImGui::Button("16x")) v.zoom = 16;
  ImGui::SameLine();
  ImGui::TextColored(kMuted, "%.0f%%", v.zoom * 100);
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  const ImVec2 canvas_size(avail.x, std::max(100.0f, avail.y - ImGui::GetTextLineHeightWithSpacing() - 6));
  const int iw = a.original.width, ih = a.original.height;

  const ImVec2 p0 = ImGui::GetCursorScreenPos();
  const ImVec2 p1(p0.x + canvas_size.x, p0.y + canvas_size.y);
  v.canvas_rect = ImVec4(p0.x, p0.y, p1.x, p1.y);
  v.image_rect = ImVec4(0, 0, 0, 0);
  v.hover_x = v.hover_y = -1;
  v.pixel_grid = false;
  v.overview = false;
  ImDrawList* dl = ImGui::GetWindowDrawList();
  dl->AddRectFilled(p0, p1, IM_COL32(14, 15, 18, 255));
  // checkerboard-free dark canvas; the image
  ImGui::InvisibleButton("canvas", canvas_size, ImGuiButtonFlags_MouseButtonLeft);
  if (!iw) {
    v.pinch = false;
    const char* msg =
        busy() ? "working..." : "Open an image (or drop one here) to see what the codec does to it";
    const ImVec2 ts = ImGui::CalcTextSize(msg);
    dl->AddText(ImVec2(p0.x + std::max(4.0f, (canvas_size.x - ts.x) / 2), p0.y + (canvas_size.y - ts.y) / 2),
                ImGui::GetColorU32(kMuted), msg);
    return;
  }
  if (v.fit_pending) {
    fit_view(v, canvas_size, iw, ih);
    v.fit_pending = false;
  }
  const bool hovered = ImGui::IsItemHovered();
  const ImGuiIO& io = ImGui::GetIO();
  const float div_x = p0.x + v.divider * canvas_size.x;
  // A finger is wider than a pointer: the divider's handle takes it from further away.
  const float grab = a.touch ? 24.0f : 8.0f;
  const bool near_div =
      std::fabs(io.MousePos.x - div_x) < grab && io.MousePos.y >= p0.y && io.MousePos.y <= p1.y;
  if (ImGui::IsItemActivated() && near_div) v.dragging_divider = true;
  if (!ImGui::IsItemActive()) v.dragging_divider = false;
  if (hovered && near_div) ImGui::SetMouseCursor(ImGuiMouseCursor_ResizeEW);
  if (v.dragging_divider) {
    v.divider = std::clamp((io.MousePos.x - p0.x) / canvas_size.x, 0.0f, 1.0f);
    ImGui::SetMouseCursor(ImGuiMouseCursor_ResizeEW);
  } else if (ImGui::IsItemActive() && ImGui::IsMouseDragging(ImGuiMouseButton_Left, 0)) {
    v.cx -= io.MouseDelta.x / v.zoom, v.cy -= io.MouseDelta.y / v.zoom;
  }
  const ImVec2 center(p0.x + canvas_size.x / 2, p0.y + canvas_size.y / 2);
  auto zoom_about = [&](float x, float y, float factor) {
    const float mx = v.cx + (x - center.x) / v.zoom, my = v.cy + (y - center.y) / v.zoom;
    v.zoom = std::clamp(v.zoom * factor, 0.05f, 64.0f);
    v.cx = mx - (x - center.x) / v.zoom, v.cy = my - (y - center.y) / v.zoom;
  };
  if (hovered && io.MouseWheel != 0) zoom_about(io.MousePos.x, io.MousePos.y, std::pow(1.25f, io.MouseWheel));
  if (v.pinch) {
    // Two fingers over the view: it follows their centre, and zooms about it as they spread or close.
    if (v.pinch_x >= p0.x && v.pinch_x <= p1.x && v.pinch_y >= p0.y && v.pinch_y <= p1.y) {
      v.cx -= v.pinch_dx / v.zoom, v.cy -= v.pinch_dy / v.zoom;
      zoom_about(v.pinch_x, v.pinch_y, v.pinch_scale);
    }
    v.pinch = false;
  }
  v.cx = std::clamp(v.cx, 0.0f, float(iw)), v.cy = std::clamp(v.cy, 0.0f, float(ih));
  const ImVec2 i0(std::round(center.x - v.cx * v.zoom), std::round(center.y - v.cy * v.zoom));
  const ImVec2 i1(i0.x + iw * v.zoom, i0.y + ih * v.zoom);
  const float dx = std::round(p0.x + v.divider * canvas_size.x);
  Source& L = src[size_t(left)];
  Source& R = src[size_t(right)];
  const float device_zoom = v.zoom * a.render.dpr;
  dl->PushClipRect(p0, ImVec2(dx, p1.y), true);
  if (const Texture* t = L.shown()) v.overview |= t->draw(dl, i0, i1, device_zoom);
  dl->PopClipRect();
  dl->PushClipRect(ImVec2(dx, p0.y), p1, true);
  if (const Texture* t = R.shown()) v.overview |= t->draw(dl, i0, i1, device_zoom);
  dl->PopClipRect();
  v.image_rect = ImVec4(i0.x, i0.y, i1.x, i1.y);
  if (v.zoom >= kPixelGridZoom) pixel_grid(dl, p0, p1, i0, i1, v.zoom, a.render.dpr), v.pixel_grid = true;
  // divider with a handle
  dl->AddLine(ImVec2(dx, p0.y), ImVec2(dx, p1.y), IM_COL32(255, 255, 255, 200), 2);
  const float hy = (p0.y + p1.y) / 2;
  dl->AddCircleFilled(ImVec2(dx, hy), 13, IM_COL32(255, 255, 255, 230));
  dl->AddTriangleFilled(ImVec2(dx - 9, hy), ImVec2(dx - 3, hy - 5), ImVec2(dx - 3, hy + 5),
                        IM_COL32(30, 30, 30, 255));
  dl->AddTriangleFilled(ImVec2(dx + 9, hy), ImVec2(dx + 3, hy + 5), ImVec2(dx + 3, hy - 5),
                        IM_COL32(30, 30, 30, 255));
  // labels
  auto label = [&](const std::string& text, float x, bool right) {
    if (text.empty()) return;
    const std::string s = fit_text(text, std::max(40.0f, canvas_size.x / 2 - 28));  // the two never meet
    const ImVec2 ts = ImGui::CalcTextSize(s.c_str());
    const float lx = right ? x - ts.x - 16 : x + 8;
    dl->AddRectFilled(ImVec2(lx, p0.y + 8), ImVec2(lx + ts.x + 8, p0.y + 12 + ts.y), IM_COL32(0, 0, 0, 170),
                      4);
    dl->AddText(ImVec2(lx + 4, p0.y + 10), IM_COL32(255, 255, 255, 255), s.c_str());
  };
  label(L.label, p0.x, false);
  label(R.label, p1.x, true);
  // under the viewer: the pixel under the cursor (or what the two sides show), and the help right-aligned
  ImGui::SetCursorScreenPos(ImVec2(p0.x, p1.y + 4));
  float text_end = p0.x;
  if (hovered) {
    const int px = int(std::floor(v.cx + (io.MousePos.x - center.x) / v.zoom));
    const int py = int(std::floor(v.cy + (io.MousePos.y - center.y) / v.zoom));
    if (px >= 0 && py >= 0 && px < iw && py < ih) {
      v.hover_x = px, v.hover_y = py;
      auto rgb = [&](int which) -> std::string {
        const aec::Image* im = which == 0   ? &a.original
                               : which == 1 ? (a.last().valid ? &a.last().recon : nullptr)
                               : which == 2 ? (a.jpeg.valid ? &a.jpeg.image : nullptr)
                               : which == 3 ? (a.webp.valid ? &a.webp.image : nullptr)
                                            : (a.other_run() ? &a.other_run()->recon : nullptr);
        if (!im || im->width != iw) return "-";
        const uint8_t* p = &im->rgb[(size_t(py) * iw + px) * 3];
        char buf[48];
        std::snprintf(buf, sizeof buf, "(%d, %d, %d)", p[0], p[1], p[2]);
        return buf;
      };
      ImGui::TextColored(kMuted, "pixel %d, %d   left %s   right %s", px, py, rgb(left).c_str(),
                         rgb(right).c_str());
      text_end = ImGui::GetItemRectMax().x;
    }
  } else {
    ImGui::TextColored(kMuted, "%s vs %s", L.name, R.name);
    text_end = ImGui::GetItemRectMax().x;
  }
  // The help, or where it does not fit, a "(?)" that shows it when hovered.
  const std::string help =
      std::string(a.touch ? "pinch: zoom   drag: pan   drag the handle: move the divider"
                          : "wheel: zoom   drag: pan   drag the handle: move the divider") +
      "   pixel grid from " + fmt("%.0fx", kPixelGridZoom) + " on";
  const float help_w = ImGui::CalcTextSize(help.c_str()).x, q_w = ImGui::CalcTextSize("(?)").x;
  if (p1.x - help_w >= text_end + 24) {
    ImGui::SetCursorScreenPos(ImVec2(p1.x - help_w, p1.y + 4));
    ImGui::TextColored(kMuted, "%s", help.c_str());
  } else if (p1.x - q_w >= text_end + 24) {
    ImGui::SetCursorScreenPos(ImVec2(p1.x - q_w, p1.y + 4));
    ImGui::TextColored(kMuted, "(?)");
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", help.c_str());
  }
}

// ---- latent -----------------------------------------------------------------------------------------------

void latent_tab(App& a) {
  CodecRun& r = a.last();
  if (!r.valid || !r.latent_view.tex.valid()) {
    muted("encode an image to see its latent");
    return;
  }
  const LatentView& lv = r.latent_view;
  const double total = std::accumulate(r.channel_bits.begin(), r.channel_bits.end(), 0.0);
  ImGui::Text("Latent %d x %d x %d", r.latent.c, r.latent.h, r.latent.w);
  ImGui::SameLine();
  ImGui::TextColored(kMuted, "   %.0f bits in the channels (ideal code length), %zu bytes in the file", total,
                     r.bytes.size());
  static bool sort_by_bits = true;
  ImGui::SameLine(0, 24);
  ImGui::Checkbox("sort by bits", &sort_by_bits);
  std::vector<float> bits(r.channel_bits.begin(), r.channel_bits.end());
  std::vector<int> order(size_t(lv.channels));
  std::iota(order.begin(), order.end(), 0);
  if (sort_by_bits)
    std::stable_sort(order.begin(), order.end(),
                     [&](int x, int y) { return r.channel_bits[size_t(x)] > r.channel_bits[size_t(y)]; });
  std::vector<float> plot;
  for (int k : order) plot.push_back(float(r.channel_bits[size_t(k)]));
  ImGui::PlotHistogram("##bits", plot.data(), int(plot.size()), 0, "bits per channel", 0.0f, FLT_MAX,
                       ImVec2(ImGui::GetContentRegionAvail().x, 70));
  ImGui::BeginChild("tiles", ImVec2(0, 0), false);
  const float avail = ImGui::GetContentRegionAvail().x;
  float tw = float(lv.tile_w), th = float(lv.tile_h);
  const float target = std::clamp(avail / 10.0f, 64.0f, 160.0f);
  const float s = target / std::max(tw, th);
  tw *= s, th *= s;
  const int per_row = std::max(1, int((avail + 8) / (tw + 8)));
  const float aw = float(lv.atlas.width), ah = float(lv.atlas.height);
  for (size_t i = 0; i < order.size(); ++i) {
    const int k = order[i];
    if (i % size_t(per_row) != 0) ImGui::SameLine(0, 8);
    ImGui::BeginGroup();
    const float ux = float((k % lv.cols) * (lv.tile_w + 1)), uy = float((k / lv.cols) * (lv.tile_h + 1));
    ImGui::Image(lv.tex.im(), ImVec2(tw, th), ImVec2(ux / aw, uy / ah),
                 ImVec2((ux + lv.tile_w) / aw, (uy + lv.tile_h) / ah));
    if (ImGui::IsItemHovered())
      ImGui::SetTooltip("channel %d\nvalues %.3f .. %.3f\n%.1f bits (%.1f%% of the rate)", k,
                        lv.lo[size_t(k)], lv.hi[size_t(k)], r.channel_bits[size_t(k)],
                        total > 0 ? 100.0 * r.channel_bits[size_t(k)] / total : 0.0);
    ImGui::TextColored(kMuted, "#%d  %.0f b", k, r.channel_bits[size_t(k)]);
    ImGui::EndGroup();
  }
  ImGui::EndChild();
}

// ---- cross-decode -----------------------------------------------------------------------------------------

// An image scaled to `w` x `max_h` at most (keeping its aspect), with a title and a wrapped caption.
void image_card(const char* title, const Texture& t, const std::string& caption, float w, float max_h) {
  ImGui::BeginGroup();
  ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + w);
  ImGui::TextUnformatted(title);
  if (t.valid()) {
    float iw = w, ih = w * float(t.h) / float(t.w);
    if (ih > max_h) iw *= max_h / ih, ih = max_h;
    ImGui::Image(t.im(), ImVec2(iw, ih));
  }
  ImGui::PushStyleColor(ImGuiCol_Text, kMuted);
  ImGui::TextWrapped("%s", caption.c_str());
  ImGui::PopStyleColor();
  ImGui::PopTextWrapPos();
  ImGui::Dummy(ImVec2(w, 0));  // the card is w wide whatever its contents, so the columns line up
  ImGui::EndGroup();
}

// "12.3 ms" with one decimal below 100 ms, none above.
std::string fmt_ms(double ms) {
  return fmt(ms < 100 ? "%.1f ms" : "%.0f ms", ms);
}

void cross_tab(App& a) {
  std::string family;
  int hi = -1, med = -1;
  const bool have = a.family_pair(family, hi, med);
  ImGui::PushTextWrapPos(0);
  if (!have) {
    muted(
        "Cross-resolution decoding needs a family: two models whose documents share a \"family\" id, one "
        "with role \"high\" and one with role \"medium\". None is loaded on this page.");
    ImGui::PopTextWrapPos();
    return;
  }
  const double fq = a.family_quality(hi, med);
  double lo = 1, up = 100;
  a.cross_span(hi, med, lo, up);
  // A family built on a codec's member: the high path codes with that member, which the codec uses for part
  // of its knob only (the slider spans that part, or every part whose member has a family: it moves from
  // one family to the next).
  const int member = a.family_high_member(hi, med);
  double member_lo = lo, member_up = up;
  a.family_span(hi, med, member_lo, member_up);
  const std::string high_name = member >= 0
                                    ? a.models[size_t(hi)].members[size_t(member)].name + " (codec " +
                                          a.models[size_t(hi)].name + "'s network for quality " +
                                          fmt_quality(member_lo) + " to " + fmt_quality(member_up) + ")"
                                    : a.models[size_t(hi)].name;
  ImGui::Text("Family %s: high = %s, medium = %s%s", family.c_str(), high_name.c_str(),
              a.models[size_t(med)].name.c_str(), fq > 0 ? " (variable-rate: one quality knob)" : "");
  muted(
      "The members share one latent space and entropy model. high -> medium: encode the original with the "
      "high member, decode with the medium member (half size; reference: the 2x box-downscaled original; "
      "baseline: the same file decoded at full size by the high member, then box-downscaled). medium -> "
      "high: encode the downscaled original with the medium member, decode with the high member (full size; "
      "reference: the original; baseline: the medium member's own decode upscaled bicubic).");
  ImGui::PopTextWrapPos();
  const bool can = a.original.width && !a.from_aec && !busy();
  if (fq > 0) {
    // Both paths code at the family's quality (its members share it: the side panel's slider of either
    // member is the same knob). Releasing the slider cross-decodes again.
    float q = float(fq);
    ImGui::SetNextItemWidth(220);
    if (busy()) ImGui::BeginDisabled();
    if (ImGui::SliderFloat("##cross-quality", &q, float(lo), float(up), quality_format(q),
                           ImGuiSliderFlags_AlwaysClamp)) {
      const double v = std::clamp(std::round(double(q) * 100) / 100, lo, up);
      set_cross_quality(hi, v);
      publish();
    }
    const bool released = ImGui::IsItemDeactivatedAfterEdit();
    if (busy()) ImGui::EndDisabled();
    a.controls.cross_quality_rect = item_rect();
    if (ImGui::IsItemHovered(ImGuiHoveredFlags_AllowWhenDisabled))
      ImGui::SetTooltip(
          "Quality %s-%s of both paths (the CLI's -q): the family's members share one quality knob,\n"
          "so a high file and a medium file of one quality cross-decode at it. Releasing the slider\n"
          "cross-decodes again.",
          fmt_quality(lo).c_str(), fmt_quality(up).c_str());
    if (released && can) action_cross_decode();
    ImGui::SameLine();
  }
  if (primary_button("Run cross-decode", can, ImVec2(180, 28))) action_cross_decode();
  a.controls.cross_run_rect = item_rect();
  const CrossRun& c = a.cross;
  if (!c.valid || c.image_serial != a.image_serial) return;
  ImGui::SameLine();
  const std::string took = fmt_ms(c.ms) + (c.quality > 0 ? ", at quality " + fmt_quality(c.quality) : "");
  ImGui::TextColored(kMuted, "%s", took.c_str());
  ImGui::Spacing();
  ImGui::BeginChild("cross", ImVec2(0, 0), false);
  // Two rows: high -> medium with its baseline and reference; medium -> high with its baseline. Each row
  // ends with the cross-decode against its baseline.
  const float w = (ImGui::GetContentRegionAvail().x - 32) / 3;
  const float max_h = std::max(
      100.0f, (ImGui::GetContentRegionAvail().y - 14 * ImGui::GetTextLineHeightWithSpacing() - 16) / 2);
  const std::string size_h2m = std::to_string(c.h2m.width) + "x" + std::to_string(c.h2m.height);
  const double full_ms = c.h2m_full_decode_ms + c.h2m_downscale_ms;
  ImGui::TextColored(kAccent, "high -> medium");
  image_card("cross-decode by the medium member", c.t_h2m,
             fmt("PSNR %.3f dB against the reference\n", c.h2m_psnr) + fmt("%.4f bpp, ", c.h2m_bpp) +
                 size_h2m + "\ndecode " + fmt_ms(c.h2m_decode_ms),
             w, max_h);
  ImGui::SameLine(0, 16);
  image_card("baseline: full decode, box-downscaled", c.t_h2m_full_down,
             fmt("PSNR %.3f dB against the reference\n", c.h2m_full_psnr) +
                 "the same file decoded at full size by the high member\ndecode " +
                 fmt_ms(c.h2m_full_decode_ms) + " + downscale " + fmt_ms(c.h2m_downscale_ms),
             w, max_h);
  ImGui::SameLine(0, 16);
  image_card("reference: original, box-downscaled", c.t_h2m_ref, "downscale2x_box(original)", w, max_h);
  {
    // The down path's gain over the baseline: in PSNR, and in time (a ratio below 1: the cross-decode is
    // faster).
    const double d = c.h2m_psnr - c.h2m_full_psnr;
    std::string line = "cross-decode against the baseline: " + fmt("%+.2f dB", d);
    if (full_ms > 0)
      line += ", " + fmt("%.2fx", c.h2m_decode_ms / full_ms) + " its time (" + fmt_ms(c.h2m_decode_ms) +
              " against " + fmt_ms(full_ms) + ")";
    ImGui::TextColored(d >= 0 ? kGood : kMuted, "%s", line.c_str());
  }
  ImGui::Spacing();
  ImGui::TextColored(kAccent, "medium -> high");
  image_card(
      c.m2h_up_decoder ? "cross-decode by the medium member's up decoder" : "cross-decode by the high member",
      c.t_m2h,
      fmt("PSNR %.3f dB against the original\n", c.m2h_psnr) + fmt("%.4f bpp", c.m2h_bpp) +
          " of the half-size image\ndecode " + fmt_ms(c.m2h_decode_ms),
      w, max_h);
  ImGui::SameLine(0, 16);
  image_card("baseline: medium decode, bicubic 2x", c.t_m2h_bicubic,
             fmt("PSNR %.3f dB against the original\n", c.m2h_bicubic_psnr) +
                 "the same file decoded by the medium member\ndecode " + fmt_ms(c.m2h_own_decode_ms) +
                 " + upscale " + fmt_ms(c.m2h_bicubic_ms),
             w, max_h);
  {
    const double d = c.m2h_psnr - c.m2h_bicubic_psnr;
    ImGui::TextColored(d >= 0 ? kGood : kMuted, "%s",
                       ("cross-decode against bicubic: " + fmt("%+.2f dB", d)).c_str());
  }
  ImGui::EndChild();
}

void about_tab() {
  ImGui::PushTextWrapPos(0);
  ImGui::TextUnformatted(
      "aecodec compresses images with convolutional autoencoders: an analysis transform maps the "
      "image to a latent, which is quantised and entropy-coded with a learned per-channel "
      "distribution; a synthesis transform maps the decoded latent back to an image.");
  ImGui::Spacing();
  muted(
      "This page runs the same C++ core as the command-line tool, compiled to WebAssembly; the ONNX Runtime "
      "backend "
      "runs the exported transforms while quantisation and entropy coding stay in the core, so both produce "
      ".aec "
      "files the CLI decodes (aecodec decode FILE.aec -o out.png). Nothing leaves your browser.");
  ImGui::Spacing();
  muted("Scripting: window.aecodec (see web/API.md).");
  ImGui::PopTextWrapPos();
}

constexpr float kTopBarHeight = 46;  // the title and the progress indicator; the panels start below
constexpr float kTopBarNarrow = 76;  // a phone's: the status gets its own row under the title
float g_top_bar_h = kTopBarHeight;   // the last frame's

// The title, and the status: while work runs, a spinner, what runs and for how long, and (when the work
// reports it) a progress bar with Cancel for work that can stop; else the threads. On a wide page the status
// is right-aligned beside the title (and the subtitle where there is room); on a narrow one it has its own
// row. Either way its text is cut to the room left, so it never runs into the title. Returns the bar's
// height.
float top_bar(App& a, float width, bool narrow) {
  const float pad = narrow ? 10 : 16;
  ImGui::SetCursorPos(ImVec2(pad, 10));
  ImGui::PushStyleColor(ImGuiCol_Text, ImVec4(1, 1, 1, 1));
  ImGui::SetWindowFontScale(1.35f);
  ImGui::TextUnformatted("aecodec");
  ImGui::SetWindowFontScale(1.0f);
  ImGui::PopStyleColor();
  a.layout.title = item_rect();
  const float title_end = a.layout.title.z;
  const float bar_h = narrow ? kTopBarNarrow : kTopBarHeight;
  a.layout.top_bar = ImVec4(0, 0, width, bar_h);

  // What the status shows, and how wide it is.
  const bool working = busy();
  const double progress = job_busy() ? job_progress() : -1;
  const bool cancellable = job_cancellable();
  const float spin_w = 14 + 8, bar_w = narrow ? 104 : 160, cancel_w = narrow ? 76 : 86;
  const float extra = (progress >= 0 ? bar_w + 10 : 0) + (cancellable ? cancel_w + 10 : 0);
  std::string text;
  if (working) {
    const std::string label = job_busy() ? job_label() : g_js_busy_label;
    text = label + fmt("  %.1f s", (job_busy() ? job_elapsed_ms() : now_ms() - g_js_busy_started) / 1000);
  } else {
    text = a.threaded ? "WASM SIMD, " + std::to_string(a.threads) + " threads"
                      : "WASM SIMD, single thread (page not cross-origin isolated)";
  }
  float x0, y, room;
  if (narrow) {
    x0 = pad, y = 46, room = width - 2 * pad;
  } else {
    y = 14;
    room = width - pad - (title_end + 24);
  }
  text = fit_text(text, std::max(40.0f, room - (working ? spin_w + extra : 0)));
  const float content_w = ImGui::CalcTextSize(text.c_str()).x + (working ? spin_w + extra : 0);
  if (!narrow) {
    x0 = width - pad - content_w;
    const char* sub = "learned image compression in the browser";
    const float sub_x = title_end + 12;
    if (sub_x + ImGui::CalcTextSize(sub).x + 24 <= x0) {
      ImGui::SetCursorPos(ImVec2(sub_x, 16));
      ImGui::TextColored(kMuted, "%s", sub);
    }
  }
  ImGui::SetCursorPos(ImVec2(x0, y));
  if (working) {
    spinner(7, 2.5f);
    ImGui::SameLine(0, 8);
    ImGui::SetCursorPosY(y);
    ImGui::TextUnformatted(text.c_str());
    if (progress >= 0) {
      ImGui::SameLine(0, 10);
      ImGui::SetCursorPosY(y - 2);
      ImGui::ProgressBar(float(progress), ImVec2(bar_w, 22), fmt("%.0f %%", progress * 100).c_str());
    }
    if (cancellable) {
      ImGui::SameLine(0, 10);
      ImGui::SetCursorPosY(y - 4);
      if (button(job_cancelling() ? "Cancelling" : "Cancel", !job_cancelling(), ImVec2(cancel_w, 26)))
        job_cancel();
    }
  } else {
    ImGui::TextColored(kMuted, "%s", text.c_str());
  }
  a.layout.status = ImVec4(x0, y - 4, x0 + content_w, y + 22);
  return bar_h;
}

// Dragging the panel scrolls it, as a phone scrolls a page: a drag on its blank space (not an item) at once;
// with a finger, also a drag that starts on an item (a button, a slider) and goes mostly up or down by more
// than a few pixels: the item lets go (a button so pressed clicks nothing) and the panel follows the finger.
void drag_scroll(App& a) {
  static bool scrolling = false;
  ImGuiWindow* w = ImGui::GetCurrentWindow();
  ImGuiContext& g = *GImGui;
  if (!ImGui::IsMouseDown(ImGuiMouseButton_Left)) scrolling = false;
  float delta = 0;
  if (scrolling) {
    delta = g.IO.MouseDelta.y;
  } else if (ImGui::IsMouseDown(ImGuiMouseButton_Left) && w->Rect().Contains(g.IO.MouseClickedPos[0])) {
    const ImVec2 d = ImGui::GetMouseDragDelta(ImGuiMouseButton_Left, 0);
    const bool blank = g.ActiveId != 0 && g.ActiveId == w->MoveId;
    if (blank ? d.y != 0 : a.touch && std::fabs(d.y) > 12 && std::fabs(d.y) > 2 * std::fabs(d.x)) {
      scrolling = true;
      if (!blank) ImGui::ClearActiveID();
      delta = d.y;
    }
  }
  if (delta != 0) ImGui::SetScrollY(w, std::clamp(w->Scroll.y - delta, 0.0f, w->ScrollMax.y));
  a.layout.panel_scroll = w->Scroll.y, a.layout.panel_scroll_max = w->ScrollMax.y;
}

}  // namespace

void apply_style(float scale) {
  ImGuiStyle& s = ImGui::GetStyle();
  ImGui::StyleColorsDark(&s);
  s.WindowRounding = 0, s.ChildRounding = 6, s.FrameRounding = 5, s.GrabRounding = 4, s.PopupRounding = 6;
  s.TabRounding = 5, s.ScrollbarRounding = 6;
  s.WindowPadding = ImVec2(14, 12), s.FramePadding = ImVec2(9, 5), s.ItemSpacing = ImVec2(8, 6);
  s.WindowBorderSize = 0, s.ChildBorderSize = 0, s.FrameBorderSize = 0;
  ImVec4* c = s.Colors;
  c[ImGuiCol_WindowBg] = ImVec4(0.10f, 0.11f, 0.13f, 1.0f);
  c[ImGuiCol_ChildBg] = ImVec4(0.13f, 0.14f, 0.17f, 1.0f);
  c[ImGuiCol_PopupBg] = ImVec4(0.13f, 0.14f, 0.17f, 0.98f);
  c[ImGuiCol_FrameBg] = ImVec4(0.19f, 0.20f, 0.24f, 1.0f);
  c[ImGuiCol_FrameBgHovered] = ImVec4(0.24f, 0.26f, 0.31f, 1.0f);
  c[ImGuiCol_FrameBgActive] = ImVec4(0.28f, 0.30f, 0.36f, 1.0f);
  c[ImGuiCol_Button] = ImVec4(0.21f, 0.23f, 0.28f, 1.0f);
  c[ImGuiCol_ButtonHovered] = ImVec4(0.27f, 0.30f, 0.36f, 1.0f);
  c[ImGuiCol_ButtonActive] = ImVec4(0.31f, 0.34f, 0.41f, 1.0f);
  c[ImGuiCol_Header] = ImVec4(0.22f, 0.35f, 0.58f, 0.6f);
  c[ImGuiCol_HeaderHovered] = ImVec4(0.26f, 0.42f, 0.68f, 0.8f);
  c[ImGuiCol_HeaderActive] = ImVec4(0.26f, 0.45f, 0.75f, 1.0f);
  c[ImGuiCol_Tab] = ImVec4(0.16f, 0.17f, 0.21f, 1.0f);
  c[ImGuiCol_TabHovered] = ImVec4(0.27f, 0.42f, 0.68f, 1.0f);
  c[ImGuiCol_TabActive] = ImVec4(0.22f, 0.37f, 0.62f, 1.0f);
  c[ImGuiCol_CheckMark] = kAccent;
  c[ImGuiCol_Separator] = ImVec4(0.25f, 0.27f, 0.32f, 1.0f);
  c[ImGuiCol_TableRowBgAlt] = ImVec4(1, 1, 1, 0.03f);
  c[ImGuiCol_TableHeaderBg] = ImVec4(0.17f, 0.18f, 0.22f, 1.0f);
  c[ImGuiCol_PlotHistogram] = kAccent;
  s.ScaleAllSizes(scale);
}

ImVec4 progress_rect() {
  return ImVec4(0, 0, ImGui::GetIO().DisplaySize.x, g_top_bar_h);
}

void draw_ui() {
  App& a = app();
  const ImGuiIO& io = ImGui::GetIO();
  const float W = io.DisplaySize.x, H = io.DisplaySize.y;
  const bool narrow = W < kNarrowWidth;
  a.layout = LayoutState();
  a.layout.narrow = narrow;
  a.controls = ControlsState();  // the side panel and the cross-decode tab set what they draw
  ImGui::SetNextWindowPos(ImVec2(0, 0));
  ImGui::SetNextWindowSize(io.DisplaySize);
  ImGui::Begin("aecodec", nullptr,
               ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove |
                   ImGuiWindowFlags_NoBringToFrontOnFocus | ImGuiWindowFlags_NoSavedSettings |
                   ImGuiWindowFlags_NoScrollWithMouse);
  const float bar_h = top_bar(a, W, narrow);
  if (bar_h != g_top_bar_h) request_redraw();  // the progress frames redraw the bar's rectangle only
  g_top_bar_h = bar_h;

  // The status line: the error (with "dismiss"), a note, or ready; wrapped to the page's width.
  const std::string msg = !a.error.empty()  ? "Error: " + a.error
                          : !a.info.empty() ? a.info
                                            : std::string(busy() ? "Working..." : "Ready.");
  const float dismiss_w = a.error.empty() ? 0 : ImGui::CalcTextSize("dismiss").x + 16;
  const float wrap_w = W - 32 - dismiss_w;
  const float status_h = std::max(30.0f, ImGui::CalcTextSize(msg.c_str(), nullptr, false, wrap_w).y + 12);
  auto status_line = [&](float y) {
    ImGui::SetCursorPos(ImVec2(16, y));
    ImGui::PushTextWrapPos(16 + wrap_w);
    ImGui::PushStyleColor(ImGuiCol_Text, a.error.empty() ? kMuted : kError);
    ImGui::TextUnformatted(msg.c_str());
    ImGui::PopStyleColor();
    ImGui::PopTextWrapPos();
    if (!a.error.empty()) {
      ImGui::SameLine();
      if (ImGui::SmallButton("dismiss")) a.clear_error(), publish();
    }
  };
  auto main_area = [&](const ImVec2& size) {
    ImGui::BeginChild("main", size, false,
                      ImGuiWindowFlags_AlwaysUseWindowPadding | ImGuiWindowFlags_NoScrollWithMouse |
                          ImGuiWindowFlags_NoScrollbar);
    if (ImGui::BeginTabBar("tabs")) {
      const char* names[] = {"Compare", "Latent", "Cross-decode", "About"};
      for (int i = 0; i < 4; ++i) {
        const ImGuiTabItemFlags f = a.request_tab == i ? ImGuiTabItemFlags_SetSelected : 0;
        if (ImGui::BeginTabItem(names[i], nullptr, f)) {
          a.tab = i;
          if (i == 0) compare_tab(a);
          if (i == 1) latent_tab(a);
          if (i == 2) cross_tab(a);
          if (i == 3) about_tab();
          ImGui::EndTabItem();
        }
      }
      a.request_tab = -1;
      ImGui::EndTabBar();
    }
    ImGui::EndChild();
    a.layout.view = item_rect();
  };
  auto panel = [&](const ImVec2& size) {
    ImGui::BeginChild("side", size, false, ImGuiWindowFlags_AlwaysUseWindowPadding);
    side_panel(a);
    drag_scroll(a);
    ImGui::EndChild();
    a.layout.panel = item_rect();
  };

  if (!narrow) {
    // Side by side: the controls' panel left, the view right, the status line at the bottom.
    ImGui::SetCursorPos(ImVec2(12, bar_h));
    const float body_h = H - bar_h - status_h - 8;
    const float side_w = std::clamp(W * 0.27f, 330.0f, 420.0f);
    panel(ImVec2(side_w, body_h));
    ImGui::SameLine(0, 10);
    main_area(ImVec2(0, body_h));
    status_line(H - status_h);
  } else {
    // A phone held upright: the view first, at the page's width, the status line under it, then the
    // controls (scrolled by dragging them).
    const float m = 4, rest = H - bar_h - status_h - m;
    const float view_h = std::max(std::min(rest, 300.0f), std::min(rest * 0.62f, rest - 160));
    ImGui::PushStyleVar(ImGuiStyleVar_WindowPadding, ImVec2(6, 6));
    ImGui::SetCursorPos(ImVec2(m, bar_h));
    main_area(ImVec2(W - 2 * m, view_h));
    ImGui::PopStyleVar();
    status_line(bar_h + view_h + 6);
    ImGui::PushStyleVar(ImGuiStyleVar_WindowPadding, ImVec2(10, 10));
    ImGui::SetCursorPos(ImVec2(m, bar_h + view_h + status_h));
    panel(ImVec2(W - 2 * m, std::max(60.0f, H - bar_h - view_h - status_h - m)));
    ImGui::PopStyleVar();
  }
  ImGui::End();
}

}  // namespace web
