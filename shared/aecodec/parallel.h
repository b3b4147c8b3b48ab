// A minimal parallel-for over an index range: the core's only threading primitive. Threads are spawned per
// call (layers are coarse enough that this costs well under 1% of a layer); single-threaded where the build has
// no threads (Emscripten without -pthread).
#pragma once
#include <functional>

namespace aec {

void set_num_threads(int n);  // 0 = hardware concurrency
int num_threads();

// Calls fn(begin, end) on disjoint chunks covering [0, n), at most num_threads() at once.
void parallel_for(int n, const std::function<void(int, int)>& fn);

}  // namespace aec
