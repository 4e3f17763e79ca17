// lmforge CPU backend: float32 matmul for few rows (decode): y (M, N) = x (M, K) · W +
// bias. Decode is bound by reading W, so W is read once per call (per group of rows of
// x) as long sequential streams, the access pattern of the bandwidth probe, while x and
// y stay in cache. Two layouts:
//  - W (N, K) (linear_few_rows): each thread owns a block of W's rows, cut in four
//    quarters walked side by side; every y element is one dot product in a fixed order.
//  - W (K, N) (linear_few_rows_kn): K is cut into a fixed number of blocks (a function of
//    K only); a thread streams whole blocks of W's rows (four quarter streams), adding
//    x (M, block) · W (block, N) into its own partial (M, N) in the caller's scratch;
//    then y = bias + the partials summed in block order. (Measured at GPT-2 small's
//    shapes: a column split of (K, N), whose per-row streams are short, reached 86% of
//    the probe against 98% for whole-row streams.)
// Either way the result does not depend on the thread count. Compiled per Highway target
// and dispatched at run time; allocates nothing and enters no parallel region when one
// thread is used (OpenMP teams of one are allocated per region by libgomp).

#include <omp.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "backend/cpu/matmul.h"
#include "backend/cpu/strip_ranges.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backend/cpu/gemv.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// foreach_target must come first.
#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace lmf::cpu {
namespace HWY_NAMESPACE {
namespace {
namespace hn = hwy::HWY_NAMESPACE;

#include "backend/cpu/simd-inl.h"  // GeluTanhVec

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


// y (M, ld) columns [0, n) += sum over s < S of coef[m][s] * rows[s][c], the terms
// added in order of s.
template <int M, int S>
HWY_INLINE void AddRows(const float* const* rows, const float (*coef)[8], float* HWY_RESTRICT y, size_t ld,
                        size_t n) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  const size_t L = hn::Lanes(d);
  V xb[M][S];
  for (int m = 0; m < M; ++m)
    for (int s = 0; s < S; ++s) xb[m][s] = hn::Set(d, coef[m][s]);
  size_t c = 0;
  for (; c + L <= n; c += L) {
    V w[S];
    for (int s = 0; s < S; ++s) w[s] = hn::LoadU(d, rows[s] + c);
    for (int m = 0; m < M; ++m) {
      V a = hn::LoadU(d, y + m * ld + c);
      for (int s = 0; s < S; ++s) a = hn::MulAdd(xb[m][s], w[s], a);
      hn::StoreU(a, d, y + m * ld + c);
    }
  }
  // The last columns one at a time with the same fused multiply-adds (no masked store).
  const hn::CappedTag<float, 1> d1;
  for (; c < n; ++c)
    for (int m = 0; m < M; ++m) {
      auto a = hn::LoadU(d1, y + m * ld + c);
      for (int s = 0; s < S; ++s) a = hn::MulAdd(hn::Set(d1, coef[m][s]), hn::LoadU(d1, rows[s] + c), a);
      hn::StoreU(a, d1, y + m * ld + c);
    }
}

// p (M, N) = x (M rows, stride ldx) columns [k0, k1) · W (K, N) rows [k0, k1). The rows
// are cut in four quarters walked side by side, one row of each per pass (four streams,
// as the probe reads: measured 6% faster than two rows of each at GPT-2 small's shapes).
template <int M>
HWY_INLINE void KBlock(const float* HWY_RESTRICT x, size_t ldx, const float* HWY_RESTRICT w, size_t N, size_t k0,
                       size_t k1, float* HWY_RESTRICT p) {
  for (size_t i = 0; i < M * N; ++i) p[i] = 0.0f;
  constexpr int kRows = 1;
  const size_t q = (k1 - k0) / 4 / kRows * kRows;
  const float* rows[4 * kRows];
  float coef[M][8];
  for (size_t i = 0; i < q; i += kRows) {
    for (int j = 0; j < 4; ++j)
      for (int r = 0; r < kRows; ++r) {
        const size_t k = k0 + j * q + i + r;
        rows[j * kRows + r] = w + k * N;
        for (int m = 0; m < M; ++m) coef[m][j * kRows + r] = x[m * ldx + k];
      }
    AddRows<M, 4 * kRows>(rows, coef, p, N, N);
  }
  for (size_t k = k0 + 4 * q; k < k1; ++k) {
    rows[0] = w + k * N;
    for (int m = 0; m < M; ++m) coef[m][0] = x[m * ldx + k];
    AddRows<M, 1>(rows, coef, p, N, N);
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

// Partial p (M, N) of K-block [k0, k1) for M <= kFewRows rows of x (M, K).
void GemvKBlock(const float* x, const float* w, size_t M, size_t K, size_t N, size_t k0, size_t k1, float* p) {
  switch (M) {
#define LMF_KBLOCK_CASE(R)                   \
  case R:                                    \
    KBlock<R>(x, K, w, N, k0, k1, p);        \
    break;
    LMF_KBLOCK_CASE(1) LMF_KBLOCK_CASE(2) LMF_KBLOCK_CASE(3) LMF_KBLOCK_CASE(4)
    LMF_KBLOCK_CASE(5) LMF_KBLOCK_CASE(6) LMF_KBLOCK_CASE(7) LMF_KBLOCK_CASE(8)
#undef LMF_KBLOCK_CASE
    default:
      break;
  }
}

constexpr size_t kSC = static_cast<size_t>(kStripCols);

// Strips (linear_strips): W as (S, K, kSC), strip s holding columns [64 s, 64 s + 64)
// row after row. R (1..4) rows of x against strip `w`: the strip's row k is loaded once
// and multiplied by each x_r[k] (every y element: fused multiply-adds in k order, then
// the bias). `cols` (<= 64) of the strip's columns are written.
template <int R>
HWY_INLINE void StripRows(const float* HWY_RESTRICT x0, size_t K, const float* HWY_RESTRICT w,
                          const float* bias, float* HWY_RESTRICT y0, size_t ldy, size_t cols,
                          const float* pf = nullptr, size_t pf_lines = 0, bool gelu = false) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  constexpr size_t L = hn::MaxLanes(d);
  constexpr size_t NV = kSC / L;
  V acc[R][NV];
  for (int r = 0; r < R; ++r)
    for (size_t v = 0; v < NV; ++v) acc[r][v] = hn::Zero(d);
  size_t next = 0;
  for (size_t k = 0; k < K; ++k) {
    const float* row = w + k * kSC;
    if (pf && next < pf_lines && (k & 1) == 0) __builtin_prefetch(pf + 16 * next++, 0, 2);  // into L2
    V wv[NV];
    for (size_t v = 0; v < NV; ++v) wv[v] = hn::LoadU(d, row + v * L);
    for (int r = 0; r < R; ++r) {
      const V xv = hn::Set(d, x0[r * K + k]);
      for (size_t v = 0; v < NV; ++v) acc[r][v] = hn::MulAdd(wv[v], xv, acc[r][v]);
    }
  }
  if (cols == kSC) {  // a full strip: + bias, gelu, stored in place
    for (size_t v = 0; v < NV; ++v) {
      const V b = bias ? hn::LoadU(d, bias + v * L) : hn::Zero(d);
      for (int r = 0; r < R; ++r) {
        V o = hn::Add(acc[r][v], b);
        if (gelu) o = GeluTanhVec(d, o);
        hn::StoreU(o, d, y0 + r * ldy + v * L);
      }
    }
    return;
  }
  HWY_ALIGN float out[kSC];  // the last strip's `cols` columns (bias holds only those)
  for (int r = 0; r < R; ++r) {
    for (size_t v = 0; v < NV; ++v) hn::Store(acc[r][v], d, out + v * L);
    for (size_t c = 0; c < cols; ++c) out[c] += bias ? bias[c] : 0.0f;
    if (gelu)
      for (size_t v = 0; v < NV; ++v) hn::Store(GeluTanhVec(d, hn::Load(d, out + v * L)), d, out + v * L);
    float* yr = y0 + r * ldy;
    for (size_t c = 0; c < cols; ++c) yr[c] = out[c];
  }
}

// Strips [s0, s1) against all M rows of x, strip by strip, rows in groups small enough
// for the registers (4 with 16-lane vectors, 2 with 8, else 1).
void GemvStrips(const float* x, const float* w, const float* bias, float* y, size_t M, size_t K, size_t N,
                size_t s0, size_t s1) {
  const hn::ScalableTag<float> d;
  constexpr size_t L = hn::MaxLanes(d);
  constexpr size_t G = L >= 16 ? 4 : (L >= 8 ? 2 : 1);
  for (size_t s = s0; s < s1; ++s) {
    const float* ws = w + s * K * kSC;
    const size_t c0 = s * kSC, cols = std::min(kSC, N - c0);
    const float* bs = bias ? bias + c0 : nullptr;
    for (size_t m = 0; m < M; m += G) {
      const float* xm = x + m * K;
      float* ym = y + m * N + c0;
      switch (std::min(G, M - m)) {
        case 1: StripRows<1>(xm, K, ws, bs, ym, N, cols); break;
        case 2: StripRows<(G >= 2 ? 2 : 1)>(xm, K, ws, bs, ym, N, cols); break;
        case 3: StripRows<(G >= 4 ? 3 : 1)>(xm, K, ws, bs, ym, N, cols); break;
        default: StripRows<(G >= 4 ? 4 : 1)>(xm, K, ws, bs, ym, N, cols); break;
      }
    }
  }
}

// Many rows (prefill): strips [s0, s1) against all M rows, 6 rows a tile with 16-lane
// vectors (24 accumulators); while a strip's tiles run, they prefetch the next strip's
// lines, spread over the tiles, so the weights stream from memory under the compute.
void GemmStrips(const float* x, const float* w, const float* bias, float* y, size_t M, size_t K, size_t N,
                size_t s0, size_t s1, bool gelu) {
  const hn::ScalableTag<float> d;
  constexpr size_t L = hn::MaxLanes(d);
  constexpr size_t G = L >= 16 ? 6 : (L >= 8 ? 2 : 1);
  const size_t tiles = (M + G - 1) / G, lines = K * kSC / 16, per_tile = (lines + tiles - 1) / tiles;
  for (size_t s = s0; s < s1; ++s) {
    const float* ws = w + s * K * kSC;
    const float* next = s + 1 < s1 ? ws + K * kSC : nullptr;
    const size_t c0 = s * kSC, cols = std::min(kSC, N - c0);
    const float* bs = bias ? bias + c0 : nullptr;
    for (size_t m = 0, t = 0; m < M; m += G, ++t) {
      const float* xm = x + m * K;
      float* ym = y + m * N + c0;
      const float* pf = next ? next + std::min(lines, t * per_tile) * 16 : nullptr;
      const size_t pl = next ? std::min(per_tile, lines - std::min(lines, t * per_tile)) : 0;
      switch (std::min(G, M - m)) {
        case 1: StripRows<1>(xm, K, ws, bs, ym, N, cols, pf, pl, gelu); break;
        case 2: StripRows<(G >= 2 ? 2 : 1)>(xm, K, ws, bs, ym, N, cols, pf, pl, gelu); break;
        case 3: StripRows<(G >= 6 ? 3 : 1)>(xm, K, ws, bs, ym, N, cols, pf, pl, gelu); break;
        case 4: StripRows<(G >= 6 ? 4 : 1)>(xm, K, ws, bs, ym, N, cols, pf, pl, gelu); break;
        case 5: StripRows<(G >= 6 ? 5 : 1)>(xm, K, ws, bs, ym, N, cols, pf, pl, gelu); break;
        default: StripRows<(G >= 6 ? 6 : 1)>(xm, K, ws, bs, ym, N, cols, pf, pl, gelu); break;
      }
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
HWY_EXPORT(GemvKBlock);
HWY_EXPORT(SumStreams);
HWY_EXPORT(GemvStrips);
HWY_EXPORT(GemmStrips);

// Float strips go parallel from 2 strips (kParallelMinColumns, strip_ranges.h).
constexpr int64_t kMinParallelStrips = kParallelMinColumns / kStripCols;

void gemm_strips(const float* x, const float* w, const float* bias, float* y, int64_t M, int64_t K, int64_t N,
                 bool gelu) {
  const auto m = static_cast<size_t>(M), k = static_cast<size_t>(K), n = static_cast<size_t>(N);
  for_strip_ranges(strip_count(N), kMinParallelStrips, [&](size_t s0, size_t s1) {
    HWY_DYNAMIC_DISPATCH(GemmStrips)(x, w, bias, y, m, k, n, s0, s1, gelu);
  });
}

float sum_streams(const float* p, int64_t n) { return HWY_DYNAMIC_DISPATCH(SumStreams)(p, static_cast<size_t>(n)); }

void linear_few_rows_strips(const float* x, const float* w, const float* bias, float* y, int64_t M, int64_t K,
                            int64_t N) {
  const auto m = static_cast<size_t>(M), k = static_cast<size_t>(K), n = static_cast<size_t>(N);
  for_strip_ranges(strip_count(N), kMinParallelStrips, [&](size_t s0, size_t s1) {
    HWY_DYNAMIC_DISPATCH(GemvStrips)(x, w, bias, y, m, k, n, s0, s1);
  });
}

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

int64_t few_rows_kn_blocks(int64_t K) { return std::clamp<int64_t>(K / 96, 1, 8); }

int64_t few_rows_kn_scratch(int64_t K, int64_t N) { return few_rows_kn_blocks(K) * kFewRows * N; }

void linear_few_rows_kn(const float* x, const float* w_kn, const float* bias, float* y, int64_t M, int64_t K,
                        int64_t N, float* scratch) {
  const int64_t nb = few_rows_kn_blocks(K);
  const auto k = static_cast<size_t>(K), n = static_cast<size_t>(N);
  for (int64_t m0 = 0; m0 < M; m0 += kFewRows) {
    const int64_t rows = std::min<int64_t>(kFewRows, M - m0);
    const float* xm = x + m0 * K;
    float* ym = y + m0 * N;
    auto block = [&](int64_t b) {
      HWY_DYNAMIC_DISPATCH(GemvKBlock)(xm, w_kn, static_cast<size_t>(rows), k, n, static_cast<size_t>(K * b / nb),
                                       static_cast<size_t>(K * (b + 1) / nb), scratch + b * rows * N);
    };
    // y = bias + the partials in block order; threads own column ranges.
    auto reduce = [&](int64_t c0, int64_t c1) {
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = c0; c < c1; ++c) {
          float acc = bias ? bias[c] : 0.0f;
          for (int64_t b = 0; b < nb; ++b) acc += scratch[(b * rows + r) * N + c];
          ym[r * N + c] = acc;
        }
    };
    if (omp_get_max_threads() == 1 || nb == 1) {
      for (int64_t b = 0; b < nb; ++b) block(b);
      reduce(0, N);
      continue;
    }
#pragma omp parallel
    {
#pragma omp for schedule(static)
      for (int64_t b = 0; b < nb; ++b) block(b);
      const int64_t t = omp_get_thread_num(), team = omp_get_num_threads();
      const int64_t per = ((N + team - 1) / team + 15) / 16 * 16;
      reduce(std::min(N, t * per), std::min(N, (t + 1) * per));
    }
  }
}

}  // namespace lmf::cpu
#endif  // HWY_ONCE
