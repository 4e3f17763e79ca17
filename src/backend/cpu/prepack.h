// lmforge CPU backend: pre-packing weights for the CPU kernels when a plan is built.
//
// Every linear weight goes to (out, in) = (N, K) layout, torch.nn.Linear's: oneDNN's
// sgemm is as fast with it as with (K, N) for many rows, and the few-row streaming
// kernel needs it (see matmul.h).
//
// torch.nn.Linear weights (Llama, Qwen2, a tied head) are used in place (no copy).
// GPT-2's Conv1D weights (K, N) are replaced by their float32 transpose (a copy; the
// mapped original is then never read) and the node's layout set to "nk". Outputs are
// unchanged up to float rounding order.
#pragma once

#include "ir/graph.h"

namespace lmf {

// Returns the number of weights transposed.
int prepack_for_cpu(Graph& g);

}  // namespace lmf
