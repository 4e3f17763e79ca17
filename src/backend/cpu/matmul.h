// lmforge CPU backend: dense float32 matmul: oneDNN's sgemm (shared OpenMP pool) for
// many rows, lmforge's own streaming kernel (gemv.cpp) for few rows.
#pragma once

#include <cstdint>

namespace lmf::cpu {

// y (M, N) = x (M, K) · W + bias, row-major. W is (N, K) when w_nk (torch.nn.Linear's
// layout) and (K, N) otherwise (GPT-2's Conv1D). bias may be null.
void linear(const float* x, const float* w, const float* bias, float* y, int64_t M, int64_t K,
            int64_t N, bool w_nk);

// The same for W (N, K) and few rows (decode, M <= kFewRows): streams W once, allocates nothing.
constexpr int64_t kFewRows = 8;
void linear_few_rows(const float* x, const float* w_nk, const float* bias, float* y, int64_t M, int64_t K,
                     int64_t N);

// Sum of n floats read as four sequential SIMD streams: the reader of the bandwidth probe.
float sum_streams(const float* p, int64_t n);

}  // namespace lmf::cpu
