// parallel_for: every index exactly once, at most num_threads() threads, exceptions passed on, nested calls
// and calls from several threads at once.
#include <atomic>
#include <catch2/catch.hpp>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "aecodec/parallel.h"

using namespace aec;

TEST_CASE("parallel_for covers the range once, on at most num_threads() threads") {
  for (int threads : {1, 2, 3, 8}) {
    set_num_threads(threads);
    for (int n : {0, 1, 2, 3, 7, 64, 1000}) {
      INFO("threads " << threads << " n " << n);
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      std::mutex mu;
      std::set<std::thread::id> ids;
      std::atomic<int> running{0}, peak{0};
      std::atomic<bool> bad{false};
      parallel_for(n, [&](int b, int e) {
        const int now = running.fetch_add(1) + 1;
        for (int p = peak.load(); now > p && !peak.compare_exchange_weak(p, now);) {
        }
        if (b < 0 || b >= e || e > n) bad = true;  // (Catch's assertions are not thread-safe)
        for (int i = b; i < e; ++i) hits[size_t(i)].fetch_add(1);
        {
          std::lock_guard<std::mutex> lock(mu);
          ids.insert(std::this_thread::get_id());
        }
        running.fetch_sub(1);
      });
      CHECK_FALSE(bad.load());
      for (int i = 0; i < n; ++i) CHECK(hits[size_t(i)].load() == 1);
      CHECK(int(ids.size()) <= threads);
      CHECK(peak.load() <= threads);
    }
  }
  set_num_threads(0);
}

TEST_CASE("parallel_for passes an exception on and stays usable") {
  set_num_threads(3);
  CHECK_THROWS_AS(parallel_for(100,
                               [](int b, int e) {
                                 for (int i = b; i < e; ++i)
                                   if (i == 57) throw std::runtime_error("57");
                               }),
                  std::runtime_error);
  std::atomic<int> sum{0};
  parallel_for(100, [&](int b, int e) {
    for (int i = b; i < e; ++i) sum += i;
  });
  CHECK(sum.load() == 4950);
  set_num_threads(0);
}

TEST_CASE("parallel_for nested and from several threads at once") {
  set_num_threads(2);
  std::atomic<int> inner{0};
  parallel_for(10, [&](int b, int e) {
    for (int i = b; i < e; ++i) parallel_for(10, [&](int b2, int e2) { inner += e2 - b2; });
  });
  CHECK(inner.load() == 100);
  std::atomic<int64_t> total{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 4; ++t)
    callers.emplace_back([&] {
      for (int r = 0; r < 50; ++r)
        parallel_for(1000, [&](int b, int e) {
          int64_t s = 0;
          for (int i = b; i < e; ++i) s += i;
          total += s;
        });
    });
  for (auto& c : callers) c.join();
  CHECK(total.load() == int64_t(4) * 50 * 999 * 1000 / 2);
  set_num_threads(0);
}

// Back-to-back calls whose chunk counts differ, on more threads than cores: pool threads then often wake
// after their call has ended and the next has begun. Each must find no work in its old call rather than run a
// chunk of the new one twice (which once left the caller waiting forever on a count that had overshot).
TEST_CASE("parallel_for back to back with late waking threads") {
  set_num_threads(8);
  std::vector<std::atomic<int>> hits(64);
  bool all_once = true;
  for (int call = 0; call < 20000 && all_once; ++call) {
    const int n = 1 + (call * 7919) % 64;
    for (int i = 0; i < n; ++i) hits[size_t(i)].store(0);
    parallel_for(n, [&](int b, int e) {
      for (int i = b; i < e; ++i) hits[size_t(i)].fetch_add(1);
    });
    for (int i = 0; i < n; ++i)
      if (hits[size_t(i)].load() != 1) all_once = false;
  }
  CHECK(all_once);
  set_num_threads(0);
}
