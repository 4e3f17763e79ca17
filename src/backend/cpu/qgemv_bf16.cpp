// lmforge CPU backend: linear_q's one-row (decode) kernel for 4-bit weights with bf16 dot
// products (AVX-512 BF16: vdpbf16ps, in Highway's AVX3_DL target: see below), on the wide strips the plan lays out for it where
// the CPU has them and the pair kernel (qgemv_a8.cpp) does not take the weights (groups
// not a multiple of 32, or LMF_NO_I8PAIR: 64 columns per strip; see qmatmul.h). More rows gain nothing from it
// (the float kernels unpack a word once for up to four rows, and x in two bf16 parts doubles
// the products): they run the float kernels on the wide strips' 16-column parts.
//
// Why: the float kernel spends, per 64-byte row of a strip (128 weights), 8 fused
// multiply-adds, 8 table lookups (vpermps) and 7 shifts. Where 512-bit operations take
// two passes through 256-bit units (AMD Zen 4), that is ~12 cycles a row, ~19 GB/s of
// weights per core in L2: two cores read less than the memory gives. vdpbf16ps does two
// multiply-adds per lane, so a row is 8 of them plus 7 unpacking operations on other
// pipes, and 8 broadcasts of x; a wide strip's row holds four 16-column rows side by side,
// so that one set of broadcasts serves all four and the weights stay one sequential stream
// (four 16-column strips read side by side, four streams, drew ~10% less from memory).
//
// The numbers:
//  - A weight q (0..15) is unpacked as the bf16 number 1 + q/16 (exact: 0x3F80 | q << 3),
//    so y = s·Σ x q - zs·Σ x becomes y = 16 s·(Σ x (1 + q/16) - Σ x) - zs·Σ x, with
//    the same s and zs as the float kernel. A 32-bit lane of a strip word holds the values
//    j and j + 4 at bits 4j and 4j + 16: one shift by 4j - 3 puts both at bits 3..6 of
//    their 16-bit halves, and one vpternlogd masks them and sets 0x3F80.
//  - x is held as two bf16 parts, hi = bf16(x) and lo = bf16(x - hi) (round to nearest
//    even, in scalar code: the split is O(K) against the strips' O(K N)), so x̃ = hi + lo is
//    within 2^-16 |x| of x (16 significant bits); products of bf16 numbers are exact in
//    float32 and are summed in float32. vdpbf16ps treats subnormal inputs as zero.
//  - The parts are laid out as the kernel reads them: for each strip word row kp (inputs
//    8 kp .. 8 kp + 7) and j = 0..3, the dword (hi[8kp+j], hi[8kp+j+4]) then (lo[8kp+j],
//    lo[8kp+j+4]): K dwords, each broadcast to the 64 columns of a wide strip row.
// One core, weights in L2 (Zen 4; bench/kernels_bench --benchmark_filter=LinearQDecode, arg 3
// = 3 the float kernel on 16-column strips, 0 this one): 768 x 768 17.0-17.3 -> 21.1-22.2
// GB/s, 3072 x 768 16.7-17.1 -> 23.8-24.0.

// Highway: 1.0.3 has no AVX-512 BF16 target and its bf16 ReorderWidenMulAccumulate is
// emulated, so the kernel is one Highway source whose dot step is vdpbf16ps (on .raw, with
// avx512bf16 added to the target string) in the AVX3_DL target where the CPU has AVX-512
// BF16 (Zen 4, Sapphire Rapids: HasBf16Dot), and elsewhere the same sums with the bf16
// halves widened to float32 by a shift or a mask and two multiply-adds: the kernel runs
// (for the tests) on every target; the plan lays out wide strips (q_strip_cols) only where
// vdpbf16ps runs.
#ifndef HWY_WANT_AVX3_DL
#define HWY_WANT_AVX3_DL  // Highway 1.0.3 compiles AVX3_DL only on request
#endif

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "hwy/cache_control.h"

#include "backend/cpu/qmatmul.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backend/cpu/qgemv_bf16.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// foreach_target must come first.
#include "hwy/highway.h"

// GCC 12 warns, wrongly, that the undefined vectors inside some AVX-512 intrinsics may be used.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

HWY_BEFORE_NAMESPACE();
namespace lmf::cpu {
namespace HWY_NAMESPACE {
namespace {
namespace hn = hwy::HWY_NAMESPACE;

#undef LMF_BF16_NATIVE
#undef LMF_BF16_ATTR
#if HWY_TARGET == HWY_AVX3_DL
#define LMF_BF16_NATIVE 1
#define LMF_BF16_ATTR __attribute__((target(HWY_TARGET_STR ",avx512bf16")))
#else
#define LMF_BF16_NATIVE 0
#define LMF_BF16_ATTR
#endif

// out (64) = one row of x (decode) · one wide strip: each word row is 64 words, 64/L
// vectors; kNative holds all four 16-lane vectors of a row in one pass (the 8 broadcasts
// of x serve all four), the emulation one vector per pass. Four accumulation chains.
// A weight word's lane gives the bf16 pairs 1 + q/16 of values (j, j + 4), j = 0..3, by a
// shift (3, -1, -5, -9 bits), a mask and an or.
template <bool kNative>
LMF_BF16_ATTR void WideRow(const uint32_t* HWY_RESTRICT xp, size_t K, size_t G, const int32_t* HWY_RESTRICT q,
                           const float* HWY_RESTRICT s, const float* HWY_RESTRICT zs, const float* HWY_RESTRICT xsum,
                           float* HWY_RESTRICT out) {
  const hn::ScalableTag<uint32_t> du;
  const hn::RebindToFloat<decltype(du)> df;
  using VU = hn::Vec<decltype(du)>;
  using VF = hn::Vec<decltype(df)>;
  constexpr size_t W = kQStripWide, kS = kQStrip;
  constexpr size_t U = kNative ? 4 : 1;
  constexpr int A = 4;
  const size_t L = std::min(hn::Lanes(du), W), nvr = W / L;
  const size_t groups = K / G, rows_per_group = G / 8;
  const VU mask = hn::Set(du, 0x00780078u), one = hn::Set(du, 0x3F803F80u), top = hn::Set(du, 0xFFFF0000u);
  for (size_t u0 = 0; u0 < nvr; u0 += U) {
    VF y[U];
    for (size_t u = 0; u < U; ++u) y[u] = hn::Zero(df);
    for (size_t g = 0; g < groups; ++g) {
      VF acc[U][A];
      for (size_t u = 0; u < U; ++u)
        for (int a = 0; a < A; ++a) acc[u][a] = hn::Zero(df);
      for (size_t i = 0; i < rows_per_group; ++i) {
        const size_t kp = g * rows_per_group + i;
        const int32_t* row = q + kp * W;
        // The stream 8 KiB ahead, as the float kernels (kQPrefetchRows 64-byte rows).
        if (u0 == 0)
          for (size_t j = 0; j < W / kS; ++j) hwy::Prefetch(row + kQPrefetchRows * kS + j * kS);
        const uint32_t* xk = xp + kp * 8;
        for (size_t u = 0; u < U; ++u) {
          const VU w = hn::BitCast(du, hn::LoadU(hn::RebindToSigned<decltype(du)>(), row + (u0 + u) * L));
          const VU f[4] = {hn::OrAnd(one, hn::ShiftLeft<3>(w), mask), hn::OrAnd(one, hn::ShiftRight<1>(w), mask),
                           hn::OrAnd(one, hn::ShiftRight<5>(w), mask), hn::OrAnd(one, hn::ShiftRight<9>(w), mask)};
          for (int d = 0; d < 8; ++d) {
            const VU b = hn::Set(du, xk[d]);
            VF& a = acc[u][d % A];
#if LMF_BF16_NATIVE
            if constexpr (kNative) {
              a = VF{_mm512_dpbf16_ps(a.raw, reinterpret_cast<__m512bh>(f[d / 2].raw), reinterpret_cast<__m512bh>(b.raw))};
              continue;
            }
#endif
            a = hn::MulAdd(hn::BitCast(df, hn::And(f[d / 2], top)), hn::BitCast(df, hn::And(b, top)), a);
            a = hn::MulAdd(hn::BitCast(df, hn::ShiftLeft<16>(f[d / 2])), hn::BitCast(df, hn::ShiftLeft<16>(b)), a);
          }
        }
      }
      // y += 16 s·(dot - Σx) - zs·Σx (see the top).
      const VF xs = hn::Set(df, xsum[g]);
      for (size_t u = 0; u < U; ++u) {
        VF dot = acc[u][0];
        for (int a = 1; a < A; ++a) dot = hn::Add(dot, acc[u][a]);
        const size_t c = g * W + (u0 + u) * L;
        y[u] = hn::MulAdd(hn::LoadU(df, s + c), hn::Mul(hn::Sub(dot, xs), hn::Set(df, 16.0f)), y[u]);
        y[u] = hn::NegMulAdd(hn::LoadU(df, zs + c), xs, y[u]);
      }
    }
    for (size_t u = 0; u < U; ++u) hn::StoreU(y[u], df, out + (u0 + u) * L);
  }
}

}  // namespace

// Whether this target runs the kernel with vdpbf16ps: AVX3_DL on a CPU with AVX-512 BF16
// (Highway 1.0.3 does not detect it: the compiler's CPU check, x86 only).
bool HasBf16Dot() {
#if LMF_BF16_NATIVE
  return __builtin_cpu_supports("avx512bf16");
#else
  return false;
#endif
}

// y[c] for the columns of wide strips [s0, s1): parts · strip + bias.
void WideStrips(const uint32_t* parts, const QWeight& w, const float* xsum, const float* bias, float* y, size_t s0,
                size_t s1, bool native) {
  constexpr size_t W = kQStripWide;
  const auto K = static_cast<size_t>(w.K), N = static_cast<size_t>(w.N), G = static_cast<size_t>(w.group);
  const size_t groups = K / G, qrows = K / 8;
  HWY_ALIGN float tmp[W];
  for (size_t st = s0; st < s1; ++st) {
    const size_t c0 = st * W, cols = std::min(W, N - c0);
    const int32_t* q = w.q + st * qrows * W;
    const float* s = w.s + st * groups * W;
    const float* zs = w.zs + st * groups * W;
#if LMF_BF16_NATIVE
    if (native) {
      WideRow<true>(parts, K, G, q, s, zs, xsum, tmp);
    } else
#endif
    {
      (void)native;
      WideRow<false>(parts, K, G, q, s, zs, xsum, tmp);
    }
    for (size_t c = 0; c < cols; ++c) y[c0 + c] = tmp[c] + (bias ? bias[c0 + c] : 0.0f);
  }
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace lmf::cpu
HWY_AFTER_NAMESPACE();
#pragma GCC diagnostic pop

#if HWY_ONCE
namespace lmf::cpu {

HWY_EXPORT(HasBf16Dot);
HWY_EXPORT(WideStrips);

namespace {

// x rounded to a bf16 number (its 16 top bits), to nearest even (x finite).
uint32_t bf16_bits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  return (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
}

float bf16_value(uint32_t h) {
  const uint32_t u = h << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

}  // namespace

bool q_bf16_cpu(const KernelOptions& ko) { return ko.bf16 && HWY_DYNAMIC_DISPATCH(HasBf16Dot)(); }

int64_t q_strip_cols(int bits, int64_t group, bool float_act, const KernelOptions& ko) {
  // The pair kernel runs on 16-column strips where it takes them (Intel Sapphire Rapids
  // class, one core, 768 x 768 in L2: 29 GB/s of strips, the bf16 kernel 10.5, the float 17).
  return float_act && strip_bits(bits) == 4 && group % 16 == 0 && q_bf16_cpu(ko) && !q_pair_takes(group, group, 4, ko)
             ? kQStripWide
             : kQStrip;
}

// One row of x -> its bf16 parts in the kernel's layout (the top: for word row kp and j =
// 0..3, dword 8 kp + 2 j + p holds part p of inputs 8 kp + j (low half) and 8 kp + j + 4)
// and xsum (K / G) = Σ (hi + lo) per group. Needs G % 8 == 0.
void q_bf16_split(const float* x, int64_t K, int64_t G, uint32_t* parts, float* xsum) {
  for (int64_t g = 0; g < K / G; ++g) {
    float sum = 0;
    for (int64_t kp = g * G / 8; kp < (g + 1) * G / 8; ++kp)
      for (int64_t j = 0; j < 4; ++j) {
        uint32_t hi[2], lo[2];
        for (int e = 0; e < 2; ++e) {
          const float v = x[8 * kp + j + 4 * e];
          hi[e] = bf16_bits(v);
          lo[e] = bf16_bits(v - bf16_value(hi[e]));
          sum += bf16_value(hi[e]) + bf16_value(lo[e]);
        }
        parts[8 * kp + 2 * j] = hi[0] | hi[1] << 16;
        parts[8 * kp + 2 * j + 1] = lo[0] | lo[1] << 16;
      }
    xsum[g] = sum;
  }
}

void q_bf16_strips(const uint32_t* parts, const QWeight& w, const float* xsum, const float* bias, float* y, int64_t s0,
                   int64_t s1) {
  static_assert(kQStripWide == 64);
  HWY_DYNAMIC_DISPATCH(WideStrips)(parts, w, xsum, bias, y, static_cast<size_t>(s0), static_cast<size_t>(s1),
                                   HWY_DYNAMIC_DISPATCH(HasBf16Dot)());
}

}  // namespace lmf::cpu
#endif  // HWY_ONCE
