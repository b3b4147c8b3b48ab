// One background job at a time. Threaded build (-pthread, page cross-origin isolated): the work runs on its
// own thread and the core's parallel_for fans out from there, so the page keeps drawing. Single-threaded
// build: the work runs inside a frame, two frames after it was asked for, so the progress indicator is on
// screen first. A cancellable job reports its progress through job_report, which tells it when to stop: the
// work then throws aec::Cancelled and the job ends without calling `finish`. A coding job starts on the
// page's side (start_page_job): the page codes with the aecodec package, reports progress (aec_job_progress),
// and hands the results over (job_resume: the app's own work, such as measuring them, then runs as above) or
// ends the job (job_end_page: an error, or cancelled); cancelling it asks the page to stop the package's
// call.
#include <algorithm>
#include <atomic>
#include <exception>
#include <new>
#include <thread>

#include "aecodec/error.h"
#include "app.h"

namespace web {

int g_js_busy = 0;
std::string g_js_busy_label;
double g_js_busy_started = 0;

namespace {

struct Job {
  bool active = false;
  std::string label;
  std::function<void()> work, finish;
  std::string error;
  double started = 0;
  int frames = 0;
  bool cancellable = false, cancelled = false;
  bool page = false;  // the page's JavaScript does the work (start_page_job) until job_resume / job_end_page
  std::atomic<bool> done{false};
  std::atomic<bool> cancel{false};  // asked for on the main thread, seen by the work at its next report
  std::atomic<float> progress{-1};  // the work's last report (0..1), -1 before the first
#ifdef AEC_WEB_THREADS
  std::thread thread;
#endif
} g_job;

void run_work() {
  try {
    g_job.work();
  } catch (const aec::Cancelled&) {
    g_job.cancelled = true;
  } catch (const std::bad_alloc&) {
    g_job.error = "out of memory: the image is too large for this model in the browser's memory";
  } catch (const std::exception& e) {
    g_job.error = e.what();
  } catch (...) {
    g_job.error = "unexpected error";
  }
  g_job.done = true;
}

}  // namespace

namespace {

bool begin(const std::string& label, std::function<void()> work, std::function<void()> finish,
           bool cancellable, bool page) {
  if (g_job.active) return false;
  g_job.active = true;
  g_job.label = label;
  g_job.work = std::move(work);
  g_job.finish = std::move(finish);
  g_job.error.clear();
  g_job.started = now_ms();
  g_job.frames = 0;
  g_job.cancellable = cancellable;
  g_job.cancelled = false;
  g_job.cancel = false;
  g_job.progress = -1;
  g_job.done = false;
  g_job.page = page;
  app().info.clear();  // a note about earlier work (a file opened, a job cancelled) is stale now
#ifdef AEC_WEB_THREADS
  if (!page) g_job.thread = std::thread(run_work);
#endif
  publish();
  return true;
}

}  // namespace

bool start_job(const std::string& label, std::function<void()> work, std::function<void()> finish,
               bool cancellable) {
  return begin(label, std::move(work), std::move(finish), cancellable, false);
}

bool start_page_job(const std::string& label, bool cancellable) {
  return begin(label, nullptr, nullptr, cancellable, true);
}

bool job_on_page() {
  return g_job.active && g_job.page;
}

void job_resume(std::function<void()> work, std::function<void()> finish) {
  if (!job_on_page()) return;
  g_job.page = false;
  g_job.work = std::move(work);
  g_job.finish = std::move(finish);
  g_job.frames = 0;
  g_job.done = false;
#ifdef AEC_WEB_THREADS
  g_job.thread = std::thread(run_work);
#endif
  publish();
}

void job_end_page(bool cancelled, const std::string& error) {
  if (!job_on_page()) return;
  g_job.page = false;
  g_job.work = nullptr;
  g_job.finish = nullptr;
  g_job.cancelled = cancelled;
  g_job.error = cancelled ? std::string() : error;
  g_job.done = true;
  publish();
}

bool job_busy() {
  return g_job.active;
}
void job_set_label(const std::string& label) {
  if (g_job.active) g_job.label = label;
  publish();
}

const std::string& job_label() {
  return g_job.label;
}
double job_elapsed_ms() {
  return g_job.active ? now_ms() - g_job.started : 0;
}
double job_progress() {
  return g_job.active ? double(g_job.progress.load()) : -1;
}
bool job_cancellable() {
  return g_job.active && g_job.cancellable;
}
bool job_cancelling() {
  return g_job.active && g_job.cancel;
}

bool job_report(double fraction) {
  g_job.progress = float(std::clamp(fraction, 0.0, 1.0));
  return !g_job.cancel;
}

bool job_cancel() {
  if (!job_cancellable() || g_job.cancel) return false;
  g_job.cancel = true;
  if (g_job.page) aec_js_cancel();  // the page stops the package's call, then ends the job (job_end_page)
  publish();
  return true;
}

void poll_jobs() {
  if (!g_job.active || g_job.page) return;
#ifdef AEC_WEB_THREADS
  if (!g_job.done) return;
  if (g_job.thread.joinable()) g_job.thread.join();
#else
  if (!g_job.done) {
    if (++g_job.frames < 3) return;  // let the progress indicator reach the screen
    run_work();
  }
#endif
  g_job.active = false;
  std::function<void()> finish = std::move(g_job.finish);
  g_job.work = nullptr;
  // Asked to stop but done first: dropped all the same, so that a cancel the page accepted always means no
  // result.
  if (g_job.cancelled || (g_job.cancel && g_job.error.empty())) {
    // The state is as before the job: its results were only ever in the job's captures.
    ++app().cancelled;
    app().info = "Cancelled: the page keeps its previous result.";
  } else if (g_job.error.empty()) {
    try {
      if (finish) finish();
    } catch (const std::exception& e) {
      g_job.error = e.what();
    }
  }
  if (!g_job.error.empty()) app().set_error(g_job.error);
  ++app().completed;
  publish();
}

}  // namespace web
