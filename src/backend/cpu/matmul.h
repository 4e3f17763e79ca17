// lmforge CPU backend: dense float32 matmul. A plan holds every linear weight
// (prepack_for_cpu) in 64-column strips where oneDNN's matmul primitive takes that layout
// (AVX-512 CPUs), multiplied by lmforge's own kernels (gemv.cpp: streaming for few rows,
// tiled with prefetch for many; linear_strips), else (K, N), the layout oneDNN's sgemm is
// fastest with (linear; oneDNN's shared OpenMP pool for many rows, streaming kernels for few).
#pragma once

#include <cstdint>

#include "backend/cpu/kernel_options.h"

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

// ---- 64-column strips: the layout of oneDNN's matmul primitive on AVX-512 CPUs ---------
// W (K, N) held as (S, K, kStripCols), S = strip_count(N): strip s is columns
// [64 s, 64 s + 64) row after row, the last padded with zeros; this is oneDNN's
// "BA16a64b" weights layout when K is a multiple of 16. Prefill (many rows) runs
// oneDNN's matmul primitive on it directly (no per-call packing of W, the bias fused);
// decode (few rows) streams each thread's stretch of strips once (linear_few_rows_strips).
constexpr int64_t kStripCols = 64;
inline int64_t strip_count(int64_t N) { return (N + kStripCols - 1) / kStripCols; }

// Whether oneDNN's matmul primitive, left to choose, takes W (K, N) in exactly this
// layout on this CPU (it does on AVX-512 ones; on AVX2-only ones it does not, and W
// stays (K, N) for sgemm). Needs K % 16 == 0 and ko.strips. Asked once per (K, N).
bool strips_fast(int64_t K, int64_t N, const KernelOptions& ko = kDefaultKernels);

// W (K, N), or (N, K) when w_nk, into strips at `out` (strip_count(N) * K * kStripCols floats).
void pack_strips(const float* w, bool w_nk, int64_t K, int64_t N, float* out);

// y (M, N) = x (M, K) · W + bias with W in strips, then gelu_tanh of it when `gelu`.
// M <= kFewRows: the streaming kernel (gelu as a pass over y); more rows: gemm_strips
// (bias and gelu in its epilogue). Neither allocates, and the result does not depend on
// the thread count. ko.onednn_strips (A/B runs) takes oneDNN's matmul primitive
// (matmul_strips) for the many-row case instead.
void linear_strips(const float* x, const float* w, const float* bias, float* y, int64_t M, int64_t K, int64_t N,
                   bool gelu = false, const KernelOptions& ko = kDefaultKernels);
// The primitive alone, for any M > 0 (the quantized prefill dequantizes into strips chunk
// by chunk). y is contiguous: oneDNN 2.6 runs a strided y on its reference code.
void matmul_strips(const float* x, const float* w, const float* bias, float* y, int64_t M, int64_t K, int64_t N,
                   bool gelu = false);
void linear_few_rows_strips(const float* x, const float* w, const float* bias, float* y, int64_t M, int64_t K,
                            int64_t N);
// Many rows on strips (gemv.cpp GemmStrips): each thread one contiguous stretch of strips;
// a tile is 6 rows x one strip (24 vector accumulators with 16-lane vectors, every y
// element one chain of multiply-adds in k order), bias and gelu applied to the
// accumulators, and while a strip's tiles run they prefetch the next strip's lines, so
// the weights stream in from memory under the compute (oneDNN's primitive loses ~10% to
// that stream; this kernel gains 3-7% over it in a prefill, BENCHMARKS.md).
void gemm_strips(const float* x, const float* w, const float* bias, float* y, int64_t M, int64_t K, int64_t N,
                 bool gelu);

// Sum of n floats read as four sequential SIMD streams: the reader of the bandwidth probe.
float sum_streams(const float* p, int64_t n);

}  // namespace lmf::cpu
