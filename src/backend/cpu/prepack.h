// lmforge CPU backend: pre-packing weights for the CPU kernels when a plan is built.
//
// Where this CPU's oneDNN matmul primitive would take 64-column strips (Backend::strips_fast,
// backend.h: AVX-512 CPUs, K % 16 == 0), every float linear weight but the head's is
// packed into them ("strips" layout): prefill then runs gemm_strips with no per-call
// packing of W (GPT-2 small pp128 on an Intel Xeon, 2 threads: 1406 -> 1466 t/s, then on
// oneDNN's primitive), and decode streams each thread's stretch of strips. Elsewhere:
// every linear weight goes to (in, out) = (K, N) layout, GPT-2's Conv1D layout: oneDNN's
// sgemm runs prefill faster with it than with (N, K) (bench/blas_compare: 222 against
// 104 to 178 GFLOP/s at GPT-2 small's shapes, 2 threads), and the few-row kernel streams
// it at about 90% of the probe's bandwidth (matmul.h).
//
// GPT-2's Conv1D weights are (K, N) already and are used in place (no copy) when
// 64-byte aligned. torch.nn.Linear weights (N, K) (Llama, Qwen2) are replaced by their
// float32 transpose (a copy) and the node's layout set to "kn". The head (the linear
// giving the graph's output: GPT-2's tied embedding, Llama's lm_head) stays (N, K): it
// runs on few rows, where the row-dot kernel draws more bandwidth, and a tied head needs
// no copy. A float weight left in place that is not 64-byte aligned (a checkpoint's
// header decides) becomes an aligned copy. Copied-from mapped pages are released
// (release_mapped_pages), so the resident set holds each weight once.
// Quantized weights (linear_q, embedding_q) are re-laid in strips (qmatmul.h). A
// gelu_tanh that is the only reader of a linear's (or linear_q's) output is fused into it
// (attr fused_act; GPT-2's MLP), and an attention whose q, k and v are split_cols of one
// value side by side reads that value (attr qkv = "packed"; GPT-2's c_attn) instead of
// three copies; the ropes sharing positions, head_dim and theta (Llama's q and k of every
// layer) read one rope_table of their cos and sin, computed once per step. !ko.fuse
// turns these off. Outputs are unchanged up to float rounding order.
#pragma once

#include "backend/cpu/backend.h"
#include "backend/cpu/kernel_options.h"
#include "ir/graph.h"

namespace lmf {

// Returns the number of weights re-laid or copied plus the activations fused. `backend`
// answers which weights take the strips.
int prepack_for_cpu(Graph& g, const cpu::Backend& backend, const cpu::KernelOptions& ko = cpu::kDefaultKernels);

}  // namespace lmf
