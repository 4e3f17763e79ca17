// lmforge CPU backend: the kernel of each IR op, for float32.
//
// The runtime hands a kernel plain views (pointer, dtype, up to 4 dims) whose
// first dimension may change from step to step; kernels never allocate, throw or
// log. Per-thread scratch comes from the ExecContext.
#pragma once

#include <cstdint>
#include <string>

#include "backend/cpu/kernel_options.h"
#include "core/dtype.h"
#include "ir/graph.h"

namespace lmf {

struct TensorView {
  void* data = nullptr;
  DType dtype = DType::kF32;
  int rank = 0;
  int64_t dims[4] = {0, 0, 0, 0};
  int64_t numel() const {
    int64_t n = 1;
    for (int i = 0; i < rank; ++i) n *= dims[i];
    return n;
  }
  float* f32() const { return static_cast<float*>(data); }
  int32_t* i32() const { return static_cast<int32_t*>(data); }
};

struct ExecContext {
  int threads = 1;
  float* scratch = nullptr;  // threads * scratch_per_thread floats
  int64_t scratch_per_thread = 0;
  int64_t* runs = nullptr;  // room for 4 * max tokens integers (attention's sequence runs)
  cpu::KernelOptions kernels;  // the plan's kernel choices (PlanOptions::kernels)
};

using KernelFn = void (*)(const Node& node, const TensorView* const* in, TensorView* const* out,
                          ExecContext& ctx);

// The CPU kernel for `op` on float32 activations; throws lmf::Error(kUnsupported) if none.
KernelFn cpu_kernel(const std::string& op);

// Floats of ExecContext::scratch the kernel of node n needs with `threads` threads, its
// inputs `in` bound to their largest shapes; 0 for most ops (the executor also gives
// threads * scratch_per_thread, the KV-cache attention's need).
int64_t cpu_scratch_floats(const Node& n, const TensorView* const* in, int threads, const cpu::KernelOptions& ko);
// Floats per thread the KV-cache attention of node n needs over cache_len positions (0
// for other ops): ExecContext::scratch_per_thread is the largest over the graph.
int64_t cpu_scratch_per_thread(const Node& n, int64_t cache_len);

// The training ops' kernels (op_kernels_train.cpp), looked up by cpu_kernel().
KernelFn cpu_training_kernel(const std::string& op);  // null if none

}  // namespace lmf
