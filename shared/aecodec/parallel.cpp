#include "aecodec/parallel.h"

#include <algorithm>
#include <atomic>
#include <climits>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace aec {

#if defined(__EMSCRIPTEN__) && !defined(__EMSCRIPTEN_PTHREADS__)
#define AEC_NO_THREADS 1
#endif

namespace {
std::atomic<int> g_threads{0};
}  // namespace

void set_num_threads(int n) {
  g_threads = std::max(0, n);
}

int num_threads() {
#ifdef AEC_NO_THREADS
  return 1;
#else
  int n = g_threads.load();
  if (n <= 0) n = int(std::max(1u, std::thread::hardware_concurrency()));
  return n;
#endif
}

#ifndef AEC_NO_THREADS

namespace {

// Chunks per worker: small enough that a thread slowed by another process (or started late) hands its share
// to the others, large enough that taking one (an atomic increment) costs nothing next to it.
constexpr int kChunksPerWorker = 8;
constexpr int kIdle = INT_MAX / 2;  // `next` between calls: late wakers find no chunk

struct Pool {
  std::mutex call;  // held by the thread whose call the pool runs
  std::mutex m;
  std::condition_variable work_cv, done_cv;
  std::vector<std::thread> threads;
  uint64_t generation = 0;
  // The call's parameters: atomics, since a thread that wakes late may still read them while the next call
  // sets them (it then finds no chunk left).
  std::atomic<const std::function<void(int, int)>*> fn{nullptr};
  std::atomic<int> n{0}, chunks{0}, helpers{0};  // helpers: how many pool threads this call may use
  std::atomic<int> next{kIdle}, done{0}, joined{0};
  std::vector<std::exception_ptr> errors;

  void run_chunks() {
    for (;;) {
      const int c = next.fetch_add(1, std::memory_order_acq_rel), nc = chunks.load();
      if (c >= nc) return;
      const int b = int(int64_t(n) * c / nc), e = int(int64_t(n) * (c + 1) / nc);
      try {
        (*fn.load())(b, e);
      } catch (...) {
        errors[size_t(c)] = std::current_exception();
      }
      if (done.fetch_add(1, std::memory_order_acq_rel) + 1 == nc) {
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
      // At most num_threads() at once: the pool may hold more threads than this call asked for.
      if (joined.fetch_add(1, std::memory_order_acq_rel) < helpers) run_chunks();
    }
  }
};

Pool& pool() {
  static Pool* p = new Pool;  // never destroyed: its threads wait for work until the process ends
  return *p;
}

thread_local bool t_inside = false;  // set on pool threads and on a thread while its call runs

}  // namespace

// The threads are started once and kept (starting them per call is cheap natively but not in the browser,
// where a thread started from a worker is created by the page's main thread between two frames), and each
// call hands its chunks out dynamically. A nested call, and a call from another thread while the pool runs
// one, run on the calling thread alone.
void parallel_for(int n, const std::function<void(int, int)>& fn) {
  if (n <= 0) return;
  const int workers = std::min(num_threads(), n);
  if (workers <= 1 || t_inside) {
    fn(0, n);
    return;
  }
  Pool& p = pool();
  std::unique_lock<std::mutex> call(p.call, std::try_to_lock);
  if (!call.owns_lock()) {
    fn(0, n);
    return;
  }
  while (int(p.threads.size()) < workers - 1)
    p.threads.emplace_back([&p] {
      t_inside = true;
      p.worker();
    });
  {
    std::lock_guard<std::mutex> lk(p.m);
    p.fn = &fn;
    p.n = n;
    p.chunks = std::min(n, workers * kChunksPerWorker);
    p.helpers = workers - 1;
    p.errors.assign(size_t(p.chunks.load()), nullptr);
    p.done.store(0);
    p.joined.store(0);
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

void parallel_for(int n, const std::function<void(int, int)>& fn) {
  if (n > 0) fn(0, n);
}

#endif

}  // namespace aec
