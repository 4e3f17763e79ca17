// lmforge CPU backend: the choices among CPU kernels that a plan makes, as one value.
//
// Every kernel picks its code path from the CPU's features and from these options, which
// the plan (PlanOptions::kernels) hands down through the execution context; nothing in
// backend/cpu reads the environment or keeps a mutable switch. The defaults are the
// fastest measured paths; the others exist for A/B measurements (the CLI maps the
// environment variables named below onto them, cli/common.cpp) and for tests that run
// every path on one machine.
#pragma once

namespace lmf::cpu {

// The integer code of the int8 kernels: the best this CPU has, at most this.
enum class QI8Isa { kPortable, kAvx2, kVnni };

struct KernelOptions {
  bool strips = true;          // float weights in 64-column strips where oneDNN's layout fits (LMF_NO_STRIPS)
  bool fuse = true;            // plan-time fusions: gelu into linear, packed qkv, shared rope tables (LMF_NO_FUSE)
  bool i8_pair = true;         // the pair kernel for one row of 16-column quantized strips (LMF_NO_I8PAIR)
  bool bf16 = true;            // the AVX-512 BF16 kernel for one row of wide 4-bit strips (LMF_NO_BF16)
  QI8Isa i8_isa = QI8Isa::kVnni;
};

inline constexpr KernelOptions kDefaultKernels{};

}  // namespace lmf::cpu
