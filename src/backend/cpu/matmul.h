// lmforge CPU backend: dense float32 matmul. A plan holds every linear weight
// (prepack_for_cpu) in 64-column strips where oneDNN's matmul primitive would take that
// layout (AVX-512 CPUs; Backend::strips_fast, asked when the plan is built), multiplied by
// lmforge's own kernels (gemv.cpp: streaming for few rows, tiled with prefetch for many;
// linear_strips), else (K, N), the layout oneDNN's sgemm is fastest with (linear; oneDNN's
// shared OpenMP pool for many rows, streaming kernels for few). Every sgemm goes through
// cpu::sgemm, which returns oneDNN's status instead of dropping it.
#pragma once

#include <cstdint>

#include "backend/cpu/kernel_options.h"

namespace lmf::cpu {

// Row-major C (M, N) = alpha op(A) op(B) + beta C through oneDNN's dnnl_sgemm (op: 'N' as
// is, 'T' transposed). Returns whether oneDNN reported success: it refuses bad arguments
// (a negative size, a leading dimension below the row) and fails when it cannot allocate its
// packing buffers. Never throws: kernels hand a false on (ExecContext::failed).
[[nodiscard]] bool sgemm(char transa, char transb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                         int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) noexcept;
// The same for code outside the kernels (compress/, probes): lmf::Error(kInternal) naming
// `what`, the sizes and oneDNN's status when it fails.
void sgemm_or_throw(const char* what, char transa, char transb, int64_t M, int64_t N, int64_t K, float alpha,
                    const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// y (M, N) = x (M, K) · W + bias, row-major; bias may be null. W is (N, K) when w_nk
// (torch.nn.Linear's layout) and (K, N) otherwise (GPT-2's Conv1D, and every weight
// after prepack_for_cpu). M <= kFewRows rows take the streaming kernels: for (K, N) only
// when `scratch` (few_rows_kn_scratch(K, N) floats) is given, else sgemm. Returns false
// where sgemm failed (y is then undefined), true otherwise.
bool linear(const float* x, const float* w, const float* bias, float* y, int64_t M, int64_t K,
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

// ---- 64-column strips: the layout of oneDNN's matmul primitive on AVX-512 CPUs ---------
// W (K, N) held as (S, K, kStripCols), S = strip_count(N): strip s is columns
// [64 s, 64 s + 64) row after row, the last padded with zeros; this is oneDNN's
// "BA16a64b" weights layout when K is a multiple of 16. Prefill (many rows) runs
// gemm_strips on it (no per-call packing of W, the bias and gelu fused); decode (few rows)
// streams each thread's stretch of strips once (linear_few_rows_strips). Where a plan
// takes the layout: Backend::strips_fast (backend.h).
constexpr int64_t kStripCols = 64;
inline int64_t strip_count(int64_t N) { return (N + kStripCols - 1) / kStripCols; }

// W (K, N), or (N, K) when w_nk, into strips at `out` (strip_count(N) * K * kStripCols floats).
void pack_strips(const float* w, bool w_nk, int64_t K, int64_t N, float* out);

// y (M, N) = x (M, K) · W + bias with W in strips, then gelu_tanh of it when `gelu`.
// M <= kFewRows: the streaming kernel (gelu as a pass over y); more rows: gemm_strips
// (bias and gelu in its epilogue). Neither allocates, and the result does not depend on
// the thread count. (oneDNN's matmul primitive on the strips, once an A/B option, was
// dropped: it was no faster in a model's prefill and built its memory objects per call,
// BENCHMARKS.md; bench/blas_compare still measures it.)
void linear_strips(const float* x, const float* w, const float* bias, float* y, int64_t M, int64_t K, int64_t N,
                   bool gelu = false);
void linear_few_rows_strips(const float* x, const float* w, const float* bias, float* y, int64_t M, int64_t K,
                            int64_t N);
// Many rows on strips (gemv.cpp GemmStrips): each thread one contiguous stretch of strips;
// a tile is 6 rows x one strip (24 vector accumulators with 16-lane vectors, every y
// element one chain of multiply-adds in k order), bias and gelu applied to the
// accumulators, and while a strip's tiles run they prefetch the next strip's lines, so
// the weights stream in from memory under the compute (oneDNN's primitive loses ~10% to
// that stream; this kernel gains 3-7% over it in a prefill, BENCHMARKS.md). The quantized
// prefill runs it on strips dequantized chunk by chunk (qgemv.cpp).
void gemm_strips(const float* x, const float* w, const float* bias, float* y, int64_t M, int64_t K, int64_t N,
                 bool gelu);

// Sum of n floats read as four sequential SIMD streams: the reader of the bandwidth probe.
float sum_streams(const float* p, int64_t n);

}  // namespace lmf::cpu
