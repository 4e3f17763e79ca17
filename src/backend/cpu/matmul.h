// lmforge CPU backend: dense float32 matmul: oneDNN's sgemm (shared OpenMP pool) for
// many rows, lmforge's own streaming kernels (gemv.cpp) for few rows. A plan holds every
// linear weight (K, N) (prepack_for_cpu), the layout sgemm is fastest with.
#pragma once

#include <cstdint>

namespace lmf::cpu {

// y (M, N) = x (M, K) · W + bias, row-major; bias may be null. W is (N, K) when w_nk
// (torch.nn.Linear's layout) and (K, N) otherwise (GPT-2's Conv1D, and every weight
// after prepack_for_cpu). M <= kFewRows rows take the streaming kernels: for (K, N) only
// when `scratch` (few_rows_kn_scratch(K, N) floats) is given, else sgemm.
void linear(const float* x, const float* w, const float* bias, float* y, int64_t M, int64_t K,
            int64_t N, bool w_nk, float* scratch = nullptr);

// The same for W (N, K) and few rows (decode, M <= kFewRows): each thread streams its
// block of W's rows once per group of up to 4 rows of x; the result does not depend on
// the thread count; allocates nothing and, with one thread, enters no OpenMP parallel
// region.
constexpr int64_t kFewRows = 8;
void linear_few_rows(const float* x, const float* w_nk, const float* bias, float* y, int64_t M, int64_t K,
                     int64_t N);

// The same for W (K, N) (GPT-2's Conv1D layout): K cut into few_rows_kn_blocks(K)
// blocks whose partial products go to `scratch` (few_rows_kn_scratch(K, N) floats),
// then summed in block order; the result does not depend on the thread count.
void linear_few_rows_kn(const float* x, const float* w_kn, const float* bias, float* y, int64_t M, int64_t K,
                        int64_t N, float* scratch);
int64_t few_rows_kn_blocks(int64_t K);
int64_t few_rows_kn_scratch(int64_t K, int64_t N);

// Sum of n floats read as four sequential SIMD streams: the reader of the bandwidth probe.
float sum_streams(const float* p, int64_t n);

}  // namespace lmf::cpu
