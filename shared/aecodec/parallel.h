// A minimal parallel-for over an index range: the core's only threading primitive. Its threads are started on
// first use and kept; single-threaded where the build has no threads (Emscripten without -pthread).
#pragma once
#include <functional>

namespace aec {

void set_num_threads(int n);  // 0 = hardware concurrency
int num_threads();

// Calls fn(begin, end) on disjoint chunks covering [0, n), at most num_threads() threads at once. The range
// is cut into several chunks per thread, handed out as threads come free, so a thread that another process
// slows down takes fewer (a static split waits for the slowest thread). A nested call, or a call made while
// another thread's call runs, runs on its calling thread alone.
void parallel_for(int n, const std::function<void(int, int)>& fn);

}  // namespace aec
