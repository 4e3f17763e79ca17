// lmforge CPU backend: float32 matmul for few rows (decode): y (M, N) = x (M, K) ·
// W^T + bias with W stored (N, K). Decode is bound by reading W, so each thread
// streams its own contiguous block of W's rows exactly once per call, four rows at
// a time, while the M <= 8 rows of x stay in L1. Compiled per Highway target and
// dispatched at run time; allocates nothing and enters no parallel region when
// one thread is used (OpenMP teams of one are allocated per region by libgomp).

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

// Dot products of the 4 W rows w + idx[j] * K with R (1 or 2) rows of x at x0.
template <int R>
HWY_INLINE void Four(const float* HWY_RESTRICT x0, size_t K, const float* HWY_RESTRICT w, const size_t idx[4],
                     const float* bias, float* HWY_RESTRICT y0, size_t ldy) {
  const hn::ScalableTag<float> d;
  const size_t L = hn::Lanes(d);
  const size_t kv = K / L * L;
  const float* w0 = w + idx[0] * K;
  const float* w1 = w + idx[1] * K;
  const float* w2 = w + idx[2] * K;
  const float* w3 = w + idx[3] * K;
  auto a00 = hn::Zero(d), a01 = hn::Zero(d), a02 = hn::Zero(d), a03 = hn::Zero(d);
  auto a10 = hn::Zero(d), a11 = hn::Zero(d), a12 = hn::Zero(d), a13 = hn::Zero(d);
  for (size_t k = 0; k < kv; k += L) {
    const auto v0 = hn::LoadU(d, w0 + k), v1 = hn::LoadU(d, w1 + k);
    const auto v2 = hn::LoadU(d, w2 + k), v3 = hn::LoadU(d, w3 + k);
    const auto xa = hn::LoadU(d, x0 + k);
    a00 = hn::MulAdd(v0, xa, a00), a01 = hn::MulAdd(v1, xa, a01);
    a02 = hn::MulAdd(v2, xa, a02), a03 = hn::MulAdd(v3, xa, a03);
    if (R == 2) {
      const auto xb = hn::LoadU(d, x0 + K + k);
      a10 = hn::MulAdd(v0, xb, a10), a11 = hn::MulAdd(v1, xb, a11);
      a12 = hn::MulAdd(v2, xb, a12), a13 = hn::MulAdd(v3, xb, a13);
    }
  }
  const float* rows[4] = {w0, w1, w2, w3};
  float s[2][4] = {{hn::GetLane(hn::SumOfLanes(d, a00)), hn::GetLane(hn::SumOfLanes(d, a01)),
                    hn::GetLane(hn::SumOfLanes(d, a02)), hn::GetLane(hn::SumOfLanes(d, a03))},
                   {0, 0, 0, 0}};
  if (R == 2) {
    s[1][0] = hn::GetLane(hn::SumOfLanes(d, a10)), s[1][1] = hn::GetLane(hn::SumOfLanes(d, a11));
    s[1][2] = hn::GetLane(hn::SumOfLanes(d, a12)), s[1][3] = hn::GetLane(hn::SumOfLanes(d, a13));
  }
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < 4; ++j) {
      float acc = s[r][j];
      for (size_t k = kv; k < K; ++k) acc += rows[j][k] * x0[r * K + k];
      y0[r * ldy + idx[j]] = acc + (bias ? bias[idx[j]] : 0.0f);
    }
}

// Rows [n0, n1) of W against R rows of x. The block is cut in four quarters walked
// side by side, so the memory system sees four long sequential streams (measured:
// faster than four adjacent rows at a time, whose streams keep jumping).
template <int R>
HWY_INLINE void Block(const float* HWY_RESTRICT x0, size_t K, const float* HWY_RESTRICT w, const float* bias,
                      float* HWY_RESTRICT y0, size_t ldy, size_t n0, size_t n1) {
  const size_t q = (n1 - n0) / 4;
  for (size_t i = 0; i < q; ++i) {
    const size_t idx[4] = {n0 + i, n0 + q + i, n0 + 2 * q + i, n0 + 3 * q + i};
    Four<R>(x0, K, w, idx, bias, y0, ldy);
  }
  size_t n = n0 + 4 * q;
  for (; n + 4 <= n1; n += 4) {
    const size_t idx[4] = {n, n + 1, n + 2, n + 3};
    Four<R>(x0, K, w, idx, bias, y0, ldy);
  }
  const hn::ScalableTag<float> d;
  const size_t L = hn::Lanes(d);
  const size_t kv = K / L * L;
  for (; n < n1; ++n) {
    const float* wr = w + n * K;
    for (int r = 0; r < R; ++r) {
      auto a = hn::Zero(d);
      for (size_t k = 0; k < kv; k += L) a = hn::MulAdd(hn::LoadU(d, wr + k), hn::LoadU(d, x0 + r * K + k), a);
      float acc = hn::GetLane(hn::SumOfLanes(d, a));
      for (size_t k = kv; k < K; ++k) acc += wr[k] * x0[r * K + k];
      y0[r * ldy + n] = acc + (bias ? bias[n] : 0.0f);
    }
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

void GemvRows(const float* x, const float* w, const float* bias, float* y, size_t M, size_t K, size_t N, size_t n0,
              size_t n1) {
  size_t m = 0;
  for (; m + 2 <= M; m += 2) Block<2>(x + m * K, K, w, bias, y + m * N, N, n0, n1);
  if (m < M) Block<1>(x + m * K, K, w, bias, y + m * N, N, n0, n1);
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
  const int threads = omp_get_max_threads();
  // Blocks of whole groups of 4 rows, one per thread.
  const int64_t per = ((N + threads - 1) / threads + 3) / 4 * 4;
  if (threads == 1 || N < 64) {
    HWY_DYNAMIC_DISPATCH(GemvRows)(x, w_nk, bias, y, M, K, N, 0, N);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    const int64_t t = omp_get_thread_num();
    const int64_t n0 = std::min(N, t * per), n1 = std::min(N, n0 + per);
    if (n0 < n1)
      HWY_DYNAMIC_DISPATCH(GemvRows)(x, w_nk, bias, y, static_cast<size_t>(M), static_cast<size_t>(K),
                                     static_cast<size_t>(N), static_cast<size_t>(n0), static_cast<size_t>(n1));
  }
}

}  // namespace lmf::cpu
#endif  // HWY_ONCE
