// lmforge CPU backend: float32 matmul for few rows (decode): y (M, N) = x (M, K) · W +
// bias with W stored (K, N). Decode is bound by reading W, so W is read exactly once
// per call while the M <= 8 rows of x and of y stay in L1/L2.
//
// Each thread owns a range of columns of y (whole 64-byte lines) and walks all of K.
// K is cut in four quarters walked side by side, two rows of each per pass, so a
// thread reads W as four long sequential streams; each pass adds 8 rows of W, times
// their x coefficients, into the thread's y columns. Every y element is summed in the
// same order whatever the thread count, so the result does not depend on it. Compiled
// per Highway target and dispatched at run time; allocates nothing and enters no
// parallel region when one thread is used (OpenMP teams of one are allocated per
// region by libgomp).

#include <omp.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "backend/cpu/matmul.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backend/cpu/gemv.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// foreach_target must come first.
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace lmf::cpu {
namespace HWY_NAMESPACE {
namespace {
namespace hn = hwy::HWY_NAMESPACE;

// y (M, ld) columns [c0, c1) += sum over s < S of coef[m][s] * rows[s][c], the terms
// added in order of s.
template <int M, int S>
HWY_INLINE void AddRows(const float* const* rows, const float (*coef)[8], float* HWY_RESTRICT y, size_t ld,
                        size_t c0, size_t c1) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  const size_t L = hn::Lanes(d);
  V xb[M][S];
  for (int m = 0; m < M; ++m)
    for (int s = 0; s < S; ++s) xb[m][s] = hn::Set(d, coef[m][s]);
  size_t c = c0;
  for (; c + L <= c1; c += L) {
    V w[S];
    for (int s = 0; s < S; ++s) w[s] = hn::LoadU(d, rows[s] + c);
    for (int m = 0; m < M; ++m) {
      V a = hn::LoadU(d, y + m * ld + c);
      for (int s = 0; s < S; ++s) a = hn::MulAdd(xb[m][s], w[s], a);
      hn::StoreU(a, d, y + m * ld + c);
    }
  }
  // The last columns one at a time, with the same (fused) multiply-adds; no masked
  // store, which some targets emulate by rewriting the whole vector.
  const hn::CappedTag<float, 1> d1;
  for (; c < c1; ++c) {
    for (int m = 0; m < M; ++m) {
      auto a = hn::LoadU(d1, y + m * ld + c);
      for (int s = 0; s < S; ++s) a = hn::MulAdd(hn::Set(d1, coef[m][s]), hn::LoadU(d1, rows[s] + c), a);
      hn::StoreU(a, d1, y + m * ld + c);
    }
  }
}

// y (M, N) columns [c0, c1) += x (M, K) · W (K, N), W read as four quarter streams.
template <int M>
HWY_INLINE void Columns(const float* HWY_RESTRICT x, const float* HWY_RESTRICT w, float* HWY_RESTRICT y,
                        size_t K, size_t N, size_t c0, size_t c1) {
  constexpr int kRows = 2;  // rows of each stream per pass
  const size_t q = K / 4 / kRows * kRows;
  const float* rows[4 * kRows];
  float coef[M][8];
  for (size_t i = 0; i < q; i += kRows) {
    for (int j = 0; j < 4; ++j)
      for (int r = 0; r < kRows; ++r) {
        const size_t k = j * q + i + r;
        rows[j * kRows + r] = w + k * N;
        for (int m = 0; m < M; ++m) coef[m][j * kRows + r] = x[m * K + k];
      }
    AddRows<M, 4 * kRows>(rows, coef, y, N, c0, c1);
  }
  for (size_t k = 4 * q; k < K; ++k) {
    rows[0] = w + k * N;
    for (int m = 0; m < M; ++m) coef[m][0] = x[m * K + k];
    AddRows<M, 1>(rows, coef, y, N, c0, c1);
  }
}

}  // namespace

// Sum of n floats read as four sequential streams (the bandwidth probe's reader).
float SumStreams(const float* p, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t L = hn::Lanes(d);
  const size_t q = n / 4 / L * L;
  auto a0 = hn::Zero(d), a1 = hn::Zero(d), a2 = hn::Zero(d), a3 = hn::Zero(d);
  for (size_t i = 0; i < q; i += L) {
    a0 = hn::Add(a0, hn::LoadU(d, p + i));
    a1 = hn::Add(a1, hn::LoadU(d, p + q + i));
    a2 = hn::Add(a2, hn::LoadU(d, p + 2 * q + i));
    a3 = hn::Add(a3, hn::LoadU(d, p + 3 * q + i));
  }
  float s = hn::GetLane(hn::SumOfLanes(d, hn::Add(hn::Add(a0, a1), hn::Add(a2, a3))));
  for (size_t i = 4 * q; i < n; ++i) s += p[i];
  return s;
}

// y columns [c0, c1) = bias (or 0) + x · W. Rows in groups of up to 8 (kFewRows), each
// group reading W once.
void GemvColumns(const float* x, const float* w, const float* bias, float* y, size_t M, size_t K, size_t N,
                 size_t c0, size_t c1) {
  for (size_t m = 0; m < M; ++m)
    for (size_t c = c0; c < c1; ++c) y[m * N + c] = bias ? bias[c] : 0.0f;
  for (size_t m0 = 0; m0 < M; m0 += 8) {
    const float* xm = x + m0 * K;
    float* ym = y + m0 * N;
    switch (std::min<size_t>(8, M - m0)) {
#define LMF_GEMV_CASE(R)                   \
  case R:                                  \
    Columns<R>(xm, w, ym, K, N, c0, c1);   \
    break;
      LMF_GEMV_CASE(1) LMF_GEMV_CASE(2) LMF_GEMV_CASE(3) LMF_GEMV_CASE(4)
      LMF_GEMV_CASE(5) LMF_GEMV_CASE(6) LMF_GEMV_CASE(7) LMF_GEMV_CASE(8)
#undef LMF_GEMV_CASE
      default:
        break;
    }
  }
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace lmf::cpu
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace lmf::cpu {

HWY_EXPORT(GemvColumns);
HWY_EXPORT(SumStreams);

float sum_streams(const float* p, int64_t n) { return HWY_DYNAMIC_DISPATCH(SumStreams)(p, static_cast<size_t>(n)); }

void linear_few_rows_kn(const float* x, const float* w_kn, const float* bias, float* y, int64_t M, int64_t K,
                        int64_t N) {
  const int threads = omp_get_max_threads();
  const auto m = static_cast<size_t>(M), k = static_cast<size_t>(K), n = static_cast<size_t>(N);
  if (threads == 1 || N < 64) {
    HWY_DYNAMIC_DISPATCH(GemvColumns)(x, w_kn, bias, y, m, k, n, 0, n);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    // Column blocks of whole 64-byte lines (16 floats), one per thread of the team
    // (which may be smaller than asked for, e.g. inside another parallel region).
    const int64_t t = omp_get_thread_num(), team = omp_get_num_threads();
    const int64_t per = ((N + team - 1) / team + 15) / 16 * 16;
    const int64_t c0 = std::min(N, t * per), c1 = std::min(N, c0 + per);
    if (c0 < c1)
      HWY_DYNAMIC_DISPATCH(GemvColumns)(x, w_kn, bias, y, m, k, n, static_cast<size_t>(c0),
                                        static_cast<size_t>(c1));
  }
}

}  // namespace lmf::cpu
#endif  // HWY_ONCE
