#include "aecodec/pool.h"

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <utility>

#if defined(__linux__) && !defined(__EMSCRIPTEN__)
#include <sys/mman.h>
#define AEC_HUGE_PAGES 1
#endif

namespace aec {

namespace {

constexpr size_t kMinBytes = size_t(256) << 10, kMaxBytes = size_t(1) << 30, kMaxBuffers = 16;

struct Pool {
  std::mutex mu;
  std::vector<std::vector<float>> free;  // oldest first
  size_t bytes = 0;
};

Pool& pool() {
  static Pool* p = new Pool;  // never destroyed: layers may still run while static objects are torn down
  return *p;
}

size_t bytes_of(const std::vector<float>& v) {
  return v.capacity() * sizeof(float);
}

// A new buffer. On Linux, one of 4 MiB or more asks for transparent huge pages before its first touch (the
// zero fill): fewer page faults, and fewer TLB misses when the GEMM gathers its taps from planes spread
// over tens of MiB (1-2 % of the encoder's time).
std::vector<float> fresh(size_t n) {
  std::vector<float> v;
#ifdef AEC_HUGE_PAGES
  constexpr uintptr_t kHuge = uintptr_t(2) << 20;
  if (n * sizeof(float) >= 2 * kHuge) {
    v.reserve(n);
    const uintptr_t b = (reinterpret_cast<uintptr_t>(v.data()) + kHuge - 1) & ~(kHuge - 1);
    const uintptr_t e = reinterpret_cast<uintptr_t>(v.data() + n) & ~(kHuge - 1);
    if (e > b) madvise(reinterpret_cast<void*>(b), e - b, MADV_HUGEPAGE);  // advice only: failure is harmless
  }
#endif
  v.resize(n);
  return v;
}

}  // namespace

std::vector<float> pool_take(size_t n) {
  if (n * sizeof(float) >= kMinBytes) {
    Pool& p = pool();
    std::vector<float> v;
    {
      std::lock_guard<std::mutex> lock(p.mu);
      // Best fit: the smallest buffer n long already (no zero fill), else the smallest with the capacity;
      // none over twice the size (a small output kept by the caller would take a large buffer from the layer
      // that needs it next time).
      size_t best = p.free.size();
      for (size_t i = 0; i < p.free.size(); ++i) {
        const std::vector<float>& f = p.free[i];
        if (f.capacity() < n || f.capacity() / 2 > n) continue;
        if (best == p.free.size()) {
          best = i;
          continue;
        }
        const std::vector<float>& b = p.free[best];
        const bool f_long = f.size() >= n, b_long = b.size() >= n;
        if (f_long != b_long ? f_long : f.capacity() < b.capacity()) best = i;
      }
      if (best < p.free.size()) {
        v = std::move(p.free[best]);
        p.free.erase(p.free.begin() + std::ptrdiff_t(best));
        p.bytes -= bytes_of(v);
      }
    }
    if (v.capacity() >= n) {
      v.resize(n);  // shrinking writes nothing; growing within the capacity zero-fills the tail only
      return v;
    }
  }
  return fresh(n);
}

void pool_give(std::vector<float>&& v) {
  std::vector<float> mine = std::move(v);
  v.clear();
  const size_t b = bytes_of(mine);
  if (b < kMinBytes || b > kMaxBytes) return;  // freed here
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mu);
  p.free.push_back(std::move(mine));
  p.bytes += b;
  while (p.free.size() > kMaxBuffers || p.bytes > kMaxBytes) {  // the oldest goes
    p.bytes -= bytes_of(p.free.front());
    p.free.erase(p.free.begin());
  }
}

void pool_release() {
  std::vector<std::vector<float>> all;
  Pool& p = pool();
  {
    std::lock_guard<std::mutex> lock(p.mu);
    all.swap(p.free);
    p.bytes = 0;
  }
}

size_t pool_bytes() {
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mu);
  return p.bytes;
}

}  // namespace aec
