// lmforge CPU backend: sum_squares and the AdamW update (kernels_grad.h).
//
// sum_squares: each float is squared exactly in double (24-bit mantissas give 48-bit
// products), summed in double per fixed block of kBlock elements, and the block sums are
// added in block order, so the result does not depend on the thread count.
//
// adamw_update reproduces torch.optim.AdamW's single-tensor path (PyTorch 1.13) operation
// by operation in float32, which its CPU kernels compute as (checked element by element
// against torch in tests/backend/kernels_grad_parity_test.cpp):
//   w = w * f32(1 - lr wd)
//   m = fma(g, f32(1 - beta1), m * beta1)              (mul_, then add_'s vec::fmadd)
//   v = fma(g * f32(1 - beta2), g, v * beta2)          (mul_, then addcmul_)
//   w = w + (f32(-lr / bc1) * m) / (sqrt(v) / f32(sqrt(bc2)) + eps)   (addcdiv_)
// with the scalar coefficients computed in double from the float arguments, as Python
// computes them from its floats. Targets without a native FMA (SSE4, EMU128) take a
// scalar loop with std::fma, so the result is the same on every target.

// torch rounds every operation of the update to float (each is its own kernel), except
// the fmadd inside add_ and addcmul_; gnu++ mode would let GCC fuse the others.
#pragma GCC optimize("fp-contract=off")

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "backend/cpu/kernels_grad.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backend/cpu/kernels_grad_optim.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// foreach_target must come first.
#include "hwy/highway.h"

#ifndef LMF_KERNELS_GRAD_OPTIM_TYPES  // once, not per target
#define LMF_KERNELS_GRAD_OPTIM_TYPES
namespace lmf::cpu {
namespace {
// The per-step scalars of adamw_update, all float as torch's kernels use them.
struct AdamCoeffs {
  float decay, beta1, one_minus_beta1, beta2, one_minus_beta2, neg_step_size, bc2_sqrt, eps;
};
}  // namespace
}  // namespace lmf::cpu
#endif

HWY_BEFORE_NAMESPACE();
namespace lmf::cpu {
namespace HWY_NAMESPACE {
namespace {
namespace hn = hwy::HWY_NAMESPACE;

// Sum of x[i]^2 over [0, n) in double: two double accumulators per vector of floats.
double SumSquaresRange(const float* x, size_t n) {
  const hn::ScalableTag<double> dd;
  const hn::Rebind<float, decltype(dd)> df;  // half-width float vector, one per double lane
  const size_t N = hn::Lanes(dd);
  using VD = hn::Vec<decltype(dd)>;
  VD s0 = hn::Zero(dd), s1 = hn::Zero(dd);
  size_t i = 0;
  for (; i + 2 * N <= n; i += 2 * N) {
    const VD a = hn::PromoteTo(dd, hn::LoadU(df, x + i));
    const VD b = hn::PromoteTo(dd, hn::LoadU(df, x + i + N));
    s0 = hn::MulAdd(a, a, s0);  // exact products: fused or not gives the same
    s1 = hn::MulAdd(b, b, s1);
  }
  double s = hn::GetLane(hn::SumOfLanes(dd, hn::Add(s0, s1)));
  for (; i < n; ++i) s += static_cast<double>(x[i]) * x[i];
  return s;
}

void AdamWRange(float* w, const float* g, float* m, float* v, size_t n, const AdamCoeffs& k,
                float grad_scale) {
  size_t i = 0;
#if HWY_NATIVE_FMA
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const auto decay = hn::Set(d, k.decay), b1 = hn::Set(d, k.beta1), c1 = hn::Set(d, k.one_minus_beta1);
  const auto b2 = hn::Set(d, k.beta2), c2 = hn::Set(d, k.one_minus_beta2);
  const auto nss = hn::Set(d, k.neg_step_size), bc2 = hn::Set(d, k.bc2_sqrt), eps = hn::Set(d, k.eps);
  const auto gs = hn::Set(d, grad_scale);
  for (; i + N <= n; i += N) {
    const auto gi = hn::Mul(hn::LoadU(d, g + i), gs);
    const auto mi = hn::MulAdd(gi, c1, hn::Mul(hn::LoadU(d, m + i), b1));
    const auto vi = hn::MulAdd(hn::Mul(gi, c2), gi, hn::Mul(hn::LoadU(d, v + i), b2));
    const auto denom = hn::Add(hn::Div(hn::Sqrt(vi), bc2), eps);
    const auto wi = hn::Mul(hn::LoadU(d, w + i), decay);
    hn::StoreU(mi, d, m + i);
    hn::StoreU(vi, d, v + i);
    hn::StoreU(hn::Add(wi, hn::Div(hn::Mul(nss, mi), denom)), d, w + i);
  }
#endif
  for (; i < n; ++i) {  // the tail, and every element on targets without a native FMA
    const float gi = g[i] * grad_scale;
    const float mi = std::fma(gi, k.one_minus_beta1, m[i] * k.beta1);
    const float vi = std::fma(gi * k.one_minus_beta2, gi, v[i] * k.beta2);
    const float denom = std::sqrt(vi) / k.bc2_sqrt + k.eps;
    m[i] = mi;
    v[i] = vi;
    w[i] = w[i] * k.decay + (k.neg_step_size * mi) / denom;
  }
}

}  // namespace
// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace lmf::cpu
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace lmf::cpu {

HWY_EXPORT(SumSquaresRange);
HWY_EXPORT(AdamWRange);

namespace {
constexpr int64_t kBlock = int64_t{1} << 14;  // elements of one block (and one task)
constexpr int64_t kChunkBlocks = 512;         // block sums kept on the stack at once
constexpr int64_t kParallelMin = int64_t{1} << 16;
}  // namespace

double sum_squares(const float* x, int64_t n) {
  if (n <= 0) return 0.0;
  double partial[kChunkBlocks];
  const int64_t nblocks = (n + kBlock - 1) / kBlock;
  double total = 0.0;
  for (int64_t b0 = 0; b0 < nblocks; b0 += kChunkBlocks) {
    const int64_t b1 = std::min(nblocks, b0 + kChunkBlocks);
#pragma omp parallel for schedule(static) if (n >= kParallelMin && b1 - b0 > 1)
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t i0 = b * kBlock;
      partial[b - b0] = HWY_DYNAMIC_DISPATCH(SumSquaresRange)(x + i0, static_cast<size_t>(std::min(n, i0 + kBlock) - i0));
    }
    for (int64_t b = b0; b < b1; ++b) total += partial[b - b0];
  }
  return total;
}

void adamw_update(float* w, const float* g, float* m, float* v, int64_t n, float lr, float beta1, float beta2,
                  float eps, float weight_decay, int64_t step, float grad_scale) {
  if (n <= 0) return;
  const double s = static_cast<double>(step);
  AdamCoeffs k;
  k.decay = static_cast<float>(1.0 - static_cast<double>(lr) * static_cast<double>(weight_decay));
  k.beta1 = beta1;
  k.one_minus_beta1 = static_cast<float>(1.0 - static_cast<double>(beta1));
  k.beta2 = beta2;
  k.one_minus_beta2 = static_cast<float>(1.0 - static_cast<double>(beta2));
  const double bc1 = 1.0 - std::pow(static_cast<double>(beta1), s);
  const double bc2 = 1.0 - std::pow(static_cast<double>(beta2), s);
  k.neg_step_size = static_cast<float>(-(static_cast<double>(lr) / bc1));
  k.bc2_sqrt = static_cast<float>(std::sqrt(bc2));
  k.eps = eps;
  const int64_t nblocks = (n + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (int64_t b = 0; b < nblocks; ++b) {
    const int64_t i0 = b * kBlock;
    HWY_DYNAMIC_DISPATCH(AdamWRange)(w + i0, g + i0, m + i0, v + i0,
                                     static_cast<size_t>(std::min(n, i0 + kBlock) - i0), k, grad_scale);
  }
}

}  // namespace lmf::cpu
#endif  // HWY_ONCE
