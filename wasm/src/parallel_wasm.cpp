// The core's threading primitive (shared/aecodec/parallel.h) for the browser build, replacing
// shared/aecodec/parallel.cpp there. The native version spawns threads per call, which is cheap natively but not
// in the browser: a thread started from a worker thread is created by the page's main thread, between two frames,
// which made a small model 20-30x slower than single-threaded. Here the threads are started once and kept, and
// each call hands out chunks to them. Without -pthread everything runs on the calling thread.
#include <algorithm>
#include <atomic>
#include <climits>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "aecodec/parallel.h"

namespace aec {

#ifdef __EMSCRIPTEN_PTHREADS__

namespace {

constexpr int kIdle = INT_MAX / 2;  // `next` between calls: late wakers find no chunk

struct Pool {
  std::mutex call;  // one parallel_for at a time
  std::mutex m;
  std::condition_variable work_cv, done_cv;
  std::vector<std::thread> threads;
  uint64_t generation = 0;
  const std::function<void(int, int)>* fn = nullptr;
  int n = 0, chunks = 0;
  std::atomic<int> next{kIdle}, done{0};
  std::vector<std::exception_ptr> errors;

  void run_chunks() {
    for (;;) {
      const int c = next.fetch_add(1, std::memory_order_acq_rel);
      if (c >= chunks) return;
      const int b = int(int64_t(n) * c / chunks), e = int(int64_t(n) * (c + 1) / chunks);
      try {
        (*fn)(b, e);
      } catch (...) {
        errors[size_t(c)] = std::current_exception();
      }
      if (done.fetch_add(1, std::memory_order_acq_rel) + 1 == chunks) {
        std::lock_guard<std::mutex> lk(m);
        done_cv.notify_all();
      }
    }
  }

  void worker() {
    uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lk(m);
        work_cv.wait(lk, [&] { return generation != seen; });
        seen = generation;
      }
      run_chunks();
    }
  }
};

Pool& pool() {
  static Pool* p = new Pool;  // never destroyed: its threads live as long as the page
  return *p;
}

thread_local bool t_inside = false;  // a nested call runs inline
std::atomic<int> g_threads{0};

}  // namespace

void set_num_threads(int n) { g_threads = std::max(0, n); }

int num_threads() {
  int n = g_threads.load();
  if (n <= 0) n = int(std::max(1u, std::thread::hardware_concurrency()));
  return n;
}

void parallel_for(int n, const std::function<void(int, int)>& fn) {
  if (n <= 0) return;
  const int workers = std::min(num_threads(), n);
  if (workers <= 1 || t_inside) {
    fn(0, n);
    return;
  }
  Pool& p = pool();
  std::lock_guard<std::mutex> call(p.call);
  while (int(p.threads.size()) < workers - 1)
    p.threads.emplace_back([&p] {
      t_inside = true;
      p.worker();
    });
  {
    std::lock_guard<std::mutex> lk(p.m);
    p.fn = &fn;
    p.n = n;
    p.chunks = workers;
    p.errors.assign(size_t(workers), nullptr);
    p.done.store(0);
    p.next.store(0, std::memory_order_release);
    ++p.generation;
  }
  p.work_cv.notify_all();
  t_inside = true;
  p.run_chunks();
  t_inside = false;
  {
    std::unique_lock<std::mutex> lk(p.m);
    p.done_cv.wait(lk, [&] { return p.done.load() == p.chunks; });
    p.next.store(kIdle);
  }
  for (auto& e : p.errors)
    if (e) std::rethrow_exception(e);
}

#else  // no threads

void set_num_threads(int) {}
int num_threads() { return 1; }
void parallel_for(int n, const std::function<void(int, int)>& fn) {
  if (n > 0) fn(0, n);
}

#endif

}  // namespace aec
