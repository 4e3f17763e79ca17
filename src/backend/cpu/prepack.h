// lmforge CPU backend: pre-packing weights for the CPU kernels when a plan is built.
//
// Every linear weight goes to (in, out) = (K, N) layout, the one layout both CPU
// matmul paths are fast with (oneDNN's sgemm for many rows, the streaming kernel for
// few rows; see matmul.h).
//
// GPT-2's Conv1D weights are (K, N) already and are used in place (no copy).
// torch.nn.Linear weights (N, K) are replaced by their float32 transpose (a copy; the
// mapped original is then never read, unless another op such as a tied embedding
// still uses it) and the node's layout set to "kn". Outputs are unchanged up to float
// rounding order.
#pragma once

#include "ir/graph.h"

namespace lmf {

// Returns the number of weights transposed.
int prepack_for_cpu(Graph& g);

}  // namespace lmf
