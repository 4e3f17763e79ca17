// lmforge CPU backend: dense float32 matmul: oneDNN's sgemm (shared OpenMP pool) for
// many rows, lmforge's own streaming kernel (gemv.cpp) for few rows. Weights are held
// (N, K) (torch.nn.Linear's layout; prepack_for_cpu puts every linear weight in it), the
// layout whose rows a decode thread can stream sequentially.
#pragma once

#include <cstdint>

namespace lmf::cpu {

// y (M, N) = x (M, K) · W + bias, row-major; bias may be null. W is (N, K) when w_nk
// (torch.nn.Linear's layout, and every weight after prepack_for_cpu) and (K, N)
// otherwise (GPT-2's Conv1D), which always goes through sgemm.
void linear(const float* x, const float* w, const float* bias, float* y, int64_t M, int64_t K,
            int64_t N, bool w_nk);

// The same for W (N, K) and few rows (decode, M <= kFewRows): each thread streams its
// block of W's rows once per group of up to 4 rows of x; the result does not depend on
// the thread count; allocates nothing and, with one thread, enters no OpenMP parallel
// region.
constexpr int64_t kFewRows = 8;
void linear_few_rows(const float* x, const float* w_nk, const float* bias, float* y, int64_t M, int64_t K,
                     int64_t N);

// Sum of n floats read as four sequential SIMD streams: the reader of the bandwidth probe.
float sum_streams(const float* p, int64_t n);

}  // namespace lmf::cpu
