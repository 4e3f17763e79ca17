// lmforge CPU backend: dense float32 matmul (oneDNN's sgemm, on the shared OpenMP pool).
#pragma once

#include <cstdint>

namespace lmf::cpu {

// y (M, N) = x (M, K) · W + bias, row-major. W is (N, K) when w_nk (torch.nn.Linear's
// layout) and (K, N) otherwise (GPT-2's Conv1D). bias may be null.
void linear(const float* x, const float* w, const float* bias, float* y, int64_t M, int64_t K,
            int64_t N, bool w_nk);

}  // namespace lmf::cpu
