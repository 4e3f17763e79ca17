// lmforge CPU backend: the fused losses of kernels_grad.h, cross_entropy and distill_loss.
//
// Per row, over the vocabulary: one pass finds the maxima, one sums the exponentials
// (giving the log-sum-exps and, for distillation, the row's KL divergence), one writes
// the gradient. Rows run in parallel (one thread a row); per-row losses go to a stack
// buffer of kRowChunk doubles and are added in row order, so the loss does not depend
// on the thread count. Compiled once per Highway target and dispatched at run time.
//
// Distillation, with a = s / T, b = t / T (per row), p_s = softmax(a), p_t = softmax(b):
//   forward KL(p_t || p_s) = E_pt[b - a] - lse(b) + lse(a),  d/ds = (p_s - p_t) / T
//   reverse KL(p_s || p_t) = E_ps[a - b] - lse(a) + lse(b),  d/ds = p_s (a - b - E_ps[a - b]) / T
// where E_p[f] = sum_i exp(x_i - max) f_i / sum_i exp(x_i - max) comes out of the same
// pass as the log-sum-exps (DistillRow rewrites these around the position of max s).

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "backend/cpu/kernels_grad.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backend/cpu/losses.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// foreach_target must come first.
#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"

#ifndef LMF_LOSSES_TYPES  // once, not per target
#define LMF_LOSSES_TYPES
namespace lmf::cpu {
namespace {
// One distillation row's settings: 1/T, the gradient coefficients (scale included) of the
// soft term (alpha T / R) and of the hard term ((1 - alpha) / scored), which terms are
// wanted and the direction of the KL.
struct DistillCoeffs {
  float inv_t, soft_coef, hard_coef;
  bool soft, hard, reverse;
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
using MF = hn::Mask<DF>;

#include "backend/cpu/simd-inl.h"

HWY_INLINE float SumLanes(DF d, VF v) { return hn::GetLane(hn::SumOfLanes(d, v)); }
HWY_INLINE float MaxLanes(DF d, VF v) { return hn::GetLane(hn::MaxOfLanes(d, v)); }

// The max of row x (V) and the sum of exp(x - max): the two passes behind every
// log-sum-exp of a logit row (cross_entropy, hence the training and validation loss, and
// log_sum_exp, hence perplexity and compare's KL), so ppl and the loss cannot drift.
HWY_INLINE void RowMaxSum(const float* x, size_t V, float* max_out, double* sum_out) {
  const DF d0;
  VF vmax = hn::Set(d0, -HUGE_VALF);
  ForVectors(V, [&](DF d, size_t i, size_t m, MF) HWY_ATTR {
    vmax = hn::Max(vmax, Ld(d, x + i, m, -HUGE_VALF));
  });
  const float mx = MaxLanes(d0, vmax);
  const VF vm = hn::Set(d0, mx);
  // Two float accumulators, added into a double every kFlushVectors vectors, so each float
  // lane sums at most kFlushVectors / 2 terms whatever V and the vector width (one lane on
  // the scalar target): the sum stays good to ~1e-7 relative.
  constexpr size_t kFlushVectors = 64;
  VF s0 = hn::Zero(d0), s1 = s0;
  double total = 0.0;
  size_t k = 0;
  ForVectors(V, [&](DF d, size_t i, size_t m, MF mask) HWY_ATTR {
    const VF e = hn::IfThenElseZero(mask, hn::Exp(d, hn::Sub(Ld(d, x + i, m), vm)));
    if (k & 1) {
      s1 = hn::Add(s1, e);
    } else {
      s0 = hn::Add(s0, e);
    }
    if (++k % kFlushVectors == 0) {
      total += SumLanes(d0, hn::Add(s0, s1));
      s0 = s1 = hn::Zero(d0);
    }
  });
  *max_out = mx;
  *sum_out = total + SumLanes(d0, hn::Add(s0, s1));
}

double LogSumExpRow(const float* x, size_t V) {
  float mx;
  double sum;
  RowMaxSum(x, V, &mx, &sum);
  return mx + std::log(sum);
}

// Writes dx (V) = f softmax(x) - f onehot(target) (or 0 when target < 0); returns the
// row's cross-entropy lse(x) - x[target] (0 when target < 0). dx may alias x.
double CrossEntropyRow(const float* x, int32_t target, float* dx, size_t V, float f) {
  if (target < 0) {
    ForVectors(V, [&](DF d, size_t i, size_t m, MF) HWY_ATTR { St(d, hn::Zero(d), dx + i, m); });
    return 0.0;
  }
  const DF d0;
  float mx;
  double sum;
  RowMaxSum(x, V, &mx, &sum);
  const VF vm = hn::Set(d0, mx);
  const double lse = mx + std::log(sum);
  const float xt = x[target];  // read before dx (which may be x) is written
  // exp(x - max) / sum rather than exp(x - lse): x - max is exact where p is large, while
  // lse rounded to float would cost up to ulp(|lse|) relative (8e-6 for logits ~ 80).
  const VF vf = hn::Set(d0, static_cast<float>(f / sum));
  ForVectors(V, [&](DF d, size_t i, size_t m, MF) HWY_ATTR {
    St(d, hn::Mul(hn::Exp(d, hn::Sub(Ld(d, x + i, m), vm)), vf), dx + i, m);
  });
  dx[target] -= f;
  return lse - xt;
}

// s's maximum and, when want_t, the t value at (one of) its positions, and t's maximum.
HWY_INLINE void RowMaxima(const float* s, const float* t, size_t V, bool want_t, float* ms, float* t_at,
                          float* mt) {
  const DF d0;
  VF smax = hn::Set(d0, -HUGE_VALF), tsel = hn::Zero(d0), tmax = smax;
  ForVectors(V, [&](DF d, size_t i, size_t m, MF) HWY_ATTR {
    const VF vs = Ld(d, s + i, m, -HUGE_VALF);
    if (want_t) {
      const VF vt = Ld(d, t + i, m, -HUGE_VALF);
      tsel = hn::IfThenElse(hn::Gt(vs, smax), vt, tsel);
      tmax = hn::Max(tmax, vt);
    }
    smax = hn::Max(smax, vs);
  });
  *ms = MaxLanes(d0, smax);
  *mt = want_t ? MaxLanes(d0, tmax) : 0.0f;
  *t_at = 0.0f;
  if (!want_t) return;
  HWY_ALIGN float sl[HWY_MAX_BYTES / sizeof(float)];
  HWY_ALIGN float tl[HWY_MAX_BYTES / sizeof(float)];
  hn::Store(smax, d0, sl);
  hn::Store(tsel, d0, tl);
  for (size_t l = 0; l < hn::Lanes(d0); ++l) {
    if (sl[l] == *ms) {
      *t_at = tl[l];
      return;
    }
  }
}

// Distillation of one row s, t (V) -> ds (V); soft and hard get the row's KL and
// cross-entropy (0 where not wanted). ds may alias s.
// With j a position of max s, the KL terms are computed from dd = (a - b) - (a_j - b_j)
// = ((s - s_j) - (t - t_j)) / T, which is small and accurate where p_s is large (a - b
// alone would carry the rounding of |s - t| into the reverse gradient's a - b - E[a - b]):
//   forward KL = (t_j - max t) / T - E_pt[dd] + log Za - log Zb
//   reverse KL = (max t - t_j) / T + E_ps[dd] - log Za + log Zb,  d/ds = p_s (dd - E_ps[dd]) / T
// with Za = sum exp((s - max s) / T), Zb = sum exp((t - max t) / T).
void DistillRow(const float* s, const float* t, int32_t target, float* ds, size_t V,
                const DistillCoeffs& k, double* soft, double* hard) {
  const DF d0;
  const bool hard_on = k.hard && target >= 0;
  float ms, tj, mt;
  RowMaxima(s, t, V, k.soft, &ms, &tj, &mt);
  const VF it = hn::Set(d0, k.inv_t), vms = hn::Set(d0, ms), vmt = hn::Set(d0, mt), vtj = hn::Set(d0, tj);
  const bool sep_hard = hard_on && k.inv_t != 1.0f;  // softmax(s) differs from p_s
  // Exp sums Za, Zb, Zs (of s - max s) and W = sum exp(..) dd, weighted by p_t (forward)
  // or p_s (reverse).
  VF vza = hn::Zero(d0), vzb = vza, vzs = vza, vw = vza;
  ForVectors(V, [&](DF d, size_t i, size_t m, MF mask) HWY_ATTR {
    const VF u = hn::Sub(Ld(d, s + i, m), vms);
    const VF ea = hn::IfThenElseZero(mask, hn::Exp(d, hn::Mul(u, it)));
    vza = hn::Add(vza, ea);
    if (sep_hard) vzs = hn::Add(vzs, hn::IfThenElseZero(mask, hn::Exp(d, u)));
    if (!k.soft) return;
    const VF vt = Ld(d, t + i, m);
    const VF eb = hn::IfThenElseZero(mask, hn::Exp(d, hn::Mul(hn::Sub(vt, vmt), it)));
    vzb = hn::Add(vzb, eb);
    const VF dd = hn::Mul(hn::Sub(u, hn::Sub(vt, vtj)), it);
    vw = hn::MulAdd(k.reverse ? ea : eb, dd, vw);
  });
  const double za = SumLanes(d0, vza), zb = SumLanes(d0, vzb);
  const double zs = sep_hard ? SumLanes(d0, vzs) : za;
  const double e = SumLanes(d0, vw) / (k.reverse ? za : zb);  // E_ps[dd] or E_pt[dd]
  const double c = (static_cast<double>(tj) - mt) / (1.0 / static_cast<double>(k.inv_t));
  const double lza = std::log(za), lzb = std::log(zb);
  *soft = !k.soft ? 0.0 : k.reverse ? -c + e - lza + lzb : c - e + lza - lzb;
  *hard = hard_on ? ms + std::log(zs) - s[target] : 0.0;

  // Probabilities as exp(x - max) / sum (see CrossEntropyRow).
  const VF ia = hn::Set(d0, static_cast<float>(1.0 / za)), ib = hn::Set(d0, static_cast<float>(1.0 / zb));
  const VF is = hn::Set(d0, static_cast<float>(1.0 / zs)), ve = hn::Set(d0, static_cast<float>(e));
  const VF cs = hn::Set(d0, k.soft_coef), ch = hn::Set(d0, k.hard_coef);
  ForVectors(V, [&](DF d, size_t i, size_t m, MF) HWY_ATTR {
    const VF u = hn::Sub(Ld(d, s + i, m), vms);
    const VF ps = hn::Mul(hn::Exp(d, hn::Mul(u, it)), ia);
    VF g = hn::Zero(d);
    if (k.soft) {
      const VF vt = Ld(d, t + i, m);
      if (k.reverse) {
        const VF dd = hn::Mul(hn::Sub(u, hn::Sub(vt, vtj)), it);
        g = hn::Mul(hn::Mul(cs, ps), hn::Sub(dd, ve));
      } else {
        g = hn::Mul(cs, hn::Sub(ps, hn::Mul(hn::Exp(d, hn::Mul(hn::Sub(vt, vmt), it)), ib)));
      }
    }
    if (hard_on) g = hn::MulAdd(ch, sep_hard ? hn::Mul(hn::Exp(d, u), is) : ps, g);
    St(d, g, ds + i, m);
  });
  if (hard_on) ds[target] -= k.hard_coef;
}

}  // namespace
// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace lmf::cpu
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace lmf::cpu {

HWY_EXPORT(LogSumExpRow);
HWY_EXPORT(CrossEntropyRow);
HWY_EXPORT(DistillRow);

namespace {

constexpr int64_t kRowChunk = 512;  // per-row losses kept on the stack at once
constexpr int64_t kParallelMinWork = int64_t{1} << 15;

int64_t count_scored(const int32_t* targets, int64_t rows) {
  int64_t n = 0;
  for (int64_t r = 0; r < rows; ++r) n += targets[r] >= 0 ? 1 : 0;
  return n;
}

// Calls row(r, &a, &b) for every row, in parallel within chunks of kRowChunk rows, and
// returns the sums of the a and b values it reports, added in row order in double (by
// one thread, between the chunks' worksharing loops).
template <class F>
void for_rows_summed(int64_t rows, int64_t V, double* sum_a, double* sum_b, const F& row) {
  double a[kRowChunk];
  double b[kRowChunk];
  double ta = 0.0, tb = 0.0;
#pragma omp parallel if (rows * V >= kParallelMinWork && rows > 1)
  for (int64_t r0 = 0; r0 < rows; r0 += kRowChunk) {
    const int64_t r1 = std::min(rows, r0 + kRowChunk);
#pragma omp for schedule(static)
    for (int64_t r = r0; r < r1; ++r) row(r, &a[r - r0], &b[r - r0]);
#pragma omp single
    for (int64_t r = r0; r < r1; ++r) {
      ta += a[r - r0];
      tb += b[r - r0];
    }
  }
  *sum_a = ta;
  *sum_b = tb;
}

}  // namespace

double log_sum_exp(const float* x, int64_t V) {
  return HWY_DYNAMIC_DISPATCH(LogSumExpRow)(x, static_cast<size_t>(V));
}

double kl_divergence(const float* p, const float* q, int64_t V, int64_t* argmax_p, int64_t* argmax_q) {
  const double lp = log_sum_exp(p, V), lq = log_sum_exp(q, V);
  double kl = 0;
  int64_t ap = 0, aq = 0;
  for (int64_t i = 0; i < V; ++i) {
    const double logp = p[i] - lp;
    kl += std::exp(logp) * (logp - (q[i] - lq));
    if (p[i] > p[ap]) ap = i;
    if (q[i] > q[aq]) aq = i;
  }
  if (argmax_p) *argmax_p = ap;
  if (argmax_q) *argmax_q = aq;
  return std::max(0.0, kl);
}

double cross_entropy(const float* logits, const int32_t* targets, float* dlogits, int64_t rows, int64_t V,
                     float scale) {
  if (rows <= 0 || V <= 0) return 0.0;
  const int64_t scored = count_scored(targets, rows);
  const float f = scored > 0 ? static_cast<float>(static_cast<double>(scale) / static_cast<double>(scored)) : 0.0f;
  double total = 0.0, unused = 0.0;
  for_rows_summed(rows, V, &total, &unused, [&](int64_t r, double* loss, double* other) {
    *loss = HWY_DYNAMIC_DISPATCH(CrossEntropyRow)(logits + r * V, targets[r], dlogits + r * V,
                                                  static_cast<size_t>(V), f);
    *other = 0.0;
  });
  return scored > 0 ? total / static_cast<double>(scored) : 0.0;
}

double distill_loss(const float* s, const float* t, const int32_t* targets, float* ds, int64_t rows, int64_t V,
                    float temperature, float alpha, bool reverse, float scale) {
  if (rows <= 0 || V <= 0) return 0.0;
  const int64_t scored = count_scored(targets, rows);
  const double T = temperature, a = alpha;
  DistillCoeffs k;
  k.inv_t = static_cast<float>(1.0 / T);
  k.soft = alpha != 0.0f;
  k.hard = alpha != 1.0f && scored > 0;
  k.reverse = reverse;
  k.soft_coef = static_cast<float>(scale * a * T / static_cast<double>(rows));
  k.hard_coef = k.hard ? static_cast<float>(scale * (1.0 - a) / static_cast<double>(scored)) : 0.0f;
  double soft = 0.0, hard = 0.0;
  for_rows_summed(rows, V, &soft, &hard, [&](int64_t r, double* sr, double* hr) {
    HWY_DYNAMIC_DISPATCH(DistillRow)(s + r * V, t + r * V, targets[r], ds + r * V, static_cast<size_t>(V), k, sr,
                                     hr);
  });
  double loss = 0.0;
  if (k.soft) loss += a * T * T * soft / static_cast<double>(rows);
  if (k.hard) loss += (1.0 - a) * hard / static_cast<double>(scored);
  return loss;
}

}  // namespace lmf::cpu
#endif  // HWY_ONCE
