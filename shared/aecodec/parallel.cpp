#include "aecodec/parallel.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <thread>
#include <vector>

namespace aec {

#if defined(__EMSCRIPTEN__) && !defined(__EMSCRIPTEN_PTHREADS__)
#define AEC_NO_THREADS 1
#endif

static std::atomic<int> g_threads{0};

void set_num_threads(int n) { g_threads = std::max(0, n); }

int num_threads() {
#ifdef AEC_NO_THREADS
  return 1;
#else
  int n = g_threads.load();
  if (n <= 0) n = int(std::max(1u, std::thread::hardware_concurrency()));
  return n;
#endif
}

void parallel_for(int n, const std::function<void(int, int)>& fn) {
  if (n <= 0) return;
  const int workers = std::min(num_threads(), n);
  if (workers <= 1) {
    fn(0, n);
    return;
  }
#ifndef AEC_NO_THREADS
  std::vector<std::thread> pool;
  std::vector<std::exception_ptr> errors(static_cast<size_t>(workers));
  for (int t = 0; t < workers; ++t) {
    const int b = int(int64_t(n) * t / workers), e = int(int64_t(n) * (t + 1) / workers);
    auto run = [&, t, b, e] {
      try {
        fn(b, e);
      } catch (...) {
        errors[size_t(t)] = std::current_exception();
      }
    };
    if (t + 1 == workers) run();  // the calling thread takes the last chunk
    else pool.emplace_back(run);
  }
  for (auto& th : pool) th.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
#endif
}

}  // namespace aec
