// The browser demo's entry point: a GLFW window on the page's canvas, Dear ImGui (GLFW + WebGL2 backends),
// and a main loop driven by requestAnimationFrame.
#include <GLFW/glfw3.h>
#include <emscripten.h>
#include <emscripten/html5.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <thread>

#include "aecodec/parallel.h"
#include "app.h"
#include "imgui_impl_glfw.h"
#include "imgui_impl_opengl3.h"

namespace {

GLFWwindow* g_window = nullptr;

// The canvas's CSS size (at least 320 x 240) and the device pixel ratio (clamped to 0.5 .. 4).
EM_JS(double, page_css_width, (),
      { return Math.max(320, Module.canvas.getBoundingClientRect().width || window.innerWidth); });
EM_JS(double, page_css_height, (),
      { return Math.max(240, Module.canvas.getBoundingClientRect().height || window.innerHeight); });
EM_JS(double, page_dpr, (), {
  const r = window.devicePixelRatio;
  return r > 0 ? Math.min(4, Math.max(0.5, r)) : 1;
});
// Sets the canvas's backing store (device pixels); the stylesheet keeps its CSS size. Through Emscripten's
// Browser.setCanvasSize, which tells GLFW (glfwSetWindowSize would go fullscreen when the size equals the
// screen's).
EM_JS(void, page_set_canvas_size, (int w, int h), { Module.setCanvasSize(w, h); });
EM_JS(int, page_threads, (), { return Module.aecThreads || 1; });
// The WebGL2 context, made before GLFW makes it (getContext then returns this one), with its drawing buffer
// preserved between frames: a frame may then redraw only a part of the canvas (the progress indicator).
EM_JS(void, page_make_context, (), {
  try {
    Module.canvas.getContext(
        "webgl2",
        {alpha : false, antialias : false, depth : false, stencil : false, preserveDrawingBuffer : true});
  } catch (e) {
  }
});
EM_JS(int, page_preserves_drawing, (), {
  const gl = Module.ctx;
  const a = gl && gl.getContextAttributes && gl.getContextAttributes();
  return a && a.preserveDrawingBuffer ? 1 : 0;
});
// The UI font (web/stage.mjs bundles DejaVu Sans when the system has it): copied into a malloc'd buffer that
// ImGui owns.
EM_JS(void*, page_font, (int* size), {
  const f = Module.aecFont;
  if (!f || !f.length) return 0;
  const p = _malloc(f.length);
  HEAPU8.set(f, p);
  HEAP32[size >> 2] = f.length;
  return p;
});
// The wheel in steps (a notch of a mouse wheel: 1), positive up and left. Emscripten 3.1.6's GLFW passes the
// event's raw deltaY (100 per notch in Chromium, in the event's unit, down positive): a window listener in
// the capture phase, which runs before GLFW's on the canvas, keeps the last event's steps for on_scroll.
EM_JS(void, page_watch_wheel, (), {
  Module.aecWheel = [ 0, 0 ];
  window.addEventListener(
      "wheel",
      function(e) {
        const k = e.deltaMode == 1 ? 1 / 3 : e.deltaMode == 2 ? 1 : 1 / 100;
        Module.aecWheel = [ -e.deltaX * k, -e.deltaY * k ];
      },
      true);
});
EM_JS(double, page_wheel, (int axis), { return Module.aecWheel[axis]; });
// Touch (Emscripten 3.1.6's GLFW takes a touch for a mouse button at the mouse's last position, and never
// moves it): listeners on the window in the capture phase, ahead of GLFW's on the canvas, take the canvas's
// touches (no page scrolling or zooming, no emulated mouse events) and hand them to aec_touch_pointer (one
// finger: the ImGui mouse, so it taps, drags the divider, pans, scrolls the panel) and aec_touch_pinch (two
// fingers: zoom and pan the view). After a two-finger gesture the fingers drive nothing until all are up. A
// mouse moving over the canvas takes the pointer back.
EM_JS(void, page_watch_touch, (), {
  const canvas = Module.canvas;
  let pinch = null;
  let locked = false;
  let touching = false;
  const at = (t) => {
    const r = canvas.getBoundingClientRect();
    return [ t.clientX - r.left, t.clientY - r.top ];
  };
  const handle = (e) => {
    if (e.target !== canvas) return;
    e.preventDefault();
    e.stopPropagation();
    touching = true;
    const ts = e.touches;
    if (ts.length >= 2) {
      const a = at(ts[0]), b = at(ts[1]);
      const x = (a[0] + b[0]) / 2, y = (a[1] + b[1]) / 2, d = Math.max(1, Math.hypot(b[0] - a[0], b[1] - a[1]));
      if (!pinch) {
        if (!locked) _aec_touch_pointer(3, x, y);  // the first finger's press ends, without a click
        locked = true;
      } else {
        _aec_touch_pinch(x, y, x - pinch[0], y - pinch[1], d / pinch[2]);
      }
      pinch = [ x, y, d ];
      return;
    }
    pinch = null;
    if (ts.length === 1) {
      if (!locked) {
        const p = at(ts[0]);
        _aec_touch_pointer(1, p[0], p[1]);
      }
      return;
    }
    if (!locked && e.changedTouches.length) {
      const p = at(e.changedTouches[0]);
      _aec_touch_pointer(e.type === "touchcancel" ? 3 : 0, p[0], p[1]);
    }
    locked = false;
  };
  for (const type of [ "touchstart", "touchmove", "touchend", "touchcancel" ])
    window.addEventListener(type, handle, {capture : true, passive : false});
  window.addEventListener(
      "mousemove", (e) => {
        if (touching && e.target === canvas) {
          touching = false;
          _aec_touch_pointer(-1, 0, 0);
        }
      }, true);
});
EM_JS(void, page_ready, (), {
  if (Module.aecOnReady) Module.aecOnReady();
});

// While work runs and nothing else asks for frames, the progress indicator is drawn at most this often
// (10 frames a second; a little under 100 ms so that a 60 or 120 Hz display gives every 6th or 12th frame).
constexpr double kBusyFrameMs = 95;
double g_last_draw_ms = -1e9;
bool g_partial_ok = false;  // the drawing buffer is preserved: frames may redraw a part of it
float g_font_dpr = 0;       // the device pixel ratio the font atlas was rasterised for

void input_event() {
  web::request_redraw();
}

// The finger that drives the ImGui mouse (aec_touch_pointer): its events queue up and each frame takes one,
// so a press is seen where the finger came down, a lift where it left, and a tap (down and up between two
// frames) presses for one frame and releases in the next; moves between two frames merge into the last. The
// frame after a lift, the mouse leaves the canvas, so nothing stays hovered (no tooltips left behind).
enum TouchKind { kTouchNone, kTouchPress, kTouchMove, kTouchLift, kTouchCancel };
struct TouchEvent {
  TouchKind kind = kTouchNone;
  float x = 0, y = 0;
};
struct Touch {
  bool engaged = false;  // touch drives the mouse (until a real mouse moves)
  bool down = false;     // as the queued events leave it
  std::deque<TouchEvent> queue;
  TouchEvent current;  // what the last frame showed
} g_touch;

void push_touch(TouchKind kind, float x, float y) {
  Touch& t = g_touch;
  if (kind == kTouchMove && !t.queue.empty() && t.queue.back().kind == kTouchMove)
    t.queue.back() = {kind, x, y};
  else
    t.queue.push_back({kind, x, y});
}

void apply_touch(ImGuiIO& io) {
  Touch& t = g_touch;
  if (!t.engaged) return;
  for (bool& b : io.MouseDown) b = false;
  if (!t.queue.empty()) {
    t.current = t.queue.front();
    t.queue.pop_front();
  } else if (t.current.kind == kTouchLift || t.current.kind == kTouchCancel) {
    t.current.kind = kTouchNone;  // the frame after a lift: off the canvas
  }
  if (!t.queue.empty() || t.current.kind != kTouchNone) web::request_redraw();
  switch (t.current.kind) {
    case kTouchPress:
    case kTouchMove:
      io.MousePos = ImVec2(t.current.x, t.current.y);
      io.MouseDown[0] = true;
      break;
    case kTouchLift:  // released here: a button under the finger is clicked
      io.MousePos = ImVec2(t.current.x, t.current.y);
      break;
    default:  // cancelled (a second finger: the press ends off the canvas, so it clicks nothing), or away
      io.MousePos = ImVec2(-FLT_MAX, -FLT_MAX);
  }
}

// Input: redraw, and pass it on to ImGui's GLFW backend (whose own callbacks are not installed, for the
// wheel).
void on_cursor(GLFWwindow*, double, double) {
  input_event();
}
void on_button(GLFWwindow* w, int button, int action, int mods) {
  input_event();
  ImGui_ImplGlfw_MouseButtonCallback(w, button, action, mods);
}
void on_scroll(GLFWwindow* w, double, double) {
  input_event();
  ImGui_ImplGlfw_ScrollCallback(w, page_wheel(0), page_wheel(1));
}
void on_key(GLFWwindow* w, int key, int scancode, int action, int mods) {
  input_event();
  ImGui_ImplGlfw_KeyCallback(w, key, scancode, action, mods);
}
void on_char(GLFWwindow* w, unsigned c) {
  input_event();
  ImGui_ImplGlfw_CharCallback(w, c);
}
void on_enter(GLFWwindow* w, int entered) {
  input_event();
  ImGui_ImplGlfw_CursorEnterCallback(w, entered);
}
void on_focus(GLFWwindow* w, int focused) {
  input_event();
  ImGui_ImplGlfw_WindowFocusCallback(w, focused);
}

// The UI font rasterised at the device's resolution (15 CSS px = 15 * dpr device pixels) and drawn at
// 1 / dpr, so text is crisp on hi-DPI screens while the layout stays in CSS pixels.
void load_fonts(float dpr) {
  ImGuiIO& io = ImGui::GetIO();
  io.Fonts->Clear();
  int font_size = 0;
  void* font = page_font(&font_size);
  if (font) {
    ImFontConfig cfg;
    cfg.FontDataOwnedByAtlas = true;
    cfg.OversampleH = dpr >= 2 ? 1 : 2;
    io.Fonts->AddFontFromMemoryTTF(font, font_size, 15.0f * dpr, &cfg);
  } else {
    ImFontConfig cfg;
    cfg.SizePixels = 13.0f * dpr;
    io.Fonts->AddFontDefault(&cfg);
  }
  io.FontGlobalScale = 1.0f / dpr;
  g_font_dpr = dpr;
  web::app().render.font_px = font ? 15.0f : 13.0f;
}

// Keeps the canvas's backing store at its CSS size times the device pixel ratio (which changes with the
// browser's zoom and between screens); the font follows the ratio.
void update_canvas_size() {
  web::RenderInfo& r = web::app().render;
  const double css_w = page_css_width(), css_h = page_css_height();
  const float dpr = float(page_dpr());
  const int fw = std::max(1, int(std::lround(css_w * dpr))), fh = std::max(1, int(std::lround(css_h * dpr)));
  if (fw != r.fb_width || fh != r.fb_height || dpr != r.dpr) {
    int cw = 0, ch = 0;
    glfwGetFramebufferSize(g_window, &cw, &ch);
    if (cw != fw || ch != fh) page_set_canvas_size(fw, fh);
    r.fb_width = fw, r.fb_height = fh, r.dpr = dpr;
    // ImGui's coordinates: CSS pixels, such that DisplaySize * DisplayFramebufferScale covers the backing
    // store exactly (the OpenGL backend truncates the product).
    r.width = float(fw) / dpr, r.height = float(fh) / dpr;
    while (int(r.width * dpr) < fw) r.width = std::nextafter(r.width, 1e9f);
    while (int(r.height * dpr) < fh) r.height = std::nextafter(r.height, 1e9f);
    input_event();
  }
  if (dpr != g_font_dpr) {
    load_fonts(dpr);
    ImGui_ImplOpenGL3_DestroyFontsTexture();
    ImGui_ImplOpenGL3_CreateFontsTexture();
  }
}

// Limits the draw data to the rectangle r (ImGui's coordinates): commands outside it get an empty clip
// rectangle, which the OpenGL backend skips.
void clip_draw_data(ImDrawData* dd, const ImVec4& r) {
  for (int i = 0; i < dd->CmdListsCount; ++i)
    for (ImDrawCmd& c : dd->CmdLists[i]->CmdBuffer) {
      ImVec4& k = c.ClipRect;
      k = ImVec4(std::max(k.x, r.x), std::max(k.y, r.y), std::min(k.z, r.z), std::min(k.w, r.w));
      if (k.z <= k.x || k.w <= k.y) k = ImVec4(0, 0, 0, 0);
    }
}

void frame() {
  update_canvas_size();
  web::poll_jobs();
  glfwPollEvents();
  // Draw only when something changed: input or new state (a few frames, for ImGui to settle), and while work
  // runs, the progress indicator at a capped rate. Otherwise the canvas keeps showing the last frame.
  // Progress frames redraw only the top bar, where the indicator is, when the drawing buffer is preserved
  // (under software WebGL a whole frame costs the work a good part of a core).
  const double now = web::now_ms();
  const bool full = web::g_redraw_frames > 0;
  if (!full && !((web::job_busy() || web::g_js_busy > 0) && now - g_last_draw_ms >= kBusyFrameMs)) return;
  if (full) --web::g_redraw_frames;
  const bool partial = !full && g_partial_ok;
  g_last_draw_ms = now;
  web::RenderInfo& r = web::app().render;
  ++r.frames;
  if (partial) ++r.progress_frames;

  ImGui_ImplOpenGL3_NewFrame();
  ImGui_ImplGlfw_NewFrame();
  // The GLFW backend sees the canvas in device pixels (Emscripten's GLFW window is the backing store, and it
  // reports the mouse in its pixels): ImGui works in CSS pixels, with the ratio as the framebuffer scale.
  ImGuiIO& io = ImGui::GetIO();
  io.DisplaySize = ImVec2(r.width, r.height);
  io.DisplayFramebufferScale = ImVec2(r.dpr, r.dpr);
  if (io.MousePos.x != -FLT_MAX && io.MousePos.y != -FLT_MAX)
    io.MousePos = ImVec2(io.MousePos.x / r.dpr, io.MousePos.y / r.dpr);
  apply_touch(io);
  web::app().touch = g_touch.engaged;
  ImGui::NewFrame();
  web::draw_ui();
  ImGui::Render();
  ImDrawData* dd = ImGui::GetDrawData();
  glViewport(0, 0, r.fb_width, r.fb_height);
  glClearColor(0.08f, 0.09f, 0.11f, 1.0f);
  if (partial) {
    const ImVec4 bar = web::progress_rect();
    clip_draw_data(dd, bar);
    const int y0 = int(std::floor(bar.y * r.dpr)), y1 = int(std::ceil(bar.w * r.dpr));
    glEnable(GL_SCISSOR_TEST);
    glScissor(0, r.fb_height - y1, r.fb_width, y1 - y0);
    glClear(GL_COLOR_BUFFER_BIT);
    glDisable(GL_SCISSOR_TEST);
  } else {
    glClear(GL_COLOR_BUFFER_BIT);
  }
  ImGui_ImplOpenGL3_RenderDrawData(dd);
}

}  // namespace

extern "C" {

// One finger on the canvas (CSS px): phase 1 down or moving, 0 lifted, 3 cancelled (no click: a second
// finger came, or the browser took the touch), -1 a mouse took over.
EMSCRIPTEN_KEEPALIVE void aec_touch_pointer(int phase, double x, double y) {
  Touch& t = g_touch;
  input_event();
  if (phase < 0) {
    t = Touch();
    return;
  }
  t.engaged = true;
  if (phase == 1) {
    push_touch(t.down ? kTouchMove : kTouchPress, float(x), float(y));
    t.down = true;
  } else if (phase == 0) {
    if (t.down) push_touch(kTouchMove, float(x), float(y)), push_touch(kTouchLift, float(x), float(y));
    t.down = false;
  } else {
    if (t.down) push_touch(kTouchCancel, float(x), float(y));
    t.down = false;
  }
}

// Two fingers: their centre (CSS px), how far it moved and the factor their distance changed by since the
// last call. The split view zooms about the centre and follows it (ui.cpp applies it in the next frame).
EMSCRIPTEN_KEEPALIVE void aec_touch_pinch(double x, double y, double dx, double dy, double scale) {
  web::ViewState& v = web::app().view;
  if (!v.pinch) v.pinch_dx = v.pinch_dy = 0, v.pinch_scale = 1;
  v.pinch = true;
  v.pinch_x = float(x), v.pinch_y = float(y);
  v.pinch_dx += float(dx), v.pinch_dy += float(dy);
  v.pinch_scale *= float(std::clamp(scale, 0.2, 5.0));
  g_touch.engaged = true;
  input_event();
}

}  // extern "C"

int main() {
  if (!glfwInit()) {
    std::fprintf(stderr, "aecodec: glfwInit failed\n");
    return 1;
  }
  glfwWindowHint(GLFW_CONTEXT_VERSION_MAJOR, 3);
  glfwWindowHint(GLFW_CONTEXT_VERSION_MINOR, 0);
  page_make_context();
  g_window = glfwCreateWindow(int(page_css_width()), int(page_css_height()), "aecodec", nullptr, nullptr);
  if (!g_window) {
    std::fprintf(stderr, "aecodec: WebGL2 is not available\n");
    return 1;
  }
  glfwMakeContextCurrent(g_window);
  g_partial_ok = page_preserves_drawing() != 0;

  web::App& a = web::app();
#ifdef AEC_WEB_THREADS
  a.threaded = true;
  a.threads = std::max(1, std::min(8, page_threads()));
#else
  a.threaded = false;
  a.threads = 1;
#endif
  aec::set_num_threads(a.threads);

  IMGUI_CHECKVERSION();
  ImGui::CreateContext();
  ImGuiIO& io = ImGui::GetIO();
  io.IniFilename = nullptr;  // no imgui.ini in the browser
  load_fonts(float(page_dpr()));
  web::apply_style(1.0f);
  ImGui_ImplGlfw_InitForOpenGL(g_window, false);
  page_watch_wheel();
  page_watch_touch();
  glfwSetCursorPosCallback(g_window, on_cursor);
  glfwSetMouseButtonCallback(g_window, on_button);
  glfwSetScrollCallback(g_window, on_scroll);
  glfwSetKeyCallback(g_window, on_key);
  glfwSetCharCallback(g_window, on_char);
  glfwSetCursorEnterCallback(g_window, on_enter);
  glfwSetWindowFocusCallback(g_window, on_focus);
  ImGui_ImplOpenGL3_Init("#version 300 es");
  update_canvas_size();
  page_ready();
  emscripten_set_main_loop(frame, 0, true);
  return 0;
}
