// The browser demo's entry point: a GLFW window on the page's canvas, Dear ImGui (GLFW + WebGL2 backends),
// and a main loop driven by requestAnimationFrame.
#include <GLFW/glfw3.h>
#include <emscripten.h>
#include <emscripten/html5.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "aecodec/parallel.h"
#include "app.h"
#include "imgui_impl_glfw.h"
#include "imgui_impl_opengl3.h"

namespace {

GLFWwindow* g_window = nullptr;
int g_w = 0, g_h = 0;

EM_JS(int, page_width, (),
      { return Math.max(320, Math.floor(Module.canvas.clientWidth || window.innerWidth)); });
EM_JS(int, page_height, (),
      { return Math.max(240, Math.floor(Module.canvas.clientHeight || window.innerHeight)); });
EM_JS(int, page_threads, (), { return Module.aecThreads || 1; });
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
EM_JS(void, page_ready, (), {
  if (Module.aecOnReady) Module.aecOnReady();
});

void input_event() {
  web::g_redraw_frames = std::max(web::g_redraw_frames, 3);
}
void on_cursor(GLFWwindow*, double, double) {
  input_event();
}
void on_button(GLFWwindow*, int, int, int) {
  input_event();
}
void on_scroll(GLFWwindow*, double, double) {
  input_event();
}
void on_key(GLFWwindow*, int, int, int, int) {
  input_event();
}
void on_char(GLFWwindow*, unsigned) {
  input_event();
}
void on_enter(GLFWwindow*, int) {
  input_event();
}

void frame() {
  const int w = page_width(), h = page_height();
  if (w != g_w || h != g_h) {
    g_w = w, g_h = h;
    glfwSetWindowSize(g_window, w, h);
    input_event();
  }
  web::poll_jobs();
  glfwPollEvents();
  // Draw only while something changes: input (a few frames, for ImGui to settle), work in progress (the
  // progress indicator), or new state. Otherwise the canvas keeps showing the last frame.
  if (web::job_busy() || web::g_js_busy > 0) {
    web::g_redraw_frames = std::max(web::g_redraw_frames, 2);
  }
  if (web::g_redraw_frames <= 0) return;
  --web::g_redraw_frames;
  ImGui_ImplOpenGL3_NewFrame();
  ImGui_ImplGlfw_NewFrame();
  ImGui::NewFrame();
  web::draw_ui();
  ImGui::Render();
  int fw, fh;
  glfwGetFramebufferSize(g_window, &fw, &fh);
  glViewport(0, 0, fw, fh);
  glClearColor(0.08f, 0.09f, 0.11f, 1.0f);
  glClear(GL_COLOR_BUFFER_BIT);
  ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
}

}  // namespace

int main() {
  if (!glfwInit()) {
    std::fprintf(stderr, "aecodec: glfwInit failed\n");
    return 1;
  }
  glfwWindowHint(GLFW_CONTEXT_VERSION_MAJOR, 3);
  glfwWindowHint(GLFW_CONTEXT_VERSION_MINOR, 0);
  g_w = page_width(), g_h = page_height();
  g_window = glfwCreateWindow(g_w, g_h, "aecodec", nullptr, nullptr);
  if (!g_window) {
    std::fprintf(stderr, "aecodec: WebGL2 is not available\n");
    return 1;
  }
  glfwMakeContextCurrent(g_window);

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
  int font_size = 0;
  void* font = page_font(&font_size);
  if (font) {
    ImFontConfig cfg;
    cfg.FontDataOwnedByAtlas = true;
    cfg.OversampleH = 2;
    io.Fonts->AddFontFromMemoryTTF(font, font_size, 15.0f, &cfg);
  } else {
    ImFontConfig cfg;
    cfg.SizePixels = 13.0f;
    io.Fonts->AddFontDefault(&cfg);
  }
  web::apply_style(1.0f);
  // Ours first: ImGui's GLFW backend chains to callbacks installed before it.
  glfwSetCursorPosCallback(g_window, on_cursor);
  glfwSetMouseButtonCallback(g_window, on_button);
  glfwSetScrollCallback(g_window, on_scroll);
  glfwSetKeyCallback(g_window, on_key);
  glfwSetCharCallback(g_window, on_char);
  glfwSetCursorEnterCallback(g_window, on_enter);
  ImGui_ImplGlfw_InitForOpenGL(g_window, true);
  ImGui_ImplOpenGL3_Init("#version 300 es");
  page_ready();
  emscripten_set_main_loop(frame, 0, true);
  return 0;
}
