// The browser demo's state: the models, the image, the last runs of each backend, the JPEG/WebP comparison
// and the cross-decode results. The coding is the page's, through the aecodec package (start_coding); the app
// keeps each model's description (aec::Model) for its list, and measures and shows the results. The UI
// (ui.cpp) draws it, the exported C functions (api.cpp) let the page's JavaScript (web/app.js) drive it.
// Everything here is touched on the main thread only, except inside a job's work function (jobs.cpp), which
// runs on a worker thread in the threaded build and touches only its captures.
#pragma once
#include <GLES3/gl3.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "aecodec/codec.h"
#include "aecodec/codec_manifest.h"
#include "aecodec/image.h"
#include "aecodec/model.h"
#include "imgui.h"

namespace web {

// Page limits: those of the core's decoder (aec::ImageLimits: 16384 px a side, 64 Mpx). Above 2 Mpx the
// package runs the networks by tiles (aecodec/tile.h) in its own WebAssembly heap; the app's heap holds the
// original, the reconstruction and the comparisons (it grows up to 4 GiB: -sMAXIMUM_MEMORY), and MS-SSIM is
// measured in bands (photo.cpp). The ONNX Runtime backend runs whole images: it keeps the former 4 Mpx limit.
constexpr int kMaxSide = aec::ImageLimits{}.max_side;
constexpr int64_t kMaxPixels = aec::ImageLimits{}.max_pixels;
constexpr int64_t kOrtMaxPixels = int64_t(4) << 20;
inline aec::ImageLimits page_limits() {
  return {kMaxSide, kMaxPixels};
}

// An image as GL textures, whatever its size: tiles no larger than the GL's MAX_TEXTURE_SIZE (and 4096; a
// WebGL2 context has at least 2048), and for an image over kOverviewSide a side, an overview box-downscaled
// by an integer factor to at most kOverviewSide, drawn while the view shows at most one overview texel per
// device pixel (a photo fitted to the screen): zooming out neither aliases nor samples 24 Mpx a frame.
constexpr int kOverviewSide = 2048;
struct Texture {
  struct Tile {
    GLuint id = 0;
    int x = 0, y = 0, w = 0, h = 0;
  };
  std::vector<Tile> tiles;
  GLuint overview = 0;
  int ov_w = 0, ov_h = 0, ov_factor = 1;
  int w = 0, h = 0;
  void upload(const aec::Image& im);
  void release();
  bool valid() const { return !tiles.empty(); }
  // One texture of the whole image (the overview, or the only tile), for thumbnails and atlases.
  ImTextureID im() const {
    const GLuint id = overview ? overview : tiles.empty() ? 0 : tiles[0].id;
    return reinterpret_cast<ImTextureID>(static_cast<intptr_t>(id));
  }
  // Draws the image onto i0..i1 (CSS px), shown at `device_zoom` device pixels per image pixel; returns
  // whether it drew the overview.
  bool draw(ImDrawList* dl, const ImVec2& i0, const ImVec2& i1, float device_zoom) const;
};
// The tiles' side: the context's MAX_TEXTURE_SIZE, at most 4096 (the page's ?max_texture=N lowers it, for
// tests of the tiled path).
int max_texture_side();
// factor x factor box means (a partial box at the right and bottom edges averages what exists).
aec::Image box_downscale(const aec::Image& im, int factor);

struct ModelEntry {
  std::string name, file, arch, description, family_id, role, id;
  // A family's medium member built on a model in no family (family.high in its document and in the site's
  // manifest, docs/model-format.md): that model's name, decode id and stride. Its files cross-decode with
  // this member, and this member's files with that model.
  std::string family_high, family_high_id;
  int family_high_stride = 0;
  // The entry holding such a model (the site's manifest marks it: family {id, role "high", member}): the
  // model that is the family's high member, a codec's member or the entry's own model; its file names no
  // family, so the entry's family is the manifest's.
  std::string family_member;
  // A codec holding a family per member (the manifest's `families`: family-medium on channel and
  // family-wide-medium on channel-wide): each family's id and member, in the members' order. family_id and
  // family_member are the one whose member serves the knob's quality (follow_quality), so that the
  // cross-decode tab codes with the family of the quality picked.
  struct CodecFamily {
    std::string id, member;
  };
  std::vector<CodecFamily> families;
  bool in_family(const std::string& id) const {
    if (id == family_id) return true;
    for (const CodecFamily& f : families)
      if (f.id == id) return true;
    return false;
  }
  std::string encoder_onnx, decoder_onnx;  // URLs; empty when the model has no exported graphs
  int stride = 1, latent_channels = 0, fixed_w = 0, fixed_h = 0;
  size_t file_bytes = 0;
  enum State { Loading, Loaded, Failed } state = Loading;
  std::string error;
  std::string ort_error;                    // set when ONNX Runtime could not load/run this model's graphs
  std::shared_ptr<const aec::Model> model;  // its description (the page's codecs code with the file)
  // Encoder refinement (effort > 0) needs a rate model (factorized or hyperprior) and the rate-distortion
  // trade-off the model was trained for (training.lambda); else effort_note says why not.
  bool refinable = false;
  std::string effort_note;
  // A variable-rate model (aec::Model::variable_rate, quality.h): its quality knob, Q 1-100 in hundredths.
  // `quality` is the page's current choice for this model (the slider), starting at the model's default;
  // 0 for a single-rate model.
  bool variable_rate = false;
  double default_quality = 0, quality = 0;
  std::vector<double> lambdas;
  // A codec's ONNX Runtime backend runs the graphs of the member that serves the knob's quality (or that
  // made the file), so every member needs its own.
  bool ort_available() const {
    if (!ort_error.empty()) return false;
    if (!codec) return !encoder_onnx.empty() && !decoder_onnx.empty();
    for (const Member& x : members)
      if (!x.has_onnx()) return false;
    return !members.empty();
  }

  // A codec (codec_manifest.h: NAME.codec.json): one quality knob over member models. Its manifest is read
  // by the core (aec_codec_manifest); the page fetches a member when the knob first needs it (the slider
  // going past a hand-over, an encode, a size search, a file the member made), so a wide member that the
  // default quality does not use is not downloaded with the page. The entry is Loaded once its manifest and
  // the default quality's member are; its description (arch, stride, effort) is that member's.
  struct Member {
    std::string name, file;
    std::string encoder_onnx, decoder_onnx;  // URLs of its graphs, fetched when the ONNX backend first needs
                                             // this member; empty when the site has none
    bool has_onnx() const { return !encoder_onnx.empty() && !decoder_onnx.empty(); }
    size_t file_bytes = 0;
    enum State { Idle, Loading, Loaded, Failed } state = Idle;
    double progress = 0;  // of a download (0..1)
    std::string error;
    std::shared_ptr<const aec::Model> model;
  };
  bool codec = false;
  aec::CodecManifest manifest;
  std::vector<Member> members;
  // The member index for knob quality q (the core's mapping), or -1 when this is no codec.
  int member_at(double q) const { return codec ? int(manifest.at(q).member) : -1; }
  // The member named `name`, or -1.
  int member_named(const std::string& name) const {
    for (size_t k = 0; k < members.size(); ++k)
      if (members[k].name == name) return int(k);
    return -1;
  }
  // A codec with families: family_id / family_member become the family of the member that serves `quality`
  // (kept where that member has none).
  void follow_quality() {
    if (!codec || families.empty() || members.empty() || manifest.members.empty() || quality < 1) return;
    const std::string& at = members[size_t(member_at(quality))].name;
    for (const CodecFamily& f : families)
      if (f.member == at) family_id = f.id, family_member = f.member;
  }
};

// Latent channels as heat maps, packed into one texture (tile per channel).
struct LatentView {
  aec::Image atlas;
  int cols = 0, tile_w = 0, tile_h = 0, channels = 0;
  std::vector<float> lo, hi;  // per channel value range
  Texture tex;
};

// One encode + decode of the current image with one model and backend.
struct CodecRun {
  bool valid = false;
  int image_serial = 0;
  std::string model, model_id, backend;  // backend: "core" or "ort"
  std::string member;                    // a codec's run: the member model that made the file
  int effort = 0;                        // the encoder effort that made `bytes` (-1: an opened file)
  double quality = 0;                    // a variable-rate model's Q of the file (0: single-rate)
  uint64_t target_bytes = 0;             // > 0: Q was searched for the largest file of at most this size
  int trials = 0;                        // ... in this many encodes
  std::vector<uint8_t> bytes;            // the .aec file
  int width = 0, height = 0;
  bool has_reference = false;  // false for an opened .aec file with no matching original
  double bpp = 0, psnr = 0, ms_ssim = 0;
  aec::CodecTimings enc, dec;
  aec::Image recon;
  aec::Tensor latent;
  std::vector<double> channel_bits;
  Texture tex;
  LatentView latent_view;
};

// The original coded by the browser's JPEG or WebP encoder at (at most) the same size as the .aec file.
struct CompareRun {
  bool valid = false;
  int image_serial = 0;
  std::string codec;  // "jpeg" | "webp"
  size_t bytes = 0, target_bytes = 0;
  double quality = 0, bpp = 0, psnr = 0, ms_ssim = 0;
  bool at_min_quality = false;  // even quality 0 is larger than the target
  aec::Image image;
  Texture tex;
};

// Cross-resolution decoding within a family. A variable-rate family (both members variable-rate: one knob,
// the medium's gains a copy of the high's) codes both paths at the family's quality (set_model_quality keeps
// its members' the same); a single-rate one at what its members were trained for.
struct CrossRun {
  bool valid = false;
  int image_serial = 0;
  std::string family, high, medium;
  std::string high_model;  // the model that codes the high path: `high`, or the codec member it names
  double quality = 0;      // the quality asked for (0: a single-rate family)
  // high -> medium: encode the original with the high member, decode with the medium member (half size);
  // reference: the 2x box-downscaled original. Baseline (the work the cross-decode replaces): the same file
  // decoded at full size by the high member, then box-downscaled (aec::downscale2x_box), as `aecodec rd`
  // scores it.
  aec::Image h2m, h2m_ref, h2m_full_down;
  double h2m_psnr = 0, h2m_bpp = 0, h2m_quality = 0;  // h2m_quality: the file's (0: single-rate)
  double h2m_full_psnr = 0;
  double h2m_decode_ms = 0;       // the cross-decode (the package's decode time)
  double h2m_full_decode_ms = 0;  // the high member's full-size decode of the same file
  double h2m_downscale_ms = 0;    // ... and its box-downscale
  size_t h2m_bytes = 0;
  // medium -> high: encode the box-downscaled original with the medium member, decode with the high member
  // (full size); reference: the original. Baseline: the medium member's own decode, upscaled bicubic.
  aec::Image m2h, m2h_bicubic;
  double m2h_psnr = 0, m2h_bicubic_psnr = 0, m2h_bpp = 0, m2h_quality = 0;
  double m2h_decode_ms = 0;     // the cross-decode
  bool m2h_up_decoder = false;  // made by the medium member's up decoder (else by the high member's decoder)
  double m2h_own_decode_ms = 0, m2h_bicubic_ms = 0;  // the medium member's decode, its bicubic upscale
  size_t m2h_bytes = 0;
  double ms = 0;
  Texture t_h2m, t_h2m_ref, t_h2m_full_down, t_m2h, t_m2h_bicubic;
  void release_textures() {
    for (Texture* t : {&t_h2m, &t_h2m_ref, &t_h2m_full_down, &t_m2h, &t_m2h_bicubic}) t->release();
  }
};

// View state of the split viewer (zoom, pan, divider).
struct ViewState {
  float zoom = 1;        // screen pixels per image pixel
  float cx = 0, cy = 0;  // image point at the centre of the view
  float divider = 0.5f;  // fraction of the view width
  bool fit_pending = true;
  int left = 0, right = 1;  // 0 original, 1 reconstruction, 2 JPEG, 3 WebP, 4 other backend
  bool dragging_divider = false;
  // What the last drawn frame showed (for the page's API): the viewer's and the image's rectangles on screen
  // (CSS px; all 0 when not shown), the image pixel under the cursor (-1 when none), the pixel grid.
  ImVec4 canvas_rect{0, 0, 0, 0}, image_rect{0, 0, 0, 0};
  int hover_x = -1, hover_y = -1;
  bool pixel_grid = false;
  bool overview = false;  // the last frame drew the sources' overviews (Texture::draw), not their tiles
  // A two-finger gesture not applied yet (main.cpp): the fingers' centre now (CSS px), how far it moved and
  // the factor their distance changed by since the last frame that applied one.
  bool pinch = false;
  float pinch_x = 0, pinch_y = 0, pinch_dx = 0, pinch_dy = 0, pinch_scale = 1;
};

// How the last drawn frame laid the page out (CSS px), for the page's API and its tests: `narrow` below
// kNarrowWidth (a phone held upright: the view first at full width, the controls below it); the title, the
// status text beside or under it (busy label, progress bar, threads) and the controls' panel.
constexpr float kNarrowWidth = 760;
struct LayoutState {
  bool narrow = false;
  ImVec4 title{0, 0, 0, 0}, status{0, 0, 0, 0}, top_bar{0, 0, 0, 0}, panel{0, 0, 0, 0}, view{0, 0, 0, 0};
  float panel_scroll = 0, panel_scroll_max = 0;
};

// Where the last drawn frame put the side panel's encoder controls (CSS px; all 0 when not shown), for the
// page's API and its tests: the quality slider and the target-size field appear for variable-rate models
// only; the effort control is greyed out (with effort_note as its tooltip) for models that cannot refine.
// The cross-decode tab's controls too, while that tab is shown.
struct ControlsState {
  ImVec4 quality_rect{0, 0, 0, 0}, size_rect{0, 0, 0, 0}, fit_rect{0, 0, 0, 0}, effort_rect{0, 0, 0, 0};
  ImVec4 encode_rect{0, 0, 0, 0}, open_rect{0, 0, 0, 0};   // "Encode + decode" (or Cancel), "Open image..."
  ImVec4 model_rect{0, 0, 0, 0}, member_rect{0, 0, 0, 0};  // the model picker; its level (member) choice
  ImVec4 cross_quality_rect{0, 0, 0, 0};  // the cross-decode tab's quality slider (a variable-rate family)
  ImVec4 cross_run_rect{0, 0, 0, 0};      // ... and its "Run cross-decode" button
  bool effort_enabled = false;
};

// The pixel grid of the split viewer appears from this magnification (screen pixels per image pixel) on.
constexpr float kPixelGridZoom = 8.0f;

// How the canvas is drawn: its size in CSS pixels (ImGui's coordinates), the device pixel ratio and the
// backing store (framebuffer) in device pixels; frames counts the frames drawn since the page started.
struct RenderInfo {
  float width = 0, height = 0, dpr = 1;
  int fb_width = 0, fb_height = 0;
  long long frames = 0;           // frames drawn
  long long progress_frames = 0;  // of those, the ones that redrew only the top bar (progress indicator)
  float font_px = 15;             // the UI font's size in CSS px (rasterised at font_px * dpr)
};

// The model picker's entries, grouped as the CLI's `aecodec models` does (native/cli/model_list.cpp): codecs
// (factorized, hyperprior and channel models; a set of single-rate levels NAME-q1..qN is one entry with a
// level choice, lowest rate first; a variable-rate model is an entry of its own), cross-resolution families
// (one entry per family, its members the choice) and the research note's plain autoencoders as
// demonstrations (one entry per model). Members are indices into App::models.
struct ModelGroup {
  std::string kind;  // "codec", "family" or "demo"
  std::string name;  // the codec ("hyperprior"), the family ("family") or the model's name
  std::vector<int> members;
};
std::vector<ModelGroup> model_groups(const std::vector<ModelEntry>& models);
// The model a group's entry selects: a codec's middle level, a family's first member, else its model.
inline int default_member(const ModelGroup& g) {
  return g.kind == "codec" ? g.members[g.members.size() / 2] : g.members[0];
}
// The group holding model i (an index into groups), or -1.
int group_of(const std::vector<ModelGroup>& groups, int i);

struct App {
  std::vector<ModelEntry> models;
  bool manifest_loaded = false;
  std::string manifest_note;  // e.g. "random-weight test models"
  int selected_model = -1;
  std::string backend = "core";
  int effort = 0;  // encoder effort for the next encode (aec::EncodeOptions::effort)
  bool threaded = false;
  int threads = 1;

  // the image being coded
  int image_serial = 0;
  std::string image_name;
  aec::Image original;
  Texture original_tex;
  std::vector<std::string> image_notes;  // "alpha dropped", ...
  bool from_aec = false;                 // the view shows a decoded .aec file (no original)

  CodecRun core_run, ort_run;
  std::string last_backend;  // which run is "the" result
  CompareRun jpeg, webp;
  bool compare_running = false;
  CrossRun cross;
  ViewState view;
  ControlsState controls;
  char target_text[16] = "";  // the target-size field (bytes)
  RenderInfo render;
  LayoutState layout;
  bool touch = false;  // the last input came from a touch screen (main.cpp): larger handles, touch help
  int tab = 0;         // 0 compare, 1 latent, 2 cross-decode, 3 about
  int request_tab = -1;

  // status
  std::string error, info;
  int error_serial = 0;
  int completed = 0;  // increments when a job finishes (the page's API waits on it)
  int cancelled = 0;  // of those, the ones cancelled (they changed nothing)

  CodecRun& last() { return last_backend == "ort" ? ort_run : core_run; }
  CodecRun* other_run() {
    CodecRun& o = last_backend == "ort" ? core_run : ort_run;
    const CodecRun& l = last();
    return o.valid && l.valid && o.image_serial == l.image_serial && o.model == l.model &&
                   o.effort == l.effort && o.quality == l.quality
               ? &o
               : nullptr;
  }
  const ModelEntry* model_named(const std::string& name) const;
  int model_index(const std::string& name) const;
  const ModelEntry* current_model() const {
    return selected_model >= 0 && selected_model < int(models.size()) ? &models[size_t(selected_model)]
                                                                      : nullptr;
  }
  // The two loaded members (high, medium) of a cross-resolution family, or false. The high entry is the
  // family's member of role "high", or, for a medium member that names its high member (family.high), the
  // entry holding that model (a model of that name, or a codec with that member) while its decode id is the
  // one named.
  bool family_pair(std::string& family, int& high, int& medium) const;
  // The member of codec entry `high` that is the pair's high member (the model the medium names), or -1
  // when the entry is a model itself.
  int family_high_member(int high, int medium) const;
  // The qualities the pair's cross-decodes take, [lo, hi]: 1-100, or, where the high member is a codec's
  // member, the span of the codec's knob that member serves (a Q on a hand-over goes to the lower member).
  // False unless both members are variable-rate.
  bool family_span(int high, int medium, double& lo, double& hi) const;
  // The qualities the cross-decode tab's knob spans for that pair: family_span, widened over the spans of
  // every member of the high codec that has a family (its knob then moves from one family to the next).
  bool cross_span(int high, int medium, double& lo, double& hi) const;
  // Whether family `id` has a loaded medium member.
  bool family_medium_loaded(const std::string& id) const;
  // The quality the cross-decode of that pair codes at: the family's (its high entry's, within the span), or
  // 0 unless both members are variable-rate.
  double family_quality(int high, int medium) const {
    double lo = 0, hi = 0;
    return family_span(high, medium, lo, hi) ? std::clamp(models[size_t(high)].quality, lo, hi) : 0;
  }
  // The quality the high member itself codes at for family quality q: a codec member's own quality (the
  // knob's mapping), else q. The medium member codes at it too (it shares the high member's gains).
  double family_model_quality(int high, int medium, double q) const;

  // The original for a job's work, not copied (3 bytes a pixel: 72 MB of a 24 Mpx photo): the page replaces
  // the original only while no job runs (opening a file is refused while busy; a decoded .aec file becomes
  // the original in its job's finish, on the main thread), so it stays as it is while the work reads it.
  std::shared_ptr<const aec::Image> original_view() const {
    return std::shared_ptr<const aec::Image>(std::shared_ptr<const aec::Image>(), &original);
  }

  void set_error(const std::string& e);
  void clear_error() { error.clear(); }
};

App& app();

// jobs.cpp: at most one job at a time. `work` runs off the main thread in the threaded build (in the next
// frames otherwise, after the progress indicator is drawn); `finish` runs on the main thread after it (GL,
// state). A `cancellable` job's work calls job_report(fraction done) now and then and stops (throws
// aec::Cancelled) when it returns false; a cancelled job skips `finish`, so nothing changes.
bool start_job(const std::string& label, std::function<void()> work, std::function<void()> finish,
               bool cancellable = false);
// A job whose work starts on the page's side: its JavaScript codes with the aecodec package (the app's only
// way of making or reading .aec files), reports progress, then either hands the results back (job_resume:
// `work` then runs as a job's, e.g. measuring them, and `finish` after it) or ends the job (job_end_page:
// with an error, or cancelled). Cancelling it asks the page to stop the package's call (aec_js_cancel).
bool start_page_job(const std::string& label, bool cancellable);
bool job_on_page();                            // a job runs on the page's side (before job_resume)
void job_set_label(const std::string& label);  // the running job's label (a page job downloading a member)
void job_resume(std::function<void()> work, std::function<void()> finish);
void job_end_page(bool cancelled, const std::string& error);
bool job_busy();
const std::string& job_label();
double job_elapsed_ms();
double job_progress();             // the running job's last report (0..1), or -1
bool job_cancellable();            // a job runs and can be cancelled
bool job_cancelling();             // ... and has been asked to stop
bool job_report(double fraction);  // (work thread) progress; false: stop
bool job_cancel();                 // asks the running job to stop; false when none can
void poll_jobs();
// Work the page does outside jobs (ONNX Runtime, browser encoders); counted so the API can wait for idle.
extern int g_js_busy;
extern std::string g_js_busy_label;
extern double g_js_busy_started;

// actions.cpp
// Current image, selected model, backend, effort and (variable-rate models) quality. With target_bytes > 0
// the quality is searched instead (the package's size search, C++ core only), and the model's quality becomes
// the one found.
bool action_encode(uint64_t target_bytes = 0);
int effort_for(const ModelEntry& m);      // the effort an encode with m uses (0 when m cannot refine)
double quality_for(const ModelEntry& m);  // the quality an encode with m uses (0 for a single-rate model)
// Sets variable-rate model i's quality (Q, hundredths): a codec's member for it is fetched, and the other
// variable-rate members of its cross-resolution family get the same (a family shares one quality knob).
void set_model_quality(int i, double q);
// Sets the quality of the cross-decode tab's family through its high entry `high` (set_model_quality), then
// the medium member's own quality for it, of the pair at q: a codec with a family per member has moved to the
// family of the member that serves q (and the high entry's propagation does not reach a pair found by the
// model's name rather than the manifest's mark).
void set_cross_quality(int high, double q);
// Asks the page to fetch member `member` of codec entry `model` unless it is loaded or on its way.
void want_member(int model, int member);
bool action_cross_decode();
void action_open_aec(const uint8_t* data, size_t size, const std::string& name);
void set_original(aec::Image im, const std::string& name, std::vector<std::string> notes, bool auto_encode);
void finish_run(CodecRun run);          // main thread: textures, comparison, view
void build_latent_view(CodecRun& run);  // (any thread) fills run.latent_view.atlas
// Frees a run's latent values once its heat maps are built, keeping its shape (c, h, w) for the page.
inline void drop_latent_values(aec::Tensor& t) {
  std::vector<float>().swap(t.data);
}
void request_compare();  // asks the page to code the original as JPEG/WebP at the run's size
double now_ms();
std::string fmt_quality(double q);  // "20", "37.5", "12.25"

// What the page hands back from the package for a page job (api.cpp: aec_job_slot, aec_job_result): its
// meta (JSON text, parsed by the handler) and byte buffers by slot (the .aec file, images as RGBA, a latent
// as floats). The handler the action set runs on the main thread and resumes the job.
enum Slot {
  kSlotFile = 0,
  kSlotImage = 1,
  kSlotLatent = 2,
  kSlotImage2 = 3,
  kSlotImage3 = 4,
  kSlotImage4 = 5,
  kSlots = 6
};
using PageResult = std::function<void(const std::string& meta, std::vector<std::vector<uint8_t>>& slots)>;
// Starts a page job (start_page_job) and asks the page to run `request` (JSON: {"op": "encode" | "decode" |
// "ort" | "cross", ...}; `data`, when given, goes along as bytes); `on_result` gets what it hands back.
bool start_coding(const std::string& label, bool cancellable, const std::string& request,
                  PageResult on_result, const uint8_t* data = nullptr, size_t size = 0);
void page_result(const std::string& meta, std::vector<std::vector<uint8_t>>& slots);  // aec_job_result
// The RGBA pixels the package decodes into, as the app's RGB image (the buffer is released).
aec::Image rgba_image(std::vector<uint8_t>& rgba, int width, int height);
// A latent the package handed over (floats), as a tensor of c x h x w (the buffer is released).
aec::Tensor latent_tensor(std::vector<uint8_t>& floats, int c, int h, int w);

// photo.cpp: PSNR and MS-SSIM of b against a: the core's (aec/metrics.h; MS-SSIM by bands of rows, on its
// threads).
void measure(const aec::Image& a, const aec::Image& b, double& psnr, double& ms_ssim);

// State changed: redraw the next frames and refresh the page's accessible summary. The main loop draws only
// when something changes (input, new state; main.cpp), and while work runs only as often as the progress
// indicator needs, so an idle page costs no CPU and a busy one little.
void publish();
void request_redraw();  // redraw the next few frames (input, state change)
extern int g_redraw_frames;

// ui.cpp
void draw_ui();
void apply_style(float scale);
ImVec4 progress_rect();  // the top bar (x0, y0, x1, y1), which holds the progress indicator

}  // namespace web

// library_aecodec.js: what the C++ side asks of the page.
extern "C" {
void aec_js_pick_file(int kind);  // 0 an image (image/*), 1 an .aec file
void aec_js_download(const uint8_t* data, int size, const char* name);
// A page job's coding (start_coding): the request (JSON) and its bytes (copied before this returns).
void aec_js_code(const char* request, const uint8_t* data, int size);
void aec_js_cancel();  // stop the page job's coding (it then ends the job as cancelled)
void aec_js_compare(int target_bytes);
void aec_js_publish();  // state changed: refresh the page's accessible summary
// Fetch member `member` of codec entry `model` (indices; it then arrives through aec_member_bytes).
void aec_js_fetch_member(int model, int member);
void aec_download();  // api.cpp: hands the last .aec file to the page as a download
}
