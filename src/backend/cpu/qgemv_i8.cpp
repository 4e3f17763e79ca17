// lmforge CPU backend: int8-dynamic matmul (qmatmul.h): activations quantized per row
// (quantize_int8_sym, the one rounding rule), int8 weights, int32 dot products, exact on
// every path, so every CPU and path gives the same bits. The integer code is compiled per
// Highway target (qdot-inl.h) and dispatched at run time; KernelOptions::i8_isa caps it:
//  - kDot (AVX-512 VNNI: AVX3_DL, or AVX3 where the CPU has VNNI; qdot-inl.h): vpdpbusd multiplies 64 unsigned activation bytes by
//    signed weight bytes per instruction; activations are stored as q + 128 (unsigned) and
//    128 · Σ_k w is taken back off per column.
//  - kWiden on x86 without VNNI (SSSE3 to AVX3): vpmaddubsw of |w| by the signed activation
//    bytes with w's sign (pair sums at most 2 · 128 · 127 < 2^15: no saturation), then
//    vpmaddwd by ones into int32;
//  - kWiden elsewhere (NEON, SVE, EMU128): the weights' even and odd bytes sign-extended to
//    16-bit halves of their column's lane and multiplied pairwise with int16 activations
//    (PairDot); no product exceeds 128 · 127.
//  - kPortable (an option only): portable scalar code.
#ifndef HWY_WANT_AVX3_DL
#define HWY_WANT_AVX3_DL  // Highway 1.0.3 compiles AVX3_DL (VNNI) only on request
#endif

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "hwy/cache_control.h"

#include "backend/cpu/matmul.h"
#include "backend/cpu/qmatmul.h"
#include "core/dtype.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backend/cpu/qgemv_i8.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// foreach_target must come first.
#include "hwy/highway.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

HWY_BEFORE_NAMESPACE();
namespace lmf::cpu {
namespace HWY_NAMESPACE {
namespace {
namespace hn = hwy::HWY_NAMESPACE;
constexpr size_t kS = static_cast<size_t>(kQStrip);

#include "backend/cpu/qdot-inl.h"

// Whether this target's kWiden code reads the activations as signed bytes (vpmaddubsw on
// x86) rather than int16 pairs.
constexpr bool kWidenBytes = LMF_HAVE_MADDUBS;

#if LMF_HAVE_MADDUBS
// x with the sign of w applied per byte (0 where w is 0 on SSSE3/AVX2; x where w is 0 on
// AVX3, whose products with |w| = 0 vanish alike).
template <class V>
HWY_INLINE V SignBytes(V x, V w) {
#if HWY_TARGET <= HWY_AVX3
  return hn::IfNegativeThenElse(w, hn::Neg(x), x);
#elif HWY_TARGET == HWY_AVX2
  return V{_mm256_sign_epi8(x.raw, w.raw)};
#else
  return V{_mm_sign_epi8(x.raw, w.raw)};
#endif
}
#endif

// acc (R, 16) int32 = Σ_k xq[r][k] · w[k][c] for one strip; xa holds R rows xs words apart.
//  - kDot: K/4 words of 4 unsigned bytes (q + 128) per row, multiplied by the signed weight
//    bytes with vpdpbusd;
//  - kWiden on x86 (kWidenBytes): K/4 words of 4 signed bytes; vpmaddubsw of |w| (unsigned,
//    -128 -> 128) by x with w's sign, whose pair sums (at most 2 · 128 · 127 < 2^15) never
//    saturate, then vpmaddwd by ones;
//  - kWiden elsewhere: K/2 words of int16 pairs per row, for each 4 inputs (k0, k2) then
//    (k1, k3), against the weights' even and odd bytes sign-extended to 16 bits (each
//    product at most 128 · 127, so pairs never overflow).
// StripT's products of strip row i (vector v of L lanes) into chain c.
template <int R, int A, bool kDot, class DI>
HWY_INLINE LMF_VNNI_ATTR void StepI8(DI di, const int32_t* HWY_RESTRICT xa, size_t xs, const int32_t* HWY_RESTRICT w,
                                     size_t v, size_t L, size_t i, int c, hn::Vec<DI> (&a0)[R][A],
                                     hn::Vec<DI> (&a1)[R][A]) {
  using VI = hn::Vec<DI>;
  const VI wv = hn::LoadU(di, w + i * kS + v * L);
  if (v == 0) hwy::Prefetch(w + (i + kQPrefetchRows) * kS);
  if constexpr (kDot) {
#if LMF_HAVE_DOT
    for (int r = 0; r < R; ++r) a0[r][c] = DotBytes(a0[r][c], hn::Set(di, xa[r * xs + i]), wv);
#endif
  } else if constexpr (kWidenBytes) {
#if LMF_HAVE_MADDUBS
    const hn::Repartition<int8_t, DI> d8;
    const auto w8 = hn::BitCast(d8, wv);
    const VI u = hn::BitCast(di, hn::Abs(w8));
    for (int r = 0; r < R; ++r) {
      const VI sx = hn::BitCast(di, SignBytes(hn::BitCast(d8, hn::Set(di, xa[r * xs + i])), w8));
      a0[r][c] = hn::Add(a0[r][c], AddPairs16(MaddUbs(u, sx)));
    }
#endif
  } else {
    VI we, wo;
    SignedBytePairs(di, wv, we, wo);
    for (int r = 0; r < R; ++r) {
      const int32_t* xr = xa + r * xs + 2 * i;
      a0[r][c] = PairDot(di, we, hn::Set(di, xr[0]), a0[r][c], a1[r][c]);
      a0[r][c] = PairDot(di, wo, hn::Set(di, xr[1]), a0[r][c], a1[r][c]);
    }
  }
}

template <int R, bool kDot>
LMF_VNNI_ATTR void StripT(const int32_t* HWY_RESTRICT xa, size_t xs, size_t kq, const int32_t* HWY_RESTRICT w,
                          int32_t* HWY_RESTRICT acc) {
  const hn::ScalableTag<int32_t> di;
  using VI = hn::Vec<decltype(di)>;
  constexpr bool kBytes = kDot || kWidenBytes;
  constexpr int A = kBytes ? (R == 1 ? 4 : (R == 2 ? 2 : 1)) : 1;  // independent chains per row (latency)
  const size_t L = std::min(hn::Lanes(di), kS), nv = kS / L;
  for (size_t v = 0; v < nv; ++v) {
    VI a0[R][A], a1[R][A];
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < A; ++c) a0[r][c] = a1[r][c] = hn::Zero(di);
    size_t i = 0;
    for (; i + A <= kq; i += A)
      for (int c = 0; c < A; ++c) StepI8<R, A, kDot>(di, xa, xs, w, v, L, i + c, c, a0, a1);
    for (; i < kq; ++i) StepI8<R, A, kDot>(di, xa, xs, w, v, L, i, 0, a0, a1);  // (A > 1 only)
    for (int r = 0; r < R; ++r) {
      VI t = kBytes ? a0[r][0] : PairSum<decltype(di)>(a0[r][0], a1[r][0]);
      for (int c = 1; c < A; ++c) t = hn::Add(t, a0[r][c]);
      hn::StoreU(t, di, acc + r * kS + v * L);
    }
  }
}

template <bool kDot>
LMF_VNNI_ATTR void StripRows(const int32_t* xa, size_t xs, size_t R, size_t kq, const int32_t* w, int32_t* acc) {
  switch (R) {
    case 1: StripT<1, kDot>(xa, xs, kq, w, acc); break;
    case 2: StripT<2, kDot>(xa, xs, kq, w, acc); break;
    case 3: StripT<3, kDot>(xa, xs, kq, w, acc); break;
    default: StripT<4, kDot>(xa, xs, kq, w, acc); break;
  }
}

}  // namespace

// One row of x (K inputs) rounded by the one rule (RoundSym's, scale max|x| / 127) and
// packed for `isa` (as an int): kDot bytes q + 128, kWiden this target's layout (signed
// bytes with kWidenBytes, else int16 pairs k0 k2 k1 k3 per 4 inputs), kPortable signed
// bytes; returns the scale.
float QuantizeRowI8(const float* HWY_RESTRICT x, size_t K, int isa, int32_t* HWY_RESTRICT xa) {
  const float amax = AbsMax(x, K), inv = InvScale(amax, 127.0f);
  auto* b8 = reinterpret_cast<int8_t*>(xa);
  if (isa == static_cast<int>(QI8Isa::kDot))
    RoundPack<kOrderInput, int8_t, true>(x, K, inv, 127.0f, b8);
  else if (isa == static_cast<int>(QI8Isa::kWiden) && !kWidenBytes)
    RoundPack<kOrderPair2, int16_t>(x, K, inv, 127.0f, reinterpret_cast<int16_t*>(xa));
  else
    RoundPack<kOrderInput, int8_t>(x, K, inv, 127.0f, b8);
  return amax / 127.0f;
}

// One strip against R <= 4 rows (StripT); dot: the activations are kDot's bytes.
void StripAccI8(const int32_t* xa, size_t xs, size_t R, size_t kq, const int32_t* w, int32_t* acc, bool dot) {
#if LMF_HAVE_DOT
  if (dot) return StripRows<true>(xa, xs, R, kq, w, acc);
#endif
  StripRows<false>(xa, xs, R, kq, w, acc);
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace lmf::cpu
HWY_AFTER_NAMESPACE();
#pragma GCC diagnostic pop

#if HWY_ONCE
namespace lmf::cpu {

HWY_EXPORT(StripAccI8);
HWY_EXPORT(QuantizeRowI8);

namespace {

constexpr int64_t kS = kQStrip;

// The same sums in scalar code (signed activation bytes).
void strip_portable(const int32_t* xq, int64_t xs, int64_t R, int64_t kq, const int32_t* w, int32_t* acc) {
  for (int64_t r = 0; r < R; ++r) {
    int32_t a[kS] = {};
    const auto* xb = reinterpret_cast<const int8_t*>(xq + r * xs);
    for (int64_t i = 0; i < kq; ++i) {
      const auto* wb = reinterpret_cast<const int8_t*>(w + i * kS);
      for (int64_t c = 0; c < kS; ++c)
        for (int j = 0; j < 4; ++j) a[c] += static_cast<int32_t>(xb[i * 4 + j]) * wb[c * 4 + j];
    }
    std::memcpy(acc + r * kS, a, sizeof(a));
  }
}

// xa: the activations of the isa's code (bytes, words xs apart per row); sx: row scales.
void strips(const int32_t* xa, int64_t xs, const float* sx, int64_t M, const QWeightI8& w, const float* bias,
            float* y, int64_t s0, int64_t s1, QI8Isa isa) {
  const int64_t kq = w.K / 4;
  alignas(64) int32_t acc[4 * kS];
  for (int64_t st = s0; st < s1; ++st) {
    const int32_t* q = w.q + st * kq * kS;
    const int64_t c0 = st * kS, cols = std::min(kS, w.N - c0);
    for (int64_t m = 0; m < M; m += 4) {
      const int64_t R = std::min<int64_t>(4, M - m);
      const int32_t* xm = xa + m * xs;
      if (isa == QI8Isa::kPortable)
        strip_portable(xm, xs, R, kq, q, acc);
      else
        HWY_DYNAMIC_DISPATCH(StripAccI8)(xm, static_cast<size_t>(xs), static_cast<size_t>(R),
                                         static_cast<size_t>(kq), q, acc, isa == QI8Isa::kDot);
      const int32_t zero = isa == QI8Isa::kDot ? 128 : 0;  // kDot's activations are q + 128
      for (int64_t r = 0; r < R; ++r)
        for (int64_t c = 0; c < cols; ++c) {
          const int32_t dot = acc[r * kS + c] - zero * w.colsum[st * kS + c];
          y[(m + r) * w.N + c0 + c] =
              static_cast<float>(dot) * (sx[m + r] * w.s[st * kS + c]) + (bias ? bias[c0 + c] : 0.0f);
        }
    }
  }
}

}  // namespace

void q_tile_i8(const int32_t* qweight, const void* scales, bool scales_f32, int64_t K, int64_t N, int32_t* q, float* s,
               int32_t* colsum) {
  const int64_t kq = K / 4, nst = q_strips(N);
#pragma omp parallel for schedule(static)
  for (int64_t st = 0; st < nst; ++st)
    for (int64_t c = 0; c < kS; ++c) {
      const int64_t n = st * kS + c;
      int32_t sum = 0;
      for (int64_t i = 0; i < kq; ++i) {
        // unsigned bytes (zero 128) -> signed: flip each byte's top bit
        const uint32_t word = n < N ? static_cast<uint32_t>(qweight[i * N + n]) ^ 0x80808080u : 0u;
        q[(st * kq + i) * kS + c] = static_cast<int32_t>(word);
        for (int j = 0; j < 4; ++j) sum += static_cast<int8_t>(word >> (8 * j));
      }
      colsum[st * kS + c] = sum;
      s[st * kS + c] = n >= N       ? 0.0f
                       : scales_f32 ? static_cast<const float*>(scales)[n]
                                    : f16_to_f32(static_cast<const uint16_t*>(scales)[n]);
    }
}

int64_t linear_q_i8_scratch(int64_t K, int64_t max_rows) { return max_rows * (K / 4 + K / 2 + 1) + 16; }

void linear_q_i8(const float* x, const QWeightI8& w, const float* bias, float* y, int64_t M, float* scratch,
                 const KernelOptions& ko) {
  if (M == 0) return;
  const int64_t K = w.K, xs = K / 2;  // activation words per row: K/4 bytes' or K/2 int16 pairs'
  auto* xa = reinterpret_cast<int32_t*>(scratch);
  float* sx = scratch + M * xs;
  const QI8Isa isa = q_i8_isa(ko);
  for (int64_t r = 0; r < M; ++r)
    sx[r] = HWY_DYNAMIC_DISPATCH(QuantizeRowI8)(x + r * K, static_cast<size_t>(K), static_cast<int>(isa), xa + r * xs);
  for_strip_ranges(q_strips(w.N), [&](int64_t s0, int64_t s1) { strips(xa, xs, sx, M, w, bias, y, s0, s1, isa); });
}

}  // namespace lmf::cpu
#endif  // HWY_ONCE
