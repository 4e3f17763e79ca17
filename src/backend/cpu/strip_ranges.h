// lmforge CPU backend: the one thread split of the strips kernels (float strips in
// gemv.cpp, quantized strips in qgemv*.cpp).
#pragma once

#include <omp.h>

#include <cstdint>

namespace lmf::cpu {

// The fewest output columns worth a parallel region: below them, with decode's one row
// or prefill's few, the fork and join cost more than the split saves. 128 columns are 2
// float strips (kStripCols = 64) and 8 quantized strips (kQStrip = 16), the two
// thresholds the kernels were measured with; wide quantized strips (kQStripWide = 64)
// keep the 8-strip threshold of their kind.
constexpr int64_t kParallelMinColumns = 128;

// Calls f(s0, s1) on each OpenMP thread for its consecutive share [s0, s1) of `strips`
// strips (one contiguous stretch of the weight per thread), or once on the calling thread
// with one thread or fewer than min_parallel strips. The split is a function of the team
// size, but every output element is computed the same way by whichever thread, so results
// do not depend on the thread count.
template <class F>
void for_strip_ranges(int64_t strips, int64_t min_parallel, F&& f) {
  if (omp_get_max_threads() == 1 || strips < min_parallel) {
    f(int64_t{0}, strips);
    return;
  }
#pragma omp parallel
  {
    const int64_t t = omp_get_thread_num(), team = omp_get_num_threads();
    const int64_t s0 = strips * t / team, s1 = strips * (t + 1) / team;
    if (s0 < s1) f(s0, s1);
  }
}

}  // namespace lmf::cpu
