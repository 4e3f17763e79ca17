// lmforge CPU backend: the kernel of each IR op, for float32.
//
// When a plan is built, each node's kernel is prepared (cpu_prepare): the op's prepare
// reads the node's attributes and the plan's choices (kernel options, the Backend's
// answers) once and stores them in a small typed parameter struct, which the plan keeps
// next to the kernel function (PreparedKernel). At every step the runtime hands the
// kernel those parameters and plain views (pointer, dtype, up to 4 dims) whose first
// dimension may change from step to step: no string lookup, no map, no Node. Kernels
// never allocate, throw or log; a library call that fails (oneDNN's sgemm) is reported in
// ExecContext::failed, which the executor turns into lmf::Error after the node.
// Per-thread scratch comes from the ExecContext.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <typeinfo>
#include <vector>

#include "backend/cpu/backend.h"
#include "backend/cpu/kernel_options.h"
#include "backend/cpu/kernels.h"
#include "backend/cpu/qmatmul.h"
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
  // Set by a kernel whose library call failed (a static string naming it, e.g. "oneDNN
  // sgemm"): what the plan could not rule out (arguments are checked by prepare; oneDNN
  // may still fail to allocate its packing buffers). The executor checks it after every
  // node and throws lmf::Error naming the node; kernels never throw.
  const char* failed = nullptr;
};

using KernelIn = const TensorView* const*;
using KernelOut = TensorView* const*;

// What an op's prepare sees when the plan is built: the node, its inputs and outputs
// bound to the plan's largest shapes (weights with their data), the plan's kernel options
// and the CPU backend.
struct PrepareContext {
  const Node& node;
  KernelIn in;
  KernelOut out;
  const cpu::KernelOptions& kernels;
  const cpu::Backend& backend;
};

// A node's kernel as the plan holds it: the function and its parameters, made by the op's
// prepare from the node. run() is the per-step path.
class PreparedKernel {
 public:
  using Fn = void (*)(const void* params, KernelIn in, KernelOut out, ExecContext& ctx);
  PreparedKernel() = default;
  PreparedKernel(Fn fn, std::shared_ptr<const void> params, const std::type_info* type)
      : fn_(fn), params_(std::move(params)), type_(type) {}
  void run(KernelIn in, KernelOut out, ExecContext& ctx) const { fn_(params_.get(), in, out, ctx); }
  explicit operator bool() const { return fn_ != nullptr; }
  // The parameters if they are a P (tests read them), else null.
  template <class P>
  const P* params_as() const {
    return type_ && *type_ == typeid(P) ? static_cast<const P*>(params_.get()) : nullptr;
  }

 private:
  Fn fn_ = nullptr;
  std::shared_ptr<const void> params_;
  const std::type_info* type_ = nullptr;
};

// The kernel of an op: Run(params, in, out, ctx) with the P that Prep made at plan time.
template <class P, P (*Prep)(const PrepareContext&), void (*Run)(const P&, KernelIn, KernelOut, ExecContext&)>
PreparedKernel prepare_kernel(const PrepareContext& c) {
  auto params = std::make_shared<const P>(Prep(c));
  return PreparedKernel([](const void* p, KernelIn in, KernelOut out,
                           ExecContext& ctx) { Run(*static_cast<const P*>(p), in, out, ctx); },
                        std::move(params), &typeid(P));
}
using PrepareFn = PreparedKernel (*)(const PrepareContext& c);

// The CPU kernel of c.node on float32 activations, prepared: throws lmf::Error(kUnsupported)
// if its op has none, kInternal if an attribute it needs is missing or of another type (the
// verifier admits no such graph), kInvalidArgument if one is out of range.
PreparedKernel cpu_prepare(const PrepareContext& c);

// ---- The parameters the inference kernels keep (what prepare reads of a node) ----------
struct NoParams {};
struct NormParams {  // layer_norm, rms_norm and their gradients
  float eps = 0;
  int64_t group = 0;  // rms_norm attr group: each row normalized in groups of that many columns
};
struct LinearParams {
  enum class Layout { kNK, kKN, kStrips } layout = Layout::kKN;  // attr layout
  int64_t N = 0;     // out_features (from W's shape, or the attribute for strips)
  bool bias = false;  // a third input
  bool gelu = false;  // attr fused_act ("gelu_tanh")
};
struct LinearQParams {
  enum class Act { kFloat, kInt8, kBlock32 } act = Act::kFloat;  // attr act
  cpu::QWeight w;                                                 // shape and path; pointers set at each step
  int64_t K = 0, N = 0;
  bool bias = false, gelu = false;
};
struct SplitColsParams {
  int64_t begin = 0, end = 0;
};
struct RopeParams {  // rope, rope_table, rope_grad
  int64_t heads = 0, head_dim = 0;
  float theta = 0;
  bool table = false;  // rope: reads a rope_table's output (attr angles)
  std::vector<double> inv_freq;  // head_dim / 2: attr inv_freq, else theta^(-2i/D)
  double scale = 1.0;            // attr scale (cos and sin times it)
  // Dynamic NTK (attrs dynamic_factor, dynamic_max; input 2 the slots): a sequence whose
  // positions in the step reach len > dynamic_max turns with the frequencies of the base
  // theta * (factor * len / max - (factor - 1))^(D / (D - 2)), as Hugging Face recomputes
  // them for each forward.
  double dynamic_factor = 0;
  int64_t dynamic_max = 0;
  cpu::RopeFreqs freqs() const { return {inv_freq.data(), scale}; }
};
// The RopeParams of a rope, rope_table or rope_grad node (checked).
RopeParams rope_params_of(const Node& n);
struct AttentionParams {
  int64_t H = 0, Hkv = 0, D = 0;
  float scale = 0;
  bool packed = false;  // q, k, v side by side in one value (attr qkv)
  bool i8 = false;      // int8 cache with row scales (9 inputs)
  int64_t window = 0;   // attr window: a query at position p sees keys p - window + 1 .. p (0: all)
};

// Floats of ExecContext::scratch the kernel of node n needs with `threads` threads, its
// inputs `in` bound to their largest shapes; 0 for most ops (the executor also gives
// threads * scratch_per_thread, the KV-cache attention's need).
int64_t cpu_scratch_floats(const Node& n, const TensorView* const* in, int threads, const cpu::KernelOptions& ko);
// Floats per thread the KV-cache attention of node n needs over cache_len positions (0
// for other ops): ExecContext::scratch_per_thread is the largest over the graph.
int64_t cpu_scratch_per_thread(const Node& n, int64_t cache_len);

// The training ops' kernels (op_kernels_train.cpp), looked up by cpu_prepare().
PrepareFn cpu_training_kernel(const std::string& op);  // null if none

}  // namespace lmf
