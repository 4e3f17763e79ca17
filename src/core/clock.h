// lmforge core: the one wall clock for timings (throughput, progress, ETA).
#pragma once

#include <chrono>

namespace lmf {

// Seconds on the steady (monotonic) clock, from an arbitrary origin: subtract two.
inline double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace lmf
