#include "backend/cpu/matmul.h"

#include <oneapi/dnnl/dnnl.h>

#include "backend/cpu/kernels.h"

namespace lmf::cpu {

void linear(const float* x, const float* w, const float* bias, float* y, int64_t M, int64_t K,
            int64_t N, bool w_nk, float* scratch) {
  if (M == 0) return;
  if (M <= kFewRows && w_nk) {
    linear_few_rows(x, w, bias, y, M, K, N);
    return;
  }
  if (M <= kFewRows && scratch) {
    linear_few_rows_kn(x, w, bias, y, M, K, N, scratch);
    return;
  }
  // Row-major sgemm: y = x · op(W); op(W) = W^T for the (N, K) layout.
  dnnl_sgemm('N', w_nk ? 'T' : 'N', M, N, K, 1.0f, x, K, w, w_nk ? K : N, 0.0f, y, N);
  if (bias) add_bias(y, bias, M, N);
}

}  // namespace lmf::cpu
