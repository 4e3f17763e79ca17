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

// The integer code of the int8 kernels (qgemv_a8.cpp, qgemv_i8.cpp): the best the Highway
// target in use has, at most this. kPortable: no integer kernel (activations rounded, then
// the float kernels; int8-dynamic in scalar code); kWiden: Highway code on any target, bytes
// widened to 16 bits and multiplied pairwise; kDot: the CPU's int8 dot-product instruction
// (AVX-512 VNNI vpdpbusd: on Highway's AVX3_DL target, or AVX3 on a CPU with VNNI).
enum class QI8Isa { kPortable, kWiden, kDot };

struct KernelOptions {
  bool strips = true;          // float weights in 64-column strips where oneDNN's layout fits (LMF_NO_STRIPS)
  bool fuse = true;            // plan-time fusions: gelu into linear, packed qkv, shared rope tables (LMF_NO_FUSE)
  bool i8_pair = true;         // the pair kernel for one row of 16-column quantized strips (LMF_NO_I8PAIR)
  bool bf16 = true;            // the AVX-512 BF16 kernel (vdpbf16ps, on Highway's AVX3_DL target) for one row of wide 4-bit strips (LMF_NO_BF16)
  QI8Isa i8_isa = QI8Isa::kDot;
};

inline constexpr KernelOptions kDefaultKernels{};

}  // namespace lmf::cpu
