// lmforge CPU backend: what the backend owns for one plan, as an object.
//
// A Backend holds the oneDNN CPU engine that the plan-time questions go to (today: which
// weights the plan puts in 64-column strips). The Executor creates one, hands it to
// prepack_for_cpu and to every kernel's prepare (op_kernels.h), and keeps it as long as the
// plan lives; nothing in backend/cpu keeps a function-static engine, a cache or a mutex
// ("context is passed, not global", DESIGN.md), so two plans in two threads share nothing.
// Kernels, which run at every step, never ask it anything: what they need is decided when
// the plan is built and stored in their parameters.
#pragma once

#include <cstdint>
#include <memory>

#include "backend/cpu/kernel_options.h"

namespace lmf::cpu {

class Backend {
 public:
  Backend();  // throws lmf::Error(kInternal) if oneDNN has no CPU engine
  ~Backend();
  Backend(const Backend&) = delete;
  Backend& operator=(const Backend&) = delete;

  // Whether oneDNN's matmul primitive, left to choose, takes W (K, N) as 64-column strips
  // (matmul.h; oneDNN's BA16a64b) on this CPU: it does on AVX-512 ones, where the plan then
  // holds the weight in strips for lmforge's strips kernels; on AVX2-only ones it does not,
  // and W stays (K, N) for sgemm. Needs K % 16 == 0 and ko.strips. Asks oneDNN afresh
  // (a primitive descriptor, tens of microseconds): for plan time only.
  bool strips_fast(int64_t K, int64_t N, const KernelOptions& ko = kDefaultKernels) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;  // the engine (keeps oneDNN's C++ header out of this one)
};

}  // namespace lmf::cpu
