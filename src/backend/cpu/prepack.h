// lmforge CPU backend: pre-packing weights for the CPU kernels when a plan is built.
//
// Every linear weight goes to (out, in) layout.
//
// GPT-2's Conv1D stores weights (in, out); the few-row matmul that decode runs
// streams weight rows, so this pass replaces each such weight by its float32
// transpose (a copy; the mapped original is then never read) and sets the node's
// layout to "nk". Outputs are unchanged up to float rounding order.
#pragma once

#include "ir/graph.h"

namespace lmf {

// Returns the number of weights transposed.
int prepack_for_cpu(Graph& g);

}  // namespace lmf
