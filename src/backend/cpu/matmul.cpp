#include "backend/cpu/matmul.h"

#include <oneapi/dnnl/dnnl.h>

#include "backend/cpu/kernels.h"
#include "core/error.h"

namespace lmf::cpu {

bool sgemm(char transa, char transb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc) noexcept {
  return dnnl_sgemm(transa, transb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc) == dnnl_success;
}

void sgemm_or_throw(const char* what, char transa, char transb, int64_t M, int64_t N, int64_t K, float alpha,
                    const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  const dnnl_status_t st = dnnl_sgemm(transa, transb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  LMF_CHECK(st == dnnl_success, kInternal, "{}: oneDNN sgemm ({}{} {} x {} x {}, ld {} {} {}) failed with status {}",
            what, transa, transb, M, K, N, lda, ldb, ldc, static_cast<int>(st));
}

bool linear(const float* x, const float* w, const float* bias, float* y, int64_t M, int64_t K, int64_t N, bool w_nk,
            float* scratch) {
  if (M == 0) return true;
  if (M <= kFewRows && w_nk) {
    linear_few_rows(x, w, bias, y, M, K, N);
    return true;
  }
  if (M <= kFewRows && scratch) {
    linear_few_rows_kn(x, w, bias, y, M, K, N, scratch);
    return true;
  }
  // Row-major sgemm: y = x · op(W); op(W) = W^T for the (N, K) layout.
  if (!sgemm('N', w_nk ? 'T' : 'N', M, N, K, 1.0f, x, K, w, w_nk ? K : N, 0.0f, y, N)) return false;
  if (bias) add_bias(y, bias, M, N);
  return true;
}

void pack_strips(const float* w, bool w_nk, int64_t K, int64_t N, float* out) {
  const int64_t S = strip_count(N);
#pragma omp parallel for schedule(static)
  for (int64_t s = 0; s < S; ++s)
    for (int64_t k = 0; k < K; ++k) {
      float* row = out + (s * K + k) * kStripCols;
      for (int64_t c = 0; c < kStripCols; ++c) {
        const int64_t n = s * kStripCols + c;
        row[c] = n >= N ? 0.0f : (w_nk ? w[n * K + k] : w[k * N + n]);
      }
    }
}

void linear_strips(const float* x, const float* w, const float* bias, float* y, int64_t M, int64_t K, int64_t N,
                   bool gelu) {
  if (M == 0) return;
  if (M <= kFewRows) {
    linear_few_rows_strips(x, w, bias, y, M, K, N);
    if (gelu) gelu_tanh(y, y, M * N);
    return;
  }
  gemm_strips(x, w, bias, y, M, K, N, gelu);
}

}  // namespace lmf::cpu
