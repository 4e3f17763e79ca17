// lmforge CPU backend: causal attention over whole sequences for training, forward and
// backward (kernels_grad.h). Compiled once per Highway target, dispatched at run time.
//
// Forward, per (sequence b, query head h), one OpenMP task each: for query t the scores
// scale q_t . k_s (s <= t) go to the thread's scratch row, then exp(score - max), their
// sum, lse_t = max + log(sum) and out_t = sum_s p_s v_s.
//
// Backward, per (sequence b, kv head g), one task each, so dk and dv are owned by one
// thread and accumulated in a fixed order (query heads of the group in order, then
// queries t in order). Per query row, with P_s = exp(scale q_t . k_s - lse_t) recomputed
// from the forward's lse (the same dot products as the forward):
//   dP_s = dout_t . v_s,  delta_t = dout_t . out_t,  dS_s = P_s (dP_s - delta_t)
//   dq_t = scale sum_s dS_s k_s,  dk_s += scale dS_s q_t,  dv_s += P_s dout_t.

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "backend/cpu/kernels_grad.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backend/cpu/kernels_grad_attention.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// foreach_target must come first.
#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"

#ifndef LMF_KERNELS_GRAD_ATTENTION_TYPES  // once, not per target
#define LMF_KERNELS_GRAD_ATTENTION_TYPES
namespace lmf::cpu {
namespace {
// One attention problem: shapes, strides (floats between consecutive tokens) and inputs.
struct AttnShape {
  size_t T, H, Hkv, D, q_stride, kv_stride;
  float scale;
};
}  // namespace
}  // namespace lmf::cpu
#endif

HWY_BEFORE_NAMESPACE();
namespace lmf::cpu {
namespace HWY_NAMESPACE {
namespace {  // per-target code has internal linkage: no clash with other kernel files
namespace hn = hwy::HWY_NAMESPACE;
using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;

#include "backend/cpu/simd-inl.h"

// y[0, D) += a x[0, D).
HWY_INLINE void Axpy(float a, const float* x, float* y, size_t D) {
  const DF d;
  const size_t N = hn::Lanes(d);
  const VF va = hn::Set(d, a);
  size_t i = 0;
  for (; i + N <= D; i += N) hn::StoreU(hn::MulAdd(va, hn::LoadU(d, x + i), hn::LoadU(d, y + i)), d, y + i);
  if (i < D) {
    const VF r = hn::MulAdd(va, LoadPadded(d, x + i, D - i, 0.0f), LoadPadded(d, y + i, D - i, 0.0f));
    StorePartial(d, r, y + i, D - i);
  }
}

// out[j0, j0 + N) = scale sum_{s < n} w[s] x[s * stride + j0 + .] (even and odd rows in
// separate accumulators); `m` < N marks a tail (padded loads, partial store).
HWY_INLINE void WeightedCols(const float* w, const float* x, size_t n, size_t stride, size_t j0, size_t m,
                             float scale, float* out) {
  const DF d;
  const size_t N = hn::Lanes(d);
  VF a0 = hn::Zero(d), a1 = a0;
  const float* xs = x + j0;
  size_t s = 0;
  if (m == N) {
    for (; s + 2 <= n; s += 2, xs += 2 * stride) {
      a0 = hn::MulAdd(hn::Set(d, w[s]), hn::LoadU(d, xs), a0);
      a1 = hn::MulAdd(hn::Set(d, w[s + 1]), hn::LoadU(d, xs + stride), a1);
    }
    if (s < n) a0 = hn::MulAdd(hn::Set(d, w[s]), hn::LoadU(d, xs), a0);
    hn::StoreU(hn::Mul(hn::Add(a0, a1), hn::Set(d, scale)), d, out + j0);
    return;
  }
  for (; s + 2 <= n; s += 2, xs += 2 * stride) {
    a0 = hn::MulAdd(hn::Set(d, w[s]), LoadPadded(d, xs, m, 0.0f), a0);
    a1 = hn::MulAdd(hn::Set(d, w[s + 1]), LoadPadded(d, xs + stride, m, 0.0f), a1);
  }
  if (s < n) a0 = hn::MulAdd(hn::Set(d, w[s]), LoadPadded(d, xs, m, 0.0f), a0);
  StorePartial(d, hn::Mul(hn::Add(a0, a1), hn::Set(d, scale)), out + j0, m);
}

// out[0, D) = scale sum_{s < n} w[s] x_s, row s of x at x + s * stride.
HWY_INLINE void WeightedRows(const float* w, const float* x, size_t n, size_t stride, size_t D, float scale,
                             float* out) {
  const size_t N = hn::Lanes(DF());
  size_t j = 0;
  for (; j + N <= D; j += N) WeightedCols(w, x, n, stride, j, N, scale, out);
  if (j < D) WeightedCols(w, x, n, stride, j, D - j, scale, out);
}


// p[0, n) = exp(p - lse); ds[0, n) = p (ds - delta).
HWY_INLINE void ProbsAndScoreGrads(float* p, float* ds, size_t n, float lse, float delta) {
  const DF d;
  const size_t N = hn::Lanes(d);
  const VF vl = hn::Set(d, lse), vdelta = hn::Set(d, delta);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    const VF e = hn::Exp(d, hn::Sub(hn::LoadU(d, p + i), vl));
    hn::StoreU(e, d, p + i);
    hn::StoreU(hn::Mul(e, hn::Sub(hn::LoadU(d, ds + i), vdelta)), d, ds + i);
  }
  if (i < n) {
    const VF e = hn::Exp(d, hn::Sub(LoadPadded(d, p + i, n - i, 0.0f), vl));
    StorePartial(d, e, p + i, n - i);
    StorePartial(d, hn::Mul(e, hn::Sub(LoadPadded(d, ds + i, n - i, 0.0f), vdelta)), ds + i, n - i);
  }
}

// Forward for sequence b, query head h. q, out at token 0 head h; k, v at token 0 of the
// matching kv head; lse: the T values of (b, h). scratch: T floats.
void AttnForwardHead(const float* q, const float* k, const float* v, float* out, float* lse, const AttnShape& sh,
                     float* scratch) {
  for (size_t t = 0; t < sh.T; ++t) {
    const float* qt = q + t * sh.q_stride;
    const size_t n = t + 1;
    float m = -HUGE_VALF;
    for (size_t s = 0; s < n; ++s) {
      const float score = Dot(qt, k + s * sh.kv_stride, sh.D) * sh.scale;
      scratch[s] = score;
      m = score > m ? score : m;
    }
    const float sum = ExpShiftSum(scratch, n, m);
    lse[t] = m + std::log(sum);
    WeightedRows(scratch, v, n, sh.kv_stride, sh.D, 1.0f / sum, out + t * sh.q_stride);
  }
}

// Backward for sequence b, kv head g: pointers at token 0 of (b, g) for k, v, dk, dv and
// of (b, first query head of the group) for q, out, dout, dq; lse at (b, that head).
// scratch: 2 T floats.
void AttnBackwardGroup(const float* q, const float* k, const float* v, const float* out, const float* lse,
                       const float* dout, float* dq, float* dk, float* dv, const AttnShape& sh, float* scratch) {
  const size_t T = sh.T, D = sh.D;
  for (size_t t = 0; t < T; ++t) {
    std::memset(dk + t * sh.kv_stride, 0, D * sizeof(float));
    std::memset(dv + t * sh.kv_stride, 0, D * sizeof(float));
  }
  float* p = scratch;
  float* ds = scratch + T;
  const size_t group = sh.H / sh.Hkv;
  for (size_t j = 0; j < group; ++j) {
    const size_t ho = j * D;  // offset of this query head within a token
    for (size_t t = 0; t < T; ++t) {
      const size_t qo = t * sh.q_stride + ho;
      const float* qt = q + qo;
      const float* dot = dout + qo;
      const size_t n = t + 1;
      for (size_t s = 0; s < n; ++s) {
        p[s] = Dot(qt, k + s * sh.kv_stride, D) * sh.scale;
        ds[s] = Dot(dot, v + s * sh.kv_stride, D);
      }
      ProbsAndScoreGrads(p, ds, n, lse[j * T + t], Dot(dot, out + qo, D));
      WeightedRows(ds, k, n, sh.kv_stride, D, sh.scale, dq + qo);
      for (size_t s = 0; s < n; ++s) {
        Axpy(sh.scale * ds[s], qt, dk + s * sh.kv_stride, D);
        Axpy(p[s], dot, dv + s * sh.kv_stride, D);
      }
    }
  }
}

}  // namespace
// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace lmf::cpu
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace lmf::cpu {

HWY_EXPORT(AttnForwardHead);
HWY_EXPORT(AttnBackwardGroup);

void attention_causal_forward(const float* q, const float* k, const float* v, float* out, float* lse, int64_t B,
                              int64_t T, int64_t H, int64_t Hkv, int64_t D, float scale, float* scratch) {
  if (B <= 0 || T <= 0 || H <= 0 || Hkv <= 0 || D <= 0) return;
  const AttnShape sh{static_cast<size_t>(T), static_cast<size_t>(H), static_cast<size_t>(Hkv),
                     static_cast<size_t>(D), static_cast<size_t>(H * D), static_cast<size_t>(Hkv * D), scale};
  const int64_t group = H / Hkv;
  const bool par = B * H > 1 && B * H * T * T * D >= (int64_t{1} << 16);
#pragma omp parallel for schedule(dynamic, 1) if (par)
  for (int64_t bh = 0; bh < B * H; ++bh) {
    const int64_t b = bh / H, h = bh % H;
    const int64_t tok0 = b * T;
    float* sc = scratch + static_cast<int64_t>(omp_get_thread_num()) * T;
    HWY_DYNAMIC_DISPATCH(AttnForwardHead)(q + tok0 * H * D + h * D, k + tok0 * Hkv * D + (h / group) * D,
                                          v + tok0 * Hkv * D + (h / group) * D, out + tok0 * H * D + h * D,
                                          lse + bh * T, sh, sc);
  }
}

void attention_causal_backward(const float* q, const float* k, const float* v, const float* out, const float* lse,
                               const float* dout, float* dq, float* dk, float* dv, int64_t B, int64_t T, int64_t H,
                               int64_t Hkv, int64_t D, float scale, float* scratch) {
  if (B <= 0 || T <= 0 || H <= 0 || Hkv <= 0 || D <= 0) return;
  const AttnShape sh{static_cast<size_t>(T), static_cast<size_t>(H), static_cast<size_t>(Hkv),
                     static_cast<size_t>(D), static_cast<size_t>(H * D), static_cast<size_t>(Hkv * D), scale};
  const int64_t group = H / Hkv;
  const bool par = B * Hkv > 1 && B * H * T * T * D >= (int64_t{1} << 16);
#pragma omp parallel for schedule(dynamic, 1) if (par)
  for (int64_t bg = 0; bg < B * Hkv; ++bg) {
    const int64_t b = bg / Hkv, g = bg % Hkv;
    const int64_t tok0 = b * T, h0 = g * group;
    const int64_t qo = tok0 * H * D + h0 * D, kvo = tok0 * Hkv * D + g * D;
    float* sc = scratch + static_cast<int64_t>(omp_get_thread_num()) * 2 * T;
    HWY_DYNAMIC_DISPATCH(AttnBackwardGroup)(q + qo, k + kvo, v + kvo, out + qo, lse + (b * H + h0) * T, dout + qo,
                                            dq + qo, dk + kvo, dv + kvo, sh, sc);
  }
}

int64_t attention_causal_backward_scratch(int64_t B, int64_t T, int64_t H, int64_t Hkv, int64_t D, int threads) {
  return static_cast<int64_t>(std::max(threads, 1)) * 2 * std::max<int64_t>(T, 0);
}

}  // namespace lmf::cpu
#endif  // HWY_ONCE
