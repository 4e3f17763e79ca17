// lmforge CPU backend: dense float32 matmul: oneDNN's sgemm (shared OpenMP pool) for
// many rows, lmforge's own streaming kernel (gemv.cpp) for few rows. Weights are held
// (K, N), the one layout both are fast with (prepack_for_cpu puts every linear weight
// in it).
#pragma once

#include <cstdint>

namespace lmf::cpu {

// y (M, N) = x (M, K) · W + bias, row-major; bias may be null. W is (K, N) (GPT-2's
// Conv1D layout, and every weight after prepack_for_cpu). w_nk = true reads W as (N, K)
// (torch.nn.Linear's layout) through sgemm for every M, for callers holding a raw
// matrix; the fast few-row path needs (K, N).
void linear(const float* x, const float* w, const float* bias, float* y, int64_t M, int64_t K,
            int64_t N, bool w_nk);

// The same for W (K, N) and few rows (decode, M <= kFewRows): reads W once (once per
// kFewRows rows for a larger M), split over threads by columns, so the result does not
// depend on the thread count; allocates nothing and, with one thread, enters no OpenMP
// parallel region.
constexpr int64_t kFewRows = 8;
void linear_few_rows_kn(const float* x, const float* w_kn, const float* bias, float* y, int64_t M, int64_t K,
                        int64_t N);

// Sum of n floats read as four sequential SIMD streams: the reader of the bandwidth probe.
float sum_streams(const float* p, int64_t n);

}  // namespace lmf::cpu
