// lmforge CPU backend: group-wise 4/8-bit strips with activations rounded to int8 per
// block of 32 inputs at run time (qmatmul.h, linear_q_a8), the pair kernel (linear_q_pair)
// and the one activation rounding (quantize_int8_sym; the rule is qdot-inl.h's RoundSym).
// Compiled per Highway target (AVX3_DL included: HWY_WANT_AVX3_DL) and dispatched at run
// time; KernelOptions::i8_isa caps the integer code (kernel_options.h).
//
// Any number of rows (decode and prompts alike): per strip, 32-input block and row of x,
// the integer dot product of the weights' unsigned values with the block's signed
// activations, then per group y += s · Σ_b sx_b · dot_b - zs · Σ_k x̂_k.
//  - kDot (AVX-512 VNNI: AVX3_DL, or AVX3 on a CPU with VNNI such as Cascade Lake; qdot-inl.h): one vpdpbusd per 64 values (4-bit: the low and the high
//    nibbles of a strip row are two operands, so the activation words are laid out to
//    match: bytes k0 k2 k4 k6 and k1 k3 k5 k7 of each 8 inputs). A 4-bit strip row costs a
//    shift, two masks and two vpdpbusd per row of x.
//  - kWiden, 4 bits on x86 (SSSE3 to AVX3): vpmaddubsw of the nibbles by activation bytes
//    in kDot's layout, summed in 16 bits over a block, then vpmaddwd by ones.
//  - kWiden (every other target and 8 bits): the weights' values widened to 16-bit halves of their
//    column's 32-bit lane (a shift and a mask each) and multiplied pairwise with int16
//    activations (qdot-inl.h's PairDot: vpmaddwd on x86): 4-bit strip words give the pairs
//    (j, j + 4), j = 0..3, 8-bit ones (j, j + 2), j = 0, 1, and the activations are stored
//    as those pairs (act_pairs below).
//  - kPortable (an option only): x̂ through linear_q's float kernels, the same x̂ · W to
//    float rounding.
// A prompt of 64 rows ran 2800-3300 t/s (GPT-2 small w4a8, 2 threads) against 1500-1700
// for 128 rows through x̂ + dequantize + sgemm, so the integer strips serve every M (and
// prompt and decode compute the same sums).
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

#ifndef LMF_QGEMV_A8_SHARED_
#define LMF_QGEMV_A8_SHARED_
namespace lmf::cpu::a8 {

constexpr size_t kS = kQStrip;
constexpr size_t kB = kActBlock;

// Activation words a row of x is given (its int16 pairs; bytes use half of them).
constexpr size_t act_words(size_t K) { return K / 2; }

// The activation words are, per block (qdot-inl.h's RoundPack orders):
//  - bytes (kDot, and 4-bit strips on x86: kBytes4): int8, for 4-bit strips per 8 inputs k0
//    k2 k4 k6 k1 k3 k5 k7 (a word's low then high nibbles: kOrderNib), for 8-bit in input
//    order;
//  - widen: int16, per 8 inputs k0 k4 k1 k5 k2 k6 k3 k7 (4-bit: the pairs (j, j + 4),
//    kOrderPair4), per 4 inputs k0 k2 k1 k3 (8-bit: the pairs (j, j + 2), kOrderPair2).

}  // namespace lmf::cpu::a8
#endif  // LMF_QGEMV_A8_SHARED_

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backend/cpu/qgemv_a8.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// foreach_target must come first.
#include "hwy/highway.h"

// GCC 12 reports its own _mm512_undefined_* placeholders (inside some AVX-512 intrinsics)
// as (maybe) uninitialized; a false positive.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

HWY_BEFORE_NAMESPACE();
namespace lmf::cpu {
namespace HWY_NAMESPACE {
namespace {
namespace hn = hwy::HWY_NAMESPACE;
using a8::kB;
using a8::kS;

#include "backend/cpu/qdot-inl.h"

// out (R, 16) = the few-row result for one strip (no bias). xa: R rows of activation words
// (xs apart: a8::act_words); sx: R rows of K/32 block scales (nb apart); xsum: R rows of
// `groups` sums of x̂. The strip's 16 columns in 16/L vectors of L lanes.
template <int R, int BITS, bool kDot>
LMF_VNNI_ATTR void StripA8(const int32_t* HWY_RESTRICT xa, size_t xs, const float* HWY_RESTRICT sx, size_t nb,
                           const float* HWY_RESTRICT xsum, size_t K, size_t G, const int32_t* HWY_RESTRICT q,
                           const float* HWY_RESTRICT s, const float* HWY_RESTRICT zs, float* HWY_RESTRICT out) {
  const hn::ScalableTag<int32_t> di;
  const hn::RebindToFloat<decltype(di)> df;
  using VI = hn::Vec<decltype(di)>;
  using VF = hn::Vec<decltype(df)>;
  constexpr size_t QR = BITS == 4 ? 4 : 8;             // strip rows per block of 32 inputs
  constexpr int A = kDot ? (R == 1 ? 4 : 2) : 1;        // independent integer chains per row
  const size_t L = std::min(hn::Lanes(di), kS), nv = kS / L;
  const size_t groups = K / G, bpg = G / kB;
  for (size_t v = 0; v < nv; ++v) {
    VF y[R];
    for (int r = 0; r < R; ++r) y[r] = hn::Zero(df);
    for (size_t g = 0; g < groups; ++g) {
      VF f[R];
      for (int r = 0; r < R; ++r) f[r] = hn::Zero(df);
      for (size_t bb = 0; bb < bpg; ++bb) {
        const size_t b = g * bpg + bb;
        VI a0[R][A], a1[R][A];
        for (int r = 0; r < R; ++r)
          for (int c = 0; c < A; ++c) a0[r][c] = a1[r][c] = hn::Zero(di);
        for (size_t i = 0; i < QR; ++i) {
          const size_t kp = b * QR + i;
          const VI w = hn::LoadU(di, q + kp * kS + v * L);
          if (v == 0) hwy::Prefetch(q + (kp + kQPrefetchRows) * kS);
          if constexpr (kDot) {
#if LMF_HAVE_DOT
            if constexpr (BITS == 4) {
              const VI m4 = hn::Set(di, 0x0F0F0F0F);
              const VI lo = hn::And(w, m4), hi = hn::And(hn::ShiftRight<4>(w), m4);
              for (int r = 0; r < R; ++r) {
                VI& acc = a0[r][i % A];
                acc = DotBytes(acc, lo, hn::Set(di, xa[r * xs + 2 * kp]));
                acc = DotBytes(acc, hi, hn::Set(di, xa[r * xs + 2 * kp + 1]));
              }
            } else {
              for (int r = 0; r < R; ++r) a0[r][i % A] = DotBytes(a0[r][i % A], w, hn::Set(di, xa[r * xs + kp]));
            }
#endif
          } else if constexpr (BITS == 4 && LMF_HAVE_MADDUBS) {
#if LMF_HAVE_MADDUBS
            // vpmaddubsw of the nibbles (0..15) by the activation bytes (kDot's layout): a
            // block's 4 rows x 2 nibble planes x 2 products sum to at most 16 · 15 · 127 <
            // 2^15, so they add in 16 bits (a0 as int16 lanes), folded once per block.
            const hn::Repartition<int16_t, decltype(di)> d16;
            const VI m4 = hn::Set(di, 0x0F0F0F0F);
            const VI lo = hn::And(w, m4), hi = hn::And(hn::ShiftRight<4>(w), m4);
            for (int r = 0; r < R; ++r) {
              const VI p = hn::BitCast(di, hn::Add(hn::BitCast(d16, MaddUbs(lo, hn::Set(di, xa[r * xs + 2 * kp]))),
                                                   hn::BitCast(d16, MaddUbs(hi, hn::Set(di, xa[r * xs + 2 * kp + 1])))));
              a0[r][0] = hn::BitCast(di, hn::Add(hn::BitCast(d16, a0[r][0]), hn::BitCast(d16, p)));
            }
#endif
          } else if constexpr (BITS == 4) {  // the pairs (j, j + 4) of a word's 8 nibbles
            const VI m = hn::Set(di, 0x000F000F);
            const VI f0 = hn::And(w, m), f1 = hn::And(hn::ShiftRight<4>(w), m), f2 = hn::And(hn::ShiftRight<8>(w), m),
                     f3 = hn::And(hn::ShiftRight<12>(w), m);
            for (int r = 0; r < R; ++r) {
              const int32_t* xr = xa + r * xs + 4 * kp;
              a0[r][0] = PairDot(di, f0, hn::Set(di, xr[0]), a0[r][0], a1[r][0]);
              a0[r][0] = PairDot(di, f1, hn::Set(di, xr[1]), a0[r][0], a1[r][0]);
              a0[r][0] = PairDot(di, f2, hn::Set(di, xr[2]), a0[r][0], a1[r][0]);
              a0[r][0] = PairDot(di, f3, hn::Set(di, xr[3]), a0[r][0], a1[r][0]);
            }
          } else {  // the pairs (j, j + 2) of a word's 4 bytes
            const VI m = hn::Set(di, 0x00FF00FF);
            const VI f0 = hn::And(w, m), f1 = hn::And(hn::ShiftRight<8>(w), m);
            for (int r = 0; r < R; ++r) {
              const int32_t* xr = xa + r * xs + 2 * kp;
              a0[r][0] = PairDot(di, f0, hn::Set(di, xr[0]), a0[r][0], a1[r][0]);
              a0[r][0] = PairDot(di, f1, hn::Set(di, xr[1]), a0[r][0], a1[r][0]);
            }
          }
        }
        for (int r = 0; r < R; ++r) {
          VI t;
          if constexpr (kDot) {
            t = a0[r][0];
          } else if constexpr (BITS == 4 && LMF_HAVE_MADDUBS) {
#if LMF_HAVE_MADDUBS
            t = AddPairs16(a0[r][0]);
#endif
          } else {
            t = PairSum<decltype(di)>(a0[r][0], a1[r][0]);
          }
          for (int c = 1; c < A; ++c) t = hn::Add(t, a0[r][c]);
          f[r] = hn::MulAdd(hn::ConvertTo(df, t), hn::Set(df, sx[r * nb + b]), f[r]);
        }
      }
      const VF sv = hn::LoadU(df, s + g * kS + v * L), zv = hn::LoadU(df, zs + g * kS + v * L);
      for (int r = 0; r < R; ++r)
        y[r] = hn::NegMulAdd(zv, hn::Set(df, xsum[r * groups + g]), hn::MulAdd(sv, f[r], y[r]));
    }
    for (int r = 0; r < R; ++r) hn::StoreU(y[r], df, out + r * kS + v * L);
  }
}

template <int BITS, bool kDot>
LMF_VNNI_ATTR void StripsT(const int32_t* xa, const float* sx, const float* xsum, size_t M, const QWeight& w,
                           const float* bias, float* y, size_t s0, size_t s1, bool sum_rows) {
  const size_t K = static_cast<size_t>(w.K), G = static_cast<size_t>(w.group), N = static_cast<size_t>(w.N);
  const size_t xs = a8::act_words(K), nb = K / kB, groups = K / G, qrows = K / (32 / BITS);
  // Rows per pass: 4, or 2 where 16 vector registers would not hold 4 rows' sums.
  const size_t max_rows = sum_rows || (!kDot && HWY_MAX_BYTES < 64) ? 2 : 4;
  HWY_ALIGN float tmp[4 * kS];
  for (size_t st = s0; st < s1; ++st) {
    const int32_t* q = w.q + st * qrows * kS;
    const float* s = w.s + st * groups * kS;
    const float* zs = w.zs + st * groups * kS;
    const size_t c0 = st * kS, cols = std::min(kS, N - c0);
    for (size_t m = 0; m < M;) {
      const size_t R = std::min(max_rows, M - m);
      const int32_t* xm = xa + m * xs;
      const float* sm = sx + m * nb;
      const float* xsm = xsum + m * groups;
      switch (R) {
        case 1: StripA8<1, BITS, kDot>(xm, xs, sm, nb, xsm, K, G, q, s, zs, tmp); break;
        case 2: StripA8<2, BITS, kDot>(xm, xs, sm, nb, xsm, K, G, q, s, zs, tmp); break;
        case 3: StripA8<3, BITS, kDot>(xm, xs, sm, nb, xsm, K, G, q, s, zs, tmp); break;
        default: StripA8<4, BITS, kDot>(xm, xs, sm, nb, xsm, K, G, q, s, zs, tmp); break;
      }
      if (sum_rows) {  // the pair kernel's two parts of one row: hi + lo
        for (size_t c = 0; c < cols; ++c) y[c0 + c] = tmp[c] + tmp[kS + c] + (bias ? bias[c0 + c] : 0.0f);
        break;
      }
      for (size_t r = 0; r < R; ++r)
        for (size_t c = 0; c < cols; ++c) y[(m + r) * N + c0 + c] = tmp[r * kS + c] + (bias ? bias[c0 + c] : 0.0f);
      m += R;
    }
  }
}

}  // namespace

// QI8Isa of this target's integer code on this CPU: kDot where it has an int8 dot product
// (AVX3_DL; AVX3 on a CPU with AVX512_VNNI), else kWiden.
int I8Level() { return HaveDot() ? static_cast<int>(QI8Isa::kDot) : static_cast<int>(QI8Isa::kWiden); }

// quantize_int8_sym (qmatmul.h): the rule of RoundSym over x, packed as it is rounded.
float QuantizeInt8Sym(const float* HWY_RESTRICT x, size_t n, int8_t* HWY_RESTRICT q) {
  const float amax = AbsMax(x, n);
  RoundPack<kOrderInput, int8_t>(x, n, InvScale(amax, 127.0f), 127.0f, q);
  return amax / 127.0f;
}

// One row of x (K inputs) rounded per block of 32 to [-top, top] and packed as T in kOrder
// at out, block scales sx (K/32) and group sums of x̂ xsum (K/G).
template <int kOrder, class T>
void RoundRowT(const float* x, size_t K, size_t G, float top, T* out, float* sx, float* xsum) {
  const size_t bpg = G / kB;
  for (size_t g = 0; g < K / G; ++g) {
    float sum = 0;
    for (size_t bb = 0; bb < bpg; ++bb) {
      const size_t b = g * bpg + bb;
      const float amax = AbsMax(x + b * kB, kB);
      const int32_t isum = RoundPack<kOrder, T>(x + b * kB, kB, InvScale(amax, top), top, out + b * kB);
      sx[b] = amax / top;
      sum = std::fma(sx[b], static_cast<float>(isum), sum);
    }
    xsum[g] = sum;
  }
}

// One row of x (K inputs) as activation words xa for `bits`-bit strips (the orders above),
// block scales sx (K/32) and group sums of x̂ xsum (K/G).
void QuantizeRowA8(const float* x, size_t K, size_t G, int bits, bool dot, int32_t* xa, float* sx, float* xsum) {
  auto* b8 = reinterpret_cast<int8_t*>(xa);
  auto* h16 = reinterpret_cast<int16_t*>(xa);
  if (dot || (bits == 4 && kBytes4))
    bits == 4 ? RoundRowT<kOrderNib>(x, K, G, 127.0f, b8, sx, xsum) : RoundRowT<kOrderInput>(x, K, G, 127.0f, b8, sx, xsum);
  else
    bits == 4 ? RoundRowT<kOrderPair4>(x, K, G, 127.0f, h16, sx, xsum)
              : RoundRowT<kOrderPair2>(x, K, G, 127.0f, h16, sx, xsum);
}

// The 4-bit pair kernel's two parts (SplitPair) packed as T in kOrder: hi at xa, lo at xa +
// act_words(K).
template <int kOrder, class T>
void SplitPair4T(const float* x, size_t K, size_t G, int32_t* xa, float* sx, float* xsum) {
  const size_t nb = K / kB, groups = K / G, bpg = G / kB;
  const hn::CappedTag<float, kB> df;
  const hn::RebindToSigned<decltype(df)> di;
  const size_t L = hn::Lanes(df);
  const bool vec = PackVecOk(di, kOrder);
  T* ho = reinterpret_cast<T*>(xa);
  T* lo = reinterpret_cast<T*>(xa + a8::act_words(K));
  HWY_ALIGN int32_t hq[kB], lq[kB];
  for (size_t g = 0; g < groups; ++g) {
    float sh = 0, sl = 0;
    for (size_t bb = 0; bb < bpg; ++bb) {
      const size_t b = g * bpg + bb;
      const float* xb = x + b * kB;
      const float amax = AbsMax(xb, kB);
      const auto iv = hn::Set(df, InvScale(amax, 127.0f));
      auto ah = hn::Zero(di), al = hn::Zero(di);
      for (size_t k = 0; k < kB; k += L) {
        const auto u = hn::Mul(hn::LoadU(df, xb + k), iv);
        const auto h = RoundClamp(df, u, 127.0f);
        const auto l = RoundClamp(df, hn::Mul(hn::Sub(u, hn::ConvertTo(df, h)), hn::Set(df, 254.0f)), 127.0f);
        ah = hn::Add(ah, h);
        al = hn::Add(al, l);
        if (vec) {
          PackVec<kOrder, T, false>(di, h, ho + b * kB + k);
          PackVec<kOrder, T, false>(di, l, lo + b * kB + k);
        } else {
          hn::Store(h, di, hq + k);
          hn::Store(l, di, lq + k);
        }
      }
      if (!vec) {
        PackScalar<kOrder, T, false>(hq, kB, ho + b * kB);
        PackScalar<kOrder, T, false>(lq, kB, lo + b * kB);
      }
      const int32_t ih = hn::GetLane(hn::SumOfLanes(di, ah)), il = hn::GetLane(hn::SumOfLanes(di, al));
      sx[b] = amax / 127.0f;
      sx[nb + b] = sx[b] / 254.0f;
      sh = std::fma(sx[b], static_cast<float>(ih), sh);
      sl = std::fma(sx[nb + b], static_cast<float>(il), sl);
    }
    xsum[g] = sh;
    xsum[groups + g] = sl;
  }
}

// One row of x as the pair kernel's activations (qmatmul.h, linear_q_pair):
//  - 4 bits: two rows of activation words (xa, then xa + act_words): with sx = max|x_b|/127
//    and u = x / sx, hi = round(u) and lo = round(254 (u - hi)) (u - hi is exact), both in
//    [-127, 127], so x̃ = sx (hi + lo / 254); block scales sx_b then sx_b / 254 (sx + nb),
//    group sums per part (xsum, xsum + K/G), so the two rows' results add up to x̃ · W;
//  - 8 bits: one row of int16 pairs, x16 = round(x / sx) with sx = max|x_b| / 32767.
void SplitPair(const float* x, size_t K, size_t G, int bits, bool dot, int32_t* xa, float* sx, float* xsum) {
  if (bits == 8) return RoundRowT<kOrderPair2>(x, K, G, 32767.0f, reinterpret_cast<int16_t*>(xa), sx, xsum);
  if (dot || kBytes4)
    SplitPair4T<kOrderNib, int8_t>(x, K, G, xa, sx, xsum);
  else
    SplitPair4T<kOrderPair4, int16_t>(x, K, G, xa, sx, xsum);
}

// Strips [s0, s1) of w against M rows of activations (sum_rows: the pair kernel's two rows
// of one x, added). dot: the activations are bytes for the dot-product code (kDot).
void StripsA8(const int32_t* xa, const float* sx, const float* xsum, size_t M, const QWeight& w, const float* bias,
              float* y, size_t s0, size_t s1, bool dot, bool sum_rows) {
#if LMF_HAVE_DOT
  if (dot) {
    if (w.bits == 4)
      StripsT<4, true>(xa, sx, xsum, M, w, bias, y, s0, s1, sum_rows);
    else
      StripsT<8, true>(xa, sx, xsum, M, w, bias, y, s0, s1, sum_rows);
    return;
  }
#endif
  if (w.bits == 4)
    StripsT<4, false>(xa, sx, xsum, M, w, bias, y, s0, s1, sum_rows);
  else
    StripsT<8, false>(xa, sx, xsum, M, w, bias, y, s0, s1, sum_rows);
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace lmf::cpu
HWY_AFTER_NAMESPACE();
#pragma GCC diagnostic pop

#if HWY_ONCE
namespace lmf::cpu {

HWY_EXPORT(I8Level);
HWY_EXPORT(QuantizeInt8Sym);
HWY_EXPORT(QuantizeRowA8);
HWY_EXPORT(SplitPair);
HWY_EXPORT(StripsA8);

using a8::kB;

QI8Isa q_i8_isa(const KernelOptions& ko) {
  return std::min(static_cast<QI8Isa>(HWY_DYNAMIC_DISPATCH(I8Level)()), ko.i8_isa);
}

float quantize_int8_sym(const float* x, int64_t n, int8_t* q) {
  return HWY_DYNAMIC_DISPATCH(QuantizeInt8Sym)(x, static_cast<size_t>(n), q);
}

int64_t q_simd_targets() { return HWY_TARGETS; }

bool q_a8_supported(int64_t K, int64_t group, int bits) {
  return (bits == 4 || bits == 8) && group > 0 && K % group == 0 && group % kActBlock == 0;
}

int64_t linear_q_a8_scratch(int64_t K, int64_t N, int64_t group, int64_t max_rows, const KernelOptions& ko) {
  // Integer code: activation words (at most K/2), block scales, group sums; otherwise x̂
  // and linear_q's own.
  return std::max(max_rows * (K / 2 + K / kActBlock + K / group),
                  max_rows * K + linear_q_scratch(K, N, group, max_rows, ko));
}

bool linear_q_a8(const float* x, const QWeight& w, const float* bias, float* y, int64_t M, float* scratch,
                 const KernelOptions& ko) {
  if (M == 0) return true;
  const int64_t K = w.K;
  const QI8Isa isa = q_i8_isa(ko);
  if (isa == QI8Isa::kPortable) {  // x̂ in float, then linear_q (its float strip kernels, or dequantize + sgemm)
    float* xh = scratch;
#pragma omp parallel for schedule(static) if (M * K >= 32768)
    for (int64_t r = 0; r < M; ++r) {
      int8_t q[kActBlock];
      for (int64_t b = 0; b < K; b += kActBlock) {
        const float scale = quantize_int8_sym(x + r * K + b, kActBlock, q);
        for (int64_t j = 0; j < kActBlock; ++j) xh[r * K + b + j] = scale * static_cast<float>(q[j]);
      }
    }
    return linear_q(xh, w, bias, y, M, scratch + M * K, ko);
  }
  const bool dot = isa == QI8Isa::kDot;
  const auto xs = static_cast<int64_t>(a8::act_words(static_cast<size_t>(K)));
  const int64_t nb = K / kActBlock, groups = K / w.group;
  auto* xa = reinterpret_cast<int32_t*>(scratch);
  float* sx = scratch + M * (K / 2);
  float* xsum = sx + M * nb;
#pragma omp parallel for schedule(static) if (M * K >= 32768)
  for (int64_t r = 0; r < M; ++r)
    HWY_DYNAMIC_DISPATCH(QuantizeRowA8)(x + r * K, static_cast<size_t>(K), static_cast<size_t>(w.group), w.bits, dot,
                                        xa + r * xs, sx + r * nb, xsum + r * groups);
  for_strip_ranges(q_strips(w.N), [&](int64_t s0, int64_t s1) {
    HWY_DYNAMIC_DISPATCH(StripsA8)(xa, sx, xsum, static_cast<size_t>(M), w, bias, y, static_cast<size_t>(s0),
                                   static_cast<size_t>(s1), dot, false);
  });
  return true;
}

bool q_pair_cpu(const KernelOptions& ko) { return ko.i8_pair && q_i8_isa(ko) != QI8Isa::kPortable; }

bool q_pair_takes(int64_t K, int64_t group, int bits, const KernelOptions& ko) {
  return q_pair_cpu(ko) && q_a8_supported(K, group, bits) && (bits == 4 || q_i8_isa(ko) == QI8Isa::kWiden);
}

int64_t linear_q_pair_scratch(int64_t K, int64_t group) { return 2 * (K / 2 + K / kActBlock + K / group); }

void linear_q_pair(const float* x, const QWeight& w, const float* bias, float* y, float* scratch,
                   const KernelOptions& ko) {
  const int64_t K = w.K, nb = K / kActBlock;
  const bool dot = w.bits == 4 && q_i8_isa(ko) == QI8Isa::kDot;  // 8 bits: int16, always the pairwise code
  auto* xa = reinterpret_cast<int32_t*>(scratch);
  float* sx = scratch + 2 * (K / 2);
  float* xsum = sx + 2 * nb;
  HWY_DYNAMIC_DISPATCH(SplitPair)(x, static_cast<size_t>(K), static_cast<size_t>(w.group), w.bits, dot, xa, sx, xsum);
  const size_t rows = w.bits == 4 ? 2 : 1;
  for_strip_ranges(q_strips(w.N), [&](int64_t s0, int64_t s1) {
    HWY_DYNAMIC_DISPATCH(StripsA8)(xa, sx, xsum, rows, w, bias, y, static_cast<size_t>(s0), static_cast<size_t>(s1),
                                   dot, rows == 2);
  });
}

}  // namespace lmf::cpu
#endif  // HWY_ONCE
