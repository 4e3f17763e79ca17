// lmforge runtime: build a graph into a plan and execute it on the CPU.
//
// Building binds the symbolic dimensions to capacities (N <= max_tokens,
// M <= max_rows, SLOTS, S), prepares a kernel per node (its attributes and paths resolved
// once: op_kernels.h), allocates the state (KV
// cache) and plans activation memory: one arena, each activation placed at an
// offset so that values alive at the same time never overlap (liveness over the
// node order). Weights are pre-packed for the kernels (prepack.h) in the
// executor's own copy of the graph. The executor owns the CPU backend (cpu::Backend: the
// oneDNN engine) its plan was built with. A step then writes the inputs, sets the actual N
// and M, and runs the kernels: it allocates nothing.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "backend/cpu/backend.h"
#include "backend/cpu/op_kernels.h"
#include "ir/graph.h"

namespace lmf {

// The CPU kernels' choices (backend/cpu/kernel_options.h), as a plan option of the runtime.
using cpu::KernelOptions;

struct PlanOptions {
  int64_t max_tokens = 512;  // N capacity: tokens in one step, all sequences together
  int64_t max_rows = 512;    // M capacity: logit rows per step
  int64_t slots = 1;         // sequences held in the cache at once
  int64_t cache_len = 1024;  // S: positions per sequence
  int threads = 1;
  // Put weights in the CPU kernels' layout (prepack.h). Off for training, whose weights
  // the trainer updates in place and must stay the graph's own tensors.
  bool prepack = true;
  cpu::KernelOptions kernels;  // kernel choices (backend/cpu/kernel_options.h); the defaults are the fastest
};

// The graph a CPU plan runs (`lmforge graph --plan`), in place: weights re-laid for the
// matmul kernels, fused ops, shared rope tables (backend/cpu/prepack.h); verified.
void lower_for_cpu(Graph& graph, const KernelOptions& kernels = {});

class Executor {
 public:
  Executor(const Graph& graph, const PlanOptions& opts);
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Buffer of the step input `name` (capacity from the plan). Throws if absent or
  // of another dtype.
  int32_t* input_i32(const std::string& name);
  float* input_f32(const std::string& name);
  // The buffer of any value (an activation's is valid after run() when the value is a
  // graph output or until the arena slot is reused).
  void* data(int value) const { return views_.at(static_cast<size_t>(value)).data; }
  // Runs the graph for n tokens and m logit rows (0 < n <= max_tokens, m <= min(n,
  // max_rows); throws otherwise). A kernel whose library call failed (oneDNN's sgemm)
  // becomes lmf::Error(kInternal) naming the node, thrown after that node.
  void run(int64_t n, int64_t m);
  // Makes the state (KV cache) hold cache_len positions per sequence, keeping the first
  // `keep` of each; nothing if it already holds as many. Allocates: call it between
  // steps, never inside the decode loop.
  void grow_cache(int64_t cache_len, int64_t keep);
  // The graph's first output after run(): (M, V) floats.
  const float* output() const;
  int64_t output_cols() const;

  // Per-op timing (lmforge bench --profile): while on, run() times every node and
  // adds its wall time to its op's total. Off by default (no clock reads).
  struct OpTime { int64_t calls = 0; double seconds = 0; };
  void set_profiling(bool on) { profiling_ = on; }
  // Calibration hook (e.g. GPTQ's input statistics): while set, run() calls it after
  // every node with the node's index and its input and output views.
  using Observer = std::function<void(size_t node, const TensorView* const* in, const TensorView* const* out)>;
  void set_observer(Observer f) { observer_ = std::move(f); }
  void clear_profile() { profile_.clear(); }
  const std::map<std::string, OpTime>& profile() const { return profile_; }

  const PlanOptions& options() const { return opts_; }
  // The graph as planned: weights pre-packed for the CPU kernels.
  const Graph& graph() const { return graph_; }
  size_t arena_bytes() const { return arena_bytes_; }
  size_t state_bytes() const { return state_bytes_; }

 private:
  int64_t bind(const Dim& d) const;
  void* input(const std::string& name, DType dtype);
  void plan_memory();
  void plan_scratch();

  cpu::Backend backend_;  // what the plan's preparation asked (backend.h)
  Graph graph_;  // the caller's graph with weights pre-packed for the CPU kernels
  PlanOptions opts_;
  std::vector<TensorView> views_;              // one per value
  std::vector<int> dim0_kind_;                 // per value: 0 fixed, 1 = N, 2 = M in dim 0
  std::vector<PreparedKernel> kernels_;        // per node, with its parameters
  std::vector<std::vector<const TensorView*>> node_in_;
  std::vector<std::vector<TensorView*>> node_out_;
  std::vector<void*> owned_;                   // arena, inputs, runs
  std::vector<size_t> state_;                  // the state values (their buffers are owned too)
  size_t arena_bytes_ = 0, state_bytes_ = 0;
  ExecContext ctx_;
  bool profiling_ = false;
  Observer observer_;
  std::map<std::string, OpTime> profile_;
};

}  // namespace lmf
