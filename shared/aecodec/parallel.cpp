#include "aecodec/parallel.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
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

// One parallel_for call. Each call gets its own, and a pool thread holds the one it woke for until it has
// finished with it: a thread that wakes late, after its call has ended and the next has begun, then finds no
// chunk left in its own call instead of taking an index meant for one call and a range or function meant for
// the next (which would run a chunk twice and let the caller return, or wait forever, on a wrong count).
struct Call {
  const std::function<void(int, int)>* fn = nullptr;
  int n = 0, chunks = 0, helpers = 0;  // helpers: how many pool threads this call may use
  std::atomic<int> next{0}, done{0}, joined{0};
  std::vector<std::exception_ptr> errors;  // one slot per chunk, so no lock is needed to record one
};

struct Pool {
  std::mutex call;  // held by the thread whose call the pool runs
  std::mutex m;
  std::condition_variable work_cv, done_cv;
  std::vector<std::thread> threads;
  uint64_t generation = 0;
  std::shared_ptr<Call> current;  // guarded by m

  // A chunk is only taken while the call has chunks left, so the call (and its fn) is alive while it runs.
  void run_chunks(Call& c) {
    for (;;) {
      const int i = c.next.fetch_add(1, std::memory_order_acq_rel);
      if (i >= c.chunks) return;
      const int b = int(int64_t(c.n) * i / c.chunks), e = int(int64_t(c.n) * (i + 1) / c.chunks);
      try {
        (*c.fn)(b, e);
      } catch (...) {
        c.errors[size_t(i)] = std::current_exception();
      }
      if (c.done.fetch_add(1, std::memory_order_acq_rel) + 1 == c.chunks) {
        std::lock_guard<std::mutex> lk(m);
        done_cv.notify_all();
      }
    }
  }

  void worker() {
    uint64_t seen = 0;
    for (;;) {
      std::shared_ptr<Call> c;
      {
        std::unique_lock<std::mutex> lk(m);
        work_cv.wait(lk, [&] { return generation != seen; });
        seen = generation;
        c = current;
      }
      // At most num_threads() at once: the pool may hold more threads than this call asked for.
      if (c && c->joined.fetch_add(1, std::memory_order_acq_rel) < c->helpers) run_chunks(*c);
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
  auto c = std::make_shared<Call>();
  c->fn = &fn;
  c->n = n;
  c->chunks = std::min(n, workers * kChunksPerWorker);
  c->helpers = workers - 1;
  c->errors.assign(size_t(c->chunks), nullptr);
  {
    std::lock_guard<std::mutex> lk(p.m);
    p.current = c;
    ++p.generation;
  }
  p.work_cv.notify_all();
  t_inside = true;
  p.run_chunks(*c);
  t_inside = false;
  {
    std::unique_lock<std::mutex> lk(p.m);
    p.done_cv.wait(lk, [&] { return c->done.load() == c->chunks; });
    p.current.reset();  // threads that wake after this find no call
  }
  for (auto& e : c->errors)
    if (e) std::rethrow_exception(e);
}

#else  // no threads

void parallel_for(int n, const std::function<void(int, int)>& fn) {
  if (n > 0) fn(0, n);
}

#endif

}  // namespace aec
