// lmforge CPU backend: float32 matmul for few rows (decode): y (M, N) = x (M, K) · W^T +
// bias with W stored (N, K), torch.nn.Linear's layout. Decode is bound by reading W, so
// each thread streams its own contiguous block of W's rows once per group of up to four
// rows of x (which stay in L1), and that block is cut in four quarters walked side by
// side, so the memory system sees four long sequential streams per thread: the access
// pattern of the bandwidth probe (measured: 98% of the probe at GPT-2 small's shapes
// against 86% for a column split over a (K, N) layout, whose per-row streams are short).
// Every y element is one dot product computed by one thread in a fixed order, so the
// result does not depend on the thread count. Compiled per Highway target and
// dispatched at run time; allocates nothing and enters no parallel region when one
// thread is used (OpenMP teams of one are allocated per region by libgomp).

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

// y[r][idx[j]] = bias + x_r · W[idx[j]] for R (1..4) rows of x at x0 and the J (1 or 4)
// W rows idx[0..J). Each dot product: lane-wise fused multiply-adds over whole vectors,
// the lanes summed, then the tail scalar: the same order for every row and group.
template <int R, int J>
HWY_INLINE void Dots(const float* HWY_RESTRICT x0, size_t K, const float* HWY_RESTRICT w, const size_t* idx,
                     const float* bias, float* HWY_RESTRICT y0, size_t ldy) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  const size_t L = hn::Lanes(d);
  const size_t kv = K / L * L;
  const float* rows[J];
  for (int j = 0; j < J; ++j) rows[j] = w + idx[j] * K;
  V acc[R][J];
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < J; ++j) acc[r][j] = hn::Zero(d);
  for (size_t k = 0; k < kv; k += L) {
    V wv[J];
    for (int j = 0; j < J; ++j) wv[j] = hn::LoadU(d, rows[j] + k);
    for (int r = 0; r < R; ++r) {
      const V xv = hn::LoadU(d, x0 + r * K + k);
      for (int j = 0; j < J; ++j) acc[r][j] = hn::MulAdd(wv[j], xv, acc[r][j]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < J; ++j) {
      float s = hn::GetLane(hn::SumOfLanes(d, acc[r][j]));
      for (size_t k = kv; k < K; ++k) s += rows[j][k] * x0[r * K + k];
      y0[r * ldy + idx[j]] = s + (bias ? bias[idx[j]] : 0.0f);
    }
}

// Rows [n0, n1) of W against R rows of x: four quarter streams, then the rest one by one.
template <int R>
HWY_INLINE void Block(const float* HWY_RESTRICT x0, size_t K, const float* HWY_RESTRICT w, const float* bias,
                      float* HWY_RESTRICT y0, size_t ldy, size_t n0, size_t n1) {
  const size_t q = (n1 - n0) / 4;
  for (size_t i = 0; i < q; ++i) {
    const size_t idx[4] = {n0 + i, n0 + q + i, n0 + 2 * q + i, n0 + 3 * q + i};
    Dots<R, 4>(x0, K, w, idx, bias, y0, ldy);
  }
  for (size_t n = n0 + 4 * q; n < n1; ++n) Dots<R, 1>(x0, K, w, &n, bias, y0, ldy);
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

// Rows [n0, n1) of W against all M rows of x, in groups of up to four rows.
void GemvRows(const float* x, const float* w, const float* bias, float* y, size_t M, size_t K, size_t N, size_t n0,
              size_t n1) {
  for (size_t m = 0; m < M; m += 4) {
    const float* xm = x + m * K;
    float* ym = y + m * N;
    switch (std::min<size_t>(4, M - m)) {
      case 1: Block<1>(xm, K, w, bias, ym, N, n0, n1); break;
      case 2: Block<2>(xm, K, w, bias, ym, N, n0, n1); break;
      case 3: Block<3>(xm, K, w, bias, ym, N, n0, n1); break;
      default: Block<4>(xm, K, w, bias, ym, N, n0, n1); break;
    }
  }
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace lmf::cpu
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace lmf::cpu {

HWY_EXPORT(GemvRows);
HWY_EXPORT(SumStreams);

float sum_streams(const float* p, int64_t n) { return HWY_DYNAMIC_DISPATCH(SumStreams)(p, static_cast<size_t>(n)); }

void linear_few_rows(const float* x, const float* w_nk, const float* bias, float* y, int64_t M, int64_t K,
                     int64_t N) {
  const auto m = static_cast<size_t>(M), k = static_cast<size_t>(K), n = static_cast<size_t>(N);
  if (omp_get_max_threads() == 1 || N < 64) {
    HWY_DYNAMIC_DISPATCH(GemvRows)(x, w_nk, bias, y, m, k, n, 0, n);
    return;
  }
#pragma omp parallel
  {
    // Blocks of whole groups of 4 rows, one per thread of the team (which may be
    // smaller than asked for, e.g. inside another parallel region).
    const int64_t t = omp_get_thread_num(), team = omp_get_num_threads();
    const int64_t per = ((N + team - 1) / team + 3) / 4 * 4;
    const int64_t n0 = std::min(N, t * per), n1 = std::min(N, n0 + per);
    if (n0 < n1)
      HWY_DYNAMIC_DISPATCH(GemvRows)(x, w_nk, bias, y, m, k, n, static_cast<size_t>(n0), static_cast<size_t>(n1));
  }
}

}  // namespace lmf::cpu
#endif  // HWY_ONCE
